"""Real ccxt.pro ``watch_liquidations`` against loopback fakes (REST for markets, WS for prints).

Each case describes liquidations exchange-neutrally (which position was liquidated, base
amount, price, time); the wire events are built from that in each exchange's own side
convention, and the expected notionals are price × base amount. OKX sizes are contracts:
the base amount is divided by the *recorded* ``ctVal`` of the instrument.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

from bot.market.errors import UnknownSymbol
from bot.market.prints_stream import PrintsWatcher
from bot.market.retry import RetryPolicy
from core.models import LiquidationPrints, Side
from tests.fakes.exchange_data import load_json
from tests.fakes.fake_exchange import FakeExchange, fake_exchange
from tests.fakes.fake_exchange_ws import (
    OKX_TOPIC,
    FakeExchangeWs,
    binance_force_order,
    bybit_all_liquidation,
    fake_exchange_ws,
    okx_liquidation_orders,
)

__all__ = ["fake_exchange", "fake_exchange_ws"]

EXCHANGES = ["binanceusdm", "bybit", "okx"]
BTC = "BTC/USDT:USDT"


class Liq(NamedTuple):
    side: Side  # the liquidated position
    base: float
    price: float
    time: int


def _ct_val(inst_id: str) -> float:
    rows = load_json("okx/instruments-SWAP.json")["data"]
    return float(next(r["ctVal"] for r in rows if r["instId"] == inst_id))


def _wire_id(exchange: str, symbol: str) -> str:
    base = symbol.split("/")[0]
    return f"{base}-USDT-SWAP" if exchange == "okx" else f"{base}USDT"


def _topic(exchange: str, symbol: str) -> str:
    wire = _wire_id(exchange, symbol)
    return {
        "binanceusdm": f"{wire.lower()}@forceOrder",
        "bybit": f"allLiquidation.{wire}",
        "okx": OKX_TOPIC,
    }[exchange]


def _event(exchange: str, symbol: str, liqs: list[Liq]) -> tuple[str, dict[str, Any]]:
    """One wire message carrying ``liqs`` (Binance: exactly one)."""
    wire = _wire_id(exchange, symbol)
    if exchange == "binanceusdm":
        (liq,) = liqs
        order = "SELL" if liq.side is Side.LONG else "BUY"  # closing a long sells
        return binance_force_order(wire, order, repr(liq.base), repr(liq.price), liq.time)
    if exchange == "bybit":
        rows = [
            ("Buy" if q.side is Side.LONG else "Sell", repr(q.base), repr(q.price), q.time)
            for q in liqs
        ]  # Bybit names the position side
        return bybit_all_liquidation(wire, rows)
    ct = _ct_val(wire)
    details = [
        ("sell" if q.side is Side.LONG else "buy", "long" if q.side is Side.LONG else "short",
         repr(round(q.base / ct, 6)), repr(q.price), q.time)
        for q in liqs
    ]  # fmt: skip
    return okx_liquidation_orders(wire, details)


def _cases(n: int, seed: int, t0: int = 1_700_000_000_000) -> list[Liq]:
    rng = random.Random(seed)
    times = [t0 + 137 * i for i in range(n)]
    rng.shuffle(times)  # pushed out of time order
    return [
        Liq(rng.choice([Side.LONG, Side.SHORT]), rng.choice([0.01, 0.25, 1.5]),
            round(rng.uniform(25_000, 35_000), 1), t)
        for t in times
    ]  # fmt: skip


class Collected(list[tuple[str, str, LiquidationPrints]]):
    async def __call__(self, exchange: str, symbol: str, prints: LiquidationPrints) -> None:
        self.append((exchange, symbol, prints))

    def merged(self, symbol: str = BTC) -> list[tuple[int, int, float, float]]:
        rows = [
            (int(t), int(s), float(p), float(q))
            for _, sym, b in self
            if sym == symbol
            for t, s, p, q in zip(b.times, b.sides, b.prices, b.notionals, strict=True)
        ]
        return sorted(rows)

    async def wait(self, n: int, symbol: str = BTC, within: float = 5.0) -> None:
        await _eventually(lambda: len(self.merged(symbol)) >= n, within)


async def _eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``condition`` every 10 ms; ``TimeoutError`` after ``within`` seconds."""
    async with asyncio.timeout(within):
        for _ in iter(int, 1):  # forever, until the timeout
            if condition():
                return
            await asyncio.sleep(0.01)


def _expected(liqs: list[Liq]) -> list[tuple[int, int, float, float]]:
    return sorted((q.time, int(q.side), q.price, q.price * q.base) for q in liqs)


def _assert_prints(got: list[tuple[int, int, float, float]], liqs: list[Liq]) -> None:
    want = _expected(liqs)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2:] for g in got], [w[2:] for w in want], rtol=1e-9)


Factory = Callable[..., PrintsWatcher]


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
async def make_watcher(
    fake_exchange: FakeExchange, fake_exchange_ws: FakeExchangeWs, collected: Collected
) -> AsyncIterator[Factory]:
    made: list[PrintsWatcher] = []

    def make(
        exchange: str, symbols: list[str] | None = None, sink: Any = None, **kwargs: Any
    ) -> PrintsWatcher:
        options: dict[str, Any] = {
            "api_base_url": fake_exchange.url,
            "ws_base_url": fake_exchange_ws.url,
            "enable_rate_limit": False,
            "flush_interval": 0.02,
            "backoff": RetryPolicy(base_delay=0.01, max_delay=0.05),
            **kwargs,
        }
        watcher = PrintsWatcher(exchange, symbols or [BTC], sink or collected, **options)
        made.append(watcher)
        return watcher

    yield make
    for watcher in made:
        await watcher.stop()


async def _started(make: Factory, fake: FakeExchangeWs, exchange: str, **kw: Any) -> PrintsWatcher:
    watcher = make(exchange, **kw)
    await watcher.start()
    for symbol in watcher.symbols:
        await fake.wait_subscribed(exchange, _topic(exchange, symbol))
    return watcher


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_a_burst_of_events_arrives_as_prints_with_the_right_side_price_and_notional(
    exchange: str, make_watcher: Factory, fake_exchange_ws: FakeExchangeWs, collected: Collected
) -> None:
    await _started(make_watcher, fake_exchange_ws, exchange)
    liqs = _cases(8, seed=len(exchange))
    for liq in liqs:  # back to back: ccxt reads several frames per wake-up
        assert await fake_exchange_ws.push(exchange, _event(exchange, BTC, [liq])) == 1
    await collected.wait(len(liqs))
    await asyncio.sleep(0.05)  # nothing more (no duplicates) arrives
    _assert_prints(collected.merged(), liqs)
    assert all(ex == exchange and sym == BTC for ex, sym, _ in collected)


@pytest.mark.parametrize("exchange", ["bybit", "okx"])
async def test_every_row_of_a_multi_row_message_becomes_a_print(
    exchange: str, make_watcher: Factory, fake_exchange_ws: FakeExchangeWs, collected: Collected
) -> None:
    # ccxt's OKX parser keeps only details[0]; the watcher reads them all from ``info``
    await _started(make_watcher, fake_exchange_ws, exchange)
    liqs = _cases(3, seed=7)
    await fake_exchange_ws.push(exchange, _event(exchange, BTC, liqs))
    await collected.wait(3)
    _assert_prints(collected.merged(), liqs)


@pytest.mark.parametrize(
    ("exchange", "subscribe"),
    [
        ("binanceusdm", {"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder", "ethusdt@forceOrder"]}),
        ("okx", {"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]}),
    ],
)  # fmt: skip
async def test_one_subscription_covers_all_symbols_where_ccxt_can(
    exchange: str,
    subscribe: dict[str, Any],
    make_watcher: Factory,
    fake_exchange_ws: FakeExchangeWs,
    collected: Collected,
) -> None:
    eth = "ETH/USDT:USDT"
    await _started(make_watcher, fake_exchange_ws, exchange, symbols=["BTC", "ETH/USDT:USDT"])
    sent = [m for ex, m in fake_exchange_ws.received if ex == exchange]
    assert [{k: m[k] for k in subscribe} for m in sent] == [subscribe]
    btc, eth_liq = _cases(2, seed=3)
    await fake_exchange_ws.push(exchange, _event(exchange, BTC, [btc]))
    await fake_exchange_ws.push(exchange, _event(exchange, eth, [eth_liq]))
    await collected.wait(1, BTC)
    await collected.wait(1, eth)
    _assert_prints(collected.merged(BTC), [btc])
    _assert_prints(collected.merged(eth), [eth_liq])


async def test_bybit_subscribes_one_topic_per_symbol(
    make_watcher: Factory, fake_exchange_ws: FakeExchangeWs
) -> None:
    await _started(make_watcher, fake_exchange_ws, "bybit", symbols=["BTC", "ETH"])
    subscribed = sorted(
        arg
        for ex, m in fake_exchange_ws.received
        if ex == "bybit" and m.get("op") == "subscribe"
        for arg in m["args"]
    )
    assert subscribed == ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT"]


async def test_okx_prints_of_unwatched_instruments_are_ignored(
    make_watcher: Factory, fake_exchange_ws: FakeExchangeWs, collected: Collected
) -> None:
    await _started(make_watcher, fake_exchange_ws, "okx")
    other, mine = _cases(2, seed=11)
    await fake_exchange_ws.push("okx", _event("okx", "ETH/USDT:USDT", [other]))
    await fake_exchange_ws.push("okx", _event("okx", BTC, [mine]))
    await collected.wait(1)
    await asyncio.sleep(0.05)
    assert {sym for _, sym, _ in collected} == {BTC}
    _assert_prints(collected.merged(), [mine])


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_a_dropped_connection_reconnects_and_later_events_still_arrive_once(
    exchange: str, make_watcher: Factory, fake_exchange_ws: FakeExchangeWs, collected: Collected
) -> None:
    watcher = await _started(make_watcher, fake_exchange_ws, exchange)
    liqs = _cases(4, seed=5)
    for liq in liqs[:2]:
        await fake_exchange_ws.push(exchange, _event(exchange, BTC, [liq]))
    await collected.wait(2)
    await fake_exchange_ws.drop(exchange)
    await fake_exchange_ws.wait_subscribed(exchange, _topic(exchange, BTC))
    assert fake_exchange_ws.connections[exchange] == 2
    for liq in liqs[2:]:
        await fake_exchange_ws.push(exchange, _event(exchange, BTC, [liq]))
    await collected.wait(4)
    await asyncio.sleep(0.05)
    _assert_prints(collected.merged(), liqs)
    status = watcher.status
    assert status.reconnects >= 1
    assert status.connected
    assert status.last_error is not None and "closed" in status.last_error


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_garbage_frames_are_logged_and_survived(
    exchange: str,
    make_watcher: Factory,
    fake_exchange_ws: FakeExchangeWs,
    collected: Collected,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watcher = await _started(make_watcher, fake_exchange_ws, exchange)
    caplog.set_level(logging.WARNING, logger="bot.market.prints_stream")
    for junk in ("garbage", '{"truncated": [1, 2', "[1, 2, 3]"):
        await fake_exchange_ws.send_raw(exchange, junk)
    topic, bad = _event(exchange, BTC, _cases(1, seed=2))
    if exchange == "binanceusdm":
        bad["o"]["ap"] = "not-a-price"
    elif exchange == "bybit":
        bad["data"][0]["p"] = "not-a-price"
    else:
        bad["data"][0]["details"][0]["bkPx"] = "not-a-price"
    await fake_exchange_ws.push(exchange, (topic, bad))
    good = _cases(2, seed=9)
    for liq in good:
        await fake_exchange_ws.push(exchange, _event(exchange, BTC, [liq]))
    await collected.wait(2)
    _assert_prints(collected.merged(), good)
    assert watcher.status.bad_frames >= 1
    assert watcher.status.reconnects == 0
    assert fake_exchange_ws.connections[exchange] == 1
    assert any("unreadable" in r.getMessage() for r in caplog.records)


async def test_stop_flushes_the_buffer_and_leaves_no_tasks_or_sockets(
    make_watcher: Factory, fake_exchange_ws: FakeExchangeWs, collected: Collected
) -> None:
    watcher = await _started(make_watcher, fake_exchange_ws, "bybit", flush_interval=60.0)
    liqs = _cases(3, seed=4)
    for liq in liqs:
        await fake_exchange_ws.push("bybit", _event("bybit", BTC, [liq]))
    await _eventually(lambda: watcher.status.prints >= 3)
    assert collected == []  # still buffered
    await watcher.stop()
    _assert_prints(collected.merged(), liqs)
    assert not watcher.status.connected
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("prints ")]
    await fake_exchange_ws.wait_subscribed("bybit", _topic("bybit", BTC), present=False)


async def test_a_full_buffer_is_flushed_without_waiting_for_the_interval(
    make_watcher: Factory, fake_exchange_ws: FakeExchangeWs, collected: Collected
) -> None:
    await _started(make_watcher, fake_exchange_ws, "okx", flush_interval=60.0, max_batch=4)
    liqs = _cases(4, seed=8)
    await fake_exchange_ws.push("okx", _event("okx", BTC, liqs))
    await collected.wait(4, within=2.0)
    assert len(collected) == 1 and len(collected[0][2]) == 4


async def test_an_unknown_symbol_fails_start_and_closes_the_exchange(
    make_watcher: Factory,
) -> None:
    watcher = make_watcher("bybit", ["NOPECOIN"])
    with pytest.raises(UnknownSymbol):
        async with watcher:
            pass
    assert not watcher.status.connected
    assert watcher._exchange.session is None  # REST session closed


async def test_a_failing_sink_is_logged_and_later_batches_still_go_out(
    make_watcher: Factory, fake_exchange_ws: FakeExchangeWs, caplog: pytest.LogCaptureFixture
) -> None:
    saved = Collected()
    calls = 0

    async def flaky(exchange: str, symbol: str, prints: LiquidationPrints) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")
        await saved(exchange, symbol, prints)

    await make_watcher("binanceusdm", sink=flaky).start()
    await fake_exchange_ws.wait_subscribed("binanceusdm", _topic("binanceusdm", BTC))
    lost, kept = _cases(2, seed=12)
    await fake_exchange_ws.push("binanceusdm", _event("binanceusdm", BTC, [lost]))
    await _eventually(lambda: calls == 1)
    await fake_exchange_ws.push("binanceusdm", _event("binanceusdm", BTC, [kept]))
    await saved.wait(1)
    _assert_prints(saved.merged(), [kept])
    assert "disk full" in caplog.text
