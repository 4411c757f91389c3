"""Backtest folders: the real one, a simulated round trip, and broken folders."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from bot.market.backtest_folder import (
    BacktestFolderError,
    BacktestMeta,
    read_backtest_folder,
    write_backtest_folder,
)
from core.models import MarketSeries
from core.scoring import RealLiquidations
from core.sim import SimMarket, simulate
from tests.fakes.exchange_data import DATA_DIR

REAL = DATA_DIR / "real-btc-1h"
FIVE_MIN = 300_000
HOUR = 3_600_000


@cache
def sim() -> SimMarket:
    return simulate("seed", seed=3, candles=288, timeframe="5m")


def write_sim(folder: Path, *, oi_unit: str = "base", prints: bool = True) -> SimMarket:
    m = sim()
    s = m.series
    write_backtest_folder(
        folder,
        meta=BacktestMeta("sim", "BTC/USDT:USDT", "5m", "simulated", {"candles": "core.sim"}),
        series=s,
        real=RealLiquidations.from_prints(m.snapshot.prints, s.timestamps, FIVE_MIN),
        prints=m.snapshot.prints if prints else None,
        oi_unit=oi_unit,  # type: ignore[arg-type]
    )
    return m


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_sim(tmp_path)
    return tmp_path


def edit(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")


def set_line(path: Path, number: int, text: str) -> None:
    """Replace file line ``number`` (1-based, the header is line 1)."""

    def change(lines: list[str]) -> list[str]:
        lines[number - 1] = text
        return lines

    edit(path, change)


def cells(path: Path, number: int) -> list[str]:
    return path.read_text().splitlines()[number - 1].split(",")


def problem(folder: Path, **kwargs: object) -> str:
    with pytest.raises(BacktestFolderError) as info:
        read_backtest_folder(folder, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


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


# ---------------------------------------------------------------- broken folders


def test_not_a_folder(tmp_path: Path) -> None:
    assert "not a folder — give the backtest folder" in problem(tmp_path / "nope")


def test_missing_files_are_all_listed(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    with pytest.raises(BacktestFolderError) as info:
        read_backtest_folder(tmp_path)
    assert info.value.problems == (
        "meta.json: file not found — add it with exchange, symbol and timeframe "
        '(e.g. {"exchange": "binanceusdm", "symbol": "BTC/USDT:USDT", "timeframe": "1h"})',
        "candles.csv: file not found — add it with the columns "
        "open_time_ms,open,high,low,close,volume",
        "open_interest.csv: file not found — add it with the columns time_ms",
        "liquidations.csv: file not found — add it with the columns "
        "open_time_ms,close_time_ms,long_usd,short_usd",
    )


def test_meta_problems(folder: Path) -> None:
    meta = folder / "meta.json"
    meta.write_text('{"exchange": "x",\n "symbol": }')
    assert "meta.json:2: not valid JSON (Expecting value) — fix the syntax" in problem(folder)
    meta.write_text('{"exchange": "x", "symbol": "BTC/USDT:USDT"}')
    assert problem(folder) == "meta.json: missing key 'timeframe' — add it as a non-empty string"
    meta.write_text('{"exchange": "x", "symbol": "y", "timeframe": "7m"}')
    assert "meta.json: timeframe '7m' is not supported — use one of 1m, 3m, 5m" in problem(folder)
    meta.write_text('{"exchange": "x", "symbol": "y", "timeframe": "1h"}')
    assert problem(folder) == (
        'meta.json: timeframe is \'1h\' but candles.csv rows are 5m apart — set "timeframe": "5m"'
    )


def test_candle_problems(folder: Path) -> None:
    path = folder / "candles.csv"
    good = path.read_text()
    set_line(path, 1, "open_time_ms,open,high,low,close,vol,taker_buy_volume")
    assert problem(folder).startswith(
        "candles.csv:1: missing column volume — the header must name "
        "open_time_ms,open,high,low,close,volume (got open_time_ms,open,high,low,close,vol,"
    )
    cases: list[tuple[int, dict[int, str | None], str]] = [
        (5, {2: "abc"}, "candles.csv:5: high 'abc' is not a number — write a plain decimal "
         "number"),
        (5, {0: "1767225600"}, "candles.csv:5: open_time_ms 1767225600 looks like seconds, "
         "not milliseconds — multiply the times by 1000"),
        (5, {0: "1767225600000"}, "candles.csv:5: open_time_ms 1767225600000 is not after the "
         "previous row's (1767226200000) — sort the rows by time and drop duplicates"),
        (5, {0: None}, "candles.csv:5: open_time_ms {t} is off the 5m grid of the first candle "
         "(by 1m) — every candle must open a whole number of 5m after the first"),
        (5, {3: "1e9"}, "candles.csv:5: low 1000000000.0 / high"),
        (5, {6: ""}, "candles.csv:5: taker_buy_volume is empty here but given on other rows — "
         "fill every row or leave the column empty on all of them"),
        (5, {5: "-1"}, "candles.csv:5: volume is negative (-1.0) — it cannot be below 0"),
        (5, {1: "0"}, "candles.csv:5: open is 0.0 — prices must be > 0"),
        (5, {6: "1e9"}, "candles.csv:5: taker_buy_volume 1000000000.0 exceeds volume"),
    ]  # fmt: skip
    for line, change, message in cases:
        path.write_text(good)
        row = cells(path, line)
        t = int(row[0]) + 60_000
        for col, value in change.items():
            row[col] = str(t) if value is None else value
        set_line(path, line, ",".join(row))
        assert message.format(t=t) in problem(folder), message
    path.write_text(good)
    set_line(path, 7, "1,2,3")
    assert "candles.csv:7: 3 cells but the header has 7 — one value per column" in problem(folder)


def test_open_interest_off_the_candle_closes(folder: Path) -> None:
    path = folder / "open_interest.csv"
    row = cells(path, 4)
    set_line(path, 4, f"{int(row[0]) + 1000},{row[1]}")
    assert (
        f"open_interest.csv:4: time_ms {int(row[0]) + 1000} is not on a candle close "
        "(the candles close every 5m from 2026-01-01 00:05 UTC; off by 1s) — stamp each value "
        "at a candle close, open_time_ms + timeframe"
    ) in problem(folder)


def test_open_interest_in_usd_under_a_base_column(tmp_path: Path) -> None:
    write_sim(tmp_path, oi_unit="usd")
    edit(tmp_path / "open_interest.csv", lambda ls: ["time_ms,open_interest", *ls[1:]])
    msg = problem(tmp_path)
    assert msg.startswith("open_interest.csv:1: open_interest (median ")
    assert msg.endswith(
        "looks like USD, not base units: "
        + msg.split("units: ")[1].split(" — ")[0]
        + " — rename the column to open_interest_usd"
    )
    assert read_backtest_folder(tmp_path, check_units=False).series.open_interest is not None


def test_open_interest_in_usd_without_volume_is_caught_by_price(tmp_path: Path) -> None:
    write_sim(tmp_path, oi_unit="usd")
    edit(tmp_path / "open_interest.csv", lambda ls: ["time_ms,open_interest", *ls[1:]])

    def no_volume(lines: list[str]) -> list[str]:
        rows = [line.split(",") for line in lines[1:]]
        return [lines[0], *(",".join([*r[:5], "0", ""]) for r in rows)]

    edit(tmp_path / "candles.csv", no_volume)
    msg = problem(tmp_path)
    assert "looks like USD, not base units: " in msg
    assert "the daily volume" not in msg
    assert msg.endswith("— rename the column to open_interest_usd")


def test_open_interest_in_base_units_under_a_usd_column(tmp_path: Path) -> None:
    write_sim(tmp_path)
    edit(tmp_path / "open_interest.csv", lambda ls: ["time_ms,open_interest_usd", *ls[1:]])
    msg = problem(tmp_path)
    assert msg.startswith("open_interest.csv:1: open_interest_usd (median ")
    assert "looks like base units, not USD" in msg
    assert msg.endswith("— rename the column to open_interest")


def test_open_interest_column_and_period_problems(folder: Path) -> None:
    path = folder / "open_interest.csv"
    good = path.read_text()
    edit(path, lambda ls: ["time_ms,oi", *ls[1:]])
    assert problem(folder) == (
        "open_interest.csv:1: missing column open_interest or open_interest_usd — name the "
        "value column open_interest (base units) or open_interest_usd (USD)"
    )
    path.write_text(good)
    edit(
        path,
        lambda ls: [ls[0], *(f"{int(x.split(',')[0]) + 10**5 * FIVE_MIN},1.0" for x in ls[1:])],
    )
    assert "open_interest.csv:2: no value falls on a candle close between" in problem(folder)
    path.write_text(good)
    set_line(path, 3, cells(path, 3)[0] + ",-5")
    assert "open_interest.csv:3: open_interest is negative (-5.0)" in problem(folder)


def test_liquidation_bar_problems(folder: Path) -> None:
    path = folder / "liquidations.csv"
    good = path.read_text()
    o = int(cells(path, 3)[0])
    cases = [
        (f"{o + 60_000},{o + 60_000 + FIVE_MIN},1,1",
         "liquidations.csv:3: bar 2026-01-01 00:06 UTC → 2026-01-01 00:11 UTC is not aligned "
         "to the candles (they open every 5m from 2026-01-01 00:00 UTC) — start and end each "
         "bar on a candle open"),
        (f"{o},{o + FIVE_MIN - 1},1,1",
         f"liquidations.csv:3: close_time_ms {o + FIVE_MIN - 1} looks like the bar's last "
         "millisecond — write the exclusive end, open_time_ms + bar length"),
        (f"{o},{o + 60_000},1,1",
         "liquidations.csv:3: bar is 1m long, shorter than a 5m candle — give liquidations "
         "per candle or per coarser bar"),
        (f"{o},{o},1,1",
         f"liquidations.csv:3: close_time_ms {o} is not after open_time_ms {o} — each row "
         "covers [open_time_ms, close_time_ms)"),
        (f"{o},{o + FIVE_MIN},-1,1",
         "liquidations.csv:3: long_usd is negative (-1.0) — it cannot be below 0"),
        (f"{o},{o + 2 * FIVE_MIN},1,1",
         f"liquidations.csv:4: bar opens at {o + FIVE_MIN}, before the previous bar closes "
         f"({o + 2 * FIVE_MIN}) — bars must not overlap"),
        (f"{o},{o + FIVE_MIN},x,1",
         "liquidations.csv:3: long_usd 'x' is not a number — write a plain decimal number"),
    ]  # fmt: skip
    for text, message in cases:
        path.write_text(good)
        set_line(path, 3, text)
        assert message in problem(folder), message


def test_coarser_liquidation_bars_are_accepted(tmp_path: Path) -> None:
    write_sim(tmp_path)
    liq = tmp_path / "liquidations.csv"
    rows = [r.split(",") for r in liq.read_text().splitlines()[1:]]
    lines = ["open_time_ms,close_time_ms,long_usd,short_usd"]
    for i in range(0, len(rows), 12):
        group = rows[i : i + 12]
        lo = sum(float(r[2]) for r in group)
        sh = sum(float(r[3]) for r in group)
        lines.append(f"{group[0][0]},{group[-1][1]},{lo!r},{sh!r}")
    liq.write_text("\n".join(lines) + "\n")
    f = read_backtest_folder(tmp_path)
    assert len(f.real) == 24
    assert "liquidations.csv: 24 bars of 1h" in f.notes


def test_print_problems(folder: Path) -> None:
    path = folder / "prints.csv"
    row = cells(path, 2)
    set_line(path, 2, ",".join([row[0], "buy", *row[2:]]))
    assert (
        "prints.csv:2: side 'buy' is not long or short — write the liquidated position's side "
        "(a liquidated long is a forced sell)"
    ) in problem(folder)


def test_one_problem_per_file_is_collected(folder: Path) -> None:
    set_line(folder / "candles.csv", 3, "x,1,1,1,1,1,1")
    set_line(folder / "prints.csv", 2, "1,long,1,1,1")
    with pytest.raises(BacktestFolderError) as info:
        read_backtest_folder(folder)
    assert len(info.value.problems) == 2
    assert info.value.problems[0].startswith("candles.csv:3: open_time_ms 'x' is not a whole")
    assert info.value.problems[1].startswith("prints.csv:2: 5 cells but the header has 4")


def test_writer_needs_open_interest(tmp_path: Path) -> None:
    s = sim().series
    bare = MarketSeries(s.timestamps, s.open, s.high, s.low, s.close, s.volume)
    real = RealLiquidations(s.timestamps, s.timestamps + FIVE_MIN, s.volume * 0, s.volume * 0)
    with pytest.raises(ValueError, match="series has no open interest"):
        write_backtest_folder(tmp_path, meta=BacktestMeta("x", "y", "5m"), series=bare, real=real)
