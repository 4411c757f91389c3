"""Argument parsing: each kind good and bad, any order, @botname addressing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.parsing import (
    RANGES,
    check_price_bounds,
    parse_args,
    parse_exchange,
    parse_options,
    parse_price,
    parse_range,
    parse_symbol,
    parse_window,
    price_as_typed,
    range_for_ms,
    split_command,
)
from bot.commands.spec import ArgumentError, CommandSpec, Param
from core.charts.format import human_price

EXCHANGES = ("binanceusdm", "bybit", "okx")

HEATMAP = CommandSpec(
    "heatmap",
    "heatmap",
    (
        Param("symbol", "symbol", default="BTC"),
        Param("range", "range", default="24h"),
        Param("exchange", "exchange", default="all"),
    ),
)
CASCADE = CommandSpec(
    "cascade",
    "cascade",
    (
        Param("symbol", "symbol", required=True),
        Param("price", "price", required=True, help="a price"),
    ),
)
IMBALANCE = CommandSpec(
    "imbalance",
    "imbalance",
    (Param("symbol", "symbol", default="BTC"), Param("window", "window", default=0.1)),
)
NOTE = CommandSpec(
    "note", "note", (Param("symbol", "symbol", required=True), Param("text", "text"))
)


def parse(spec: CommandSpec, line: str) -> dict[str, Any]:
    return parse_args(spec, line.split(), exchanges=EXCHANGES)


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


@pytest.mark.parametrize(
    "line",
    ["BTC 7d bybit", "7d BTC bybit", "bybit 7d BTC", "BTC bybit 7d", "7d bybit BTC"],
)
def test_any_order_when_kinds_are_unambiguous(line: str) -> None:
    args = parse(HEATMAP, line)
    assert args["symbol"] == "BTC"
    assert args["range"].label == "7d"
    assert args["exchange"] == "bybit"


def test_defaults_are_parsed_and_exchange_all() -> None:
    args = parse(HEATMAP, "")
    assert args == {"symbol": "BTC", "range": parse_range("24h"), "exchange": "all"}
    assert parse(HEATMAP, "ETH ALL")["exchange"] == "all"


@pytest.mark.parametrize(
    ("spec", "line", "message"),
    [
        (HEATMAP, "BTC 5x", "Unknown range '5x'. Use one of: 12h, 24h, 3d, 7d, 30d."),
        (HEATMAP, "5x", "Unknown range '5x'. Use one of: 12h, 24h, 3d, 7d, 30d."),
        (
            HEATMAP,
            "BTC kraken",
            "Unknown exchange 'kraken'. Use one of: binanceusdm, bybit, okx, all.",
        ),
        (HEATMAP, "BTC 7d bybit extra", "Too many arguments: 'extra' is one too many."),
        (HEATMAP, "BTC 7d 3d", "Range given twice ('7d' and '3d')."),
        (CASCADE, "BTC", "Missing <price>: a price."),
        (CASCADE, "", "Missing <symbol> and <price>: <price> is a price."),
        (CASCADE, "BTC cheap", "Price 'cheap' is not a number. Use e.g. 98000, 98k or $98.5K."),
        (IMBALANCE, "BTC 80%", "Window '80%' is out of bounds. Use 1% to 50%."),
    ],
)
def test_bad_arguments_explain_themselves(spec: CommandSpec, line: str, message: str) -> None:
    with pytest.raises(ArgumentError) as info:
        parse(spec, line)
    assert str(info.value) == message


def test_price_and_window_in_any_order() -> None:
    assert parse(CASCADE, "$98.5K eth") == {"symbol": "eth", "price": 98_500.0}
    assert parse(IMBALANCE, "5% SOL") == {"symbol": "SOL", "window": pytest.approx(0.05)}


def test_text_param_takes_the_rest_of_the_line() -> None:
    assert parse(NOTE, "BTC watch the 100k wall") == {
        "symbol": "BTC",
        "text": "watch the 100k wall",
    }


@pytest.mark.parametrize(
    ("line", "bot", "expected"),
    [
        ("/heatmap BTC 7d", None, ("heatmap", ("BTC", "7d"), "")),
        ("/heatmap@LiqBot BTC", "liqbot", ("heatmap", ("BTC",), "LiqBot")),
        ("/HEATMAP@liqbot", "@LiqBot", ("heatmap", (), "liqbot")),
        ("/heatmap@other_bot BTC", "liqbot", None),
        ("heatmap BTC", None, None),
        ("/", None, None),
        ("/@liqbot", "liqbot", None),
        ("", None, None),
    ],
)
def test_split_command(
    line: str, bot: str | None, expected: tuple[str, tuple[str, ...], str] | None
) -> None:
    parsed = split_command(line, bot_username=bot)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert (parsed.name, parsed.tokens, parsed.addressed_to) == expected


UNSUBSCRIBE = CommandSpec(
    "unsubscribe",
    "unsubscribe",
    (
        Param("symbol", "symbol", required=True, choices=("all",)),
        Param("rule", "choice", default="all", choices=("imbalance", "oi", "all")),
    ),
)


@pytest.mark.parametrize(
    ("line", "symbol", "rule"),
    [
        ("all", "all", "all"),
        ("ALL oi", "all", "oi"),
        ("BTC all", "BTC", "all"),
        ("BTC", "BTC", "all"),
        ("oi BTC", "BTC", "oi"),
    ],
)
def test_choice_words_and_a_symbols_literal_words(line: str, symbol: str, rule: str) -> None:
    assert parse(UNSUBSCRIBE, line) == {"symbol": symbol, "rule": rule}


def test_an_unknown_choice_lists_them_and_guesses() -> None:
    with pytest.raises(ArgumentError, match=r"Unknown rule 'imbalanse'\. Did you mean imbalance\?"):
        parse(UNSUBSCRIBE, "BTC imbalanse")


def test_a_choice_param_needs_its_choices() -> None:
    with pytest.raises(ValueError, match="needs its choices"):
        CommandSpec("x", "x", (Param("mode", "choice"),))


def test_a_negative_price_is_said_to_be_below_zero() -> None:
    with pytest.raises(ArgumentError, match="must be above zero"):
        parse_price("-5")
    with pytest.raises(ArgumentError, match="is not a number"):
        parse_price("-lots")


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        (HEATMAP, {"symbol": "btc 🚀🚀"}, "Option 'symbol': 'btc 🚀🚀' is not a symbol"),
        (HEATMAP, {"range": "🚀🚀"}, "Option 'range': Unknown range '🚀🚀'"),
        (IMBALANCE, {"window": "ten"}, "Option 'window': Window 'ten' is not a percentage"),
        (CASCADE, {"symbol": "BTC", "price": "-5"}, "Option 'price': Price '-5' must be above"),
        (CASCADE, {"symbol": "BTC"}, "Missing option 'price': a price."),
        (HEATMAP, {"colour": "red"}, "Unknown option 'colour'."),
        (UNSUBSCRIBE, {"symbol": "BTC", "rule": "loud"}, "Option 'rule': Unknown rule 'loud'"),
    ],
)
def test_options_are_parsed_one_by_one_and_errors_name_them(
    spec: CommandSpec, options: dict[str, str], message: str
) -> None:
    with pytest.raises(ArgumentError) as refused:
        parse_options(spec, options, exchanges=EXCHANGES)
    assert str(refused.value).startswith(message)


def test_options_never_spill_into_each_other() -> None:
    """A value that would be another parameter's token stays in its own option."""
    found = parse_options(HEATMAP, {"symbol": "bybit"}, exchanges=EXCHANGES)
    assert found["symbol"] == "bybit" and found["exchange"] == "all"
    assert parse_options(NOTE, {"symbol": "BTC", "text": "watch 7d all"}) == {
        "symbol": "BTC",
        "text": "watch 7d all",
    }
    defaults = parse_options(HEATMAP, {"symbol": "ETH", "range": " ", "exchange": None})
    assert defaults["range"] == RANGES[1] and defaults["exchange"] == "all"
    assert parse_options(UNSUBSCRIBE, {"symbol": "All"}) == {"symbol": "all", "rule": "all"}


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
