"""Markets and settings shared by the level-engine tests."""

from __future__ import annotations

import math

import numpy as np

from core.levels import EngineParams, LeverageTiers
from core.models import MarketSeries

#: The mechanics tests pin the model without churn, all openings at the typical price,
#: all of open interest leveraged.
PLAIN = EngineParams(half_life_hours=math.inf, entry="typical", leveraged_share=1.0)
ONLY_100X = EngineParams(
    tiers=LeverageTiers((100.0,), (1.0,)),
    half_life_hours=math.inf,
    entry="typical",
    leveraged_share=1.0,
)
#: The default share of open interest at the tier mix: a pure scale of every notional.
SHARE = EngineParams().leveraged_share


def flow_share(x: float) -> float:
    """The default flow split of a linear net-flow estimate ``x``."""
    return 0.5 + 0.5 * math.tanh(EngineParams().flow_gain * x)


def make_series(
    close: list[float],
    *,
    oi: list[float] | None,
    high: list[float] | None = None,
    low: list[float] | None = None,
    open_: list[float] | None = None,
    volume: list[float] | None = None,
    taker: list[float] | None = None,
    ratio: list[float] | None = None,
) -> MarketSeries:
    c = np.asarray(close, dtype=np.float64)
    n = len(c)
    o = np.asarray(open_, dtype=np.float64) if open_ is not None else c.copy()
    return MarketSeries(
        timestamps=1_000 + np.arange(n, dtype=np.int64) * 300_000,
        open=o,
        high=np.asarray(high, dtype=np.float64) if high is not None else np.maximum(o, c),
        low=np.asarray(low, dtype=np.float64) if low is not None else np.minimum(o, c),
        close=c,
        volume=np.asarray(volume, dtype=np.float64) if volume is not None else np.full(n, 10.0),
        taker_buy_volume=np.asarray(taker, dtype=np.float64) if taker is not None else None,
        open_interest=np.asarray(oi, dtype=np.float64) if oi is not None else None,
        long_short_ratio=np.asarray(ratio, dtype=np.float64) if ratio is not None else None,
    )


def random_market(n: int, seed: int) -> MarketSeries:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    oi = 1_000.0 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    oi[rng.integers(0, n, 3)] = np.nan
    volume = rng.uniform(1, 50, n)
    return MarketSeries(
        timestamps=np.arange(n, dtype=np.int64) * 300_000,
        open=open_,
        high=np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n)),
        low=np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n)),
        close=close,
        volume=volume,
        taker_buy_volume=volume * rng.uniform(0, 1, n),
        open_interest=oi,
    )
