"""The [model] section: every setting of the liquidation-level model, validated.

Each key defaults to what the engine ships with (:class:`core.levels.EngineParams`), so an
empty section is the shipped model; ``liqwatch backtest --calibrate`` prints a block of these
keys that :func:`bot.config.settings.load_settings` reads back.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from bot.config.fields import AsTuple, FieldProblems, Fraction, Section, Unique
from core.levels import MAX_HALF_LIFE_EXPONENT, MIN_HALF_LIFE_HOURS, EngineParams

__all__ = ["ModelSettings"]

Leverage = Annotated[float, Field(ge=1, le=1000)]
#: the model's defaults: [model] keys default to what the engine ships with
_ENGINE: Final = EngineParams()
Weight = Annotated[float, Field(gt=0)]


class ModelSettings(Section):
    """Parameters of the liquidation-level model ([model])."""

    leverage_tiers: Annotated[tuple[Leverage, ...], AsTuple, Unique] = _ENGINE.tiers.leverages
    leverage_weights: Annotated[tuple[Weight, ...], AsTuple] = _ENGINE.tiers.weights
    position_notional: Annotated[float, Field(gt=0)] = 10_000.0
    #: how the notional a candle opens is split long/short (see core/levels.py)
    side_split: Literal["flow", "taker", "candle", "ratio"] = _ENGINE.side_split
    #: churn half-life of a 10x position in hours; inf: positions close only on OI falls
    half_life_hours: Annotated[float, Field(ge=MIN_HALF_LIFE_HOURS)] = _ENGINE.half_life_hours
    #: a tier of leverage L churns with half-life h·(10/L)^exponent
    half_life_exponent: Annotated[
        float, Field(ge=0, le=MAX_HALF_LIFE_EXPONENT, allow_inf_nan=False)
    ] = _ENGINE.half_life_exponent
    #: where a candle's openings are placed: the typical price, or its low/typical/high
    entry: Literal["typical", "range"] = _ENGINE.entry
    #: 0..1: how far the long share may lean from 1/2 (0: always 50/50)
    side_lean: Annotated[float, Field(ge=0, le=1)] = _ENGINE.side_lean
    #: > 0: gain of the flow split's squashing 1/2 + tanh(gain·x)/2
    flow_gain: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = _ENGINE.flow_gain
    #: (0, 1]: share of open interest at the tier mix — a pure scale of every dollar amount;
    #: unset: the market's own (0.1 on the synthetic market, the real-data fit elsewhere)
    leveraged_share: Annotated[float, Field(gt=0, le=1)] | None = None
    bins: Annotated[int, Field(ge=10, le=10_000)] = 400
    #: imbalance window: ± this fraction of price around the current price
    window: Fraction = 0.10
    #: live recalibration from the archive and the prints, daily: tell the admins the proposed
    #: change ("suggest"), adopt a bounded winning step ("auto"), or neither ("off")
    recalibrate: Literal["off", "suggest", "auto"] = "suggest"

    @model_validator(mode="after")
    def _one_weight_per_tier(self) -> ModelSettings:
        tiers, weights = len(self.leverage_tiers), len(self.leverage_weights)
        if tiers != weights:
            raise FieldProblems.one(
                "leverage_weights",
                f"has {weights} weights for {tiers} leverage_tiers, give one per tier",
            )
        return self
