"""Discord adapter: discord.py 2.x slash commands ↔ platform-neutral commands and replies.

Thin by design — start, stop, send, bind commands. The command tree is generated from the
command specs (:mod:`bot.adapters.discord.tree`); each slash command becomes a command
line run by the command layer with a :class:`CallContext`, and the :class:`Reply` is
rendered to Discord Markdown and sent as embeds with the charts attached
(:mod:`bot.adapters.discord.render`).

Interactions must be answered within 3 s: commands that take a market (a ``symbol``
parameter: data, analysis, a chart) are deferred at once ("thinking…") and answered with
a follow-up; the others are answered directly. Errors are shown only to the caller
(ephemeral): after a public defer the "thinking" placeholder is deleted first, so the
error follow-up can be ephemeral. Admin commands are hidden from members without Manage
Server (``default_permissions``) and checked again here (→ ``CallContext.is_admin``).

As an :class:`~bot.notify.outlets.Outlet`, ``send`` posts to a channel id and ``post_thread``
posts the first post, opens a thread on it and posts the rest inside, in order (discord.py
waits out 429s itself, and each post is awaited before the next). A 403 is reported to the
admin channel (or the log) and raised as :class:`PermanentDeliveryError`. The bot token
is never logged here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol

import yarl

from bot.adapters.discord.buttons import button_line, reply_view
from bot.adapters.discord.lib import app_commands, discord
from bot.adapters.discord.render import (
    DEFAULT_UPLOAD_LIMIT,
    DiscordMessage,
    build_messages,
    delivery_error,
)
from bot.adapters.discord.tree import SpecLike, SymbolLister, app_command
from bot.reply import CallContext, Platform, Reply

__all__ = ["DEFAULT_API_BASE_URL", "DEFAULT_GATEWAY_URL", "CommandRunner", "DiscordAdapter"]

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = discord.http.Route.BASE
DEFAULT_GATEWAY_URL = str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
_THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
_THREAD_NAME_MAX = 100


class CommandRunner(Protocol):
    """The part of the command layer the adapter uses (``bot.commands.registry.Commands``)."""

    @property
    def specs(self) -> Sequence[Any]: ...

    async def run(
        self, line: str, ctx: CallContext, *, bot_username: str | None = None
    ) -> Reply | None: ...


RenderText = Callable[[Reply, Platform], str]


def _view_kwargs(view: discord.ui.View | None) -> dict[str, Any]:
    """``{"view": view}`` when there is one (discord.py wants the argument left out)."""
    return {"view": view} if view is not None else {}


class _Client(discord.Client):
    """A client that syncs the command tree once logged in (``setup_hook``)."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(**options)
        self._adapter = adapter

    async def setup_hook(self) -> None:
        await self._adapter._sync()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._adapter._press(interaction)


class DiscordAdapter:
    """One Discord bot on the shared event loop: slash commands in, replies and posts out."""

    def __init__(
        self,
        token: str,
        commands: CommandRunner,
        render_text: RenderText,
        *,
        exchanges: Sequence[str] = (),
        symbols: SymbolLister | None = None,
        api_base_url: str | None = None,
        gateway_url: str | None = None,
        admin_channel_id: int | None = None,
        sync_commands: bool = True,
        guild_ready_timeout: float = 2.0,
        ready_timeout: float = 30.0,
    ) -> None:
        self._token = token
        self._commands = commands
        self._render = render_text
        self._api_base_url = api_base_url
        self._gateway_url = gateway_url
        self._saved: tuple[str, yarl.URL] | None = None
        self.admin_channel_id = admin_channel_id
        self._sync_commands = sync_commands
        self._ready_timeout = ready_timeout
        self.client = _Client(
            self, intents=discord.Intents.none(), guild_ready_timeout=guild_ready_timeout
        )
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self.client)
        for spec in commands.specs:
            self.tree.add_command(
                app_command(spec, self._run, exchanges=exchanges, symbols=symbols)
            )
        self._task: asyncio.Task[None] | None = None

    @property
    def platform(self) -> Platform:
        return "discord"

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, sync the command tree, connect to the gateway and wait for READY."""
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        if self._api_base_url:
            discord.http.Route.BASE = self._api_base_url.rstrip("/")
        if self._gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._gateway_url)
        await self.client.login(self._token)
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=self._ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raises the connection error
            raise TimeoutError("Discord gateway did not become ready")
        log.info("Discord: logged in as %s", self.client.user)

    async def stop(self) -> None:
        """Close the gateway and the HTTP session; restore the global URLs."""
        await self.client.close()
        if self._task is not None:
            try:
                await self._task
            except Exception:
                log.exception("Discord connection ended with an error")
            self._task = None
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def _sync(self) -> None:
        if self._sync_commands:
            synced = await self.tree.sync()
            log.info("Discord: synced %d commands", len(synced))

    # --- commands -------------------------------------------------------------------------

    def _context(self, interaction: discord.Interaction) -> CallContext:
        user = interaction.user
        is_admin = interaction.guild_id is not None and interaction.permissions.manage_guild
        return CallContext(
            platform="discord",
            chat_id=str(interaction.channel_id or ""),
            user_id=str(user.id),
            is_group=interaction.guild_id is not None,
            is_admin=bool(is_admin),
            user_name=user.display_name,
        )

    async def _run(self, interaction: discord.Interaction, spec: SpecLike, line: str) -> None:
        heavy = any(p.kind == "symbol" for p in spec.params)
        if heavy:
            await interaction.response.defer(thinking=True)
        reply = await self._commands.run(line, self._context(interaction))
        if reply is None:
            reply = Reply("error", {"message": "Nothing to answer.", "usage": "", "example": ""})
        messages = build_messages(
            self._render(reply, "discord"),
            reply.images,
            is_error=reply.is_error,
            upload_limit=interaction.filesize_limit or DEFAULT_UPLOAD_LIMIT,
        )
        if reply.is_error and heavy:
            # the first follow-up would replace the public placeholder: remove it first
            await interaction.delete_original_response()
        view = None if reply.is_error else reply_view(reply.buttons)
        for i, message in enumerate(messages):
            extra = _view_kwargs(view if i == 0 else None)
            if i == 0 and not heavy:
                await interaction.response.send_message(
                    embeds=message.embeds,
                    files=message.files(),
                    ephemeral=reply.is_error,
                    **extra,
                )
            else:
                await interaction.followup.send(
                    embeds=message.embeds,
                    files=message.files(),
                    ephemeral=reply.is_error,
                    **extra,
                )

    async def _press(self, interaction: discord.Interaction) -> None:
        """A pressed reply button: re-run its command line and update the message in place."""
        line = button_line(interaction)
        if line is None:
            return
        await interaction.response.defer()  # "deferred update": no new message
        reply = await self._commands.run(line, self._context(interaction))
        if reply is None:
            return
        messages = build_messages(
            self._render(reply, "discord"),
            reply.images,
            is_error=reply.is_error,
            upload_limit=interaction.filesize_limit or DEFAULT_UPLOAD_LIMIT,
        )
        if reply.is_error:
            for message in messages:
                await interaction.followup.send(embeds=message.embeds, ephemeral=True)
            return
        first = messages[0]
        await interaction.edit_original_response(
            embeds=first.embeds, attachments=first.files(), view=reply_view(reply.buttons)
        )

    # --- outlet ---------------------------------------------------------------------------

    async def _post(
        self,
        channel_id: int,
        message: DiscordMessage,
        view: discord.ui.View | None = None,
        *,
        silent: bool = False,
    ) -> discord.Message:
        channel = self.client.get_partial_messageable(channel_id)
        return await channel.send(
            embeds=message.embeds, files=message.files(), silent=silent, **_view_kwargs(view)
        )

    async def _deliver(
        self,
        chat_id: str,
        messages: Iterable[DiscordMessage],
        view: discord.ui.View | None = None,
        *,
        silent: bool = False,
    ) -> list[int]:
        """Post ``messages`` in order to ``chat_id`` (``view`` on the first); message ids."""
        ids: list[int] = []
        try:
            for message in messages:
                sent = await self._post(int(chat_id), message, None if ids else view, silent=silent)
                ids.append(sent.id)
        except Exception as exc:
            error = delivery_error(chat_id, exc)
            if isinstance(exc, discord.Forbidden):
                await self._report(chat_id, str(error))
            raise error from exc
        return ids

    def _messages(self, reply: Reply) -> list[DiscordMessage]:
        text = self._render(reply, "discord")
        return build_messages(text, reply.images, is_error=reply.is_error)

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Post ``reply`` to the channel ``chat_id``; raises a DeliveryError."""
        await self._deliver(
            chat_id, self._messages(reply), reply_view(reply.buttons), silent=reply.silent
        )

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
                await self._report(chat_id, f"cannot create a thread: {error}")
            raise error from exc
        thread_id = str(thread["id"])
        for post in posts[1:]:
            await self._deliver(thread_id, self._messages(post))

    async def _report(self, chat_id: str, problem: str) -> None:
        """Tell the admin channel (or the log) that posting to ``chat_id`` failed."""
        text = f"liqwatch could not post to <#{chat_id}>: {problem}"
        log.warning("Discord: %s", text)
        target = self.admin_channel_id
        if target is None or str(target) == chat_id:
            return
        try:
            await self._post(target, build_messages(text, is_error=True)[0])
        except Exception as exc:  # the report is best effort: never let it hide the error
            log.warning("Discord: could not report to the admin channel: %s", exc)
