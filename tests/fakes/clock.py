"""Clocks for tests that move only when the code under test sleeps: Unix ms for the
scheduler (:class:`FakeClock`), monotonic seconds for retry waits (:class:`FakeMonotonic`)."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Call it for the time; pass :meth:`sleep` as the scheduler's sleep (or move ``now``)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += round(seconds * 1000)
        await asyncio.sleep(0)


class FakeMonotonic:
    """A monotonic clock in seconds that moves only when the code under test sleeps
    (an adapter's retry waits); ``slept`` records every wait asked for."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
