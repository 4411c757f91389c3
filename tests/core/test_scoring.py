"""Backtest metrics against slow, obviously correct references, and the scorecard."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.models import FloatArray, LiquidationPrints, MarketSeries, ModelError
from core.scoring import (
    BASELINES,
    CandleEstimates,
    RealLiquidations,
    aggregate_to_bars,
    bar_baselines,
    score,
)
from core.scoring_metrics import (
    average_ranks,
    cluster_hit_lift,
    log_pearson,
    partial_spearman,
    pearson,
    quantile_bins,
    spearman,
    top_precision,
)

MIN = 60_000
Metric = Callable[[FloatArray, FloatArray], float]

# ---------------------------------------------------------------- slow references


def ref_ranks(xs: list[float]) -> list[float]:
    """Average rank: 1 + (values below) + (other values equal) / 2."""
    return [1 + sum(y < x for y in xs) + (sum(y == x for y in xs) - 1) / 2 for x in xs]


def ref_pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy)


def ref_residuals(ys: list[float], xs: list[float]) -> list[float]:
    """Least squares y = a + b·x by the normal equations, solved by hand."""
    n = len(xs)
    sx, sy = sum(xs), sum(ys)
    sxx = sum(x * x for x in xs)
    sxy = sum(x * y for x, y in zip(xs, ys, strict=True))
    det = n * sxx - sx * sx
    b = (n * sxy - sx * sy) / det
    a = (sy - b * sx) / n
    return [y - (a + b * x) for x, y in zip(xs, ys, strict=True)]


def ref_top(xs: list[float], k: int) -> set[int]:
    threshold = sorted(xs, reverse=True)[k - 1]
    return {i for i, x in enumerate(xs) if x >= threshold}


def arr(xs: list[float]) -> np.ndarray:
    return np.asarray(xs, dtype=np.float64)


tied = st.lists(st.integers(0, 6).map(float), min_size=4, max_size=40)
spread = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=4, max_size=40)


def pairs(elements: st.SearchStrategy[float]) -> st.SearchStrategy[tuple[list[float], ...]]:
    return st.integers(4, 40).flatmap(
        lambda n: st.tuples(*(st.lists(elements, min_size=n, max_size=n) for _ in range(3)))
    )


def varied(xs: list[float]) -> bool:
    return len(set(xs)) > 1


# ---------------------------------------------------------------- property tests


@given(st.one_of(tied, spread))
def test_average_ranks_match_reference(xs: list[float]) -> None:
    np.testing.assert_allclose(average_ranks(arr(xs)), ref_ranks(xs))


@given(pairs(st.one_of(st.integers(0, 6).map(float), st.floats(0, 1e6))))
def test_spearman_and_pearson_match_reference(data: tuple[list[float], ...]) -> None:
    x, y, _ = data
    if not (varied(x) and varied(y)):
        assert math.isnan(spearman(arr(x), arr(y)))
        return
    expected = ref_pearson(ref_ranks(x), ref_ranks(y))
    assert spearman(arr(x), arr(y)) == pytest.approx(expected, abs=1e-9)
    assert pearson(arr(x), arr(y)) == pytest.approx(ref_pearson(x, y), abs=1e-7)
    logs = ref_pearson([math.log1p(v) for v in x], [math.log1p(v) for v in y])
    assert log_pearson(arr(x), arr(y)) == pytest.approx(logs, abs=1e-7)


@given(pairs(st.integers(0, 6).map(float)), st.sampled_from([0.05, 0.1, 0.25, 0.5]))
def test_top_precision_matches_reference(data: tuple[list[float], ...], fraction: float) -> None:
    x, y, _ = data
    got = top_precision(arr(x), arr(y), fraction)
    if not (varied(x) and varied(y)):
        assert math.isnan(got)
        return
    k = math.ceil(fraction * len(x))
    est, real = ref_top(x, k), ref_top(y, k)
    assert got == pytest.approx(len(est & real) / len(est))


@given(pairs(st.integers(0, 8).map(float)))
def test_partial_spearman_matches_least_squares(data: tuple[list[float], ...]) -> None:
    x, y, z = data
    got = partial_spearman(arr(x), arr(y), arr(z))
    if not (varied(x) and varied(y)):
        assert math.isnan(got)
        return
    rz = ref_ranks(z)
    if not varied(rz):  # a constant control leaves the plain Spearman
        assert got == pytest.approx(ref_pearson(ref_ranks(x), ref_ranks(y)), abs=1e-9)
        return
    ex, ey = ref_residuals(ref_ranks(x), rz), ref_residuals(ref_ranks(y), rz)
    if max(map(abs, ex)) < 1e-6 or max(map(abs, ey)) < 1e-6:
        assert math.isnan(got)
        return
    assert got == pytest.approx(ref_pearson(ex, ey), abs=1e-7)


@given(st.lists(st.floats(0, 100), min_size=1, max_size=40), st.integers(1, 5))
def test_quantile_bins_match_statistics(xs: list[float], q: int) -> None:
    cuts = statistics.quantiles(xs, n=q, method="inclusive") if q > 1 and len(xs) > 1 else []
    if len(xs) == 1:
        cuts = [xs[0]] * (q - 1)
    expected = [sum(c <= x for c in cuts) for x in xs]
    got = quantile_bins(arr(xs), q)
    # statistics and numpy interpolate the cut points in different float order
    close = [any(abs(x - c) < 1e-9 for c in cuts) for x in xs]
    assert [g for g, c in zip(got, close, strict=True) if not c] == [
        e for e, c in zip(expected, close, strict=True) if not c
    ]


@given(
    st.integers(12, 40).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0, 1e5), min_size=n, max_size=n),
            st.lists(st.booleans(), min_size=n, max_size=n),
            st.lists(st.integers(0, 3).map(float), min_size=n, max_size=n),
            st.lists(st.integers(0, 3).map(float), min_size=n, max_size=n),
        )
    )
)
def test_cluster_hit_lift_matches_reference(data: tuple[list[float], ...]) -> None:
    real, hit, rng, vol = data
    got = cluster_hit_lift(arr(real), np.array(hit), arr(rng), arr(vol), quantiles=2, min_hits=3)
    strata = quantile_bins(arr(rng), 2) * 2 + quantile_bins(arr(vol), 2)
    ratios, weights = [], []
    for s in sorted(set(strata.tolist())):
        h = [r for r, hh, ss in zip(real, hit, strata, strict=True) if ss == s and hh]
        m = [r for r, hh, ss in zip(real, hit, strata, strict=True) if ss == s and not hh]
        if h and m and sum(m) > 0:
            ratios.append((sum(h) / len(h)) / (sum(m) / len(m)))
            weights.append(len(h))
    assert got.hits == sum(hit)
    if sum(hit) < 3 or sum(weights) < 3:
        assert math.isnan(got.value)
        assert got.reason
        return
    expected = sum(r * w for r, w in zip(ratios, weights, strict=True)) / sum(weights)
    assert got.value == pytest.approx(expected, rel=1e-9)
    assert got.matched == sum(weights)
    assert got.strata == len(ratios)


# ---------------------------------------------------------------- hand cases


def test_perfect_reversed_and_tied() -> None:
    x = arr([1, 2, 3, 4, 5])
    assert spearman(x, x * 10) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert log_pearson(x, x) == pytest.approx(1.0)
    np.testing.assert_array_equal(average_ranks(arr([3, 1, 3, 3])), [3, 1, 3, 3])
    assert spearman(arr([1, 1, 2, 2]), arr([1, 1, 2, 2])) == pytest.approx(1.0)
    big = np.arange(100.0)
    assert top_precision(big, big) == 1.0
    assert top_precision(big, -big) == 0.0


@pytest.mark.parametrize(
    "fn", [pearson, spearman, log_pearson, lambda x, y: top_precision(x, y, 0.5)]
)
def test_constant_or_short_input_is_nan_without_warning(fn: Metric) -> None:
    assert math.isnan(fn(np.full(5, 0.1), arr([1, 2, 3, 4, 5])))
    assert math.isnan(fn(arr([1, 2, 3, 4, 5]), np.zeros(5)))
    assert math.isnan(fn(arr([1, 2]), arr([2, 1])))


def test_partial_spearman_hand_cases() -> None:
    z = np.arange(20.0)
    assert math.isnan(partial_spearman(z, z, z))  # nothing beyond the control
    noise = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4], float)
    # the model knows the part of real the control does not
    assert partial_spearman(noise, z + 3 * noise, z) > 0.9
    assert partial_spearman(-noise, z + 3 * noise, z) < -0.9


def test_lift_hand_case_and_too_few_hits() -> None:
    rng = np.tile([0.0, 1.0], 10)
    vol = np.repeat([0.0, 1.0], 10)
    hit = np.tile([True, False, False, False], 5)
    real = np.where(hit, 3.0, 1.0) * (1 + rng + vol)  # ×3 in every stratum
    lift = cluster_hit_lift(real, hit, rng, vol, quantiles=2, min_hits=3)
    assert lift.value == pytest.approx(3.0)
    assert (lift.hits, lift.matched) == (5, 5)
    few = cluster_hit_lift(real, hit & (np.arange(20) < 4), rng, vol, min_hits=5)
    assert math.isnan(few.value)
    assert few.reason == "only 1 hit bars (need 5)"
    assert few.to_dict()["value"] is None


# ---------------------------------------------------------------- bars and scorecard


def candles(n: int, seed: int = 1) -> MarketSeries:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    ts = np.arange(n, dtype=np.int64) * MIN
    return MarketSeries(ts, open_, high, low, close, rng.uniform(10, 100, n))


def test_aggregate_sums_candles_and_drops_warm_up() -> None:
    bars = RealLiquidations(
        np.array([0, 2, 4]) * MIN, np.array([2, 4, 6]) * MIN, np.ones(3), np.ones(3)
    )
    est = CandleEstimates(
        np.arange(1, 6) * MIN, arr([1, 2, 3, 4, 5]), arr([10, 20, 30, 40, 50]),
        hit_long=np.array([False, False, True, False, False]),
    )  # fmt: skip
    out = aggregate_to_bars(est, bars)
    np.testing.assert_array_equal(out.included, [True, True, True])
    np.testing.assert_array_equal(out.long_usd, [1, 5, 9])
    np.testing.assert_array_equal(out.short_usd, [10, 50, 90])
    assert out.hit_long is not None
    np.testing.assert_array_equal(out.hit_long, [False, True, False])
    assert out.hit_short is None
    whole = aggregate_to_bars(est, bars, candle_ms=MIN)
    np.testing.assert_array_equal(whole.included, [False, True, True])
    assert math.isnan(whole.long_usd[0])


def test_bar_baselines_by_hand() -> None:
    s = MarketSeries(
        np.arange(4) * MIN, arr([100, 102, 98, 97]), arr([103, 104, 99, 99]),
        arr([99, 101, 96, 95]), arr([102, 103, 97, 98]), arr([1, 2, 3, 4]),
    )  # fmt: skip
    bars = RealLiquidations(np.array([0, 2]) * MIN, np.array([2, 4]) * MIN, np.ones(2), np.ones(2))
    b = bar_baselines(s, bars)
    assert set(b) == set(BASELINES)
    np.testing.assert_allclose(b["range"], [(104 - 99) / 100, (99 - 95) / 98])
    np.testing.assert_allclose(b["abs_return"], [3 / 100, 0])
    np.testing.assert_allclose(b["volume"], [3, 7])
    np.testing.assert_allclose(b["down_move_x_volume"], [1 / 100 * 3, 3 / 98 * 7])
    np.testing.assert_allclose(b["up_move_x_volume"], [4 / 100 * 3, 1 / 98 * 7])


def test_real_liquidations_validation_and_from_prints() -> None:
    with pytest.raises(ModelError, match="bar 1 opens before bar 0 closes"):
        RealLiquidations(arr([0, 1]).astype(int), arr([2, 3]).astype(int), np.ones(2), np.ones(2))
    with pytest.raises(ModelError, match="long_usd: value at index 0 must be finite and >= 0"):
        RealLiquidations(np.array([0]), np.array([1]), arr([-1]), arr([0]))
    prints = LiquidationPrints(np.array([5, MIN + 1]), np.array([1, -1]), arr([1, 1]), arr([2, 3]))
    real = RealLiquidations.from_prints(prints, np.array([0, MIN]), MIN)
    np.testing.assert_array_equal(real.long_usd, [2, 0])
    np.testing.assert_array_equal(real.short_usd, [0, 3])
    np.testing.assert_array_equal(real.close_ms, [MIN, 2 * MIN])


def test_scorecard_end_to_end() -> None:
    n = 400
    s = candles(n)
    base = bar_baselines(
        s, RealLiquidations(s.timestamps, s.timestamps + MIN, np.ones(n), np.ones(n))
    )
    real = RealLiquidations(
        s.timestamps, s.timestamps + MIN, base["down_move_x_volume"] * 1e3,
        base["up_move_x_volume"] * 1e3,
    )  # fmt: skip
    warm = 40
    ts = s.timestamps[warm:]
    hit = np.zeros(n - warm, np.bool_)
    hit[::7] = True
    model = CandleEstimates(
        ts, real.long_usd[warm:] * 2, real.short_usd[warm:] * 2, hit_long=hit, hit_short=hit
    )
    rng = np.random.default_rng(2)
    placebo = CandleEstimates(ts, rng.uniform(0, 1, n - warm), rng.uniform(0, 1, n - warm))
    card = score(real, {"model": model, "placebo": placebo}, s, candle_ms=MIN)
    assert (card.bars, card.real_bars) == (n - warm, n)
    assert card.best_baseline["long"] == "down_move_x_volume"
    assert card.best_baseline["short"] == "up_move_x_volume"
    m = card.get("model")
    assert m.long.spearman == pytest.approx(1.0)
    assert m.long.total_ratio == pytest.approx(2.0)
    assert m.long.lift is not None
    assert m.long.lift.hits == hit.sum()
    assert math.isnan(m.long.partial_spearman)  # the model *is* the best baseline here
    assert abs(card.get("placebo").total.spearman) < 0.2
    assert card.get("placebo").long.lift is None
    doc = card.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["sets"]["model"]["long"]["spearman"] == pytest.approx(1.0)
    assert doc["sets"]["model"]["long"]["partial_spearman"] is None
    assert doc["sets"]["range"]["kind"] == "baseline"
    md = card.to_markdown()
    assert f"Scored on **{n - warm} bars** (of {n} real bars)" in md
    assert f"## long (n = {n - warm})" in md
    assert "| model | 1.000 |" in md
    assert "| down-move × volume * |" in md
    assert "40 of 400 real bars left out" in md


def test_score_rejects_bad_names() -> None:
    s = candles(10)
    real = RealLiquidations(s.timestamps, s.timestamps + MIN, np.ones(10), np.ones(10))
    est = CandleEstimates(s.timestamps, np.ones(10), np.ones(10))
    with pytest.raises(ModelError, match="taken by baselines"):
        score(real, {"volume": est}, s)
    with pytest.raises(ModelError, match="at least one"):
        score(real, {}, s)
