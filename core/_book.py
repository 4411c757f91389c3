"""Per-candle flows of the tracked position book: churn, closes, openings, long share.

Internal to :mod:`core.levels` (which states the model in full and re-exports these).
Everything here is a function of the series alone, candle by candle, and of at most the
candle before: the flows of candle ``t`` never depend on where a run starts, which is
what lets :mod:`core.pointintime` read every candle's look-back estimate off one run.

Symbols, for candle ``t`` with open interest ``OI_t`` (base units, at the close):

* ``known_t``: ``t > 0`` and both ``OI_t`` and ``OI_{t−1}`` are known (not NaN);
* ``ΔOI_t = OI_t − OI_{t−1}`` where known, else 0;
* churn share ``c_t = 1 − 2^(−Δt_t / h)`` where known, else 0, with ``Δt_t`` the hours
  between the two candles' open times and ``h`` the (tier's) churn half-life (``h = ∞``:
  no churn);
* closed share of every tracked level ``x_t = max(c_t, −ΔOI_t / OI_{t−1})`` (0 when
  ``OI_{t−1} = 0`` and OI rose), so the keep factor is ``k_t = 1 − x_t =
  min(1 − c_t, OI_t / OI_{t−1})``;
* gross quantity opened ``q_t = max(c_t·OI_{t−1} + ΔOI_t, 0)``: closes plus net growth,
  ``OI_t = OI_{t−1} − x_t·OI_{t−1} + q_t`` whenever closes do not exceed the churn.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np

from core.models import FloatArray, MarketSeries

__all__ = [
    "CANDLE_LONG_SHARE",
    "FLOW_GAIN",
    "HOUR_MS",
    "SideSplit",
    "churn_shares",
    "keep_factors",
    "long_shares",
    "open_interest_change",
    "opened_quantity",
]

SideSplit = Literal["flow", "taker", "candle", "ratio"]

#: Long share of new positions when only the candle's direction is known: (up, down, flat).
CANDLE_LONG_SHARE: Final[tuple[float, float, float]] = (0.6, 0.4, 0.5)

HOUR_MS: Final = 3_600_000

#: Default gain ``g`` of the ``flow`` split (see :func:`long_shares`).
FLOW_GAIN: Final = 4.0


def _known(series: MarketSeries) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """(``OI_t``, ``OI_{t−1}`` with NaN where unknown, ``known_t``)."""
    n = len(series)
    oi = series.open_interest
    if oi is None:
        nan = np.full(n, np.nan)
        return nan, nan, np.zeros(n, dtype=bool)
    prev = np.r_[np.nan, oi[:-1]] if n else np.empty(0)
    known = np.isfinite(oi) & np.isfinite(prev)
    return np.asarray(oi, dtype=np.float64), prev, known


def open_interest_change(series: MarketSeries) -> FloatArray:
    """``ΔOI_t`` in base units; 0 for the first candle and next to any missing value."""
    oi, prev, known = _known(series)
    out: FloatArray = np.where(known, oi - np.where(known, prev, 0.0), 0.0)
    return out


def churn_shares(series: MarketSeries, half_life_hours: float = math.inf) -> FloatArray:
    """``c_t = 1 − 2^(−Δt_t / h)`` where ``known_t``, else 0 (all 0 when ``h = ∞``)."""
    _, _, known = _known(series)
    n = len(series)
    if math.isinf(half_life_hours) or n == 0:
        return np.zeros(n)
    hours = np.r_[0.0, np.diff(series.timestamps).astype(np.float64)] / HOUR_MS
    out: FloatArray = np.where(known, -np.expm1(-math.log(2.0) * hours / half_life_hours), 0.0)
    return out


def keep_factors(series: MarketSeries, half_life_hours: float = math.inf) -> FloatArray:
    """Share of every tracked level that survives candle ``t``'s closes:
    ``k_t = min(1 − c_t, OI_t / OI_{t−1})`` where ``known_t`` (``1 − c_t`` when
    ``OI_{t−1} = 0``; 0 when open interest fell to zero), else 1."""
    oi, prev, known = _known(series)
    stay = 1.0 - churn_shares(series, half_life_hours)
    positive = known & (np.nan_to_num(prev) > 0)
    ratio = np.where(positive, oi, 1.0) / np.where(positive, prev, 1.0)
    out: FloatArray = np.where(positive, np.minimum(stay, ratio), stay)
    return out


def opened_quantity(series: MarketSeries, half_life_hours: float = math.inf) -> FloatArray:
    """Gross base quantity opened in candle ``t``: ``q_t = max(c_t·OI_{t−1} + ΔOI_t, 0)``
    (0 where not ``known_t``)."""
    _, prev, known = _known(series)
    churned = churn_shares(series, half_life_hours) * np.where(known, prev, 0.0)
    out: FloatArray = np.maximum(churned + open_interest_change(series), 0.0)
    return out


def long_shares(
    series: MarketSeries,
    mode: SideSplit = "flow",
    lean: float = 1.0,
    gain: float = FLOW_GAIN,
) -> FloatArray:
    """Long share of the quantity opened in each candle (see :mod:`core.levels`).

    ``flow``: ``1/2 + tanh(g·x) / 2`` with ``x = (buy − sell) / (2·ΔOI)`` the linear
    net-flow estimate (``1/2 + x`` is exact when only openings trade) and ``g`` the
    ``gain``, where volume traded and ``ΔOI > 0``; the rest falls back as documented in
    :mod:`core.levels`. The result is finally leaned towards 1/2:
    ``1/2 + lean·(share − 1/2)``.
    """
    up, down, flat = CANDLE_LONG_SHARE
    share = np.where(
        series.close > series.open, up, np.where(series.close < series.open, down, flat)
    )
    if mode != "candle" and series.taker_buy_volume is not None:
        traded = series.volume > 0
        taker = series.taker_buy_volume / np.where(traded, series.volume, 1.0)
        share = np.where(traded, np.minimum(taker, 1.0), share)
        if mode == "flow":
            growth = open_interest_change(series)
            grew = traded & (growth > 0)
            net = 2.0 * series.taker_buy_volume - series.volume  # buys − sells
            flow = 0.5 + 0.5 * np.tanh(gain * net / (2.0 * np.where(grew, growth, 1.0)))
            share = np.where(grew, flow, share)
    if mode == "ratio" and series.long_short_ratio is not None:
        ratio = series.long_short_ratio
        known = np.isfinite(ratio) & (ratio >= 0)
        safe = np.where(known, ratio, 0.0)
        share = np.where(known, safe / (1.0 + safe), share)
    out: FloatArray = (0.5 + lean * (share - 0.5)).astype(np.float64)
    return out
