"""Telegram adapter: python-telegram-bot v22 ↔ platform-neutral commands and replies.

Thin by design — start, stop, send, bind commands. Every command message and every button
press becomes a command line run by the command layer with a :class:`CallContext`; the
:class:`Reply` it returns is rendered to Telegram HTML by ``render_text`` and sent as a
photo with a caption (≤ 1024) or as messages (≤ 4096), split on line boundaries, with the
reply's buttons as an inline keyboard (the Bot API calls: :mod:`bot.adapters.telegram.send`).
Pressing a button re-runs its command line and edits the message in place.

Sends are paced by PTB's ``AIORateLimiter`` (~30 messages/s overall, 20/min per group) and
each Bot API call is retried by what its failure tells (:mod:`bot.adapters.telegram.errors`,
docs/delivery.md): a refused call (429 with ``retry_after``, 5xx, connect error) until the
policy's deadline — 60 s for a command reply —, a call sent but not answered (read timeout)
at most once more for a reply and never for an alert. Command replies never crash the bot on
a platform error: ``Forbidden`` (blocked, kicked) is reported to ``on_chat_gone``;
``ChatMigrated`` (group → supergroup) to ``on_chat_migrated`` and the reply is re-sent to
the new chat; anything else is logged with its traceback.

As an :class:`~bot.notify.outlets.Outlet` (pushed alerts and threads) the adapter *raises* instead,
translated by :func:`~bot.adapters.telegram.errors.delivery_error` (re-exported here), so
the scheduler decides: ``Forbidden`` → :class:`ChatGone`, ``ChatMigrated`` →
:class:`ChatMoved`, ``BadRequest`` → :class:`PermanentDeliveryError`,
refused past the deadline → :class:`DeliveryRefused`, sent without an answer →
:class:`DeliveryUnconfirmed`. A thread is its first post (chart and caption) followed by
the other posts as replies to it, in order.

The bot token is never logged here (``repr(bot)`` contains it: never log the bot or the
application object).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from telegram import (
    BotCommand,
    Chat,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.adapters.telegram.buttons import CallbackData, keyboard
from bot.adapters.telegram.errors import delivery_error, judge
from bot.adapters.telegram.rights import CommandSpecLike, rights
from bot.adapters.telegram.send import Attempt, edit_in_place, send_new
from bot.notify.retry import ALERT_POLICY, REPLY_POLICY, DeliveryStats, RetryBudget, RetryPolicy
from bot.reply import CallContext, Platform, Reply

__all__ = [
    "DEFAULT_API_BASE_URL",
    "CommandRunner",
    "CommandSpecLike",
    "TelegramAdapter",
    "delivery_error",
]

log = logging.getLogger(__name__)

#: the public Bot API; PTB appends the token (``…/bot<token>/<method>``)
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
_MENU_NAME = re.compile(r"[a-z0-9_]{1,32}")  # what setMyCommands accepts
_EXPIRED_BUTTON = "This button has expired — send the command again."


class CommandRunner(Protocol):
    """The part of the command layer the adapter uses (``bot.commands.registry.Commands``)."""

    async def run(
        self, line: str, ctx: CallContext, *, bot_username: str | None = None
    ) -> Reply | None: ...

    def menu(self) -> Sequence[tuple[str, str]]: ...

    def get(self, name: str) -> CommandSpecLike | None: ...


RenderText = Callable[[Reply, Platform], str]
OnChatGone = Callable[[str], Awaitable[None] | None]
OnChatMoved = Callable[[str, str], Awaitable[None] | None]


class TelegramAdapter:
    """One Telegram bot on the shared event loop: long-polls updates and answers commands."""

    def __init__(
        self,
        token: str,
        commands: CommandRunner,
        render_text: RenderText,
        *,
        api_base_url: str = DEFAULT_API_BASE_URL,
        file_base_url: str | None = None,
        admin_ids: Iterable[str | int] = (),
        on_chat_gone: OnChatGone | None = None,
        on_chat_migrated: OnChatMoved | None = None,
        poll_timeout: float = 10.0,
        max_retries: int = 0,
        concurrent_updates: int = 64,
        reply_policy: RetryPolicy = REPLY_POLICY,
        alert_policy: RetryPolicy = ALERT_POLICY,
        read_timeout: float | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        delivery_stats: DeliveryStats | None = None,
    ) -> None:
        # Opt in to PTB's future timedelta attributes (RetryAfter.retry_after …); without it
        # PTB itself warns (PTBDeprecationWarning) every time the API answers 429.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        if file_base_url is None:
            head, sep, _ = api_base_url.rpartition("/bot")
            file_base_url = f"{head}/file/bot" if sep else api_base_url
        self._commands = commands
        self._render = render_text
        self._admin_ids = frozenset(str(i) for i in admin_ids)
        self._on_chat_gone = on_chat_gone
        self._on_chat_migrated = on_chat_migrated
        self._poll_timeout = poll_timeout
        self._callbacks = CallbackData()
        self._reply_policy, self._alert_policy = reply_policy, alert_policy
        self._sleep, self._clock = sleep, clock
        #: what retries met, for replies and pushes (``/status``: may be shared, tests)
        self.delivery_stats = delivery_stats if delivery_stats is not None else DeliveryStats()
        builder = ApplicationBuilder()
        if read_timeout is not None:
            builder = builder.read_timeout(read_timeout).media_write_timeout(read_timeout)
        # the rate limiter only paces (max_retries 0): retries are this adapter's (_attempt)
        self._app: Application[Any, Any, Any, Any, Any, Any] = (
            builder.token(token)
            .base_url(api_base_url)
            .base_file_url(file_base_url)
            .rate_limiter(AIORateLimiter(max_retries=max_retries))
            .concurrent_updates(concurrent_updates)
            .job_queue(None)  # scheduling is owned by bot.notify.scheduler, not by a connector
            .build()
        )
        self._app.add_handler(
            MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, self._on_command)
        )
        self._app.add_handler(CallbackQueryHandler(self._on_button))
        self._app.add_error_handler(self._on_error)

    @property
    def platform(self) -> Platform:
        return "telegram"

    @property
    def bot_username(self) -> str | None:
        """The bot's @username (known after :meth:`start`)."""
        try:
            username: str = self._app.bot.username
        except RuntimeError:  # not initialized: getMe has not been called yet
            return None
        return username

    async def start(self) -> None:
        """Log in (getMe), publish the command menu, start long-polling on this loop."""
        await self._app.initialize()
        await self._publish_menu()
        await self._app.start()
        updater = self._app.updater
        assert updater is not None
        await updater.start_polling(
            timeout=dt.timedelta(seconds=self._poll_timeout),
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
        )
        log.info("Telegram bot @%s polling", self.bot_username)

    async def stop(self) -> None:
        """Stop polling, stop processing updates, close the HTTP pools (reverse of start).

        Polling retries network errors forever, but a revoked token (401) ends it: PTB then
        raises that error here; it is logged (never the token) and the shutdown completes."""
        updater = self._app.updater
        if updater is not None and updater.running:
            try:
                await updater.stop()
            except InvalidToken:
                log.error("Telegram rejected the bot token (401 Unauthorized): polling had stopped")
        if self._app.running:
            await self._app.stop()
        await self._app.shutdown()

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Push ``reply`` (an alert; a reply to ``reply.reply_to`` if set, sent anyway when
        that message is gone) to a chat; the first message's id. Raises a
        :class:`~bot.notify.outlets.DeliveryError`."""
        anchor = None
        if reply.reply_to is not None and reply.reply_to.lstrip("-").isdigit():
            anchor = ReplyParameters(int(reply.reply_to), allow_sending_without_reply=True)
        try:
            sent = await self._send_new(
                chat_id, reply, reply_to=anchor, attempt=self._attempt(chat_id, alert=True)
            )
        except TelegramError as exc:
            raise delivery_error(chat_id, exc) from exc
        return str(sent[0].message_id) if sent else None

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        """Post a thread: ``posts[0]`` (its chart with the caption), then every other post as
        a silent reply to that first message, in order. Telegram has no thread title, so
        ``title`` is not shown (the first post is the headline). Raises a DeliveryError."""
        if not posts:
            return
        attempt = self._attempt(chat_id, alert=True)
        try:
            head = await self._send_new(chat_id, posts[0], attempt=attempt)
            anchor = ReplyParameters(head[0].message_id, allow_sending_without_reply=True)
            for post in posts[1:]:
                await self._send_new(chat_id, post, reply_to=anchor, quiet=True, attempt=attempt)
        except TelegramError as exc:
            raise delivery_error(chat_id, exc) from exc

    # -- inbound ---------------------------------------------------------------------------

    async def _publish_menu(self) -> None:
        menu = [
            BotCommand(name, (summary or name)[:256])
            for name, summary in self._commands.menu()
            if _MENU_NAME.fullmatch(name)
        ]
        try:
            await self._app.bot.set_my_commands(menu)
        except TelegramError:
            log.warning("could not publish the command menu", exc_info=True)

    async def _context_for(self, chat: Chat, user: User | None, line: str) -> CallContext:
        is_group = chat.type in (Chat.GROUP, Chat.SUPERGROUP)
        found = await rights(  # a getChatMember lookup only for admin commands in groups
            self._app.bot,
            chat,
            user,
            line,
            is_group=is_group,
            admin_ids=self._admin_ids,
            bot_username=self.bot_username,
            spec_of=self._commands.get,
            sleep=self._sleep,
            clock=self._clock,
        )
        return CallContext(
            platform="telegram",
            chat_id=str(chat.id),
            user_id=str(user.id) if user else "",
            is_group=is_group,
            is_admin=found.is_admin,
            user_name=(user.username or user.full_name) if user else "",
            rights_unknown=found.unknown,
        )

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.message, update.effective_chat
        if message is None or chat is None or not message.text:
            return
        ctx = await self._context_for(chat, message.from_user, message.text)
        reply = await self._commands.run(message.text, ctx, bot_username=self.bot_username)
        if reply is not None:
            await self._deliver(str(chat.id), reply)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        notice: str | None = None
        try:
            line = self._callbacks.decode(query.data or "")
            message = query.message if isinstance(query.message, Message) else None
            if line is None or message is None:
                notice = _EXPIRED_BUTTON
                return
            ctx = await self._context_for(message.chat, query.from_user, line)
            reply = await self._commands.run(line, ctx, bot_username=self.bot_username)
            if reply is None:
                return
            if reply.is_error:
                notice = self._render(reply, "console")[:200]
                return
            await self._deliver(str(message.chat.id), reply, edit=message)
        finally:
            try:
                await query.answer(notice, show_alert=notice is not None)
            except TelegramError:  # too old to answer, or the network hiccuped: harmless
                log.debug("answerCallbackQuery failed", exc_info=True)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        where = f"update {update.update_id}" if isinstance(update, Update) else "background"
        log.error("Telegram %s failed", where, exc_info=context.error)

    # -- outbound --------------------------------------------------------------------------

    async def _deliver(
        self, chat_id: str, reply: Reply, *, edit: Message | None = None, moved: bool = False
    ) -> None:
        """Send ``reply`` to ``chat_id`` (or edit ``edit`` in place with it), turning platform
        errors into callbacks and logs; a migrated chat gets the reply as a new message."""
        attempt = self._attempt(chat_id, alert=False)
        try:
            if edit is not None:
                await self._edit(edit, reply, attempt)
            else:
                await self._send_new(chat_id, reply, attempt=attempt)
        except ChatMigrated as err:
            new_id = str(err.new_chat_id)
            log.info("chat %s migrated to %s", chat_id, new_id)
            await self._notify(self._on_chat_migrated, chat_id, new_id)
            if not moved:
                await self._deliver(new_id, reply, moved=True)
        except Forbidden as err:
            log.warning("chat %s is gone (%s)", chat_id, err.message)
            await self._notify(self._on_chat_gone, chat_id)
        except BadRequest as err:  # before TelegramError/NetworkError: BadRequest is a subclass
            if edit is not None and "not modified" in err.message.lower():
                return  # the already-selected option pressed again
            log.error("Telegram rejected a reply to chat %s: %s", chat_id, err.message)
        except TelegramError as err:
            verdict = judge(err)
            if verdict is not None and verdict.verdict == "unconfirmed":
                log.warning("reply to chat %s sent but not confirmed: %s", chat_id, err)
            else:
                log.error("could not deliver a reply to chat %s: %s", chat_id, err)

    async def _notify(
        self, callback: Callable[..., Awaitable[None] | None] | None, *args: str
    ) -> None:
        if callback is None:
            return
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a subscriber's bug must not take the bot down
            log.exception("chat callback %r failed", callback)

    async def _send_new(
        self,
        chat_id: str,
        reply: Reply,
        *,
        reply_to: ReplyParameters | None = None,
        quiet: bool = False,
        attempt: Attempt,
    ) -> list[Message]:
        """Send ``reply`` as new messages (a reply to ``reply_to`` if given); the messages."""
        text = self._render(reply, "telegram")
        markup = keyboard(reply.buttons, self._callbacks)
        return await send_new(
            self._app.bot,
            chat_id,
            reply,
            text,
            markup,
            reply_to=reply_to,
            quiet=quiet,
            attempt=attempt,
        )

    async def _edit(self, message: Message, reply: Reply, attempt: Attempt) -> None:
        """Replace the pressed message's chart/text and keyboard with ``reply``."""
        text = self._render(reply, "telegram")
        markup = keyboard(reply.buttons, self._callbacks)
        await edit_in_place(self._app.bot, message, reply, text, markup, attempt=attempt)

    def _attempt(self, chat_id: str, *, alert: bool) -> RetryBudget:
        """One message's retry budget: the alert policy for pushes, the reply policy else."""
        kind = "alert" if alert else "reply"
        return RetryBudget(
            self._alert_policy if alert else self._reply_policy,
            judge,
            sleep=self._sleep,
            clock=self._clock,
            stats=self.delivery_stats,
            what=f"{kind} to Telegram chat {chat_id}",
            platform="telegram",
            chat_id=chat_id,
            kind=kind,
        )
