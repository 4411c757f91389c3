"""A loopback fake of the three public liquidation WebSocket streams, for real ccxt.pro.

One aiohttp server on 127.0.0.1 (random port) speaks each exchange's protocol on the path
ccxt.pro dials once ``urls['api']['ws']`` points at ``ws://127.0.0.1:<port>``:

=============  ==========================  ===========================================
exchange       path                        subscribe → acknowledgement
=============  ==========================  ===========================================
binanceusdm    ``/market/ws/<n>``          ``{"method":"SUBSCRIBE","params":
                                           ["btcusdt@forceOrder"],"id":1}`` →
                                           ``{"result":null,"id":1}``
bybit          ``/v5/public/linear``       ``{"op":"subscribe","req_id":1,"args":
                                           ["allLiquidation.BTCUSDT"]}`` →
                                           ``{"success":true,"ret_msg":"","op":
                                           "subscribe","req_id":1,"conn_id":…}``;
                                           ``{"op":"ping"}`` → ``ret_msg "pong"``
okx            ``/ws/v5/public``           ``{"op":"subscribe","args":[{"channel":
                                           "liquidation-orders","instType":"SWAP"}]}``
                                           → ``{"event":"subscribe","arg":{…}}``;
                                           text ``ping`` → ``pong``
=============  ==========================  ===========================================

Events are built in each exchange's wire shape by :func:`binance_force_order`,
:func:`bybit_all_liquidation` and :func:`okx_liquidation_orders` and sent with
:meth:`FakeExchangeWs.push` to every socket subscribed to the event's topic. Test controls:
:meth:`FakeExchangeWs.wait_subscribed` (the acknowledgement has gone out),
:meth:`FakeExchangeWs.drop` (close every socket of one exchange) and
:meth:`FakeExchangeWs.send_raw` (garbage frames). :attr:`FakeExchangeWs.received` logs
every frame a client sent, :attr:`FakeExchangeWs.connections` counts handshakes.
REST (``load_markets``) comes from :mod:`tests.fakes.fake_exchange`.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMsgType, web

__all__ = [
    "FakeExchangeWs",
    "binance_force_order",
    "bybit_all_liquidation",
    "fake_exchange_ws",
    "okx_liquidation_orders",
]

OKX_TOPIC = "liquidation-orders:SWAP"


def binance_force_order(
    symbol_id: str, order_side: str, qty: str, avg_price: str, ts: int
) -> tuple[str, dict[str, Any]]:
    """A USDⓈ-M ``forceOrder`` event; ``order_side`` is the liquidation ORDER's side."""
    event = {
        "e": "forceOrder",
        "E": ts + 2,
        "o": {"s": symbol_id, "S": order_side, "o": "LIMIT", "f": "IOC", "q": qty,
              "p": avg_price, "ap": avg_price, "X": "FILLED", "l": qty, "z": qty, "T": ts},
    }  # fmt: skip
    return f"{symbol_id.lower()}@forceOrder", event


def bybit_all_liquidation(
    symbol_id: str, rows: list[tuple[str, str, str, int]]
) -> tuple[str, dict[str, Any]]:
    """An ``allLiquidation.<symbol>`` push; rows are (position side Buy/Sell, size, price, T)."""
    topic = f"allLiquidation.{symbol_id}"
    data = [{"T": t, "s": symbol_id, "S": side, "v": v, "p": p} for side, v, p, t in rows]
    return topic, {"topic": topic, "type": "snapshot", "ts": max(r[3] for r in rows), "data": data}


def okx_liquidation_orders(
    inst_id: str, details: list[tuple[str, str, str, str, int]]
) -> tuple[str, dict[str, Any]]:
    """A ``liquidation-orders`` push; details are (order side, posSide, sz contracts, bkPx, ts)."""
    family = inst_id.removesuffix("-SWAP")
    rows = [{"bkLoss": "0", "bkPx": px, "ccy": "", "posSide": pos, "side": side, "sz": sz,
             "ts": str(ts)} for side, pos, sz, px, ts in details]  # fmt: skip
    entry = {"details": rows, "instFamily": family, "instId": inst_id, "instType": "SWAP",
             "uly": family}  # fmt: skip
    return OKX_TOPIC, {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [entry],
    }


@dataclass(eq=False)
class _Socket:
    exchange: str
    ws: web.WebSocketResponse
    topics: set[str] = field(default_factory=set)


class FakeExchangeWs:
    """The server, its sockets and subscriptions, and the test controls."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[tuple[str, Any]] = []
        self.connections: Counter[str] = Counter()
        self._sockets: list[_Socket] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/market/ws/{stream}", self._endpoint("binanceusdm"))
        app.router.add_get("/v5/public/linear", self._endpoint("bybit"))
        app.router.add_get("/ws/v5/public", self._endpoint("okx"))
        self._app = app

    async def start(self) -> str:
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"ws://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- test controls ---------------------------------------------------------------

    def _subscribed(self, exchange: str, topic: str) -> list[_Socket]:
        return [s for s in self._sockets if s.exchange == exchange and topic in s.topics]

    async def wait_subscribed(
        self, exchange: str, topic: str, *, present: bool = True, within: float = 5.0
    ) -> None:
        """Return once a live socket of ``exchange`` has subscribed to ``topic``
        (``present=False``: once no socket is subscribed any more)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: bool(self._subscribed(exchange, topic)) is present)

    async def push(self, exchange: str, event: tuple[str, dict[str, Any]]) -> int:
        """Send ``(topic, payload)`` to every subscribed socket; returns how many got it."""
        topic, payload = event
        targets = self._subscribed(exchange, topic)
        for sock in targets:
            await sock.ws.send_str(json.dumps(payload))
        return len(targets)

    async def send_raw(self, exchange: str, text: str) -> None:
        """Send an arbitrary text frame (garbage) to every socket of ``exchange``."""
        for sock in [s for s in self._sockets if s.exchange == exchange]:
            await sock.ws.send_str(text)

    async def drop(self, exchange: str | None = None) -> None:
        """Close the sockets of ``exchange`` (all when ``None``), as a server restart would."""
        for sock in [s for s in self._sockets if exchange in (None, s.exchange)]:
            await sock.ws.close(code=1001, message=b"going away")
            await self._forget(sock)

    # -- protocol ----------------------------------------------------------------------

    async def _forget(self, sock: _Socket) -> None:
        async with self._changed:
            if sock in self._sockets:
                self._sockets.remove(sock)
            self._changed.notify_all()

    def _endpoint(self, exchange: str) -> Any:
        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            sock = _Socket(exchange, ws)
            self.connections[exchange] += 1
            async with self._changed:
                self._sockets.append(sock)
            try:
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        await self._on_text(sock, msg.data)
            finally:
                await self._forget(sock)
            return ws

        return handler

    async def _on_text(self, sock: _Socket, text: str) -> None:
        if text == "ping":  # OKX's text keepalive
            self.received.append((sock.exchange, text))
            await sock.ws.send_str("pong")
            return
        message = json.loads(text)
        self.received.append((sock.exchange, message))
        reply: dict[str, Any] | None = None
        topics: list[str] = []
        if sock.exchange == "binanceusdm" and message.get("method") == "SUBSCRIBE":
            topics = list(message["params"])
            reply = {"result": None, "id": message["id"]}
        elif sock.exchange == "bybit":
            op = message.get("op")
            if op == "subscribe":
                topics = list(message["args"])
            reply = {"success": True, "ret_msg": "pong" if op == "ping" else "", "op": op,
                     "req_id": message.get("req_id"), "conn_id": "fake-conn"}  # fmt: skip
        elif sock.exchange == "okx" and message.get("op") == "subscribe":
            topics = [f"{a['channel']}:{a['instType']}" for a in message["args"]]
            reply = {"event": "subscribe", "arg": message["args"][0], "connId": "fake-conn"}
        if reply is not None:
            await sock.ws.send_str(json.dumps(reply))
        if topics:
            async with self._changed:
                sock.topics.update(topics)
                self._changed.notify_all()


@pytest.fixture
async def fake_exchange_ws() -> AsyncIterator[FakeExchangeWs]:
    """A started :class:`FakeExchangeWs`."""
    fake = FakeExchangeWs()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
