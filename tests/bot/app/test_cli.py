"""The `liqwatch` command line: demo, check-config and console, run offline."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from bot.app.cli import main
from bot.app.demo import run_demo
from bot.notify.post_split import x_length
from core.charts.format import imbalance_ratio
from tests.paths import REPO_ROOT

REPO = REPO_ROOT


def test_demo_writes_charts_and_numbers(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path, out=out) == 0
    text = out.getvalue()
    for png in ("heatmap.png", "liquidation-map.png", "imbalance-card.png", "cascade.png"):
        data = (tmp_path / png).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(data)) as img:
            assert img.width + img.height <= 10_000
        assert len(data) < 400_000
    summary = (tmp_path / "summary.txt").read_text()
    assert "magnets, not promises" in summary
    assert "shorts above price" in text
    assert "(true:" in text  # estimates shown beside the simulator's ground truth
    assert "second refresh" in text
    assert "top clusters:" in text
    alerts = (tmp_path / "alerts.txt").read_text()
    assert "Alert BTC ·" in alerts  # the seed market's imbalance is far above 5:1
    assert "crossed 5:1" in alerts
    assert (tmp_path / "btc-imbalance-alert.png").read_bytes().startswith(b"\x89PNG")
    x_posts = (tmp_path / "thread-x.txt").read_text().split("\n\n")
    assert x_posts[0].startswith("1/")
    assert all(x_length(p) <= 280 for p in x_posts)
    # the live scorecard on the sim's own forced closes: scored hours, judged, and a chart
    assert "live scorecard: 144 hourly maps archived and scored" in text
    assert "Accuracy BTC · sim · 6d" in text and "144 h scored" in text
    assert "beats chance" in text or "no better than chance" in text
    assert (tmp_path / "accuracy.png").read_bytes().startswith(b"\x89PNG")
    assert "Accuracy BTC" in (tmp_path / "accuracy.txt").read_text()


def test_check_config_accepts_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(REPO / "config.example.toml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_config_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[market]\nsymbolz = ["BTC"]\ntimeframe = "7m"\n[model]\nbins = "many"\n')
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert "market.symbolz: unknown key" in err
    assert "did you mean symbols?" in err
    assert "market.timeframe:" in err
    assert "model.bins: expected an integer" in err


# --- issue 14: the demo says the right thing -------------------------------------------------


def test_long_heavy_demo_reads_longs_over_shorts_and_draws_the_flush(tmp_path: Path) -> None:
    from bot.app.demo import demo, heavy_direction
    from core.charts import render_cascade

    out = io.StringIO()
    result = asyncio.run(demo(tmp_path, scenario="long-heavy", seed=7, out=out))
    text = out.getvalue()
    imb = result.analysis.imbalance
    assert imb.long_below > imb.short_above and result.true_long_below > result.true_short_above
    ratio = imbalance_ratio(imb.short_above, imb.long_below)
    truth = imbalance_ratio(result.true_short_above, result.true_long_below)
    assert ratio.endswith(" longs over shorts") and truth.endswith(" longs over shorts")
    assert f"imbalance           {ratio}   (true: {truth})" in text
    summary = (tmp_path / "summary.txt").read_text()
    assert f"— {ratio}." in summary and "cascade down:" in summary
    # the chart is the heavy side's cascade: the flush down, not a flat squeeze up
    assert heavy_direction(result.analysis) == -1
    drawn = (tmp_path / "cascade.png").read_bytes()
    assert drawn == render_cascade(result.analysis, -1) != render_cascade(result.analysis, 1)


def test_demo_counts_the_posts_it_writes_and_names_markets_as_traders_do(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path, out=out) == 0
    text = out.getvalue()
    x_posts = (tmp_path / "thread-x.txt").read_text().strip().split("\n\n")
    x_posts = [p for p in x_posts if re.match(r"\d+/\d+ ", p)]
    tg_posts = (tmp_path / "thread-telegram.html").read_text().strip().split("\n\n---\n\n")
    assert f"thread: {len(x_posts)} posts → {tmp_path / 'thread-x.txt'} (X format)" in text
    assert f"{len(tg_posts)} posts → {tmp_path / 'thread-telegram.html'} (Telegram)" in text
    assert x_posts[-1].startswith(f"{len(x_posts)}/{len(x_posts)} ")
    for written in (
        text,
        (tmp_path / "summary.txt").read_text(),
        (tmp_path / "alerts.txt").read_text(),
    ):
        assert "/USDT" not in written and ":USDT" not in written
    assert "\nBTC at $" in text and "(±10%, 7d of data)" in text  # the range the numbers cover
    assert (tmp_path / "summary.txt").read_text().startswith("BTC · sim · 7d · $")
    # 7 days of prints are a fraction of open interest, as on a real exchange
    table = [line.split() for line in text.splitlines()]
    rows = {r[0]: r for r in table if len(r) == 5 and r[0] in ("BTC", "ETH", "SOL")}
    assert set(rows) == {"BTC", "ETH", "SOL"}
    for coin, row in rows.items():
        oi, prints = (_usd(cell) for cell in row[3:5])
        assert prints < 0.25 * oi, (coin, row)


def _usd(cell: str) -> float:
    scale = {"K": 1e3, "M": 1e6, "B": 1e9}
    return float(cell.lstrip("$")[:-1]) * scale[cell[-1]]
