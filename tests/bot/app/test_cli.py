"""The `liqwatch` command line: demo, check-config and console, run offline."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from bot.app.cli import main
from bot.app.demo import run_demo
from bot.notify.threads import x_length
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
