"""MarketService: freshness, stale-data notes, and the coalescing render cache."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from bot.analysis.market_view import data_age_note
from bot.analysis.render_cache import CoalescingCache
from bot.analysis.service import CoreEngine, MarketService
from bot.market.errors import ExchangeUnavailable, NotSupported, UnknownSymbol
from bot.reply import RANGES
from bot.state.store import Store
from core.analysis import AnalysisParams, analyze
from core.brackets import DEFAULT_BTCUSDT_BRACKETS, Brackets
from core.models import Snapshot
from core.results import Analysis
from tests.fakes.market_service import FIVE_MIN, T0, FakeEngine, FakeSource

DAY = RANGES[1]


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def after_candles(n: int, extra_ms: int = 30_000) -> int:
    """Wall time shortly after the close of the ``n``-th candle."""
    return T0 + n * FIVE_MIN + extra_ms


@pytest.fixture
def store() -> Store:
    return Store(":memory:")


def make_service(
    store: Store, source: FakeSource, engine: CoreEngine, clock: Clock
) -> MarketService:
    return MarketService(
        {source.name: source}, store, engine=engine, clock=clock, refresh_every_ms=60_000
    )


async def test_first_request_fills_the_cache_then_serves_it(store: Store) -> None:
    source, engine = FakeSource(candles=288), FakeEngine(render_seconds=0)
    service = make_service(store, source, engine, Clock(after_candles(288)))
    view = await service.view("btc", DAY, "all")
    assert view.symbol == "BTC/USDT:USDT"
    assert view.exchanges == ("sim",)
    assert view.notes == ()
    assert view.version == (("sim", T0 + 287 * FIVE_MIN),)
    assert source.fetches == 1
    again = await service.view("BTC", DAY, "sim")
    assert source.fetches == 1  # fresh: no refetch
    assert again.analysis is view.analysis  # same version: analysis from the LRU
    assert service.analyses == 1


async def test_fifty_identical_concurrent_requests_render_once(store: Store) -> None:
    source, engine = FakeSource(candles=288), FakeEngine(render_seconds=0.05)
    service = make_service(store, source, engine, Clock(after_candles(288)))
    charts = await asyncio.gather(*(service.chart("heatmap", "BTC", DAY, "all") for _ in range(50)))
    assert len(charts) == 50
    assert engine.render_calls == 1
    assert service.renders == 1
    assert service.analyses == 1
    assert source.fetches == 1  # the refresh of the empty cache was coalesced too
    assert len({c.png for c in charts}) == 1
    # a later identical request is an LRU hit; another style is another render
    await service.chart("heatmap", "BTC", DAY, "all")
    assert service.renders == 1
    await service.chart("heatmap", "BTC", DAY, "all", style="light")
    assert service.renders == 2


async def test_a_new_candle_changes_the_data_version(store: Store) -> None:
    source, engine = FakeSource(candles=288), FakeEngine(render_seconds=0)
    clock = Clock(after_candles(288))
    service = make_service(store, source, engine, clock)
    first = await service.chart("map", "ETH", DAY, "all")
    source.candles = 290
    clock.now = after_candles(290)
    second = await service.chart("map", "ETH", DAY, "all")
    assert second.view.version != first.view.version
    assert service.renders == 2
    assert service.analyses == 2


async def test_exchange_down_serves_last_data_with_its_age(store: Store) -> None:
    source, engine = FakeSource(candles=288), FakeEngine(render_seconds=0)
    clock = Clock(after_candles(288))
    service = make_service(store, source, engine, clock)
    await service.view("BTC", DAY, "all")
    source.down = True
    clock.now = after_candles(288, extra_ms=14 * 60_000)
    view = await service.view("BTC", DAY, "all")
    assert view.notes == ("data 14 min old — sim unreachable",)
    assert view.version == (("sim", T0 + 287 * FIVE_MIN),)
    fetches = source.fetches
    clock.now += 30_000  # within one refresh interval of the failure: not asked again
    again = await service.view("BTC", DAY, "all")
    assert source.fetches == fetches
    assert again.notes == ("data 14 min old — sim unreachable",)
    clock.now += 60_000  # then it is tried again, and recovers
    source.down = False
    recovered = await service.view("BTC", DAY, "all")
    assert source.fetches == fetches + 1
    assert recovered.notes == ()


async def test_exchange_down_with_nothing_cached_raises(store: Store) -> None:
    service = make_service(
        store, FakeSource(down=True), FakeEngine(render_seconds=0), Clock(after_candles(10))
    )
    with pytest.raises(ExchangeUnavailable):
        await service.view("BTC", DAY, "all")


async def test_unknown_symbol_carries_suggestions(store: Store) -> None:
    service = make_service(store, FakeSource(), FakeEngine(), Clock(after_candles(10)))
    with pytest.raises(UnknownSymbol) as info:
        await service.view("BTCC", DAY, "all")
    assert "BTC" in info.value.suggestions


async def test_cascade_chart_carries_the_simulated_push(store: Store) -> None:
    source, engine = FakeSource(candles=288), FakeEngine(render_seconds=0)
    service = make_service(store, source, engine, Clock(after_candles(288)))
    view = await service.view("BTC", DAY, "all")
    push = view.analysis.price * 1.04
    chart = await service.chart("cascade", "BTC", DAY, "all", push_price=push)
    result = chart.view.analysis.cascade_up
    assert result is not None
    assert result.push_price == pytest.approx(push)
    assert chart.view.analysis.cascade_down is view.analysis.cascade_down


def test_data_age_note_formats_minutes_and_hours() -> None:
    assert data_age_note(14 * 60_000 + 5_000, "bybit") == "data 14 min old — bybit unreachable"
    assert (
        data_age_note(5 * 3_600_000, "okx", "refresh failed") == "data 5h old — okx refresh failed"
    )


# --- each market's own maintenance-margin brackets ------------------------------------------

#: a distinctive venue table: the BTCUSDT one with 10x the maintenance-margin rates and amounts
TENFOLD = Brackets(
    DEFAULT_BTCUSDT_BRACKETS.floors,
    DEFAULT_BTCUSDT_BRACKETS.caps,
    np.minimum(DEFAULT_BTCUSDT_BRACKETS.mmr * 10, 0.9),
    DEFAULT_BTCUSDT_BRACKETS.cum * 10,
    DEFAULT_BTCUSDT_BRACKETS.max_leverage,
)
SMALL = AnalysisParams(bins=80, columns=40)


class BracketSource(FakeSource):
    """A source whose ``fetch_brackets`` gives the scripted answers in turn (the last one
    repeats); an exception in the script is raised instead."""

    def __init__(self, *answers: Brackets | Exception | None, delay: float = 0.0) -> None:
        super().__init__(candles=288)
        self.answers = list(answers)
        self.delay = delay
        self.asked: list[str] = []

    async def fetch_brackets(self, symbol: str) -> Brackets | None:
        self.asked.append(symbol)
        await asyncio.sleep(self.delay)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def stored_snapshot(store: Store, symbol: str, last: int) -> Snapshot:
    """What the service analyses for one day of ``symbol`` on "sim" (read back from the store)."""
    series = store.load_series("sim", symbol, "5m", since=last - DAY.ms + FIVE_MIN)
    assert series is not None
    return Snapshot("sim", symbol, "5m", series, fetched_at=last)


def same_map(a: Analysis, b: Analysis) -> bool:
    return bool(np.array_equal(a.map.long, b.map.long) and np.array_equal(a.map.short, b.map.short))


def bracket_service(store: Store, source: FakeSource) -> MarketService:
    return make_service(store, source, CoreEngine(SMALL), Clock(after_candles(288)))


async def test_a_market_is_analysed_with_the_brackets_its_exchange_reports(store: Store) -> None:
    source = BracketSource(TENFOLD)
    service = bracket_service(store, source)
    view = await service.view("ETH", DAY, "all")
    snapshot = stored_snapshot(store, "ETH/USDT:USDT", view.version[0][1])
    own = analyze([snapshot], SMALL, brackets={"sim": TENFOLD})
    default = analyze([snapshot], SMALL)
    assert same_map(view.analysis, own)
    assert not same_map(view.analysis, default)  # the table really changes the estimate
    assert view.brackets_pending == ()
    # asked once per market: not for a repeat, again for another symbol
    await service.view("ETH", DAY, "all")
    await service.chart("map", "ETH", RANGES[0], "all")
    assert source.asked == ["ETH/USDT:USDT"]
    await service.view("SOL", DAY, "all")
    assert source.asked == ["ETH/USDT:USDT", "SOL/USDT:USDT"]


@pytest.mark.parametrize(
    "answer",
    [None, NotSupported("sim: leverage tiers need an API key"), RuntimeError("bad payload")],
    ids=["not-public", "permanent-error", "unexpected-error"],
)
async def test_no_usable_brackets_means_the_default_table_and_no_more_asking(
    store: Store, answer: Exception | None
) -> None:
    source = BracketSource(answer, TENFOLD)  # would answer on a second question
    service = bracket_service(store, source)
    view = await service.view("BTC", DAY, "all")
    snapshot = stored_snapshot(store, "BTC/USDT:USDT", view.version[0][1])
    assert same_map(view.analysis, analyze([snapshot], SMALL))
    assert view.brackets_pending == ()
    again = await service.view("BTC", DAY, "all")
    assert again.analysis is view.analysis
    assert len(source.asked) == 1


async def test_an_exchange_briefly_down_is_asked_again_and_its_default_analysis_replaced(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    down = ExchangeUnavailable("sim: 503")
    source = BracketSource(down, TENFOLD)
    clock = Clock(after_candles(288))
    service = make_service(store, source, CoreEngine(SMALL), clock)
    with caplog.at_level(logging.INFO, logger="bot.analysis.brackets"):
        first = await service.chart("map", "BTC", DAY, "all")
        second = await service.chart("map", "BTC", DAY, "all")
    snapshot = stored_snapshot(store, "BTC/USDT:USDT", first.view.version[0][1])
    for chart in (first, second):  # served now, with the default table
        assert same_map(chart.view.analysis, analyze([snapshot], SMALL))
        assert chart.view.brackets_pending == ("sim",)
    assert second.png == first.png and service.renders == 1
    assert len(source.asked) == 1  # not asked again within the refresh interval
    logged = [r for r in caplog.records if "brackets" in r.getMessage()]
    assert [r.levelno for r in logged] == [logging.INFO]  # the miss is logged once
    # a refresh interval later the exchange answers: same data, the default analysis is redone
    clock.now += 60_000
    third = await service.chart("map", "BTC", DAY, "all")
    assert len(source.asked) == 2
    assert third.view.version == first.view.version
    assert third.view.brackets_pending == ()
    assert same_map(third.view.analysis, analyze([snapshot], SMALL, brackets={"sim": TENFOLD}))
    assert service.analyses == 2 and service.renders == 2
    await service.chart("map", "BTC", DAY, "all")
    assert len(source.asked) == 2 and service.analyses == 2


async def test_concurrent_first_requests_ask_for_brackets_once(store: Store) -> None:
    source = BracketSource(TENFOLD, delay=0.02)
    engine = FakeEngine(render_seconds=0)
    service = make_service(store, source, engine, Clock(after_candles(288)))
    await asyncio.gather(*(service.view("BTC", DAY, "all") for _ in range(20)))
    assert source.asked == ["BTC/USDT:USDT"]
    assert engine.analyze_calls == 1
    seen = engine.brackets_seen[0]
    assert seen is not None and seen["sim"] is TENFOLD  # known before the first analysis


# --- the cache itself --------------------------------------------------------------------


async def test_failure_reaches_every_waiter_and_is_not_cached() -> None:
    cache: CoalescingCache[int] = CoalescingCache(4)
    calls = 0

    async def boom() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("render failed")

    results = await asyncio.gather(
        *(cache.get("k", boom) for _ in range(5)), return_exceptions=True
    )
    assert calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)

    async def ok() -> int:
        return 7

    assert await cache.get("k", ok) == 7  # the failure was not remembered


async def test_lru_keeps_the_most_recent_entries() -> None:
    cache: CoalescingCache[str] = CoalescingCache(2)

    def value(v: str):  # type: ignore[no-untyped-def]
        async def compute() -> str:
            return v

        return compute

    for key in ("a", "b", "a", "c"):
        await cache.get(key, value(key))
    assert "a" in cache and "c" in cache and "b" not in cache
    assert cache.computed == 3 and cache.hits == 1
