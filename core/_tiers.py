"""The levels a series opens, one group per leverage tier, with their lifetimes.

Internal to :mod:`core.levels` (which states the model). Each leverage tier churns at its
own half-life, so each tier is its own sub-book: its own keep factors (a
:class:`~core._lifetimes.ScaleTimeline`), its own openings. The engine is linear in the
tiers, so heatmap, map and realised series are sums over the groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core._book import keep_factors, opened_quantity
from core._lifetimes import Lifetimes, ScaleTimeline, first_touch
from core.brackets import Brackets, liquidation_price
from core.models import FloatArray, IntArray, MarketSeries
from core.results import PriceGrid

__all__ = ["Group", "TierSpec", "open_groups"]


@dataclass(frozen=True)
class TierSpec:
    """One leverage tier: its leverage, weight in every opening, and churn half-life."""

    leverage: float
    weight: float
    half_life_hours: float


@dataclass(frozen=True, eq=False)
class Group:
    """Every level one tier opens — candle, side (+1 long / −1 short), price, notional at
    opening — with the tier's close-out scale and the levels' lifetimes."""

    opened: IntArray
    side: IntArray
    price: FloatArray
    notional: FloatArray
    scale: ScaleTimeline
    life: Lifetimes

    def cells(self, grid: PriceGrid) -> tuple[IntArray, IntArray]:
        """(indices of the levels inside the grid, their cell: long bins, then short bins)."""
        idx = grid.index(self.price)
        inside = np.flatnonzero((idx >= 0) & (idx < grid.bins))
        cell = idx[inside] + np.where(self.side[inside] > 0, 0, grid.bins)
        return inside, cell


def _touches(series: MarketSeries, opened: IntArray, side: IntArray, price: FloatArray) -> IntArray:
    """First candle after opening whose range reaches each level (``N`` if none)."""
    touch = np.empty(len(opened), dtype=np.int64)
    is_long = side > 0
    touch[is_long] = first_touch(series.low, opened[is_long] + 1, price[is_long])
    is_short = ~is_long
    touch[is_short] = first_touch(-series.high, opened[is_short] + 1, -price[is_short])
    return touch


def open_groups(
    series: MarketSeries,
    tiers: Sequence[TierSpec],
    entry_weights: tuple[float, float, float],
    long_share: FloatArray,
    position_notional: float,
    brackets: Brackets,
) -> list[Group]:
    """One :class:`Group` per tier. ``entry_weights``: share of each candle's opening
    placed at its (low, typical price, high); ``long_share``: per candle."""
    points = [
        (price, weight)
        for price, weight in zip(
            (series.low, series.typical_price, series.high), entry_weights, strict=True
        )
        if weight > 0
    ]
    k = len(points)
    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray]] = []
    for tier in tiers:
        quantity = tier.weight * opened_quantity(series, tier.half_life_hours)
        candles = np.flatnonzero(quantity > 0)
        entry = np.stack([p[candles] for p, _ in points], axis=1)  # (candles, points)
        point_weight = np.array([w for _, w in points])
        at_point = quantity[candles, None] * point_weight * entry  # notional (candles, points)
        share = long_share[candles]
        side_share = np.stack([share, 1.0 - share], axis=1)  # (candles, 2)
        # Layout: candle-major, then entry point, then side (long, short).
        notional = (at_point[:, :, None] * side_share[:, None, :]).ravel()
        side = np.tile(np.array([1, -1], dtype=np.int64), k * len(candles))
        price = np.asarray(
            liquidation_price(
                np.repeat(entry.ravel(), 2),
                tier.leverage,
                side.astype(np.float64),
                position_notional,
                brackets,
            ),
            dtype=np.float64,
        )
        parts.append((np.repeat(candles, 2 * k), side, price, notional))
    # One first-touch search for every tier's levels (one sparse table per side).
    touch = _touches(
        series,
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )
    groups: list[Group] = []
    start = 0
    for tier, (opened, side, price, notional) in zip(tiers, parts, strict=True):
        stop = start + len(opened)
        scale = ScaleTimeline.from_keep(keep_factors(series, tier.half_life_hours))
        life = Lifetimes.resolve(opened, touch[start:stop], scale)
        groups.append(Group(opened, side, price, notional, scale, life))
        start = stop
    return groups
