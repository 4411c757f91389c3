"""The first minutes of `liqwatch run` in the log: a progress line per market, then "ready"."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from bot.app.backfill import BackfillLog, expected_markets
from bot.market.errors import TemporaryMarketError

WEEK = 7 * 86_400_000


@dataclass
class Source:
    name: str


@dataclass
class Result:
    fetched: int
    incremental: bool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_expected_markets_counts_each_symbol_once_per_exchange() -> None:
    assert expected_markets(("binanceusdm", "bybit", "okx"), ("BTC", "ETH", "SOL")) == 9
    assert expected_markets(("sim",), ("BTC", "btc", "BTC/USDT:USDT", "ETH")) == 2


async def test_progress_then_ready_with_a_failure_named(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()

    async def refresh(source: Source, store: object, symbol: str, *_: object) -> Result:
        clock.now += 2.5
        if source.name == "okx":
            raise TemporaryMarketError("timed out")
        return Result(fetched=2016, incremental=False)

    backfill = BackfillLog(refresh, expected=3, clock=clock)
    caplog.set_level(logging.INFO, logger="liqwatch.backfill")
    await backfill(Source("binanceusdm"), None, "BTC/USDT:USDT", "5m", WEEK, 0)
    with pytest.raises(TemporaryMarketError):
        await backfill(Source("okx"), None, "BTC/USDT:USDT", "5m", WEEK, 0)
    assert not backfill.ready
    await backfill(Source("bybit"), None, "BTC", "5m", WEEK, 0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "backfill [########----------------] 1/3 markets · binanceusdm BTC: "
        "2,016 candles (7d) in 2.5 s",
        "backfill [################--------] 2/3 markets · okx BTC: failed (timed out), "
        "retried later",
        "backfill [########################] 3/3 markets · bybit BTC: 2,016 candles (7d) in 2.5 s",
        "ready: 2 of 3 markets backfilled in 8 s; not yet: okx BTC (retried with backoff; "
        "/status shows the error)",
    ]
    assert caplog.records[-1].levelno == logging.WARNING
    # later refreshes of the same markets (the next cycles, a retry) log nothing more
    caplog.clear()
    await backfill(Source("binanceusdm"), None, "BTC/USDT:USDT", "5m", WEEK, 0)
    with pytest.raises(TemporaryMarketError):
        await backfill(Source("okx"), None, "BTC", "5m", WEEK, 0)
    assert caplog.records == []


async def test_a_warm_restart_says_what_is_new(caplog: pytest.LogCaptureFixture) -> None:
    async def refresh(*_: object) -> Result:
        return Result(fetched=12, incremental=True)

    caplog.set_level(logging.INFO, logger="liqwatch.backfill")
    await BackfillLog(refresh, expected=1, clock=Clock())(Source("sim"), None, "ETH", "5m", WEEK, 0)
    first, ready = (r.getMessage() for r in caplog.records)
    assert first.endswith("sim ETH: 12 candle(s) since the last run in 0.0 s")
    assert ready.startswith("ready: 1 market(s) backfilled in 0 s")


async def test_a_market_refreshed_twice_at_once_is_counted_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = asyncio.Event()

    async def refresh(*_: object) -> Result:
        await gate.wait()
        return Result(fetched=2016, incremental=False)

    backfill = BackfillLog(refresh, expected=2, clock=Clock())
    caplog.set_level(logging.INFO, logger="liqwatch.backfill")
    both = asyncio.gather(  # the scheduler and a command, on the same market
        backfill(Source("sim"), None, "BTC", "5m", WEEK, 0),
        backfill(Source("sim"), None, "BTC/USDT:USDT", "5m", WEEK, 0),
    )
    await asyncio.sleep(0)
    gate.set()
    await both
    assert [r.getMessage()[:39] for r in caplog.records] == [
        "backfill [############------------] 1/2"
    ]
    assert not backfill.ready
