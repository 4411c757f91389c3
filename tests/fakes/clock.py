"""A clock for scheduler tests: Unix ms that move only when the code under test sleeps."""

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
