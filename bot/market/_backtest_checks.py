"""The checks behind :func:`bot.market.backtest_folder.read_backtest_folder`.

Each ``read``/``check`` function raises :class:`Problem` with the first thing wrong in its
file, worded ``file:line: what is wrong — what to do``; the reader collects one per file
into a :class:`BacktestFolderError`. What a check did to the data goes into ``notes``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from core.models import (
    TIMEFRAME_MS,
    FloatArray,
    IntArray,
    LiquidationPrints,
    MarketSeries,
    ModelError,
    Side,
)
from core.scoring import RealLiquidations

__all__ = [
    "CANDLE_COLS",
    "LIQ_COLS",
    "PRINT_COLS",
    "BacktestFolderError",
    "Problem",
    "Table",
    "candle_series",
    "first_bad",
    "floats",
    "human",
    "iso",
    "mode",
    "non_negative",
    "print_rows",
    "read_table",
    "real_bars",
    "times",
]

CANDLE_COLS: Final = ("open_time_ms", "open", "high", "low", "close", "volume", "taker_buy_volume")
LIQ_COLS: Final = ("open_time_ms", "close_time_ms", "long_usd", "short_usd")
PRINT_COLS: Final = ("time_ms", "side", "price", "notional_usd")
_DAY_MS: Final = 86_400_000


class BacktestFolderError(ValueError):
    """A backtest folder failed its checks; ``problems`` holds one message per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class Problem(Exception):
    """The first problem in one file (internal; collected into BacktestFolderError)."""


def human(ms: int) -> str:
    """A duration the way a person writes it: 5m, 1h, 90m, 30s, 1 ms."""
    ms = int(ms)
    for name, value in TIMEFRAME_MS.items():
        if value == ms:
            return name
    for unit, size in (("d", _DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms} ms"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def mode(values: IntArray) -> int:
    uniq, counts = np.unique(values, return_counts=True)
    return int(uniq[np.argmax(counts)])


@dataclass(frozen=True)
class Table:
    """A CSV file's rows as text, with the file line of each row."""

    name: str
    header: tuple[str, ...]
    lines: tuple[int, ...]
    rows: tuple[tuple[str, ...], ...]

    def cells(self, col: str) -> list[str]:
        j = self.header.index(col)
        return [row[j].strip() for row in self.rows]

    def at(self, i: int) -> str:
        """``file:line`` of row ``i``."""
        return f"{self.name}:{self.lines[i]}"


def read_table(folder: Path, name: str, required: Sequence[str]) -> Table:
    """Read ``folder/name``; the header must name every ``required`` column."""
    path = folder / name
    if not path.is_file():
        raise Problem(f"{name}: file not found — add it with the columns {','.join(required)}")
    lines: list[int] = []
    rows: list[tuple[str, ...]] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        first = next(reader, None)
        if first is None:
            raise Problem(f"{name}:1: empty file — the first line must be {','.join(required)}")
        header = tuple(h.strip() for h in first)
        missing = [c for c in required if c not in header]
        if missing:
            raise Problem(
                f"{name}:1: missing column {', '.join(missing)} — the header must name "
                f"{','.join(required)} (got {','.join(header)})"
            )
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise Problem(
                    f"{name}:{reader.line_num}: {len(cells)} cells but the header has "
                    f"{len(header)} — one value per column (leave optional ones empty)"
                )
            lines.append(reader.line_num)
            rows.append(tuple(cells))
    if not rows:
        raise Problem(f"{name}:2: no data rows — add at least one row under the header")
    return Table(name, header, tuple(lines), tuple(rows))


def floats(t: Table, col: str, *, allow_empty: bool = False) -> FloatArray:
    out = np.empty(len(t.rows))
    for i, cell in enumerate(t.cells(col)):
        if not cell:
            if allow_empty:
                out[i] = math.nan
                continue
            raise Problem(f"{t.at(i)}: {col} is empty — every row needs a number here")
        try:
            value = float(cell)
        except ValueError:
            raise Problem(
                f"{t.at(i)}: {col} {cell!r} is not a number — write a plain decimal number "
                "(no units, no thousands separators)"
            ) from None
        if not math.isfinite(value):
            raise Problem(f"{t.at(i)}: {col} is {cell} — write a finite number")
        out[i] = value
    return out


def times(t: Table, col: str, *, increasing: bool = True) -> IntArray:
    """Unix milliseconds (strictly increasing unless ``increasing=False``)."""
    out = np.empty(len(t.rows), np.int64)
    for i, cell in enumerate(t.cells(col)):
        try:
            value = int(cell)
        except ValueError:
            try:
                as_float = float(cell)
            except ValueError:
                as_float = math.nan
            if not as_float.is_integer():
                raise Problem(
                    f"{t.at(i)}: {col} {cell!r} is not a whole number of milliseconds — "
                    "write Unix time in ms (e.g. 1764828000000)"
                ) from None
            value = int(as_float)
        if value < 10**11:
            raise Problem(
                f"{t.at(i)}: {col} {value} looks like seconds, not milliseconds — multiply "
                "the times by 1000"
            )
        out[i] = value
    bad = np.flatnonzero(np.diff(out) <= 0) if increasing else np.empty(0, np.int64)
    if len(bad):
        i = int(bad[0]) + 1
        raise Problem(
            f"{t.at(i)}: {col} {out[i]} is not after the previous row's ({out[i - 1]}) — "
            "sort the rows by time and drop duplicates"
        )
    return out


def first_bad(t: Table, mask: NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def non_negative(t: Table, col: str, values: FloatArray) -> None:
    if (i := first_bad(t, values < 0)) is not None:
        value = float(values[i])
        raise Problem(f"{t.at(i)}: {col} is negative ({value!r}) — it cannot be below 0")


def candle_series(t: Table, tf: int, notes: list[str]) -> MarketSeries:
    """``candles.csv`` → a MarketSeries (no open interest yet), on the ``tf`` grid."""
    ts = times(t, "open_time_ms")
    o, h, lo, c, v = (floats(t, col) for col in CANDLE_COLS[1:6])
    for col, values in zip(CANDLE_COLS[1:5], (o, h, lo, c), strict=True):
        if (i := first_bad(t, values <= 0)) is not None:
            raise Problem(f"{t.at(i)}: {col} is {float(values[i])!r} — prices must be > 0")
    non_negative(t, "volume", v)
    bad = (lo > np.minimum(o, c)) | (h < np.maximum(o, c))
    if (i := first_bad(t, bad)) is not None:
        raise Problem(
            f"{t.at(i)}: low {float(lo[i])!r} / high {float(h[i])!r} do not contain "
            f"open {float(o[i])!r} / close {float(c[i])!r} — check the column order "
            "(open,high,low,close)"
        )
    taker: FloatArray | None = None
    if "taker_buy_volume" in t.header:
        taker = floats(t, "taker_buy_volume", allow_empty=True)
        empty = np.isnan(taker)
        if empty.all():
            taker = None
        elif (i := first_bad(t, empty)) is not None:
            raise Problem(
                f"{t.at(i)}: taker_buy_volume is empty here but given on other rows — fill "
                "every row or leave the column empty on all of them"
            )
        else:
            non_negative(t, "taker_buy_volume", taker)
            if (i := first_bad(t, taker > v * (1 + 1e-9))) is not None:
                raise Problem(
                    f"{t.at(i)}: taker_buy_volume {float(taker[i])!r} exceeds volume "
                    f"{float(v[i])!r} — taker buys are part of the volume, in the same unit"
                )
    if taker is None:
        notes.append("candles.csv: taker_buy_volume not given (left as None)")
    if len(ts) >= 2:
        step = mode(np.diff(ts))
        if step != tf:
            fix = f'set "timeframe": "{human(step)}"'
            if step not in TIMEFRAME_MS.values():
                fix = "resample the candles to a supported timeframe"
            raise Problem(
                f"meta.json: timeframe is {human(tf)!r} but candles.csv rows are "
                f"{human(step)} apart — {fix}"
            )
        off = (ts - ts[0]) % tf
        if (i := first_bad(t, off != 0)) is not None:
            raise Problem(
                f"{t.at(i)}: open_time_ms {ts[i]} is off the {human(tf)} grid of the first "
                f"candle (by {human(int(off[i]))}) — every candle must open a whole number of "
                f"{human(tf)} after the first"
            )
        gaps = np.flatnonzero(np.diff(ts) > tf)
        if len(gaps):
            missing = int(((np.diff(ts)[gaps] // tf) - 1).sum())
            g = int(gaps[0])
            notes.append(
                f"candles.csv: {len(gaps)} gaps, {missing} candles missing (first after "
                f"line {t.lines[g]}, {iso(ts[g])}) — left as gaps, nothing invented"
            )
    try:
        series = MarketSeries(ts, o, h, lo, c, v, taker_buy_volume=taker)
    except ModelError as e:  # the checks above should have caught everything
        raise Problem(f"{t.name}: {e} — fix the candles") from None
    notes.append(f"candles.csv: {len(ts)} {human(tf)} candles, {iso(ts[0])} → {iso(ts[-1])}")
    return series


def real_bars(t: Table, series: MarketSeries, tf: int, notes: list[str]) -> RealLiquidations:
    """``liquidations.csv`` → RealLiquidations, bars on the candle grid, ≥ one candle long."""
    o = times(t, "open_time_ms")
    c = times(t, "close_time_ms", increasing=False)
    long, short = floats(t, "long_usd"), floats(t, "short_usd")
    non_negative(t, "long_usd", long)
    non_negative(t, "short_usd", short)
    length = c - o
    if (i := first_bad(t, length <= 0)) is not None:
        raise Problem(
            f"{t.at(i)}: close_time_ms {c[i]} is not after open_time_ms {o[i]} — each row "
            "covers [open_time_ms, close_time_ms)"
        )
    t0 = int(series.timestamps[0])
    on_grid = (o - t0) % tf == 0
    last_ms = on_grid & ((c + 1 - t0) % tf == 0)
    if (i := first_bad(t, last_ms)) is not None:
        raise Problem(
            f"{t.at(i)}: close_time_ms {c[i]} looks like the bar's last millisecond — write "
            "the exclusive end, open_time_ms + bar length"
        )
    if (i := first_bad(t, length < tf)) is not None:
        raise Problem(
            f"{t.at(i)}: bar is {human(int(length[i]))} long, shorter than a {human(tf)} "
            "candle — give liquidations per candle or per coarser bar"
        )
    if (i := first_bad(t, ~on_grid | ((c - t0) % tf != 0))) is not None:
        raise Problem(
            f"{t.at(i)}: bar {iso(o[i])} → {iso(c[i])} is not aligned to the candles (they "
            f"open every {human(tf)} from {iso(t0)}) — start and end each bar on a candle open"
        )
    if (i := first_bad(t, np.concatenate([[False], o[1:] < c[:-1]]))) is not None:
        raise Problem(
            f"{t.at(i)}: bar opens at {o[i]}, before the previous bar closes ({c[i - 1]}) — "
            "bars must not overlap"
        )
    real = RealLiquidations(o, c, long, short)
    notes.append(f"{t.name}: {len(o)} bars of {human(mode(length))}")
    gaps = np.flatnonzero(o[1:] > c[:-1])
    if len(gaps):
        missing = int((o[1:] - c[:-1])[gaps].sum())
        notes.append(
            f"{t.name}: {len(gaps)} gaps between bars ({human(missing)} in all) — no row "
            "means unknown, not zero: left out of the score"
        )
    first, end = t0, int(series.timestamps[-1]) + tf
    outside = int(((c <= first) | (o >= end)).sum())
    if outside == len(o):
        raise Problem(
            f"{t.name}:2: no bar overlaps the candles ({iso(first)} → {iso(end)}; bars "
            f"{iso(o[0])} → {iso(c[-1])}) — give liquidations for the candles' period"
        )
    if outside:
        notes.append(f"{t.name}: {outside} bars lie outside the candles; they cannot be scored")
    return real


def print_rows(t: Table, notes: list[str]) -> LiquidationPrints:
    """``prints.csv`` → LiquidationPrints (times non-decreasing)."""
    when = times(t, "time_ms", increasing=False)
    if (i := first_bad(t, np.concatenate([[False], np.diff(when) < 0]))) is not None:
        raise Problem(f"{t.at(i)}: time_ms {when[i]} is before the previous row's — sort by time")
    sides = np.empty(len(when), np.int8)
    for i, cell in enumerate(t.cells("side")):
        side = cell.lower()
        if side not in ("long", "short"):
            raise Problem(
                f"{t.at(i)}: side {cell!r} is not long or short — write the liquidated "
                "position's side (a liquidated long is a forced sell)"
            )
        sides[i] = Side.LONG if side == "long" else Side.SHORT
    price, notional = floats(t, "price"), floats(t, "notional_usd")
    if (i := first_bad(t, price <= 0)) is not None:
        raise Problem(f"{t.at(i)}: price is {float(price[i])!r} — prices must be > 0")
    non_negative(t, "notional_usd", notional)
    notes.append(f"{t.name}: {len(when)} prints")
    return LiquidationPrints(when, sides, price, notional)
