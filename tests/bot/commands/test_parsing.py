"""Argument parsing: each kind good and bad, any order, @botname addressing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.parsing import (
    check_price_bounds,
    parse_price,
    parse_range,
    parse_symbol,
    parse_window,
    range_for_ms,
)
from bot.commands.spec import ArgumentError
from bot.reply import RANGES


@pytest.mark.parametrize(
    ("token", "label", "hours"),
    [
        ("12h", "12h", 12),
        ("24h", "24h", 24),
        ("1d", "24h", 24),
        ("3d", "3d", 72),
        ("7D", "7d", 168),
        ("1w", "7d", 168),
        ("30d", "30d", 720),
    ],
)
def test_range_good(token: str, label: str, hours: int) -> None:
    r = parse_range(token)
    assert (r.label, r.ms) == (label, hours * 3_600_000)


@pytest.mark.parametrize("token", ["5x", "2d", "0h", "week", ""])
def test_range_bad_lists_the_choices(token: str) -> None:
    with pytest.raises(ArgumentError) as info:
        parse_range(token)
    assert str(info.value) == f"Unknown range '{token}'. Use one of: 12h, 24h, 3d, 7d, 30d."


def test_range_for_ms_picks_exact_or_nearest() -> None:
    assert range_for_ms(24 * 3_600_000).label == "24h"
    assert range_for_ms(6 * 86_400_000).label == "7d"
    assert [r.label for r in RANGES] == ["12h", "24h", "3d", "7d", "30d"]


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("10%", 0.10),
        ("1%", 0.01),
        ("50%", 0.50),
        ("0.1", 0.10),
        (".05", 0.05),
        ("10", 0.10),
        ("2.5%", 0.025),
    ],
)
def test_window_good(token: str, value: float) -> None:
    assert parse_window(token) == pytest.approx(value)


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        ("60%", "out of bounds"),
        ("0.005", "out of bounds"),
        ("0.5%", "out of bounds"),
        ("ten", "not a percentage"),
        ("-5%", "not a percentage"),
    ],
)
def test_window_bad(token: str, fragment: str) -> None:
    with pytest.raises(ArgumentError, match=fragment):
        parse_window(token)


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("98000", 98_000.0),
        ("98k", 98_000.0),
        ("98K", 98_000.0),
        ("98,000", 98_000.0),
        ("$98.5K", 98_500.0),
        ("$98,420.50", 98_420.5),
        ("1.2m", 1_200_000.0),
        ("0.51", 0.51),
    ],
)
def test_price_good(token: str, value: float) -> None:
    assert parse_price(token) == pytest.approx(value)


@pytest.mark.parametrize("token", ["abc", "98kk", "9,8000", "-5", "0", "$", "98 k"])
def test_price_bad(token: str) -> None:
    with pytest.raises(ArgumentError):
        parse_price(token)


@settings(max_examples=80)
@given(st.floats(min_value=0.01, max_value=1e7, allow_nan=False))
def test_price_round_trips_plain_and_grouped(value: float) -> None:
    plain = f"{value:.2f}"
    grouped = f"${value:,.2f}"
    assert parse_price(plain) == pytest.approx(float(plain))
    assert parse_price(grouped) == pytest.approx(float(plain))


def test_price_bounds_are_x02_to_x5_of_current() -> None:
    check_price_bounds(20_000, 100_000, shown="$20,000", current_shown="$100,000")
    check_price_bounds(500_000, 100_000, shown="$500,000", current_shown="$100,000")
    with pytest.raises(ArgumentError, match=r"too far from the current price \$100,000"):
        check_price_bounds(98, 100_000, shown="$98", current_shown="$100,000")
    with pytest.raises(ArgumentError):
        check_price_bounds(500_001, 100_000, shown="x", current_shown="y")


@pytest.mark.parametrize("token", ["BTC", "ethusdt", "BTC/USDT:USDT", "1000PEPE", "btc-usdt-swap"])
def test_symbol_good(token: str) -> None:
    assert parse_symbol(token) == token


@pytest.mark.parametrize("token", ["98k", "7d", "123", "$$$", "<script>", "a" * 41])
def test_symbol_bad(token: str) -> None:
    with pytest.raises(ArgumentError):
        parse_symbol(token)
