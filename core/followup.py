"""What happened after an alert about a level (pure numpy): did price reach it, how soon,
and how much was really liquidated around it.

An alert of the ``cluster`` rule names one level — the top cluster price came near, or the
danger zone price entered (:func:`target_of` reads it from the alert's numbers):

* a **cluster** is *reached* when a candle's high gets to it (a cluster above the alert's
  price) or its low does (below);
* a **danger zone** is *swept* when price gets through it the way its liquidations are
  triggered: to its top for a short zone (shorts are bought out as price rises), to its
  bottom for a long zone.

"After" starts with the candle after the alert's (``transition``, the analysis' last
candle, is the one the alert was computed on): candles opening in
``[transition + candle, transition + horizon)`` are looked at. :func:`resolve` returns

* **reached** once the reaching candle has closed and ``settle`` more has passed (so the
  sweep's liquidation prints are in): the real prints of the level's side within
  ±:data:`~core.livescore.HIT_TOLERANCE` of the cluster (of the zone's range) from the alert
  to then — the hit test of the live scorecard;
* **not reached** once ``now`` is past ``transition + horizon`` and the candles cover the
  whole horizon (a gap in the data is never read as "not reached"), with the closest
  approach;
* None while neither is known.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from core.livescore import HIT_TOLERANCE
from core.models import FloatArray, IntArray, LiquidationPrints, Side

__all__ = ["SETTLE_MS", "Outcome", "Target", "resolve", "target_of"]

#: prints are counted until this long after the reaching candle closed
SETTLE_MS: Final = 15 * 60_000

_SIDES: Final = {"long": Side.LONG, "short": Side.SHORT}


@dataclass(frozen=True)
class Target:
    """The level an alert named, and the price band its real liquidations are counted in."""

    kind: Literal["cluster", "zone"]
    side: Side  # whose liquidations sit there
    level: float  # the price "reached" means
    low: float  # the band of the prints (tolerance included)
    high: float
    above: bool  # the level is above the alert's price: a high has to get there
    zone_low: float = math.nan  # a zone's range as the alert told it
    zone_high: float = math.nan


def target_of(numbers: Mapping[str, Any], price: float) -> Target | None:
    """The level of a ``cluster`` alert from its numbers (None: it names none)."""
    tol = HIT_TOLERANCE
    if "zone_low" in numbers:
        side = _SIDES.get(str(numbers.get("zone_side")))
        low, high = float(numbers["zone_low"]), float(numbers["zone_high"])
        if side is None or not 0 < low <= high:
            return None
        level = high if side is Side.SHORT else low
        return Target(
            "zone", side, level, low * (1 - tol), high * (1 + tol), side is Side.SHORT, low, high
        )
    if "cluster_price" in numbers:
        side = _SIDES.get(str(numbers.get("cluster_side")))
        level = float(numbers["cluster_price"])
        if side is None or not level > 0:
            return None
        return Target("cluster", side, level, level * (1 - tol), level * (1 + tol), level > price)
    return None


@dataclass(frozen=True)
class Outcome:
    """What happened: reached (and when) or not within the horizon, and the real prints."""

    reached: bool
    #: from the alert's candle to the candle that reached the level (the horizon if not)
    elapsed_ms: int
    #: closest approach in the window: highest high (a level above) or lowest low (below)
    extreme: float
    #: real liquidated notional of the level's side inside the band, from the alert to ``end``
    liquidated_usd: float
    prints: int
    #: prints were counted over ``[start, end)``
    start: int
    end: int


def _band_prints(
    target: Target, prints: LiquidationPrints, start: int, end: int
) -> tuple[float, int]:
    keep = (
        (prints.times >= start)
        & (prints.times < end)
        & (prints.sides == int(target.side))
        & (prints.prices >= target.low)
        & (prints.prices <= target.high)
    )
    return float(prints.notionals[keep].sum()), int(keep.sum())


def resolve(
    target: Target,
    times: IntArray,
    highs: FloatArray,
    lows: FloatArray,
    prints: LiquidationPrints,
    *,
    transition: int,
    candle_ms: int,
    horizon_ms: int,
    now: int,
    settle_ms: int = SETTLE_MS,
) -> Outcome | None:
    """The outcome of ``target`` alerted at candle ``transition`` (see the module docstring).

    ``times``/``highs``/``lows``: the candles of every venue of the market (in any order),
    ``prints``: the real liquidation prints of the market.
    """
    times = np.asarray(times, dtype=np.int64)
    start, stop = transition + candle_ms, transition + horizon_ms
    window = (times >= start) & (times < stop)
    highs, lows = np.asarray(highs, dtype=np.float64), np.asarray(lows, dtype=np.float64)
    reach = (highs >= target.level) if target.above else (lows <= target.level)
    hit = np.flatnonzero(window & reach)
    if hit.size:
        at = int(times[hit].min())  # the first candle that got there (venues merged)
        end = at + candle_ms + settle_ms
        if now < end:
            return None
        before = window & (times <= at)
        extreme = float(highs[before].max() if target.above else lows[before].min())
        usd, count = _band_prints(target, prints, start, end)
        return Outcome(True, at - transition, extreme, usd, count, start, end)
    if now < stop or not window.any() or int(times[window].max()) < stop - candle_ms:
        return None
    extreme = float(highs[window].max() if target.above else lows[window].min())
    usd, count = _band_prints(target, prints, start, stop)
    return Outcome(False, horizon_ms, extreme, usd, count, start, stop)
