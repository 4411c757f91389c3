"""Argument errors that name the real mistake (issue 14)."""

from __future__ import annotations

import pytest

from bot.commands.parsing import (
    check_price_bounds,
    parse_exchange,
    parse_options,
    parse_price,
    price_as_typed,
)
from bot.commands.spec import ArgumentError, CommandSpec, Param
from core.charts.format import human_price
from tests.bot.commands.parsing_fixtures import parse

# --- issue 14: errors that name the real mistake -------------------------------------------

SETTINGS = CommandSpec(
    "settings",
    "settings",
    (
        Param("rule", "choice", choices=("imbalance", "cluster")),
        Param("mode", "choice", choices=("on", "silent", "off")),
        Param("threshold", "text"),
    ),
)


def test_a_mistyped_mode_is_named_as_the_mode_not_the_threshold() -> None:
    with pytest.raises(ArgumentError, match=r"^Unknown mode 'loud'. Use one of: on, silent, off"):
        parse(SETTINGS, "imbalance loud")
    assert parse(SETTINGS, "imbalance 8") == {"rule": "imbalance", "mode": None, "threshold": "8"}
    assert parse(SETTINGS, "imbalance on 8")["threshold"] == "8"


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-inf", "infinity"])
def test_not_a_number_is_a_bad_window_not_an_exchange(token: str) -> None:
    spec = CommandSpec(
        "imbalance",
        "imbalance",
        (
            Param("symbol", "symbol", default="BTC"),
            Param("window", "window", default=0.1),
            Param("exchange", "exchange", default="all"),
        ),
    )
    with pytest.raises(ArgumentError, match=rf"^Window '{token}' is not a percentage"):
        parse(spec, f"BTC {token}")


def test_a_missing_required_argument_shows_no_default() -> None:
    spec = CommandSpec(
        "cascade",
        "cascade",
        (
            Param("symbol", "symbol", required=True, help="market, e.g. BTC (default BTC)"),
            Param("price", "price", required=True, help="the price to push to, e.g. 105k"),
        ),
    )
    with pytest.raises(ArgumentError) as info:
        parse(spec, "")
    assert str(info.value) == (
        "Missing <symbol> and <price>: <symbol> is market, e.g. BTC; "
        "<price> is the price to push to, e.g. 105k."
    )
    with pytest.raises(ArgumentError, match=r"^Missing option 'symbol': market, e.g. BTC\.$"):
        parse_options(spec, {"price": "105k"})


@pytest.mark.parametrize("token", ["899999999999999999999999999", "2000000000", "1e99m"])
def test_an_absurd_price_is_refused_without_echoing_a_huge_number(token: str) -> None:
    with pytest.raises(ArgumentError) as info:
        parse_price(token)
    message = str(info.value)
    assert "far too large" in message or "not a number" in message
    assert "956,983" not in message and len(message) < 100


def test_price_bounds_echo_the_price_as_typed_and_the_range_that_works() -> None:
    with pytest.raises(ArgumentError) as info:
        check_price_bounds(
            1.0, 90_000.0, shown=price_as_typed(1.0), current_shown="$90,000", fmt=human_price
        )
    assert str(info.value) == (
        "Price $1 is too far from the current price $90,000: "
        "use a price between $18,000 and $450,000."
    )
    assert price_as_typed(98_500.0) == "$98,500"
    assert price_as_typed(0.5) == "$0.5"


def test_a_known_exchange_that_is_not_configured_says_how_to_add_it() -> None:
    with pytest.raises(ArgumentError) as info:
        parse_exchange("binanceusdm", ("sim",))
    assert str(info.value) == (
        "Exchange 'binanceusdm' is not configured here (this bot reads: sim). "
        'Use one of: sim, all; to add binanceusdm, list it in [market] exchanges with source = "ccxt".'
    )
    with pytest.raises(
        ArgumentError, match=r"^Unknown exchange 'kraken'\. Use one of: sim, all\.$"
    ):
        parse_exchange("kraken", ("sim",))
