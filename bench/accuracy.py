"""Accuracy of the estimated liquidation map against the synthetic market's ground truth.

For every scenario × seed: simulate a week of 5m candles, run the analysis on the series
(the engine sees only what an exchange would publish: OHLCV, taker-buy volume, open
interest, funding, long/short ratio), and compare with the positions the simulator really
holds at the last candle, binned on the same grid:

* **Spearman** rank correlation of per-bin notional (long + short) within ±20 % of price;
* **top-5 hit rate**: share of the true map's top-5 clusters with an estimated cluster
  (top 10) within ±0.5 % of its price;
* **ratio**: estimated short-above / long-below (±10 %) over the true one; target within ×1.5;
* **prints r**: Pearson correlation of the estimated realised-liquidation series with the
  simulator's forced closes (its "liquidation prints") per candle — the real-data check,
  since ../shared/data holds no real liquidation prints.

Run: ``python bench/accuracy.py [--seeds 20] [--split flow --split taker]``. Prints a table per scenario.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from core.analysis import AnalysisParams, analyze
from core.clusters import find_clusters
from core.imbalance import compute_imbalance
from core.levels import EngineParams
from core.results import LiquidationMap
from core.sim import SCENARIOS, simulate


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    # average ties
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts))
    np.add.at(sums, inv, ranks)
    out: np.ndarray = (sums / counts)[inv]
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def _within(m: LiquidationMap, span: float) -> np.ndarray:
    c = m.grid.centers
    mask: np.ndarray = (c >= m.price * (1 - span)) & (c <= m.price * (1 + span))
    return mask


def evaluate(scenario: str, seed: int, split: str) -> dict[str, float]:
    market = simulate(scenario, seed=seed)
    params = AnalysisParams(engine=EngineParams(side_split=split), cascade=False)  # type: ignore[arg-type]
    a = analyze([market.snapshot], params)
    est = a.map
    true = market.true_map(est.grid)
    mask = _within(est, 0.20)
    rho = spearman((est.long + est.short)[mask], (true.long + true.short)[mask])
    true_top = find_clusters(true, top=5)
    est_top = find_clusters(est, top=10)
    est_prices = np.array([c.price for c in est_top])
    hits = sum(
        1 for c in true_top if len(est_prices) and np.min(np.abs(est_prices / c.price - 1)) <= 0.005
    )
    hit_rate = hits / len(true_top) if true_top else float("nan")
    ti = compute_imbalance(true, window=0.10)
    ei = a.imbalance
    ratio_err = ei.signed_ratio / ti.signed_ratio if ti.signed_ratio > 0 else float("nan")
    series = market.snapshot.series
    longs, shorts = market.snapshot.prints.per_candle(series.timestamps, 300_000)
    real = longs + shorts
    est_real = a.realized.long + a.realized.short
    prints_r = float(np.corrcoef(real, est_real)[0, 1]) if real.std() and est_real.std() else 0.0
    return {
        "spearman": rho,
        "hit": hit_rate,
        "ratio_err": ratio_err,
        "true_ratio": ti.signed_ratio,
        "est_ratio": ei.signed_ratio,
        "prints_r": prints_r,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--split",
        action="append",
        choices=("flow", "taker", "candle", "ratio"),
        help="long/short split(s) to measure (default: flow, the engine's default, and taker)",
    )
    args = parser.parse_args()
    for split in args.split or ["flow", "taker"]:
        table(args.seeds, split)


def table(seeds: int, split: str) -> None:
    t0 = time.perf_counter()
    print(
        f"\nestimated vs true map, {seeds} seeds per scenario, 2016 × 5m candles, "
        f"side split '{split}'"
    )
    head = (
        f"{'scenario':<15}{'spearman':>9}{'top5 hit':>10}{'ratio within x1.5':>19}"
        f"{'median est/true ratio':>23}{'prints r':>10}"
    )
    print(head)
    print("-" * len(head))
    for name in SCENARIOS:
        rows = [evaluate(name, seed, split) for seed in range(1, seeds + 1)]
        rho = np.nanmedian([r["spearman"] for r in rows])
        hit = np.nanmean([r["hit"] for r in rows])
        errs = np.array([r["ratio_err"] for r in rows])
        ok = np.mean((errs <= 1.5) & (errs >= 1 / 1.5))
        pr = np.nanmedian([r["prints_r"] for r in rows])
        print(f"{name:<15}{rho:>9.2f}{hit:>10.0%}{ok:>19.0%}{np.nanmedian(errs):>23.2f}{pr:>10.2f}")
    print("targets: spearman >= 0.8, top-5 hit >= 80 %, ratio within ×1.5 of truth")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
