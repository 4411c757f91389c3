"""Discord failures that no retry heals — a token Discord no longer accepts, intents the bot
may not use — said in one line that tells the operator what to do.

discord.py raises :class:`discord.LoginFailure` when the token is refused at login (401),
:class:`discord.PrivilegedIntentsRequired` for intents not enabled in the Developer Portal,
and ends its connect loop with :class:`discord.ConnectionClosed` for the gateway close codes
it does not reconnect after (4004 authentication failed — a reset or revoked token — and
4010–4014). The adapter turns these into :class:`~bot.config.settings.ConfigError`, which
``liqwatch run`` reports as one line and exits non-zero, so that systemd restarts only what
can recover.
"""

from __future__ import annotations

from typing import Final

from bot.adapters.discord.lib import discord

__all__ = ["fatal_reason"]

_TOKEN_HINT: Final = (
    "set a valid LIQWATCH__DISCORD__TOKEN (Developer Portal → your application → Bot → Reset Token)"
)
#: gateway close codes discord.py does not reconnect after, and what they mean
_CLOSE_CODES: Final = {
    4004: "authentication failed",
    4010: "invalid shard",
    4011: "sharding required",
    4012: "invalid API version",
    4013: "invalid intents",
    4014: "disallowed intents",
}


def fatal_reason(exc: BaseException) -> str | None:
    """``discord.token: …`` / ``discord: …`` for a failure that no retry heals, else ``None``."""
    if isinstance(exc, discord.LoginFailure):
        return f"discord.token: Discord rejected the bot token (401 Unauthorized); {_TOKEN_HINT}"
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return (
            "discord: the gateway refused privileged intents the application has not enabled "
            "(close code 4014); enable them in the Developer Portal or request fewer"
        )
    if isinstance(exc, discord.ConnectionClosed) and exc.code in _CLOSE_CODES:
        meaning = _CLOSE_CODES[exc.code]
        if exc.code == 4004:
            return (
                f"discord.token: Discord closed the gateway, {meaning} (close code 4004): the "
                f"token was reset or revoked; {_TOKEN_HINT}"
            )
        return f"discord: Discord closed the gateway, {meaning} (close code {exc.code})"
    return None
