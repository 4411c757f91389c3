"""A small market written straight into the store, a cluster alert on it, and an outlet that
hands out message ids — what the follow-up tests share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.notify.dispatch import Dispatcher
from bot.notify.followups import Followups
from bot.notify.outlets import Outlet
from bot.reply import Platform, Reply
from bot.state.records import AlertEvent, RuleState
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from core.models import FloatArray, LiquidationPrints, MarketSeries, Side

BTC = "BTC/USDT:USDT"
VENUE = "binanceusdm"
CANDLE = 300_000
HOUR = 3_600_000
HORIZON = 6 * HOUR
T0 = 1_767_225_600_000  # the alert's candle (2026-01-01 00:00 UTC)
LEVEL = 101.5  # the short cluster the alert names, above the alert's price of 100


def series(start: int, closes: Sequence[float] | FloatArray) -> MarketSeries:
    """5m candles from ``start``: each opens at the previous close, ±0.1 % wicks."""
    close = np.asarray(closes, dtype=np.float64)
    opens = np.concatenate([[close[0]], close[:-1]])
    return MarketSeries(
        timestamps=start + CANDLE * np.arange(len(close), dtype=np.int64),
        open=opens,
        high=np.maximum(opens, close) * 1.001,
        low=np.minimum(opens, close) * 0.999,
        close=close,
        volume=np.ones(len(close)),
        open_interest=np.full(len(close), 1_000.0),
    )


def rising(n: int = 80, flat: int = 10, top: float = 102.0) -> FloatArray:
    """100 for ``flat`` candles, then a straight climb to ``top``."""
    return np.concatenate([np.full(flat, 100.0), np.linspace(100.0, top, n - flat)])


def cluster_alert(transition: int = T0, exchange: str = VENUE, level: float = LEVEL) -> AlertEvent:
    return AlertEvent(
        "cluster",
        BTC,
        exchange,
        transition,
        100.0,
        "map",
        {
            "proximity": 0.02,
            "cluster_price": level,
            "cluster_notional": 2.5e7,
            "cluster_side": "short",
            "distance": level / 100.0 - 1.0,
        },
    )


def zone_alert(low: float, high: float, side: str = "short") -> AlertEvent:
    numbers: dict[str, object] = {"proximity": 0.01, "zone_low": low, "zone_high": high}
    numbers |= {"zone_notional": 4e7, "zone_side": side}
    return AlertEvent("cluster", BTC, VENUE, T0, 100.0, "map", numbers)


@dataclass(frozen=True)
class Print:
    time: int
    side: Side
    price: float
    usd: float


def save_prints(store: Store, prints: Sequence[Print]) -> None:
    prints = sorted(prints, key=lambda p: p.time)
    store.save_prints(
        VENUE,
        BTC,
        LiquidationPrints(
            times=np.array([p.time for p in prints], dtype=np.int64),
            sides=np.array([int(p.side) for p in prints], dtype=np.int8),
            prices=np.array([p.price for p in prints]),
            notionals=np.array([p.usd for p in prints]),
        ),
    )


class IdOutlet:
    """Records every reply and answers each with a message id (``m1``, ``m2`` …)."""

    def __init__(self, platform: Platform = "telegram", *, ids: bool = True) -> None:
        self._platform: Platform = platform
        self.ids = ids
        self.sent: list[tuple[str, Reply]] = []

    @property
    def platform(self) -> Platform:
        return self._platform

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        self.sent.append((chat_id, reply))
        return f"m{len(self.sent)}" if self.ids else None

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        raise AssertionError("no threads here")

    def followups(self) -> list[tuple[str, Reply]]:
        return [(c, r) for c, r in self.sent if r.template == "followup"]


async def no_chart(event: AlertEvent) -> bytes | None:
    return None


@dataclass
class Bot:
    """One "process": its store, subscriptions, dispatcher and follow-up tracker."""

    store: Store
    subs: Subscriptions
    dispatcher: Dispatcher
    followups: Followups
    clock: list[int] = field(default_factory=lambda: [T0])

    def now(self) -> int:
        return self.clock[0]


def start_bot(
    store: Store, outlet: Outlet, *, now: int = T0, cooldown_ms: int = 0, horizon: int = HORIZON
) -> Bot:
    subs = Subscriptions(store)
    clock = [now]
    platform = outlet.platform
    dispatcher = Dispatcher(
        subs, {platform: outlet}, no_chart, clock=lambda: clock[0], range_label="24h"
    )
    followups = Followups(
        subs,
        exchanges=(VENUE,),
        timeframe="5m",
        horizon_ms=horizon,
        cooldown_ms=cooldown_ms,
        clock=lambda: clock[0],
        dispatcher=dispatcher,
    )
    dispatcher.on_sent = followups.sent
    return Bot(store, subs, dispatcher, followups, clock)


async def alert(bot: Bot, chat: str, event: AlertEvent, platform: str = "telegram") -> str:
    """Subscribe ``chat``, claim ``event`` for it and deliver it; its delivery key."""
    bot.subs.subscribe(platform, chat, BTC, ["cluster"])
    key = bot.subs.claim(
        platform, chat, event, RuleState(False, event.transition), now=bot.now(), cooldown_ms=0
    )
    assert key is not None
    bot.dispatcher.submit(platform, chat, key, event)
    await bot.dispatcher.flush()
    return key
