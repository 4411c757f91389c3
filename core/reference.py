"""Plain-Python reference of the liquidation-level engine: the test oracle.

A candle-by-candle simulation over a list of level objects, written to be obviously
correct rather than fast (use it for a few thousand candles at most). It implements the
model exactly as :mod:`core.levels` documents it — consume, then close, then open — and
returns the same :class:`core.levels.EngineOutput`, plus a per-candle ledger of opened,
closed, liquidated and active notional for conservation checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.brackets import liquidation_price
from core.levels import CANDLE_LONG_SHARE, EngineOutput, EngineParams
from core.models import MarketSeries, ModelError
from core.results import Heatmap, LiquidationMap, LiquidationSeries, PriceGrid

__all__ = ["Ledger", "reference_engine"]


@dataclass
class _Level:
    is_long: bool
    price: float
    notional: float
    bin: int  # -1 when outside the grid


@dataclass
class Ledger:
    """Per-candle notional flows of the reference run (quote currency)."""

    opened: list[float] = field(default_factory=list)
    closed: list[float] = field(default_factory=list)
    liquidated: list[float] = field(default_factory=list)
    active: list[float] = field(default_factory=list)  # after the candle, all levels


def _value(arr: object, i: int) -> float | None:
    return None if arr is None else float(arr[i])  # type: ignore[index]


def _long_share(series: MarketSeries, i: int, mode: str) -> float:
    o, c = float(series.open[i]), float(series.close[i])
    up, down, flat = CANDLE_LONG_SHARE
    candle = up if c > o else down if c < o else flat
    if mode == "candle":
        return candle
    ratio = _value(series.long_short_ratio, i) if mode == "ratio" else None
    if ratio is not None and not math.isnan(ratio) and ratio >= 0:
        return ratio / (1.0 + ratio)
    taker = _value(series.taker_buy_volume, i)
    volume = float(series.volume[i])
    if taker is None or volume <= 0:
        return candle
    if mode == "flow" and i > 0 and series.open_interest is not None:
        before, after = float(series.open_interest[i - 1]), float(series.open_interest[i])
        growth = after - before  # NaN on either side: no growth
        if growth > 0:
            bought, sold = taker, volume - taker
            return max(0.0, min(1.0, 0.5 + (bought - sold) / (2.0 * growth)))
    return min(taker / volume, 1.0)


def _bin_of(grid: PriceGrid, price: float) -> int:
    edges = [float(e) for e in grid.edges]
    if price < edges[0] or price > edges[-1]:
        return -1
    for b in range(grid.bins):
        if price < edges[b + 1]:
            return b
    return grid.bins - 1  # exactly on the top edge


def reference_engine(
    series: MarketSeries,
    grid: PriceGrid,
    params: EngineParams = EngineParams(),  # noqa: B008 - frozen, shared default
    columns: int = 240,
) -> tuple[EngineOutput, Ledger]:
    """Simulate candle by candle; same output as :func:`core.levels.run_engine`."""
    n = len(series)
    if n == 0:
        raise ModelError("series: the engine needs at least one candle")
    bins = grid.bins
    oi = series.open_interest
    book: list[_Level] = []
    ledger = Ledger()
    snapshots: list[tuple[list[float], list[float]]] = []  # per candle: long, short per bin
    realized_long = [0.0] * n
    realized_short = [0.0] * n
    for t in range(n):
        low, high = float(series.low[t]), float(series.high[t])
        # 1. consume: only levels opened before this candle are in the book yet
        survivors: list[_Level] = []
        liquidated = 0.0
        for level in book:
            touched = low <= level.price if level.is_long else high >= level.price
            if not touched:
                survivors.append(level)
                continue
            liquidated += level.notional
            if level.is_long:
                realized_long[t] += level.notional
            else:
                realized_short[t] += level.notional
        book = survivors
        # ΔOI: 0 for the first candle and next to a missing value
        change = 0.0
        if oi is not None and t > 0 and not (math.isnan(oi[t]) or math.isnan(oi[t - 1])):
            change = float(oi[t]) - float(oi[t - 1])
        # 2. close a share of every active level
        closed = 0.0
        if change < 0:
            assert oi is not None
            keep = float(oi[t]) / float(oi[t - 1])
            for level in book:
                closed += level.notional * (1.0 - keep)
                level.notional *= keep
        # 3. open at the typical price, spread over sides and tiers
        opened = 0.0
        if change > 0:
            entry = (float(series.high[t]) + low + float(series.close[t])) / 3.0
            notional = change * entry
            share = _long_share(series, t, params.side_split)
            for is_long, side_share in ((True, share), (False, 1.0 - share)):
                for lev, weight in zip(params.tiers.leverages, params.tiers.weights, strict=True):
                    price = float(
                        liquidation_price(
                            entry,
                            lev,
                            1 if is_long else -1,
                            params.position_notional,
                            params.brackets,
                        )
                    )
                    size = notional * side_share * weight
                    opened += size
                    book.append(_Level(is_long, price, size, _bin_of(grid, price)))
        long_bins = [0.0] * bins
        short_bins = [0.0] * bins
        for level in book:
            if level.bin >= 0:
                target = long_bins if level.is_long else short_bins
                target[level.bin] += level.notional
        snapshots.append((long_bins, short_bins))
        ledger.opened.append(opened)
        ledger.closed.append(closed)
        ledger.liquidated.append(liquidated)
        ledger.active.append(sum(level.notional for level in book))

    cols = min(columns, n)
    bounds = [c * n // cols for c in range(cols + 1)]
    heat_long = np.zeros((cols, bins))
    heat_short = np.zeros((cols, bins))
    for c in range(cols):
        span = range(bounds[c], bounds[c + 1])
        for b in range(bins):
            heat_long[c, b] = sum(snapshots[t][0][b] for t in span) / len(span)
            heat_short[c, b] = sum(snapshots[t][1][b] for t in span) / len(span)
    last_long, last_short = snapshots[-1]
    output = EngineOutput(
        heatmap=Heatmap(
            column_times=np.array([series.timestamps[b] for b in bounds[:-1]], dtype=np.int64),
            grid=grid,
            long=heat_long,
            short=heat_short,
        ),
        map=LiquidationMap(
            grid=grid,
            price=float(series.close[-1]),
            time=int(series.timestamps[-1]),
            long=np.array(last_long),
            short=np.array(last_short),
        ),
        realized=LiquidationSeries(
            timestamps=series.timestamps,
            long=np.array(realized_long),
            short=np.array(realized_short),
        ),
    )
    return output, ledger
