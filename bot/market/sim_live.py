"""The synthetic market keeps going: an accelerated clock and runs chained past the first.

:class:`SimClock` is the market's "now": it starts at the end of the generated run and moves
one 5m candle every ``step`` real seconds (``market.sim_step``; 0 stands still, the old
behaviour). Only the market's dates run fast: whoever waits on it (the scheduler) waits in
real seconds, so ``market.refresh.candles_every`` stays a real-time cadence. :func:`next_segment` simulates the candles after a run: a new run of the same
scenario (seed derived from the market's and the segment's number) starting at the last
close, its open interest and liquidation prints scaled so that open interest continues from
the last candle — so positions keep opening and closing, prints keep coming and cascades keep
happening. The first run is exactly :func:`core.sim.simulate`'s: only candles after it are new.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from core.models import LiquidationPrints, MarketSeries, Snapshot, timeframe_ms
from core.sim import simulate

__all__ = ["FIVE_MINUTES_MS", "SimClock", "concat", "next_segment", "until"]

FIVE_MINUTES_MS = 300_000


class SimClock:
    """Unix ms of the synthetic market: ``start_ms``, then one 5m candle per ``step`` s."""

    def __init__(
        self, start_ms: int, step: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if step < 0:
            raise ValueError(f"sim step must be >= 0 seconds, got {step}")
        self.start_ms = start_ms
        self.step = step
        self._monotonic = monotonic
        self._t0 = monotonic()

    @property
    def speed(self) -> float:
        """Market seconds per real second (1 when standing still: nothing to scale)."""
        return FIVE_MINUTES_MS / 1000 / self.step if self.step else 1.0

    def __call__(self) -> int:
        if not self.step:
            return self.start_ms
        return self.start_ms + int((self._monotonic() - self._t0) * 1000 * self.speed)


def _scaled(values: np.ndarray | None, factor: float) -> np.ndarray | None:
    return None if values is None else values * factor


def next_segment(previous: Snapshot, scenario: str, *, seed: int, candles: int) -> Snapshot:
    """The ``candles`` candles after ``previous`` (see the module docstring)."""
    series = previous.series
    candle_ms = timeframe_ms(previous.timeframe)
    start_ms = int(series.timestamps[-1]) + candle_ms
    market = simulate(
        scenario,
        seed=seed,
        candles=candles,
        timeframe=previous.timeframe,
        start_ms=start_ms,
        symbol=previous.symbol,
        start_price=float(series.close[-1]),
    )
    snap = market.snapshot
    new = snap.series
    factor = 1.0
    if series.open_interest is not None and new.open_interest is not None:
        first = float(new.open_interest[0])
        factor = float(series.open_interest[-1]) / first if first > 0 else 1.0
    prints = snap.prints
    return replace(
        snap,
        series=replace(new, open_interest=_scaled(new.open_interest, factor)),
        prints=LiquidationPrints(
            times=prints.times,
            sides=prints.sides,
            prices=prints.prices,
            notionals=prints.notionals * factor,
        ),
    )


def _join(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return None if a is None or b is None else np.concatenate([a, b])


def concat(first: Snapshot, second: Snapshot) -> Snapshot:
    """``first`` followed by ``second`` (the book and fetch time are the later ones)."""
    a, b = first.series, second.series
    series = MarketSeries(
        timestamps=np.concatenate([a.timestamps, b.timestamps]),
        open=np.concatenate([a.open, b.open]),
        high=np.concatenate([a.high, b.high]),
        low=np.concatenate([a.low, b.low]),
        close=np.concatenate([a.close, b.close]),
        volume=np.concatenate([a.volume, b.volume]),
        taker_buy_volume=_join(a.taker_buy_volume, b.taker_buy_volume),
        open_interest=_join(a.open_interest, b.open_interest),
        funding_rate=_join(a.funding_rate, b.funding_rate),
        long_short_ratio=_join(a.long_short_ratio, b.long_short_ratio),
    )
    p, q = first.prints, second.prints
    prints = LiquidationPrints(
        times=np.concatenate([p.times, q.times]),
        sides=np.concatenate([p.sides, q.sides]),
        prices=np.concatenate([p.prices, q.prices]),
        notionals=np.concatenate([p.notionals, q.notionals]),
    )
    return replace(
        first, series=series, prints=prints, book=second.book, fetched_at=second.fetched_at
    )


def until(snap: Snapshot, now: int) -> Snapshot:
    """What the market shows at ``now``: closed candles only, prints before ``now``."""
    candle_ms = timeframe_ms(snap.timeframe)
    ts = snap.series.timestamps
    stop = int(np.searchsorted(ts, now - candle_ms, side="right"))
    keep = snap.prints.times < now
    p = snap.prints
    prints = LiquidationPrints(
        times=p.times[keep], sides=p.sides[keep], prices=p.prices[keep], notionals=p.notionals[keep]
    )
    return replace(snap, series=snap.series.slice(0, stop), prints=prints, fetched_at=now)
