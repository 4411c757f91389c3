"""Command specifications as data: a command's name, one-line summary, parameters, examples.

The spec is the single source for parsing (:mod:`bot.commands.parsing`), the help text
(``/help``), usage lines in error replies, and the platform menus (Telegram's
``set_my_commands``, Discord's command tree). Handlers receive a :class:`Call` with the
already parsed and validated arguments and return a :class:`~bot.reply.Reply`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.reply import CallContext, Reply

__all__ = [
    "RIGHTS_UNCHECKED",
    "ArgumentError",
    "Call",
    "CommandSpec",
    "Handler",
    "Param",
    "ParamKind",
    "Refusal",
]

#: What a parameter holds; each kind has its own recogniser and parser in ``parsing``.
#:
#: * ``symbol`` — a market (``BTC``, ``ethusdt``); resolved against the sources by the handler
#: * ``range`` — a look-back window (``12h``, ``24h``, ``3d``, ``7d``, ``30d``)
#: * ``exchange`` — a configured exchange id, or ``all`` (aggregate every one)
#: * ``window`` — a ± price window as percent (``10%``, ``10``) or fraction (``0.1``)
#: * ``price`` — a positive price (``98000``, ``98k``, ``98,000``, ``$98.5K``)
#: * ``choice`` — one word of the parameter's ``choices`` (a rule name, a mode)
#: * ``text`` — free text (the rest of the line)
ParamKind = Literal["symbol", "range", "exchange", "window", "price", "choice", "text"]


class ArgumentError(ValueError):
    """The user's arguments cannot be used; ``str(error)`` is the message shown to them."""


class Refusal(ArgumentError):
    """The caller may not do this here (a question of rights, not a typing mistake): the
    message is shown without the command's usage line."""


#: the refusal when the platform could not tell whether the caller is an admin
#: (``CallContext.rights_unknown``: Telegram's getChatMember failed)
RIGHTS_UNCHECKED = (
    "Your admin rights in this chat could not be checked just now (Telegram did not answer). "
    "Please try again in a moment."
)


@dataclass(frozen=True)
class Param:
    """One positional parameter of a command.

    ``default`` is used when an optional parameter is not given (already in parsed form,
    or a raw token parsed like user input when it is a string). ``choices`` is the closed
    set of a ``choice`` parameter, restricts a ``text`` one, and adds literal words a
    ``symbol`` one also accepts (``all``); ``help`` is the short description shown in ``/help``.
    """

    name: str
    kind: ParamKind
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""

    @property
    def usage(self) -> str:
        """``<symbol>`` when required, ``[range]`` when optional."""
        return f"<{self.name}>" if self.required else f"[{self.name}]"


@dataclass(frozen=True)
class Call:
    """One invocation handed to a handler: who called, with which parsed arguments."""

    ctx: CallContext
    args: Mapping[str, Any]
    spec: CommandSpec
    #: every registered command (``/help`` lists them)
    specs: tuple[CommandSpec, ...] = ()
    #: the raw line as typed, ``/cmd@bot`` suffix removed
    line: str = ""


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class CommandSpec:
    """A command: ``/name`` with positional ``params`` and its ``handler``.

    ``summary`` is one line (Telegram menus limit descriptions to 256 characters, Discord
    to 100); ``examples`` are complete command lines without the slash.
    """

    name: str
    summary: str
    params: tuple[Param, ...] = ()
    examples: tuple[str, ...] = ()
    admin: bool = False
    #: in group chats only administrators may run it (private chats: the chat's owner may);
    #: adapters look up group-admin rights for these as for ``admin`` commands
    group_admin: bool = False
    handler: Handler | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.lower() != self.name:
            raise ValueError(f"command name {self.name!r}: use lowercase letters, digits, _")
        if "\n" in self.summary or not self.summary:
            raise ValueError(f"/{self.name}: summary must be one non-empty line")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"/{self.name}: parameter names must be unique")
        if any(p.kind == "choice" and not p.choices for p in self.params):
            raise ValueError(f"/{self.name}: a choice parameter needs its choices")
        texts = [p for p in self.params if p.kind == "text"]
        if texts and texts[-1] is not self.params[-1]:
            raise ValueError(f"/{self.name}: a text parameter must come last")

    @property
    def usage(self) -> str:
        """``/heatmap [symbol] [range] [exchange]``."""
        return " ".join([f"/{self.name}", *(p.usage for p in self.params)])
