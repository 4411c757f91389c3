"""The ``[[threads]]`` settings of :mod:`bot.config.settings`: channels that receive market-structure
threads on a schedule (every N hours, or at fixed times of day), optionally only when the
market structure changed materially since the last thread.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from bot.config.fields import (
    AsTuple,
    DurationRange,
    ExchangeId,
    FieldProblems,
    Fraction,
    Section,
    Symbol,
    TimeOfDay,
)

__all__ = ["ThreadChannelSettings"]

_M, _D = 60_000, 86_400_000


def _chat_id_text(value: object) -> object:
    """Chat and channel ids may be written as TOML integers; they are held as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _distinct_times(times: tuple[int, ...]) -> tuple[int, ...]:
    if not times:
        raise ValueError("is empty, list at least one time of day")
    twice = [t for i, t in enumerate(times) if t in times[:i]]
    if twice:
        hours, minutes = divmod(twice[0] // _M, 60)
        raise ValueError(f"'{hours:02d}:{minutes:02d}' is listed twice, list each once")
    return tuple(sorted(times))


class ThreadChannelSettings(Section):
    """A channel that receives market-structure threads automatically ([[threads]])."""

    platform: Literal["telegram", "discord"]
    #: Telegram chat/channel id ("-100…"), or Discord channel id
    chat_id: Annotated[str, BeforeValidator(_chat_id_text), Field(min_length=1)]
    symbol: Symbol
    #: the exchange whose analysis is told; None: the first configured exchange
    exchange: ExchangeId | None = None
    every: Annotated[int, DurationRange(15 * _M, 7 * _D)] | None = None
    #: times of day (UTC), held as ms after midnight
    at: Annotated[tuple[TimeOfDay, ...], AsTuple, AfterValidator(_distinct_times)] | None = None
    only_on_change: bool = False
    #: material change: the imbalance ratio moved by at least this fraction (relative) …
    min_change: Annotated[float, Field(gt=0, le=10)] = 0.25
    #: … or the top cluster / main danger zone moved by at least this fraction of price
    min_level_move: Fraction = 0.01

    @model_validator(mode="after")
    def _one_schedule(self) -> ThreadChannelSettings:
        if (self.every is None) == (self.at is None):
            given = "both every and at" if self.every is not None else "neither every nor at"
            raise FieldProblems.one(
                "every", f'{given} set, give exactly one: every = "6h" or at = ["08:00"]'
            )
        return self
