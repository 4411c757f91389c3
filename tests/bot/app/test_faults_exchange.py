"""Fault suite, exchange side: a whole bot run (real ccxt → loopback fake Binance USDⓈ-M →
store → Scheduler → MarketService → Commands) on a fake clock while the exchange answers
429 + Retry-After, 5xx bursts, timeouts, malformed JSON, an empty page and a gap in the
candles, then recovers.

The candles are the recorded XRP/USDT:USDT 5m ones the fake serves; the expected stored
candles are derived from the same recording (minus the gap the fake hides), never typed in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.commands.market_cmds import CommandDefaults
from bot.commands.registry import Commands
from bot.market.ccxt_source import CcxtSource
from bot.market.retry import RetryPolicy
from bot.notify.scheduler import JobStats, Scheduler
from bot.reply import RANGES, CallContext, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.exchange_data import recorded_market
from tests.fakes.fake_exchange import FakeExchange, fake_exchange

__all__ = ["fake_exchange"]

EXCHANGE = "binanceusdm"
XRP = "XRP/USDT:USDT"
KLINES = "/fapi/v1/klines"
CANDLE = 300_000
LOOKBACK = 12 * 3_600_000
CTX = CallContext("telegram", "5001", "42")


class FakeClock:
    """Unix ms inside the recording; moves only when the scheduler sleeps."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += round(seconds * 1000)
        await asyncio.sleep(0)


@dataclass
class Sleeps:
    """The retry policy's pauses (recorded, not slept)."""

    seconds: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@dataclass
class Bot:
    fake: FakeExchange
    clock: FakeClock
    sleeps: Sleeps
    store: Store
    service: MarketService
    commands: Commands
    scheduler: Scheduler

    @property
    def job(self) -> JobStats:
        return self.scheduler.jobs[(EXCHANGE, XRP)]

    async def ask(self, line: str) -> tuple[str, Reply]:
        reply = await self.commands.run(line, CTX)
        assert reply is not None
        return render_reply(reply, "telegram"), reply

    def klines_since(self, mark: int) -> list[dict[str, str]]:
        """The candle queries made after the ``mark``-th request of the log."""
        return [q for path, q in self.fake.log[mark:] if path == KLINES]

    def fetched_at(self) -> int:
        """When the scheduler last asked the exchange (the clock has moved on since)."""
        (status,) = self.store.market_status()
        assert status.last_fetch_at is not None
        return int(status.last_fetch_at)

    def stored_times(self) -> np.ndarray:
        series = self.store.load_series(EXCHANGE, XRP, "5m")
        assert series is not None
        return np.asarray(series.timestamps)


@pytest.fixture
async def bot(fake_exchange: FakeExchange) -> AsyncIterator[Bot]:
    m = recorded_market("5m")
    fake_exchange.timeout_sleep = 0.3
    clock = FakeClock(int(m.times[1500]) + 30_000)  # half a minute into a candle
    sleeps = Sleeps()
    source = CcxtSource(
        EXCHANGE,
        api_base_url=fake_exchange.url,
        enable_rate_limit=False,
        timeout_ms=120,
        retry_policy=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=10, sleep=sleeps),
        clock_ms=clock,
    )
    store = Store(":memory:")
    subs = Subscriptions(store)
    service = MarketService(
        {EXCHANGE: source},
        store,
        refresh_every_ms=CANDLE,
        lookback_ms=LOOKBACK,
        clock=clock,
    )
    commands = build_commands(
        service, CommandDefaults(symbol="XRP", range=RANGES[0]), subscriptions=subs
    )
    scheduler = Scheduler(
        service,
        subs,
        [],
        watch=["XRP"],  # as in the config: the short name
        every_ms=CANDLE,
        jitter=0.0,
        range_=RANGES[0],
        max_backoff_ms=6 * CANDLE,
        clock=clock,
        sleep=clock.sleep,
    )
    try:
        yield Bot(fake_exchange, clock, sleeps, store, service, commands, scheduler)
    finally:
        await source.close()
        store.close()


def _served(since: int, now: int, gap: tuple[int, int] | None) -> np.ndarray:
    """The recorded candles the fake serves opening in ``[since, now]``, minus the gap."""
    m = recorded_market("5m").without(gap)
    return m.times[(m.times >= since) & (m.times <= now)]


async def test_a_whole_run_through_exchange_faults_serves_stale_data_then_recovers(
    bot: Bot,
) -> None:
    first = (bot.clock() - LOOKBACK) // CANDLE * CANDLE

    # healthy start: the whole look-back once, then one request per cycle
    await bot.scheduler.run(cycles=2)
    assert bot.job.last_error is None
    np.testing.assert_array_equal(bot.stored_times(), _served(first, bot.fetched_at(), None))

    # 429 with Retry-After: the pause asked for is honoured, the cycle still succeeds
    bot.fake.fail(KLINES, "429", retry_after=7)
    mark = len(bot.fake.log)
    await bot.scheduler.run(cycles=1)
    assert len(bot.klines_since(mark)) == 2 and 7.0 in bot.sleeps.seconds
    assert bot.job.consecutive_failures == 0

    # a 503 burst shorter than the retry budget is absorbed inside one cycle
    bot.fake.fail(KLINES, "500", times=2)
    mark = len(bot.fake.log)
    await bot.scheduler.run(cycles=1)
    assert len(bot.klines_since(mark)) == 3 and bot.job.last_error is None
    healthy_last = int(bot.stored_times()[-1])
    text, _ = await bot.ask("/status")
    assert "last error" not in text

    # the outage: each cycle's retries are exhausted by a different fault
    gap = (healthy_last + 3 * CANDLE, healthy_last + 6 * CANDLE)  # 3 candles lost for good
    bot.fake.gap = gap
    for kind, shown in (("500", "unavailable"), ("timeout", "timed out"), ("malformed", "error")):
        bot.fake.fail(KLINES, kind, times=3)
        before = bot.job.failures
        await bot.scheduler.run(cycles=1)  # nothing escapes the scheduler
        assert bot.job.failures == before + 1
        assert shown in (bot.job.last_error or "").lower()
        text, _ = await bot.ask("/status")
        row = next(line for line in text.splitlines() if " XRP " in line)
        assert "last error" in row, text  # on the market's own row, not on a phantom one
        markets = [line for line in text.splitlines() if " candles, last " in line]
        assert len(markets) == 1, text  # the feeds and delivery lines follow: not market rows
    assert int(bot.stored_times()[-1]) == healthy_last  # nothing stored while down

    # /heatmap during the outage: the cached data, a PNG, and how old it is
    bot.fake.fail(KLINES, "500", times=3)
    text, reply = await bot.ask("/heatmap XRP")
    age_min = (bot.clock() - (healthy_last + CANDLE)) // 60_000
    assert age_min >= 30
    assert f"data {age_min} min old — {EXCHANGE} unreachable" in text
    assert len(reply.images) == 1 and reply.images[0].data[:8] == b"\x89PNG\r\n\x1a\n"
    asked = bot.fake.requests[KLINES]
    text_again, _ = await bot.ask("/heatmap XRP")  # the exchange is not asked again at once
    assert bot.fake.requests[KLINES] == asked and "unreachable" in text_again

    # recovery starts with an empty page: no invented candles, no crash
    bot.fake.fail(KLINES, "empty")
    mark = len(bot.fake.log)
    await bot.scheduler.run(cycles=1)
    queries = bot.klines_since(mark)
    assert queries and all(int(q["startTime"]) == healthy_last for q in queries)
    stored = bot.stored_times()
    assert int(stored[-1]) == healthy_last  # an empty answer adds nothing, invents nothing
    assert set(stored.tolist()) <= set(_served(first, bot.fetched_at(), gap).tolist())

    # full recovery: the error clears, the gap stays a gap, only new candles are asked for
    for _ in range(3):
        last = int(bot.stored_times()[-1])
        mark = len(bot.fake.log)
        await bot.scheduler.run(cycles=1)
        queries = bot.klines_since(mark)
        assert len(queries) == 1 and int(queries[0]["startTime"]) == last
    assert bot.job.last_error is None and bot.job.consecutive_failures == 0
    text, _ = await bot.ask("/status")
    assert "last error" not in text
    stored = bot.stored_times()
    np.testing.assert_array_equal(stored, _served(first, bot.fetched_at(), gap))
    missing = (stored >= gap[0]) & (stored < gap[1])
    assert not missing.any() and len(np.unique(stored)) == len(stored)
    text, reply = await bot.ask("/heatmap XRP")
    assert "unreachable" not in text and "old —" not in text and len(reply.images) == 1


async def test_a_watched_name_and_a_subscription_are_one_job(bot: Bot) -> None:
    """``watch=["XRP"]`` and a subscription to ``XRP/USDT:USDT`` refresh the market once
    (markets loaded before the first cycle, as ``liqwatch run`` does)."""
    await bot.service.sources[EXCHANGE].load()
    bot.scheduler.subs.subscribe("telegram", "5001", XRP, ["imbalance"])
    await bot.scheduler.run(cycles=3)
    assert list(bot.scheduler.jobs) == [(EXCHANGE, XRP)]
    assert bot.fake.requests[KLINES] == 3
    (status,) = bot.store.market_status()
    assert status.symbol == XRP and status.last_fetch_at is not None
