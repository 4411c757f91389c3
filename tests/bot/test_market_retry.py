"""Backoff with full jitter, only for temporary errors."""

from __future__ import annotations

import random

import pytest

from bot.market.errors import ExchangeUnavailable, PermanentMarketError, RateLimited
from bot.market.retry import RetryPolicy, retry


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def policy(sleeps: Sleeps, **kw: float) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, rng=random.Random(1), **kw)  # type: ignore[arg-type]


def flaky(errors: list[Exception]) -> tuple[list[int], object]:
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "ok"

    return calls, call


async def test_temporary_errors_are_retried_with_jittered_backoff() -> None:
    sleeps = Sleeps()
    calls, call = flaky([ExchangeUnavailable("503")] * 3)
    assert await retry(call, policy(sleeps, base_delay=1.0, max_delay=3.0)) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 4 and len(sleeps) == 3
    for attempt, pause in enumerate(sleeps, start=1):
        assert 0.0 <= pause <= min(3.0, 1.0 * 2 ** (attempt - 1))


async def test_retry_after_is_honoured_and_capped() -> None:
    sleeps = Sleeps()
    _, call = flaky([RateLimited("429", retry_after=2.5), RateLimited("429", retry_after=99)])
    await retry(call, policy(sleeps, max_delay=10.0, max_total=1000.0))  # type: ignore[arg-type]
    assert sleeps == [2.5, 10.0]


async def test_permanent_errors_are_not_retried() -> None:
    sleeps = Sleeps()
    calls, call = flaky([PermanentMarketError("bad symbol")])
    with pytest.raises(PermanentMarketError):
        await retry(call, policy(sleeps))  # type: ignore[arg-type]
    assert len(calls) == 1 and sleeps == []


async def test_attempts_and_total_time_are_bounded() -> None:
    sleeps = Sleeps()
    calls, call = flaky([ExchangeUnavailable("503")] * 10)
    with pytest.raises(ExchangeUnavailable):
        await retry(call, policy(sleeps, max_attempts=4))  # type: ignore[arg-type]
    assert len(calls) == 4
    sleeps2 = Sleeps()
    calls2, call2 = flaky([RateLimited("429", retry_after=5.0)] * 10)
    with pytest.raises(RateLimited):
        await retry(call2, policy(sleeps2, max_total=12.0))  # type: ignore[arg-type]
    assert sleeps2 == [5.0, 5.0]  # a third 5 s pause would pass the 12 s budget
    assert len(calls2) == 3


def test_policy_validates() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
