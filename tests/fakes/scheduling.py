"""Shared pieces of the scheduler tests: a fake clock, a recording outlet, a small setup
on the synthetic market."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.analysis.service import MarketService
from bot.config.settings import AlertSettings
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.notify.scheduler import Scheduler
from bot.reply import RANGES, Platform, Reply
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.clock import FakeClock as BaseClock

__all__ = ["BTC", "MINUTE", "NO_COOLDOWN", "START", "FakeClock", "FakeOutlet", "setup"]

BTC = "BTC/USDT:USDT"
MINUTE = 60_000
START = DEFAULT_START_MS + 150 * 300_000  # 150 candles into the 300-candle sim
NO_COOLDOWN = AlertSettings.model_validate({"cooldown": "0s"})


class FakeClock(BaseClock):
    def __init__(self, now: int = START) -> None:
        super().__init__(now)


class FakeOutlet:
    """Records every reply; ``fail`` maps a chat id to the error its next sends raise."""

    def __init__(self, platform: Platform = "telegram") -> None:
        self._platform: Platform = platform
        self.sent: list[tuple[str, Reply]] = []
        self.fail: dict[str, list[Exception]] = {}

    @property
    def platform(self) -> Platform:
        return self._platform

    async def send(self, chat_id: str, reply: Reply) -> None:
        errors = self.fail.get(chat_id)
        if errors:
            raise errors.pop(0)
        self.sent.append((chat_id, reply))

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        raise AssertionError("no threads here")


def setup(
    clock: FakeClock, *, engine: Any = None, settings: AlertSettings = NO_COOLDOWN, **kw: Any
) -> tuple[Scheduler, Subscriptions, FakeOutlet]:
    store = Store(":memory:")
    service = MarketService(
        {"sim": SimSource(candles=300)},
        store,
        clock=clock,
        lookback_ms=2 * 86_400_000,
        engine=engine,
    )
    subs = Subscriptions(store)
    outlet = FakeOutlet()
    kw.setdefault("attach_charts", False)
    scheduler = Scheduler(
        service,
        subs,
        [outlet],
        alert_settings=settings,
        clock=clock,
        sleep=clock.sleep,
        range_=RANGES[0],
        **kw,
    )
    return scheduler, subs, outlet
