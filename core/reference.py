"""Plain-Python reference of the liquidation-level engine: the test oracle.

A candle-by-candle simulation over a list of level objects, written to be obviously
correct rather than fast (use it for a few thousand candles at most). It implements the
model exactly as :mod:`core.levels` documents it — consume, then close (churn or the
net fall of open interest, whichever is larger), then open (the churned quantity plus net
growth, at the candle's entry points) — and
returns the same :class:`core.levels.EngineOutput`, plus a per-candle ledger of opened,
closed, liquidated and active notional for conservation checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.brackets import liquidation_price
from core.levels import CANDLE_LONG_SHARE, ENTRY_POINTS, EngineOutput, EngineParams
from core.models import MarketSeries, ModelError
from core.results import Heatmap, LiquidationMap, LiquidationSeries, PriceGrid

__all__ = ["Ledger", "reference_engine"]


@dataclass
class _Level:
    is_long: bool
    price: float
    notional: float
    bin: int  # -1 when outside the grid
    half_life: float  # hours: its tier's churn half-life


@dataclass
class Ledger:
    """Per-candle notional flows of the reference run (quote currency)."""

    opened: list[float] = field(default_factory=list)
    closed: list[float] = field(default_factory=list)
    liquidated: list[float] = field(default_factory=list)
    active: list[float] = field(default_factory=list)  # after the candle, all levels


def _value(arr: object, i: int) -> float | None:
    return None if arr is None else float(arr[i])  # type: ignore[index]


def _long_share(series: MarketSeries, i: int, params: EngineParams) -> float:
    """Long share of candle ``i``'s openings, leaned towards 1/2."""
    share = _raw_long_share(series, i, params.side_split, params.flow_gain)
    return 0.5 + params.side_lean * (share - 0.5)


def _raw_long_share(series: MarketSeries, i: int, mode: str, gain: float) -> float:
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
            return 0.5 + 0.5 * math.tanh(gain * (bought - sold) / (2.0 * growth))
    return min(taker / volume, 1.0)


def _flows(series: MarketSeries, t: int, half_life_hours: float) -> tuple[float, float]:
    """(keep factor, gross base quantity opened) of candle ``t`` for a tier churning
    with ``half_life_hours``."""
    oi = series.open_interest
    if oi is None or t == 0 or math.isnan(oi[t]) or math.isnan(oi[t - 1]):
        return 1.0, 0.0  # no earlier value or a gap: nothing closes, nothing opens
    before, after = float(oi[t - 1]), float(oi[t])
    hours = (int(series.timestamps[t]) - int(series.timestamps[t - 1])) / 3_600_000
    churn = 1.0 - 0.5 ** (hours / half_life_hours)  # 0 when the half-life is infinite
    closed_share = churn
    if before > 0:
        closed_share = max(churn, (before - after) / before)  # the net fall, if larger
    opened = max(churn * before + (after - before), 0.0)
    return 1.0 - closed_share, opened


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
        # 2. close a share of every active level: its tier's churn, or the net fall of OI
        closed = 0.0
        for level in book:
            keep, _ = _flows(series, t, level.half_life)
            closed += level.notional * (1.0 - keep)
            level.notional *= keep
        # 3. open each tier's gross quantity at the entry points, long and short
        opened = 0.0
        share = _long_share(series, t, params)
        typical = (float(series.high[t]) + low + float(series.close[t])) / 3.0
        for lev, weight in zip(params.tiers.leverages, params.tiers.weights, strict=True):
            half_life = params.tier_half_life(lev)
            _, quantity = _flows(series, t, half_life)
            if quantity <= 0:
                continue
            points = zip((low, typical, high), ENTRY_POINTS[params.entry], strict=True)
            for entry, point_weight in points:
                if point_weight == 0:
                    continue
                for is_long, side_share in ((True, share), (False, 1.0 - share)):
                    side = 1 if is_long else -1
                    price = float(
                        liquidation_price(
                            entry, lev, side, params.position_notional, params.brackets
                        )
                    )
                    size = (
                        params.leveraged_share
                        * weight
                        * quantity
                        * point_weight
                        * entry
                        * side_share
                    )
                    opened += size
                    book.append(_Level(is_long, price, size, _bin_of(grid, price), half_life))
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
