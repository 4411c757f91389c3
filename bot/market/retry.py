"""Retry temporary market errors: exponential backoff with full jitter.

Only :class:`~bot.market.errors.TemporaryMarketError` is retried; permanent errors and
anything else propagate at once. The pause before attempt ``n`` (1-based, after a failure)
is ``uniform(0, min(max_delay, base_delay * 2**(n-1)))`` ("full jitter", AWS architecture
blog), or the exchange's ``Retry-After`` when it gave one (capped by ``max_delay``).
Retrying stops after ``max_attempts`` attempts or when the next pause would take the
total time past ``max_total``; the last error then propagates unchanged. ``sleep`` and
``rng`` are injectable so tests run with no real waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.market.errors import TemporaryMarketError

__all__ = ["RetryPolicy", "retry"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, the backoff curve and a wall-time budget (seconds)."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total: float = 120.0
    sleep: Sleep = field(default=asyncio.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_total < 0:
            raise ValueError("delays: must not be negative")

    def delay(self, attempt: int, error: TemporaryMarketError) -> float:
        """Pause after failed attempt ``attempt`` (1-based)."""
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_delay)
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, cap)


async def retry(call: Callable[[], Awaitable[T]], policy: RetryPolicy, what: str = "request") -> T:
    """Await ``call()`` until it succeeds, retrying temporary errors under ``policy``."""
    started = policy.clock()
    slept = 0.0  # counted too, so an injected no-op sleep still meets the time budget
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except TemporaryMarketError as error:
            if attempt >= policy.max_attempts:
                raise
            pause = policy.delay(attempt, error)
            if max(policy.clock() - started, slept) + pause > policy.max_total:
                raise
            log.warning(
                "%s failed (%s: %s); retry %d/%d in %.2fs",
                what,
                type(error).__name__,
                error,
                attempt,
                policy.max_attempts - 1,
                pause,
            )
            await policy.sleep(pause)
            slept += pause
