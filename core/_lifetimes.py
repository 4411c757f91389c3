"""Vectorised lifetimes of liquidation levels and their time × price accumulation.

Internal to :mod:`core.levels`. Two problems are solved here for all levels at once,
without a Python loop over candles or levels:

* **First touch.** A long level at price ``p`` opened at candle ``o`` is liquidated at the
  first candle ``t > o`` with ``low[t] <= p`` (a short: ``high[t] >= p``, i.e.
  ``-high[t] <= -p``). :func:`first_touch` answers every query with a sparse table of
  running minima and binary lifting: ``log2(N)`` vectorised gather-and-compare steps.

* **Notional over time.** Proportional closes scale every active level by the same keep
  factor ``k_t``, so a level's notional at the close of candle ``t`` is
  ``n0 · exp(Λ_t − Λ_o)`` with ``Λ = cumsum(log k)``. A full close-out (``k_t = 0``) ends
  every level opened before it; ``Λ`` simply skips that candle. :func:`accumulate` turns
  lifetimes into heatmap columns with in-column prefix/suffix sums for the partial first
  and last column of each level and a 2-D difference array over (column, bin) for the
  columns a level covers completely. Scales are rebased per block of columns so no
  ``exp`` overflows however far open interest decays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from core.models import FloatArray, IntArray, ModelError

__all__ = [
    "Lifetimes",
    "ScaleTimeline",
    "accumulate",
    "binned_sum",
    "column_bounds",
    "first_touch",
]

#: Width (in natural-log units of the close-out scale) of a block of heatmap columns that
#: share one rebasing origin; ``exp(±_BLOCK_LOG)`` stays far inside float64 range.
_BLOCK_LOG: Final = 500.0
#: Largest decay of the close-out scale tolerated inside one heatmap column.
_MAX_COLUMN_LOG: Final = 600.0


def first_touch(values: FloatArray, start: IntArray, threshold: FloatArray) -> IntArray:
    """First index ``t >= start`` with ``values[t] <= threshold``, or ``len(values)``.

    Vectorised over queries: a sparse table ``table[j, i] = min(values[i : i + 2**j])``
    (windows truncated at the end) and binary lifting from ``start``.
    """
    n = len(values)
    pos = np.minimum(np.asarray(start, dtype=np.int64), n)
    if n == 0 or len(pos) == 0:
        return pos
    levels = max(1, int(n).bit_length())
    table = np.empty((levels, n), dtype=np.float64)
    table[0] = values
    for j in range(1, levels):
        half = 1 << (j - 1)
        row = table[j]
        row[:] = table[j - 1]
        np.minimum(row[: n - half], table[j - 1, half:], out=row[: n - half])
    last = n - 1
    for j in range(levels - 1, -1, -1):
        window_min = table[j].take(np.minimum(pos, last))
        pos += (window_min > threshold) << j
    return np.minimum(pos, n)


@dataclass(frozen=True, eq=False)
class ScaleTimeline:
    """The proportional close-out scale over candles.

    ``log_scale[t]`` is ``Λ_t``, the cumulative log keep factor through candle ``t``
    (full close-outs skipped); ``next_wipe[t]`` is the first full close-out candle
    ``>= t`` (``N`` if none), with ``next_wipe[N] = N``.
    """

    log_scale: FloatArray
    next_wipe: IntArray

    @classmethod
    def from_keep(cls, keep: FloatArray) -> ScaleTimeline:
        n = len(keep)
        wipe = keep <= 0.0
        with np.errstate(divide="ignore"):
            log_keep = np.where(wipe, 0.0, np.log(np.where(wipe, 1.0, keep)))
        log_scale = np.cumsum(log_keep)
        marks = np.where(wipe, np.arange(n), n)
        next_wipe = np.empty(n + 1, dtype=np.int64)
        next_wipe[n] = n
        next_wipe[:n] = np.minimum.accumulate(marks[::-1])[::-1]
        return cls(log_scale=log_scale, next_wipe=next_wipe)

    def decay(self, opened: IntArray, at: IntArray) -> FloatArray:
        """Fraction of a level opened at ``opened`` left at the close of candle ``at``."""
        out: FloatArray = np.exp(self.log_scale[at] - self.log_scale[opened])
        return out


@dataclass(frozen=True, eq=False)
class Lifetimes:
    """When each level lives: at the close of candles ``opened .. end - 1``.

    ``end`` is the first touch or the first full close-out after opening, whichever is
    earlier (``N`` if neither happens); ``consumed`` marks levels that left the book by a
    touch (a touch on the close-out candle counts: consumption comes first).
    """

    opened: IntArray
    end: IntArray
    consumed: NDArray[np.bool_]

    @classmethod
    def resolve(cls, opened: IntArray, touch: IntArray, scale: ScaleTimeline) -> Lifetimes:
        n = len(scale.log_scale)
        wipe = scale.next_wipe[opened + 1]
        end = np.minimum(touch, wipe)
        consumed = (touch <= wipe) & (touch < n)
        return cls(opened=opened, end=end, consumed=consumed)


def binned_sum(index: IntArray, weights: FloatArray, length: int) -> FloatArray:
    """``out[i] = Σ weights[index == i]`` for ``i < length`` (a typed ``np.bincount``)."""
    out: FloatArray = np.bincount(index, weights=weights, minlength=length).astype(
        np.float64, copy=False
    )
    return out


def column_bounds(candles: int, columns: int) -> IntArray:
    """Edges of ``columns`` contiguous runs of candles whose lengths differ by at most one."""
    out: IntArray = (np.arange(columns + 1, dtype=np.int64) * candles) // columns
    return out


def accumulate(
    life: Lifetimes,
    cell: IntArray,
    notional: FloatArray,
    scale: ScaleTimeline,
    bounds: IntArray,
    cells: int,
) -> FloatArray:
    """Mean active notional per (column, cell): shape ``(len(bounds) - 1, cells)``.

    ``cell`` is each level's output cell (e.g. side × price bin); ``notional`` its notional
    at opening. Column ``c`` averages the active notional at the close of each of its
    candles ``bounds[c] .. bounds[c + 1] - 1``.
    """
    lam = scale.log_scale
    columns = len(bounds) - 1
    sizes = np.diff(bounds)
    width = int(sizes.max())
    col_of = np.repeat(np.arange(columns), sizes)
    slot = np.arange(len(lam)) - bounds[col_of]
    base = lam[bounds[:-1]]  # Λ at each column's first candle
    if np.any(base - lam[bounds[1:] - 1] > _MAX_COLUMN_LOG):
        raise ModelError(
            "open_interest: shrinks by more than e^600 inside one heatmap column; use more columns"
        )
    # In-column running sums of exp(Λ_t − base_c): prefix (through slot) and suffix
    # (from slot); the suffix has one extra zero slot so "from slot + 1" always exists.
    grid = np.zeros((columns, width + 1))
    grid[col_of, slot] = np.exp(lam - base[col_of])
    prefix = np.cumsum(grid, axis=1)
    suffix = np.cumsum(grid[:, ::-1], axis=1)[:, ::-1]
    column_sum = prefix[np.arange(columns), sizes - 1]

    o, last = life.opened, life.end - 1
    c_first, c_last = col_of[o], col_of[last]
    lam_o = lam[o]
    multi = np.flatnonzero(c_first != c_last)
    # First column: candles o .. min(last, column end); the suffix from slot[last] + 1
    # is subtracted only when the level also ends in that column.
    after = slot[last] + 1
    after[multi] = width
    # Level notional per column candle (hence / size) times in-column decay sums.
    head = (
        (notional / sizes[c_first])
        * np.exp(base[c_first] - lam_o)
        * (suffix[c_first, slot[o]] - suffix[c_first, after])
    )
    # Last column (when different): candles column start .. last.
    c_end = c_last[multi]
    tail = (
        (notional[multi] / sizes[c_end])
        * np.exp(base[c_end] - lam_o[multi])
        * prefix[c_end, slot[last[multi]]]
    )
    out = binned_sum(
        np.concatenate([c_first * cells + cell, c_end * cells + cell[multi]]),
        np.concatenate([head, tail]),
        columns * cells,
    ).reshape(columns, cells)
    full = multi[c_end - c_first[multi] >= 2]
    if len(full):
        out += _full_columns(
            c_first[full] + 1,
            c_last[full],
            cell[full],
            notional[full],
            lam_o[full],
            base,
            column_sum / sizes,
            cells,
        )
    # The difference array leaves rounding residue (~1e-16 of the notional it carried)
    # where a level has left; a residue must never read as negative notional.
    np.maximum(out, 0.0, out=out)
    return out


def _full_columns(
    first: IntArray,
    stop: IntArray,
    cell: IntArray,
    notional: FloatArray,
    lam_o: FloatArray,
    base: FloatArray,
    column_mean: FloatArray,
    cells: int,
) -> FloatArray:
    """Σ ``n0 · exp(base_c − Λ_o) · column_mean_c`` over levels covering columns
    ``first .. stop − 1`` completely, per (column, cell); ``column_mean_c`` is the mean
    of ``exp(Λ_t − base_c)`` over the column's candles.

    A 2-D difference array along columns: ``+w`` at ``first``, ``−w`` at ``stop``. Within
    a block of columns whose bases lie within ``_BLOCK_LOG`` of the block's first base,
    values are kept relative to that first base (``V = W · exp(block_base − base_c)``),
    so an entry ``n0 · exp(block_base − Λ_o)`` is at most ``n0 · e^_BLOCK_LOG``; the
    running sum is carried into the next block rescaled.
    """
    columns = len(base)
    block = np.floor(-base / _BLOCK_LOG).astype(np.int64)
    new_block = np.r_[True, block[1:] != block[:-1]]
    starts = np.flatnonzero(new_block)
    block_base = base[starts][np.cumsum(new_block) - 1]
    at = np.concatenate([first, stop])
    entry = np.exp(block_base[at] - np.concatenate([lam_o, lam_o])) * np.concatenate(
        [notional, -notional]
    )
    cells_at = at * cells + np.concatenate([cell, cell])
    delta = binned_sum(cells_at, entry, columns * cells).reshape(columns, cells)
    stops = np.r_[starts[1:], columns]
    for a, b in zip(starts, stops, strict=True):  # one pass per block: usually one
        if a > 0:
            delta[a] += delta[a - 1] * np.exp(base[a] - block_base[a - 1])
        np.cumsum(delta[a:b], axis=0, out=delta[a:b])
    delta *= (np.exp(base - block_base) * column_mean)[:, None]
    return delta
