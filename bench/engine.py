"""Benchmark of the liquidation-level engine (``python bench/engine.py``).

Input: one year of synthetic 5m candles (105,120) — a log random walk for price with
intra-candle wicks, a mean-reverting log random walk for open interest, a random taker-buy
share — × 1,000 log price bins, 500 heatmap columns.

Measured:
* engine time with the shipped defaults (6 tiers, churn: every candle opens, at three
  points of the candle), best of 3 (target <= 0.25 s on a 2-core machine — the old model's
  target; churn opens ~7× more levels);
* engine time with the old model's settings (5 tiers, no churn, typical-price entry), and a
  straightforward baseline written here for those settings: a loop over candles,
  numpy-vectorised over the active levels inside each candle. It runs on the first
  ``BASELINE_CANDLES`` candles and is extrapolated linearly to the year (stated in the
  table); engine / baseline ratio (target >= 3x faster);
* the plain-Python reference (core.reference) against the engine with the shipped
  defaults on 500 and 1,000 candles × 200 bins (target >= 1,000x), the engine at 500 and at
  its default 240 columns;
* peak traced memory (tracemalloc) of the full-year engine run.
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial

import numpy as np

from core.brackets import liquidation_price
from core.levels import (
    EngineParams,
    LeverageTiers,
    default_grid,
    keep_factors,
    long_shares,
    run_engine,
)
from core.levels import open_interest_change as oi_change
from core.models import MarketSeries
from core.reference import reference_engine
from core.results import PriceGrid

YEAR_5M = 105_120
BINS = 1_000
COLUMNS = 500
BASELINE_CANDLES = 20_000
REFERENCE_CANDLES = 500
REFERENCE_BINS = 200


def synthetic_year(candles: int = YEAR_5M, seed: int = 7) -> MarketSeries:
    """A realistic-looking 5m perpetual: ~50 % annual volatility, OI drifting ±, wicks."""
    rng = np.random.default_rng(seed)
    ret = rng.standard_t(4, candles) * 0.0011
    close = 60_000.0 * np.exp(np.cumsum(ret))
    open_ = np.r_[60_000.0, close[:-1]]
    wick = np.abs(rng.normal(0.0, 0.0012, (2, candles)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    volume = rng.lognormal(3.0, 0.6, candles)
    taker = volume * np.clip(0.5 + 40.0 * ret + rng.normal(0, 0.05, candles), 0.02, 0.98)
    log_oi = np.empty(candles)
    level = 0.0
    shocks = rng.normal(0.0, 0.002, candles)
    for i in range(candles):  # mean-reverting around 80k BTC
        level += -0.001 * level + shocks[i]
        log_oi[i] = level
    oi = 80_000.0 * np.exp(log_oi)
    return MarketSeries(
        timestamps=1_700_000_000_000 + 300_000 * np.arange(candles, dtype=np.int64),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        taker_buy_volume=taker,
        open_interest=oi,
    )


def baseline(series: MarketSeries, grid: PriceGrid, params: EngineParams, columns: int) -> float:
    """Per-candle loop, vectorised over levels; returns the total realised notional."""
    n = len(series)
    cols = min(columns, n)
    bounds = (np.arange(cols + 1) * n) // cols
    column_of = np.repeat(np.arange(cols), np.diff(bounds))
    change = oi_change(series)
    keep = keep_factors(series)
    share = long_shares(series, params.side_split)
    entry_all = series.typical_price
    lev = np.asarray(params.tiers.leverages)
    wts = np.asarray(params.tiers.weights)
    sides = np.repeat([1.0, -1.0], len(lev))
    levs = np.tile(lev, 2)
    bins = grid.bins
    heat = np.zeros((cols, 2 * bins))
    price = np.empty(0)
    notional = np.empty(0)
    is_long = np.empty(0, dtype=bool)
    cell = np.empty(0, dtype=np.int64)
    realized = 0.0
    for t in range(n):
        hit = np.where(is_long, series.low[t] <= price, series.high[t] >= price)
        if hit.any():
            realized += float(notional[hit].sum())
            stay = ~hit
            price, notional, is_long, cell = price[stay], notional[stay], is_long[stay], cell[stay]
        if keep[t] != 1.0:
            notional = notional * keep[t]
        if change[t] > 0:
            entry = entry_all[t]
            new_price = liquidation_price(entry, levs, sides, params.position_notional)
            split = np.repeat([share[t], 1.0 - share[t]], len(lev)) * np.tile(wts, 2)
            idx = grid.index(new_price)
            new_cell = np.where((idx >= 0) & (idx < bins), idx + (sides < 0) * bins, -1)
            price = np.concatenate([price, new_price])
            notional = np.concatenate([notional, change[t] * entry * split])
            is_long = np.concatenate([is_long, sides > 0])
            cell = np.concatenate([cell, new_cell])
        drawn = cell >= 0
        heat[column_of[t]] += np.bincount(cell[drawn], weights=notional[drawn], minlength=2 * bins)
    return realized


def best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


#: the previous model: five tiers, no churn, all at the typical price, no scale
OLD = EngineParams(
    tiers=LeverageTiers((5.0, 10.0, 25.0, 50.0, 100.0), (0.15, 0.30, 0.25, 0.20, 0.10)),
    half_life_hours=math.inf,
    entry="typical",
    leveraged_share=1.0,
)


def main() -> int:
    defaults = EngineParams()
    year = synthetic_year()
    grid = default_grid(year, bins=BINS)
    rows: list[tuple[str, str]] = []

    engine_s = best_of(3, lambda: run_engine(year, grid, defaults, COLUMNS))
    tiers = len(defaults.tiers.leverages)
    rows.append(
        (
            f"engine, shipped defaults, {YEAR_5M:,} candles × {tiers} tiers × {BINS} bins "
            "(best of 3)",
            f"{engine_s:.3f} s",
        )
    )
    out = run_engine(year, grid, defaults, COLUMNS)
    rows.append(
        (
            "  realised notional over the year (USDT)",
            f"{out.realized.long.sum() + out.realized.short.sum():,.0f}",
        )
    )
    params = OLD
    old_s = best_of(3, lambda: run_engine(year, grid, params, COLUMNS))
    rows.append(
        (
            "engine, old model's settings (5 tiers, no churn, typical price; best of 3)",
            f"{old_s:.3f} s",
        )
    )
    rows.append(
        (
            "  levels opened (2 sides × 5 tiers per rising-OI candle)",
            f"{10 * int((oi_change(year) > 0).sum()):,}",
        )
    )

    part = year.slice(0, BASELINE_CANDLES)
    base_part = best_of(
        1, lambda: baseline(part, grid, params, COLUMNS * BASELINE_CANDLES // YEAR_5M)
    )
    base_year = base_part * YEAR_5M / BASELINE_CANDLES
    rows.append(
        (
            f"baseline per-candle numpy loop, first {BASELINE_CANDLES:,} candles (measured)",
            f"{base_part:.2f} s",
        )
    )
    rows.append(
        ("baseline extrapolated linearly to the year (low: the book grows)", f"{base_year:.1f} s")
    )
    rows.append(
        (
            "engine speed-up over baseline, same settings (target >= 3x)",
            f"{base_year / old_s:,.0f}x",
        )
    )

    params = defaults
    for candles in (REFERENCE_CANDLES, 2 * REFERENCE_CANDLES):
        small = year.slice(0, candles)
        small_grid = default_grid(small, bins=REFERENCE_BINS)
        ref_s = best_of(1, partial(reference_engine, small, small_grid, params, COLUMNS))
        label = f"{candles:,} candles × {REFERENCE_BINS} bins"
        rows.append((f"reference (plain Python), {label}, {COLUMNS} columns", f"{ref_s:.2f} s"))
        for columns in (COLUMNS, 240):
            eng_s = best_of(5, partial(run_engine, small, small_grid, params, columns))
            rows.append(
                (f"  engine on that input, {columns} columns (best of 5)", f"{eng_s * 1e3:.2f} ms")
            )
            rows.append(
                (
                    f"  speed-up over reference, {columns} columns (target >= 1,000x)",
                    f"{ref_s / eng_s:,.0f}x",
                )
            )

    tracemalloc.start()
    run_engine(year, grid, defaults, COLUMNS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows.append(
        ("peak traced memory, full-year engine run (tracemalloc)", f"{peak / 2**20:.1f} MiB")
    )

    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  -----")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
