"""Pure normalisation of liquidation prints: side mapping, unreadable rows, ws URL rewriting."""

from __future__ import annotations

from typing import Any

import pytest

from bot.market.prints_parse import prints_from_liquidation
from bot.market.prints_stream import PrintsWatcher, rewrite_ws_urls
from core.models import LiquidationPrints, Side

BTC = "BTC/USDT:USDT"


# -- pure normalisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange", "raw_side", "position"),
    [
        ("binanceusdm", "sell", Side.LONG),  # order side: a SELL closes a long
        ("binanceusdm", "buy", Side.SHORT),
        ("bybit", "buy", Side.LONG),  # position side: Buy = a long was liquidated
        ("bybit", "sell", Side.SHORT),
        ("okx", "sell", Side.LONG),  # order side, when posSide does not say
        ("okx", "buy", Side.SHORT),
    ],
)
def test_side_mapping_per_exchange(exchange: str, raw_side: str, position: Side) -> None:
    info: dict[str, Any] = {}
    if exchange == "okx":
        info = {"details": [{"side": raw_side, "posSide": "net", "sz": "3", "bkPx": "2.5",
                             "ts": "1000"}]}  # fmt: skip
    liq = {"symbol": "X/USDT:USDT", "timestamp": 1000, "price": 2.5, "contracts": 3.0,
           "contractSize": None, "side": raw_side, "info": info}  # fmt: skip
    (row,) = prints_from_liquidation(exchange, liq, contract_size=10.0)
    assert row.side is position
    assert row.notional == pytest.approx(2.5 * 3 * 10)


def test_unreadable_rows_are_left_out_not_invented(caplog: pytest.LogCaptureFixture) -> None:
    liq: dict[str, Any] = {"symbol": "X/USDT:USDT", "timestamp": None, "price": 2.0, "contracts": 1.0,
           "side": "sell", "info": {}}  # fmt: skip
    assert prints_from_liquidation("binanceusdm", liq) == []
    assert prints_from_liquidation("bybit", {**liq, "timestamp": 5, "side": "flat"}) == []
    assert prints_from_liquidation("bybit", {**liq, "timestamp": 5, "price": 0.0}) == []
    assert "unreadable" in caplog.text


def test_rewrite_ws_urls_keeps_paths_and_placeholders() -> None:
    ws = {"linear": "wss://fstream.binance.com/ws", "nested": {"a": "wss://stream.{hostname}/v5/x"}}
    assert rewrite_ws_urls(ws, "ws://127.0.0.1:9/") == {
        "linear": "ws://127.0.0.1:9/ws",
        "nested": {"a": "ws://127.0.0.1:9/v5/x"},
    }
    assert rewrite_ws_urls("wss://ws.okx.com:443/ws/v5", "ws://h:1") == "ws://h:1/ws/v5"


def test_exchanges_without_a_stream_are_refused() -> None:
    async def sink(_e: str, _s: str, _p: LiquidationPrints) -> None:
        return None

    with pytest.raises(KeyError):
        PrintsWatcher("kraken", [BTC], sink)
