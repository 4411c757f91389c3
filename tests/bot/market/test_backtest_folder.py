"""Backtest folders: the real one, a simulated round trip, and broken folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.market.backtest_folder import BacktestMeta, read_backtest_folder
from core.scoring import RealLiquidations
from tests.bot.market.backtest_folder_fixtures import (
    FIVE_MIN,
    HOUR,
    REAL,
    edit,
    folder,
    problem,
    set_line,
    sim,
    write_sim,
)

__all__ = ["folder"]  # the fixture, used by name


# ---------------------------------------------------------------- good folders


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real backtest folder not found at {REAL}")
def test_the_real_folder() -> None:
    f = read_backtest_folder(REAL)
    assert (f.meta.exchange, f.meta.symbol, f.meta.timeframe) == (
        "binanceusdm",
        "BTC/USDT:USDT",
        "1h",
    )
    assert "open_interest" in f.meta.provenance
    assert len(f.series) == 1410
    assert f.series.timestamps[0] == 1_764_828_000_000
    assert f.series.taker_buy_volume is None
    oi = f.series.open_interest
    assert oi is not None
    assert np.isfinite(oi).all()
    # the first candle ends with the value stamped one hour after its open
    assert oi[0] == pytest.approx(8248989576.0 / 93103.1)
    assert len(f.real) == 1408
    assert f.real.long_usd[0] == pytest.approx(42620.54)
    assert f.prints is None
    notes = "\n".join(f.notes)
    assert "open_interest_usd converted to base units" in notes
    assert "one value per 1h candle close; no fill needed (oi_fill='step' unused)" in notes
    assert "known at 1410 of 1410 candle closes" in notes
    assert "2 gaps between bars (2h in all)" in notes


@pytest.mark.parametrize("oi_unit", ["base", "usd"])
def test_round_trip_of_a_simulated_folder(tmp_path: Path, oi_unit: str) -> None:
    m = write_sim(tmp_path, oi_unit=oi_unit)
    f = read_backtest_folder(tmp_path)
    s, back = m.series, f.series
    for name in ("timestamps", "open", "high", "low", "close", "volume", "taker_buy_volume"):
        np.testing.assert_array_equal(getattr(back, name), getattr(s, name), err_msg=name)
    assert s.open_interest is not None and back.open_interest is not None
    np.testing.assert_allclose(back.open_interest, s.open_interest, rtol=1e-12)
    real = RealLiquidations.from_prints(m.snapshot.prints, s.timestamps, FIVE_MIN)
    np.testing.assert_array_equal(f.real.long_usd, real.long_usd)
    np.testing.assert_array_equal(f.real.short_usd, real.short_usd)
    assert f.real.long_usd.sum() > 0
    assert f.prints is not None
    np.testing.assert_array_equal(f.prints.times, m.snapshot.prints.times)
    np.testing.assert_array_equal(f.prints.sides, m.snapshot.prints.sides)
    np.testing.assert_array_equal(f.prints.notionals, m.snapshot.prints.notionals)
    assert f.meta == BacktestMeta(
        "sim", "BTC/USDT:USDT", "5m", "simulated", {"candles": "core.sim"}
    )
    assert f.candle_ms == FIVE_MIN


def test_unknown_meta_keys_are_ignored_and_noted(folder: Path) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta["colour"] = "blue"
    (folder / "meta.json").write_text(json.dumps(meta))
    f = read_backtest_folder(folder)
    assert "meta.json: ignored unknown keys colour" in f.notes


def test_candle_gaps_are_reported_not_filled(folder: Path) -> None:
    edit(folder / "candles.csv", lambda lines: lines[:11] + lines[14:])
    f = read_backtest_folder(folder)
    assert len(f.series) == 288 - 3
    assert any("candles.csv: 1 gaps, 3 candles missing (first after line 11" in n for n in f.notes)


def test_empty_taker_column_reads_as_none(tmp_path: Path) -> None:
    write_sim(tmp_path)
    edit(tmp_path / "candles.csv", lambda lines: [line.rsplit(",", 1)[0] + "," for line in lines])
    set_line(
        tmp_path / "candles.csv", 1, "open_time_ms,open,high,low,close,volume,taker_buy_volume"
    )
    f = read_backtest_folder(tmp_path)
    assert f.series.taker_buy_volume is None
    assert "candles.csv: taker_buy_volume not given (left as None)" in f.notes


def test_missing_open_interest_rows_become_nan(folder: Path) -> None:
    edit(folder / "open_interest.csv", lambda lines: lines[:10] + lines[13:])
    f = read_backtest_folder(folder)
    oi = f.series.open_interest
    assert oi is not None
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(oi)), [9, 10, 11])  # file lines 11-13
    assert "open_interest.csv: known at 285 of 288 candle closes (NaN elsewhere)" in f.notes


def test_liquidations_outside_the_candles(folder: Path) -> None:
    shift = 10**5 * FIVE_MIN

    def later(lines: list[str]) -> list[str]:
        rows = [x.split(",") for x in lines[1:]]
        return [lines[0], *(f"{int(r[0]) + shift},{int(r[1]) + shift},{r[2]},{r[3]}" for r in rows)]

    edit(folder / "liquidations.csv", later)
    assert problem(folder).startswith(
        "liquidations.csv:2: no bar overlaps the candles (2026-01-01 00:00 UTC → 2026-01-02 "
        "00:00 UTC; bars "
    )


def hourly_oi(folder: Path) -> None:
    """Keep only the open-interest values on the hour (hourly OI under 5m candles)."""

    def keep(lines: list[str]) -> list[str]:
        return [lines[0], *(x for x in lines[1:] if int(x.split(",")[0]) % HOUR == 0)]

    edit(folder / "open_interest.csv", keep)


def test_coarser_open_interest_is_stepped_by_default(folder: Path) -> None:
    hourly_oi(folder)
    f = read_backtest_folder(folder)
    oi, s = f.series.open_interest, sim().series
    assert oi is not None and s.open_interest is not None
    closes = f.series.timestamps + FIVE_MIN
    on_hour = np.flatnonzero(closes % HOUR == 0)
    np.testing.assert_array_equal(oi[on_hour], s.open_interest[on_hour])
    first = on_hour[0]
    assert np.isnan(oi[:first]).all()
    # held: every close after an hourly value carries it until the next
    np.testing.assert_array_equal(oi[first : first + 12], s.open_interest[first])
    assert (
        "open_interest.csv: 1h values under 5m candles — stepped: each candle close holds "
        "the last value at or before it"
    ) in f.notes


def test_coarser_open_interest_interpolated_on_request(folder: Path) -> None:
    hourly_oi(folder)
    f = read_backtest_folder(folder, oi_fill="interpolate")
    oi, s = f.series.open_interest, sim().series
    assert oi is not None and s.open_interest is not None
    a = np.flatnonzero((f.series.timestamps + FIVE_MIN) % HOUR == 0)[0]
    expected = s.open_interest[a] + (s.open_interest[a + 12] - s.open_interest[a]) * 6 / 12
    assert oi[a + 6] == pytest.approx(expected)
    assert any("interpolated linearly" in n and "looks ahead up to 1h" in n for n in f.notes)
    with pytest.raises(ValueError, match="oi_fill must be 'step' or 'interpolate'"):
        read_backtest_folder(folder, oi_fill="nearest")  # type: ignore[arg-type]
