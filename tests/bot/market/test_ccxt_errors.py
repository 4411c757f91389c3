"""ccxt exceptions → the project's hierarchy, with Retry-After read from the response."""

from __future__ import annotations

from types import SimpleNamespace

import ccxt.async_support as ccxt_async
import pytest

from bot.market import errors
from bot.market.ccxt_errors import retry_after_seconds, translate_ccxt


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ccxt_async.DDoSProtection("x"), errors.RateLimited),
        (ccxt_async.RateLimitExceeded("x"), errors.RateLimited),
        (ccxt_async.RequestTimeout("x"), errors.MarketTimeout),
        (ccxt_async.OnMaintenance("x"), errors.ExchangeUnavailable),
        (ccxt_async.BadResponse("x"), errors.BadExchangeResponse),
        (ccxt_async.NetworkError("x"), errors.TemporaryMarketError),
        (ccxt_async.PermissionDenied("x"), errors.AuthenticationFailed),
        (ccxt_async.NotSupported("x"), errors.NotSupported),
        (ccxt_async.BadSymbol("x"), errors.PermanentMarketError),
        (ValueError("not json"), errors.BadExchangeResponse),
    ],
)
async def test_translation(raised: Exception, expected: type[Exception]) -> None:
    async def call() -> None:
        raise raised

    exchange = SimpleNamespace(last_response_headers={"Retry-After": "3"})
    with pytest.raises(expected) as info:
        await translate_ccxt(call(), exchange, "test")
    assert info.value.__cause__ is raised
    if expected is errors.RateLimited:
        assert info.value.retry_after == 3.0  # type: ignore[attr-defined]


def test_retry_after_ignores_http_dates() -> None:
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert retry_after_seconds(SimpleNamespace(last_response_headers=headers)) is None
    assert retry_after_seconds(SimpleNamespace(last_response_headers=None)) is None
