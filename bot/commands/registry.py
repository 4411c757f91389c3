"""The command registry: one entry point that turns a chat line into a :class:`Reply`.

``await commands.run("/heatmap BTC 7d", ctx)`` parses the line against the command's spec,
checks admin rights, calls the handler and *never raises*: every failure becomes a reply —

* a refusal (rights: "only admins …", or rights that could not be checked) → the message
  alone, without a usage line: it was no typing mistake;
* bad arguments → the message plus the command's usage and an example (an argument over
  :data:`MAX_TOKEN_CHARS` characters is refused before parsing, and messages are clipped to
  :data:`MAX_ERROR_MESSAGE`, so a reply never echoes kilobytes of input);
* an unknown symbol → "did you mean …" plus usage;
* market trouble (exchange down, no data) → a plain message;
* anything unexpected → logged at ERROR with the traceback, and a short apology.

With a :class:`~bot.commands.throttle.Throttle` (``Commands(specs, throttle=Throttle())``)
each user's commands are rate-limited before their arguments are parsed: a flooder gets one
"slow down" reply per notice period and silence (``None``) otherwise. Lines that are not
for this bot (chatter, another bot's command) never count against anyone.

With ``notices`` (:data:`NoticeSource`), a notice owed to the chat — its alerts were removed
while the bot could not reach it (:mod:`bot.commands.comeback`) — is put in front of the next
reply there (``Reply.notice``), once.

Adapters call :meth:`Commands.run` for typed commands and for button presses alike,
:meth:`Commands.run_options` for structured input (Discord's slash options, each parsed on
its own into its parameter: :func:`~bot.commands.parsing.parse_options`), and
:meth:`Commands.menu` to publish the command list (Telegram ``set_my_commands``, Discord's
command tree).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.commands.parsing import parse_args, parse_options, split_command
from bot.commands.spec import RIGHTS_UNCHECKED, ArgumentError, Call, CommandSpec, Refusal
from bot.commands.throttle import Throttle
from bot.market.errors import MarketError, TemporaryMarketError, UnknownSymbol
from bot.reply import CallContext, Reply

__all__ = [
    "ADMIN_ONLY",
    "APOLOGY",
    "MANAGE_SERVER_ONLY",
    "MAX_ERROR_MESSAGE",
    "MAX_TOKEN_CHARS",
    "Commands",
    "NoticeSource",
    "error_reply",
]

log = logging.getLogger(__name__)

APOLOGY = "Sorry — something went wrong while building that. It has been logged."
ADMIN_ONLY = "This command is for admins of this chat."
#: the same on Discord, where the right is the Manage Server permission
MANAGE_SERVER_ONLY = "This command is for members with Manage Server."
_MAX_MARKET_MESSAGE = 200
#: no argument of any kind is longer (symbols ≤ 40, rules, prices, thresholds: a few);
#: refusing longer ones up front keeps error replies from echoing kilobytes of input
MAX_TOKEN_CHARS = 64
#: an error message is clipped to this many characters (HTML escaping may multiply it by 6)
MAX_ERROR_MESSAGE = 500


#: the one-time notice owed to a chat, if any (taken: a second call returns None)
NoticeSource = Callable[[CallContext], Awaitable[Reply | None]]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_reply(message: str, spec: CommandSpec | None = None) -> Reply:
    """An error reply (template ``error``) with the command's usage and example when given."""
    context = {
        "message": _clip(message, MAX_ERROR_MESSAGE),
        "usage": spec.usage if spec else "",
        "example": f"/{spec.examples[0]}" if spec and spec.examples else "",
    }
    return Reply("error", context, is_error=True)


def _unknown_symbol_message(exc: UnknownSymbol, tracked: Sequence[str] = ()) -> str:
    """``Unknown symbol 'XRP'. Tracked here: BTC, ETH. To add one, …`` (with a hint)."""
    hint = f" Did you mean {', '.join(exc.suggestions)}?" if exc.suggestions else ""
    if not tracked:
        return f"Unknown symbol '{exc.query}'.{hint}"
    return (
        f"Unknown symbol '{exc.query}'.{hint} Tracked here: {', '.join(tracked)}. "
        "To add one, list it in [market] symbols of the config."
    )


def _market_message(exc: MarketError) -> str:
    detail = str(exc).strip()
    if len(detail) > _MAX_MARKET_MESSAGE:
        detail = detail[: _MAX_MARKET_MESSAGE - 1] + "…"
    if isinstance(exc, TemporaryMarketError):
        return f"Market data is unavailable right now ({detail}). Please try again in a minute."
    return detail or "Market data is unavailable for that request."


class Commands:
    """Every command of the bot, by name; runs chat lines (see the module docstring)."""

    def __init__(
        self,
        specs: Iterable[CommandSpec],
        *,
        exchanges: Sequence[str] = (),
        throttle: Throttle | None = None,
        notices: NoticeSource | None = None,
        tracked: Sequence[str] = (),
    ) -> None:
        self.specs: tuple[CommandSpec, ...] = tuple(specs)
        self.exchanges = tuple(exchanges)
        #: per-user flood limit; ``None`` runs every command (tests, the console)
        self.throttle = throttle
        #: a notice owed to the chat goes before the next reply there (shown once)
        self.notices = notices
        #: the configured symbols, listed when a command names an unknown one
        self.tracked = tuple(tracked)
        self._by_name: dict[str, CommandSpec] = {}
        for spec in self.specs:
            if spec.name in self._by_name:
                raise ValueError(f"command /{spec.name} is registered twice")
            if spec.handler is None:
                raise ValueError(f"command /{spec.name} has no handler")
            self._by_name[spec.name] = spec

    def get(self, name: str) -> CommandSpec | None:
        """The spec of ``/name`` (without the slash), or ``None``."""
        return self._by_name.get(name.lstrip("/").lower())

    def menu(self, *, include_admin: bool = False) -> list[tuple[str, str]]:
        """(name, summary) of each public command, for the platforms' command menus."""
        return [(s.name, s.summary) for s in self.specs if include_admin or not s.admin]

    async def run(
        self, line: str, ctx: CallContext, *, bot_username: str | None = None
    ) -> Reply | None:
        """The reply to ``line``; ``None`` when the line is not for this bot, or is a flood
        line the throttle drops silently."""
        parsed = split_command(line, bot_username=bot_username)
        if parsed is None:
            return None
        spec = self._by_name.get(parsed.name)
        if spec is None and ctx.is_group and not parsed.addressed_to:
            return None  # maybe another bot's command in a shared group
        tokens = parsed.tokens

        def parse(found: CommandSpec) -> dict[str, Any]:
            return parse_args(found, tokens, exchanges=self.exchanges)

        return await self._execute(parsed.name, spec, ctx, tokens, parse, line.strip())

    async def run_options(
        self, name: str, options: Mapping[str, str | None], ctx: CallContext
    ) -> Reply | None:
        """The reply to ``/name`` with named ``options`` (Discord slash options), each parsed
        on its own (an error names the option); ``None`` as :meth:`run` (the throttle)."""
        spec = self.get(name)
        given = {k: str(v).strip() for k, v in options.items() if v is not None and str(v).strip()}
        order = [p.name for p in spec.params] if spec is not None else list(given)
        line = " ".join([f"/{name}", *(given[n] for n in order if n in given)])
        tokens = tuple(word for value in given.values() for word in value.split())

        def parse(found: CommandSpec) -> dict[str, Any]:
            return parse_options(found, given, exchanges=self.exchanges)

        return await self._execute(name, spec, ctx, tokens, parse, line)

    async def _execute(
        self,
        name: str,
        spec: CommandSpec | None,
        ctx: CallContext,
        tokens: Sequence[str],
        parse: Callable[[CommandSpec], dict[str, Any]],
        line: str,
    ) -> Reply | None:
        """The reply (see :meth:`_answer`) with the chat's pending notice, if any, in front."""
        reply = await self._answer(name, spec, ctx, tokens, parse, line)
        if reply is None or self.notices is None:
            return reply
        try:
            notice = await self.notices(ctx)
        except Exception:  # a notice must never cost the user the reply
            log.exception("chat notice for %s %s failed", ctx.platform, ctx.chat_id)
            return reply
        return reply if notice is None else dataclasses.replace(reply, notice=notice)

    async def _answer(
        self,
        name: str,
        spec: CommandSpec | None,
        ctx: CallContext,
        tokens: Sequence[str],
        parse: Callable[[CommandSpec], dict[str, Any]],
        line: str,
    ) -> Reply | None:
        """Throttle, rights, argument size, parsing and the handler: every failure a reply."""
        if self.throttle is not None:
            verdict = self.throttle.check(ctx.platform, ctx.user_id, is_admin=ctx.is_admin)
            if not verdict.allowed:
                return error_reply(verdict.message) if verdict.notify else None
        if spec is None:
            return error_reply(f"Unknown command /{name}. Try /help.")
        if spec.admin and not ctx.is_admin:
            if ctx.rights_unknown:
                return error_reply(RIGHTS_UNCHECKED)
            return error_reply(MANAGE_SERVER_ONLY if ctx.platform == "discord" else ADMIN_ONLY)
        too_long = next((t for t in tokens if len(t) > MAX_TOKEN_CHARS), None)
        if too_long is not None:
            shown = _clip(too_long, 16)
            return error_reply(
                f"Argument '{shown}' is too long ({len(too_long):,} characters).", spec
            )
        try:
            args = parse(spec)
            call = Call(ctx, args, spec, self.specs, line)
            assert spec.handler is not None
            return await spec.handler(call)
        except Refusal as exc:  # a question of rights: no usage line, it was no typing mistake
            return error_reply(str(exc))
        except ArgumentError as exc:
            return error_reply(str(exc), spec)
        except UnknownSymbol as exc:
            return error_reply(_unknown_symbol_message(exc, self.tracked), spec)
        except MarketError as exc:
            log.warning("/%s: market error: %s", spec.name, exc)
            return error_reply(_market_message(exc))
        except Exception:
            log.exception(
                "/%s failed (chat %s, user %s, line %r)", spec.name, ctx.chat_id, ctx.user_id, line
            )
            return error_reply(APOLOGY)
