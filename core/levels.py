"""The liquidation-level engine: where leveraged positions would be force-liquidated.

No vendor publishes its formula; this is liqwatch's, stated in full. Every number it
produces is an *estimate* in quote currency (USDT). The engine tracks a book of levels
(positions opened since the series began), one sub-book per leverage tier ``L`` of
:class:`LeverageTiers` holding the share ``w_L`` of every opening. Per candle ``t``, in
this order:

1. **Consume.** Every active long level with ``low[t] <= price`` and every short level
   with ``high[t] >= price`` is liquidated: it leaves the book and its notional is booked
   as the estimated realised liquidation of candle ``t``. Levels are only consumed
   strictly after the candle that opened them.
2. **Close.** Positions churn: besides net falls of open interest, traders close (and
   others re-open) all the time, and the more leverage the sooner. Tier ``L`` churns
   with half-life ``h_L = max(h·(10/L)^β, 0.5)`` hours — ``h`` is
   :attr:`EngineParams.half_life_hours` (a 10x position's; ``∞``: no churn), ``β``
   :attr:`EngineParams.half_life_exponent` (1: a position is held in proportion to its
   margin) — so its churn share in candle ``t`` is ``c_t = 1 − 2^(−Δt_t / h_L)``,
   ``Δt_t`` the hours since the previous candle. Every active level of the tier is
   scaled by the keep factor ``k_t = min(1 − c_t, OI_t / OI_{t−1})``: the churn, or the
   net fall of open interest when that is larger. Open interest falling to zero closes
   everything. (Closing a *share* keeps the model scale-free: the book only tracks
   positions opened since the series began, while ``OI`` also counts older ones, so
   removing absolute notional from the tracked part would wipe it out on the first dip.
   It also gives each level's notional in closed form, ``n0·Π k``, which is what makes
   the engine vectorisable.)
3. **Open.** The tier's gross opening is what it closed plus the net growth,
   ``s · w_L · q_t`` base units with ``q_t = max(c_t·OI_{t−1} + ΔOI_t, 0)`` (without
   churn: ``max(ΔOI_t, 0)``), so the book turns over towards recent prices and its size
   follows open interest; ``s`` is :attr:`EngineParams.leveraged_share`, the share of
   open interest that is liquidation-prone at the tier mix (a pure scale). It is opened at :attr:`EngineParams.entry`: ``"typical"``, all
   at the typical price ``(high + low + close)/3``; ``"range"`` (default), a third each
   at the candle's low, typical price and high (positions open all through a candle, and
   its extremes are where the next candle's stops sit closest). Each point's notional
   (quantity × point price) is split long/short by :attr:`EngineParams.side_split` and
   liquidated at :func:`core.brackets.liquidation_price` for leverage ``L`` and a
   position of ``position_notional``.

``ΔOI``, ``c`` and ``q`` are 0 for the first candle and wherever ``OI_t`` or ``OI_{t−1}``
is missing (NaN): a gap opens nothing and closes nothing. A series without open interest
opens nothing at all. Every flow of candle ``t`` depends only on candles ``t`` and
``t − 1``, never on where the run starts (:mod:`core.pointintime` relies on it).

Long/short split (default ``"flow"``): ``"flow"`` reads the *net* taker flow against the
growth of open interest — opening a long is a taker buy, opening a short a taker sell,
and flow that opens nothing (churn whose closes mirror the book, market making, noise)
nets out — so with ``buy``/``sell`` the candle's taker-buy and taker-sell volume (base
units) the linear estimate of the long share is ``1/2 + x``, ``x = (buy − sell)/(2·ΔOI)``;
it is squashed to ``1/2 + tanh(g·x)/2`` (``g`` :attr:`EngineParams.flow_gain`), which
leans hard on a clear flow without ever saturating at exactly 0 or 1, where ``ΔOI > 0``
and volume traded. ``"taker"`` uses the plain taker-buy share of the candle's volume,
which balanced background volume dilutes towards 1/2 (``bench/accuracy.py`` measures
both); ``"ratio"`` uses the long/short account ratio ``r`` as ``r/(1+r)`` and falls back
to ``"taker"`` where the ratio is missing; ``"flow"`` (where OI did not grow) and
``"taker"`` fall back to the candle's direction where taker-buy volume is missing or
volume is 0: 0.6 long if the candle closed up, 0.4 if down, 0.5 if flat (``"candle"``
uses that rule throughout). Any split is then leaned towards 1/2 by
:attr:`EngineParams.side_lean` ``λ``: ``1/2 + λ·(share − 1/2)``.

Levels outside the price grid still exist, are consumed and closed, and count in the
realised series; they are just not drawn in the heatmap or the map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from core._book import (
    CANDLE_LONG_SHARE,
    FLOW_GAIN,
    SideSplit,
    churn_shares,
    keep_factors,
    long_shares,
    open_interest_change,
    opened_quantity,
)
from core._lifetimes import Lifetimes, accumulate, binned_sum, column_bounds
from core._tiers import Group, TierSpec, open_groups
from core.brackets import DEFAULT_BTCUSDT_BRACKETS, Brackets
from core.models import IntArray, MarketSeries, ModelError
from core.results import Heatmap, LiquidationMap, LiquidationSeries, PriceGrid

__all__ = [
    "CANDLE_LONG_SHARE",
    "ENTRY_POINTS",
    "FLOW_GAIN",
    "LEVERAGED_SHARE",
    "MAX_HALF_LIFE_EXPONENT",
    "MIN_HALF_LIFE_HOURS",
    "EngineOutput",
    "EngineParams",
    "Entry",
    "LeverageTiers",
    "SideSplit",
    "churn_shares",
    "default_grid",
    "keep_factors",
    "liquidation_map_at",
    "long_shares",
    "open_interest_change",
    "opened_quantity",
    "realized_within",
    "run_engine",
]

Entry = Literal["typical", "range"]

#: Where a candle's openings are placed: (weight of low, typical price, high) per mode.
ENTRY_POINTS: Final[dict[str, tuple[float, float, float]]] = {
    "typical": (0.0, 1.0, 0.0),
    "range": (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0),
}

#: Shortest churn half-life of any tier: a book that turns over faster than this is noise.
MIN_HALF_LIFE_HOURS: Final = 0.5
#: Largest accepted ``half_life_exponent``.
MAX_HALF_LIFE_EXPONENT: Final = 3.0
#: Default ``leveraged_share``: real liquidations of BTCUSDT, 4–28 Dec 2025 (the first 60 %
#: of ``../shared/data/real-btc-1h``, 7-day look-back), were 0.029 of what the whole open
#: interest at the default tiers and churn gives; with 0.03 the estimate's total over the
#: last 40 % (Jan 2026) is 0.70× the real one.
LEVERAGED_SHARE: Final = 0.03


@dataclass(frozen=True)
class LeverageTiers:
    """How new positions spread over leverage: ``weights[i]`` of the notional at ``leverages[i]``.

    Weights are normalised to sum to 1 on construction. The default adds Binance's 125x
    cap (3 %) to 5x–100x: its levels, 0.4 % from entry, are what an hour's small moves
    reach (measured on real liquidations, ``../shared/data/real-btc-1h``).
    """

    leverages: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 100.0, 125.0)
    weights: tuple[float, ...] = (0.15, 0.30, 0.25, 0.20, 0.07, 0.03)

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
    #: Churn half-life in hours of a 10x position: a level left alone keeps half its
    #: notional after that long even when open interest is flat, and the churned quantity
    #: is re-opened at current prices. ``math.inf``: no churn (closes only on OI falls).
    half_life_hours: float = 100.0
    #: ``β``: a tier of leverage ``L`` churns with half-life ``h·(10/L)^β`` (at least
    #: :data:`MIN_HALF_LIFE_HOURS`); 1: held in proportion to the margin, 0: all alike.
    half_life_exponent: float = 1.0
    #: Where each candle's openings are placed (see :data:`ENTRY_POINTS`).
    entry: Entry = "range"
    #: ``λ`` in [0, 1]: long share ``1/2 + λ·(split − 1/2)``; 1 keeps the split, 0 is 50/50.
    side_lean: float = 1.0
    #: ``g`` > 0 of the ``flow`` split ``1/2 + tanh(g·x)/2`` (see the module docstring).
    flow_gain: float = FLOW_GAIN
    #: ``s`` in (0, 1]: the share of every opening that sits at the tier mix; the rest
    #: (hedged, cross-margined, over-collateralised) is never liquidated. A pure scale of
    #: every notional: maps, heatmaps and realised series, not their shapes or ratios.
    #: Calibrated on real liquidations (``../shared/data/real-btc-1h``, first 60 %).
    leveraged_share: float = LEVERAGED_SHARE

    def __post_init__(self) -> None:
        if not (np.isfinite(self.position_notional) and self.position_notional > 0):
            raise ModelError(
                f"position_notional: must be a positive number (got {self.position_notional})"
            )
        if self.side_split not in ("flow", "taker", "candle", "ratio"):
            raise ModelError(
                f"side_split: {self.side_split!r} is not one of 'flow', 'taker', 'candle', 'ratio'"
            )
        h = self.half_life_hours
        if not (isinstance(h, int | float) and not math.isnan(h) and h >= MIN_HALF_LIFE_HOURS):
            raise ModelError(
                f"half_life_hours: must be a number of hours >= {MIN_HALF_LIFE_HOURS} "
                f"or inf for no churn (got {h!r})"
            )
        beta = self.half_life_exponent
        if not (isinstance(beta, int | float) and 0.0 <= beta <= MAX_HALF_LIFE_EXPONENT):
            raise ModelError(
                f"half_life_exponent: must be a number in [0, {MAX_HALF_LIFE_EXPONENT:g}] "
                f"(got {beta!r})"
            )
        if self.entry not in ENTRY_POINTS:
            raise ModelError(f"entry: {self.entry!r} is not one of 'typical', 'range'")
        lean = self.side_lean
        if not (isinstance(lean, int | float) and 0.0 <= lean <= 1.0):
            raise ModelError(f"side_lean: must be a number in [0, 1] (got {lean!r})")

        share = self.leveraged_share
        if not (isinstance(share, int | float) and 0.0 < share <= 1.0):
            raise ModelError(f"leveraged_share: must be a number in (0, 1] (got {share!r})")
        gain = self.flow_gain
        if not (isinstance(gain, int | float) and math.isfinite(gain) and gain > 0):
            raise ModelError(f"flow_gain: must be a finite number > 0 (got {gain!r})")

    def tier_half_life(self, leverage: float) -> float:
        """Churn half-life (hours) of the tier of ``leverage``: ``h·(10/L)^β``, at least
        :data:`MIN_HALF_LIFE_HOURS` (``inf`` when ``h`` is)."""
        if math.isinf(self.half_life_hours):
            return math.inf
        scaled = float(self.half_life_hours * (10.0 / leverage) ** self.half_life_exponent)
        return max(MIN_HALF_LIFE_HOURS, scaled)


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


def _groups(series: MarketSeries, params: EngineParams) -> list[Group]:
    specs = [
        TierSpec(lev, weight * params.leveraged_share, params.tier_half_life(lev))
        for lev, weight in zip(params.tiers.leverages, params.tiers.weights, strict=True)
    ]
    share = long_shares(series, params.side_split, params.side_lean, params.flow_gain)
    return open_groups(
        series, specs, ENTRY_POINTS[params.entry], share, params.position_notional, params.brackets
    )


def _require(series: MarketSeries) -> None:
    if len(series) == 0:
        raise ModelError("series: the engine needs at least one candle")


def _realized(series: MarketSeries, groups: list[Group], max_age: int) -> LiquidationSeries:
    """Notional of the levels consumed at each candle, counting only those consumed fewer
    than ``max_age`` candles after the one that opened them."""
    n = len(series)
    long = np.zeros(n)
    short = np.zeros(n)
    for g in groups:
        life = g.life
        gone = np.flatnonzero(life.consumed & (life.end - life.opened < max_age))
        at = life.end[gone]
        value = g.notional[gone] * g.scale.decay(life.opened[gone], at - 1)
        is_long = g.side[gone] > 0
        long += binned_sum(at[is_long], value[is_long], n)
        short += binned_sum(at[~is_long], value[~is_long], n)
    return LiquidationSeries(timestamps=series.timestamps, long=long, short=short)


def realized_within(series: MarketSeries, params: EngineParams, max_age: int) -> LiquidationSeries:
    """The realised series of :func:`run_engine`, counting at each candle only the levels
    opened fewer than ``max_age`` candles before it (:mod:`core.pointintime`)."""
    _require(series)
    return _realized(series, _groups(series, params), max_age)


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
    groups = _groups(series, params)
    bounds = column_bounds(n, min(columns, n))
    active = np.zeros((len(bounds) - 1, 2 * bins))
    cells = [g.cells(grid) for g in groups]
    for g, (inside, cell) in zip(groups, cells, strict=True):
        sub = Lifetimes(g.life.opened[inside], g.life.end[inside], g.life.consumed[inside])
        active += accumulate(sub, cell, g.notional[inside], g.scale, bounds, 2 * bins)
    heatmap = Heatmap(
        column_times=series.timestamps[bounds[:-1]],
        grid=grid,
        long=active[:, :bins],
        short=active[:, bins:],
    )
    realized = _realized(series, groups, np.iinfo(np.int64).max)
    return EngineOutput(heatmap, _map(series, grid, groups, cells), realized)


def _map(
    series: MarketSeries,
    grid: PriceGrid,
    groups: list[Group],
    cells: list[tuple[IntArray, IntArray]] | None = None,
) -> LiquidationMap:
    """Active notional per bin after the last candle of ``series`` (``cells``: each
    group's :meth:`~core._tiers.Group.cells` on ``grid``, when already known)."""
    n = len(series)
    per_cell = np.zeros(2 * grid.bins)
    known = cells if cells is not None else [g.cells(grid) for g in groups]
    for g, (inside, cell) in zip(groups, known, strict=True):
        alive = g.life.end[inside] == n
        keep = inside[alive]
        last = np.full(len(keep), n - 1)
        value = g.notional[keep] * g.scale.decay(g.life.opened[keep], last)
        per_cell += binned_sum(cell[alive], value, 2 * grid.bins)
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
    return _map(past, grid, _groups(past, params))
