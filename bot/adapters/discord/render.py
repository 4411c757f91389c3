"""A rendered :class:`Reply` → Discord messages within the platform's limits, and error mapping.

Discord limits (checked after rendering, so the API never rejects a message): embed
description ≤ 4096 characters, ≤ 6000 characters over all embeds of a message, ≤ 10
embeds, content ≤ 2000, and uploads ≤ the channel's limit (``interaction.filesize_limit``;
8 MiB without boosts). Text goes into embed descriptions, split on line boundaries;
the charts ride as attachments shown inside the embeds (``attachment://name.png``). A
chart bigger than the upload limit is left out with a note saying so.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

import aiohttp

from bot.adapters.discord.lib import discord
from bot.notify.outlets import (
    ChatGone,
    DeliveryError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from bot.reply import Image

__all__ = [
    "DEFAULT_UPLOAD_LIMIT",
    "DESCRIPTION_LIMIT",
    "EMBEDS_PER_MESSAGE",
    "ERROR_COLOUR",
    "MESSAGE_EMBED_TOTAL",
    "REPLY_COLOUR",
    "DiscordMessage",
    "build_messages",
    "delivery_error",
    "split_text",
]

DESCRIPTION_LIMIT = 4096
MESSAGE_EMBED_TOTAL = 6000
EMBEDS_PER_MESSAGE = 10
#: what every channel accepts (no boosts)
DEFAULT_UPLOAD_LIMIT = 8 * 1024 * 1024
REPLY_COLOUR = discord.Colour(0x2B6CB0)
ERROR_COLOUR = discord.Colour(0xC53030)


@dataclass
class DiscordMessage:
    """One message to send: embeds plus the chart files they show."""

    embeds: list[discord.Embed] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)

    def files(self) -> list[discord.File]:
        """Fresh ``discord.File`` objects (a File is consumed once it is sent)."""
        return [
            discord.File(io.BytesIO(img.data), filename=img.filename, description=img.alt or None)
            for img in self.images
        ]


def split_text(text: str, limit: int = DESCRIPTION_LIMIT) -> list[str]:
    """``text`` in chunks of at most ``limit`` characters, cut at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:  # one line longer than a whole chunk: hard cut
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current.strip() or not chunks:
        chunks.append(current)
    return [c.rstrip("\n") or "\u200b" for c in chunks]


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def build_messages(
    text: str,
    images: tuple[Image, ...] = (),
    *,
    is_error: bool = False,
    upload_limit: int = DEFAULT_UPLOAD_LIMIT,
) -> list[DiscordMessage]:
    """The messages carrying ``text`` and ``images``: charts on the first, text split over
    embed descriptions (≤ 4096 each, ≤ 6000 per message, ≤ 10 embeds per message)."""
    kept: list[Image] = []
    used = 0
    notes: list[str] = []
    for image in images:
        if used + len(image.data) > upload_limit:
            notes.append(
                f"(chart {image.filename} is {_mib(len(image.data))}, over this channel's"
                f" {_mib(upload_limit)} upload limit — not attached)"
            )
            continue
        kept.append(image)
        used += len(image.data)
    full = "\n".join([text.rstrip(), *notes]) if notes else text
    colour = ERROR_COLOUR if is_error else REPLY_COLOUR
    chunks = split_text(full)
    messages: list[DiscordMessage] = []
    current = DiscordMessage()
    total = 0
    for chunk in chunks:
        if current.embeds and (
            total + len(chunk) > MESSAGE_EMBED_TOTAL or len(current.embeds) >= EMBEDS_PER_MESSAGE
        ):
            messages.append(current)
            current, total = DiscordMessage(), 0
        current.embeds.append(discord.Embed(description=chunk, colour=colour))
        total += len(chunk)
    messages.append(current)
    first = messages[0]
    for i, image in enumerate(kept[:EMBEDS_PER_MESSAGE]):
        if i >= len(first.embeds):
            first.embeds.append(discord.Embed(colour=colour))
        first.embeds[i].set_image(url=f"attachment://{image.filename}")
        first.images.append(image)
    for image in kept[EMBEDS_PER_MESSAGE:]:  # more charts than embeds: plain attachments
        first.images.append(image)
    return messages


def delivery_error(chat_id: str, exc: BaseException) -> DeliveryError:
    """A discord.py / network failure as the project's :class:`DeliveryError`.

    404 (unknown channel) → :class:`ChatGone`; 5xx, 429 beyond discord.py's own retries and
    network trouble → :class:`TemporaryDeliveryError`; 403 (missing permission) and any
    other client error → :class:`PermanentDeliveryError`.
    """
    if isinstance(exc, discord.NotFound):
        return ChatGone(chat_id, f"unknown channel ({exc.text or exc.status})")
    if isinstance(exc, discord.Forbidden):
        return PermanentDeliveryError(chat_id, f"missing permission ({exc.text or exc.status})")
    if isinstance(exc, discord.DiscordServerError):
        return TemporaryDeliveryError(chat_id, f"Discord error {exc.status}")
    if isinstance(exc, discord.RateLimited):
        return TemporaryDeliveryError(chat_id, f"rate limited for {exc.retry_after:.0f} s")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429 or exc.status >= 500:
            return TemporaryDeliveryError(chat_id, f"Discord answered {exc.status}")
        return PermanentDeliveryError(chat_id, f"rejected ({exc.status}: {exc.text})")
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return TemporaryDeliveryError(chat_id, f"network: {type(exc).__name__}")
    return PermanentDeliveryError(chat_id, f"{type(exc).__name__}: {exc}")
