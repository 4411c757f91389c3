"""The synthetic market goes on: an accelerated clock, runs chained past the first."""

from __future__ import annotations

import numpy as np
import pytest

from bot.market.sim_live import FIVE_MINUTES_MS, SimClock
from bot.market.sim_source import SimSource


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_clock_moves_one_candle_per_step() -> None:
    real = Monotonic()
    clock = SimClock(1_000_000, 10.0, monotonic=real)
    assert clock() == 1_000_000
    real.now += 25.0  # 2.5 steps
    assert clock() == 1_000_000 + int(2.5 * FIVE_MINUTES_MS)
    assert clock.speed == 30.0
    frozen = SimClock(5, 0.0, monotonic=real)
    real.now += 1e6
    assert frozen() == 5 and frozen.speed == 1.0
    with pytest.raises(ValueError, match=">= 0"):
        SimClock(0, -1.0)


class MsClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def test_live_source_starts_with_the_first_run_and_keeps_generating() -> None:
    still = SimSource(candles=300)
    clock = MsClock(still.end_ms)
    live = SimSource(candles=300, clock=clock, segment_candles=50)
    first = (await still.snapshot("BTC")).series
    start = await live.snapshot("BTC")
    np.testing.assert_array_equal(start.series.close, first.close)  # bit for bit
    still_prints = (await still.snapshot("BTC")).prints
    assert len(start.prints) == len(still_prints)
    np.testing.assert_array_equal(start.prints.notionals, still_prints.notionals)

    clock.now += 120 * FIVE_MINUTES_MS + FIVE_MINUTES_MS // 2  # 120.5 candles later
    later = await live.snapshot("BTC")
    s = later.series
    assert len(s) == 420  # closed candles only: the one in progress is not shown
    assert int(s.timestamps[-1]) + FIVE_MINUTES_MS <= clock.now
    assert set(np.diff(s.timestamps).tolist()) == {FIVE_MINUTES_MS}
    np.testing.assert_array_equal(s.close[:300], first.close)  # history does not change
    for seam in (300, 350, 400):  # price and open interest go on across each seam
        assert s.open[seam] == s.close[seam - 1]
        assert s.open_interest is not None
        assert 0.8 < s.open_interest[seam] / s.open_interest[seam - 1] < 1.25
    assert not np.array_equal(s.close[300:350], s.close[350:400])
    new_prints = later.prints.times >= still.end_ms
    assert new_prints.any() and (later.prints.times < clock.now).all()  # liquidations go on
    window = await live.fetch_series("BTC", "5m", still.end_ms)
    assert len(window) == 120

    again = SimSource(candles=300, clock=MsClock(clock.now), segment_candles=50)
    np.testing.assert_array_equal((await again.snapshot("BTC")).series.close, s.close)
