"""The Discord adapter end to end: a real discord.py client against the loopback fake Discord.

The real command layer (``bot.commands`` on a small simulated market) answers the slash
commands; the gateway, REST calls, multipart uploads and rate limits are the real
protocol as discord.py speaks it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image as PilImage

from bot.adapters.discord.adapter import DiscordAdapter
from bot.adapters.discord.lib import discord
from bot.analysis.service import MarketService
from bot.app.logs import setup_logging
from bot.commands.catalog import build_commands
from bot.commands.registry import ADMIN_ONLY, Commands
from bot.commands.spec import Call, CommandSpec
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.reply import RANGES, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from core.charts.format import human_price, human_ratio, human_usd
from core.models import timeframe_ms
from tests.fakes.fake_discord import FakeDiscord, forbidden, rate_limited

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMg.GfakeX.abcdefghijklmnopqrstuvwxyz0123456789AB"
ADMIN_CHANNEL = 1300000000000000099
CHANNEL = 1300000000000000005
SIM_CANDLES = 600
MANAGE_GUILD = 1 << 5


@dataclass
class Harness:
    fake: FakeDiscord
    adapter: DiscordAdapter
    service: MarketService


@pytest.fixture(autouse=True)
def restore_discord_urls() -> Iterator[None]:
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def sim_service() -> MarketService:
    """The real service on a small simulated market whose clock stands at its last candle."""
    return MarketService(
        {"sim": SimSource(candles=SIM_CANDLES)},
        Store(":memory:"),
        clock=lambda: DEFAULT_START_MS + SIM_CANDLES * timeframe_ms("5m"),
        lookback_ms=SIM_CANDLES * timeframe_ms("5m"),
    )


@pytest.fixture
async def live() -> AsyncIterator[Harness]:
    service = sim_service()

    async def symbols() -> list[str]:
        source = service.sources["sim"]
        await source.load()
        return source.symbols()

    try:
        async with running(build_commands(service), symbols, service.exchanges) as (fake, adapter):
            yield Harness(fake, adapter, service)
    finally:
        service.store.close()  # type: ignore[attr-defined]


@asynccontextmanager
async def running(
    commands: Any, symbols: Any = None, exchanges: tuple[str, ...] = ()
) -> AsyncIterator[tuple[FakeDiscord, DiscordAdapter]]:
    """A fake Discord and a started adapter serving ``commands``."""
    async with FakeDiscord(TOKEN) as fake:
        adapter = DiscordAdapter(
            TOKEN,
            commands,
            render_reply,
            exchanges=exchanges,
            symbols=symbols,
            api_base_url=fake.api_base_url,
            gateway_url=fake.gateway_url,
            admin_channel_id=ADMIN_CHANNEL,
            guild_ready_timeout=0.1,
        )
        await adapter.start()
        try:
            yield fake, adapter
        finally:
            await adapter.stop()


def _for(calls: list[Any], token: str) -> list[Any]:
    return [c for c in calls if token in c.path]


async def _followups(fake: FakeDiscord, token: str, count: int = 1) -> list[Any]:
    async with __import__("asyncio").timeout(30):
        while len(_for(fake.calls_of("webhook"), token)) < count:
            await fake.wait_for("webhook", len(fake.calls_of("webhook")) + 1)
    return _for(fake.calls_of("webhook"), token)


# ---- login, gateway, tree ---------------------------------------------------------------


async def test_login_and_gateway_handshake(live: Harness) -> None:
    assert live.fake.identified.is_set()
    assert live.fake.identify["token"] == TOKEN
    assert live.adapter.client.is_ready()
    assert live.adapter.client.user is not None and live.adapter.client.user.name == "liqwatch"
    (me,) = live.fake.calls_of("me")
    assert me.headers["Authorization"] == f"Bot {TOKEN}"


async def test_tree_sync_carries_every_spec_with_options(live: Harness) -> None:
    (sync,) = await live.fake.wait_for("sync")
    synced = {c["name"]: c for c in sync.json}
    specs = build_commands(live.service).specs
    assert set(synced) == {s.name for s in specs}
    for spec in specs:
        cmd = synced[spec.name]
        assert cmd["description"] and len(cmd["description"]) <= 100
        options = {o["name"]: o for o in cmd.get("options", [])}
        assert set(options) == {p.name for p in spec.params}
        for p in spec.params:
            option = options[p.name]
            assert option["required"] == p.required
            if p.kind == "range":
                assert [c["value"] for c in option["choices"]] == [r.label for r in RANGES]
            if p.kind == "exchange":
                assert [c["value"] for c in option["choices"]] == [*live.service.exchanges, "all"]
            if p.kind == "symbol":
                assert option["autocomplete"] is True
        if spec.admin:
            assert int(cmd["default_member_permissions"]) == MANAGE_GUILD


# ---- interactions -------------------------------------------------------------------------


async def test_heatmap_defers_then_follows_up_with_png_and_numbers(live: Harness) -> None:
    token = await live.fake.inject("heatmap", {"symbol": "BTC"})
    (callback,) = _for(await live.fake.wait_for("callback"), token)
    assert callback.json["type"] == 5  # deferred, "thinking…"
    (follow,) = await _followups(live.fake, token)
    payload = follow.json
    assert not payload.get("flags", 0) & 64
    (png,) = follow.files.values()
    with PilImage.open(io.BytesIO(png)) as decoded:
        decoded.load()
        assert decoded.format == "PNG" and decoded.width > 100
    embed = payload["embeds"][0]
    assert embed["image"]["url"] == f"attachment://{payload['attachments'][0]['filename']}"
    view = await live.service.view("BTC", RANGES[1], "all")
    text = embed["description"]
    for number in (
        human_price(view.analysis.price),
        human_usd(view.analysis.imbalance.short_above),
        human_usd(view.analysis.imbalance.long_below),
        human_ratio(view.analysis.imbalance.ratio),
    ):
        assert discord.utils.escape_markdown(number) in text or number in text
    assert sum(len(e.get("description", "")) for e in payload["embeds"]) <= 6000


def _buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in payload.get("components", []) for b in row["components"]]


async def test_buttons_rerun_the_command_and_edit_in_place(live: Harness) -> None:
    token = await live.fake.inject("heatmap", {"symbol": "ETH"})
    (follow,) = await _followups(live.fake, token)
    buttons = {b["label"]: b for b in _buttons(follow.json)}
    assert buttons["24h"]["style"] == 1  # the shown range is highlighted
    week = buttons["7d"]["custom_id"]
    assert week.startswith("lw:/heatmap ETH 7d") and len(week) <= 100
    press = await live.fake.press(week)
    (deferred,) = _for(await live.fake.wait_for("callback", 2), press)
    assert deferred.json["type"] == 6  # deferred update: no new message
    (edit,) = _for(await live.fake.wait_for("edit_original"), press)
    assert "7d" in edit.json["embeds"][0]["description"]
    (png,) = edit.files.values()
    assert png.startswith(b"\x89PNG") and png != next(iter(follow.files.values()))
    assert {b["label"]: b["style"] for b in _buttons(edit.json)}["7d"] == 1


async def test_bad_argument_is_an_ephemeral_error(live: Harness) -> None:
    token = await live.fake.inject("cascade", {"symbol": "BTC", "price": "lots"})
    await live.fake.wait_for("delete_original")
    (follow,) = await _followups(live.fake, token)
    assert follow.json["flags"] & 64
    assert "/cascade" in follow.json["embeds"][0]["description"]  # the usage line


async def test_light_command_answers_directly(live: Harness) -> None:
    token = await live.fake.inject("help")
    (callback,) = _for(await live.fake.wait_for("callback"), token)
    assert callback.json["type"] == 4
    assert "/heatmap" in callback.json["data"]["embeds"][0]["description"]


async def test_autocomplete_suggests_matching_symbols(live: Harness) -> None:
    token = await live.fake.inject("heatmap", {"symbol": "BT"}, kind=4, focused="symbol")
    (callback,) = _for(await live.fake.wait_for("callback"), token)
    assert callback.json["type"] == 8
    names = [c["value"] for c in callback.json["data"]["choices"]]
    assert names and all("BT" in n for n in names) and "BTC" in names


async def test_range_and_exchange_choices_reach_the_command(live: Harness) -> None:
    options = {"symbol": "ETH", "range": "7d", "exchange": "all"}
    token = await live.fake.inject("map", options)
    (follow,) = await _followups(live.fake, token)
    assert "7d" in follow.json["embeds"][0]["description"]
    assert follow.json["attachments"][0]["filename"].endswith("7d.png")


async def _whoami(call: Call) -> Reply:
    message = f"admin={call.ctx.is_admin} group={call.ctx.is_group} chat={call.ctx.chat_id}"
    return Reply("error", {"message": message, "usage": "", "example": ""})


async def test_admin_command_is_checked_server_side() -> None:
    spec = CommandSpec("reset", "Reset alert state", admin=True, handler=_whoami)
    async with running(Commands([spec])) as (fake, _):
        (sync,) = await fake.wait_for("sync")
        assert int(sync.json[0]["default_member_permissions"]) == MANAGE_GUILD
        member = await fake.inject("reset", permissions=0)
        admin = await fake.inject("reset", permissions=MANAGE_GUILD, channel_id=CHANNEL)
        await fake.wait_for("callback", 2)
        by_token = {c.path.split("/")[3]: c.json for c in fake.calls_of("callback")}
        refused = by_token[member]
        assert refused["data"]["flags"] & 64
        assert ADMIN_ONLY in refused["data"]["embeds"][0]["description"]
        allowed = by_token[admin]["data"]["embeds"][0]["description"]
        assert f"admin=True group=True chat={CHANNEL}" in allowed.replace("\\", "")


# ---- outlet ---------------------------------------------------------------------------------


def _post(text: str) -> Reply:
    return Reply("error", {"message": text, "usage": "", "example": ""})


async def test_thread_first_post_then_followups_in_order(live: Harness) -> None:
    posts = [_post(f"post number {i}") for i in range(4)]
    await live.adapter.post_thread(str(CHANNEL), "BTC market structure", posts)
    messages = live.fake.calls_of("message")
    (thread,) = live.fake.calls_of("thread")
    assert messages[0].path == f"/channels/{CHANNEL}/messages"
    assert thread.json["name"] == "BTC market structure"
    inside = [m for m in messages[1:]]
    assert all(m.path != messages[0].path for m in inside) and len(inside) == 3
    order = [m.json["embeds"][0]["description"] for m in messages]
    assert [o.split()[-1] for o in order] == ["0", "1", "2", "3"]


async def test_rate_limit_is_waited_out_and_order_kept(live: Harness) -> None:
    live.fake.fail("message", rate_limited(0.3))
    await live.adapter.send(str(CHANNEL), _post("alert one"))
    await live.adapter.send(str(CHANNEL), _post("alert two"))
    statuses = [c.status for c in live.fake.calls_of("message", ok_only=False)]
    assert statuses == [429, 200, 200]
    texts = [c.json["embeds"][0]["description"] for c in live.fake.calls_of("message")]
    assert "one" in texts[0] and "two" in texts[1]


async def test_forbidden_is_reported_and_the_bot_carries_on(live: Harness) -> None:
    from bot.notify.outlets import PermanentDeliveryError

    live.fake.fail("message", forbidden())
    with pytest.raises(PermanentDeliveryError):
        await live.adapter.send(str(CHANNEL), _post("blocked"))
    report = live.fake.calls_of("message")[0]
    assert report.path == f"/channels/{ADMIN_CHANNEL}/messages"
    assert str(CHANNEL) in report.json["embeds"][0]["description"]
    await live.adapter.send(str(CHANNEL), _post("next one"))
    assert live.fake.calls_of("message")[-1].path == f"/channels/{CHANNEL}/messages"
    assert live.adapter.client.is_ready()


async def test_unknown_channel_is_chat_gone(live: Harness) -> None:
    from bot.notify.outlets import ChatGone
    from tests.fakes.fake_discord import unknown_channel

    live.fake.fail("message", unknown_channel())
    with pytest.raises(ChatGone):
        await live.adapter.send(str(CHANNEL), _post("gone"))


async def test_token_never_in_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    handler = setup_logging("DEBUG", secrets=[TOKEN])
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    root = logging.getLogger()
    try:
        for name in ("discord", "discord.http", "discord.gateway", "discord.client"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        service = sim_service()
        commands = build_commands(service)
        async with FakeDiscord(TOKEN) as fake:
            adapter = DiscordAdapter(
                TOKEN,
                commands,
                render_reply,
                api_base_url=fake.api_base_url,
                gateway_url=fake.gateway_url,
                guild_ready_timeout=0.1,
            )
            await adapter.start()
            await adapter.send(str(CHANNEL), _post("hello"))
            await adapter.stop()
        service.store.close()  # type: ignore[attr-defined]
    finally:
        root.removeHandler(handler)
        for name in ("discord", "discord.http", "discord.gateway", "discord.client"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    logged = stream.getvalue()
    assert "POST" in logged or "liqwatch" in logged  # DEBUG output really was captured
    assert TOKEN not in logged
    assert TOKEN.split(".")[-1] not in logged
