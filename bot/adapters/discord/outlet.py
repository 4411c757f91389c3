"""The Discord bot as an :class:`~bot.notify.outlets.Outlet`: alerts to channels, threads.

``send`` posts to a channel id and ``post_thread`` posts the first post, opens a thread on it
and posts the rest inside, in order (discord.py waits out 429s itself, and each post is
awaited before the next). A 403 is reported to the admin channel — once per channel and cause
per cooldown (:mod:`bot.adapters.discord.notices`), so a channel that refuses every alert
rule does not flood it — and to the log, and raised as :class:`PermanentDeliveryError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from bot.adapters.discord.buttons import reply_view
from bot.adapters.discord.lib import discord
from bot.adapters.discord.notices import Notices
from bot.adapters.discord.render import DiscordMessage, build_messages, delivery_error
from bot.reply import Platform, Reply

__all__ = ["ChannelOutlet", "view_kwargs"]

log = logging.getLogger("bot.adapters.discord.adapter")

_THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
_THREAD_NAME_MAX = 100


def view_kwargs(view: discord.ui.View | None) -> dict[str, Any]:
    """``{"view": view}`` when there is one (discord.py wants the argument left out)."""
    return {"view": view} if view is not None else {}


class ChannelOutlet:
    """The outlet half of :class:`~bot.adapters.discord.adapter.DiscordAdapter`."""

    client: discord.Client
    admin_channel_id: int | None
    notices: Notices
    _render: Callable[[Reply, Platform], str]

    async def _post(
        self,
        channel_id: int,
        message: DiscordMessage,
        view: discord.ui.View | None = None,
        *,
        silent: bool = False,
        reference: discord.MessageReference | None = None,
    ) -> discord.Message:
        channel = self.client.get_partial_messageable(channel_id)
        extra: dict[str, Any] = {"reference": reference} if reference is not None else {}
        return await channel.send(
            embeds=message.embeds,
            files=message.files(),
            silent=silent,
            **view_kwargs(view),
            **extra,
        )

    async def _deliver(
        self,
        chat_id: str,
        messages: Iterable[DiscordMessage],
        view: discord.ui.View | None = None,
        *,
        silent: bool = False,
        reply_to: str | None = None,
    ) -> list[int]:
        """Post ``messages`` in order to ``chat_id`` (``view`` on the first, which replies to
        the message ``reply_to`` if given — posted anyway when that one is gone); ids."""
        ids: list[int] = []
        reference = None
        if reply_to is not None and reply_to.isdigit():
            reference = discord.MessageReference(
                message_id=int(reply_to), channel_id=int(chat_id), fail_if_not_exists=False
            )
        try:
            for message in messages:
                first = not ids
                sent = await self._post(
                    int(chat_id),
                    message,
                    view if first else None,
                    silent=silent,
                    reference=reference if first else None,
                )
                ids.append(sent.id)
        except Exception as exc:
            error = delivery_error(chat_id, exc)
            if isinstance(exc, discord.Forbidden):
                await self._report(chat_id, _reason(error))
            raise error from exc
        return ids

    def _messages(self, reply: Reply) -> list[DiscordMessage]:
        text = self._render(reply, "discord")
        return build_messages(text, reply.images, is_error=reply.is_error)

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Post ``reply`` to the channel ``chat_id`` (a reply to ``reply.reply_to`` if set);
        the first message's id. Raises a DeliveryError."""
        ids = await self._deliver(
            chat_id,
            self._messages(reply),
            reply_view(reply.buttons),
            silent=reply.silent,
            reply_to=reply.reply_to,
        )
        return str(ids[0]) if ids else None

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        """The first post in the channel, a thread named ``title`` on it, the rest inside."""
        if not posts:
            return
        first_ids = await self._deliver(chat_id, self._messages(posts[0]))
        name = title.strip()[:_THREAD_NAME_MAX] or "thread"
        try:
            # a raw route: Message.create_thread needs the guild cached, a partial one is not
            thread = await self.client.http.start_thread_with_message(
                int(chat_id), first_ids[0], name=name, auto_archive_duration=_THREAD_ARCHIVE_MINUTES
            )
        except Exception as exc:
            error = delivery_error(chat_id, exc)
            if isinstance(exc, discord.Forbidden):
                await self._report(chat_id, f"cannot create a thread: {_reason(error)}")
            raise error from exc
        thread_id = str(thread["id"])
        for post in posts[1:]:
            await self._deliver(thread_id, self._messages(post))

    async def _report(self, chat_id: str, problem: str) -> None:
        """Tell the admin channel (once per channel and cause per cooldown) and the log that
        posting to ``chat_id`` failed."""
        text = f"liqwatch could not post to <#{chat_id}>: {problem}"
        log.warning("Discord: %s", text)
        target = self.admin_channel_id
        if target is None or str(target) == chat_id or not self.notices.due(chat_id, problem):
            return
        try:
            await self._post(target, build_messages(text, is_error=True)[0])
        except Exception as exc:  # the report is best effort: never let it hide the error
            log.warning("Discord: could not report to the admin channel: %s", exc)


def _reason(error: Exception) -> str:
    """A DeliveryError's message without the ``<chat id>: `` it starts with."""
    chat_id = getattr(error, "chat_id", "")
    return str(error).removeprefix(f"{chat_id}: ")
