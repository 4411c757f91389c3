"""Connection loss on both platforms: the real clients against the loopback fakes.

The bot must run for months, so every way the link to a platform can break is played
here and the bot must come back on its own: the Discord gateway closing (discord.py
RESUMEs the session, or IDENTIFYs afresh when the session is gone), a gateway that goes
silent (no heartbeat ACKs), and Telegram's ``getUpdates`` failing with 502s and dropped
connections (PTB's polling loop retries with backoff, forever). A revoked token is the one
failure that cannot heal: it must be said clearly in the log, without the token — and on
Discord (401 at login, gateway close 4004 later) it ends the process: one line, exit 1, the
HTTP session closed.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import pytest

from bot.adapters.discord.adapter import DiscordAdapter
from bot.adapters.discord.lib import discord
from bot.adapters.telegram.adapter import TelegramAdapter
from bot.analysis.service import MarketService
from bot.app.logs import setup_logging
from bot.app.runtime import Component, serve
from bot.commands.catalog import build_commands
from bot.config.settings import ConfigError
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.reply.text import render_reply
from bot.state.store import Store
from core.models import timeframe_ms
from tests.fakes.fake_discord import Call, FakeDiscord
from tests.fakes.fake_telegram import FakeTelegram, Fault

DISCORD_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMg.GfakeX.abcdefghijklmnopqrstuvwxyz0123456789AB"
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SIM_CANDLES = 300


@pytest.fixture
def service() -> Iterator[MarketService]:
    """The real service on a small simulated market whose clock stands at its last candle."""
    service = MarketService(
        {"sim": SimSource(candles=SIM_CANDLES)},
        Store(":memory:"),
        clock=lambda: DEFAULT_START_MS + SIM_CANDLES * timeframe_ms("5m"),
        lookback_ms=SIM_CANDLES * timeframe_ms("5m"),
    )
    yield service
    service.store.close()  # type: ignore[attr-defined]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# ---- Discord ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def restore_discord_urls() -> Iterator[None]:
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@asynccontextmanager
async def discord_bot(
    service: MarketService, fake: FakeDiscord, *, heartbeat_timeout: float | None = None
) -> AsyncIterator[DiscordAdapter]:
    """A started Discord adapter serving the real commands against ``fake``; a short
    ``heartbeat_timeout`` (discord.py's, 60 s by default) makes a silent gateway quick to spot."""
    adapter = DiscordAdapter(
        DISCORD_TOKEN,
        build_commands(service),
        render_reply,
        api_base_url=fake.api_base_url,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.1,
    )
    if heartbeat_timeout is not None:  # discord.Client(heartbeat_timeout=…), set after the fact
        adapter.client._connection.heartbeat_timeout = heartbeat_timeout
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


async def _answered(fake: FakeDiscord, token: str) -> tuple[Call, Call]:
    """The deferral and the first follow-up of the interaction ``token``."""
    async with asyncio.timeout(20):
        while True:
            callbacks = [c for c in fake.calls_of("callback") if token in c.path]
            follows = [c for c in fake.calls_of("webhook") if token in c.path]
            if callbacks and follows:
                return callbacks[0], follows[0]
            await fake.wait_for("webhook", len(fake.calls_of("webhook")) + 1)


async def _heatmap_answered(fake: FakeDiscord) -> None:
    """Inject ``/heatmap BTC``: it is deferred, then answered publicly with a PNG chart."""
    token = await fake.inject("heatmap", {"symbol": "BTC"})
    callback, follow = await _answered(fake, token)
    assert callback.json["type"] == 5  # deferred ("thinking…")
    assert not follow.json.get("flags", 0) & 64
    (png,) = follow.files.values()
    assert png.startswith(b"\x89PNG")


async def _until(condition: Callable[[], object], within: float = 10.0) -> None:
    """Poll ``condition``: state that the fakes and the clients change from other tasks."""
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {within} s")


async def _reconnected(fake: FakeDiscord, adapter: DiscordAdapter, connections: int) -> None:
    """Wait until the client opened ``connections`` sockets and is past RESUMED/READY."""
    await _until(lambda: fake.connections >= connections)
    await _until(lambda: (fake.resumes or len(fake.identifies) > 1) and adapter.client.ws)
    await asyncio.sleep(0.2)  # RESUMED / READY travels back over the new socket


@pytest.mark.parametrize("code", [4000, 1001])
async def test_gateway_drop_is_resumed_and_commands_keep_working(
    service: MarketService, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeDiscord(DISCORD_TOKEN) as fake, discord_bot(service, fake) as adapter:
        await _heatmap_answered(fake)
        session, seq = fake.session_id, adapter.client.ws.sequence
        await fake.drop_gateway(code)
        await _reconnected(fake, adapter, 2)
        (resume,) = fake.resumes
        assert resume["session_id"] == session and resume["seq"] == seq
        assert resume["token"] == DISCORD_TOKEN
        assert len(fake.identifies) == 1  # resumed, not a fresh session
        await _heatmap_answered(fake)
        assert adapter.client.is_ready() and not adapter.client.is_closed()
        task = adapter._task
        assert task is not None and not task.done()  # the connect loop never ended
    assert not _errors(caplog)


async def test_unresumable_session_falls_back_to_a_fresh_identify(
    service: MarketService,
) -> None:
    async with FakeDiscord(DISCORD_TOKEN) as fake, discord_bot(service, fake) as adapter:
        await _heatmap_answered(fake)
        fake.resumable = False
        await fake.drop_gateway()
        # discord.py waits 5 s before any IDENTIFY but the first (before_identify_hook)
        await _until(lambda: len(fake.identifies) == 2)
        assert len(fake.resumes) == 1 and fake.connections == 3  # drop → RESUME → op 9
        assert fake.identifies[1]["token"] == DISCORD_TOKEN
        await asyncio.sleep(0.2)
        assert adapter.client.ws.session_id == fake.session_id == "fake-session-2"
        await _heatmap_answered(fake)
        task = adapter._task
        assert task is not None and not task.done()


async def test_silent_gateway_is_detected_and_resumed(service: MarketService) -> None:
    fake_discord = FakeDiscord(DISCORD_TOKEN, heartbeat_interval_ms=300)
    async with fake_discord as fake, discord_bot(service, fake, heartbeat_timeout=1.5) as adapter:
        await _heatmap_answered(fake)
        beats = fake.heartbeats
        fake.silence_gateway()  # a half-open link: heartbeats go out, nothing comes back
        await _reconnected(fake, adapter, 2)
        assert fake.heartbeats > beats  # the client kept beating into the void first
        assert fake.resumes[0]["session_id"] == fake.session_id
        assert len(fake.identifies) == 1
        await _heatmap_answered(fake)
        task = adapter._task
        assert task is not None and not task.done()


def _adapter(
    service: MarketService, fake: FakeDiscord, token: str = DISCORD_TOKEN
) -> DiscordAdapter:
    return DiscordAdapter(
        token,
        build_commands(service),
        render_reply,
        api_base_url=fake.api_base_url,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.1,
    )


def _session_closed(adapter: DiscordAdapter) -> bool:
    session = adapter.client.http._HTTPClient__session  # type: ignore[attr-defined]
    return bool(session is None or session.closed)


async def test_a_refused_token_at_start_is_one_clear_error_and_closes_the_session(
    service: MarketService,
) -> None:
    async with FakeDiscord(DISCORD_TOKEN) as fake:
        adapter = _adapter(service, fake, token=DISCORD_TOKEN[:-4] + "xxxx")
        with pytest.raises(ConfigError) as refused:
            await adapter.start()
        (problem,) = refused.value.problems
        assert problem.startswith(
            "discord.token: Discord rejected the bot token (401 Unauthorized)"
        )
        assert "LIQWATCH__DISCORD__TOKEN" in problem and DISCORD_TOKEN[-20:] not in problem
        assert refused.value.__cause__ is None and refused.value.__suppress_context__
        assert _session_closed(adapter) and adapter.client.is_closed()
        assert fake.api_base_url != discord.http.Route.BASE  # the URLs were put back
        assert not fake.identifies  # it never reached the gateway


async def test_a_token_revoked_while_running_ends_the_adapter_with_one_clear_error(
    service: MarketService, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeDiscord(DISCORD_TOKEN) as fake:
        adapter = _adapter(service, fake)
        await adapter.start()
        await _heatmap_answered(fake)
        await fake.revoke()  # Developer Portal → Reset Token: the gateway closes with 4004
        async with asyncio.timeout(10):
            with pytest.raises(ConfigError) as ended:
                await adapter.wait_closed()
        (problem,) = ended.value.problems
        assert "authentication failed (close code 4004)" in problem
        assert problem.startswith("discord.token: ")
        assert adapter.client.is_closed()
        await adapter.stop()  # nothing left to close, nothing more to say
        assert _session_closed(adapter)
    assert not _errors(caplog)
    assert not [
        r for r in caplog.records if r.name.startswith("bot") and r.levelno >= logging.WARNING
    ]


async def _forever(stop: asyncio.Event) -> None:
    await stop.wait()


@pytest.mark.parametrize("when", ["at start", "while running"])
async def test_liqwatch_run_exits_1_with_one_line_on_a_refused_token(
    service: MarketService, caplog: pytest.LogCaptureFixture, when: str
) -> None:
    """``serve`` as ``liqwatch run`` drives it (bot.app.cli wires ``watch=wait_closed``)."""
    async with FakeDiscord(DISCORD_TOKEN) as fake:
        token = DISCORD_TOKEN if when == "while running" else "MTE.wrong.token"
        adapter = _adapter(service, fake, token=token)
        component = Component("discord", adapter.start, adapter.stop, watch=adapter.wait_closed)

        async def revoke_once_running() -> None:
            await _until(adapter.client.is_ready)
            await fake.revoke()

        revoker = asyncio.create_task(revoke_once_running())
        async with asyncio.timeout(20):
            code = await serve([component], _forever, handle_signals=False, grace_s=5)
        revoker.cancel()
        assert code == 1
        assert _session_closed(adapter)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    (line,) = errors
    assert line.exc_info is None  # no traceback
    said = line.getMessage()
    assert said.startswith(
        "discord failed to start: " if when == "at start" else "discord stopped: "
    )
    assert "discord.token: " in said and "LIQWATCH__DISCORD__TOKEN" in said
    assert DISCORD_TOKEN not in said


# ---- Telegram ---------------------------------------------------------------------------------


@asynccontextmanager
async def telegram_bot(
    service: MarketService,
) -> AsyncIterator[tuple[FakeTelegram, TelegramAdapter]]:
    async with FakeTelegram(TELEGRAM_TOKEN, poll_cap=0.3) as fake:
        adapter = TelegramAdapter(
            TELEGRAM_TOKEN,
            build_commands(service),
            render_reply,
            api_base_url=fake.api_base_url,
            poll_timeout=5,
        )
        await adapter.start()
        try:
            yield fake, adapter
        finally:
            await adapter.stop()


async def test_polling_outage_is_retried_with_backoff_until_it_heals(
    service: MarketService, caplog: pytest.LogCaptureFixture
) -> None:
    outage = [Fault.bad_gateway(), Fault.bad_gateway(), Fault.disconnect(), Fault.disconnect()]
    async with telegram_bot(service) as (fake, adapter):
        fake.inject_command("/start")
        await fake.wait_for("sendMessage")
        for fault in outage:
            fake.fail("getUpdates", fault)
        failed = await fake.wait_for("getUpdates", len(outage), within=10, ok_only=False)
        (healed,) = await fake.wait_for("getUpdates", within=10)
        assert [c.status for c in failed] == [f.status for f in outage]
        attempts = [c.at for c in (*failed, healed)]
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert all(later > earlier for earlier, later in itertools.pairwise(gaps))
        assert gaps[0] >= 0.9 and sum(gaps) < 12  # PTB: 1 s, ×1.5 per failure, ≤ 30 s
        fake.inject_command("/start", chat_id=5002, user_id=5002)
        (sent,) = await fake.wait_for("sendMessage")
        assert sent.params["chat_id"] == "5002" and "/heatmap" in sent.params["text"]
        updater = adapter._app.updater
        assert updater is not None and updater.running
    assert len(_errors(caplog)) == len(outage)  # PTB logs each failed poll, then carries on


async def test_revoked_token_is_logged_clearly_and_stop_completes(
    service: MarketService, caplog: pytest.LogCaptureFixture
) -> None:
    handler = setup_logging("DEBUG", secrets=[TELEGRAM_TOKEN])
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        async with telegram_bot(service) as (fake, _):
            fake.fail("getUpdates", Fault.unauthorized())
            await fake.wait_for("getUpdates", within=10, ok_only=False)
            await _until(lambda: any("Invalid token" in m for m in _errors(caplog)))
            await asyncio.sleep(0.5)  # no retry: a rejected token cannot heal
            assert fake.calls_of("getUpdates", ok_only=False)[-1].status == 401
        # adapter.stop() returned: the HTTP pools are closed, not leaked
    finally:
        logging.getLogger().removeHandler(handler)
    errors = _errors(caplog)
    assert any("Telegram rejected the bot token (401 Unauthorized)" in m for m in errors)
    logged = stream.getvalue()
    assert "Invalid token" in logged and "getUpdates" in logged  # the log really was captured
    assert TELEGRAM_TOKEN not in logged and TELEGRAM_TOKEN.split(":")[1] not in logged
