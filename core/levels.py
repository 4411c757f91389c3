"""The liquidation-level engine: where leveraged positions would be force-liquidated.

No vendor publishes its formula; this is liqwatch's, stated in full. Every number it
produces is an *estimate* in quote currency (USDT). Per candle ``t``, in this order:

1. **Consume.** Every active long level with ``low[t] <= price`` and every short level
   with ``high[t] >= price`` is liquidated: it leaves the book and its notional is booked
   as the estimated realised liquidation of candle ``t``. Levels are only consumed
   strictly after the candle that opened them.
2. **Close.** If open interest fell (``ΔOI_t < 0``), that *share* of open interest closed:
   every active level is scaled by the keep factor ``OI_t / OI_{t−1}``. Open interest
   falling to zero closes everything. (Closing a share rather than the absolute notional
   ``|ΔOI|·price`` keeps the model scale-free: the book only tracks positions opened
   since the series began, while ``OI`` also counts older ones, so removing absolute
   notional from the tracked part would wipe it out on the first dip. It also gives
   each level's notional in closed form, which is what makes the engine vectorisable.)
3. **Open.** If open interest grew (``ΔOI_t > 0``), new positions of notional
   ``ΔOI_t · typical_price_t`` were opened at the typical price ``(high + low + close)/3``,
   split long/short by :attr:`EngineParams.side_split`, spread over
   :class:`LeverageTiers`, each liquidated at
   :func:`core.brackets.liquidation_price` for a position of ``position_notional``.

``ΔOI`` of the first candle is 0 (no earlier value), and so is ``ΔOI`` on either side of
a missing (NaN) value: a gap opens nothing and closes nothing. A series without open
interest opens nothing at all. Long/short split (default ``"flow"``): ``"flow"`` reads the
*net* taker flow against the growth of open interest — opening a long is a taker buy,
opening a short a taker sell, and flow that opens nothing (closes, market making, noise)
nets out — so the long share of ``ΔOI`` is ``clip(1/2 + (buy − sell) / (2·ΔOI), 0, 1)``
with ``buy``/``sell`` the candle's taker-buy and taker-sell volume (base units);
``"taker"`` uses the plain taker-buy share of the candle's volume, which balanced
background volume dilutes towards 1/2 (``bench/accuracy.py`` measures both); ``"ratio"`` uses the long/short account ratio ``r`` as ``r/(1+r)``
and falls back to ``"taker"`` where the ratio is missing; ``"taker"`` falls back to the
candle's direction where taker-buy volume is missing or volume is 0: 0.6 long if the
candle closed up, 0.4 if down, 0.5 if flat (``"candle"`` uses that rule throughout).

Levels outside the price grid still exist, are consumed and closed, and count in the
realised series; they are just not drawn in the heatmap or the map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from core._lifetimes import (
    Lifetimes,
    ScaleTimeline,
    accumulate,
    binned_sum,
    column_bounds,
    first_touch,
)
from core.brackets import DEFAULT_BTCUSDT_BRACKETS, Brackets, liquidation_price
from core.models import FloatArray, IntArray, MarketSeries, ModelError
from core.results import Heatmap, LiquidationMap, LiquidationSeries, PriceGrid

__all__ = [
    "CANDLE_LONG_SHARE",
    "EngineOutput",
    "EngineParams",
    "LeverageTiers",
    "default_grid",
    "keep_factors",
    "liquidation_map_at",
    "long_shares",
    "open_interest_change",
    "run_engine",
]

SideSplit = Literal["flow", "taker", "candle", "ratio"]

#: Long share of new positions when only the candle's direction is known: (up, down, flat).
CANDLE_LONG_SHARE: Final[tuple[float, float, float]] = (0.6, 0.4, 0.5)


@dataclass(frozen=True)
class LeverageTiers:
    """How new positions spread over leverage: ``weights[i]`` of the notional at ``leverages[i]``.

    Weights are normalised to sum to 1 on construction.
    """

    leverages: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 100.0)
    weights: tuple[float, ...] = (0.15, 0.30, 0.25, 0.20, 0.10)

    def __post_init__(self) -> None:
        lev = tuple(float(x) for x in self.leverages)
        wts = tuple(float(x) for x in self.weights)
        if not lev:
            raise ModelError("tiers.leverages: need at least one leverage tier")
        if len(lev) != len(wts):
            raise ModelError(
                f"tiers.weights: {len(wts)} weights for {len(lev)} leverages; give one each"
            )
        if not all(np.isfinite(x) and x >= 1.0 for x in lev):
            raise ModelError(f"tiers.leverages: each must be a finite number >= 1 (got {lev})")
        if not all(np.isfinite(w) and w > 0.0 for w in wts):
            raise ModelError(f"tiers.weights: each must be a finite number > 0 (got {wts})")
        total = sum(wts)
        object.__setattr__(self, "leverages", lev)
        object.__setattr__(self, "weights", tuple(w / total for w in wts))


@dataclass(frozen=True)
class EngineParams:
    """Model settings. ``position_notional`` is the typical single position (USDT) whose
    maintenance-margin bracket sets the liquidation prices."""

    tiers: LeverageTiers = field(default_factory=LeverageTiers)
    brackets: Brackets = DEFAULT_BTCUSDT_BRACKETS
    position_notional: float = 10_000.0
    side_split: SideSplit = "flow"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.position_notional) and self.position_notional > 0):
            raise ModelError(
                f"position_notional: must be a positive number (got {self.position_notional})"
            )
        if self.side_split not in ("flow", "taker", "candle", "ratio"):
            raise ModelError(
                f"side_split: {self.side_split!r} is not one of 'flow', 'taker', 'candle', 'ratio'"
            )


@dataclass(frozen=True, eq=False)
class EngineOutput:
    """Heatmap over time, the map after the last candle, and the realised series."""

    heatmap: Heatmap
    map: LiquidationMap
    realized: LiquidationSeries


def default_grid(series: MarketSeries, bins: int = 400, span: float = 0.25) -> PriceGrid:
    """Log-spaced grid from ``min(low)·(1 − span)`` to ``max(high)·(1 + span)``."""
    if len(series) == 0:
        raise ModelError("series: need at least one candle to place a price grid")
    if not (0.0 <= span < 1.0):
        raise ModelError(f"span: must be in [0, 1) (got {span})")
    if bins < 1:
        raise ModelError(f"bins: must be >= 1 (got {bins})")
    low = float(series.low.min()) * (1.0 - span)
    high = float(series.high.max()) * (1.0 + span)
    if high <= low:  # a flat series with span 0
        high = np.nextafter(low, np.inf)
    return PriceGrid.around(low, high, bins, log=True)


def open_interest_change(series: MarketSeries) -> FloatArray:
    """``ΔOI_t`` in base units; 0 for the first candle and next to any missing value."""
    n = len(series)
    out = np.zeros(n)
    oi = series.open_interest
    if oi is not None and n > 1:
        step = oi[1:] - oi[:-1]
        out[1:] = np.where(np.isnan(step), 0.0, step)
    return out


def keep_factors(series: MarketSeries) -> FloatArray:
    """Share of every active level that survives candle ``t``'s closes: ``OI_t / OI_{t−1}``
    where open interest fell, else 1 (0 when it fell to zero)."""
    change = open_interest_change(series)
    keep = np.ones(len(series))
    fell = np.flatnonzero(change < 0)
    if len(fell):
        oi = series.open_interest
        assert oi is not None  # a fall needs values
        keep[fell] = oi[fell] / oi[fell - 1]
    return keep


def long_shares(series: MarketSeries, mode: SideSplit = "flow") -> FloatArray:
    """Long share of the notional opened in each candle (see the module docstring)."""
    up, down, flat = CANDLE_LONG_SHARE
    share = np.where(
        series.close > series.open, up, np.where(series.close < series.open, down, flat)
    )
    if mode == "candle":
        return share
    if series.taker_buy_volume is not None:
        traded = series.volume > 0
        taker = series.taker_buy_volume / np.where(traded, series.volume, 1.0)
        share = np.where(traded, np.minimum(taker, 1.0), share)
        if mode == "flow":
            growth = open_interest_change(series)
            grew = traded & (growth > 0)
            net = 2.0 * series.taker_buy_volume - series.volume  # buys − sells
            flow = 0.5 + net / (2.0 * np.where(grew, growth, 1.0))
            share = np.where(grew, np.clip(flow, 0.0, 1.0), share)
    if mode == "ratio" and series.long_short_ratio is not None:
        ratio = series.long_short_ratio
        known = np.isfinite(ratio) & (ratio >= 0)
        safe = np.where(known, ratio, 0.0)
        share = np.where(known, safe / (1.0 + safe), share)
    out: FloatArray = share.astype(np.float64)
    return out


@dataclass(frozen=True, eq=False)
class _Levels:
    """Every level the series opens: candle, side (+1 long / −1 short), price, notional."""

    opened: IntArray
    side: IntArray
    price: FloatArray
    notional: FloatArray


def _open_levels(series: MarketSeries, params: EngineParams) -> _Levels:
    change = open_interest_change(series)
    candles = np.flatnonzero(change > 0)
    lev = np.asarray(params.tiers.leverages)
    wts = np.asarray(params.tiers.weights)
    tiers = len(lev)
    entry = series.typical_price[candles]
    opened_notional = change[candles] * entry
    share = long_shares(series, params.side_split)[candles]
    # Layout: candle-major, then side (long, short), then tier.
    side = np.tile(np.repeat(np.array([1, -1], dtype=np.int64), tiers), len(candles))
    side_share = np.stack([share, 1.0 - share], axis=1)  # (candles, 2)
    notional = (opened_notional[:, None, None] * side_share[:, :, None] * wts).ravel()
    price = liquidation_price(
        np.repeat(entry, 2 * tiers),
        np.tile(lev, 2 * len(candles)),
        side.astype(np.float64),
        params.position_notional,
        params.brackets,
    )
    return _Levels(
        opened=np.repeat(candles, 2 * tiers),
        side=side,
        price=np.asarray(price, dtype=np.float64),
        notional=notional,
    )


def _touches(series: MarketSeries, levels: _Levels) -> IntArray:
    """First candle after opening whose range reaches each level (``N`` if none)."""
    touch = np.empty(len(levels.opened), dtype=np.int64)
    is_long = levels.side > 0
    touch[is_long] = first_touch(series.low, levels.opened[is_long] + 1, levels.price[is_long])
    is_short = ~is_long
    touch[is_short] = first_touch(
        -series.high, levels.opened[is_short] + 1, -levels.price[is_short]
    )
    return touch


def _cells(grid: PriceGrid, levels: _Levels) -> tuple[IntArray, IntArray]:
    """(indices of the levels inside the grid, their cell: long bins, then short bins)."""
    idx = grid.index(levels.price)
    inside = np.flatnonzero((idx >= 0) & (idx < grid.bins))
    cell = idx[inside] + np.where(levels.side[inside] > 0, 0, grid.bins)
    return inside, cell


def _require(series: MarketSeries) -> None:
    if len(series) == 0:
        raise ModelError("series: the engine needs at least one candle")


def run_engine(
    series: MarketSeries,
    grid: PriceGrid,
    params: EngineParams = EngineParams(),
    columns: int = 240,
) -> EngineOutput:
    """Run the model over ``series``; the heatmap has ``min(columns, len(series))`` columns.

    Column ``c`` is the mean, over its candles, of the active notional at each candle's
    close; candles are split into contiguous runs whose lengths differ by at most one.
    """
    _require(series)
    if columns < 1:
        raise ModelError(f"columns: must be >= 1 (got {columns})")
    n = len(series)
    bins = grid.bins
    levels = _open_levels(series, params)
    scale = ScaleTimeline.from_keep(keep_factors(series))
    life = Lifetimes.resolve(levels.opened, _touches(series, levels), scale)

    bounds = column_bounds(n, min(columns, n))
    inside, cell = _cells(grid, levels)
    sub = Lifetimes(life.opened[inside], life.end[inside], life.consumed[inside])
    active = accumulate(sub, cell, levels.notional[inside], scale, bounds, 2 * bins)
    heatmap = Heatmap(
        column_times=series.timestamps[bounds[:-1]],
        grid=grid,
        long=active[:, :bins],
        short=active[:, bins:],
    )

    gone = np.flatnonzero(life.consumed)
    at = life.end[gone]
    value = levels.notional[gone] * scale.decay(life.opened[gone], at - 1)
    is_long = levels.side[gone] > 0
    realized = LiquidationSeries(
        timestamps=series.timestamps,
        long=binned_sum(at[is_long], value[is_long], n),
        short=binned_sum(at[~is_long], value[~is_long], n),
    )
    return EngineOutput(heatmap, _map(series, grid, levels, life, scale, inside, cell), realized)


def _map(
    series: MarketSeries,
    grid: PriceGrid,
    levels: _Levels,
    life: Lifetimes,
    scale: ScaleTimeline,
    inside: IntArray,
    cell: IntArray,
) -> LiquidationMap:
    """Active notional per bin after the last candle of ``series``."""
    n = len(series)
    alive = life.end[inside] == n
    keep = inside[alive]
    value = levels.notional[keep] * scale.decay(life.opened[keep], np.full(len(keep), n - 1))
    per_cell = binned_sum(cell[alive], value, 2 * grid.bins)
    return LiquidationMap(
        grid=grid,
        price=series.last_price,
        time=int(series.timestamps[-1]),
        long=per_cell[: grid.bins],
        short=per_cell[grid.bins :],
    )


def liquidation_map_at(
    series: MarketSeries,
    grid: PriceGrid,
    index: int,
    params: EngineParams = EngineParams(),
) -> LiquidationMap:
    """The map of active levels after candle ``index`` (negative counts from the end),
    priced at that candle's close. Only candles up to ``index`` are used."""
    _require(series)
    n = len(series)
    if not -n <= index < n:
        raise ModelError(f"index: {index} is outside the series of {n} candles")
    past = series.slice(0, index % n + 1)
    levels = _open_levels(past, params)
    scale = ScaleTimeline.from_keep(keep_factors(past))
    life = Lifetimes.resolve(levels.opened, _touches(past, levels), scale)
    inside, cell = _cells(grid, levels)
    return _map(past, grid, levels, life, scale, inside, cell)
