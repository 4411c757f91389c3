"""Shared argument parsing for every command: tokens → typed, validated values.

Parsing is positional, with one convenience: a token whose *kind* is unmistakable is
assigned to the parameter of that kind wherever it appears. ``/heatmap 7d BTC bybit`` and
``/heatmap BTC bybit 7d`` both mean symbol BTC, range 7d, exchange bybit. The rules:

1. Each token goes to the first still-empty parameter whose kind *recognises* it (a
   configured exchange id or ``all``; a listed range such as ``7d``; ``10%`` for a window;
   ``98k`` / ``$98,000`` for a price). ``symbol`` recognises any other name-like token,
   and is tried last.
2. A token nothing recognises goes to the first empty parameter it *looks like* (``5x``
   looks like a range), else to the first empty parameter — whose parser then explains
   what is wrong ("Unknown range '5x'. Use one of: 12h, 24h, 3d, 7d, 30d.").
3. A ``text`` parameter (always last) takes the rest of the line.
4. Tokens left over after every parameter is filled are "too many arguments".

Each value is parsed by its kind's parser (:mod:`bot.commands.values`: ``parse_range``,
``parse_price``, …; re-exported here). Structured input (Discord's slash options) skips all that: :func:`parse_options` parses
each option on its own, with its parameter's parser, and an error names the option
("Option 'window': Window 'ten' is not a percentage…").

A command may be addressed to a bot (``/heatmap@liqwatch_bot BTC``): the suffix is
stripped when it names this bot, and the line is ignored when it names another one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot.commands.spec import ArgumentError, CommandSpec, Param, ParamKind
from bot.commands.values import (
    MAX_PRICE,
    MAX_PRICE_FACTOR,
    MAX_WINDOW,
    MIN_PRICE_FACTOR,
    MIN_WINDOW,
    check_price_bounds,
    is_price_token,
    is_range_token,
    is_window_token,
    parse_exchange,
    parse_price,
    parse_range,
    parse_symbol,
    parse_window,
    price_as_typed,
    range_for_ms,
)

# the single-value parsers live in bot.commands.values; re-exported for the callers of
# parse_args (the tests of the command line import them from here)
__all__ = [
    "MAX_PRICE",
    "MAX_PRICE_FACTOR",
    "MAX_WINDOW",
    "MIN_PRICE_FACTOR",
    "MIN_WINDOW",
    "CommandLine",
    "check_price_bounds",
    "parse_args",
    "parse_exchange",
    "parse_options",
    "parse_price",
    "parse_range",
    "parse_symbol",
    "parse_window",
    "price_as_typed",
    "range_for_ms",
    "split_command",
]


@dataclass(frozen=True)
class CommandLine:
    """A chat line split into a command name and its argument tokens."""

    name: str
    tokens: tuple[str, ...]
    #: the bot the command was addressed to (``/cmd@bot``), or ``""``
    addressed_to: str = ""


def split_command(line: str, *, bot_username: str | None = None) -> CommandLine | None:
    """``"/heatmap@bot BTC 7d"`` → ``CommandLine("heatmap", ("BTC", "7d"), "bot")``.

    ``None`` when the line is not a command, or is addressed to a bot other than
    ``bot_username`` (compared case-insensitively, a leading ``@`` ignored).
    """
    parts = line.strip().split()
    if not parts or not parts[0].startswith("/") or len(parts[0]) < 2:
        return None
    head, _, target = parts[0][1:].partition("@")
    if target and bot_username and target.lower() != bot_username.lstrip("@").lower():
        return None
    if not head:
        return None
    return CommandLine(head.lower(), tuple(parts[1:]), target)


# --- recognising tokens --------------------------------------------------------------


def _recognises(param: Param, token: str, exchanges: Sequence[str]) -> bool:
    """Strong match: ``token`` is a valid value of ``param``."""
    lowered = token.lower()
    kind = param.kind
    if kind == "choice" or (kind == "symbol" and lowered in param.choices):
        return lowered in param.choices
    if kind == "exchange":
        return lowered == "all" or lowered in exchanges
    if kind == "range":
        return is_range_token(lowered)
    if kind == "window":
        return is_window_token(token)
    if kind == "price":
        return is_price_token(token)
    if kind == "symbol":
        try:
            parse_symbol(token)
        except ArgumentError:
            return False
        return lowered != "all" and lowered not in exchanges and not is_range_token(lowered)
    return False


_LOOKS_LIKE: Final[dict[ParamKind, re.Pattern[str]]] = {
    "range": re.compile(r"\d+[A-Za-z]+"),
    "window": re.compile(r".*%|[\d.]+|[+-]?(nan|inf|infinity)", re.IGNORECASE),
    "price": re.compile(r"[$\d].*"),
    "exchange": re.compile(r"[A-Za-z][A-Za-z0-9_-]*"),
    "choice": re.compile(r"[A-Za-z][A-Za-z_-]*"),
}


def _looks_like(kind: ParamKind, token: str) -> bool:
    """Weak match: ``token`` seems meant as ``kind`` (decides which error to show)."""
    pattern = _LOOKS_LIKE.get(kind)
    return pattern is not None and pattern.fullmatch(token) is not None


def _parse_choice(param: Param, token: str) -> str:
    word = token.strip().lower()
    if word in param.choices:
        return word
    close = difflib.get_close_matches(word, param.choices, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise ArgumentError(
        f"Unknown {param.name} '{token}'.{hint} Use one of: {', '.join(param.choices)}."
    )


def _parse_one(param: Param, token: str, exchanges: Sequence[str]) -> Any:
    if param.kind == "choice":
        return _parse_choice(param, token)
    if param.kind == "symbol":
        if token.strip().lower() in param.choices:
            return token.strip().lower()
        return parse_symbol(token)
    if param.kind == "range":
        return parse_range(token)
    if param.kind == "exchange":
        return parse_exchange(token, exchanges)
    if param.kind == "window":
        return parse_window(token)
    if param.kind == "price":
        return parse_price(token)
    if param.choices and token.lower() not in param.choices:
        raise ArgumentError(
            f"Unknown {param.name} '{token}'. Use one of: {', '.join(param.choices)}."
        )
    return token


def _required_help(param: Param) -> str:
    """A parameter's help without its "(default …)" — a required value has no default."""
    return re.sub(r"\s*\(default [^)]*\)", "", param.help).strip()


def _missing(params: Sequence[Param]) -> ArgumentError:
    """``Missing <symbol> and <price>: market, e.g. BTC; the price to push to, e.g. 105k.``"""
    usages = " and ".join(p.usage for p in params)
    hints = "; ".join(
        f"{p.usage} is {h}" if len(params) > 1 else h for p in params if (h := _required_help(p))
    )
    return ArgumentError(f"Missing {usages}" + (f": {hints}." if hints else "."))


def parse_args(
    spec: CommandSpec, tokens: Sequence[str], *, exchanges: Sequence[str] = ()
) -> dict[str, Any]:
    """Parse ``tokens`` against ``spec.params`` (see the module docstring for the rules).

    Returns every parameter by name: the given value, else the default (a string default
    is parsed like user input), else ``None``. Raises :class:`ArgumentError`.
    """
    exchanges = tuple(e.lower() for e in exchanges)
    values: dict[str, Any] = {}
    given: dict[str, str] = {}
    unfilled = list(spec.params)
    for i, token in enumerate(tokens):
        strong = [p for p in unfilled if p.kind != "text" and _recognises(p, token, exchanges)]
        # a symbol is tried last, unless the token is one of its literal words ("all")
        strong.sort(
            key=lambda p: (
                p.kind == "symbol" and token.lower() not in p.choices,
                spec.params.index(p),
            )
        )
        text_params = [p for p in unfilled if p.kind == "text"]
        # a word after the first argument, where a choice is still open, is that choice
        # mistyped ("/settings imbalance loud": the mode), not free text for a later one
        word_for = [
            p for p in unfilled if given and p.kind == "choice" and _looks_like(p.kind, token)
        ]
        if strong:
            param = strong[0]
        elif text_params and word_for:
            param = word_for[0]
        elif text_params:
            values[text_params[0].name] = " ".join(tokens[i:])
            unfilled.remove(text_params[0])
            break
        elif unfilled:
            weak = [p for p in unfilled if _looks_like(p.kind, token)]
            required = [p for p in unfilled if p.required]
            if required and not any(p.required for p in weak):
                # a token nobody recognises is most likely the required value, mistyped:
                # "/cascade BTC lots" → "Price 'lots' is not a number"
                param = required[0]
            else:
                param = weak[0] if weak else unfilled[0]
            twice = [
                p
                for p in spec.params
                if p.name in given and p.kind != "symbol" and _recognises(p, token, exchanges)
            ]
            if twice and not weak:
                first = given[twice[0].name]
                name = twice[0].name.capitalize()
                raise ArgumentError(f"{name} given twice ('{first}' and '{token}').")
        else:
            raise ArgumentError(f"Too many arguments: '{token}' is one too many.")
        values[param.name] = _parse_one(param, token, exchanges)
        given[param.name] = token
        unfilled.remove(param)
    missing = [p for p in unfilled if p.required]
    if missing:
        raise _missing(missing)
    for param in unfilled:
        values[param.name] = _default(param, exchanges)
    return values


def _default(param: Param, exchanges: Sequence[str]) -> Any:
    default = param.default
    if isinstance(default, str) and param.kind not in ("symbol", "text"):
        default = _parse_one(param, default, exchanges)
    return default


def parse_options(
    spec: CommandSpec, options: Mapping[str, str | None], *, exchanges: Sequence[str] = ()
) -> dict[str, Any]:
    """Parse named ``options`` (slash-command options): each on its own, by its own
    parameter's parser, an error naming the option. Omitted or blank options take their
    default; the result is like :func:`parse_args`'s. Raises :class:`ArgumentError`."""
    exchanges = tuple(e.lower() for e in exchanges)
    names = {p.name for p in spec.params}
    unknown = [name for name in options if name not in names]
    if unknown:
        raise ArgumentError(f"Unknown option '{unknown[0]}'.")
    values: dict[str, Any] = {}
    for param in spec.params:
        raw = options.get(param.name)
        if raw is None or not str(raw).strip():
            if param.required:
                hint = f": {h}" if (h := _required_help(param)) else ""
                raise ArgumentError(f"Missing option '{param.name}'{hint}.")
            values[param.name] = _default(param, exchanges)
            continue
        try:
            values[param.name] = _parse_one(param, str(raw).strip(), exchanges)
        except ArgumentError as exc:
            raise ArgumentError(f"Option '{param.name}': {exc}") from None
    return values
