"""How many scored hours the live scorecard needs before ``/accuracy`` judges
(``python bench/scorecard_chance.py``): the figures behind
:data:`core.livescore_view.MIN_HOURS` and :data:`~core.livescore_view.CHANCE_BAND`.

Three synthetic scenarios (``seed``, ``churn``, ``independent``), six weeks of 5m candles each.
Every hour is scored (:func:`core.livescore.score_hour`) against the market's *true* map at
the hour's start and against the same map with its bins *shuffled* (no information at all).
For windows of n consecutive hours with liquidations of a side, the pooled lift over chance
is printed as its 5th–95th percentile: the spread of chance, and the true map's low end.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from core.livescore import HourScore, score_hour, summarise
from core.models import LiquidationPrints
from core.results import PriceGrid
from core.sim import simulate

SCENARIOS = (("seed", 7), ("churn", 3), ("independent", 5))
WINDOWS = (6, 12, 24, 48)
CANDLES = 2016 * 6


def _scores(
    scenario: str, seed: int
) -> tuple[list[tuple[HourScore, HourScore]], list[tuple[HourScore, HourScore]]]:
    m = simulate(scenario, seed=seed, candles=CANDLES)
    s, p = m.series, m.snapshot.prints
    rng = np.random.default_rng(1)
    true, shuffled = [], []
    for h in range(12, len(s) // 12 - 1):
        i = h * 12 - 1
        price = float(s.close[i])
        grid = PriceGrid.around(price * 0.85, price * 1.15, 400)
        start = int(s.timestamps[i]) + 300_000
        keep = (p.times >= start) & (p.times < start + 3_600_000)
        hour = LiquidationPrints(p.times[keep], p.sides[keep], p.prices[keep], p.notionals[keep])
        high, low = float(s.high[i + 1 : i + 13].max()), float(s.low[i + 1 : i + 13].min())
        tm = m.true_map(grid, i)
        true.append(score_hour(grid.edges, tm.price, tm.long, tm.short, [], hour, high, low))
        long, short = rng.permutation(tm.long), rng.permutation(tm.short)
        shuffled.append(score_hour(grid.edges, tm.price, long, short, [], hour, high, low))
    return true, shuffled


def main() -> None:
    print(f"pooled lift over chance, windows of n hours with liquidations ({CANDLES} 5m candles)")
    print(
        f"{'scenario':<12}{'side':<7}{'n':>4}  {'shuffled p5–p95':>16}  {'true p5':>8}  {'true median':>11}"
    )
    for scenario, seed in SCENARIOS:
        true, shuffled = _scores(scenario, seed)
        for j, side in enumerate(("long", "short")):
            t = [x[j] for x in true]
            s = [x[j] for x in shuffled]
            idx = [k for k, x in enumerate(s) if np.isfinite(x.top_share)]
            for n in WINDOWS:
                chance, real = [], []
                for a in range(0, len(idx) - n, max(1, n // 4)):
                    sel = idx[a : a + n]
                    chance.append(summarise(side, [s[k] for k in sel]).lift)
                    real.append(summarise(side, [t[k] for k in sel]).lift)
                if not chance:
                    continue
                lo, hi = np.percentile(chance, [5, 95])
                print(
                    f"{scenario:<12}{side:<7}{n:>4}  {lo:>7.2f} – {hi:<6.2f}  "
                    f"{np.percentile(real, 5):>8.2f}  {np.median(real):>11.2f}"
                )


if __name__ == "__main__":
    main()
