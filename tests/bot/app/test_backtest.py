"""``liqwatch backtest``: a simulated folder end to end, broken folders, the pasted block."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.analysis.params import engine_params
from bot.app.cli import main
from bot.config.settings import load_settings
from bot.market.backtest_folder import BacktestMeta, write_backtest_folder
from core.scoring import RealLiquidations
from core.sim import simulate

HOUR = 3_600_000


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten simulated days of 1h candles; the simulator's forced closes are 'real'."""
    market = simulate("churn", seed=11, candles=240, timeframe="1h")
    series = market.series
    prints = market.snapshot.prints
    assert prints is not None
    real = RealLiquidations.from_prints(prints, series.timestamps, HOUR)
    path = tmp_path_factory.mktemp("bt") / "sim-churn-1h"
    write_backtest_folder(
        path,
        meta=BacktestMeta("sim", "BTC/USDT:USDT", "1h", "simulated churn market"),
        series=series,
        real=real,
        prints=prints,
        oi_unit="usd",
    )
    return path


def _rows(path: Path) -> list[list[str]]:
    with path.open() as fh:
        return list(csv.reader(fh))


def test_writes_every_file_point_in_time(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["backtest", str(folder), "--out", str(out), "--lookback", "2d"]) == 0
    printed = capsys.readouterr().out
    assert "Spearman on" in printed and "placebo" in printed
    est = _rows(out / "estimates.csv")
    assert est[0] == ["open_time_ms", "est_long_usd", "est_short_usd"]
    assert len(est) - 1 == 240 - 48  # every candle after the 2-day warm-up
    assert all(float(r[1]) >= 0 and float(r[2]) >= 0 for r in est[1:])
    cells = _rows(out / "map.csv")
    assert cells[0] == ["price_low", "price_high", "long_usd", "short_usd"]
    assert len(cells) - 1 == 400
    lows = np.array([float(r[0]) for r in cells[1:]])
    highs = np.array([float(r[1]) for r in cells[1:]])
    assert (highs > lows).all() and np.allclose(lows[1:], highs[:-1], rtol=1e-5)
    doc = json.loads((out / "score.json").read_text())
    assert doc["lookback_candles"] == 48
    assert {"model", "placebo (flat OI)", "range", "volume"} <= set(doc["score"]["sets"])
    assert doc["score"]["bars"] == 240 - 48
    report = (out / "report.md").read_text()
    assert "| model |" in report and "placebo (flat OI)" in report
    assert "open_interest_usd converted to base units" in report
    with Image.open(out / "backtest.png") as png:
        assert png.size == (1400, 900)


def test_a_broken_folder_says_which_file_and_line(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folder.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    lines = (broken / "candles.csv").read_text().splitlines()
    cells = lines[4].split(",")
    cells[2] = "abc"
    lines[4] = ",".join(cells)
    (broken / "candles.csv").write_text("\n".join(lines) + "\n")
    assert main(["backtest", str(broken), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "candles.csv:5: high 'abc' is not a number" in err
    assert not (tmp_path / "o").exists()


def test_a_lookback_longer_than_the_folder_is_a_clear_error(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", str(folder), "--out", str(tmp_path / "o"), "--lookback", "30d"]) == 2
    assert "leave nothing to score" in capsys.readouterr().err
    assert main(["backtest", str(folder), "--lookback", "soon"]) == 2
    assert "--lookback: 'soon' is not a duration" in capsys.readouterr().err


def test_calibrate_prints_a_model_block_the_config_accepts(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cal"
    args = ["backtest", str(folder), "--out", str(out), "--lookback", "2d", "--calibrate"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    block = printed[printed.index("[model]") :].split("\n\nwrote")[0]
    config = tmp_path / "config.toml"
    config.write_text(block + "\n")
    settings = load_settings(config)
    doc = json.loads((out / "score.json").read_text())
    cal = doc["calibration"]
    assert set(cal) >= {"fit_params", "full_params", "in_sample", "out_of_sample", "trials"}
    params = engine_params(settings.model)
    want = cal["full_params"]
    assert params.half_life_hours == float(want["half_life_hours"])
    assert params.entry == want["entry"] and params.side_lean == want["side_lean"]
    report = (out / "report.md").read_text()
    assert "Out of sample" in report and "In sample" in report


def test_params_file_settings_are_used(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\nhalf_life_hours = inf\nentry = "typical"\n\n[market]\nlookback = "2d"\n'
    )
    out = tmp_path / "p"
    assert main(["backtest", str(folder), "--out", str(out), "--params", str(config)]) == 0
    capsys.readouterr()
    report = (out / "report.md").read_text()
    assert "no churn" in report and "entry typical" in report
    assert json.loads((out / "score.json").read_text())["lookback_candles"] == 48
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nhalf_life_hours = -1\n")
    assert main(["backtest", str(folder), "--params", str(bad)]) == 2
    assert "model.half_life_hours" in capsys.readouterr().err


def test_progress_bar_draws_only_on_a_terminal() -> None:
    from bot.app.backtest import ProgressBar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream, "maps")
        for i in range(1, 5):
            bar(i, 4)
    assert pipe.getvalue() == ""
    assert tty.getvalue().endswith("maps [" + "#" * 30 + "] 100 %\n")
