"""Building blocks of :mod:`bot.config.settings`: secret strings, durations, field checks, and the
translation of pydantic's errors into ``dotted.key: what is wrong, what is allowed`` lines.
"""

from __future__ import annotations

import difflib
import hmac
import re
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainValidator,
    ValidationError,
)
from pydantic_core import ErrorDetails, core_schema

from core.models import TIMEFRAME_MS

__all__ = [
    "EXCHANGE_IDS",
    "AsTuple",
    "DurationRange",
    "ExchangeId",
    "FieldProblems",
    "Fraction",
    "HttpUrl",
    "Loc",
    "Secret",
    "Section",
    "Symbol",
    "TimeOfDay",
    "Timeframe",
    "Unique",
    "WsUrl",
    "describe_errors",
    "did_you_mean",
    "format_duration",
    "parse_duration",
    "parse_time_of_day",
    "show",
]

ExchangeId = Literal["binanceusdm", "bybit", "okx"]
EXCHANGE_IDS: Final[tuple[str, ...]] = get_args(ExchangeId)


class Section(BaseModel):
    """A settings table: frozen, unknown keys are errors, no silent type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Secret:
    """A secret string (token, webhook URL) that never shows its value: str/repr give ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself — hand it to the client library, never to a log or a message."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def coerce(value: object) -> Secret:
            if isinstance(value, Secret):
                return value
            if isinstance(value, str):
                return cls(value)
            raise ValueError(f"expected a string, got {show(value)}")

        return core_schema.no_info_plain_validator_function(
            coerce, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


# --- durations -------------------------------------------------------------------------------

_UNIT_MS: Final[dict[str, int]] = {
    "w": 604_800_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1_000,
}
_DURATION_RE: Final = re.compile(r"(?:\d+[smhdw])+")
_DURATION_PART_RE: Final = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> int:
    """``"90s"``, ``"5m"``, ``"12h"``, ``"7d"``, ``"2w"``, ``"1h30m"`` → milliseconds."""
    cleaned = text.strip().lower() if isinstance(text, str) else ""
    if not _DURATION_RE.fullmatch(cleaned):
        raise ValueError(
            f"{text!r} is not a duration, use a whole number with a unit s, m, h, d or w "
            "(e.g. 90s, 5m, 12h, 7d)"
        )
    return sum(int(n) * _UNIT_MS[unit] for n, unit in _DURATION_PART_RE.findall(cleaned))


def format_duration(ms: int) -> str:
    """Whole seconds in milliseconds → the shortest text :func:`parse_duration` reads back."""
    parts: list[str] = []
    rest = ms
    for unit, size in _UNIT_MS.items():
        if unit == "w":
            continue  # "400d" reads better than "57w1d"
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


_TIME_OF_DAY_RE: Final = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_time_of_day(text: str) -> int:
    """``"08:00"``, ``"20:30"`` (24-hour, UTC) → milliseconds after midnight."""
    match = _TIME_OF_DAY_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{show(text)} is not a time of day, use HH:MM in UTC (e.g. '08:00')")
    return (int(match.group(1)) * 60 + int(match.group(2))) * _UNIT_MS["m"]


class DurationRange:
    """Field metadata: a duration written as text (``"5m"``), held as int ms in [min, max]."""

    __slots__ = ("max_ms", "min_ms")

    def __init__(self, min_ms: int = 0, max_ms: int | None = None) -> None:
        self.min_ms = min_ms
        self.max_ms = max_ms

    def validate(self, value: object) -> int:
        if not isinstance(value, str):
            raise ValueError(f"expected a duration like '5m' or '7d', got {show(value)}")
        ms = parse_duration(value)
        if ms < self.min_ms or (self.max_ms is not None and ms > self.max_ms):
            low, high = format_duration(self.min_ms), format_duration(self.max_ms or 0)
            allowed = f"at least {low}" if self.max_ms is None else f"between {low} and {high}"
            raise ValueError(f"{value!r} is out of range, use {allowed}")
        return ms

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.validate)


# --- field checks ----------------------------------------------------------------------------


def _as_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if not values:
        raise ValueError("is empty, list at least one")
    twice = [v for i, v in enumerate(values) if v in values[:i]]
    if twice:
        raise ValueError(f"{show(twice[0])} is listed twice, list each once")
    return values


def _url_check(*schemes: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            starts = " or ".join(f"{scheme}://" for scheme in schemes)
            raise ValueError(f"{value!r} is not a URL, use one starting with {starts}")
        return value

    return check


def _check_timeframe(value: str) -> str:
    if value not in TIMEFRAME_MS:
        raise ValueError(f"{value!r} is not a timeframe, use one of {', '.join(TIMEFRAME_MS)}")
    return value


_SYMBOL_RE: Final = re.compile(r"[A-Z0-9]{1,20}(?:/[A-Z0-9]{1,20}(?::[A-Z0-9]{1,20})?)?")


def _check_symbol(value: str) -> str:
    symbol = value.strip().upper()
    if not _SYMBOL_RE.fullmatch(symbol):
        raise ValueError(
            f"{value!r} is not a symbol, use a short name like 'BTC' "
            "or a unified one like 'BTC/USDT:USDT'"
        )
    return symbol


#: A TOML array accepted into a tuple field (settings are immutable).
AsTuple: Final = BeforeValidator(_as_tuple)
#: A non-empty list without repeats.
Unique: Final = AfterValidator(_unique)
HttpUrl = Annotated[str, AfterValidator(_url_check("http", "https"))]
WsUrl = Annotated[str, AfterValidator(_url_check("ws", "wss"))]
Symbol = Annotated[str, AfterValidator(_check_symbol)]
Timeframe = Annotated[str, AfterValidator(_check_timeframe)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
#: A time of day written ``"HH:MM"`` (UTC), held as milliseconds after midnight.
TimeOfDay = Annotated[int, PlainValidator(parse_time_of_day)]


# --- errors ----------------------------------------------------------------------------------


class FieldProblems(ValueError):
    """Raised by a cross-field check: (key relative to the section, message) pairs."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{key}: {message}" for key, message in items))
        self.items = items

    @classmethod
    def one(cls, key: str, message: str) -> FieldProblems:
        return cls([(key, message)])


def show(value: object) -> str:
    """A value as the user wrote it in TOML, shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: str, options: list[str]) -> str:
    """``"; did you mean X?"`` when one of ``options`` is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


Loc = tuple[int | str, ...]

_TYPE_NAMES: Final[dict[str, str]] = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "tuple": "a list",
    "dict": "a table",
    "model": "a table",
    "path": "a path string",
}
_CHOICE_NOUNS: Final[dict[str, str]] = {
    "source": "market source",
    "exchanges": "supported exchange",
    "level": "log level",
    "platform": "chat platform",
}
_COMPARISONS: Final[dict[str, str]] = {
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
}


def describe_errors(exc: ValidationError, allowed_keys: Callable[[Loc], list[str]]) -> list[str]:
    """One ``dotted.key: what is wrong, what is allowed`` line per problem in ``exc``.

    ``allowed_keys(loc)`` names the keys a user may write in the table at ``loc``.
    """
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblems):
            lines.extend(f"{_dotted((*loc, key))}: {message}" for key, message in cause.items)
        elif isinstance(cause, Exception):
            lines.append(f"{_dotted(loc)}: {cause}")
        elif error["type"] == "extra_forbidden":
            allowed = allowed_keys(loc[:-1])
            lines.append(
                f"{_dotted(loc)}: unknown key, allowed keys here: {', '.join(allowed)}"
                f"{did_you_mean(str(loc[-1]), allowed)}"
            )
        else:
            lines.append(f"{_dotted(loc)}: {_message(error)}")
    return lines


def _dotted(loc: Loc) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part != "[key]":
            key += f".{part}" if key else part
    return key


def _message(error: ErrorDetails) -> str:
    """The "what is wrong, what is allowed" part of one pydantic error."""
    kind, value, loc = error["type"], error["input"], error["loc"]
    ctx = error.get("ctx", {})
    if kind == "literal_error":
        options: list[str] = re.findall(r"'([^']*)'", ctx["expected"])
        names = [p for p in (loc[:-2] if loc[-1] == "[key]" else loc) if isinstance(p, str)]
        noun = _CHOICE_NOUNS.get(names[-1] if names else "", "allowed value")
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        return f"{show(value)} is not a {noun}, use one of {', '.join(options)}{hint}"
    if kind in _COMPARISONS:
        bounds = {
            k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in ctx.items()
        }
        return f"must be {_COMPARISONS[kind].format(**bounds)}, got {show(value)}"
    if kind == "too_short":
        return f"is too short, needs at least {ctx['min_length']}, got {show(value)}"
    if kind == "missing":
        return "required, set it"
    if kind == "int_from_float":
        return f"expected an integer, got {show(value)}"
    expected = kind.removesuffix("_type").removesuffix("_parsing")
    if expected in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[expected]}, got {show(value)}"
    return error["msg"][:1].lower() + error["msg"][1:]
