"""A subscription made while the bot runs on the synthetic market gets its alert — no restart.

The composition is ``liqwatch run``'s (``bot.app.compose`` and ``bot.app.serve``: the sources
and the service from the settings, the command set, the Telegram adapter, the real scheduler
with the run's cadence) on the live synthetic market (``market.sim_step``), against the loopback fake Bot API. Only
time is faked: the market's clock reads a monotonic clock that moves when the scheduler
sleeps, so a minute of cadence passes at once while PTB polls in real time.

When the market stood still at the end of its first run, a job that had run once was never
due again, and a chat that subscribed after start-up heard nothing until a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.app.compose import build_service, build_sources
from bot.commands.catalog import build_commands, defaults_from_settings
from bot.commands.parsing import range_for_ms
from bot.commands.throttle import Throttle
from bot.config.settings import load_settings
from bot.market.sim_live import SimClock
from bot.market.sim_source import SimSource
from bot.notify.scheduler import Scheduler
from bot.reply.text import render_reply
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.fake_telegram import FakeTelegram

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = 5001
BOUND = 90.0  # seconds: generous, only "it did not wait forever"

pytestmark = pytest.mark.slow


class Monotonic:
    """The real seconds the sim clock reads; they pass when the scheduler sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0.02)  # let PTB and the adapter run in between


def _alerts(fake: FakeTelegram) -> list[str]:
    sent = [*fake.calls_of("sendPhoto"), *fake.calls_of("sendMessage")]
    texts = [
        str(c.params.get("caption") or c.params.get("text") or "")
        for c in sent
        if c.params.get("chat_id") == str(CHAT)
    ]
    return [t for t in texts if t.startswith("<b>Alert</b>") and "imbalance" in t.lower()]


async def _until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while not check():
        assert loop.time() < deadline, f"{what}: not within {BOUND} s"
        await asyncio.sleep(0.05)


async def test_a_subscription_made_while_running_gets_its_alert(tmp_path: Path) -> None:
    async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
        config = tmp_path / "config.toml"
        config.write_text(
            f"""
[market]
symbols = ["BTC"]
sim_step = 10
[market.refresh]
candles_every = "1m"
jitter = 0
[storage]
path = "{tmp_path / "state.sqlite3"}"
[telegram]
enabled = true
api_base_url = "{fake.api_base_url}"
"""
        )
        settings = load_settings(config, env={"LIQWATCH__TELEGRAM__TOKEN": TOKEN})
        real = Monotonic()
        store = Store(settings.storage.path)
        subs = Subscriptions(store)
        sources = build_sources(settings)
        sim = sources["sim"]
        assert isinstance(sim, SimSource) and isinstance(sim.clock, SimClock)  # the live market
        sim.clock = SimClock(sim.end_ms, settings.market.sim_step, monotonic=real)
        service = build_service(settings, store, sources)
        commands = build_commands(
            service,
            defaults_from_settings(settings),
            subscriptions=subs,
            alert_defaults=settings.alerts,
            throttle=Throttle(),
        )
        adapter = TelegramAdapter(
            TOKEN, commands, render_reply, api_base_url=fake.api_base_url, poll_timeout=1
        )
        refresh = settings.market.refresh
        scheduler = Scheduler(
            service,
            subs,
            [adapter],
            alert_settings=settings.alerts,
            watch=settings.market.symbols,
            every_ms=refresh.candles_every,
            jitter=refresh.jitter,
            range_=range_for_ms(settings.telegram.default_range),
            sleep=real.sleep,
            alert_deadline_ms=settings.alerts.retry_for,
        )
        stop = asyncio.Event()
        await adapter.start()
        running = asyncio.create_task(scheduler.run(stop=stop))
        try:
            # the bot has been running a while: BTC refreshed, and planned again for later
            await _until(lambda: scheduler.counters.cycles >= 3, "three scheduler cycles")
            subscribed_at = service.clock()
            assert subscribed_at > sim.end_ms  # the market has moved on since start-up
            fake.inject_command("/subscribe BTC imbalance", chat_id=CHAT)
            (answer,) = await fake.wait_for("sendMessage", within=BOUND)
            assert "Subscribed" in str(answer.params["text"])
            await _until(lambda: bool(_alerts(fake)), "the alert")
            assert len(_alerts(fake)) == 1

            def rows() -> list[tuple[str, str]]:
                with store.locked() as conn:
                    return conn.execute("SELECT key, status FROM sent_alerts").fetchall()

            # the server has the message; the bot marks it delivered once it reads the answer
            await _until(lambda: [s for _, s in rows()] == ["delivered"], "marked delivered")
            ((key, _),) = rows()
            assert key.startswith(f"telegram|{CHAT}|imbalance|")
            # on a candle the market made after the subscription, not at the end of its first run
            assert int(key.rsplit("|", 1)[1]) >= subscribed_at - 2 * 300_000 > sim.end_ms
        finally:
            stop.set()
            await asyncio.wait_for(running, BOUND)
            await adapter.stop()
            store.close()
