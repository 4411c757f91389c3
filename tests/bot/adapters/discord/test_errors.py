"""Discord failures no retry heals → one line that says what to do (never the token)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters.discord.errors import fatal_reason
from bot.adapters.discord.lib import discord


class _Socket:
    close_code = 4004


def _closed(code: int) -> discord.ConnectionClosed:
    return discord.ConnectionClosed(_Socket(), shard_id=None, code=code)  # type: ignore[arg-type]


def test_a_refused_token_names_the_setting() -> None:
    reason = fatal_reason(discord.LoginFailure("Improper token has been passed."))
    assert reason is not None and reason.startswith("discord.token: Discord rejected the bot token")
    assert "LIQWATCH__DISCORD__TOKEN" in reason


def test_gateway_close_4004_is_a_reset_token() -> None:
    reason = fatal_reason(_closed(4004))
    assert reason is not None and reason.startswith("discord.token: ")
    assert "authentication failed (close code 4004)" in reason and "reset or revoked" in reason


@pytest.mark.parametrize("code", [4010, 4011, 4012, 4013, 4014])
def test_other_final_close_codes_are_said_with_their_meaning(code: int) -> None:
    reason = fatal_reason(_closed(code))
    assert reason is not None and f"close code {code}" in reason


@pytest.mark.parametrize(
    "exc",
    [_closed(4000), _closed(1001), OSError("reset"), TimeoutError(), RuntimeError("bug")],
    ids=str,
)
def test_what_can_heal_is_not_fatal(exc: Any) -> None:
    assert fatal_reason(exc) is None


def test_privileged_intents() -> None:
    reason = fatal_reason(discord.PrivilegedIntentsRequired(None))
    assert reason is not None and "4014" in reason and "Developer Portal" in reason
