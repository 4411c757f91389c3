"""Discord slash commands generated from the command specs (never written per command).

Each :class:`~bot.commands.spec.CommandSpec` becomes an ``app_commands.Command`` whose
options mirror the spec's parameters, typed by kind:

* ``symbol`` — a string with autocomplete from the tracked markets;
* ``range`` — choices ``12h`` … ``30d``; ``exchange`` — the configured exchanges + ``all``;
* ``window``, ``price``, ``text`` — strings (``10%``, ``98k``: the command layer parses them),
  a ``text`` parameter with ``choices`` becomes a choice list.

The callback only rebuilds the command line (``/heatmap BTC 7d all``) from the options and
hands it to ``run``; the command layer does the parsing, validation and work.
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
    "LineRunner",
    "ParamLike",
    "SpecLike",
    "SymbolLister",
    "app_command",
    "command_line",
    "suggest_symbols",
]

DESCRIPTION_MAX = 100
CHOICES_LIMIT = 25

#: runs a rebuilt command line for an interaction
LineRunner = Callable[[discord.Interaction, "SpecLike", str], Awaitable[None]]
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
    def params(self) -> Sequence[ParamLike]: ...


def _clip(text: str, limit: int = DESCRIPTION_MAX) -> str:
    text = " ".join(text.split()) or "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def command_line(name: str, params: Sequence[ParamLike], values: dict[str, Any]) -> str:
    """``/name`` followed by the given option values in the spec's order (omitted skipped)."""
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
    if param.kind == "range":
        labels: Sequence[str] = [r.label for r in RANGES]
    elif param.kind == "exchange":
        labels = [*exchanges, "all"]
    else:
        labels = param.choices
    return [app_commands.Choice(name=label, value=label) for label in labels[:CHOICES_LIMIT]]


def app_command(
    spec: SpecLike,
    run: LineRunner,
    *,
    exchanges: Sequence[str] = (),
    symbols: SymbolLister | None = None,
) -> app_commands.Command[Any, ..., None]:
    """The slash command for ``spec``; its callback runs ``/name options…`` through ``run``."""
    params = list(spec.params)

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await run(interaction, spec, command_line(spec.name, params, values))

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

        async def complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            found = suggest_symbols(await symbols(), current)
            return [app_commands.Choice(name=s, value=s) for s in found]

        complete_names = {p.name: complete for p in params if p.kind == "symbol"}
        if complete_names:
            app_commands.autocomplete(**complete_names)(callback)
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=spec.name,
        description=_clip(spec.summary),
        callback=callback,
    )
    if spec.admin:
        command.default_permissions = discord.Permissions(manage_guild=True)
    return command
