"""bot.analysis.params: [model] ↔ EngineParams, and the block --calibrate prints."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from bot.analysis.params import analysis_params, engine_params, model_block, params_summary
from bot.config.settings import ModelSettings, load_settings
from core.levels import EngineParams, LeverageTiers
from core.sim_scenarios import SIM_LEVERAGED_SHARE
from tests.paths import REPO_ROOT


def test_the_config_defaults_are_the_engine_defaults() -> None:
    assert engine_params(ModelSettings()) == EngineParams()
    example = load_settings(REPO_ROOT / "config.example.toml")
    assert engine_params(example.model) == EngineParams()


def test_every_model_key_reaches_the_analysis() -> None:
    model = ModelSettings(
        leverage_tiers=(3.0, 20.0),
        leverage_weights=(0.5, 0.5),
        position_notional=2_500.0,
        side_split="candle",
        half_life_hours=math.inf,
        half_life_exponent=0.5,
        entry="typical",
        side_lean=0.25,
        flow_gain=1.5,
        leveraged_share=0.2,
        bins=120,
        window=0.05,
    )
    params = analysis_params(model)
    assert params.bins == 120 and params.window == 0.05
    assert params.engine == EngineParams(
        tiers=LeverageTiers((3.0, 20.0), (0.5, 0.5)),
        position_notional=2_500.0,
        side_split="candle",
        half_life_hours=math.inf,
        half_life_exponent=0.5,
        entry="typical",
        side_lean=0.25,
        flow_gain=1.5,
        leveraged_share=0.2,
    )


def test_the_printed_block_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    for params in (
        EngineParams(),
        dataclasses.replace(
            EngineParams(),
            half_life_hours=math.inf,
            entry="typical",
            side_lean=0.5,
            leveraged_share=0.0123,
            tiers=LeverageTiers((2.0, 50.0), (0.25, 0.75)),
        ),
    ):
        config = tmp_path / "config.toml"
        config.write_text(model_block(params) + "\n")
        assert engine_params(load_settings(config).model) == params


def test_the_summary_names_what_a_reader_needs() -> None:
    text = params_summary(dataclasses.replace(EngineParams(), half_life_hours=math.inf))
    assert "no churn" in text and "125x 3%" in text and "entry range" in text


def test_the_synthetic_market_is_all_leveraged_unless_told_otherwise() -> None:
    assert engine_params(ModelSettings(), synthetic=True).leveraged_share == SIM_LEVERAGED_SHARE
    assert engine_params(ModelSettings()).leveraged_share == EngineParams().leveraged_share
    told = ModelSettings(leveraged_share=0.5)
    assert engine_params(told, synthetic=True).leveraged_share == 0.5
