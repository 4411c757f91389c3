"""core.followup: the level an alert named, and whether (and when) price got there."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from core.followup import SETTLE_MS, resolve, target_of
from core.livescore import HIT_TOLERANCE
from core.models import LiquidationPrints, Side

C = 300_000
T0 = 1_700_000_000_000
H = 3_600_000


def prints(*rows: tuple[int, int, float, float]) -> LiquidationPrints:
    rows = tuple(sorted(rows))
    t, s, p, n = zip(*rows, strict=True) if rows else ((), (), (), ())
    return LiquidationPrints(
        times=np.array(t, dtype=np.int64),
        sides=np.array(s, dtype=np.int8),
        prices=np.array(p, dtype=float),
        notionals=np.array(n, dtype=float),
    )


def test_targets_from_the_alert_numbers() -> None:
    short = target_of({"cluster_price": 105.0, "cluster_side": "short"}, 100.0)
    assert short is not None and short.above and short.level == 105.0 and short.side is Side.SHORT
    long_zone = target_of({"zone_low": 90.0, "zone_high": 95.0, "zone_side": "long"}, 94.0)
    assert long_zone is not None and long_zone.level == 90.0 and not long_zone.above
    assert long_zone.low == 90.0 * (1 - HIT_TOLERANCE) and long_zone.high == 95.0 * (
        1 + HIT_TOLERANCE
    )
    assert target_of({"ratio": 6.0}, 100.0) is None
    assert target_of({"cluster_price": 0.0, "cluster_side": "short"}, 100.0) is None


def test_a_long_cluster_below_is_reached_by_a_low_and_counts_only_its_band_side_and_window() -> (
    None
):
    target = target_of({"cluster_price": 95.0, "cluster_side": "long"}, 100.0)
    assert target is not None
    n = 30
    times = T0 + C * np.arange(n)
    lows = np.full(n, 99.0)
    lows[0] = 90.0  # the alert's own candle: not "after"
    lows[12] = 94.9
    highs = lows + 2
    at = T0 + 12 * C
    feed = prints(
        (T0 + 2 * C, 1, 95.2, 1e6),  # in the band, after the alert: counted
        (at, 1, 94.6, 2e6),  # in: counted
        (at, -1, 95.0, 4e6),  # shorts
        (at, 1, 93.0, 8e6),  # outside ±0.5 %
        (at + C + SETTLE_MS, 1, 95.0, 16e6),  # after the settle window
        (T0, 1, 95.0, 32e6),  # during the alert's candle
    )
    kw = {"transition": T0, "candle_ms": C, "horizon_ms": 24 * H}
    assert resolve(target, times, highs, lows, feed, now=at + C + SETTLE_MS - 1, **kw) is None
    out = resolve(target, times, highs, lows, feed, now=at + C + SETTLE_MS, **kw)
    assert out is not None and out.reached
    assert (out.elapsed_ms, out.liquidated_usd, out.prints) == (12 * C, 3e6, 2)
    assert out.extreme == 94.9


def test_a_gap_in_the_data_is_never_read_as_not_reached() -> None:
    target = target_of({"cluster_price": 110.0, "cluster_side": "short"}, 100.0)
    assert target is not None
    horizon = 2 * H
    times = T0 + C * np.arange(1, 20)  # stops an hour short of the horizon
    highs, lows = np.full(19, 101.0), np.full(19, 99.0)
    kw = {"transition": T0, "candle_ms": C, "horizon_ms": horizon}
    assert resolve(target, times, highs, lows, prints(), now=T0 + 10 * H, **kw) is None
    full = T0 + C * np.arange(1, horizon // C)
    out = resolve(target, full, np.full(len(full), 101.0), np.full(len(full), 99.0), prints(),
                  now=T0 + horizon, **kw)  # fmt: skip
    assert (
        out is not None and not out.reached and out.elapsed_ms == horizon and out.extreme == 101.0
    )
    assert resolve(target, full, np.full(len(full), 101.0), np.full(len(full), 99.0), prints(),
                   now=T0 + horizon - 1, **kw) is None  # fmt: skip


@given(st.lists(st.floats(90, 110), min_size=2, max_size=60), st.floats(91, 109))
def test_reached_iff_some_later_high_gets_there(path: list[float], level: float) -> None:
    target = target_of({"cluster_price": level, "cluster_side": "short"}, 90.0)
    assert target is not None
    n = len(path)
    times = T0 + C * np.arange(n)
    highs = np.array(path)
    horizon = (n + 1) * C
    out = resolve(target, times, highs, highs - 1, prints(), transition=T0, candle_ms=C,
                  horizon_ms=horizon, now=T0 + 100 * horizon)  # fmt: skip
    later = highs[1:]
    if (later >= level).any():
        assert out is not None and out.reached
        assert out.elapsed_ms == (int(np.argmax(later >= level)) + 1) * C
    else:
        assert out is None or not out.reached  # the data must reach the horizon to say "not"
