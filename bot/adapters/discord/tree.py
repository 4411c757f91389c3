"""Discord slash commands generated from the command specs (never written per command).

Each :class:`~bot.commands.spec.CommandSpec` becomes an ``app_commands.Command`` whose
options mirror the spec's parameters, typed by kind:

* ``symbol`` — a string with autocomplete from the tracked markets (and the parameter's
  literal words, such as ``all``);
* ``range`` — choices ``12h`` … ``30d``; ``exchange`` — the configured exchanges + ``all``;
* ``choice`` — its choices (a rule, a mode);
* ``window``, ``price``, ``text`` — strings (``10%``, ``98k``: the command layer parses them),
  a ``text`` parameter with ``choices`` becomes a choice list.

Commands only some may use (``admin``, and ``group_admin`` ones such as ``/subscribe``) carry
``default_member_permissions`` = Manage Server, so members without it do not see them (a
server can change that in its integration settings; the command layer checks again).

The callback hands the options, by name, to ``run``; the command layer parses each one on its
own (``Commands.run_options``), so an error names the option that is wrong.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from bot.adapters.discord.lib import app_commands, discord
from bot.reply import RANGES

__all__ = [
    "CHOICES_LIMIT",
    "DESCRIPTION_MAX",
    "OptionsRunner",
    "ParamLike",
    "SpecLike",
    "SymbolLister",
    "app_command",
    "command_line",
    "suggest_symbols",
]

DESCRIPTION_MAX = 100
CHOICES_LIMIT = 25

#: runs a command with its options (by name; ``None`` when omitted) for an interaction
OptionsRunner = Callable[[discord.Interaction, "SpecLike", dict[str, str | None]], Awaitable[None]]
#: the tracked markets' symbols (``BTC/USDT:USDT``), for autocomplete
SymbolLister = Callable[[], Awaitable[Iterable[str]]]


class ParamLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def choices(self) -> tuple[str, ...]: ...
    @property
    def help(self) -> str: ...


class SpecLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def admin(self) -> bool: ...
    @property
    def group_admin(self) -> bool: ...
    @property
    def params(self) -> Sequence[ParamLike]: ...


def _clip(text: str, limit: int = DESCRIPTION_MAX) -> str:
    text = " ".join(text.split()) or "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def command_line(name: str, params: Sequence[ParamLike], values: dict[str, Any]) -> str:
    """``/name`` followed by the given option values in the spec's order (omitted skipped):
    how a slash command reads as a typed line (logs, buttons)."""
    tokens = [f"/{name}"]
    for param in params:
        value = values.get(param.name)
        if value is None or str(value).strip() == "":
            continue
        tokens.append(str(value).strip())
    return " ".join(tokens)


def suggest_symbols(symbols: Iterable[str], typed: str, limit: int = CHOICES_LIMIT) -> list[str]:
    """Base names (``BTC``) of the tracked markets matching ``typed``: prefix matches first."""
    bases = sorted({s.split("/")[0].split(":")[0].upper() for s in symbols})
    needle = typed.strip().upper().replace("/", "").removesuffix("USDT") if typed else ""
    prefix = [b for b in bases if b.startswith(needle)]
    inner = [b for b in bases if needle in b and b not in prefix]
    return (prefix + inner)[:limit]


def _choices(param: ParamLike, exchanges: Sequence[str]) -> list[app_commands.Choice[str]]:
    if param.kind == "symbol":
        return []  # autocomplete instead (Discord allows one or the other)
    if param.kind == "range":
        labels: Sequence[str] = [r.label for r in RANGES]
    elif param.kind == "exchange":
        labels = [*exchanges, "all"]
    else:
        labels = param.choices
    return [app_commands.Choice(name=label, value=label) for label in labels[:CHOICES_LIMIT]]


def app_command(
    spec: SpecLike,
    run: OptionsRunner,
    *,
    exchanges: Sequence[str] = (),
    symbols: SymbolLister | None = None,
) -> app_commands.Command[Any, ..., None]:
    """The slash command for ``spec``; its callback hands the options to ``run``."""
    params = list(spec.params)

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        options = {
            p.name: None if values.get(p.name) is None else str(values[p.name]) for p in params
        }
        await run(interaction, spec, options)

    signature = [
        inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *(
            inspect.Parameter(
                p.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str,
                **({} if p.required else {"default": None}),
            )
            for p in sorted(params, key=lambda p: not p.required)  # required options first
        ),
    ]
    callback.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    callback.__name__ = callback.__qualname__ = f"{spec.name}_command"
    descriptions = {p.name: _clip(p.help or p.kind) for p in params}
    app_commands.describe(**descriptions)(callback)
    choices = {p.name: _choices(p, exchanges) for p in params}
    choices = {name: options for name, options in choices.items() if options}
    if choices:
        app_commands.choices(**choices)(callback)
    if symbols is not None:

        def completer(param: ParamLike) -> Any:
            async def complete(
                interaction: discord.Interaction, current: str
            ) -> list[app_commands.Choice[str]]:
                typed = current.strip().lower()
                words = [w for w in param.choices if w.startswith(typed)]
                found = [*words, *suggest_symbols(await symbols(), current)][:CHOICES_LIMIT]
                return [app_commands.Choice(name=s, value=s) for s in found]

            return complete

        complete_names = {p.name: completer(p) for p in params if p.kind == "symbol"}
        if complete_names:
            app_commands.autocomplete(**complete_names)(callback)
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=spec.name,
        description=_clip(spec.summary),
        callback=callback,
    )
    if spec.admin or spec.group_admin:
        command.default_permissions = discord.Permissions(manage_guild=True)
    return command
