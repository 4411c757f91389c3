"""Score estimated liquidations against real ones: the ``liqwatch backtest`` scorecard.

Real liquidations come per *bar* (:class:`RealLiquidations`: any bar length ≥ a candle,
bars aligned to candle opens); estimates come per candle (:class:`CandleEstimates`). An
estimate is summed over the candles whose open lies in ``[bar open, bar close)``; bars
without an estimate (the warm-up) are left out. Baselines come from the candles of each
bar: range ``(high − low) / open``, ``|return|``, volume, ``|return| × volume``,
``down-move × volume`` (``(open − low) / open``) and ``up-move × volume``.

:func:`score` scores named estimate sets (the model, the flat-OI placebo, …) and the
baselines on the same bars, per side (long, short, total), with the metrics of
:mod:`core.scoring_metrics`; the partial Spearman controls for the *best baseline* of each
side (the highest Spearman). The :class:`Scorecard` renders ``score.json`` (:meth:`to_dict`)
and ``report.md`` (:meth:`to_markdown`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.models import FloatArray, IntArray, LiquidationPrints, MarketSeries, ModelError
from core.scoring_metrics import (
    BASELINES,
    SIDES,
    BoolArray,
    Scorecard,
    SetScore,
    SideScore,
    cluster_hit_lift,
    log_pearson,
    partial_spearman,
    spearman,
    top_precision,
)

__all__ = [
    "BASELINES",
    "SIDES",
    "BarEstimates",
    "CandleEstimates",
    "RealLiquidations",
    "Scorecard",
    "SetScore",
    "SideScore",
    "aggregate_to_bars",
    "bar_baselines",
    "score",
]


def _arr(name: str, values: object, dtype: type[np.generic] = np.float64) -> Any:
    out = np.ascontiguousarray(values, dtype=dtype)
    if out.ndim != 1:
        raise ModelError(f"{name}: expected a 1-D array, got shape {out.shape}")
    out.flags.writeable = False
    return out


def _usd(name: str, values: object, n: int) -> FloatArray:
    out: FloatArray = _arr(name, values)
    if len(out) != n:
        raise ModelError(f"{name}: length {len(out)} does not match the times ({n})")
    bad = ~np.isfinite(out) | (out < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ModelError(f"{name}: value at index {i} must be finite and >= 0 (got {out[i]})")
    return out


@dataclass(frozen=True, eq=False)
class RealLiquidations:
    """Real liquidated notional (USD) per bar ``[open_ms, close_ms)``, bars sorted, disjoint."""

    open_ms: IntArray
    close_ms: IntArray
    long_usd: FloatArray
    short_usd: FloatArray

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "open_ms", _arr("open_ms", self.open_ms, np.int64))
        n = len(self.open_ms)
        close = _arr("close_ms", self.close_ms, np.int64)
        if len(close) != n:
            raise ModelError(f"close_ms: length {len(close)} does not match open_ms ({n})")
        set_(self, "close_ms", close)
        set_(self, "long_usd", _usd("long_usd", self.long_usd, n))
        set_(self, "short_usd", _usd("short_usd", self.short_usd, n))
        short = close <= self.open_ms
        if short.any():
            i = int(np.flatnonzero(short)[0])
            raise ModelError(f"close_ms: bar {i} closes at or before it opens")
        overlap = self.open_ms[1:] < close[:-1]
        if overlap.any():
            i = int(np.flatnonzero(overlap)[0]) + 1
            raise ModelError(f"open_ms: bar {i} opens before bar {i - 1} closes (sort, no overlap)")

    def __len__(self) -> int:
        return len(self.open_ms)

    @property
    def total_usd(self) -> FloatArray:
        out: FloatArray = self.long_usd + self.short_usd
        return out

    @classmethod
    def from_prints(
        cls, prints: LiquidationPrints, timestamps: IntArray, candle_ms: int
    ) -> RealLiquidations:
        """One bar per candle, summing the prints inside it (e.g. a simulator's forced closes)."""
        long, short = prints.per_candle(timestamps, candle_ms)
        return cls(timestamps, np.asarray(timestamps) + candle_ms, long, short)


@dataclass(frozen=True, eq=False)
class CandleEstimates:
    """Estimated liquidated notional per candle open, and optionally per-candle cluster hits.

    ``hit_long[t]``: price reached an estimated top long cluster in candle ``t`` (its low
    went through it); ``hit_short`` the same for short clusters and the high.
    """

    open_ms: IntArray
    long_usd: FloatArray
    short_usd: FloatArray
    hit_long: BoolArray | None = None
    hit_short: BoolArray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        ts = _arr("open_ms", self.open_ms, np.int64)
        set_(self, "open_ms", ts)
        if (np.diff(ts) <= 0).any():
            raise ModelError("open_ms: candle opens must be strictly increasing")
        n = len(ts)
        set_(self, "long_usd", _usd("long_usd", self.long_usd, n))
        set_(self, "short_usd", _usd("short_usd", self.short_usd, n))
        for name in ("hit_long", "hit_short"):
            value = getattr(self, name)
            if value is not None:
                mask = _arr(name, value, np.bool_)
                if len(mask) != n:
                    raise ModelError(f"{name}: length {len(mask)} does not match open_ms ({n})")
                set_(self, name, mask)


@dataclass(frozen=True, eq=False)
class BarEstimates:
    """An estimate summed onto real bars; ``included`` marks the bars it covers."""

    included: BoolArray
    long_usd: FloatArray
    short_usd: FloatArray
    hit_long: BoolArray | None
    hit_short: BoolArray | None


def _bar_index(times: IntArray, bars: RealLiquidations) -> IntArray:
    """Index of the bar holding each time, -1 outside every bar."""
    idx = np.searchsorted(bars.open_ms, times, side="right") - 1
    ok = idx >= 0
    ok[ok] = times[ok] < bars.close_ms[idx[ok]]
    out: IntArray = np.where(ok, idx, -1).astype(np.int64)
    return out


def aggregate_to_bars(
    est: CandleEstimates, bars: RealLiquidations, *, candle_ms: int | None = None
) -> BarEstimates:
    """Sum ``est`` over the candles whose open lies in each bar.

    A bar is included when it holds at least one estimated candle — all of its
    ``(close − open) / candle_ms`` candles when ``candle_ms`` is given (so a bar the
    warm-up cuts in half is left out rather than half counted).
    """
    nb = len(bars)
    idx = _bar_index(est.open_ms, bars)
    inside = idx >= 0
    where = idx[inside]
    counts = np.bincount(where, minlength=nb)
    included = counts > 0
    if candle_ms is not None:
        included &= counts == (bars.close_ms - bars.open_ms) // candle_ms

    def total(values: FloatArray) -> FloatArray:
        out = np.bincount(where, values[inside], nb).astype(np.float64)
        out[~included] = np.nan
        return out

    def any_hit(mask: BoolArray | None) -> BoolArray | None:
        if mask is None:
            return None
        hit: BoolArray = np.bincount(where, mask[inside].astype(np.float64), nb) > 0
        return hit

    return BarEstimates(
        included, total(est.long_usd), total(est.short_usd), any_hit(est.hit_long),
        any_hit(est.hit_short),
    )  # fmt: skip


def bar_baselines(series: MarketSeries, bars: RealLiquidations) -> dict[str, FloatArray]:
    """The baselines of :data:`BASELINES` per bar from its candles (NaN: no candle)."""
    nb = len(bars)
    idx = _bar_index(series.timestamps, bars)
    inside = np.flatnonzero(idx >= 0)
    where = idx[inside]
    first = np.full(nb, len(series), np.int64)
    last = np.full(nb, -1, np.int64)
    np.minimum.at(first, where, inside)
    np.maximum.at(last, where, inside)
    high = np.full(nb, -np.inf)
    low = np.full(nb, np.inf)
    np.maximum.at(high, where, series.high[inside])
    np.minimum.at(low, where, series.low[inside])
    volume = np.bincount(where, series.volume[inside], nb).astype(np.float64)
    has = last >= 0
    open_ = np.full(nb, np.nan)
    close = np.full(nb, np.nan)
    open_[has] = series.open[first[has]]
    close[has] = series.close[last[has]]
    high[~has] = np.nan
    low[~has] = np.nan
    volume[~has] = np.nan
    abs_ret = np.abs(close - open_) / open_
    return {
        "range": (high - low) / open_,
        "abs_return": abs_ret,
        "volume": volume,
        "abs_return_x_volume": abs_ret * volume,
        "down_move_x_volume": (open_ - low) / open_ * volume,
        "up_move_x_volume": (high - open_) / open_ * volume,
    }


def _side_values(long: FloatArray, short: FloatArray, side: str) -> FloatArray:
    if side == "long":
        return long
    if side == "short":
        return short
    out: FloatArray = long + short
    return out


def _hits(bar: BarEstimates, side: str) -> BoolArray | None:
    if side == "long":
        return bar.hit_long
    if side == "short":
        return bar.hit_short
    if bar.hit_long is None and bar.hit_short is None:
        return None
    nb = len(bar.included)
    hl = bar.hit_long if bar.hit_long is not None else np.zeros(nb, np.bool_)
    hs = bar.hit_short if bar.hit_short is not None else np.zeros(nb, np.bool_)
    out: BoolArray = hl | hs
    return out


def score(
    real: RealLiquidations,
    estimates: Mapping[str, CandleEstimates],
    series: MarketSeries,
    *,
    candle_ms: int | None = None,
    top_fraction: float = 0.05,
    lift_quantiles: int = 3,
    min_hits: int = 5,
) -> Scorecard:
    """Score every named estimate set and every baseline on the bars all of them cover.

    ``series`` gives the candles for the baselines (and the range and volume strata of the
    cluster-hit lift); ``candle_ms`` makes a bar count only when every candle of it has an
    estimate (see :func:`aggregate_to_bars`).
    """
    if not estimates:
        raise ModelError("estimates: give at least one named estimate set")
    clash = set(estimates) & set(BASELINES)
    if clash:
        raise ModelError(f"estimates: names {sorted(clash)} are taken by baselines")
    base = bar_baselines(series, real)
    bars = {name: aggregate_to_bars(e, real, candle_ms=candle_ms) for name, e in estimates.items()}
    keep = np.ones(len(real), np.bool_)
    for b in bars.values():
        keep &= b.included
    for values in base.values():
        keep &= np.isfinite(values)
    n = int(keep.sum())
    notes: list[str] = []
    if n < len(real):
        notes.append(
            f"{len(real) - n} of {len(real)} real bars left out: no estimate (warm-up) "
            "or no candles in them"
        )
    real_long, real_short = real.long_usd[keep], real.short_usd[keep]
    b_vals = {name: v[keep] for name, v in base.items()}
    best: dict[str, str] = {}
    scores: dict[str, dict[str, SideScore]] = {name: {} for name in [*bars, *BASELINES]}
    for side in SIDES:
        y = _side_values(real_long, real_short, side)
        rho = {}
        for name, x in b_vals.items():
            rho[name] = spearman(x, y)
            scores[name][side] = SideScore(
                rho[name], log_pearson(x, y), top_precision(x, y, top_fraction)
            )
        finite = {k: v for k, v in rho.items() if math.isfinite(v)}
        best[side] = max(finite, key=finite.__getitem__) if finite else "range"
        control = b_vals[best[side]]
        for name, bar in bars.items():
            x = _side_values(bar.long_usd[keep], bar.short_usd[keep], side)
            hit = _hits(bar, side)
            lift = None
            if hit is not None:
                lift = cluster_hit_lift(
                    y, hit[keep], b_vals["range"], b_vals["volume"],
                    quantiles=lift_quantiles, min_hits=min_hits,
                )  # fmt: skip
            real_sum = float(y.sum())
            scores[name][side] = SideScore(
                spearman(x, y), log_pearson(x, y), top_precision(x, y, top_fraction),
                partial_spearman(x, y, control), lift,
                float(x.sum()) / real_sum if real_sum > 0 else math.nan,
            )  # fmt: skip
    sets = tuple(
        SetScore(
            name,
            "estimate" if name in bars else "baseline",
            scores[name]["long"],
            scores[name]["short"],
            scores[name]["total"],
        )
        for name in [*bars, *BASELINES]
    )
    return Scorecard(n, len(real), top_fraction, best, sets, tuple(notes))
