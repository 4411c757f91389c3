"""Auto-posted threads: schedules over a day of scheduler cycles on the sim market with a fake
clock, material change, at-most-once across restarts, and every delivery error path."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from typing import Any

import pytest

from bot.analysis.market_view import MarketView
from bot.analysis.service import MarketService
from bot.config.settings import ThreadChannelSettings
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.notify.autopost import MAX_ATTEMPTS, AutoPoster, is_due
from bot.notify.outlets import (
    ChatGone,
    ChatMoved,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from bot.notify.scheduler import MarketUpdate, Scheduler
from bot.notify.thread_record import Fingerprint, fingerprint, material_change
from bot.notify.threads import THREAD_PARTS
from bot.reply import RANGES, Platform, Reply
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from core.models import Side
from core.results import Analysis
from tests.core.chart_fixtures import btc_analysis
from tests.fakes.clock import FakeClock as BaseClock

HOUR = 3_600_000
START = DEFAULT_START_MS + HOUR  # 01:00 UTC; the 300-candle sim then covers one more day
CHAT = "-1001234567890"
BTC = "BTC/USDT:USDT"


def channel(**kw: Any) -> ThreadChannelSettings:
    return ThreadChannelSettings.model_validate(
        {"platform": "telegram", "chat_id": CHAT, "symbol": "BTC", **kw}
    )


class FakeClock(BaseClock):
    def __init__(self, now: int = START) -> None:
        super().__init__(now)


class RecordingOutlet:
    """Records every thread; ``fail`` is a queue of errors raised by the next posts."""

    def __init__(self, platform: Platform = "telegram") -> None:
        self._platform: Platform = platform
        self.threads: list[tuple[str, str, list[Reply]]] = []
        self.fail: list[BaseException] = []

    @property
    def platform(self) -> Platform:
        return self._platform

    async def send(self, chat_id: str, reply: Reply) -> None:
        raise AssertionError("threads only")

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.threads.append((chat_id, title, list(posts)))


class Crash(BaseException):
    """The process dying mid-post (not an Exception: nothing may catch it)."""


def world(clock: FakeClock, store: Store | None = None) -> tuple[MarketService, Subscriptions]:
    store = store or Store(":memory:")
    service = MarketService(
        {"sim": SimSource(candles=300)}, store, clock=clock, lookback_ms=86_400_000
    )
    return service, Subscriptions(store)


async def run_day(
    channels: list[ThreadChannelSettings], *, cycles: int = 48, every_ms: int = HOUR // 2
) -> tuple[AutoPoster, RecordingOutlet, list[int]]:
    """A real scheduler cycling every 30 min for a day, the poster as its on_cycle hook."""
    clock = FakeClock()
    service, subs = world(clock)
    outlet = RecordingOutlet()
    poster = AutoPoster(channels, service, subs, [outlet], clock=clock, attach_charts=False)
    posted_at: list[int] = []

    async def watch_posts(updates: Sequence[MarketUpdate]) -> None:
        before = poster.counters.posted
        await poster(updates)
        posted_at.extend([clock.now] * (poster.counters.posted - before))

    scheduler = Scheduler(
        service,
        subs,
        [outlet],
        watch=poster.symbols,
        every_ms=every_ms,
        jitter=0,
        clock=clock,
        sleep=clock.sleep,
        range_=RANGES[1],
        attach_charts=False,
        on_cycle=[watch_posts],
    )
    await scheduler.run(cycles=cycles)
    assert clock.now == START + cycles * every_ms
    return poster, outlet, posted_at


# --- schedules over a day of cycles -----------------------------------------------------------


async def test_every_6h_posts_four_threads_a_day_in_order() -> None:
    poster, outlet, posted_at = await run_day([channel(every="6h")])
    assert [t - START for t in posted_at] == [0, 6 * HOUR, 12 * HOUR, 18 * HOUR]
    assert len(outlet.threads) == 4 and poster.counters.posted == 4
    for chat_id, title, posts in outlet.threads:
        assert chat_id == CHAT and title.startswith("BTC market structure")
        parts = [p.template.removeprefix("thread/") for p in posts]
        assert parts[0] == "hook" and parts[-1] == "caveat"
        assert parts == sorted(parts, key=THREAD_PARTS.index)  # the thread's order


async def test_at_times_post_once_each() -> None:
    poster, _, posted_at = await run_day([channel(at=["20:00", "08:00"])])
    day = DEFAULT_START_MS  # 2026-01-01 00:00 UTC
    assert posted_at == [day + 8 * HOUR, day + 20 * HOUR]
    assert poster.counters.posted == 2


async def test_unconfigured_platform_is_skipped() -> None:
    poster, outlet, _ = await run_day([channel(platform="discord", every="6h")], cycles=2)
    assert not outlet.threads and poster.disabled


def test_is_due_for_every_and_at() -> None:
    every, at = channel(every="6h"), channel(at=["08:00"])
    assert is_due(every, START, START, never=True)
    assert not is_due(every, START, START + 6 * HOUR - 1)
    assert is_due(every, START, START + 6 * HOUR)
    eight = DEFAULT_START_MS + 8 * HOUR
    assert not is_due(at, START, eight - 1) and is_due(at, START, eight)
    assert not is_due(at, eight, eight + 23 * HOUR) and is_due(at, eight, eight + 24 * HOUR)


# --- material change --------------------------------------------------------------------------


def print_(**kw: Any) -> Fingerprint:
    base = Fingerprint(
        as_of=0,
        price=100.0,
        ratio=4.0,
        heavy="short",
        top_cluster=110.0,
        zone_low=105.0,
        zone_high=108.0,
    )
    return dataclasses.replace(base, **kw)


@pytest.mark.parametrize(
    ("new", "changed"),
    [
        (print_(), False),
        (print_(ratio=4.9, top_cluster=110.9, zone_low=105.5), False),  # all below thresholds
        (print_(ratio=5.0), True),  # +25 %
        (print_(ratio=3.0), True),  # -25 %
        (print_(heavy="long"), True),
        (print_(ratio=math.inf), True),
        (print_(top_cluster=111.0), True),  # 1 % of price
        (print_(zone_high=107.0), True),
        (print_(zone_low=None, zone_high=None), True),  # the zone vanished
    ],
)
def test_material_change(new: Fingerprint, changed: bool) -> None:
    why = material_change(print_(), new, min_change=0.25, min_level_move=0.01)
    assert (why is not None) == changed


def test_fingerprint_reads_the_analysis_and_survives_json() -> None:
    a = btc_analysis()
    fp = fingerprint(a)
    assert fp.ratio == pytest.approx(a.imbalance.ratio) and fp.heavy == "short"
    assert fp.top_cluster == max(a.clusters, key=lambda c: c.notional).price
    (zone,) = a.zones
    assert (fp.zone_low, fp.zone_high) == (zone.low, zone.high)
    assert Fingerprint.from_json(fp.to_json()) == fp
    inf = dataclasses.replace(fp, ratio=math.inf)
    assert Fingerprint.from_json(inf.to_json()) == inf


# --- only_on_change, driven directly with crafted analyses -----------------------------------


def update(analysis: Analysis) -> MarketUpdate:
    view = MarketView(analysis, BTC, ("sim",), RANGES[1], (), (("sim", analysis.as_of),))
    return MarketUpdate("sim", BTC, view)


def with_ratio(a: Analysis, factor: float) -> Analysis:
    imb = dataclasses.replace(a.imbalance, long_below=a.imbalance.long_below / factor)
    return dataclasses.replace(a, imbalance=imb)


def poster_for(
    channels: list[ThreadChannelSettings], clock: FakeClock, store: Store | None = None
) -> tuple[AutoPoster, RecordingOutlet, Subscriptions]:
    service, subs = world(clock, store)
    outlet = RecordingOutlet()
    poster = AutoPoster(channels, service, subs, [outlet], clock=clock, attach_charts=False)
    return poster, outlet, subs


async def test_only_on_change_skips_unchanged_and_posts_on_change() -> None:
    clock = FakeClock()
    poster, outlet, _ = poster_for([channel(every="6h", only_on_change=True)], clock)
    base = btc_analysis()
    await poster([update(base)])  # never posted: posts
    clock.now += 6 * HOUR
    await poster([update(with_ratio(base, 1.1))])  # +10 %: not material, slot skipped
    clock.now += HOUR
    await poster([update(with_ratio(base, 2.0))])  # not due: the skipped slot counts
    assert len(outlet.threads) == 1 and poster.counters.unchanged == 1
    clock.now += 5 * HOUR
    await poster([update(with_ratio(base, 2.0))])  # due, ratio doubled
    assert len(outlet.threads) == 2
    clock.now += 6 * HOUR
    flipped = dataclasses.replace(
        base,
        imbalance=dataclasses.replace(base.imbalance, long_below=base.imbalance.short_above * 3),
    )
    assert flipped.imbalance.heavy_side is Side.LONG
    await poster([update(flipped)])
    assert len(outlet.threads) == 3 and poster.counters.unchanged == 1


async def test_other_markets_and_exchanges_do_not_trigger() -> None:
    clock = FakeClock()
    poster, outlet, _ = poster_for([channel(every="6h")], clock)
    a = btc_analysis()
    eth_view = MarketView(a, "ETH/USDT:USDT", ("sim",), RANGES[1], (), ())
    await poster([MarketUpdate("sim", "ETH", eth_view)])
    await poster([dataclasses.replace(update(a), exchange="bybit")])
    assert not outlet.threads
    await poster([update(a)])
    assert len(outlet.threads) == 1


# --- at most once -------------------------------------------------------------------------------


async def test_restart_does_not_repost_a_recorded_thread() -> None:
    clock, store = FakeClock(), Store(":memory:")
    first, outlet1, _ = poster_for([channel(every="6h")], clock, store)
    await first([update(btc_analysis())])
    assert len(outlet1.threads) == 1
    clock.now += HOUR
    second, outlet2, _ = poster_for([channel(every="6h")], clock, store)  # same db
    await second([update(btc_analysis())])
    assert not outlet2.threads
    clock.now += 5 * HOUR
    await second([update(btc_analysis())])
    assert len(outlet2.threads) == 1


async def test_crash_mid_post_never_double_posts() -> None:
    clock, store = FakeClock(), Store(":memory:")
    first, outlet1, subs = poster_for([channel(every="6h")], clock, store)
    outlet1.fail.append(Crash())
    with pytest.raises(Crash):
        await first([update(btc_analysis())])
    assert subs.last_thread("telegram", CHAT, BTC) == START  # recorded before posting
    clock.now += HOUR
    second, outlet2, _ = poster_for([channel(every="6h")], clock, store)
    await second([update(btc_analysis())])
    assert not outlet2.threads


async def test_the_record_holds_the_fingerprint() -> None:
    clock = FakeClock()
    poster, _, _ = poster_for([channel(every="6h")], clock)
    await poster([update(btc_analysis())])
    record = await poster.last_record("telegram", CHAT, BTC)
    assert record is not None and record.posted_at == START
    assert record.fingerprint == fingerprint(btc_analysis())
    assert record.title.startswith("BTC market structure")


# --- delivery errors ----------------------------------------------------------------------------


async def test_chat_gone_disables_the_channel(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    poster, outlet, _ = poster_for([channel(every="6h"), channel(symbol="ETH", every="6h")], clock)
    outlet.fail.append(ChatGone(CHAT, "bot was kicked"))
    with caplog.at_level(logging.ERROR, logger="bot.notify.autopost"):
        await poster([update(btc_analysis())])
    assert "is gone" in caplog.text
    assert ("telegram", CHAT, "BTC") in poster.disabled
    clock.now += 6 * HOUR
    await poster([update(btc_analysis())])
    assert not outlet.threads and poster.counters.failed == 1


async def test_temporary_error_is_retried_next_cycle_then_given_up() -> None:
    clock = FakeClock()
    poster, outlet, _ = poster_for([channel(every="6h")], clock)
    outlet.fail.append(TemporaryDeliveryError(CHAT, "502"))
    await poster([update(btc_analysis())])
    clock.now += 5 * 60_000
    await poster([update(btc_analysis())])  # not due by schedule, but a retry
    assert len(outlet.threads) == 1 and poster.counters.retried == 1
    clock.now += 6 * HOUR
    outlet.fail.extend(TemporaryDeliveryError(CHAT, "502") for _ in range(MAX_ATTEMPTS + 1))
    for _ in range(MAX_ATTEMPTS + 1):
        await poster([update(btc_analysis())])
        clock.now += 5 * 60_000
    assert len(outlet.fail) == 1  # MAX_ATTEMPTS tries, then it waits for the next slot
    assert poster.counters.failed == 1 and len(outlet.threads) == 1


async def test_permanent_error_is_logged_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    poster, outlet, _ = poster_for([channel(every="6h")], clock)
    outlet.fail.append(PermanentDeliveryError(CHAT, "Bad Request: not enough rights"))
    with caplog.at_level(logging.ERROR, logger="bot.notify.autopost"):
        await poster([update(btc_analysis())])
    assert "not enough rights" in caplog.text
    clock.now += 5 * 60_000
    await poster([update(btc_analysis())])
    assert not outlet.threads and poster.counters.failed == 1
    clock.now += 6 * HOUR
    await poster([update(btc_analysis())])
    assert len(outlet.threads) == 1 and not poster.disabled


async def test_moved_chat_gets_the_thread_at_its_new_id() -> None:
    clock = FakeClock()
    poster, outlet, _ = poster_for([channel(every="6h")], clock)
    outlet.fail.append(ChatMoved(CHAT, "-1009999"))
    await poster([update(btc_analysis())])
    clock.now += 6 * HOUR
    await poster([update(btc_analysis())])
    assert [chat for chat, _, _ in outlet.threads] == ["-1009999", "-1009999"]


# --- charts -----------------------------------------------------------------------------------


async def test_charts_come_from_the_engine_heatmap_on_hook_cascade_on_why() -> None:
    clock = FakeClock()
    service, subs = world(clock)
    drawn: list[tuple[str, int | None]] = []

    class Engine:
        def render(
            self, kind: str, analysis: Analysis, *, style: str, size: tuple[int, int]
        ) -> bytes:
            up = analysis.cascade_up
            drawn.append((kind, None if up is None else up.direction))
            return f"png:{kind}".encode()

    service.engine = Engine()  # type: ignore[assignment]
    outlet = RecordingOutlet()
    poster = AutoPoster([channel(every="6h")], service, subs, [outlet], clock=clock)
    shorts_heavy = btc_analysis()
    longs_heavy = dataclasses.replace(
        shorts_heavy,
        imbalance=dataclasses.replace(
            shorts_heavy.imbalance, long_below=shorts_heavy.imbalance.short_above * 3
        ),
    )
    await poster([update(shorts_heavy)])
    clock.now += 6 * HOUR
    await poster([update(longs_heavy)])
    for _, _, posts in outlet.threads:
        images = {p.template: [i.data for i in p.images] for p in posts}
        assert images["thread/hook"] == [b"png:heatmap"]
        assert images["thread/why"] == [b"png:cascade"]
    # the cascade drawn is the heavy side's: up while shorts are heavy, down once longs are
    assert [d for d in drawn if d[0] == "cascade"] == [("cascade", 1), ("cascade", None)]
