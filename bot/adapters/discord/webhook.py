"""Webhook mode: alerts and threads through a Discord webhook URL, with no bot token.

A webhook is bound to one channel, so ``chat_id`` is only used in error messages.
Threads: a webhook cannot open a thread on a message in a text channel, so the first
post goes out and the rest follow it as separate messages, in order. In a **forum**
channel pass ``forum=True``: the first post then creates a forum post named after the
thread title (``thread_name``) and the rest are sent into that thread.

discord.py honours a webhook 429 only when the answer carries a ``Via`` header (Discord's
own answers do); otherwise it raises, and the error becomes a
:class:`~bot.notify.outlets.TemporaryDeliveryError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aiohttp

from bot.adapters.discord.lib import discord
from bot.adapters.discord.render import DiscordMessage, build_messages, delivery_error
from bot.reply import Platform, Reply

__all__ = ["DiscordWebhookOutlet"]

RenderText = Callable[[Reply, Platform], str]


class DiscordWebhookOutlet:
    """An :class:`~bot.notify.outlets.Outlet` posting through one webhook URL."""

    def __init__(
        self,
        webhook_url: str,
        session: aiohttp.ClientSession,
        render_text: RenderText,
        *,
        username: str | None = "liqwatch",
        forum: bool = False,
        api_base_url: str | None = None,
    ) -> None:
        """``api_base_url`` (tests, proxies) sets ``discord.http.discord.http.Route.BASE`` process-wide."""
        if api_base_url:
            discord.http.Route.BASE = api_base_url.rstrip("/")
        self.webhook = discord.Webhook.from_url(webhook_url, session=session)
        self._render = render_text
        self._username = username
        self._forum = forum

    @property
    def platform(self) -> Platform:
        return "discord"

    def _messages(self, reply: Reply) -> list[DiscordMessage]:
        return build_messages(self._render(reply, "discord"), reply.images, is_error=reply.is_error)

    async def _execute(
        self,
        chat_id: str,
        message: DiscordMessage,
        *,
        thread: discord.abc.Snowflake | None = None,
        thread_name: str | None = None,
    ) -> discord.WebhookMessage:
        missing = discord.utils.MISSING
        try:
            return await self.webhook.send(
                embeds=message.embeds,
                files=message.files(),
                wait=True,
                thread=thread if thread is not None else missing,
                thread_name=thread_name or missing,
                username=self._username or missing,
            )
        except Exception as exc:
            raise delivery_error(chat_id, exc) from exc

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Post ``reply`` through the webhook (in order, waiting for each message)."""
        for message in self._messages(reply):
            await self._execute(chat_id, message)

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        """The first post, then the rest: as follow-up messages, or inside a forum post."""
        if not posts:
            return
        thread: discord.abc.Snowflake | None = None
        for post in posts:
            for message in self._messages(post):
                name = title[:100] if self._forum and thread is None else None
                sent = await self._execute(chat_id, message, thread=thread, thread_name=name)
                if self._forum and thread is None:
                    thread = discord.Object(id=sent.channel.id)
