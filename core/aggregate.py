"""Price-grid arithmetic and multi-exchange aggregation of liquidation maps.

Every bin of a :class:`~core.results.PriceGrid` is treated as holding its notional spread
*uniformly in the grid's own coordinate* — log-price for a log grid, price for a linear
one. That single assumption drives three things here:

* :func:`bin_fractions` — which fraction of each bin lies inside a price interval (used by
  the imbalance windows and the cascade's crossed-notional curve);
* :func:`rebin` — moving notional from one grid onto another, conserving every dollar that
  falls inside the target grid;
* :func:`aggregate_maps` / :func:`aggregate_heatmaps` — summing several exchanges' maps on
  one common grid ("aggregated" BTC across Binance, Bybit and OKX).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.models import FloatArray, ModelError, OrderBook
from core.results import Heatmap, LiquidationMap, PriceGrid

__all__ = [
    "aggregate_heatmaps",
    "aggregate_maps",
    "bin_fractions",
    "common_grid",
    "merge_books",
    "rebin",
    "union_grid",
]


def _coord(grid: PriceGrid, prices: FloatArray) -> FloatArray:
    """Prices in the grid's own coordinate (log-price for a log grid)."""
    out: FloatArray = np.log(prices) if grid.log else np.asarray(prices, dtype=np.float64)
    return out


def bin_fractions(grid: PriceGrid, low: float, high: float) -> FloatArray:
    """Fraction of each bin inside the price interval ``[low, high]`` (0 … 1 per bin).

    Measured in the grid's coordinate, so a log grid splits a straddling bin by log-price.
    ``low >= high`` gives all zeros; the interval may extend beyond the grid.
    """
    if not high > low:
        return np.zeros(grid.bins)
    lo_edges = grid.edges[:-1]
    hi_edges = grid.edges[1:]
    if grid.log:
        if high <= 0:
            return np.zeros(grid.bins)
        lo_c = math.log(low) if low > 0 else -math.inf
        width: FloatArray = np.log(hi_edges / lo_edges)
        overlap = np.minimum(np.log(hi_edges), math.log(high)) - np.maximum(np.log(lo_edges), lo_c)
    else:
        width = hi_edges - lo_edges
        overlap = np.minimum(hi_edges, high) - np.maximum(lo_edges, low)
    out: FloatArray = np.clip(overlap / width, 0.0, 1.0)
    return out


def rebin(values: FloatArray, source: PriceGrid, target: PriceGrid) -> FloatArray:
    """Move per-bin notional from ``source`` bins onto ``target`` bins.

    Each source bin's notional is spread uniformly in the *source* grid's coordinate and
    split by overlap, so the total is conserved exactly for the part of ``source`` covered
    by ``target`` (notional outside ``target`` is dropped). Identical grids are returned
    unchanged, bit for bit.
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.shape != (source.bins,):
        raise ModelError(f"values: shape {vals.shape}, expected ({source.bins},)")
    if source.log == target.log and np.array_equal(source.edges, target.edges):
        return vals.copy()
    cumulative = np.concatenate(([0.0], np.cumsum(vals)))
    src_u = _coord(source, source.edges)
    clipped = np.clip(target.edges, source.edges[0], source.edges[-1])
    at_edges = np.interp(_coord(source, clipped), src_u, cumulative)
    out: FloatArray = np.maximum(np.diff(at_edges), 0.0)
    return out


def union_grid(grids: Sequence[PriceGrid], bins: int | None = None) -> PriceGrid:
    """One grid covering every grid in ``grids``.

    From the lowest low edge to the highest high edge; log-spaced unless any input is
    linear; ``bins`` defaults to the largest bin count among the inputs (so a set of
    near-identical exchange grids keeps its resolution).
    """
    if not grids:
        raise ModelError("grids: need at least one price grid")
    first = grids[0]
    same = all(g.log == first.log and np.array_equal(g.edges, first.edges) for g in grids)
    if same and bins in (None, first.bins):
        return first
    low = min(float(g.edges[0]) for g in grids)
    high = max(float(g.edges[-1]) for g in grids)
    n = max(g.bins for g in grids) if bins is None else bins
    return PriceGrid.around(low, high, n, log=all(g.log for g in grids))


def common_grid(maps: Sequence[LiquidationMap], bins: int | None = None) -> PriceGrid:
    """The :func:`union_grid` of the maps' grids: every map fits on it without loss."""
    return union_grid([m.grid for m in maps], bins)


def aggregate_maps(maps: Sequence[LiquidationMap], grid: PriceGrid | None = None) -> LiquidationMap:
    """Sum liquidation maps of several exchanges on one grid.

    Each map is re-binned onto ``grid`` (default :func:`common_grid`) with :func:`rebin`
    and the long and short notionals are summed. The aggregate's ``price`` is the *median*
    of the maps' prices — robust to one venue printing an outlier, and not pulled by the
    venue with the most open interest — and its ``time`` the latest of the maps' times.
    A single map on its own grid is returned as it is.
    """
    if not maps:
        raise ModelError("maps: need at least one liquidation map")
    target = common_grid(maps) if grid is None else grid
    if len(maps) == 1 and maps[0].grid is target:
        return maps[0]  # one venue on its own grid: nothing to do
    long = np.zeros(target.bins)
    short = np.zeros(target.bins)
    for m in maps:
        long += rebin(m.long, m.grid, target)
        short += rebin(m.short, m.grid, target)
    price = float(np.median([m.price for m in maps]))
    return LiquidationMap(target, price, max(m.time for m in maps), long, short)


def _rebin_rows(rows: FloatArray, source: PriceGrid, target: PriceGrid) -> FloatArray:
    out: FloatArray = (
        np.stack([rebin(r, source, target) for r in rows])
        if len(rows)
        else (np.zeros((0, target.bins)))
    )
    return out


def aggregate_heatmaps(heatmaps: Sequence[Heatmap], grid: PriceGrid | None = None) -> Heatmap:
    """Sum heatmaps of several exchanges on one grid, on the first heatmap's columns.

    Columns are aligned by time with sample-and-hold: each column of the first heatmap
    takes, from every other heatmap, its latest column starting at or before it (zeros
    before that heatmap's first column). Heatmaps built from the same candles therefore
    sum column by column.
    """
    if not heatmaps:
        raise ModelError("heatmaps: need at least one heatmap")
    target = union_grid([h.grid for h in heatmaps]) if grid is None else grid
    ref = heatmaps[0]
    times = ref.column_times
    long = np.zeros((len(times), target.bins))
    short = np.zeros((len(times), target.bins))
    for h in heatmaps:
        if h is ref or np.array_equal(h.column_times, times):
            rows = np.arange(len(times))
        else:
            rows = np.searchsorted(h.column_times, times, side="right") - 1
        has = rows >= 0
        long[has] += _rebin_rows(np.asarray(h.long)[rows[has]], h.grid, target)
        short[has] += _rebin_rows(np.asarray(h.short)[rows[has]], h.grid, target)
    return Heatmap(column_times=times, grid=target, long=long, short=short)


def _merge_levels(
    prices: FloatArray, sizes: FloatArray, *, descending: bool
) -> tuple[FloatArray, FloatArray]:
    """Levels sorted best first, sizes at equal prices summed."""
    unique, inverse = np.unique(prices, return_inverse=True)
    sums = np.asarray(np.bincount(inverse, weights=sizes, minlength=len(unique)), np.float64)
    if descending:
        return unique[::-1].copy(), sums[::-1].copy()
    return unique, sums


def merge_books(books: Sequence[OrderBook]) -> OrderBook:
    """One order book holding the resting depth of several venues.

    Each book is re-anchored to the median of the books' mids: its prices are scaled by
    ``median_mid / own_mid`` and its sizes by the inverse, so every level keeps its
    notional and its relative distance from its own mid (venues quote a few dollars
    apart). Levels are then pooled; the timestamp is the latest. One book is returned
    as it is.
    """
    if not books:
        raise ModelError("books: need at least one order book")
    if len(books) == 1:
        return books[0]
    mids = np.array([b.mid for b in books])
    finite = mids[np.isfinite(mids)]
    ref = float(np.median(finite)) if len(finite) else 1.0
    scale = np.where(np.isfinite(mids), ref / np.where(np.isfinite(mids), mids, 1.0), 1.0)
    bid_p, bid_s = _merge_levels(
        np.concatenate([b.bid_prices * k for b, k in zip(books, scale, strict=True)]),
        np.concatenate([b.bid_sizes / k for b, k in zip(books, scale, strict=True)]),
        descending=True,
    )
    ask_p, ask_s = _merge_levels(
        np.concatenate([b.ask_prices * k for b, k in zip(books, scale, strict=True)]),
        np.concatenate([b.ask_sizes / k for b, k in zip(books, scale, strict=True)]),
        descending=False,
    )
    return OrderBook(max(b.timestamp for b in books), bid_p, bid_s, ask_p, ask_s)
