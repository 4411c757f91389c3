"""Liquidation clusters (peaks with topographic prominence) and danger zones.

A *cluster* is a peak of one side's per-bin notional: short liquidations above price,
long liquidations below it. Bins on the wrong side of price (shorts below, longs above —
levels the market has already crossed, kept only as binning noise) are ignored; a bin
belongs above price when its centre is at or above it, as in
:attr:`core.results.LiquidationMap.cumulative_short_above`.

A *danger zone* is a contiguous price range where one side's liquidation density stays
high — "$84K–$100K is densely packed with short liquidations".
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from core.models import FloatArray, IntArray, ModelError, Side
from core.results import Cluster, DangerZone, LiquidationMap

__all__ = [
    "find_clusters",
    "find_danger_zones",
    "peak_prominences",
    "side_mask",
    "side_profile",
    "smooth",
]

BoolArray = NDArray[np.bool_]


def side_mask(m: LiquidationMap, side: Side, window: float | None = None) -> BoolArray:
    """Bins on ``side``'s own side of price: centre >= price for shorts, < price for longs.

    With ``window``, only bins whose centre also lies within ``price·(1 ± window)``.
    """
    centers = m.grid.centers
    if side is Side.SHORT:
        keep: BoolArray = centers >= m.price
        if window is not None:
            keep &= centers <= m.price * (1.0 + window)
    else:
        keep = centers < m.price
        if window is not None:
            keep &= centers >= m.price * (1.0 - window)
    return keep


def side_profile(m: LiquidationMap, side: Side, window: float | None = None) -> FloatArray:
    """Per-bin notional of ``side`` inside :func:`side_mask`, zero elsewhere."""
    values = m.short if side is Side.SHORT else m.long
    out: FloatArray = np.where(side_mask(m, side, window), values, 0.0)
    return out


def smooth(values: FloatArray, half_width: int) -> FloatArray:
    """Triangular moving average over ``2·half_width + 1`` bins (weights 1, 2, …, 1).

    Zero-padded at the ends; ``half_width = 0`` returns a copy. Used only to *locate*
    peaks and dense ranges; reported notionals always come from the raw bins.
    """
    if half_width < 0:
        raise ModelError(f"smooth: half_width must be >= 0 (got {half_width})")
    if half_width == 0:
        return np.array(values, dtype=np.float64)
    ramp = np.arange(1, half_width + 2, dtype=np.float64)
    kernel = np.concatenate((ramp, ramp[-2::-1]))
    out: FloatArray = np.convolve(values, kernel / kernel.sum(), mode="same")
    return out


def _left_bases(x: list[float]) -> list[float]:
    """For each i: min of x over (nearest index left of i with x > x[i], i].

    A monotonic stack keeps, for every index still on it, the minimum of the segment it
    absorbed; popping merges segments, so the whole pass is O(n).
    """
    stack_height: list[float] = []
    stack_min: list[float] = []
    bases: list[float] = []
    for h in x:
        lowest = h
        while stack_height and stack_height[-1] <= h:
            stack_height.pop()
            lowest = min(lowest, stack_min.pop())
        bases.append(lowest)
        stack_height.append(h)
        stack_min.append(lowest)
    return bases


def peak_prominences(values: FloatArray) -> FloatArray:
    """Topographic prominence of every bin (0 where the bin is not a peak).

    The profile is padded with a zero at both ends (no liquidations known off the grid).
    From a bin of height ``h``, go left until a strictly higher bin (or the padding) and
    take the lowest point on the way — the left base; likewise to the right. The
    prominence is ``h − max(left base, right base)``: how far you must descend from the
    peak before climbing to higher ground. The highest bin's prominence is its height; a
    bin with a higher neighbour has prominence 0. O(n) with a monotonic stack.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ModelError(f"values: expected a 1-D profile, got shape {x.shape}")
    padded = [0.0, *x.tolist(), 0.0]
    left = _left_bases(padded)
    right = _left_bases(padded[::-1])[::-1]
    base = np.maximum(np.asarray(left), np.asarray(right))[1:-1]
    out: FloatArray = x - base
    return out


def _peak_indices(x: FloatArray, prominence: FloatArray) -> IntArray:
    """Bins with positive prominence; a flat-topped peak is represented by its middle bin."""
    cand = np.flatnonzero(prominence > 0)
    if len(cand) == 0:
        return cand.astype(np.int64)
    breaks = np.flatnonzero((np.diff(cand) != 1) | (np.diff(x[cand]) != 0)) + 1
    runs = np.split(cand, breaks)
    return np.array([r[(len(r) - 1) // 2] for r in runs], dtype=np.int64)


def _side_clusters(
    m: LiquidationMap, side: Side, min_prominence: float, half_width: int
) -> list[Cluster]:
    raw = side_profile(m, side)
    profile = np.where(side_mask(m, side), smooth(raw, half_width), 0.0)
    top = float(profile.max(initial=0.0))
    if top <= 0:
        return []
    prom = peak_prominences(profile)
    peaks = _peak_indices(profile, prom)
    peaks = peaks[prom[peaks] >= min_prominence * top]
    taken: list[tuple[int, int]] = []
    clusters: list[Cluster] = []
    for p in peaks[np.argsort(-prom[peaks], kind="stable")]:
        if any(lo <= p <= hi for lo, hi in taken):
            continue  # a shoulder of a more prominent peak
        ref = profile[p] - prom[p] / 2.0
        below_left = np.flatnonzero(profile[:p] < ref)
        below_right = np.flatnonzero(profile[p + 1 :] < ref)
        lo = int(below_left[-1]) + 1 if len(below_left) else 0
        hi = p + int(below_right[0]) if len(below_right) else m.grid.bins - 1
        for a, b in taken:  # never share a bin with a more prominent cluster
            if a > p:
                hi = min(hi, a - 1)
            if b < p:
                lo = max(lo, b + 1)
        taken.append((lo, hi))
        # the detected bin, unless smoothing put it beside the raw maximum of the extent
        peak = p if raw[p] >= raw[lo : hi + 1].max() else lo + int(np.argmax(raw[lo : hi + 1]))
        clusters.append(
            Cluster(
                side=side,
                price=float(m.grid.centers[peak]),
                notional=float(raw[lo : hi + 1].sum()),
                peak_notional=float(raw[peak]),
                prominence=float(prom[p]),
                low=float(m.grid.edges[lo]),
                high=float(m.grid.edges[hi + 1]),
            )
        )
    return clusters


def find_clusters(
    m: LiquidationMap, *, top: int = 5, min_prominence: float = 0.05, smooth_bins: int = 1
) -> tuple[Cluster, ...]:
    """The ``top`` largest liquidation clusters of the map, both sides together.

    Per side (shorts above price, longs below), the profile is smoothed with a triangular
    kernel of half-width ``smooth_bins`` (1 → weights 1-2-1; 0 disables) so that a spike
    split over two adjacent bins reads as one peak. Peaks need a prominence of at least
    ``min_prominence`` × the side's highest (smoothed) bin; ``Cluster.prominence`` is
    measured on the smoothed profile (notional per bin). A cluster extends over the
    contiguous bins around its peak that stay above half its prominence below the peak
    top (the width at half prominence); a peak inside a more prominent cluster's extent
    is a shoulder of it and is dropped, so clusters never share a bin. ``notional`` sums
    the raw bins of the extent; ``price`` and ``peak_notional`` are the detected peak bin,
    or the raw bin with the most notional in the extent if smoothing moved the peak. Sorted by ``notional`` descending across both sides.
    """
    if top < 0:
        raise ModelError(f"top: must be >= 0 (got {top})")
    if not 0.0 <= min_prominence <= 1.0:
        raise ModelError(f"min_prominence: must be in [0, 1] (got {min_prominence})")
    found = _side_clusters(m, Side.SHORT, min_prominence, smooth_bins) + _side_clusters(
        m, Side.LONG, min_prominence, smooth_bins
    )
    found.sort(key=lambda c: c.notional, reverse=True)
    return tuple(found[:top])


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """Inclusive (start, stop) index pairs of the True runs of ``mask``."""
    flags = np.concatenate(([False], mask, [False])).astype(np.int8)
    steps = np.diff(flags)
    starts = np.flatnonzero(steps == 1)
    stops = np.flatnonzero(steps == -1) - 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def find_danger_zones(
    m: LiquidationMap,
    *,
    density_quantile: float = 0.75,
    min_share: float = 0.15,
    window: float | None = 0.25,
    smooth_bins: int = 1,
) -> tuple[DangerZone, ...]:
    """Contiguous price ranges densely packed with liquidations of one side.

    Density is notional per unit of log-price (bin notional ÷ ln(high/low)), so it reads
    the same on log and linear grids. Per side, within ``price·(1 ± window)`` (``None``:
    the whole grid), the density is smoothed like :func:`find_clusters`; then, over the
    side's non-empty bins, hysteresis thresholding:

    * a zone needs a *core*: a bin at or above the ``density_quantile`` quantile;
    * it extends over the contiguous bins at or above the *mean* density (never above the
      core level), bridging single-bin gaps.

    Why: a quantile alone splits a broad, evenly dense band at random (only its top
    quarter of bins passes), and a fraction of the peak lets one outsized level hide the
    band; empty price ranges are excluded so they do not lower the bar. A zone is kept
    when it holds at least ``min_share`` of the side's notional within the window;
    ``notional`` is the raw sum over its bins and ``peak_price`` the centre of its
    largest bin. Sorted by notional, largest first.
    """
    if not 0.0 <= density_quantile <= 1.0:
        raise ModelError(f"density_quantile: must be in [0, 1] (got {density_quantile})")
    if not 0.0 <= min_share <= 1.0:
        raise ModelError(f"min_share: must be in [0, 1] (got {min_share})")
    if window is not None and not 0.0 < window < 1.0:
        raise ModelError(f"window: must be in (0, 1) or None (got {window})")
    width = np.log(m.grid.edges[1:] / m.grid.edges[:-1])
    zones: list[DangerZone] = []
    for side in (Side.SHORT, Side.LONG):
        raw = side_profile(m, side, window)
        total = float(raw.sum())
        if total <= 0:
            continue
        inside = side_mask(m, side, window)
        density = np.where(inside, smooth(raw / width, smooth_bins), 0.0)
        nonzero = density[density > 0]
        core_level = float(np.quantile(nonzero, density_quantile))
        reach_level = min(core_level, float(nonzero.mean()))
        dense = density >= reach_level
        dense[1:-1] |= ~dense[1:-1] & dense[:-2] & dense[2:]  # bridge one-bin gaps
        for lo, hi in _runs(dense & inside):
            if not (density[lo : hi + 1] >= core_level).any():
                continue
            notional = float(raw[lo : hi + 1].sum())
            if notional < min_share * total or notional <= 0:
                continue
            peak = lo + int(np.argmax(raw[lo : hi + 1]))
            zones.append(
                DangerZone(
                    side=side,
                    low=float(m.grid.edges[lo]),
                    high=float(m.grid.edges[hi + 1]),
                    notional=notional,
                    peak_price=float(m.grid.centers[peak]),
                )
            )
    zones.sort(key=lambda z: z.notional, reverse=True)
    return tuple(zones)
