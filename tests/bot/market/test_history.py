"""Page walking and alignment of side series, against brute-force expectations."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.market.history import align_at_close, fill_funding, walk_pages

STEP = 300_000


def exchange(times: list[int], newest_first: bool, calls: list[tuple[int, int, int]]) -> object:
    """A fake endpoint: rows in [start, end], the first (or newest) ``limit`` of them."""

    async def fetch(start: int, end: int, limit: int) -> Sequence[Sequence[float]]:
        calls.append((start, end, limit))
        inside = [t for t in times if start <= t <= end]
        chosen = inside[-limit:] if newest_first else inside[:limit]
        return [(t, float(t)) for t in chosen]

    return fetch


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(0, 60),
    holes=st.sets(st.integers(0, 59), max_size=8),
    page=st.integers(1, 13),
    newest_first=st.booleans(),
    walk=st.sampled_from(["forward", "backward"]),
    lo=st.integers(0, 20),
    hi=st.integers(0, 70),
)
def test_every_row_in_range_exactly_once(
    n: int, holes: set[int], page: int, newest_first: bool, walk: str, lo: int, hi: int
) -> None:
    times = [i * STEP for i in range(n) if i not in holes]
    calls: list[tuple[int, int, int]] = []
    got = asyncio.run(
        walk_pages(exchange(times, newest_first, calls), lo * STEP, hi * STEP, STEP, page, walk)  # type: ignore[arg-type]
    )
    expected = [t for t in times if lo * STEP <= t < hi * STEP]
    # forward: every window is read, so every row comes back, holes or not;
    # backward: two empty windows in a row end the walk (the market's listing)
    span = page * STEP
    cut = list(expected)
    if walk == "backward":
        empty = 0
        for s in range(hi * STEP - span, lo * STEP - span, -span):
            if not any(max(s, lo * STEP) <= t < s + span for t in times):
                empty += 1
                if empty == 2:
                    cut = [t for t in expected if t >= s + 2 * span]
                    break
            else:
                empty = 0
    assert list(got) == cut
    assert all(limit <= page for _, _, limit in calls)


def test_align_at_close_marks_missing_samples_nan() -> None:
    candles = np.array([0, 300, 600, 900], dtype=np.int64)
    samples = np.array([300, 900, 1200, 5000], dtype=np.int64)
    out = align_at_close(candles, 300, samples, np.array([1.0, 3.0, 4.0, 9.0]))
    np.testing.assert_array_equal(out, [1.0, np.nan, 3.0, 4.0])


def test_funding_fills_its_interval_and_nan_elsewhere() -> None:
    hour = 3_600_000
    candles = np.arange(0, 30 * hour, hour, dtype=np.int64)
    settles = np.array([4 * hour + 17, 12 * hour + 3], dtype=np.int64)  # Binance jitter
    out = fill_funding(candles, settles, np.array([0.1, 0.2]))
    assert np.isnan(out[:4]).all()
    assert (out[4:12] == 0.1).all()
    assert (out[12:20] == 0.2).all()  # the last rate lasts the median interval (8 h)
    assert np.isnan(out[20:]).all()
    assert np.isnan(fill_funding(candles, np.empty(0, np.int64), np.empty(0))).all()


def test_forward_walk_reads_past_the_time_before_listing_and_gaps() -> None:
    """A market listed late in the look-back, with a two-page outage: every row returns."""
    times = [i * STEP for i in range(40, 60)] + [i * STEP for i in range(80, 100)]
    calls: list[tuple[int, int, int]] = []
    got = asyncio.run(walk_pages(exchange(times, False, calls), 0, 100 * STEP, STEP, 10, "forward"))  # type: ignore[arg-type]
    assert list(got) == times
    assert len(calls) == 10  # one request per window, empty ones included


def test_align_at_close_holds_samples_coarser_than_the_candles() -> None:
    """Hourly open interest under 5m candles: each close takes the last hourly value, for one
    hour at most (a missing hour stays a gap), never a later one."""
    hour, five = 3_600_000, 300_000
    candles = np.arange(0, 3 * hour, five, dtype=np.int64)  # 36 candles, closes 5m … 3h
    samples = np.array([0, hour, 3 * hour], dtype=np.int64)  # the 2h sample is missing
    out = align_at_close(candles, five, samples, np.array([10.0, 11.0, 13.0]))
    closes = candles + five
    np.testing.assert_array_equal(out[closes < hour], 10.0)
    np.testing.assert_array_equal(out[(closes >= hour) & (closes < 2 * hour)], 11.0)
    assert np.isnan(out[(closes >= 2 * hour) & (closes < 3 * hour)]).all()
    assert out[-1] == 13.0
