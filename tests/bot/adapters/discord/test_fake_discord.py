"""The loopback fake Discord refuses what real Discord refuses (issue 16, item 2).

Driven by the real discord.py HTTP client: a refused body is answered 400 / 50035 with the
``errors`` object discord.py flattens, and recorded so that the test using the fake fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.adapters.discord.lib import discord
from tests.fakes.fake_discord import APP_ID, FakeDiscord

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMg.GfakeX.abcdefghijklmnopqrstuvwxyz0123456789AB"
CHANNEL = 1300000000000000005
Route = discord.http.Route


@pytest.fixture(autouse=True)
def restore_discord_urls() -> Iterator[None]:
    saved = Route.BASE
    yield
    Route.BASE = saved


@pytest.fixture
async def http() -> AsyncIterator[tuple[FakeDiscord, discord.Client]]:
    async with FakeDiscord(TOKEN) as fake:
        Route.BASE = fake.api_base_url
        client = discord.Client(intents=discord.Intents.none())
        await client.login(TOKEN)
        try:
            yield fake, client
        finally:
            await client.close()


def _button(custom_id: str, label: str = "x") -> dict[str, Any]:
    return {"type": 2, "style": 2, "label": label, "custom_id": custom_id}


def _row(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(buttons)}


BAD_MESSAGES: dict[str, tuple[dict[str, Any], str]] = {
    "duplicate custom ids": (
        {"content": "x", "components": [_row(_button("a")), _row(_button("b"), _button("a"))]},
        "components.1.components.1.custom_id",
    ),
    "six rows": (
        {"content": "x", "components": [_row(_button(str(i))) for i in range(6)]},
        "components",
    ),
    "six buttons in a row": (
        {"content": "x", "components": [_row(*(_button(str(i)) for i in range(6)))]},
        "components.0.components",
    ),
    "custom id of 101": ({"content": "x", "components": [_row(_button("c" * 101))]}, "custom_id"),
    "label of 81": ({"content": "x", "components": [_row(_button("c", "l" * 81))]}, "label"),
    "content of 2001": ({"content": "c" * 2001}, "content"),
    "eleven embeds": ({"embeds": [{"description": "d"}] * 11}, "embeds"),
    "title of 257": ({"embeds": [{"title": "t" * 257}]}, "embeds.0.title"),
    "description of 4097": ({"embeds": [{"description": "d" * 4097}]}, "embeds.0.description"),
    "26 fields": ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "fields"),
    "6001 over the embeds": (
        {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]},
        "embeds",
    ),
    "attachment not uploaded": (
        {"embeds": [{"image": {"url": "attachment://chart.png"}}]},
        "embeds.0.image.url",
    ),
    "empty": ({}, "empty message"),
}


@pytest.mark.parametrize("case", list(BAD_MESSAGES))
async def test_a_message_discord_refuses_is_refused_and_recorded(
    http: tuple[FakeDiscord, discord.Client], case: str
) -> None:
    fake, client = http
    payload, where = BAD_MESSAGES[case]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=CHANNEL)
    with pytest.raises(discord.HTTPException) as refused:
        await client.http.request(route, json=payload)
    assert refused.value.status == 400
    if case != "empty":
        assert refused.value.code == 50035 and where in str(refused.value)
    (violation,) = fake.take_violations()
    assert violation.status == 400 and violation.path == f"/channels/{CHANNEL}/messages"


async def test_a_message_within_every_limit_is_accepted(
    http: tuple[FakeDiscord, discord.Client],
) -> None:
    fake, client = http
    channel = client.get_partial_messageable(CHANNEL)
    view = discord.ui.View(timeout=None)
    for r in range(5):
        for c in range(5):
            view.add_item(discord.ui.Button(label="l" * 80, custom_id=f"{r}{c}" * 50, row=r))
    embeds = [discord.Embed(description="d" * 4096), discord.Embed(title="t" * 256)]
    file = discord.File(__import__("io").BytesIO(b"png"), filename="chart.png")
    embeds[0].set_image(url="attachment://chart.png")
    await channel.send("c" * 2000, embeds=embeds, view=view, file=file)
    assert fake.violations == [] and len(fake.calls_of("message")) == 1


def _command(name: str = "heatmap", **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "Draw a heatmap", "type": 1, **extra}


def _option(name: str, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "an option", "type": 3, "required": required, **extra}


BAD_COMMANDS: dict[str, list[dict[str, Any]]] = {
    "upper-case name": [_command("Heatmap")],
    "space in the name": [_command("heat map")],
    "name of 33": [_command("h" * 33)],
    "empty description": [_command(description="")],
    "description of 101": [_command(description="d" * 101)],
    "26 options": [_command(options=[_option(f"o{i}") for i in range(26)])],
    "26 choices": [
        _command(
            options=[_option("o", choices=[{"name": str(i), "value": str(i)} for i in range(26)])]
        )
    ],
    "required after optional": [_command(options=[_option("a"), _option("b", required=True)])],
    "option name upper-case": [_command(options=[_option("Symbol")])],
    "choices and autocomplete": [
        _command(options=[_option("o", autocomplete=True, choices=[{"name": "a", "value": "a"}])])
    ],
    "the same name twice": [_command(), _command()],
}


@pytest.mark.parametrize("case", list(BAD_COMMANDS))
async def test_command_registration_follows_discords_rules(
    http: tuple[FakeDiscord, discord.Client], case: str
) -> None:
    fake, client = http
    with pytest.raises(discord.HTTPException) as refused:
        await client.http.bulk_upsert_global_commands(APP_ID, BAD_COMMANDS[case])
    assert refused.value.status == 400 and refused.value.code == 50035
    assert len(fake.take_violations()) == 1


async def test_unicode_names_are_commands_too(http: tuple[FakeDiscord, discord.Client]) -> None:
    fake, client = http
    await client.http.bulk_upsert_global_commands(APP_ID, [_command("карта_1-x")])
    assert fake.synced[0]["name"] == "карта_1-x"


async def test_a_wrong_token_is_refused() -> None:
    async with FakeDiscord(TOKEN) as fake:
        Route.BASE = fake.api_base_url
        client = discord.Client(intents=discord.Intents.none())
        try:
            with pytest.raises(discord.LoginFailure):
                await client.login(TOKEN[:-2] + "xx")
        finally:
            await client.close()
        assert fake.calls_of("me", ok_only=False)[0].status == 401


async def test_leaving_with_a_violation_fails_the_test() -> None:
    fake = FakeDiscord(TOKEN)
    await fake.__aenter__()
    Route.BASE = fake.api_base_url
    client = discord.Client(intents=discord.Intents.none())
    await client.login(TOKEN)
    payload = {"content": "x", "components": [_row(_button("a"), _button("a"))]}
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=CHANNEL)
    with pytest.raises(discord.HTTPException):
        await client.http.request(route, json=payload)
    await client.close()
    with pytest.raises(AssertionError, match="COMPONENT_CUSTOM_ID_DUPLICATED"):
        await fake.__aexit__(None, None, None)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _respond(client: discord.Client, fake: FakeDiscord, token: str, kind: int = 5) -> Any:
    interaction = fake.interactions.by_token[token]
    route = Route(
        "POST",
        "/interactions/{interaction_id}/{token}/callback",
        interaction_id=interaction.id,
        token=token,
    )
    return await client.http.request(route, json={"type": kind})


async def _follow_up(client: discord.Client, token: str) -> Any:
    route = Route("POST", "/webhooks/{app}/{token}", app=APP_ID, token=token)
    return await client.http.request(route, json={"content": "done"})


async def test_interaction_timing_is_discords() -> None:
    clock = _Clock()
    async with FakeDiscord(TOKEN, clock=clock) as fake:
        Route.BASE = fake.api_base_url
        client = discord.Client(intents=discord.Intents.none())
        await client.login(TOKEN)
        try:
            in_time, late, twice, early = [await fake.inject("help") for _ in range(4)]
            clock.now += 2.9
            await _respond(client, fake, in_time)
            await _respond(client, fake, twice)
            with pytest.raises(discord.HTTPException) as again:
                await _respond(client, fake, twice)
            assert again.value.code == 40060  # already acknowledged
            with pytest.raises(discord.NotFound) as before:
                await _follow_up(client, early)  # no initial response yet
            assert before.value.code == 10015
            clock.now += 0.2  # 3.1 s after the interaction
            with pytest.raises(discord.NotFound) as too_late:
                await _respond(client, fake, late)
            assert too_late.value.code == 10062  # Unknown interaction
            clock.now += 14 * 60
            await _follow_up(client, in_time)  # within 15 minutes
            clock.now += 60
            with pytest.raises(discord.NotFound):
                await _follow_up(client, in_time)  # the token has expired
        finally:
            await client.close()
        assert [v.status for v in fake.take_violations()] == [400, 404, 404, 404]
