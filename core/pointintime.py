"""Point-in-time estimated liquidations: every candle from its own look-back, in one run.

The estimate for candle ``t`` with a look-back of ``W`` candles books the levels opened in
the ``W`` candles before it, ``s`` in ``t − W .. t − 1``, that candle ``t``'s range
consumes. That is what a fresh engine run over candles ``t − W − 1 .. t`` books as
realised at its last candle, ``run_engine(series.slice(t − W − 1, t + 1)).realized[-1]``
(from candle 0 while ``t ≤ W``; the first candle of a run opens nothing, having no
earlier open interest). It uses candle ``t``'s high and low and nothing else of candle
``t`` or later: no open interest, volume or close of ``t``.

One run over the whole series gives all of them. A level's notional at
``t`` is ``n0·Π_{u=s+1}^{t−1} k_u`` and its first touch is the first ``u > s`` whose
range reaches it; the keep factors ``k_u`` and openings depend only on candles ``u`` and
``u − 1`` (:mod:`core._book`), all inside the window. So a single run, counting at each
candle only the levels consumed there that were opened fewer than ``W`` candles before,
equals every per-window run — ``O(levels · log N)`` instead of ``O(N · W)``.
"""

from __future__ import annotations

import numpy as np

from core.levels import EngineParams, realized_within
from core.models import FloatArray, MarketSeries, ModelError

__all__ = ["point_in_time"]


def point_in_time(
    series: MarketSeries,
    params: EngineParams = EngineParams(),  # noqa: B008 - frozen, shared default
    lookback_candles: int = 2_016,
) -> tuple[FloatArray, FloatArray]:
    """(estimated long, estimated short) liquidations per candle, each from the
    ``lookback_candles`` candles before it and its own high/low (USDT)."""
    if isinstance(lookback_candles, bool) or not isinstance(lookback_candles, int | np.integer):
        raise ModelError(f"lookback_candles: must be an integer (got {lookback_candles!r})")
    if lookback_candles < 1:
        raise ModelError(f"lookback_candles: must be >= 1 (got {lookback_candles})")
    if len(series) == 0:
        return np.zeros(0), np.zeros(0)
    out = realized_within(series, params, lookback_candles + 1)
    return out.long, out.short
