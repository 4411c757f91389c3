"""Live recalibration (pure numpy): the backtest calibration re-run on what the bot collected,
and what to do with its answer.

Input: one :class:`MarketData` per archived market — its stored candles (with open interest)
and, as real liquidations, the reported prints summed per hour the live scorecard scored
(hours whose prints feed was down are not bars at all, never zero liquidations).

:func:`recalibrate`:

1. **Enough data?** A market takes part with at least ``min_hours`` scored hours
   (:data:`MIN_HOURS`: a week); none does → ``too_little_data``, nothing changes.
2. **Search.** :func:`core.calibrate.calibrate` on the market with the most hours, starting
   from the current settings, fitted on the first ``fit_fraction`` of its hours. Only the
   ranking settings of :data:`~core.calibrate.SEARCH_SPACE` move; ``leveraged_share`` (a pure
   scale) is kept — reported prints undercount real liquidations (Binance sends at most one
   per second), so a scale fitted to them would be wrong. That is the **proposal**.
3. **Bound** (``auto`` only): the candidate is the current settings moved *one grid step*
   toward the proposal per setting (:func:`grid_step`: half-life 100 h → 72 h, never → 48 h
   at once; a categorical setting switches once). The daily cadence makes that one step per
   setting per day.
4. **Out of sample.** Current and candidate are scored on the last ``1 − fit_fraction`` of
   every taking-part market's hours (data the search never saw for the searched market,
   none of it for the others): the objective is the mean Spearman over long, short and
   total (:func:`core.calibrate.objective`); the **gain** is its mean change across markets.
5. **Verdict.** ``suggest``: ``suggest`` when the proposal gains, else ``no_change``.
   ``auto``: ``adopt`` when the bounded candidate gains at least ``margin``
   (:data:`MARGIN`, 0.02) on average and loses more than ``margin`` on no market, else
   ``keep``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from core.calibrate import LEVERAGE_MIXES, SEARCH_SPACE, calibrate, describe, objective, split_bars
from core.levels import EngineParams, LeverageTiers
from core.models import MarketSeries
from core.pointintime import point_in_time
from core.scoring import CandleEstimates, RealLiquidations, score

__all__ = [
    "MARGIN",
    "MIN_HOURS",
    "Check",
    "Decision",
    "MarketData",
    "Mode",
    "changes",
    "from_description",
    "grid_step",
    "recalibrate",
]

#: an ``auto`` change must gain this much mean Spearman out of sample
MARGIN: Final = 0.02
#: scored hours a market needs to take part (a week)
MIN_HOURS: Final = 168

Mode = Literal["off", "suggest", "auto"]
Kind = Literal["too_little_data", "no_change", "suggest", "adopt", "keep"]


@dataclass(frozen=True, eq=False)
class MarketData:
    """One market's stored candles and its scored hours' real (reported) liquidations."""

    symbol: str
    series: MarketSeries
    real: RealLiquidations


@dataclass(frozen=True)
class Check:
    """The out-of-sample objective of the current and the candidate settings on one market."""

    symbol: str
    hours: int  # out-of-sample hours
    current: float
    candidate: float

    @property
    def gain(self) -> float:
        return self.candidate - self.current


@dataclass(frozen=True, eq=False)
class Decision:
    """What a recalibration found and what it means (see the module docstring)."""

    mode: Mode
    kind: Kind
    current: EngineParams
    #: the search's answer, and what would change: the proposal (suggest) or one step (auto)
    proposal: EngineParams | None = None
    candidate: EngineParams | None = None
    checks: tuple[Check, ...] = ()
    hours: Mapping[str, int] = dataclasses.field(default_factory=dict)
    searched: str | None = None
    min_hours: int = MIN_HOURS
    margin: float = MARGIN

    @property
    def gain(self) -> float:
        return sum(c.gain for c in self.checks) / len(self.checks) if self.checks else math.nan

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Setting → (current, candidate) for the settings that would change."""
        return {} if self.candidate is None else changes(self.current, self.candidate)


def changes(old: EngineParams, new: EngineParams) -> dict[str, tuple[Any, Any]]:
    """The searched settings that differ, as plain values (:func:`core.calibrate.describe`)."""
    a, b = describe(old), describe(new)
    return {k: (a[k], b[k]) for k in SEARCH_SPACE if a[k] != b[k]}


def from_description(base: EngineParams, values: Mapping[str, Any]) -> EngineParams:
    """``base`` with the searched settings of ``values`` (what :func:`describe` wrote)."""
    out = base
    for name in SEARCH_SPACE:
        if name not in values:
            continue
        value = values[name]
        if name == "tiers":
            value = (
                LEVERAGE_MIXES[value]
                if isinstance(value, str)
                else LeverageTiers(tuple(value["leverages"]), tuple(value["weights"]))
            )
        elif name == "half_life_hours":
            value = math.inf if value == "inf" else float(value)
        elif name == "side_lean":
            value = float(value)
        out = dataclasses.replace(out, **{name: value})
    return out


def _step(values: Sequence[Any], current: Any, target: Any) -> Any:
    """One grid step from ``current`` toward ``target`` (ordered numbers; others switch)."""
    if current == target:
        return current
    if not all(isinstance(v, int | float) for v in (*values, current, target)):
        return target
    if target > current:
        return min([v for v in values if current < v <= target], default=target)
    return max([v for v in values if target <= v < current], default=target)


def grid_step(
    current: EngineParams,
    target: EngineParams,
    space: Mapping[str, Sequence[Any]] = SEARCH_SPACE,
) -> EngineParams:
    """``current`` moved at most one grid step of ``space`` toward ``target`` per setting."""
    out = current
    for name, values in space.items():
        now, goal = getattr(current, name), getattr(target, name)
        if name == "tiers":
            goal_name = next((k for k, v in LEVERAGE_MIXES.items() if v == goal), None)
            if now != goal and goal_name is not None:
                out = dataclasses.replace(out, tiers=LEVERAGE_MIXES[goal_name])
            continue
        out = dataclasses.replace(out, **{name: _step(values, now, goal)})
    return out


def _oos(
    market: MarketData, params: EngineParams, lookback: int, candle_ms: int, fit: float
) -> tuple[float, int]:
    """(objective, hours) of ``params`` on the market's out-of-sample hours."""
    _, test = split_bars(market.real, fit)
    long_usd, short_usd = point_in_time(market.series, params, lookback)
    keep = slice(min(lookback, len(market.series) - 1), None)
    est = CandleEstimates(market.series.timestamps[keep], long_usd[keep], short_usd[keep])
    card = score(test, {"model": est}, market.series, candle_ms=candle_ms)
    return objective(card), len(test)


def recalibrate(
    markets: Sequence[MarketData],
    current: EngineParams,
    *,
    mode: Mode,
    lookback: int,
    candle_ms: int,
    min_hours: int = MIN_HOURS,
    margin: float = MARGIN,
    fit_fraction: float = 0.6,
    rounds: int = 2,
    space: Mapping[str, Sequence[Any]] = SEARCH_SPACE,
) -> Decision:
    """Re-run the calibration on ``markets`` and decide (see the module docstring)."""
    hours = {m.symbol: len(m.real) for m in markets}
    common: dict[str, Any] = {"hours": hours, "min_hours": min_hours, "margin": margin}
    ready = [m for m in markets if len(m.real) >= min_hours]
    if not ready:
        return Decision(mode, "too_little_data", current, **common)
    searched = max(ready, key=lambda m: len(m.real))
    found = calibrate(
        searched.series,
        searched.real,
        base=current,
        lookback=lookback,
        candle_ms=candle_ms,
        fit_fraction=fit_fraction,
        rounds=rounds,
        space=space,
        refit=False,
    )
    proposal = dataclasses.replace(found.fit_params, leveraged_share=current.leveraged_share)
    candidate = grid_step(current, proposal, space) if mode == "auto" else proposal
    common |= {"proposal": proposal, "candidate": candidate, "searched": searched.symbol}
    if not changes(current, candidate):
        return Decision(mode, "no_change", current, **common)
    checks = []
    for m in ready:
        before, n = _oos(m, current, lookback, candle_ms, fit_fraction)
        after, _ = _oos(m, candidate, lookback, candle_ms, fit_fraction)
        checks.append(Check(m.symbol, n, before, after))
    decision = Decision(mode, "no_change", current, checks=tuple(checks), **common)
    if mode == "auto":
        wins = decision.gain >= margin and min(c.gain for c in checks) >= -margin
        return dataclasses.replace(decision, kind="adopt" if wins else "keep")
    return dataclasses.replace(decision, kind="suggest" if decision.gain > 0 else "no_change")
