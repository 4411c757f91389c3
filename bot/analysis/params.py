"""``[model]`` settings ↔ the core's model parameters, in one place.

:func:`analysis_params` is what ``liqwatch run`` / ``console`` analyse with,
:func:`engine_params` what ``liqwatch backtest --params`` scores, and :func:`model_block`
writes parameters back as a ``[model]`` block to paste into ``config.toml`` (what
``--calibrate`` prints).
"""

from __future__ import annotations

import math
from typing import Final

from bot.config.settings import ModelSettings
from core.analysis import AnalysisParams
from core.levels import LEVERAGED_SHARE, EngineParams, LeverageTiers
from core.sim_scenarios import SIM_LEVERAGED_SHARE

__all__ = [
    "SYNTHETIC_LEVERAGED_SHARE",
    "analysis_params",
    "engine_params",
    "leveraged_share",
    "model_block",
    "params_summary",
]

#: The synthetic market's leveraged share: its simulated accounts — every one at its
#: leverage mix with no stop — are this share of its open interest, the rest is never
#: liquidated (:data:`core.sim_scenarios.SIM_LEVERAGED_SHARE`; real markets:
#: :data:`core.levels.LEVERAGED_SHARE`, fitted on real liquidations).
SYNTHETIC_LEVERAGED_SHARE: Final = SIM_LEVERAGED_SHARE


def leveraged_share(model: ModelSettings, *, synthetic: bool) -> float:
    """``[model] leveraged_share`` if set, else the market's own: the simulated share on
    the synthetic market, the share fitted on real liquidations elsewhere."""
    if model.leveraged_share is not None:
        return model.leveraged_share
    return SYNTHETIC_LEVERAGED_SHARE if synthetic else LEVERAGED_SHARE


def engine_params(model: ModelSettings, *, synthetic: bool = False) -> EngineParams:
    """The level model's parameters from the ``[model]`` section (``synthetic``: for the
    embedded synthetic market, see :func:`leveraged_share`)."""
    return EngineParams(
        tiers=LeverageTiers(tuple(model.leverage_tiers), tuple(model.leverage_weights)),
        position_notional=model.position_notional,
        side_split=model.side_split,
        half_life_hours=model.half_life_hours,
        half_life_exponent=model.half_life_exponent,
        entry=model.entry,
        side_lean=model.side_lean,
        flow_gain=model.flow_gain,
        leveraged_share=leveraged_share(model, synthetic=synthetic),
    )


def analysis_params(model: ModelSettings, *, synthetic: bool = False) -> AnalysisParams:
    """A whole analysis' parameters (model, grid, imbalance window) from ``[model]``."""
    return AnalysisParams(
        engine=engine_params(model, synthetic=synthetic), bins=model.bins, window=model.window
    )


def _number(x: float) -> str:
    if math.isinf(x):
        return "inf"  # TOML's infinity
    return f"{x:g}"


def model_block(params: EngineParams) -> str:
    """``params`` as the model keys of a ``[model]`` section (grid and window left out)."""
    tiers = params.tiers
    return "\n".join(
        [
            "[model]",
            f"leverage_tiers = [{', '.join(_number(x) for x in tiers.leverages)}]",
            f"leverage_weights = [{', '.join(f'{w:.6g}' for w in tiers.weights)}]",
            f"position_notional = {_number(params.position_notional)}",
            f'side_split = "{params.side_split}"',
            f"half_life_hours = {_number(params.half_life_hours)}",
            f"half_life_exponent = {_number(params.half_life_exponent)}",
            f'entry = "{params.entry}"',
            f"side_lean = {_number(params.side_lean)}",
            f"flow_gain = {_number(params.flow_gain)}",
            f"leveraged_share = {params.leveraged_share:.4g}",
        ]
    )


def params_summary(params: EngineParams) -> str:
    """One line: the settings a reader needs to reproduce a run."""
    tiers = ", ".join(
        f"{lev:g}x {w:.0%}"
        for lev, w in zip(params.tiers.leverages, params.tiers.weights, strict=True)
    )
    hl = "no churn" if math.isinf(params.half_life_hours) else f"{params.half_life_hours:g} h"
    return (
        f"leverage {tiers}; position {params.position_notional:,.0f} USDT; split "
        f"{params.side_split} (lean {params.side_lean:g}, gain {params.flow_gain:g}); churn "
        f"half-life {hl} (exponent {params.half_life_exponent:g}); entry {params.entry}; "
        f"leveraged share {params.leveraged_share:g}"
    )


def sim_defaults() -> AnalysisParams:
    """The shipped ``[model]`` defaults as they run on the synthetic market."""
    return analysis_params(ModelSettings(), synthetic=True)
