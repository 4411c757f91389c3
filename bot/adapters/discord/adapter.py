"""Discord adapter: discord.py 2.x slash commands ↔ platform-neutral commands and replies.

Thin by design — start, stop, send, bind commands. The command tree is generated from the
command specs (:mod:`bot.adapters.discord.tree`); each slash command's options are handed,
by name, to the command layer with a :class:`CallContext` (``run_options``: each option is
parsed on its own), and the :class:`Reply` is rendered to Discord Markdown and sent as
embeds with the charts attached (:mod:`bot.adapters.discord.render`).

Interactions must be answered within 3 s: commands that take a market (a ``symbol``
parameter: data, analysis, a chart) are deferred at once ("thinking…") and answered with
a follow-up; the others are answered directly. Errors are shown only to the caller
(ephemeral): after a public defer the "thinking" placeholder is deleted first, so the
error follow-up can be ephemeral. A command the command layer drops (the flood throttle)
ends quietly: the placeholder is deleted and nothing is posted. A reply Discord refuses is
logged and the placeholder replaced by a short apology. Admin commands are hidden from
members without Manage Server (``default_permissions``) and checked again here
(→ ``CallContext.is_admin``).

A token Discord refuses — at login, or later as gateway close 4004 — cannot heal:
:meth:`DiscordAdapter.start` raises, and :meth:`DiscordAdapter.wait_closed` (the process
watches it) ends, with a one-line :class:`~bot.config.settings.ConfigError`, the HTTP
session closed (:mod:`bot.adapters.discord.errors`).

As an :class:`~bot.notify.outlets.Outlet` (alerts, threads) it posts to channels
(:mod:`bot.adapters.discord.outlet`). The bot token is never logged here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import yarl

from bot.adapters.discord.buttons import button_line, reply_view
from bot.adapters.discord.errors import fatal_reason
from bot.adapters.discord.lib import app_commands, discord
from bot.adapters.discord.notices import Notices
from bot.adapters.discord.outlet import ChannelOutlet, view_kwargs
from bot.adapters.discord.render import (
    DEFAULT_UPLOAD_LIMIT,
    build_messages,
)
from bot.adapters.discord.tree import SpecLike, SymbolLister, app_command
from bot.config.settings import ConfigError
from bot.notify.retry import DeliveryProblem, DeliveryStats
from bot.reply import CallContext, Platform, Reply

__all__ = ["DEFAULT_API_BASE_URL", "DEFAULT_GATEWAY_URL", "CommandRunner", "DiscordAdapter"]

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = discord.http.Route.BASE
DEFAULT_GATEWAY_URL = str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


class CommandRunner(Protocol):
    """The part of the command layer the adapter uses (``bot.commands.registry.Commands``)."""

    @property
    def specs(self) -> Sequence[Any]: ...

    async def run(
        self, line: str, ctx: CallContext, *, bot_username: str | None = None
    ) -> Reply | None: ...

    async def run_options(
        self, name: str, options: Mapping[str, str | None], ctx: CallContext
    ) -> Reply | None: ...


RenderText = Callable[[Reply, Platform], str]
_APOLOGY = "Sorry — Discord refused that reply. It has been logged."


class _Client(discord.Client):
    """A client that syncs the command tree once logged in (``setup_hook``)."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(**options)
        self._adapter = adapter

    async def setup_hook(self) -> None:
        await self._adapter._sync()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._adapter._press(interaction)


class DiscordAdapter(ChannelOutlet):
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
        delivery_stats: DeliveryStats | None = None,
    ) -> None:
        self._token = token
        self._commands = commands
        self._render = render_text
        self._api_base_url = api_base_url
        self._gateway_url = gateway_url
        self._saved: tuple[str, yarl.URL] | None = None
        self.admin_channel_id = admin_channel_id
        self.notices = Notices()
        #: replies Discord refused after discord.py's own retries (``/status``; may be shared)
        self.delivery_stats = delivery_stats if delivery_stats is not None else DeliveryStats()
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
        """Log in, sync the command tree, connect to the gateway and wait for READY.

        A failure closes what was opened; one that no retry heals (a refused token) is
        raised as a one-line :class:`ConfigError`."""
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        if self._api_base_url:
            discord.http.Route.BASE = self._api_base_url.rstrip("/")
        if self._gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._gateway_url)
        try:
            await self._connect()
        except BaseException as exc:
            await self._close()
            reason = fatal_reason(exc)
            if reason is not None:
                raise ConfigError([reason]) from None
            raise
        log.info("Discord: logged in as %s", self.client.user)

    async def _connect(self) -> None:
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

    async def wait_closed(self) -> None:
        """Return when the gateway connection has ended on its own (it never does while it
        runs: discord.py reconnects); raise :class:`ConfigError` when Discord ended it for
        good (close 4004: the token was reset), or the error that ended it."""
        task = self._task
        if task is None:
            raise RuntimeError("the Discord adapter is not started")
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = fatal_reason(exc)
            if reason is not None:
                raise ConfigError([reason]) from None
            raise

    async def stop(self) -> None:
        """Close the gateway and the HTTP session; restore the global URLs."""
        await self._close(log_errors=True)

    async def _close(self, *, log_errors: bool = False) -> None:
        await self.client.close()
        task, self._task = self._task, None
        if task is not None:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                if log_errors and fatal_reason(exc) is None:  # a fatal one was reported
                    log.warning("Discord connection ended with an error: %r", exc)
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

    async def _run(
        self, interaction: discord.Interaction, spec: SpecLike, options: dict[str, str | None]
    ) -> None:
        heavy = any(p.kind == "symbol" for p in spec.params)
        if heavy:
            await interaction.response.defer(thinking=True)
        reply = await self._commands.run_options(spec.name, options, self._context(interaction))
        try:
            if reply is None:  # dropped (the flood throttle): end quietly, remove "thinking…"
                if not heavy:
                    await interaction.response.defer(ephemeral=True, thinking=True)
                await interaction.delete_original_response()
                return
            await self._answer(interaction, reply, heavy=heavy)
        except discord.HTTPException as exc:
            log.error("Discord refused the reply to /%s: %s", spec.name, exc)
            chat_id = str(interaction.channel_id or "")
            why = f"/{spec.name}: refused: {exc}"
            problem = DeliveryProblem(time.time(), "discord", chat_id, "reply", "gave up", why)
            self.delivery_stats.record(problem)
            await self._apologise(interaction)

    async def _answer(self, interaction: discord.Interaction, reply: Reply, *, heavy: bool) -> None:
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
            extra = view_kwargs(view if i == 0 else None)
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

    async def _apologise(self, interaction: discord.Interaction) -> None:
        """Best effort: a short error in place of "thinking…" (or as the answer)."""
        embed = build_messages(_APOLOGY, is_error=True)[0].embeds
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.edit_original_response(embeds=embed, attachments=[], view=None)
            else:
                await interaction.response.send_message(embeds=embed, ephemeral=True)

    async def _press(self, interaction: discord.Interaction) -> None:
        """A pressed reply button: re-run its command line and update the message in place."""
        line = button_line(interaction)
        if line is None:
            return
        await interaction.response.defer()  # "deferred update": no new message
        reply = await self._commands.run(line, self._context(interaction))
        if reply is None:
            return
        try:
            await self._update(interaction, reply)
        except discord.HTTPException as exc:  # the message stays as it was
            log.error("Discord refused the update for %r: %s", line, exc)

    async def _update(self, interaction: discord.Interaction, reply: Reply) -> None:
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
