"""Tests for core.charts.format: the human number formats on charts and in chat text.

Examples pin the house style (``$1.2B``, ``$98,420``, ``14:1``); properties check that every
format accepts any float, and that amounts, prices and ratios read back monotone and close
to the value they show.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.charts import human_price, human_ratio, human_usd
from core.charts.format import human_duration, imbalance_ratio, market_name


def _parse_usd(text: str) -> float:
    """Inverse of human_usd for finite amounts (``<$0.01`` reads as 0)."""
    if "<" in text:
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("-").removeprefix("$").replace(",", "")
    unit = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(body[-1:], 1.0)
    return sign * float(body.rstrip("KMBT")) * unit


def _parse_ratio(text: str) -> float:
    heavy, thin = text.replace(",", "").split(":")
    return float(heavy) / float(thin)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.2e9, "$1.2B"),
        (84_200.0, "$84.2K"),
        (980e6, "$980M"),
        (14.0e9, "$14.0B"),
        (999_600.0, "$1.0M"),  # rounds into the next unit, never "$1000K"
        (99_960.0, "$100K"),
        (512.0, "$512"),
        (0.5, "$0.50"),
        (0.0, "$0"),
        (-3.4e6, "-$3.4M"),
        (float("inf"), "$∞"),
        (float("nan"), "n/a"),
    ],
)
def test_human_usd_examples(value: float, expected: str) -> None:
    assert human_usd(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (98_420.0, "$98,420"),
        (0.5123, "$0.5123"),
        (182.344, "$182.34"),
        (999.999, "$1,000"),
        (0.00001234, "$0.00001234"),
        (-5.0, "-$5.000"),
        (float("nan"), "n/a"),
    ],
)
def test_human_price_examples(value: float, expected: str) -> None:
    assert human_price(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (14.2, "14:1"),
        (1.44, "1.4:1"),
        (2.0, "2:1"),
        (9.96, "10:1"),
        (float("inf"), "∞:1"),
        (1 / 14.2, "1:14"),
        (0.0, "1:∞"),
        (1.0, "1:1"),
        (-1.0, "n/a"),
        (float("nan"), "n/a"),
    ],
)
def test_human_ratio_examples(value: float, expected: str) -> None:
    assert human_ratio(value) == expected


any_float = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=150, deadline=None)
@given(any_float)
def test_formats_never_raise(x: float) -> None:
    for fmt in (human_usd, human_price, human_ratio, human_duration):
        out = fmt(x)
        assert isinstance(out, str)
        assert out
        assert "nan" not in out.lower()


@settings(max_examples=150, deadline=None)
@given(st.floats(0.0, 1e15), st.floats(0.0, 1e15))
def test_human_usd_is_monotone_and_close(x: float, y: float) -> None:
    lo, hi = sorted((x, y))
    assert _parse_usd(human_usd(lo)) <= _parse_usd(human_usd(hi))
    if lo >= 1.0:  # at least two significant digits: within 5 %
        assert _parse_usd(human_usd(lo)) == pytest.approx(lo, rel=0.05)


@settings(max_examples=150, deadline=None)
@given(st.floats(1e-6, 1e9))
def test_human_price_keeps_four_significant_digits(x: float) -> None:
    text = human_price(x)
    assert re.fullmatch(r"\$[\d,]+(\.\d+)?", text), text
    assert float(text[1:].replace(",", "")) == pytest.approx(x, rel=1e-3)


@settings(max_examples=150, deadline=None)
@given(st.floats(1.0, 1e9), st.floats(1.0, 1e9))
def test_human_ratio_is_monotone_and_close(r: float, s: float) -> None:
    lo, hi = sorted((r, s))
    assert _parse_ratio(human_ratio(lo)) <= _parse_ratio(human_ratio(hi))
    assert _parse_ratio(human_ratio(lo)) == pytest.approx(lo, rel=0.06)


def test_human_duration() -> None:
    assert human_duration(7 * 86_400_000) == "7d"
    assert human_duration(3_600_000) == "1h"
    assert human_duration(36 * 3_600_000) == "36h"
    assert human_duration(45 * 60_000) == "45m"


# --- issue 14: one imbalance formatter, heavy side first, sides named --------------------------


@pytest.mark.parametrize(
    ("short_above", "long_below", "shown"),
    [
        (14e9, 1e9, "14:1 shorts over longs"),
        (149e6, 1.4e9, "9.4:1 longs over shorts"),  # the long-heavy demo read "9.3:1" before
        (1e9, 1e9, "1:1 even"),
        (5e8, 0.0, "∞:1 shorts over longs"),
        (0.0, 5e8, "∞:1 longs over shorts"),
        (0.0, 0.0, "n/a"),
        (float("nan"), 1e9, "n/a"),
        (-1.0, 1e9, "n/a"),
    ],
)
def test_imbalance_ratio_reads_heavy_over_thin(
    short_above: float, long_below: float, shown: str
) -> None:
    assert imbalance_ratio(short_above, long_below) == shown


@given(st.floats(1e3, 1e12), st.floats(1e3, 1e12))
@settings(max_examples=200)
def test_imbalance_ratio_never_reads_below_one(short_above: float, long_below: float) -> None:
    shown = imbalance_ratio(short_above, long_below)
    number = shown.split(":")[0]
    assert float(number.replace(",", "")) >= 1
    heavy_short = short_above >= long_below
    assert shown.endswith("even") or (("shorts over longs" in shown) == heavy_short)


def test_market_name_is_what_traders_write() -> None:
    assert market_name("BTC/USDT:USDT") == "BTC"
    assert market_name("ETH/USDC:USDC") == "ETHUSDC"
    assert market_name("BTC") == "BTC"
