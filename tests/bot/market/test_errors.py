"""The market error hierarchy."""

from __future__ import annotations

import pytest

from bot.market import errors


@pytest.mark.parametrize(
    "cls",
    [
        errors.RateLimited,
        errors.MarketTimeout,
        errors.ExchangeUnavailable,
        errors.BadExchangeResponse,
    ],
)
def test_retryable_errors_are_temporary(cls: type[errors.TemporaryMarketError]) -> None:
    error = cls("x", retry_after=1.5)
    assert isinstance(error, errors.TemporaryMarketError) and error.retry_after == 1.5
    assert not isinstance(error, errors.PermanentMarketError)


def test_unknown_symbol_carries_query_and_suggestions() -> None:
    error = errors.UnknownSymbol("BTCC", ["BTC", "BTCDOM"])
    assert isinstance(error, errors.PermanentMarketError)
    assert error.query == "BTCC" and error.suggestions == ("BTC", "BTCDOM")
    assert str(error) == "unknown symbol 'BTCC'; did you mean BTC, BTCDOM?"
    assert str(errors.UnknownSymbol("ZZZ")) == "unknown symbol 'ZZZ'"
