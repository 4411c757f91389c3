"""A loopback fake of Binance USDⓈ-M, Bybit v5 and OKX v5 public REST, for real ccxt.

One aiohttp server on 127.0.0.1 (random port) answers all three APIs (their paths do not
clash); point ``CcxtSource(..., api_base_url=fake.url)`` at it. It serves, in the
exchanges' own shapes and ordering conventions:

* markets — the *recorded* Binance ``exchangeInfo``, Bybit ``instruments-info``
  (``status=PreLaunch`` → empty list) and OKX ``instruments``;
* candles of XRP/USDT:USDT 5m and 1h — *recorded* (Nov 2021), ascending from
  ``startTime`` (Binance) or newest-first up to the end bound (Bybit ``end``, OKX ``after``);
* funding — *recorded* 8h XRP rates;
* order books — the *recorded* BTCUSDT 1000-level depth, for every symbol;
* open interest, long/short ratio and taker-buy volume — STAND-INS derived from the
  candles (see :mod:`tests.fakes.exchange_data`); stats endpoints return the newest
  ``limit`` rows of the window;
* Bybit ``risk-limit`` — the recorded Binance BTC brackets in Bybit's shape (STAND-IN
  values, real shape). OKX books are sized in contracts (XRP ``ctVal`` 100).

Test switches: :meth:`FakeExchange.fail` queues faults for a path (``"429"`` with
``Retry-After``, ``"500"``, ``"timeout"`` — sleeps longer than the client timeout —,
``"malformed"``, ``"empty"``); :attr:`FakeExchange.gap` hides candles opening in a range.
:attr:`FakeExchange.requests` counts requests per path (:attr:`FakeExchange.log` keeps
each query); unknown paths are logged in
:attr:`FakeExchange.misses` and answered 404.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from tests.fakes.exchange_data import (
    RecordedMarket,
    data_available,
    load_json,
    num,
    recorded_market,
)

__all__ = ["FakeExchange", "fake_exchange"]

Handler = Callable[[web.Request], Any]
_BYBIT_TF = {"5": "5m", "60": "1h"}
_OKX_TF = {"5m": "5m", "1H": "1h"}
_EMPTY = web.RequestKey("empty_page", bool)
_PERIOD_MS = {"5m": 300_000, "5min": 300_000, "1h": 3_600_000, "1H": 3_600_000}


def _json(payload: Any) -> web.Response:
    return web.Response(text=json.dumps(payload), content_type="application/json")


def _window(times: np.ndarray, lo: int, hi: int, limit: int, newest: bool) -> np.ndarray:
    """Indices (ascending) of ``lo <= t <= hi``: the first or the newest ``limit``."""
    idx = np.flatnonzero((times >= lo) & (times <= hi))
    return idx[-limit:] if newest else idx[:limit]


class FakeExchange:
    """The server, its request counters and its fault switches."""

    def __init__(self, *, timeout_sleep: float = 1.0) -> None:
        self.requests: Counter[str] = Counter()
        self.misses: list[str] = []
        self.gap: tuple[int, int] | None = None
        self.timeout_sleep = timeout_sleep
        self._faults: dict[str, deque[tuple[str, float | None] | None]] = {}
        self.log: list[tuple[str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        app = web.Application(middlewares=[self._middleware])
        routes: dict[str, Handler] = {
            "/fapi/v1/exchangeInfo": self._recorded("binance-usdm/exchangeInfo.json"),
            "/fapi/v1/klines": self._binance_klines,
            "/futures/data/openInterestHist": self._binance_oi,
            "/futures/data/globalLongShortAccountRatio": self._binance_ls,
            "/fapi/v1/fundingRate": self._binance_funding,
            "/fapi/v1/depth": self._binance_depth,
            "/v5/market/instruments-info": self._bybit_instruments,
            "/v5/market/kline": self._bybit_kline,
            "/v5/market/open-interest": self._bybit_oi,
            "/v5/market/funding/history": self._bybit_funding,
            "/v5/market/account-ratio": self._bybit_ls,
            "/v5/market/orderbook": self._bybit_book,
            "/v5/market/risk-limit": self._bybit_risk_limit,
            "/api/v5/public/instruments": self._recorded("okx/instruments-SWAP.json"),
            "/api/v5/market/candles": self._okx_candles,
            "/api/v5/market/history-candles": self._okx_candles,
            "/api/v5/rubik/stat/contracts/open-interest-history": self._okx_oi,
            "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract": self._okx_ls,
            "/api/v5/public/funding-rate-history": self._okx_funding,
            "/api/v5/market/books": self._okx_books,
        }
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        self._app = app

    @staticmethod
    def _recorded(relative: str) -> Handler:
        async def handler(_request: web.Request) -> web.Response:
            return _json(load_json(relative))

        return handler

    # -- lifecycle and switches ----------------------------------------------------

    async def start(self) -> str:
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(
        self,
        path: str,
        kind: str,
        times: int = 1,
        *,
        after: int = 0,
        retry_after: float | None = None,
    ) -> None:
        """Answer ``times`` requests to ``path`` with fault ``kind``, after ``after`` good ones."""
        if kind not in {"429", "500", "timeout", "malformed", "empty"}:
            raise ValueError(f"unknown fault {kind!r}")
        queue = self._faults.setdefault(path, deque())
        queue.extend([None] * after + [(kind, retry_after)] * times)

    def count(self, prefix: str = "") -> int:
        return sum(n for path, n in self.requests.items() if path.startswith(prefix))

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        self.requests[path] += 1
        self.log.append((path, dict(request.query)))
        queue = self._faults.get(path)
        fault = queue.popleft() if queue else None
        if fault is not None:
            kind, retry_after = fault
            if kind == "429":
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return web.Response(status=429, text="Too many requests", headers=headers)
            if kind == "500":
                return web.Response(status=503, text="Service Unavailable")
            if kind == "timeout":
                await asyncio.sleep(self.timeout_sleep)
            if kind == "malformed":
                return web.Response(text='{"truncated": [1, 2', content_type="application/json")
            if kind == "empty":
                request[_EMPTY] = True
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            self.misses.append(str(request.rel_url))
            raise
        return response

    def _market(self, interval: str | None, request: web.Request) -> RecordedMarket | None:
        if request.get(_EMPTY) or interval not in ("5m", "1h"):
            return None
        return recorded_market(interval).without(self.gap)

    # -- Binance USDⓈ-M ------------------------------------------------------------

    async def _binance_klines(self, r: web.Request) -> web.Response:
        q = r.query
        m = self._market(q["interval"], r) if q["symbol"] == "XRPUSDT" else None
        if m is None:
            return _json([])
        lo, hi = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        rows = []
        for i in _window(m.times, lo, hi, min(int(q.get("limit", 500)), 1500), newest=False):
            o, h, low, c, v = m.ohlcv[i]
            t = int(m.times[i])
            tb = m.taker_buy[i]
            rows.append(
                [t, num(o), num(h), num(low), num(c), num(v), t + m.tf_ms - 1,
                 num(v * c), 1000, num(tb), num(tb * c), "0"]
            )  # fmt: skip
        return _json(rows)

    def _stats(
        self, r: web.Request, period: str, lo: int, hi: int, limit: int
    ) -> tuple[RecordedMarket, np.ndarray] | None:
        m = self._market("5m", r)
        if m is None or period not in _PERIOD_MS:
            return None
        closes = m.times + m.tf_ms
        idx = np.flatnonzero((closes % _PERIOD_MS[period] == 0) & (closes >= lo) & (closes <= hi))
        return m, idx[-limit:]

    def _xrp_stats(
        self, r: web.Request, period_key: str, default_limit: int, max_limit: int
    ) -> tuple[RecordedMarket, np.ndarray] | None:
        """Binance/Bybit stats paging (startTime, endTime, limit); recorded for XRPUSDT only."""
        q = r.query
        if q["symbol"] != "XRPUSDT":
            return None
        return self._stats(
            r,
            q[period_key],
            int(q.get("startTime", 0)),
            int(q.get("endTime", 2**62)),
            min(int(q.get("limit", default_limit)), max_limit),
        )

    async def _binance_oi(self, r: web.Request) -> web.Response:
        got = self._xrp_stats(r, "period", 30, 500)
        if got is None:
            return _json([])
        m, idx = got
        return _json([
            {"symbol": "XRPUSDT", "sumOpenInterest": num(m.open_interest[i]),
             "sumOpenInterestValue": num(m.open_interest[i] * m.ohlcv[i, 3]),
             "timestamp": int(m.times[i] + m.tf_ms)}
            for i in idx
        ])  # fmt: skip

    async def _binance_ls(self, r: web.Request) -> web.Response:
        got = self._xrp_stats(r, "period", 30, 500)
        if got is None:
            return _json([])
        m, idx = got
        out = []
        for i in idx:
            ratio = m.long_short[i]
            out.append({"symbol": "XRPUSDT", "longShortRatio": num(ratio),
                        "longAccount": num(ratio / (1 + ratio)), "shortAccount": num(1 / (1 + ratio)),
                        "timestamp": int(m.times[i] + m.tf_ms)})  # fmt: skip
        return _json(out)

    async def _binance_funding(self, r: web.Request) -> web.Response:
        q = r.query
        m = self._market("5m", r) if q.get("symbol") == "XRPUSDT" else None
        if m is None:
            return _json([])
        lo, hi = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        idx = _window(m.funding_times, lo, hi, min(int(q.get("limit", 100)), 1000), newest=False)
        return _json([
            {"symbol": "XRPUSDT", "fundingTime": int(m.funding_times[i]),
             "fundingRate": num(m.funding_rates[i]), "markPrice": "1.0"}
            for i in idx
        ])  # fmt: skip

    async def _binance_depth(self, r: web.Request) -> web.Response:
        book = load_json("binance-usdm/depth-BTCUSDT-limit1000-2024-08-08.json")
        limit = int(r.query.get("limit", 500))
        return _json({**book, "bids": book["bids"][:limit], "asks": book["asks"][:limit]})

    # -- Bybit v5 --------------------------------------------------------------------

    @staticmethod
    def _bybit(result: dict[str, Any]) -> web.Response:
        return _json({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1})

    async def _bybit_instruments(self, r: web.Request) -> web.Response:
        if r.query.get("status") == "PreLaunch":
            return self._bybit({"category": "linear", "list": [], "nextPageCursor": ""})
        return _json(load_json("bybit/instruments-info-linear.json"))

    async def _bybit_kline(self, r: web.Request) -> web.Response:
        q = r.query
        m = self._market(_BYBIT_TF.get(q["interval"]), r) if q["symbol"] == "XRPUSDT" else None
        rows = []
        if m is not None:
            lo, hi = int(q.get("start", 0)), int(q.get("end", 2**62))
            for i in _window(m.times, lo, hi, min(int(q.get("limit", 200)), 1000), newest=True)[
                ::-1
            ]:
                o, h, low, c, v = m.ohlcv[i]
                rows.append(
                    [str(int(m.times[i])), num(o), num(h), num(low), num(c), num(v), num(v * c)]
                )
        return self._bybit({"symbol": q["symbol"], "category": "linear", "list": rows})

    async def _bybit_oi(self, r: web.Request) -> web.Response:
        q = r.query
        got = self._xrp_stats(r, "intervalTime", 50, 200)
        rows = []
        if got is not None:
            m, idx = got
            rows = [
                {
                    "openInterest": num(m.open_interest[i]),
                    "timestamp": str(int(m.times[i] + m.tf_ms)),
                }
                for i in idx[::-1]
            ]
        return self._bybit(
            {"symbol": q["symbol"], "category": "linear", "list": rows, "nextPageCursor": ""}
        )

    async def _bybit_ls(self, r: web.Request) -> web.Response:
        got = self._xrp_stats(r, "period", 50, 500)
        rows = []
        if got is not None:
            m, idx = got
            rows = [
                {"symbol": "XRPUSDT", "buyRatio": num(m.long_short[i] / (1 + m.long_short[i])),
                 "sellRatio": num(1 / (1 + m.long_short[i])), "timestamp": str(int(m.times[i] + m.tf_ms))}
                for i in idx[::-1]
            ]  # fmt: skip
        return self._bybit({"list": rows, "nextPageCursor": ""})

    async def _bybit_funding(self, r: web.Request) -> web.Response:
        q = r.query
        m = self._market("5m", r) if q["symbol"] == "XRPUSDT" else None
        rows = []
        if m is not None:
            lo, hi = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
            idx = _window(m.funding_times, lo, hi, min(int(q.get("limit", 200)), 200), newest=True)
            rows = [{"symbol": "XRPUSDT", "fundingRate": num(m.funding_rates[i]),
                     "fundingRateTimestamp": str(int(m.funding_times[i]))} for i in idx[::-1]]  # fmt: skip
        return self._bybit({"category": "linear", "list": rows})

    async def _bybit_book(self, r: web.Request) -> web.Response:
        book = load_json("binance-usdm/depth-BTCUSDT-limit1000-2024-08-08.json")
        limit = int(r.query.get("limit", 25))
        return self._bybit({"s": r.query["symbol"], "b": book["bids"][:limit], "a": book["asks"][:limit],
                            "ts": book["T"], "u": 1, "seq": 1, "cts": book["T"]})  # fmt: skip

    async def _bybit_risk_limit(self, r: web.Request) -> web.Response:
        tiers = load_json("binance-usdm/leverage-tiers-ccxt.json")["BTC/USDT:USDT"]
        rows = [
            {"id": t["tier"], "symbol": r.query.get("symbol", "BTCUSDT"), "riskLimitValue": num(t["maxNotional"]),
             "maintenanceMargin": num(t["maintenanceMarginRate"]), "initialMargin": num(1 / t["maxLeverage"]),
             "isLowestRisk": int(t["tier"] == 1), "maxLeverage": num(t["maxLeverage"]), "mmDeduction": ""}
            for t in tiers
        ]  # fmt: skip
        return self._bybit({"category": "linear", "list": rows, "nextPageCursor": ""})

    # -- OKX v5 ----------------------------------------------------------------------

    @staticmethod
    def _okx(data: list[Any]) -> web.Response:
        return _json({"code": "0", "msg": "", "data": data})

    async def _okx_candles(self, r: web.Request) -> web.Response:
        q = r.query
        m = self._market(_OKX_TF.get(q["bar"]), r) if q["instId"] == "XRP-USDT-SWAP" else None
        rows = []
        if m is not None:
            lo, hi = int(q.get("before", -1)) + 1, int(q.get("after", 2**62)) - 1
            for i in _window(m.times, lo, hi, min(int(q.get("limit", 100)), 300), newest=True)[
                ::-1
            ]:
                o, h, low, c, v = m.ohlcv[i]
                rows.append([str(int(m.times[i])), num(o), num(h), num(low), num(c), num(v / 100),
                             num(v), num(v * c), "1"])  # fmt: skip
        return self._okx(rows)

    async def _okx_oi(self, r: web.Request) -> web.Response:
        q = r.query
        lo, hi = int(q.get("begin", -1)) + 1, int(q.get("end", 2**62)) - 1
        got = self._stats(r, q["period"], lo, hi, min(int(q.get("limit", 100)), 100))
        if got is None or q["instId"] != "XRP-USDT-SWAP":
            return self._okx([])
        m, idx = got
        return self._okx([
            [str(int(m.times[i] + m.tf_ms)), num(m.open_interest[i] / 100), num(m.open_interest[i]),
             num(m.open_interest[i] * m.ohlcv[i, 3])]
            for i in idx[::-1]
        ])  # fmt: skip

    async def _okx_ls(self, r: web.Request) -> web.Response:
        q = r.query
        lo, hi = int(q.get("begin", -1)) + 1, int(q.get("end", 2**62)) - 1
        got = self._stats(r, q.get("period", "5m"), lo, hi, min(int(q.get("limit", 100)), 100))
        if got is None or q["instId"] != "XRP-USDT-SWAP":
            return self._okx([])
        m, idx = got
        return self._okx(
            [[str(int(m.times[i] + m.tf_ms)), num(m.long_short[i])] for i in idx[::-1]]
        )

    async def _okx_funding(self, r: web.Request) -> web.Response:
        q = r.query
        m = self._market("5m", r) if q["instId"] == "XRP-USDT-SWAP" else None
        rows = []
        if m is not None:
            lo, hi = int(q.get("before", -1)) + 1, int(q.get("after", 2**62)) - 1
            idx = _window(m.funding_times, lo, hi, min(int(q.get("limit", 100)), 100), newest=True)
            rows = [{"instId": "XRP-USDT-SWAP", "instType": "SWAP", "fundingRate": num(m.funding_rates[i]),
                     "realizedRate": num(m.funding_rates[i]), "fundingTime": str(int(m.funding_times[i])),
                     "method": "current_period"} for i in idx[::-1]]  # fmt: skip
        return self._okx(rows)

    async def _okx_books(self, r: web.Request) -> web.Response:
        book = load_json("binance-usdm/depth-BTCUSDT-limit1000-2024-08-08.json")
        sz = int(r.query.get("sz", 1))
        levels = {
            side: [[p, num(float(q) / 100), "0", "1"] for p, q in book[side][:sz]]
            for side in ("bids", "asks")
        }
        return self._okx([{**levels, "ts": str(book["T"])}])


@pytest.fixture
async def fake_exchange() -> AsyncIterator[FakeExchange]:
    """A started :class:`FakeExchange`; skips when ``../shared/data`` is absent."""
    if not data_available():
        pytest.skip("recorded exchange data not found at ../shared/data (see its README)")
    fake = FakeExchange()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
