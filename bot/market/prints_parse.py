"""Normalising ccxt.pro liquidation structures into prints: what each exchange's ``side`` means.

:class:`~bot.market.prints_stream.PrintsWatcher` hands every parsed liquidation to
:func:`prints_from_liquidation`, which turns it into :class:`PrintRow` s (liquidated side,
price, notional), and batches them with :func:`batch_prints`. What ccxt.pro (4.5)
subscribes to, what arrives, and what the ``side`` it reports means — it is *not* the same
thing everywhere:

binanceusdm — ``{"method":"SUBSCRIBE","params":["btcusdt@forceOrder"],"id":1}`` on
``…/market/ws/<n>`` (one subscription for all symbols)::

    {"e":"forceOrder","E":1698871323061,"o":{"s":"BTCUSDT","S":"BUY","o":"LIMIT","f":"IOC",
     "q":"1.437","p":"35100.81","ap":"34959.70","X":"FILLED","l":"1.437","z":"1.437",
     "T":1698871323059}}

  ``S`` is the liquidation ORDER's side: SELL closes a long → :attr:`Side.LONG`. ccxt:
  price = ``ap`` (average fill), contracts = ``l`` (base units), timestamp = ``T``.

bybit — ``{"op":"subscribe","req_id":1,"args":["allLiquidation.BTCUSDT"]}`` on
``/v5/public/linear`` (one topic per symbol; ccxt has no multi-symbol watch)::

    {"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,
     "data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}

  ``S`` is the liquidated POSITION's side (Bybit docs: "Buy … a long position has been
  liquidated"): Buy → :attr:`Side.LONG`. Price ``p`` is the bankruptcy price; ``v`` base.

okx — ``{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}`` on
``/ws/v5/public`` (every SWAP instrument; we keep our symbols)::

    {"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{
     "bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13",
     "ts":"1692266434010"}],"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP",
     "instType":"SWAP","uly":"IOST-USDT"}]}

  ``side`` is the ORDER side (buy closes a short), ``posSide`` the position: we use
  ``posSide`` when it says long/short, else the opposite of ``side``. ``sz`` counts
  contracts (× ``ctVal``, the market's ``contractSize``); price ``bkPx`` is the bankruptcy
  price. ccxt parses only ``details[0]`` and loses ``contractSize`` (see
  :func:`prints_from_liquidation`); we read every detail from ``info`` and take the size
  from the loaded markets.

Notional = price × base amount, in quote currency.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from core.models import LiquidationPrints, Side

__all__ = ["PrintRow", "batch_prints", "prints_from_liquidation"]

log = logging.getLogger(__name__)

#: Does ccxt's ``side`` name the liquidated position (True) or the closing order (False)?
_SIDE_IS_POSITION = {"binanceusdm": False, "bybit": True, "okx": False}


class PrintRow(NamedTuple):
    """One normalised liquidation: unified symbol, ms time, liquidated side, price, notional."""

    symbol: str
    time: int
    side: Side
    price: float
    notional: float


def _side(exchange_id: str, side: object, position: object = None) -> Side | None:
    if position in ("long", "short"):
        return Side.LONG if position == "long" else Side.SHORT
    text = str(side).lower()
    if text not in ("buy", "sell"):
        return None
    closes_long = text == "sell"
    if _SIDE_IS_POSITION[exchange_id]:
        closes_long = not closes_long
    return Side.LONG if closes_long else Side.SHORT


def _row(
    symbol: str, side: Side | None, time_ms: object, price: object, base: float
) -> PrintRow | None:
    try:
        t, p = int(str(time_ms)), float(str(price))
    except ValueError:
        return None
    if side is None or not p > 0 or not base >= 0 or not np.isfinite(p * base):
        return None
    return PrintRow(symbol, t, side, p, p * base)


def prints_from_liquidation(
    exchange_id: str, liquidation: Mapping[str, Any], contract_size: float | None = None
) -> list[PrintRow]:
    """Normalise one ccxt liquidation structure; rows it cannot read are left out (logged).

    ``contract_size`` is the market's base units per contract; pass it from the loaded
    markets: ccxt 4.5's WS parsers call ``safe_liquidation`` without the market, which
    resets ``contractSize`` (and ``baseValue``/``quoteValue``) to ``None``.
    """
    symbol = str(liquidation.get("symbol"))
    size = float(contract_size or liquidation.get("contractSize") or 1.0)
    info = liquidation.get("info") or {}
    details = info.get("details") if exchange_id == "okx" else None
    rows: list[PrintRow | None] = []
    try:
        if isinstance(details, list) and details:
            for d in details:
                side = _side(exchange_id, d.get("side"), d.get("posSide"))
                rows.append(_row(symbol, side, d.get("ts"), d.get("bkPx"), float(d["sz"]) * size))
        else:
            side = _side(exchange_id, liquidation.get("side"))
            contracts = float(liquidation["contracts"])
            price = liquidation.get("price")
            rows.append(_row(symbol, side, liquidation.get("timestamp"), price, contracts * size))
    except (AttributeError, KeyError, TypeError, ValueError):
        rows.append(None)
    good = [r for r in rows if r is not None]
    if len(good) < len(rows):
        log.warning("%s: unreadable liquidation left out: %r", exchange_id, info or liquidation)
    return good


def batch_prints(rows: Sequence[PrintRow]) -> LiquidationPrints:
    """``rows`` as one :class:`~core.models.LiquidationPrints` batch, in time order."""
    order = np.argsort(np.array([r.time for r in rows], dtype=np.int64), kind="stable")
    picked = [rows[i] for i in order]
    return LiquidationPrints(
        times=np.array([r.time for r in picked], dtype=np.int64),
        sides=np.array([int(r.side) for r in picked], dtype=np.int8),
        prices=np.array([r.price for r in picked], dtype=np.float64),
        notionals=np.array([r.notional for r in picked], dtype=np.float64),
    )
