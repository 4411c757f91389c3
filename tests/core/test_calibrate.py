"""core.calibrate: the search finds settings that generated the liquidations, out of sample."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from bot.market.backtest_folder import (
    BacktestMeta,
    read_backtest_folder,
    write_backtest_folder,
)
from core.calibrate import LEVERAGE_MIXES, SEARCH_SPACE, calibrate, describe, split_bars
from core.levels import EngineParams
from core.models import MarketSeries, ModelError
from core.pointintime import point_in_time
from core.scoring import RealLiquidations
from core.sim import simulate

HOUR = 3_600_000
LOOKBACK = 72


@pytest.fixture(scope="module")
def series() -> MarketSeries:
    return simulate("churn", seed=5, candles=900, timeframe="1h").series


def _folder_made_by(
    series: MarketSeries, params: EngineParams, noise: float, seed: int = 0
) -> RealLiquidations:
    """'Real' liquidations that ``params`` generated, with lognormal noise per bar."""
    long_usd, short_usd = point_in_time(series, params, LOOKBACK)
    rng = np.random.default_rng(seed)
    n = len(series)
    return RealLiquidations(
        open_ms=series.timestamps,
        close_ms=series.timestamps + HOUR,
        long_usd=long_usd * rng.lognormal(0.0, noise, n),
        short_usd=short_usd * rng.lognormal(0.0, noise, n),
    )


def test_recovers_the_settings_that_made_the_liquidations(
    series: MarketSeries, tmp_path: Path
) -> None:
    """A simulated backtest folder whose liquidations known settings generated: written,
    read back through the reader, and calibrated from the defaults."""
    truth = dataclasses.replace(
        EngineParams(), half_life_hours=24.0, tiers=LEVERAGE_MIXES["retail-heavy"], entry="typical"
    )
    write_backtest_folder(
        tmp_path / "made",
        meta=BacktestMeta("sim", "BTC/USDT:USDT", "1h"),
        series=series,
        real=_folder_made_by(series, truth, noise=0.1),
    )
    folder = read_backtest_folder(tmp_path / "made")
    cal = calibrate(
        folder.series, folder.real, base=EngineParams(), lookback=LOOKBACK, candle_ms=HOUR
    )
    got = describe(cal.fit_params)
    assert got["half_life_hours"] == 24.0
    assert got["tiers"] == "retail-heavy"
    assert got["entry"] == "typical"
    # the scale is fitted too: the generated totals came from the default share
    assert got["leveraged_share"] == pytest.approx(EngineParams().leveraged_share, rel=0.1)
    # out of sample the recovered settings rank the generated liquidations well
    model = cal.test_score.get("model")
    assert model.total.spearman > 0.8
    assert cal.trials[0].label == "start"
    assert max(t.objective for t in cal.trials) >= cal.trials[0].objective


def test_fit_and_test_parts_are_split_by_time(series: MarketSeries) -> None:
    real = _folder_made_by(series, EngineParams(), noise=0.1)
    fit, test = split_bars(real, 0.6)
    assert len(fit) == 540 and len(test) == 360
    assert fit.close_ms[-1] <= test.open_ms[0]
    with pytest.raises(ModelError, match="fit_fraction: must be in"):
        split_bars(real, 1.0)
    tiny = RealLiquidations(
        real.open_ms[:4], real.close_ms[:4], real.long_usd[:4], real.short_usd[:4]
    )
    with pytest.raises(ModelError, match="too few to fit on one part"):
        split_bars(tiny, 0.5)


def test_the_report_lists_what_was_searched(series: MarketSeries) -> None:
    real = _folder_made_by(series, EngineParams(), noise=0.2)
    cal = calibrate(
        series,
        real,
        base=EngineParams(),
        lookback=LOOKBACK,
        candle_ms=HOUR,
        space={"half_life_hours": (24.0, math.inf)},
        rounds=1,
    )
    doc = cal.to_dict()
    assert set(doc) == {
        "fit_fraction",
        "fit_params",
        "full_params",
        "in_sample",
        "out_of_sample",
        "trials",
    }
    assert [t["label"] for t in doc["trials"]] == [
        "start",
        "half_life_hours = 24.0",
        "half_life_hours = inf",
    ]
    assert "placebo (flat OI)" in doc["out_of_sample"]["sets"]
    with pytest.raises(ModelError, match="space: unknown settings"):
        calibrate(series, real, base=EngineParams(), lookback=LOOKBACK, candle_ms=HOUR,
                  space={"colour": (1,)})  # fmt: skip
    assert set(SEARCH_SPACE) <= set(describe(EngineParams()))
