"""Discord API v10 payloads the fake Discord sends: the bot user, its application, threads,
and ``INTERACTION_CREATE`` events (slash commands and autocomplete) as the gateway delivers
them — including ``attachment_size_limit``, which discord.py ≥ 2.5 requires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "APP_ID",
    "BOT_ID",
    "GUILD_ID",
    "application_payload",
    "bot_user",
    "interaction_payload",
    "thread_payload",
]

APP_ID = 1100000000000000001
BOT_ID = 1100000000000000002
GUILD_ID = 1100000000000000003
_ALL_PERMISSIONS = (1 << 53) - 1


def bot_user() -> dict[str, Any]:
    """The bot's own user object (``GET /users/@me``, READY, message authors)."""
    return {
        "id": str(BOT_ID),
        "username": "liqwatch",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": True,
        "flags": 0,
    }


def application_payload() -> dict[str, Any]:
    """``GET /oauth2/applications/@me``."""
    return {
        "id": str(APP_ID),
        "name": "liqwatch",
        "icon": None,
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "owner": bot_user(),
    }


def thread_payload(thread_id: int, parent_id: str, name: str) -> dict[str, Any]:
    """A public thread started on a message (channel type 11)."""
    return {
        "id": str(thread_id),
        "guild_id": str(GUILD_ID),
        "parent_id": parent_id,
        "owner_id": str(BOT_ID),
        "type": 11,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-01-01T00:00:00+00:00",
            "locked": False,
        },
    }


def interaction_payload(
    name: str,
    options: dict[str, Any] | None = None,
    *,
    new_id: Callable[[], int],
    kind: int = 2,
    focused: str | None = None,
    permissions: int = 0,
    channel_id: int = 1300000000000000001,
    guild_id: int | None = GUILD_ID,
    attachment_size_limit: int = 10 * 1024 * 1024,
    custom_id: str = "",
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``INTERACTION_CREATE``: a slash command (``kind`` 2), autocomplete (4, with the
    ``focused`` option) or a button press (3, with ``custom_id`` and the pressed
    ``message``). ``permissions`` is the member's resolved permission bits."""
    opts = [
        {"name": k, "type": 10 if isinstance(v, float) else 3, "value": v}
        | ({"focused": True} if k == focused else {})
        for k, v in (options or {}).items()
    ]
    user = {
        "id": "1400000000000000001",
        "username": "alice",
        "discriminator": "0",
        "global_name": "Alice",
        "avatar": None,
    }
    payload: dict[str, Any] = {
        "id": str(new_id()),
        "application_id": str(APP_ID),
        "type": kind,
        "token": f"itoken-{new_id()}",
        "version": 1,
        "data": {"id": str(new_id()), "name": name, "type": 1, "options": opts}
        if kind != 3
        else {"custom_id": custom_id, "component_type": 2},
        "channel_id": str(channel_id),
        "channel": {"id": str(channel_id), "type": 0, "name": "alerts", "position": 0},
        "app_permissions": str(_ALL_PERMISSIONS),
        "entitlements": [],
        "attachment_size_limit": attachment_size_limit,
        "locale": "en-US",
        "authorizing_integration_owners": {},
    }
    if message is not None:
        payload["message"] = message
    if guild_id is None:
        payload["user"] = user
        return payload
    payload["guild_id"] = str(guild_id)
    payload["guild_locale"] = "en-US"
    payload["member"] = {
        "user": user,
        "roles": [],
        "joined_at": "2025-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": str(permissions),
    }
    return payload
