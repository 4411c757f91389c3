"""The scheduler with several venues of one market: one alert per symbol on the aggregated
market, a failing venue deferred and served from cache, a venue with no data left out."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analysis.service import MarketService
from bot.market.errors import ExchangeUnavailable
from bot.market.refresh import refresh_series
from bot.market.sim_source import SimSource
from bot.notify.alerts import RULES, AlertInputs, evaluate, rule_params
from bot.notify.scheduler import Scheduler
from bot.reply import RANGES
from bot.state.records import RuleState
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.scheduling import (
    BTC,
    MINUTE,
    NO_COOLDOWN,
    FakeClock,
    FakeOutlet,
)

VENUES = ("binanceusdm", "bybit")


class VenueRefresh:
    """The real refresh for the scheduler and the service; venues in ``down`` answer 503."""

    def __init__(self, sources: dict[str, SimSource]) -> None:
        self.names = {id(source): name for name, source in sources.items()}
        self.down: set[str] = set()
        self.calls: list[str] = []

    async def __call__(self, source: Any, *args: Any) -> object:
        name = self.names[id(source)]
        self.calls.append(name)
        if name in self.down:
            raise ExchangeUnavailable(f"{name}: 503 Service Unavailable")
        return await refresh_series(source, *args)


def two_venues(
    clock: FakeClock, store: Store | None = None, **kw: Any
) -> tuple[Scheduler, Subscriptions, FakeOutlet, VenueRefresh]:
    """Two sim venues of one BTC market with different positioning (scenarios)."""
    sources = {
        VENUES[0]: SimSource(candles=300),
        VENUES[1]: SimSource(candles=300, scenario="long-heavy"),
    }
    for name, source in sources.items():
        source.name = name  # the store keys a venue's data by its name
    refresh = VenueRefresh(sources)
    store = store or Store(":memory:")
    service = MarketService(
        sources, store, clock=clock, lookback_ms=2 * 86_400_000, refresh=refresh
    )
    subs = Subscriptions(store)
    outlet = FakeOutlet()
    scheduler = Scheduler(
        service,
        subs,
        [outlet],
        alert_settings=NO_COOLDOWN,
        clock=clock,
        sleep=clock.sleep,
        range_=RANGES[0],
        attach_charts=False,
        refresh=refresh,
        **kw,
    )
    return scheduler, subs, outlet, refresh


async def test_both_venues_crossing_make_one_alert_per_chat_with_the_aggregated_numbers() -> None:
    clock = FakeClock()
    scheduler, subs, outlet, _ = two_venues(clock)
    for chat in ("1", "2"):
        subs.subscribe("telegram", chat, BTC, ["imbalance", "prints", "oi"])
        subs.set_setting("telegram", chat, "imbalance", "on", 1.0)  # ratio >= 1: both cross
        subs.set_setting("telegram", chat, "prints", "on", 1.0)  # any reported liquidation
        subs.set_setting("telegram", chat, "oi", "on", 0.0)  # any finite OI change
    updates = await scheduler.run_once()
    assert sorted(u.exchange for u in updates) == sorted(VENUES)  # hooks still get each venue

    agg = await scheduler.service.view(BTC, RANGES[0], "all")
    assert agg.exchanges == VENUES
    per_venue = {u.exchange: u.view.analysis for u in updates}
    assert all(a.imbalance.ratio >= 1.0 for a in per_venue.values())
    sent = {(chat, r.context["rule"]): r.context for chat, r in outlet.sent}
    assert len(outlet.sent) == len(sent) == 6  # one per chat and rule, not one per venue
    for chat in ("1", "2"):
        imbalance = sent[(chat, "imbalance")]
        assert imbalance["exchange"] == "all"
        assert imbalance["numbers"]["ratio"] == agg.analysis.imbalance.ratio
        assert imbalance["numbers"]["ratio"] not in {a.imbalance.ratio for a in per_venue.values()}

    # oracle for prints and OI: the pure rules on each venue alone, then summed
    settings, store = NO_COOLDOWN, subs.store
    bursts, oi_now, oi_then = 0.0, 0.0, 0.0
    for venue in VENUES:
        a = per_venue[venue]
        source = scheduler.service.sources[venue]
        prints = await source.fetch_prints(BTC, a.as_of - settings.prints_window)
        series = store.load_series(venue, BTC, "5m", a.as_of - settings.oi_window - 300_000)
        inputs = AlertInputs(agg.analysis, venue, prints, series)
        for name, add in (("prints", 1.0), ("oi", 0.0)):
            _, event = evaluate(
                RULES[name], inputs, RuleState(), rule_params(RULES[name], settings, add)
            )
            assert event is not None
            if name == "prints":
                bursts += event.numbers["burst"]
            else:
                oi_now += event.numbers["oi_now"]
                oi_then += event.numbers["oi_then"]
    assert bursts > 0
    for chat in ("1", "2"):
        assert sent[(chat, "prints")]["numbers"]["burst"] == pytest.approx(bursts, rel=1e-12)
        assert sent[(chat, "oi")]["numbers"]["oi_now"] == pytest.approx(oi_now, rel=1e-12)
        assert sent[(chat, "oi")]["numbers"]["oi_then"] == pytest.approx(oi_then, rel=1e-12)

    assert not subs.rule_state("telegram", "1", "imbalance", "all", BTC).armed
    assert subs.rule_state("telegram", "1", "imbalance", VENUES[0], BTC).armed  # none per venue
    await scheduler.run(cycles=5)
    assert len(outlet.sent) == 6


async def test_a_failing_venue_is_served_from_cache_and_not_duplicated() -> None:
    clock = FakeClock()
    scheduler, subs, outlet, refresh = two_venues(clock, watch=[BTC], jitter=0.0)
    await scheduler.run_once()  # both venues stored
    refresh.down.add("bybit")
    subs.subscribe("telegram", "1", BTC, ["imbalance"])
    subs.set_setting("telegram", "1", "imbalance", "on", 1.0)
    clock.now += 10 * MINUTE  # bybit's candles are now stale: the service asks, and fails
    updates = await scheduler.run_once()
    assert [u.exchange for u in updates] == ["binanceusdm"]
    bybit = scheduler.jobs[("bybit", BTC)]
    assert bybit.last_error is not None and "503" in bybit.last_error

    agg = await scheduler.service.view(BTC, RANGES[0], "all")
    assert agg.exchanges == VENUES and any("bybit unreachable" in n for n in agg.notes)
    ((chat, reply),) = outlet.sent
    assert chat == "1" and reply.context["exchange"] == "all"
    assert reply.context["numbers"]["ratio"] == agg.analysis.imbalance.ratio

    await scheduler.run(cycles=6)  # bybit still down, binance refreshing: no repeat
    assert len(outlet.sent) == 1
    assert bybit.failures >= 2 and scheduler.jobs[("binanceusdm", BTC)].failures == 0
    # the aggregated view and commands honour bybit's backoff: asked only by its own job
    assert refresh.calls.count("bybit") == bybit.runs


async def test_a_venue_down_since_start_is_left_out_of_the_aggregated_alert() -> None:
    clock = FakeClock()
    scheduler, subs, outlet, refresh = two_venues(clock, watch=[BTC], jitter=0.0)
    refresh.down.add("bybit")  # never stored anything
    subs.subscribe("telegram", "1", BTC, ["imbalance"])
    subs.set_setting("telegram", "1", "imbalance", "on", 1.0)
    await scheduler.run_once()
    ((_, reply),) = outlet.sent  # binance alone still alerts
    agg = await scheduler.service.view(BTC, RANGES[0], "all")
    assert agg.exchanges == ("binanceusdm",)
    assert "bybit: no data yet (unreachable)" in agg.notes
    assert reply.context["numbers"]["ratio"] == agg.analysis.imbalance.ratio


async def test_a_restarted_scheduler_does_not_repeat_the_aggregated_alert() -> None:
    clock = FakeClock()
    scheduler, subs, outlet, _ = two_venues(clock)
    subs.subscribe("telegram", "1", BTC, ["imbalance"])
    subs.set_setting("telegram", "1", "imbalance", "on", 1.0)  # fires once, never re-arms
    await scheduler.run_once()
    assert len(outlet.sent) == 1
    clock.now += 3 * 300_000  # a new transition candle: only the stored state holds it back
    again, _, outlet_again, _ = two_venues(clock, store=subs.store)
    await again.recover()
    await again.run(cycles=3)
    assert outlet_again.sent == []
    assert subs.alert_counts() == {"delivered": 1}
