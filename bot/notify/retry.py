"""Retrying one platform call within a deadline, by what is known about the failure.

A failed send is judged (:class:`Judgement`): ``refused`` — known not delivered (refused
before it was sent, or answered with an error: connect error, 429, 5xx) — is retried after
the platform's ``retry_after`` (or an exponential backoff) while the policy's total
``deadline`` allows; ``unconfirmed`` — sent, no answer (a read timeout) — is retried only
``unconfirmed_retries`` times (0 for alerts: at most once; 1 for command replies); anything
else is raised at once. The table is in docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

__all__ = [
    "ALERT_POLICY",
    "REPLY_POLICY",
    "DeliveryProblem",
    "DeliveryStats",
    "Judge",
    "Judgement",
    "RetryBudget",
    "RetryPolicy",
    "retrying",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Verdict = Literal["refused", "unconfirmed"]


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a failure says about the message: ``refused`` (not delivered) or ``unconfirmed``."""

    verdict: Verdict
    retry_after: float | None = None


#: a failure → its judgement; None: not worth retrying (raise it)
Judge = Callable[[BaseException], Judgement | None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long one call may be retried (seconds, from its first try) and how often blind."""

    deadline: float
    unconfirmed_retries: int = 0
    backoff: float = 1.0
    max_backoff: float = 15.0

    def __post_init__(self) -> None:
        if self.deadline < 0 or self.unconfirmed_retries < 0 or self.backoff <= 0:
            raise ValueError(f"invalid retry policy {self}")


#: command replies: a minute, and one blind retry after a timeout (at most a duplicate)
REPLY_POLICY: Final = RetryPolicy(60.0, unconfirmed_retries=1)
#: pushed alerts, within one send (the scheduler retries refused alerts on later cycles)
ALERT_POLICY: Final = RetryPolicy(60.0, unconfirmed_retries=0)


@dataclass(frozen=True, slots=True)
class DeliveryProblem:
    """One message given up: when (Unix s), where, what it was, what became of it, why."""

    at: float
    platform: str
    chat_id: str
    #: ``reply`` (to a command), ``alert`` (a push), …
    kind: str
    #: ``unconfirmed`` (sent, no answer, not repeated) or ``gave up`` (refused to the deadline)
    outcome: str
    why: str


@dataclass
class DeliveryStats:
    """What the retries met (``/status`` and the tests read it)."""

    retried: int = 0
    unconfirmed: int = 0
    gave_up: int = 0
    last_problem: str | None = None
    #: messages given up (unconfirmed and not repeated, or refused to the deadline) by kind
    lost: dict[str, int] = field(default_factory=dict)
    #: the last one given up, by kind
    last: dict[str, DeliveryProblem] = field(default_factory=dict)

    def record(self, problem: DeliveryProblem) -> None:
        """Count ``problem`` as the last message of its kind given up."""
        self.lost[problem.kind] = self.lost.get(problem.kind, 0) + 1
        self.last[problem.kind] = problem


class RetryBudget:
    """One deadline and one allowance of blind retries shared by every call of one message
    (a reply sent as a photo and two messages retries within one budget, not three)."""

    def __init__(
        self,
        policy: RetryPolicy,
        judge: Judge,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        stats: DeliveryStats | None = None,
        what: str = "call",
        platform: str = "",
        chat_id: str = "",
        kind: str = "call",
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.policy, self.judge, self.sleep, self.clock = policy, judge, sleep, clock
        self.stats = stats if stats is not None else DeliveryStats()
        #: for the log (``reply to Telegram chat 5``) and, split up, for ``/status``
        self.what, self.platform, self.chat_id, self.kind = what, platform, chat_id, kind
        self._wall = wall
        self.start = clock()
        self.blind = 0
        self.tries = 0

    async def __call__(self, op: Callable[[], Awaitable[_T]]) -> _T:
        """``await op()``, retried as the policy allows; the last failure is raised."""
        policy = self.policy
        backoff = policy.backoff
        while True:
            self.tries += 1
            try:
                return await op()
            except Exception as exc:
                judgement = self.judge(exc)
                if judgement is None:
                    raise
                if judgement.verdict == "unconfirmed":
                    self.stats.unconfirmed += 1
                    if self.blind >= policy.unconfirmed_retries:
                        self._problem("unconfirmed", f"sent, no answer; not repeated: {exc}")
                        raise
                    self.blind += 1
                    wait = 0.0
                else:
                    wait = judgement.retry_after if judgement.retry_after is not None else backoff
                    backoff = min(backoff * 2, policy.max_backoff)
                if self.clock() - self.start + wait > policy.deadline:
                    self.stats.gave_up += 1
                    self._problem(
                        "gave up",
                        f"gave up after {self.tries} tries (deadline {policy.deadline:.0f} s): "
                        f"{exc}",
                    )
                    raise
                self.stats.retried += 1
                log.info(
                    "%s: %s (%s); try %d in %.1f s",
                    self.what,
                    judgement.verdict,
                    exc,
                    self.tries + 1,
                    wait,
                )
                await self.sleep(wait)

    def _problem(self, outcome: str, text: str) -> None:
        self.stats.last_problem = f"{self.what}: {text}"
        self.stats.record(
            DeliveryProblem(self._wall(), self.platform, self.chat_id, self.kind, outcome, text)
        )
        log.warning("%s: %s", self.what, text)


async def retrying(
    op: Callable[[], Awaitable[_T]],
    policy: RetryPolicy,
    judge: Judge,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    what: str = "call",
) -> _T:
    """``await op()`` within a fresh :class:`RetryBudget`."""
    return await RetryBudget(policy, judge, sleep=sleep, clock=clock, what=what)(op)
