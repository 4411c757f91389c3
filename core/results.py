"""Frozen result types of the engine: price grid, heatmap, liquidation map, clusters,
danger zones, imbalance, cascade, and the :class:`Analysis` that bundles them.

Every notional here is an *estimate* in quote currency (USDT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.models import FloatArray, IntArray, ModelError, Side

__all__ = [
    "Analysis",
    "CascadeResult",
    "Cluster",
    "DangerZone",
    "DistanceBand",
    "Heatmap",
    "Imbalance",
    "LiquidationMap",
    "LiquidationSeries",
    "PriceGrid",
]


def _readonly(arr: FloatArray) -> FloatArray:
    out = np.ascontiguousarray(arr, dtype=np.float64)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class PriceGrid:
    """Price bins given by ``edges`` (n + 1 strictly increasing prices)."""

    edges: FloatArray
    log: bool = True

    def __post_init__(self) -> None:
        edges = _readonly(self.edges)
        if edges.ndim != 1 or len(edges) < 2:
            raise ModelError("edges: need at least two bin edges")
        if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0) or edges[0] <= 0:
            raise ModelError("edges: must be positive, finite and strictly increasing")
        object.__setattr__(self, "edges", edges)

    @classmethod
    def around(cls, low: float, high: float, bins: int, *, log: bool = True) -> PriceGrid:
        """``bins`` bins from ``low`` to ``high``, log-spaced (default) or linear."""
        if not (0 < low < high) or bins < 1:
            raise ModelError(f"grid: need 0 < low < high and bins >= 1 (got {low}, {high}, {bins})")
        if log:
            edges = np.exp(np.linspace(np.log(low), np.log(high), bins + 1))
        else:
            edges = np.linspace(low, high, bins + 1)
        return cls(edges=edges, log=log)

    @property
    def bins(self) -> int:
        return len(self.edges) - 1

    @property
    def centers(self) -> FloatArray:
        if self.log:
            c: FloatArray = np.sqrt(self.edges[:-1] * self.edges[1:])
        else:
            c = (self.edges[:-1] + self.edges[1:]) / 2.0
        return c

    def index(self, prices: FloatArray) -> IntArray:
        """Bin index of each price; -1 below the grid, ``bins`` above it."""
        idx = np.searchsorted(self.edges, prices, side="right") - 1
        idx = np.where(prices == self.edges[-1], self.bins - 1, idx)
        out: IntArray = np.where(prices > self.edges[-1], self.bins, idx).astype(np.int64)
        return out


@dataclass(frozen=True, eq=False)
class Heatmap:
    """Active estimated liquidation notional over time × price.

    ``long[c, b]`` / ``short[c, b]``: notional of active long / short levels in price bin
    ``b`` during column ``c`` (time-averaged over the candles the column aggregates).
    ``column_times[c]`` is the open time of the first candle in column ``c``.
    """

    column_times: IntArray
    grid: PriceGrid
    long: FloatArray  # shape (columns, bins)
    short: FloatArray  # shape (columns, bins)

    def __post_init__(self) -> None:
        shape = (len(self.column_times), self.grid.bins)
        for name in ("long", "short"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != shape:
                raise ModelError(f"{name}: shape {arr.shape}, expected {shape}")

    @property
    def total(self) -> FloatArray:
        out: FloatArray = self.long + self.short
        return out


@dataclass(frozen=True, eq=False)
class LiquidationMap:
    """Estimated liquidation notional per price bin at one moment, around ``price``.

    ``long`` notional sits below price (liquidated by a fall), ``short`` above it (by a rise).
    """

    grid: PriceGrid
    price: float
    time: int
    long: FloatArray
    short: FloatArray

    def __post_init__(self) -> None:
        for name in ("long", "short"):
            arr = _readonly(getattr(self, name))
            if arr.shape != (self.grid.bins,):
                raise ModelError(f"{name}: shape {arr.shape}, expected ({self.grid.bins},)")
            if np.any(arr < 0) or not np.all(np.isfinite(arr)):
                raise ModelError(f"{name}: notionals must be finite and >= 0")
            object.__setattr__(self, name, arr)
        if not np.isfinite(self.price) or self.price <= 0:
            raise ModelError(f"price: must be a positive number (got {self.price})")

    @property
    def is_empty(self) -> bool:
        return not (self.long.any() or self.short.any())

    @property
    def cumulative_short_above(self) -> FloatArray:
        """Short notional liquidated if price rises to each bin's upper edge (0 below price)."""
        above = np.where(self.grid.centers >= self.price, self.short, 0.0)
        out: FloatArray = np.cumsum(above)
        return out

    @property
    def cumulative_long_below(self) -> FloatArray:
        """Long notional liquidated if price falls to each bin's lower edge (0 above price)."""
        below = np.where(self.grid.centers < self.price, self.long, 0.0)
        out: FloatArray = np.cumsum(below[::-1])[::-1]
        return out

    def with_values(self, long: FloatArray, short: FloatArray) -> LiquidationMap:
        return LiquidationMap(self.grid, self.price, self.time, long, short)


@dataclass(frozen=True, eq=False)
class LiquidationSeries:
    """Estimated realised liquidation notional per candle and side."""

    timestamps: IntArray
    long: FloatArray
    short: FloatArray


@dataclass(frozen=True)
class Cluster:
    """A peak of the liquidation map."""

    side: Side
    price: float  # bin centre of the peak
    notional: float  # notional of the peak's extent (bins down to half prominence)
    peak_notional: float  # notional in the single peak bin
    prominence: float
    low: float  # price extent of the peak
    high: float

    def distance_from(self, price: float) -> float:
        """Signed relative distance from ``price`` (+0.05 = 5 % above)."""
        return self.price / price - 1.0


@dataclass(frozen=True)
class DangerZone:
    """A contiguous price range densely packed with liquidations of one side."""

    side: Side
    low: float
    high: float
    notional: float
    peak_price: float


@dataclass(frozen=True)
class DistanceBand:
    """Liquidation notional between ``lo`` and ``hi`` relative distance from price (0.02 = 2 %)."""

    lo: float
    hi: float
    short_above: float
    long_below: float


@dataclass(frozen=True)
class Imbalance:
    """Short notional above price vs long notional below, inside ±``window``."""

    price: float
    window: float
    short_above: float
    long_below: float
    bands: tuple[DistanceBand, ...]

    @property
    def ratio(self) -> float:
        """Heavy side over thin side (>= 1), ``inf`` when the thin side is empty."""
        hi = max(self.short_above, self.long_below)
        lo = min(self.short_above, self.long_below)
        if hi == 0:
            return 1.0
        return hi / lo if lo > 0 else float("inf")

    @property
    def heavy_side(self) -> Side:
        """SHORT when more shorts sit above price than longs below (a squeeze-up setup)."""
        return Side.SHORT if self.short_above >= self.long_below else Side.LONG

    @property
    def thin_side(self) -> Side:
        return Side.LONG if self.heavy_side is Side.SHORT else Side.SHORT

    @property
    def signed_ratio(self) -> float:
        """short_above / long_below (> 1: shorts dominate), ``inf`` if no longs."""
        if self.long_below == 0:
            return float("inf") if self.short_above > 0 else 1.0
        return self.short_above / self.long_below


@dataclass(frozen=True, eq=False)
class CascadeResult:
    """A simulated squeeze: push price to ``push_price`` and follow the forced flow.

    ``direction`` is +1 (up: shorts liquidated → forced buys) or -1 (down).
    ``path_prices`` / ``path_forced`` trace price and cumulative forced notional per round
    (round 0 is the push itself). ``r_ratio`` = liquidation notional per $ of move ÷
    book depth per $ of move over the walked range (> 1: self-feeding).
    """

    direction: Literal[1, -1]
    start_price: float
    push_price: float
    final_price: float
    forced_notional: float
    rounds: int
    r_ratio: float
    path_prices: FloatArray
    path_forced: FloatArray
    depth_source: Literal["book", "model"]
    #: Why the walk stopped: a fixed point was reached ("converged"), every mapped level
    #: was crossed and the flow ran past the map's edge ("map_edge": final price is a lower
    #: bound of the move), or the round limit cut a still-moving cascade ("max_rounds").
    outcome: Literal["converged", "map_edge", "max_rounds"] = "converged"

    @property
    def extra_move(self) -> float:
        """Relative move beyond the push caused by the forced flow alone."""
        return self.final_price / self.push_price - 1.0


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything the charts, commands, alerts and threads need about one market."""

    symbol: str
    exchanges: tuple[str, ...]
    timeframe: str
    as_of: int  # ms of the last candle used
    price: float
    heatmap: Heatmap
    map: LiquidationMap
    clusters: tuple[Cluster, ...]
    zones: tuple[DangerZone, ...]
    imbalance: Imbalance
    cascade_up: CascadeResult | None
    cascade_down: CascadeResult | None
    realized: LiquidationSeries
    candle_times: IntArray
    candle_close: FloatArray
    candle_high: FloatArray
    candle_low: FloatArray
    candle_open: FloatArray

    @property
    def exchange_label(self) -> str:
        return self.exchanges[0] if len(self.exchanges) == 1 else "aggregated"
