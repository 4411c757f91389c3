"""Webhook mode: alerts and threads through a Discord webhook URL, with no bot token.

A webhook is bound to one channel, so ``chat_id`` is only used in error messages.
Threads: a webhook cannot open a thread on a message in a text channel, so the first
post goes out and the rest follow it as separate messages, in order. In a **forum**
channel pass ``forum=True``: the first post then creates a forum post named after the
thread title (``thread_name``) and the rest are sent into that thread.

discord.py honours a webhook 429 only when the answer carries a ``Via`` header (Discord's
own answers do); otherwise it raises, and the error becomes a
:class:`~bot.notify.outlets.TemporaryDeliveryError`.

``api_base_url`` (``discord.api_base_url``: a proxy, a test server) applies to this outlet
only: discord.py builds webhook URLs from its process-wide ``Route.BASE``, so each request
of this outlet goes through its own webhook adapter that swaps that base for this one (set
in discord.py's ``async_context`` for the duration of the call, never globally).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from bot.adapters.discord.lib import discord
from bot.adapters.discord.render import DiscordMessage, build_messages, delivery_error
from bot.reply import Platform, Reply

__all__ = ["DiscordWebhookOutlet"]

RenderText = Callable[[Reply, Platform], str]
_async = discord.webhook.async_


class _RebasedAdapter(_async.AsyncWebhookAdapter):
    """discord.py's webhook adapter, sending to ``base`` instead of ``Route.BASE``."""

    def __init__(self, base: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.base = base.rstrip("/")

    async def request(
        self, route: discord.http.Route, session: aiohttp.ClientSession, **kwargs: Any
    ) -> Any:
        default = discord.http.Route.BASE
        if route.url.startswith(default):
            route.url = self.base + route.url[len(default) :]
        return await super().request(route, session, **kwargs)


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
        """``webhook_url`` as Discord shows it; ``api_base_url`` (proxies, tests) for this
        outlet only. A URL discord.py cannot read is a ``ValueError`` naming the setting."""
        try:
            self.webhook = discord.Webhook.from_url(webhook_url, session=session)
        except ValueError:
            raise ValueError(
                "discord.webhook_url: not a Discord webhook URL, use "
                "https://discord.com/api/webhooks/<id>/<token>"
            ) from None
        self._adapter = _RebasedAdapter(api_base_url) if api_base_url else None
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
        token = _async.async_context.set(self._adapter) if self._adapter is not None else None
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
        finally:
            if token is not None:
                _async.async_context.reset(token)

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
