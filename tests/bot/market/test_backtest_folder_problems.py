"""Broken backtest folders: every problem names the file, the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.market.backtest_folder import (
    BacktestFolderError,
    BacktestMeta,
    read_backtest_folder,
    write_backtest_folder,
)
from core.models import MarketSeries
from core.scoring import RealLiquidations
from tests.bot.market.backtest_folder_fixtures import (
    FIVE_MIN,
    cells,
    edit,
    folder,
    problem,
    set_line,
    sim,
    write_sim,
)

__all__ = ["folder"]  # the fixture, used by name


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
