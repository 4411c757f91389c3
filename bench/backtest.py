"""The model against real liquidations: the figures the README quotes (``python bench/backtest.py``).

Input: ``../shared/data/real-btc-1h`` (BTCUSDT perpetual, 1h, 2025-12-04 → 2026-01-31: real
candles, Binance open interest, Coinglass's real liquidations per hour on Binance + Bybit +
OKX). Every hour is estimated point in time from the 7 days (168 candles) before it and its
own high/low.

Printed:

1. **Shipped defaults**, scored on the first 60 % of the bars (the part the defaults were
   fitted on) and on the last 40 % (out of sample): Spearman, partial Spearman against the
   side's best baseline, top-5 % precision, cluster-hit lift, est/real — for the model,
   the flat-open-interest placebo and the best baseline of each side.
2. **Calibration** (``liqwatch backtest --calibrate``): the settings the search picks on the
   first 60 % from the shipped defaults, and how they score out of sample.
3. **Old model** (no churn, typical-price entry, five tiers, no scale) for comparison.
4. **Speed**: one year of synthetic 5m candles (105,120) through the point-in-time
   estimate, with and without the hourly cluster maps of the hit test.

Benchmarks measure; they never fail the build on a number.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
from engine import synthetic_year  # bench/engine.py, beside this script

from bot.market.backtest_folder import BacktestFolder, read_backtest_folder
from core.backtest import PLACEBO, estimate, flat_open_interest
from core.calibrate import calibrate, describe, split_bars
from core.levels import EngineParams, LeverageTiers
from core.pointintime import point_in_time
from core.scoring import RealLiquidations, Scorecard, score

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-btc-1h"
LOOKBACK = 168  # 7 days of 1h candles
HOUR = 3_600_000

OLD_MODEL = EngineParams(
    tiers=LeverageTiers((5.0, 10.0, 25.0, 50.0, 100.0), (0.15, 0.30, 0.25, 0.20, 0.10)),
    half_life_hours=math.inf,
    entry="typical",
    flow_gain=2.0,
    leveraged_share=1.0,
)


def _f(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "  — "


def table(card: Scorecard, title: str) -> None:
    print(f"\n{title} — {card.bars} bars")
    print("side   set                   Spearman  partial  top-5%  lift (hits)  est/real")
    for side in ("long", "short", "total"):
        best = card.best_baseline[side]
        for name in ("model", PLACEBO, best):
            s = card.get(name).side(side)
            lift = "        —  " if s.lift is None else f"{_f(s.lift.value):>6} ({s.lift.hits:>3})"
            label = name if name in ("model", PLACEBO) else f"best: {best}"
            print(
                f"{side:<6} {label[:21]:<21} {_f(s.spearman):>8} {_f(s.partial_spearman):>8} "
                f"{_f(s.top_precision):>7} {lift}  {_f(s.total_ratio):>8}"
            )


def scored(folder: BacktestFolder, params: EngineParams, real: RealLiquidations) -> Scorecard:
    run = estimate(folder.series, params, lookback=LOOKBACK, map_every=1)
    placebo = estimate(flat_open_interest(folder.series), params, lookback=LOOKBACK)
    return score(
        real,
        {"model": run.estimates, PLACEBO: placebo.estimates},
        folder.series,
        candle_ms=folder.candle_ms,
    )


def real_data() -> None:
    folder = read_backtest_folder(REAL)
    fit, test = split_bars(folder.real, 0.6)
    print(f"folder: {REAL} ({len(folder.series)} candles, {len(folder.real)} real bars)")
    defaults = EngineParams()
    print(f"shipped defaults: {describe(defaults)}, leveraged_share {defaults.leveraged_share}")
    table(scored(folder, defaults, fit), "1. shipped defaults, first 60 % (fitted on)")
    table(scored(folder, defaults, test), "1. shipped defaults, last 40 % (out of sample)")

    started = time.perf_counter()
    cal = calibrate(folder.series, folder.real, base=defaults, lookback=LOOKBACK, candle_ms=HOUR)
    took = time.perf_counter() - started
    print(f"\n2. calibration from the shipped defaults ({len(cal.trials)} trials, {took:.1f} s)")
    print(f"   fitted on the first 60 %: {describe(cal.fit_params)}")
    print(f"   fitted on the whole folder: {describe(cal.full_params)}")
    table(cal.test_score, "2. calibrated settings, last 40 % (out of sample)")

    table(scored(folder, OLD_MODEL, test), "3. old model, last 40 % (out of sample)")


def speed() -> None:
    series = synthetic_year()
    params = EngineParams()
    lookback = 2_016  # 7 days of 5m candles
    started = time.perf_counter()
    long_usd, short_usd = point_in_time(series, params, lookback)
    pit = time.perf_counter() - started
    assert np.isfinite(long_usd).all() and np.isfinite(short_usd).all()
    started = time.perf_counter()
    estimate(series, params, lookback=lookback, map_every=12 * 24)  # one map a day
    daily = time.perf_counter() - started
    print(f"\n4. speed, {len(series):,} synthetic 5m candles, 7-day look-back:")
    print(f"   point-in-time estimate of every candle: {pit:.2f} s")
    print(f"   with the cluster-hit maps once a day ({len(series) // 288} maps): {daily:.1f} s")
    print(f"   (liqwatch backtest maps once an hour: ≈ {daily * 24:.0f} s extrapolated)")


def main() -> int:
    if not REAL.is_dir():
        print(f"skipped: {REAL} is absent (the real-data benchmark needs ../shared/data)")
    else:
        real_data()
    speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
