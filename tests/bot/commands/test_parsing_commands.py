"""Whole command lines: any order, defaults, @botname addressing, choices and options."""

from __future__ import annotations

import pytest

from bot.commands.parsing import parse_options, parse_price, parse_range, split_command
from bot.commands.spec import ArgumentError, CommandSpec, Param
from bot.reply import RANGES
from tests.bot.commands.parsing_fixtures import CASCADE, EXCHANGES, HEATMAP, IMBALANCE, NOTE, parse


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
