"""Accuracy of the estimated liquidation map against the synthetic market's ground truth.

For every scenario × seed: simulate a week of 5m candles, run the analysis on what the
scenario's source publishes (``SimMarket.source_snapshot``: OHLCV, taker-buy volume, open
interest — in USD for ``oi-usd`` —, funding, long/short ratio), and compare with the
positions the simulator really holds at the last candle, binned on the same grid. Beside
the model, a **naive** map: all current open interest (× last price) at the last price,
half long and half short, spread over the model's default leverage tiers — no history, no
side information. A model worth its name beats it.

Per scenario (median or share over seeds):

* **spearman**: rank correlation of per-bin notional (long + short) within ±10 % of price;
* **top-5**: share of the true map's top-5 clusters with one of the estimate's top-5
  clusters within ±0.5 % of its price;
* **ratio ok**: share of seeds whose estimated short-above / long-below ratio (±10 %) is
  within ×1.5 of the true one; **est/true**: the median of that ratio of ratios;
* **clipped**: share of the candles where open interest grew in which the model's
  long/short split is saturated (within 1 % of 0 or 1) — the model only;
* **prints r**: Pearson correlation of the estimated realised-liquidation series with the
  simulator's forced closes per candle — the model only;
* **beats**: on how many of spearman / top-5 / ratio ok the model beats the naive map.

The first five scenarios share the model's assumptions; the others break them (see
:mod:`core.sim_scenarios`).

Run: ``python bench/accuracy.py [--seeds 20] [--scenario churn ...] [--split flow ...]
[--jobs 2]``. Prints one table per side split, and the time it took.
"""

from __future__ import annotations

import argparse
import inspect
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import get_args

import numpy as np

from core.analysis import AnalysisParams, analyze
from core.brackets import liquidation_price
from core.clusters import find_clusters
from core.imbalance import compute_imbalance
from core.levels import EngineParams, SideSplit, long_shares, open_interest_change
from core.models import MarketSeries
from core.results import LiquidationMap, PriceGrid
from core.sim import SCENARIOS, simulate

WINDOW = 0.10  # Spearman and the imbalance ratio: bins within ±10 % of price
HIT_TOLERANCE = 0.005  # a true cluster is found if an estimated top-5 one is within ±0.5 %
TOP = 5
SATURATED = 0.01  # a long share within 1 % of all-short or all-long is clipped / saturated
_METRICS = ("spearman", "hit", "ratio_err")


def _ranks(x: np.ndarray) -> np.ndarray:
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    # average ranks of ties: the rank of value v is (#values < v) + (count(v) - 1) / 2
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out: np.ndarray = (below + (counts - 1) / 2.0)[inv]
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def _within(m: LiquidationMap, span: float) -> np.ndarray:
    c = m.grid.centers
    mask: np.ndarray = (c >= m.price * (1 - span)) & (c <= m.price * (1 + span))
    return mask


def naive_map(series: MarketSeries, grid: PriceGrid, params: EngineParams) -> LiquidationMap:
    """All open interest at the last price, half long, half short, over the default tiers."""
    price = series.last_price
    oi = series.open_interest
    last = float(oi[-1]) if oi is not None and np.isfinite(oi[-1]) else 0.0
    notional = last * price / 2.0
    lev = np.asarray(params.tiers.leverages, dtype=np.float64)
    wts = np.asarray(params.tiers.weights, dtype=np.float64)
    sides = {}
    for side in (1.0, -1.0):
        liq = np.asarray(
            liquidation_price(
                np.full(len(lev), price),
                lev,
                np.full(len(lev), side),
                params.position_notional,
                params.brackets,
            ),
            dtype=np.float64,
        )
        idx = grid.index(liq)
        inside = (idx >= 0) & (idx < grid.bins)
        sides[side] = np.bincount(idx[inside], notional * wts[inside], grid.bins).astype(float)
    return LiquidationMap(
        grid=grid,
        price=price,
        time=int(series.timestamps[-1]),
        long=sides[1.0],
        short=sides[-1.0],
    )


def compare(est: LiquidationMap, true: LiquidationMap) -> dict[str, float]:
    """Spearman per bin (±10 %), top-5 hit rate and est/true imbalance ratio of one map."""
    mask = _within(est, WINDOW)
    rho = spearman((est.long + est.short)[mask], (true.long + true.short)[mask])
    true_top = find_clusters(true, top=TOP)
    est_prices = np.array([c.price for c in find_clusters(est, top=TOP)])
    hits = sum(
        1
        for c in true_top
        if len(est_prices) and np.min(np.abs(est_prices / c.price - 1)) <= HIT_TOLERANCE
    )
    hit_rate = hits / len(true_top) if true_top else float("nan")
    ti = compute_imbalance(true, window=WINDOW).signed_ratio
    ei = compute_imbalance(est, window=WINDOW).signed_ratio
    ratio_err = ei / ti if 0 < ti < float("inf") else float("nan")
    return {"spearman": rho, "hit": hit_rate, "ratio_err": ratio_err}


def model_long_shares(series: MarketSeries, params: EngineParams) -> np.ndarray:
    """The model's long share per candle, passing whichever settings its split takes."""
    accepted = inspect.signature(long_shares).parameters
    extra = {
        key: getattr(params, attr)
        for key, attr in (("half_life_hours", "half_life_hours"), ("lean", "side_lean"))
        if key in accepted and hasattr(params, attr)
    }
    out: np.ndarray = long_shares(series, params.side_split, **extra)
    return out


def clipped_share(series: MarketSeries, params: EngineParams) -> float:
    """Share of the candles where open interest grew whose long share is saturated."""
    grew = open_interest_change(series) > 0
    if not grew.any():
        return float("nan")
    share = model_long_shares(series, params)[grew]
    return float(np.mean((share <= SATURATED) | (share >= 1.0 - SATURATED)))


def evaluate(job: tuple[str, int, tuple[SideSplit, ...]]) -> dict[str, dict[str, float]]:
    """Metrics of one (scenario, seed) for the naive map and the model with each split."""
    scenario, seed, splits = job
    market = simulate(scenario, seed=seed)
    snap = market.source_snapshot
    series = snap.series
    longs, shorts = snap.prints.per_candle(series.timestamps, 300_000)
    real = longs + shorts
    out: dict[str, dict[str, float]] = {}
    for split in splits:
        params = AnalysisParams(engine=EngineParams(side_split=split), cascade=False)
        a = analyze([snap], params)
        true = market.true_map(a.map.grid)
        row = compare(a.map, true)
        row["clipped"] = clipped_share(series, params.engine)
        est_real = a.realized.long + a.realized.short
        ok = real.std() > 0 and est_real.std() > 0
        row["prints_r"] = float(np.corrcoef(real, est_real)[0, 1]) if ok else 0.0
        out[split] = row
        if "naive" not in out:
            out["naive"] = compare(naive_map(series, a.map.grid, params.engine), true)
    return out


def _summary(rows: list[dict[str, float]]) -> dict[str, float]:
    errs = np.array([r["ratio_err"] for r in rows])
    out = {
        "spearman": float(np.nanmedian([r["spearman"] for r in rows])),
        "hit": float(np.nanmean([r["hit"] for r in rows])),
        "ratio_ok": float(np.mean((errs <= 1.5) & (errs >= 1 / 1.5))),
        "ratio_med": float(np.nanmedian(errs)) if np.isfinite(errs).any() else float("nan"),
    }
    for key in ("clipped", "prints_r"):
        if key in rows[0]:
            out[key] = float(np.nanmedian([r[key] for r in rows]))
    return out


def table(
    results: dict[str, list[dict[str, dict[str, float]]]], seeds: int, split: SideSplit
) -> None:
    print(
        f"\nestimated vs true map, {seeds} seeds per scenario, 2016 × 5m candles, "
        f"model side split '{split}' | naive: all OI at the last price, default tiers"
    )
    head = (
        f"{'scenario':<16}{'spearman':>9}{'top-5':>7}{'ratio ok':>9}{'est/true':>9}"
        f"{'clipped':>8}{'prints r':>9}  |{'naive sp':>9}{'top-5':>7}{'ratio ok':>9}"
        f"{'beats':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, runs in results.items():
        m = _summary([r[split] for r in runs])
        n = _summary([r["naive"] for r in runs])
        beats = sum(
            1
            for key in ("spearman", "hit", "ratio_ok")
            if np.nan_to_num(m[key], nan=-1.0) > np.nan_to_num(n[key], nan=-1.0)
        )
        print(
            f"{name:<16}{m['spearman']:>9.2f}{m['hit']:>7.0%}{m['ratio_ok']:>9.0%}"
            f"{m['ratio_med']:>9.2f}{m['clipped']:>8.0%}{m['prints_r']:>9.2f}  |"
            f"{n['spearman']:>9.2f}{n['hit']:>7.0%}{n['ratio_ok']:>9.0%}{beats:>5}/3"
        )
    print(
        "targets (every scenario): spearman >= 0.8, top-5 >= 70 %, ratio within ×1.5 >= 80 %; "
        "'beats': metrics where the model beats the naive map"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=tuple(SCENARIOS),
        help="scenario(s) to run (default: all of them)",
    )
    parser.add_argument(
        "--split",
        action="append",
        choices=get_args(SideSplit),
        help="model long/short split(s) to measure (default: the engine's default and taker)",
    )
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    t0 = time.perf_counter()
    names: list[str] = args.scenario or list(SCENARIOS)
    splits = tuple(dict.fromkeys(args.split or [EngineParams().side_split, "taker"]))
    jobs = [(name, seed, splits) for name in names for seed in range(1, args.seeds + 1)]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(evaluate, jobs, chunksize=1))
    results: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in names}
    for (name, _, _), row in zip(jobs, done, strict=True):
        results[name].append(row)
    for split in splits:
        table(results, args.seeds, split)
    print(f"({time.perf_counter() - t0:.0f} s, {len(jobs)} runs, {args.jobs} processes)")


if __name__ == "__main__":
    main()
