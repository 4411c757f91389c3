"""Fit the model's settings to a folder's real liquidations, and say how well they hold.

The bars are split by time: the first ``fit_fraction`` to fit on, the rest to score out of
sample. The search is a coordinate descent over :data:`SEARCH_SPACE` (a few values per
setting, each a setting with a physical meaning, so the fit cannot memorise one file):
starting from ``base``, each setting in turn takes the value that maximises the
objective with the others held, for ``rounds`` passes. The objective is the mean
Spearman rank correlation of the point-in-time estimate with the real liquidations over
long, short and total (:func:`core.scoring.score`) — ranking is what the map is for;
the scale (``leveraged_share``, a pure factor on every estimate) is then set so that the
estimated total equals the real total on the same bars (:func:`fit_scale`).

Every estimate is point in time (:func:`core.pointintime.point_in_time`), so scoring the
out-of-sample bars of a run over the whole series uses nothing of them to estimate them;
only the settings were chosen on the first part. The settings are then fitted once more
on the whole folder (what ``liqwatch backtest --calibrate`` writes its files with).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from core.backtest import PLACEBO, flat_open_interest
from core.levels import EngineParams, LeverageTiers
from core.models import MarketSeries, ModelError
from core.pointintime import point_in_time
from core.scoring import CandleEstimates, RealLiquidations, Scorecard, aggregate_to_bars, score

__all__ = [
    "LEVERAGE_MIXES",
    "SEARCH_SPACE",
    "Calibration",
    "Trial",
    "calibrate",
    "fit_scale",
    "objective",
    "split_bars",
]

#: Leverage mixes the search may pick, by name (leverages, weights).
LEVERAGE_MIXES: Final[Mapping[str, LeverageTiers]] = {
    "default": LeverageTiers(),
    "retail-heavy": LeverageTiers((5.0, 10.0, 20.0, 50.0, 100.0, 125.0),
                                  (0.10, 0.20, 0.25, 0.25, 0.13, 0.07)),
    "conservative": LeverageTiers((2.0, 3.0, 5.0, 10.0, 20.0, 50.0),
                                  (0.10, 0.15, 0.25, 0.25, 0.15, 0.10)),
}  # fmt: skip

#: Setting → the values the search tries.
SEARCH_SPACE: Final[Mapping[str, tuple[Any, ...]]] = {
    "half_life_hours": (12.0, 24.0, 48.0, 72.0, 168.0, math.inf),
    "tiers": tuple(LEVERAGE_MIXES),
    "side_lean": (0.0, 0.5, 1.0),
    "entry": ("typical", "range"),
}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Trial:
    """One setting tried: what changed, and the in-sample objective it reached."""

    label: str
    objective: float


@dataclass(frozen=True, eq=False)
class Calibration:
    """Settings fitted on the first part (``fit_params``) with their in- and out-of-sample
    scorecards, and the settings fitted on the whole folder (``full_params``)."""

    fit_fraction: float
    fit_params: EngineParams
    full_params: EngineParams
    fit_score: Scorecard
    test_score: Scorecard
    trials: tuple[Trial, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fit_fraction": self.fit_fraction,
            "fit_params": describe(self.fit_params),
            "full_params": describe(self.full_params),
            "in_sample": self.fit_score.to_dict(),
            "out_of_sample": self.test_score.to_dict(),
            "trials": [
                {"label": t.label, "objective": t.objective if math.isfinite(t.objective) else None}
                for t in self.trials
            ],
        }


def describe(params: EngineParams) -> dict[str, Any]:
    """The fitted settings of ``params`` as plain values (a mix by its name if it is one)."""
    out: dict[str, Any] = {}
    for name in SEARCH_SPACE:
        value = getattr(params, name)
        if isinstance(value, LeverageTiers):
            named = [k for k, v in LEVERAGE_MIXES.items() if v == value]
            out[name] = (
                named[0] if named else {"leverages": value.leverages, "weights": value.weights}
            )
        elif isinstance(value, float) and math.isinf(value):
            out[name] = "inf"
        else:
            out[name] = value
    out["leveraged_share"] = params.leveraged_share
    return out


def _with(params: EngineParams, name: str, value: Any) -> EngineParams:
    if name == "tiers":
        value = LEVERAGE_MIXES[value]
    return dataclasses.replace(params, **{name: value})


def split_bars(
    real: RealLiquidations, fit_fraction: float
) -> tuple[RealLiquidations, RealLiquidations]:
    """(first ``fit_fraction`` of the bars, the rest), split by time."""
    if not 0.0 < fit_fraction < 1.0:
        raise ModelError(f"fit_fraction: must be in (0, 1) (got {fit_fraction})")
    cut = round(len(real) * fit_fraction)
    if cut < 3 or len(real) - cut < 3:
        raise ModelError(
            f"calibration: {len(real)} real bars are too few to fit on one part and "
            "score the other; give a longer folder"
        )

    def part(sl: slice) -> RealLiquidations:
        return RealLiquidations(
            real.open_ms[sl], real.close_ms[sl], real.long_usd[sl], real.short_usd[sl]
        )

    return part(slice(0, cut)), part(slice(cut, None))


def _estimates(series: MarketSeries, params: EngineParams, lookback: int) -> CandleEstimates:
    long_usd, short_usd = point_in_time(series, params, lookback)
    keep = slice(min(lookback, len(series) - 1), None)
    return CandleEstimates(series.timestamps[keep], long_usd[keep], short_usd[keep])


def fit_scale(
    series: MarketSeries,
    real: RealLiquidations,
    params: EngineParams,
    *,
    lookback: int,
    candle_ms: int,
) -> EngineParams:
    """``params`` with ``leveraged_share`` set so that the estimated total over ``real``'s
    bars equals the real total (capped at 1: every position at the tier mix).

    Every estimate is proportional to ``leveraged_share``, so one run gives the factor.
    """
    bars = aggregate_to_bars(_estimates(series, params, lookback), real, candle_ms=candle_ms)
    keep = bars.included
    est = float(np.sum(bars.long_usd[keep]) + np.sum(bars.short_usd[keep]))
    got = float(np.sum(real.long_usd[keep]) + np.sum(real.short_usd[keep]))
    if not (est > 0 and got > 0):
        return params
    share = min(1.0, params.leveraged_share * got / est)
    return dataclasses.replace(params, leveraged_share=float(f"{share:.3g}"))


def objective(card: Scorecard, name: str = "model") -> float:
    """Mean Spearman of set ``name`` over long, short and total (NaN counts as -1)."""
    s = card.get(name)
    values = [s.long.spearman, s.short.spearman, s.total.spearman]
    return float(np.mean([v if math.isfinite(v) else -1.0 for v in values]))


def _search(
    series: MarketSeries,
    real: RealLiquidations,
    base: EngineParams,
    lookback: int,
    candle_ms: int,
    space: Mapping[str, Sequence[Any]],
    rounds: int,
    progress: Progress | None,
    step: list[int],
    total: int,
) -> tuple[EngineParams, list[Trial]]:
    def value_of(params: EngineParams) -> float:
        est = _estimates(series, params, lookback)
        card = score(real, {"model": est}, series, candle_ms=candle_ms)
        step[0] += 1
        if progress is not None:
            progress(min(step[0], total), total)
        return objective(card)

    best, best_value = base, value_of(base)
    trials = [Trial("start", best_value)]
    for _ in range(rounds):
        changed = False
        for name, values in space.items():
            for value in values:
                candidate = _with(best, name, value)
                if candidate == best:
                    continue
                v = value_of(candidate)
                trials.append(Trial(f"{name} = {value}", v))
                if v > best_value + 1e-4:
                    best, best_value, changed = candidate, v, True
        if not changed:
            break
    return best, trials


def calibrate(
    series: MarketSeries,
    real: RealLiquidations,
    *,
    base: EngineParams,
    lookback: int,
    candle_ms: int,
    fit_fraction: float = 0.6,
    rounds: int = 2,
    space: Mapping[str, Sequence[Any]] = SEARCH_SPACE,
    progress: Progress | None = None,
    refit: bool = True,
) -> Calibration:
    """Fit on the first part, score the rest; then fit on everything (see the module docs)
    — unless ``refit`` is False: then ``full_params`` are the first part's."""
    unknown = set(space) - set(SEARCH_SPACE)
    if unknown:
        raise ModelError(f"space: unknown settings {sorted(unknown)}; use {sorted(SEARCH_SPACE)}")
    fit_real, test_real = split_bars(real, fit_fraction)
    per_pass = 1 + sum(len(v) for v in space.values())
    total = 2 * rounds * per_pass
    step = [0]
    fit_params, trials = _search(
        series, fit_real, base, lookback, candle_ms, space, rounds, progress, step, total
    )
    fit_params = fit_scale(series, fit_real, fit_params, lookback=lookback, candle_ms=candle_ms)
    full_params = fit_params
    if refit:
        full_params, _ = _search(
            series, real, fit_params, lookback, candle_ms, space, rounds, progress, step, total
        )
        full_params = fit_scale(series, real, full_params, lookback=lookback, candle_ms=candle_ms)
    if progress is not None:
        progress(total, total)
    sets = {
        "model": _estimates(series, fit_params, lookback),
        PLACEBO: _estimates(flat_open_interest(series), fit_params, lookback),
    }
    return Calibration(
        fit_fraction=fit_fraction,
        fit_params=fit_params,
        full_params=full_params,
        fit_score=score(fit_real, sets, series, candle_ms=candle_ms),
        test_score=score(test_real, sets, series, candle_ms=candle_ms),
        trials=tuple(trials),
    )
