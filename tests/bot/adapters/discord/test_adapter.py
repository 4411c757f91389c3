"""The Discord adapter end to end: a real discord.py client against the loopback fake Discord.

The real command layer (``bot.commands`` on a small simulated market) answers the slash
commands; the gateway, REST calls, multipart uploads and rate limits are the real
protocol as discord.py speaks it, and the fake refuses what real Discord refuses (a test
fails on any refusal it did not expect).
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest
from PIL import Image as PilImage

from bot.adapters.discord.adapter import DiscordAdapter
from bot.adapters.discord.lib import discord
from bot.app.logs import setup_logging
from bot.commands.alert_cmds import MANAGE_SERVER_ONLY as ALERTS_MANAGE_SERVER_ONLY
from bot.commands.catalog import build_commands
from bot.commands.registry import MANAGE_SERVER_ONLY, Commands
from bot.commands.spec import Call, CommandSpec
from bot.commands.throttle import Throttle
from bot.reply import RANGES, Reply
from bot.reply.text import render_reply
from bot.state.subscriptions import Subscriptions
from core.charts.format import human_price, human_ratio, human_usd
from tests.bot.adapters.discord.harness import (
    CHANNEL,
    MANAGE_GUILD,
    TOKEN,
    Harness,
    adapter_on,
    buttons,
    followups,
    for_token,
    running,
    sim_service,
    symbols_of,
)
from tests.fakes.fake_discord import FakeDiscord, Fault

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
        if spec.admin or spec.group_admin:
            assert int(cmd["default_member_permissions"]) == MANAGE_GUILD
        else:
            assert cmd.get("default_member_permissions") is None


# ---- interactions -------------------------------------------------------------------------


async def test_heatmap_defers_then_follows_up_with_png_and_numbers(live: Harness) -> None:
    token = await live.fake.inject("heatmap", {"symbol": "BTC"})
    (callback,) = for_token(await live.fake.wait_for("callback"), token)
    assert callback.json["type"] == 5  # deferred, "thinking…"
    (follow,) = await followups(live.fake, token)
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


async def test_buttons_rerun_the_command_and_edit_in_place(live: Harness) -> None:
    token = await live.fake.inject("heatmap", {"symbol": "ETH"})
    (follow,) = await followups(live.fake, token)
    shown = {b["label"]: b for b in buttons(follow.json)}
    assert shown["24h"]["style"] == 1  # the shown range is highlighted
    week = shown["7d"]["custom_id"]
    assert week.startswith("lw:") and "/heatmap ETH 7d" in week and len(week) <= 100
    press = await live.fake.press(week)
    (deferred,) = for_token(await live.fake.wait_for("callback", 2), press)
    assert deferred.json["type"] == 6  # deferred update: no new message
    (edit,) = for_token(await live.fake.wait_for("edit_original"), press)
    assert "7d" in edit.json["embeds"][0]["description"]
    (png,) = edit.files.values()
    assert png.startswith(b"\x89PNG") and png != next(iter(follow.files.values()))
    assert {b["label"]: b["style"] for b in buttons(edit.json)}["7d"] == 1


async def test_bad_argument_is_an_ephemeral_error(live: Harness) -> None:
    token = await live.fake.inject("cascade", {"symbol": "BTC", "price": "lots"})
    await live.fake.wait_for("delete_original")
    (follow,) = await followups(live.fake, token)
    assert follow.json["flags"] & 64
    assert "/cascade" in follow.json["embeds"][0]["description"]  # the usage line


async def test_light_command_answers_directly(live: Harness) -> None:
    token = await live.fake.inject("help")
    (callback,) = for_token(await live.fake.wait_for("callback"), token)
    assert callback.json["type"] == 4
    assert "/heatmap" in callback.json["data"]["embeds"][0]["description"]


async def test_autocomplete_suggests_matching_symbols(live: Harness) -> None:
    token = await live.fake.inject("heatmap", {"symbol": "BT"}, kind=4, focused="symbol")
    (callback,) = for_token(await live.fake.wait_for("callback"), token)
    assert callback.json["type"] == 8
    names = [c["value"] for c in callback.json["data"]["choices"]]
    assert names and all("BT" in n for n in names) and "BTC" in names


async def test_range_and_exchange_choices_reach_the_command(live: Harness) -> None:
    options = {"symbol": "ETH", "range": "7d", "exchange": "all"}
    token = await live.fake.inject("map", options)
    (follow,) = await followups(live.fake, token)
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
        assert MANAGE_SERVER_ONLY in refused["data"]["embeds"][0]["description"]
        allowed = by_token[admin]["data"]["embeds"][0]["description"]
        assert f"admin=True group=True chat={CHANNEL}" in allowed.replace("\\", "")


# ---- issue 16 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["heatmap", "map"])
async def test_chart_replies_with_buttons_are_accepted(live: Harness, command: str) -> None:
    token = await live.fake.inject(command, {"symbol": "BTC"})
    (follow,) = await followups(live.fake, token)
    ids = [b["custom_id"] for b in buttons(follow.json)]
    assert len(ids) >= 6 and len(set(ids)) == len(ids)
    selected = [b for b in buttons(follow.json) if b["style"] == 1]
    # one exchange: one exchange button (an "all" beside it would draw the same chart)
    assert {b["label"] for b in selected} == {"24h", "sim"}
    assert live.fake.violations == []


async def test_a_button_press_after_a_restart_still_works() -> None:
    service = sim_service()
    try:
        async with FakeDiscord(TOKEN) as fake:
            async with adapter_on(fake, build_commands(service), exchanges=service.exchanges):
                token = await fake.inject("heatmap", {"symbol": "ETH"})
                (follow,) = await followups(fake, token)
            # a new process: nothing of the first one is left but the message on Discord
            labels = {b["label"]: b["custom_id"] for b in buttons(follow.json)}
            async with adapter_on(fake, build_commands(service), exchanges=service.exchanges):
                for custom_id in (labels["7d"], "lw:/heatmap ETH 3d all"):  # and an older id
                    press = await fake.press(custom_id)
                    async with asyncio.timeout(30):
                        while not for_token(fake.calls_of("edit_original"), press):
                            await fake.wait_for(
                                "edit_original", len(fake.calls_of("edit_original")) + 1
                            )
                    (edit,) = for_token(fake.calls_of("edit_original"), press)
                    wanted = "7d" if custom_id == labels["7d"] else "3d"
                    assert wanted in edit.json["embeds"][0]["description"]
                    assert {b["label"]: b["style"] for b in buttons(edit.json)}[wanted] == 1
    finally:
        service.store.close()  # type: ignore[attr-defined]


async def test_alert_commands_are_for_manage_server_and_say_so() -> None:
    service = sim_service()
    subs = Subscriptions(service.store)
    try:
        commands = build_commands(service, subscriptions=subs)
        async with running(commands, symbols_of(service), service.exchanges) as (fake, _):
            (sync,) = await fake.wait_for("sync")
            synced = {c["name"]: c for c in sync.json}
            for name in ("subscribe", "unsubscribe", "settings"):
                assert int(synced[name]["default_member_permissions"]) == MANAGE_GUILD
            assert synced["alerts"].get("default_member_permissions") is None
            member = await fake.inject("settings", {"rule": "imbalance", "mode": "off"})
            (callback,) = for_token(await fake.wait_for("callback"), member)
            assert callback.json["data"]["flags"] & 64
            text = callback.json["data"]["embeds"][0]["description"]
            assert ALERTS_MANAGE_SERVER_ONLY in text.replace("\\", "")
            assert "admins of this group" not in text
            assert "Usage:" not in text  # a refusal, not a typing mistake
    finally:
        service.store.close()  # type: ignore[attr-defined]


async def test_alert_command_options_are_named_for_what_they_are() -> None:
    service = sim_service()
    try:
        commands = build_commands(service, subscriptions=Subscriptions(service.store))
        async with running(commands, symbols_of(service), service.exchanges) as (fake, _):
            (sync,) = await fake.wait_for("sync")
            synced = {c["name"]: c for c in sync.json}
            options = {
                name: {o["name"]: o for o in synced[name].get("options", [])}
                for name in ("unsubscribe", "settings")
            }
            assert list(options["unsubscribe"]) == ["symbol", "rule"]
            assert list(options["settings"]) == ["rule", "mode", "threshold"]
            assert [c["value"] for c in options["settings"]["mode"]["choices"]] == [
                "on",
                "silent",
                "off",
            ]
            assert "all" in [c["value"] for c in options["unsubscribe"]["rule"]["choices"]]
            assert options["unsubscribe"]["symbol"]["autocomplete"] is True
            token = await fake.inject("unsubscribe", {"symbol": "al"}, kind=4, focused="symbol")
            (callback,) = for_token(await fake.wait_for("callback"), token)
            assert callback.json["data"]["choices"][0]["value"] == "all"
    finally:
        service.store.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("command", "options", "named", "said"),
    [
        ("heatmap", {"symbol": "btc 🚀🚀"}, "symbol", "is not a symbol"),
        ("imbalance", {"symbol": "BTC", "window": "ten"}, "window", "is not a percentage"),
        ("cascade", {"symbol": "BTC", "price": "-5"}, "price", "must be above zero"),
        ("heatmap", {"symbol": "BTC", "range": "5x"}, "range", "Unknown range '5x'"),
    ],
)
async def test_each_option_is_parsed_on_its_own_and_named_in_the_error(
    live: Harness, command: str, options: dict[str, Any], named: str, said: str
) -> None:
    token = await live.fake.inject(command, options)
    (follow,) = await followups(live.fake, token)
    assert follow.json["flags"] & 64
    text = follow.json["embeds"][0]["description"].replace("\\", "")
    assert f"Option '{named}'" in text and said in text


async def test_a_throttled_member_hears_once_then_nothing() -> None:
    service = sim_service()
    try:
        commands = build_commands(service, throttle=Throttle(capacity=1, refill_seconds=600))
        async with running(commands, symbols_of(service), service.exchanges) as (fake, _):
            served = await fake.inject("help")
            told = await fake.inject("help")
            quiet_light = await fake.inject("help")
            quiet_heavy = await fake.inject("heatmap", {"symbol": "BTC"})
            await fake.wait_for("delete_original", 2)
            by_token = {c.path.split("/")[3]: c.json for c in fake.calls_of("callback")}
            assert not by_token[served]["data"].get("flags", 0) & 64
            assert by_token[told]["data"]["flags"] & 64  # "slow down", to the caller only
            assert by_token[quiet_light] == {"type": 5, "data": {"flags": 64}}  # then deleted
            assert by_token[quiet_heavy]["type"] == 5  # "thinking…", deleted
            deleted = fake.calls_of("delete_original")
            assert {quiet_light, quiet_heavy} == {c.path.split("/")[3] for c in deleted}
            await asyncio.sleep(0.2)
            assert not for_token(fake.calls_of("webhook"), quiet_heavy)
            assert not for_token(fake.calls_of("webhook"), quiet_light)
    finally:
        service.store.close()  # type: ignore[attr-defined]


def _post(text: str) -> Reply:
    return Reply("error", {"message": text, "usage": "", "example": ""})


async def _refuse_everything(call: Call) -> Reply:
    return Reply("error", {"message": "x" * 5000, "usage": "", "example": ""})


async def test_a_refused_reply_is_logged_and_the_placeholder_apologises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = CommandSpec("big", "A reply Discord refuses", handler=_refuse_everything)
    async with running(Commands([spec])) as (fake, adapter):
        fake.fail("callback", Fault(400, {"code": 50035, "message": "Invalid Form Body"}))
        await fake.inject("big")
        await fake.wait_for("callback", ok_only=False)
        await fake.wait_for("callback")
        assert any("Discord refused the reply to /big" in r.getMessage() for r in caplog.records)
        (apology,) = fake.calls_of("callback")
        assert apology.json["data"]["flags"] & 64
        assert adapter.client.is_ready()


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
