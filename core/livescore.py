"""The live scorecard (pure numpy): one hour of real liquidation prints against the map the
bot showed before that hour, and the rolling summary of many hours.

For each side of one hour (:func:`score_hour`):

* the **range** is the bins price could liquidate in that hour — from the map's price down
  to the hour's low (longs) or up to its high (shorts) — plus any bin that got a print;
* **top-quartile share**: of the real liquidated notional in the range, the share that fell
  in the map's top quarter of the range's bins (``k = ceil(n / 4)`` bins by estimated
  notional); **chance** is ``k / n`` (what a map with no information captures on average);
  **best** is the share the real notional's own top ``k`` bins hold (a perfect map's score);
* **Spearman** of the estimated vs the real notional per bin over the range;
* **cluster hits**: of the reported clusters of the side that price reached in the hour
  (low ≤ a long cluster, high ≥ a short cluster), those with real liquidations of the side
  within ±0.5 % of the cluster's price;
* the same for a trivial **baseline**: *proximity* (the nearer a bin to the price, the more it
  holds — price has to pass the near bins first); its "clusters" are levels every 1 % from
  the price, so its hit rate is the chance that a reached level had liquidations around it.

:func:`summarise` pools hours: shares weighted by real notional, hit rate = hits / reached,
the mean of the hourly Spearman values, and the sample size. Hours whose prints feed was down
are counted as such, never scored as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from core.models import FloatArray, LiquidationPrints, Side
from core.scoring_metrics import spearman

__all__ = [
    "HIT_TOLERANCE",
    "HourScore",
    "SideSummary",
    "Status",
    "proximity_map",
    "score_hour",
    "summarise",
    "unscored",
]

#: a cluster is hit when real liquidations fell within this fraction of its price
HIT_TOLERANCE: Final = 0.005
#: the baseline's levels are spaced this fraction of price apart
BASELINE_STEP: Final = 0.01
Status = Literal["scored", "feed_down", "no_map"]
SideName = Literal["long", "short"]
SIDE_NAMES: Final[dict[Side, SideName]] = {Side.LONG: "long", Side.SHORT: "short"}


@dataclass(frozen=True)
class HourScore:
    """One side of one scored hour (NaN where undefined, e.g. no liquidation in the range)."""

    side: Literal["long", "short"]
    status: Status
    bins: int  # n, bins in the range
    real_usd: float  # real liquidated notional of the side in the hour
    top_share: float
    chance_share: float
    best_share: float
    spearman: float
    reached: int  # reported clusters price reached
    hits: int  # … with real liquidations within ±0.5 %
    base_top_share: float
    base_spearman: float
    base_reached: int
    base_hits: int


def unscored(side: Literal["long", "short"], status: Status, real_usd: float = 0.0) -> HourScore:
    """An hour side with no scores: ``status`` says why (or nothing was in range)."""
    nan = math.nan
    return HourScore(side, status, 0, real_usd, nan, nan, nan, nan, 0, 0, nan, nan, 0, 0)


def proximity_map(edges: FloatArray, price: float) -> FloatArray:
    """The baseline: each bin's closeness to ``price`` (1 / (1 + |log distance| · 100))."""
    centers = np.sqrt(edges[:-1] * edges[1:])
    out: FloatArray = 1.0 / (1.0 + 100.0 * np.abs(np.log(centers / price)))
    return out


def _top_share(estimate: FloatArray, real: FloatArray, k: int) -> float:
    """Share of ``real`` in the ``k`` bins with the largest ``estimate`` (ties: nearest first)."""
    total = float(real.sum())
    if total <= 0:
        return math.nan
    order = np.argsort(-estimate, kind="stable")
    return float(real[order[:k]].sum()) / total


def _hits(
    levels: FloatArray, prices: FloatArray, notionals: FloatArray, reached: NDArray[np.bool_]
) -> tuple[int, int]:
    """(reached levels, reached levels with real notional within ±HIT_TOLERANCE)."""
    levels = levels[reached]
    if not len(levels) or not len(prices):
        return len(levels), 0
    near = np.abs(prices[None, :] / levels[:, None] - 1.0) <= HIT_TOLERANCE
    got = (near * notionals[None, :]).sum(axis=1) > 0
    return len(levels), int(got.sum())


def score_hour(
    edges: FloatArray,
    price: float,
    long: FloatArray,
    short: FloatArray,
    clusters: Sequence[tuple[Side, float]],
    prints: LiquidationPrints,
    high: float,
    low: float,
) -> tuple[HourScore, HourScore]:
    """Score the hour's ``prints`` (already cut to the hour) against a map; (long, short).

    ``edges``/``price``/``long``/``short`` are the archived map; ``clusters`` its reported
    (side, price) levels; ``high``/``low`` the hour's extremes.
    """
    edges = np.asarray(edges, dtype=np.float64)
    n_bins = len(edges) - 1
    out: list[HourScore] = []
    for side, values in ((Side.LONG, long), (Side.SHORT, short)):
        name = SIDE_NAMES[side]
        mine = prints.sides == side
        p_prices, p_usd = prints.prices[mine], prints.notionals[mine]
        real_total = float(p_usd.sum())
        idx = np.searchsorted(edges, p_prices, side="right") - 1
        inside = (idx >= 0) & (idx < n_bins)
        real = np.bincount(idx[inside], p_usd[inside], n_bins).astype(np.float64)
        extreme = min(low, price) if side is Side.LONG else max(high, price)
        lo, hi = (extreme, price) if side is Side.LONG else (price, extreme)
        in_range = ((edges[1:] > lo) & (edges[:-1] <= hi)) | (real > 0)
        n = int(in_range.sum())
        if n == 0:
            out.append(unscored(name, "scored", real_total))
            continue
        est, got = np.asarray(values, dtype=np.float64)[in_range], real[in_range]
        base = proximity_map(edges, price)[in_range]
        k = math.ceil(n / 4)
        levels = np.array([c for s, c in clusters if s is side], dtype=np.float64)
        touched = levels >= low if side is Side.LONG else levels <= high
        reached, hits = _hits(levels, p_prices, p_usd, touched)
        sign = -1.0 if side is Side.LONG else 1.0
        steps = max(0, int(abs(math.log(extreme / price)) // BASELINE_STEP))
        base_levels = price * np.exp(sign * BASELINE_STEP * np.arange(1, steps + 1))
        b_reached, b_hits = _hits(base_levels, p_prices, p_usd, np.ones(steps, dtype=bool))
        out.append(
            HourScore(
                side=name,
                status="scored",
                bins=n,
                real_usd=real_total,
                top_share=_top_share(est, got, k),
                chance_share=k / n,
                best_share=_top_share(got, got, k),
                spearman=spearman(est, got),
                reached=reached,
                hits=hits,
                base_top_share=_top_share(base, got, k),
                base_spearman=spearman(base, got),
                base_reached=b_reached,
                base_hits=b_hits,
            )
        )
    return out[0], out[1]


@dataclass(frozen=True)
class SideSummary:
    """Pooled scores of one side over a window — what ``/accuracy`` shows."""

    side: str
    hours: int  # hours scored (with any liquidation in range or not)
    hours_with_liquidations: int
    feed_down_hours: int
    no_map_hours: int
    real_usd: float
    top_share: float  # real-notional-weighted
    chance_share: float
    best_share: float
    spearman: float  # mean over hours where defined
    spearman_hours: int
    reached: int
    hits: int
    base_top_share: float
    base_spearman: float
    base_reached: int
    base_hits: int

    @property
    def lift(self) -> float:
        """Top-quartile share over chance (1: no better than chance)."""
        return _ratio(self.top_share, self.chance_share)

    @property
    def base_lift(self) -> float:
        return _ratio(self.base_top_share, self.chance_share)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.reached if self.reached else math.nan

    @property
    def base_hit_rate(self) -> float:
        return self.base_hits / self.base_reached if self.base_reached else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and math.isfinite(a) else math.nan


def _weighted(values: FloatArray, weights: FloatArray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    total = float(weights[ok].sum())
    return float((values[ok] * weights[ok]).sum()) / total if total > 0 else math.nan


def _mean(values: FloatArray) -> tuple[float, int]:
    ok = np.isfinite(values)
    return (float(values[ok].mean()), int(ok.sum())) if ok.any() else (math.nan, 0)


def summarise(side: str, hours: Sequence[HourScore]) -> SideSummary:
    """Pool the hours of one side (any order); feed-down and map-less hours are only counted."""
    scored = [h for h in hours if h.status == "scored"]

    def col(name: str) -> FloatArray:
        return np.array([getattr(h, name) for h in scored], dtype=np.float64)

    usd = col("real_usd") if scored else np.zeros(0)
    has = np.isfinite(col("top_share")) if scored else np.zeros(0, dtype=bool)
    w = np.where(has, usd, 0.0)
    rho, rho_n = _mean(col("spearman")) if scored else (math.nan, 0)
    base_rho, _ = _mean(col("base_spearman")) if scored else (math.nan, 0)
    return SideSummary(
        side=side,
        hours=len(scored),
        hours_with_liquidations=int(has.sum()),
        feed_down_hours=sum(h.status == "feed_down" for h in hours),
        no_map_hours=sum(h.status == "no_map" for h in hours),
        real_usd=float(usd.sum()),
        top_share=_weighted(col("top_share"), w) if scored else math.nan,
        chance_share=_weighted(col("chance_share"), w) if scored else math.nan,
        best_share=_weighted(col("best_share"), w) if scored else math.nan,
        spearman=rho,
        spearman_hours=rho_n,
        reached=sum(h.reached for h in scored),
        hits=sum(h.hits for h in scored),
        base_top_share=_weighted(col("base_top_share"), w) if scored else math.nan,
        base_spearman=base_rho,
        base_reached=sum(h.base_reached for h in scored),
        base_hits=sum(h.base_hits for h in scored),
    )
