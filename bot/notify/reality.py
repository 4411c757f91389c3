"""The live scorecard as the market-structure thread's "reality check" quotes it.

:func:`scorecard_quote` pools the scored hours of the last week (``7d``) of one market
(:class:`~bot.state.scorecard.ScoreBook`) the way ``/accuracy`` judges them
(:func:`core.livescore_view.judge`): a side with fewer than
:data:`~core.livescore_view.MIN_HOURS` hours with liquidations is "too few to judge", and
the thread says so rather than quoting a lift; cluster hits are a verdict only from
:data:`~core.livescore_view.MIN_REACHED` reached clusters on. Hours whose prints feed was
down are counted as such, never as zero liquidations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.state.scorecard import WINDOWS, ScoreBook
from core.livescore_view import MIN_HOURS, MIN_REACHED, Verdict, judge

__all__ = ["QUOTED_WINDOW", "ScorecardQuote", "SideQuote", "scorecard_quote"]

#: the scorecard window the thread quotes
QUOTED_WINDOW: Final = "7d"
SIDES: Final = ("long", "short")


@dataclass(frozen=True)
class SideQuote:
    """One side's pooled lift over chance, the baseline's, and the verdict on it."""

    side: str
    verdict: Verdict
    lift: float
    base_lift: float
    hours_with_liquidations: int


@dataclass(frozen=True)
class ScorecardQuote:
    """What the reality check says about the live scorecard of one market."""

    window: str
    hours: int  # hours scored (either side)
    feed_down_hours: int
    sides: tuple[SideQuote, ...]
    reached: int
    hits: int
    base_reached: int
    base_hits: int
    min_hours: int = MIN_HOURS

    @property
    def hits_judged(self) -> bool:
        return self.reached >= MIN_REACHED

    @property
    def too_few(self) -> bool:
        """No side can be judged yet."""
        return all(s.verdict == "too_few" for s in self.sides)


def scorecard_quote(
    book: ScoreBook, symbol: str, *, now: int, window: str = QUOTED_WINDOW
) -> ScorecardQuote:
    """The scorecard of ``symbol`` over the ``window`` before ``now`` (blocking SQLite)."""
    span = WINDOWS[window]
    long, short = (book.scorecard(symbol, side, window_ms=span, now=now) for side in SIDES)
    return ScorecardQuote(
        window=window,
        hours=max(long.hours, short.hours),
        feed_down_hours=max(long.feed_down_hours, short.feed_down_hours),
        sides=tuple(
            SideQuote(s.side, judge(s), s.lift, s.base_lift, s.hours_with_liquidations)
            for s in (long, short)
        ),
        reached=long.reached + short.reached,
        hits=long.hits + short.hits,
        base_reached=long.base_reached + short.base_reached,
        base_hits=long.base_hits + short.base_hits,
    )
