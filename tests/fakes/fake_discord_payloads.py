"""Discord API v10 payloads the fake Discord sends: the bot user, its application, threads,
and ``INTERACTION_CREATE`` events (slash commands and autocomplete) as the gateway delivers
them — including ``attachment_size_limit``, which discord.py ≥ 2.5 requires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "APP_ID",
    "BOT_ID",
    "GUILD_ID",
    "Fault",
    "application_payload",
    "bot_user",
    "forbidden",
    "interaction_payload",
    "message_payload",
    "rate_limited",
    "thread_payload",
    "unauthorized",
    "unknown_channel",
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


def message_payload(
    channel_id: str,
    body: Any,
    files: dict[str, bytes],
    *,
    new_id: Callable[[], int],
    webhook_id: str | None = None,
) -> dict[str, Any]:
    """The message Discord answers a create / edit / follow-up with (components echoed)."""
    body = body or {}
    attachments = []
    for i, meta in enumerate(body.get("attachments", [])):
        data = files.get(f"files[{meta.get('id', i)}]", b"")
        attachments.append(
            {
                "id": str(new_id()),
                "filename": meta.get("filename", f"file{i}"),
                "size": len(data),
                "url": f"https://cdn.example/{meta.get('filename')}",
                "proxy_url": f"https://media.example/{meta.get('filename')}",
                "content_type": "image/png",
            }
        )
    message = {
        "id": str(new_id()),
        "channel_id": channel_id,
        "type": 0,
        "author": bot_user(),
        "content": body.get("content") or "",
        "embeds": body.get("embeds") or [],
        "attachments": attachments,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "pinned": False,
        "flags": body.get("flags", 0),
        "components": body.get("components") or [],
    }
    if webhook_id:
        message["webhook_id"] = webhook_id
    return message


@dataclass
class Fault:
    """An injected failure: answer ``status`` with ``body`` (and ``headers``) ``times`` times."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    #: only calls whose path contains this (a channel id), every call when empty
    path: str = ""


def rate_limited(retry_after: float = 0.3, times: int = 1) -> Fault:
    """A per-route 429 as Discord sends it (with the ``Via`` header discord.py requires)."""
    headers = {
        "Retry-After": str(retry_after),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": str(retry_after),
        "X-RateLimit-Bucket": "fakebucket",
        "X-RateLimit-Scope": "user",
        "Via": "1.1 google",
    }
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return Fault(429, body, headers, times)


def forbidden(times: int = 1, path: str = "") -> Fault:
    """403 Missing Permissions (code 50013), for calls whose path contains ``path``."""
    return Fault(403, {"code": 50013, "message": "Missing Permissions"}, times=times, path=path)


def unknown_channel(times: int = 1) -> Fault:
    """404 Unknown Channel (code 10003)."""
    return Fault(404, {"code": 10003, "message": "Unknown Channel"}, times=times)


def unauthorized() -> dict[str, Any]:
    """The body of Discord's 401 for a bad bot token."""
    return {"code": 0, "message": "401: Unauthorized"}
