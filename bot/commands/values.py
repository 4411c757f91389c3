"""Parsers of single argument values: a token → one typed, validated value, or a clear refusal.

Ranges (``7d``; ``1d`` and ``1w`` aliases), exchanges (a configured id or ``all``), price
windows (``10%``), prices (``98k``, ``$98,000``) and symbols, each with the message that
says what is wrong; price bounds against the current price; and the ``is_*_token``
predicates with which :mod:`bot.commands.parsing` recognises a token's kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from bot.commands.spec import ArgumentError
from bot.market.exchanges import EXCHANGES
from bot.reply import RANGES, Range

__all__ = [
    "MAX_PRICE",
    "MAX_PRICE_FACTOR",
    "MAX_WINDOW",
    "MIN_PRICE_FACTOR",
    "MIN_WINDOW",
    "check_price_bounds",
    "is_price_token",
    "is_range_token",
    "is_window_token",
    "parse_exchange",
    "parse_price",
    "parse_range",
    "parse_symbol",
    "parse_window",
    "price_as_typed",
    "range_for_ms",
]

MIN_WINDOW: Final = 0.01
MAX_WINDOW: Final = 0.50
#: a price argument must lie within [current × MIN_PRICE_FACTOR, current × MAX_PRICE_FACTOR]
MIN_PRICE_FACTOR: Final = 0.2
MAX_PRICE_FACTOR: Final = 5.0
#: no perpetual trades above this: a larger number is a typo, refused without echoing it
MAX_PRICE: Final = 1e9


_RANGE_BY_TOKEN: Final[dict[str, Range]] = {
    **{r.label: r for r in RANGES},
    "1d": RANGES[1],
    "1w": RANGES[3],
}


def parse_range(token: str) -> Range:
    """``"7d"`` → ``Range("7d", 604800000)``; ``1d`` and ``1w`` are accepted aliases."""
    found = _RANGE_BY_TOKEN.get(token.strip().lower())
    if found is None:
        allowed = ", ".join(r.label for r in RANGES)
        raise ArgumentError(f"Unknown range '{token}'. Use one of: {allowed}.")
    return found


def range_for_ms(ms: int) -> Range:
    """The listed range of exactly ``ms`` (a configured default), else the nearest one."""
    return min(RANGES, key=lambda r: (abs(r.ms - ms), r.ms))


def parse_exchange(token: str, exchanges: Sequence[str]) -> str:
    """A configured exchange id (case-insensitive) or ``"all"``."""
    wanted = token.strip().lower()
    if wanted == "all" or wanted in exchanges:
        return wanted
    allowed = ", ".join([*exchanges, "all"])
    if wanted in EXCHANGES:
        configured = ", ".join(exchanges) or "none"
        raise ArgumentError(
            f"Exchange '{token}' is not configured here (this bot reads: {configured}). "
            f"Use one of: {allowed}; to add {wanted}, list it in [market] exchanges "
            'with source = "ccxt".'
        )
    raise ArgumentError(f"Unknown exchange '{token}'. Use one of: {allowed}.")


_PERCENT_RE: Final = re.compile(r"(\d+(?:\.\d+)?|\.\d+)%")
_PLAIN_NUMBER_RE: Final = re.compile(r"\d+(?:\.\d+)?|\.\d+")


def parse_window(token: str) -> float:
    """A ± price window as a fraction: ``10%`` → 0.1; ``0.1`` → 0.1; ``10`` → 0.1.

    A bare number below 1 is a fraction, from 1 up a percentage. Bounds: 1 %–50 %.
    """
    text = token.strip()
    if m := _PERCENT_RE.fullmatch(text):
        value = float(m.group(1)) / 100
    elif _PLAIN_NUMBER_RE.fullmatch(text):
        number = float(text)
        value = number if number < 1 else number / 100
    else:
        raise ArgumentError(f"Window '{token}' is not a percentage. Use e.g. 10% or 0.1.")
    if not MIN_WINDOW - 1e-12 <= value <= MAX_WINDOW + 1e-12:
        raise ArgumentError(
            f"Window '{token}' is out of bounds. Use {MIN_WINDOW:.0%} to {MAX_WINDOW:.0%}."
        )
    return value


_PRICE_RE: Final = re.compile(r"\$?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([km])?", re.IGNORECASE)
_SUFFIX: Final[dict[str, float]] = {"": 1.0, "k": 1e3, "m": 1e6}


def parse_price(token: str) -> float:
    """``98000``, ``98k``, ``98,000``, ``$98.5K``, ``1.2m`` → a positive float."""
    m = _PRICE_RE.fullmatch(token.strip())
    if m is None and _PRICE_RE.fullmatch(token.strip().removeprefix("-")):
        raise ArgumentError(f"Price '{token}' must be above zero.")
    if m is None:
        raise ArgumentError(f"Price '{token}' is not a number. Use e.g. 98000, 98k or $98.5K.")
    whole, fraction, suffix = m.group(1), m.group(2) or "", (m.group(3) or "").lower()
    value = float(whole.replace(",", "") + fraction) * _SUFFIX[suffix]
    if value <= 0:
        raise ArgumentError(f"Price '{token}' must be above zero.")
    if value > MAX_PRICE:
        raise ArgumentError(
            f"Price '{_clip_token(token)}' is far too large for a price. Use e.g. 105k or $98,500."
        )
    return value


def is_range_token(token: str) -> bool:
    """Whether ``token`` (lower case) is a listed range or an alias (``7d``, ``1w``)."""
    return token in _RANGE_BY_TOKEN


def is_window_token(token: str) -> bool:
    """Whether ``token`` is written as a window (``10%``, ``0.1``), in bounds or not."""
    return bool(_PERCENT_RE.fullmatch(token) or _PLAIN_NUMBER_RE.fullmatch(token))


def is_price_token(token: str) -> bool:
    """Whether ``token`` is written as a price (``98k``, ``$98,000``), in bounds or not."""
    return _PRICE_RE.fullmatch(token) is not None


def _clip_token(token: str, limit: int = 16) -> str:
    text = token.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def price_as_typed(price: float) -> str:
    """A price echoed back plainly: ``$1``, ``$98,500``, ``$0.5`` (no padding zeros)."""
    return f"${price:,.10g}"


def check_price_bounds(
    price: float,
    current: float,
    *,
    shown: str,
    current_shown: str,
    fmt: Callable[[float], str] | None = None,
) -> None:
    """Refuse a price outside ×0.2–×5 of ``current`` (a typo like ``98`` for ``98k``);
    the message gives the range of prices that works (in ``fmt``, if given)."""
    low, high = current * MIN_PRICE_FACTOR, current * MAX_PRICE_FACTOR
    if not low <= price <= high:
        between = (
            f"between {fmt(low)} and {fmt(high)}"
            if fmt is not None
            else f"between ×{MIN_PRICE_FACTOR:g} and ×{MAX_PRICE_FACTOR:g} of it"
        )
        raise ArgumentError(
            f"Price {shown} is too far from the current price {current_shown}: "
            f"use a price {between}."
        )


_SYMBOL_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9/:._-]{0,39}")
#: a number with at most one unit letter (``98k``, ``5x``, ``7d``) is never a symbol
_NUMBERISH_RE: Final = re.compile(r"\$?[\d.,]+[A-Za-z]?%?")


def parse_symbol(token: str) -> str:
    """A market name as typed (``BTC``, ``ethusdt``, ``BTC/USDT:USDT``); resolution to a
    unified symbol is done against the sources by the handler."""
    text = token.strip()
    if (
        not _SYMBOL_RE.fullmatch(text)
        or _NUMBERISH_RE.fullmatch(text)
        or not any(c.isalpha() for c in text)
    ):
        raise ArgumentError(f"'{token}' is not a symbol. Use a name like BTC or ETHUSDT.")
    return text
