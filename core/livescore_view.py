"""What ``/accuracy`` says about a live scorecard (pure numpy): when the sample is too small
to judge, the verdict on a window, and the scores over time for the chart.

**How many hours are enough.** A map that knows nothing still scores a lift over chance that
swings from hour to hour: liquidations come in lumps, and one lump in a top-quartile bin by
luck lifts a whole hour. On the synthetic market (``seed``, ``churn`` and ``independent``
scenarios, 6 weeks each, measured with a *shuffled* true map — exactly no information) the
pooled lift of such a map over windows of *n hours with liquidations of the side* stays in
(5th–95th percentile):

=========  ================  ==============
n hours    shuffled map      true map, 5th %
=========  ================  ==============
6          0.27 – 1.55       1.40
12         0.49 – 1.40       1.58
24         0.57 – 1.24       1.63
48         0.76 – 1.15       1.69
=========  ================  ==============

(``python bench/scorecard_chance.py`` prints the figures.) Below 24 hours with liquidations
a no-information map regularly reads 1.4× or 0.5×, so :data:`MIN_HOURS` is 24: fewer, and
``/accuracy`` says "too few to judge". From 24 on, a lift inside :data:`CHANCE_BAND`
(0.6 – 1.25, the band of the shuffled map at 24 hours) is "no better than
chance". Cluster hit rates are quoted as a verdict only from :data:`MIN_REACHED` reached
clusters on: 3 of 4 is an anecdote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from core.livescore import HourScore, SideSummary, summarise
from core.models import FloatArray, IntArray

__all__ = [
    "CHANCE_BAND",
    "MIN_HOURS",
    "MIN_REACHED",
    "Timeline",
    "Verdict",
    "bucket_ms_for",
    "judge",
    "timeline",
]

#: hours with liquidations of the side before a lift is judged (see the module docstring)
MIN_HOURS: Final = 24
#: reached clusters before a hit rate is judged
MIN_REACHED: Final = 10
#: a lift inside this band is indistinguishable from chance at MIN_HOURS hours
CHANCE_BAND: Final = (0.6, 1.25)

_H: Final = 3_600_000
_BUCKETS_H: Final = (1, 2, 3, 6, 12, 24, 48)
_MAX_POINTS: Final = 32

#: ``too_few``: under MIN_HOURS; else where the lift falls against CHANCE_BAND
Verdict = Literal["too_few", "beats_chance", "chance", "worse_than_chance"]


def judge(summary: SideSummary) -> Verdict:
    """The verdict on one side's pooled lift over chance."""
    if summary.hours_with_liquidations < MIN_HOURS or not np.isfinite(summary.lift):
        return "too_few"
    low, high = CHANCE_BAND
    if summary.lift >= high:
        return "beats_chance"
    return "chance" if summary.lift > low else "worse_than_chance"


def bucket_ms_for(span_ms: int) -> int:
    """The chart's bucket: the shortest of 1, 2, 3, 6, 12, 24, 48 h giving ≤ 32 points."""
    for hours in _BUCKETS_H:
        if span_ms / (hours * _H) <= _MAX_POINTS:
            return hours * _H
    return _BUCKETS_H[-1] * _H


@dataclass(frozen=True, eq=False)
class Timeline:
    """Scores pooled per time bucket (NaN where a bucket has nothing to score)."""

    starts: IntArray  # bucket start, Unix ms
    bucket_ms: int
    long_lift: FloatArray
    short_lift: FloatArray
    base_long_lift: FloatArray
    base_short_lift: FloatArray
    hit_rate: FloatArray  # both sides' reached clusters
    base_hit_rate: FloatArray
    hits: IntArray  # both sides' reported clusters: hit, reached
    reached: IntArray
    base_hits: IntArray  # the baseline's levels: hit, reached
    base_reached: IntArray
    down_hours: IntArray  # hours (per side, max of the two) with a prints feed down

    def __len__(self) -> int:
        return len(self.starts)


def timeline(
    hours: Sequence[tuple[int, HourScore]], *, start: int, end: int, bucket_ms: int
) -> Timeline:
    """Pool ``(hour start, score)`` rows of both sides into buckets of ``[start, end)``."""
    n = max(1, -(-(end - start) // bucket_ms))
    starts = start + bucket_ms * np.arange(n, dtype=np.int64)
    per: list[dict[str, list[HourScore]]] = [{"long": [], "short": []} for _ in range(n)]
    for t, score in hours:
        k = (t - start) // bucket_ms
        if 0 <= k < n:
            per[k][score.side].append(score)
    cols: dict[str, list[float]] = {
        k: []
        for k in (
            "ll",
            "sl",
            "bll",
            "bsl",
            "hit",
            "bhit",
            "hits",
            "reached",
            "bhits",
            "breached",
            "down",
        )
    }
    for bucket in per:
        lo, sh = summarise("long", bucket["long"]), summarise("short", bucket["short"])
        cols["ll"].append(lo.lift)
        cols["sl"].append(sh.lift)
        cols["bll"].append(lo.base_lift)
        cols["bsl"].append(sh.base_lift)
        reached, hits = lo.reached + sh.reached, lo.hits + sh.hits
        b_reached, b_hits = lo.base_reached + sh.base_reached, lo.base_hits + sh.base_hits
        cols["hit"].append(hits / reached if reached else np.nan)
        cols["bhit"].append(b_hits / b_reached if b_reached else np.nan)
        cols["hits"].append(hits)
        cols["reached"].append(reached)
        cols["bhits"].append(b_hits)
        cols["breached"].append(b_reached)
        cols["down"].append(max(lo.feed_down_hours, sh.feed_down_hours))

    def f(key: str) -> FloatArray:
        return np.array(cols[key], dtype=np.float64)

    return Timeline(
        starts=starts,
        bucket_ms=bucket_ms,
        long_lift=f("ll"),
        short_lift=f("sl"),
        base_long_lift=f("bll"),
        base_short_lift=f("bsl"),
        hit_rate=f("hit"),
        base_hit_rate=f("bhit"),
        hits=np.array(cols["hits"], dtype=np.int64),
        reached=np.array(cols["reached"], dtype=np.int64),
        base_hits=np.array(cols["bhits"], dtype=np.int64),
        base_reached=np.array(cols["breached"], dtype=np.int64),
        down_hours=np.array(cols["down"], dtype=np.int64),
    )
