"""The alert rules table on crafted analyses: transitions, hysteresis, both sides, inputs."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from bot.config.settings import AlertSettings
from bot.notify.alerts import (
    RULE_NAMES,
    RULES,
    AlertEvent,
    AlertInputs,
    RuleState,
    evaluate,
    merge_prints,
    rule_params,
    summed_open_interest,
)
from core.models import LiquidationPrints, MarketSeries, Side
from core.results import Analysis, Cluster, DangerZone, Imbalance
from tests.core.chart_fixtures import btc_analysis

DEFAULTS = AlertSettings()
STEP = 300_000


@functools.cache
def _base() -> Analysis:
    return btc_analysis()


def crafted(step: int, **changes: object) -> Analysis:
    """The fixture analysis moved to candle ``step`` with ``changes`` applied."""
    base = _base()
    return dataclasses.replace(base, as_of=base.as_of + step * STEP, **changes)  # type: ignore[arg-type]


def with_ratio(step: int, short_above: float, long_below: float) -> Analysis:
    price = _base().price
    return crafted(step, imbalance=Imbalance(price, 0.1, short_above, long_below, ()))


def run(
    rule: str,
    analyses: list[Analysis],
    *,
    prints: LiquidationPrints | None = None,
    series: MarketSeries | None = None,
) -> list[AlertEvent | None]:
    """Evaluate ``rule`` over a sequence of analyses, threading the state through."""
    kind = RULES[rule]
    state, events = RuleState(), []
    for a in analyses:
        state, event = evaluate(
            kind,
            AlertInputs(a, "binanceusdm", prints, series),
            state,
            rule_params(kind, DEFAULTS),
        )
        events.append(event)
    return events


def fired(events: list[AlertEvent | None]) -> list[int]:
    return [i for i, e in enumerate(events) if e is not None]


def test_rule_table_is_complete_and_reads_the_settings() -> None:
    assert set(RULE_NAMES) == {"imbalance", "cluster", "cascade", "prints", "oi"}
    for kind in RULES.values():
        params = rule_params(kind, DEFAULTS)
        assert kind.threshold in params
        assert rule_params(kind, DEFAULTS, 0.123)[kind.threshold] == 0.123
    assert rule_params(RULES["imbalance"], DEFAULTS) == {"ratio": 5.0, "hysteresis": 0.8}


def test_imbalance_fires_once_per_crossing_with_hysteresis() -> None:
    # ratios: 2, 6 (fire), 7, 4.5 (inside the band 4..5: stays fired), 6, 3.9 (re-arm), 5 (fire)
    ratios = [2.0, 6.0, 7.0, 4.5, 6.0, 3.9, 5.0]
    events = run("imbalance", [with_ratio(i, r * 1e9, 1e9) for i, r in enumerate(ratios)])
    assert fired(events) == [1, 6]
    first = events[1]
    assert first is not None
    assert first.numbers["ratio"] == pytest.approx(6.0)
    assert first.numbers["heavy"] == "shorts above"
    assert first.transition == _base().as_of + STEP
    assert first.chart == "card"


def test_imbalance_fires_on_either_side() -> None:
    events = run("imbalance", [with_ratio(0, 1e9, 1e9), with_ratio(1, 1e9, 8e9)])
    assert fired(events) == [1]
    assert events[1] is not None and events[1].numbers["heavy"] == "longs below"


def test_imbalance_threshold_override() -> None:
    kind = RULES["imbalance"]
    inputs = AlertInputs(with_ratio(0, 6e9, 1e9), "okx")
    _, event = evaluate(kind, inputs, RuleState(), rule_params(kind, DEFAULTS, 8.0))
    assert event is None
    _, event = evaluate(kind, inputs, RuleState(), rule_params(kind, DEFAULTS, 5.5))
    assert event is not None and event.exchange == "okx"


def test_fixture_imbalance_fires_at_the_default() -> None:
    assert _base().imbalance.ratio > DEFAULTS.imbalance_ratio  # the seed post's ~14:1
    assert fired(run("imbalance", [_base()])) == [0]


def _cluster_at(price: float, distance: float) -> Cluster:
    at = price * (1 + distance)
    return Cluster(Side.SHORT, at, 1e9, 2e8, 1e8, at * 0.999, at * 1.001)


def test_cluster_fires_near_the_top_cluster_and_rearms_when_away() -> None:
    price = _base().price
    far = (_cluster_at(price, 0.05),)
    seq = [
        crafted(0, clusters=far, zones=()),
        crafted(1, clusters=(_cluster_at(price, 0.005),), zones=()),
        crafted(2, clusters=(_cluster_at(price, 0.004),), zones=()),
        crafted(3, clusters=far, zones=()),
        crafted(4, clusters=(_cluster_at(price, -0.009),), zones=()),
    ]
    events = run("cluster", seq)
    assert fired(events) == [1, 4]
    assert events[4] is not None
    assert events[4].numbers["distance"] == pytest.approx(-0.009)


def test_cluster_only_the_top_cluster_counts_but_a_zone_around_price_fires() -> None:
    price = _base().price
    small_near = Cluster(Side.LONG, price * 0.998, 1e6, 1e5, 1e5, price * 0.997, price * 0.999)
    big_far = _cluster_at(price, 0.08)
    zone = DangerZone(Side.SHORT, price * 0.99, price * 1.02, 5e9, price * 1.01)
    events = run(
        "cluster",
        [
            crafted(0, clusters=(small_near, big_far), zones=()),
            crafted(1, clusters=(small_near, big_far), zones=(zone,)),
        ],
    )
    assert fired(events) == [1]
    assert events[1] is not None and events[1].numbers["zone_side"] == "short"


def test_cascade_needs_a_close_push_and_r_above_threshold() -> None:
    base = _base()
    up = base.cascade_up
    assert up is not None
    price = base.price

    def cascade(push: float, r: float) -> Analysis:
        c = dataclasses.replace(up, push_price=price * (1 + push), r_ratio=r)
        return crafted(0, cascade_up=c, cascade_down=None)

    def one(a: Analysis) -> bool:
        kind = RULES["cascade"]
        _, event = evaluate(kind, AlertInputs(a, "x"), RuleState(), rule_params(kind, DEFAULTS))
        return event is not None

    assert one(cascade(0.02, 1.5))
    assert not one(cascade(0.05, 1.5))  # too far: proximity 3 %
    assert not one(cascade(0.02, 0.9))  # damped: R <= 1
    # fixture: up push 5 % away (R 1.8), down push 3 % (R 0.4) → nothing within defaults
    assert not one(base)


def _prints(times: list[int], notionals: list[float]) -> LiquidationPrints:
    n = len(times)
    return LiquidationPrints(
        times=np.array(times, dtype=np.int64),
        sides=np.array([1 if i % 2 else -1 for i in range(n)], dtype=np.int8),
        prices=np.full(n, 90_000.0),
        notionals=np.array(notionals, dtype=np.float64),
    )


def test_prints_burst_sums_only_the_window_before_the_last_candle() -> None:
    a = _base()
    end = a.as_of + STEP
    window = DEFAULTS.prints_window
    inside = [end - window + 1, end - 1_000]
    outside = [end - window - 1, end + 1]  # before the window, and after the last candle
    big = _prints([outside[0], *inside, outside[1]], [9e9, 3e6, 2.5e6, 9e9])
    (event,) = run("prints", [a], prints=big)
    assert event is not None
    assert event.numbers["burst"] == pytest.approx(5.5e6)
    assert event.numbers["count"] == 2
    small = _prints(inside, [3e6, 1e6])
    assert run("prints", [a], prints=small) == [None]
    assert run("prints", [a], prints=None) == [None]  # no prints: no opinion


def _series(oi: list[float]) -> MarketSeries:
    n = len(oi)
    ones = np.ones(n)
    return MarketSeries(
        timestamps=np.arange(n, dtype=np.int64) * STEP,
        open=ones,
        high=ones,
        low=ones,
        close=ones,
        volume=ones,
        open_interest=np.array(oi),
    )


def test_oi_change_over_the_window_either_direction() -> None:
    # one hour = 12 candles: compares the last value with the one 12 candles earlier
    flat = [100.0] * 13
    rising = [100.0] * 12 + [106.0]
    falling = [100.0] * 12 + [94.0]
    small = [100.0] * 12 + [104.0]
    a = _base()
    for oi, fires in ((flat, False), (rising, True), (falling, True), (small, False)):
        (event,) = run("oi", [a], series=_series(oi))
        assert (event is not None) is fires
    (event,) = run("oi", [a], series=_series(falling))
    assert event is not None and event.numbers["change"] == pytest.approx(-0.06)
    assert run("oi", [a], series=None) == [None]


def test_event_key_and_json_round_trip() -> None:
    (event,) = run("imbalance", [_base()])
    assert event is not None
    assert AlertEvent.from_json(event.to_json()) == event
    assert event.key("telegram", "-100") != event.key("telegram", "-101")


# --- one market on several venues ---------------------------------------------------------


def _prints(times: list[int], notional: float) -> LiquidationPrints:
    n = len(times)
    return LiquidationPrints(
        times=np.array(times, np.int64),
        sides=np.full(n, int(Side.LONG), np.int8),
        prices=np.full(n, 100.0),
        notionals=np.full(n, notional),
    )


def _oi_series(times: list[int], oi: list[float] | None) -> MarketSeries:
    n = len(times)
    ones = np.ones(n)
    return MarketSeries(
        timestamps=np.array(times, np.int64),
        open=ones,
        high=ones,
        low=ones,
        close=ones,
        volume=ones,
        open_interest=None if oi is None else np.array(oi),
    )


def test_merged_prints_are_time_sorted_and_keep_every_print() -> None:
    a, b = _prints([1, 5, 9], 10.0), _prints([2, 5, 7], 3.0)
    merged = merge_prints([a, b])
    assert merged is not None
    assert merged.times.tolist() == [1, 2, 5, 5, 7, 9]
    assert merged.notionals.sum() == a.notionals.sum() + b.notionals.sum()
    assert merge_prints([a]) is a and merge_prints([]) is None


def test_open_interest_is_summed_on_common_candles_and_a_gap_stays_a_gap() -> None:
    a = _oi_series([0, 1, 2, 3], [10.0, 11.0, float("nan"), 13.0])
    b = _oi_series([1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0])
    no_oi = _oi_series([0, 1, 2, 3, 4], None)  # a venue without OI is left out, not a zero
    total = summed_open_interest([a, no_oi, b])
    assert total is not None and total.open_interest is not None
    assert total.timestamps.tolist() == [1, 2, 3]
    assert total.open_interest[0] == 12.0 and total.open_interest[2] == 16.0
    assert np.isnan(total.open_interest[1])
    assert summed_open_interest([no_oi]) is None and summed_open_interest([b]) is b
