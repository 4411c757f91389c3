"""Symbol resolution shared by every source."""

from __future__ import annotations

import pytest

from bot.market.errors import UnknownSymbol
from bot.market.port import SymbolIndex, resolve_symbol

SYMBOLS = [
    "BTC/USDT:USDT",
    "BTC/USDC:USDC",
    "ETH/USDT:USDT",
    "1000PEPE/USDT:USDT",
    "BTCDOM/USDT:USDT",
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("BTC", "BTC/USDT:USDT"),
        (" btc ", "BTC/USDT:USDT"),
        ("BTCUSDT", "BTC/USDT:USDT"),
        ("BTC/USDT", "BTC/USDT:USDT"),
        ("BTC/USDT:USDT", "BTC/USDT:USDT"),
        ("btc-usdt-swap", "BTC/USDT:USDT"),
        ("BTC/USDC:USDC", "BTC/USDC:USDC"),
        ("BTCUSDC", "BTC/USDC:USDC"),
        ("1000pepe", "1000PEPE/USDT:USDT"),
        ("btcdom", "BTCDOM/USDT:USDT"),
    ],
)
def test_user_spellings_resolve(query: str, expected: str) -> None:
    assert resolve_symbol(query, SYMBOLS) == expected


def test_a_miss_suggests_close_base_names() -> None:
    with pytest.raises(UnknownSymbol) as info:
        SymbolIndex(SYMBOLS).resolve("BTCC")
    assert info.value.query == "BTCC"
    assert info.value.suggestions[0] == "BTC"
    assert "did you mean BTC" in str(info.value)


def test_a_far_miss_has_no_suggestions() -> None:
    with pytest.raises(UnknownSymbol) as info:
        resolve_symbol("ZZZZZZZZ", SYMBOLS)
    assert info.value.suggestions == ()
    with pytest.raises(UnknownSymbol):
        resolve_symbol("   ", SYMBOLS)
