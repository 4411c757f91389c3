"""The prints-feed lines of /status: each exchange's liquidation stream named with how
complete it is, Binance's one-print-per-second cap said, on every platform."""

from __future__ import annotations

import pytest

from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.commands.feeds_status import STALE_MS, span_text
from bot.reply import CallContext
from bot.reply.text import render_reply
from bot.state.feeds import FeedLog, FeedSample
from bot.state.store import Store
from tests.fakes.market_service import FakeEngine, FakeSource

H = 3_600_000
M = 60_000
NOW = 1_767_225_600_000 + 48 * H
USER = CallContext("console", "1", "1")


def _service(*names: str) -> MarketService:
    sources = {n: FakeSource(n) for n in names}
    return MarketService(
        sources, Store(":memory:"), engine=FakeEngine(render_seconds=0), clock=lambda: NOW
    )


def _log(service: MarketService) -> FeedLog:
    return FeedLog(service.store, max_gap_ms=2 * M)  # type: ignore[arg-type]


async def _status(service: MarketService, platform: str = "console") -> str:
    reply = await build_commands(service).run("/status", CallContext(platform, "1", "1"))  # type: ignore[arg-type]
    assert reply is not None and not reply.is_error
    return render_reply(reply, platform)  # type: ignore[arg-type]


async def test_each_exchange_says_how_its_prints_arrive() -> None:
    service = _service("binanceusdm", "bybit", "okx")
    log = _log(service)
    for t in range(NOW - 10 * H, NOW + 1, M):  # binance up the last 10 h, last print 3 min ago
        log.sample("binanceusdm", FeedSample(at=t, connected=True, last_print_ms=NOW - 3 * M))
    for t in range(NOW - 3 * H, NOW - 40 * M, M):  # bybit up, then down for the last 40 min
        log.sample("bybit", FeedSample(at=t, connected=True))
    for t in range(NOW - 40 * M, NOW + 1, M):
        log.sample("bybit", FeedSample(at=t, connected=False, last_error="NetworkError: reset"))
    text = await _status(service)
    assert "Liquidation prints" in text
    assert "• binanceusdm: connected; last print 3m ago; 100% of the last 10h covered" in text
    assert (
        "binanceusdm sends at most one print per symbol per second: real totals are higher" in text
    )
    assert "• bybit: DOWN for 40m (hours without prints are reported, not scored)" in text
    assert "last error: NetworkError: reset" in text
    assert "bybit sends" not in text
    assert "• okx: not streamed by this process (only `liqwatch run` streams" in text
    for platform in ("telegram", "discord"):
        assert "DOWN for 40m" in await _status(service, platform)


async def test_a_feed_nobody_samples_any_more_is_unknown_not_up() -> None:
    service = _service("bybit")
    log = _log(service)
    for t in range(NOW - 2 * H, NOW - H, M):
        log.sample("bybit", FeedSample(at=t, connected=True))
    assert NOW - (NOW - H - M) > STALE_MS
    text = await _status(service)
    assert "• bybit: state unknown, last seen 1h 1m ago (is `liqwatch run` running?)" in text
    assert "connected" not in text


async def test_the_synthetic_market_carries_its_prints() -> None:
    text = await _status(_service("sim"))
    assert "• sim: the synthetic market's own forced closes, complete" in text


@pytest.mark.parametrize(
    ("ms", "text"), [(45 * M, "45m"), (112 * M, "1h 52m"), (2 * H, "2h"), (26 * H, "1d 2h")]
)
def test_gaps_are_written_to_the_minute(ms: int, text: str) -> None:
    assert span_text(ms) == text
