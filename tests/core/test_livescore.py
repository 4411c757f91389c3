"""The live scorecard on a simulated market whose true map is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.livescore import HourScore, score_hour, summarise, unscored
from core.models import LiquidationPrints, Side
from core.results import PriceGrid
from core.sim import SimMarket, simulate


@pytest.fixture(scope="module")
def market() -> SimMarket:
    return simulate("seed", seed=7, candles=2016)


def _hour(m: SimMarket, h: int) -> tuple[int, PriceGrid, LiquidationPrints, float, float]:
    """Candle index closing hour ``h``, a grid, and the next hour's prints, high and low."""
    s, p = m.series, m.snapshot.prints
    i = h * 12 - 1
    price = float(s.close[i])
    grid = PriceGrid.around(price * 0.85, price * 1.15, 400)
    start = int(s.timestamps[i]) + 300_000
    keep = (p.times >= start) & (p.times < start + 3_600_000)
    prints = LiquidationPrints(p.times[keep], p.sides[keep], p.prices[keep], p.notionals[keep])
    return i, grid, prints, float(s.high[i + 1 : i + 13].max()), float(s.low[i + 1 : i + 13].min())


def _score_all(m: SimMarket, maps: str, seed: int = 1) -> list[tuple[HourScore, HourScore]]:
    rng = np.random.default_rng(seed)
    out = []
    for h in range(12, 2016 // 12):
        i, grid, prints, high, low = _hour(m, h)
        tm = m.true_map(grid, i)
        long, short = tm.long, tm.short
        if maps == "shuffled":
            long, short = rng.permutation(long), rng.permutation(short)
        out.append(score_hour(grid.edges, tm.price, long, short, [], prints, high, low))
    return out


def test_a_map_of_the_prints_themselves_scores_the_maximum(market: SimMarket) -> None:
    checked = 0
    for h in range(12, 2016 // 12 - 1):
        _, grid, prints, high, low = _hour(market, h)
        idx = grid.index(prints.prices)
        ok = (idx >= 0) & (idx < grid.bins)
        perfect = [
            np.bincount(
                idx[ok & (prints.sides == side)],
                prints.notionals[ok & (prints.sides == side)],
                grid.bins,
            ).astype(float)
            for side in (Side.LONG, Side.SHORT)
        ]
        price = float(market.series.close[h * 12 - 1])
        for score in score_hour(grid.edges, price, perfect[0], perfect[1], [], prints, high, low):
            if score.real_usd > 0 and score.bins >= 4:
                checked += 1
                assert score.top_share == pytest.approx(score.best_share)
                assert score.top_share >= score.chance_share
                assert score.spearman == pytest.approx(1.0)  # ranks the bins exactly
    assert checked >= 3  # the maximum was reached on hours that had something to rank


def test_the_true_map_beats_chance_and_a_shuffled_one_scores_chance(market: SimMarket) -> None:
    true, shuffled = _score_all(market, "true"), _score_all(market, "shuffled")
    for j, side in enumerate(("long", "short")):
        t = summarise(side, [x[j] for x in true])
        s = summarise(side, [x[j] for x in shuffled])
        assert t.hours_with_liquidations >= 30
        assert t.lift > 1.6 and t.spearman > 0.7
        assert t.top_share >= 0.8 * t.best_share
        assert s.lift == pytest.approx(1.0, abs=0.25)
        assert abs(s.spearman) < 0.15
        assert s.chance_share == pytest.approx(t.chance_share)


def test_reached_clusters_with_prints_nearby_are_hits() -> None:
    grid = PriceGrid.around(90.0, 110.0, 40)
    long = np.zeros(40)
    short = np.zeros(40)
    prints = LiquidationPrints(
        times=np.array([1, 2]),
        sides=np.array([Side.LONG, Side.SHORT], dtype=np.int8),
        prices=np.array([97.0, 104.0]),
        notionals=np.array([1e6, 2e6]),
    )
    clusters = [(Side.LONG, 97.2), (Side.LONG, 92.0), (Side.SHORT, 104.3), (Side.SHORT, 108.0)]
    lg, sh = score_hour(grid.edges, 100.0, long, short, clusters, prints, high=105.0, low=96.0)
    assert (lg.reached, lg.hits) == (1, 1)  # 92 not reached
    assert (sh.reached, sh.hits) == (1, 1)  # 108 not reached
    assert lg.real_usd == 1e6 and sh.real_usd == 2e6
    assert sh.base_reached == 4  # levels at +1 %…+4 %; +4 % (104.08) had the print
    assert sh.base_hits == 1


def test_feed_down_hours_are_counted_not_scored_as_zero() -> None:
    grid = PriceGrid.around(90.0, 110.0, 40)
    est = np.linspace(1, 2, 40)
    prints = LiquidationPrints(
        times=np.array([1]),
        sides=np.array([Side.LONG], dtype=np.int8),
        prices=np.array([98.0]),
        notionals=np.array([5e5]),
    )
    scored, _ = score_hour(grid.edges, 100.0, est, est, [], prints, 101.0, 97.0)
    down = unscored("long", "feed_down")
    summary = summarise("long", [scored, down, down])
    assert summary.hours == 1 and summary.feed_down_hours == 2
    assert summary.real_usd == 5e5
    assert summary.top_share == scored.top_share  # the down hours did not dilute it
    empty = summarise("long", [down])
    assert empty.hours == 0 and math.isnan(empty.lift) and math.isnan(empty.hit_rate)
