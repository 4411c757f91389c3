"""Translate ccxt exceptions into :mod:`bot.market.errors` at the edge.

=================================================  ==================================
ccxt                                               liqwatch
=================================================  ==================================
``DDoSProtection``, ``RateLimitExceeded``          ``RateLimited`` (+ ``Retry-After``)
``RequestTimeout``                                 ``MarketTimeout``
``ExchangeNotAvailable``, ``OnMaintenance``        ``ExchangeUnavailable``
``BadResponse``, ``NullResponse``                  ``BadExchangeResponse``
other ``NetworkError``                             ``TemporaryMarketError``
``AuthenticationError``, ``PermissionDenied``      ``AuthenticationFailed``
``NotSupported``                                   ``NotSupported``
``BadSymbol``, other ``ExchangeError``             ``PermanentMarketError``
a body ccxt could not parse (``ValueError`` …)     ``BadExchangeResponse``
=================================================  ==================================

The exchange's ``Retry-After`` header (seconds) is read from
``exchange.last_response_headers``, which ccxt sets before raising.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async

from bot.market.errors import (
    AuthenticationFailed,
    BadExchangeResponse,
    ExchangeUnavailable,
    MarketTimeout,
    NotSupported,
    PermanentMarketError,
    RateLimited,
    TemporaryMarketError,
)

__all__ = ["retry_after_seconds", "translate_ccxt"]

T = TypeVar("T")


def retry_after_seconds(exchange: Any) -> float | None:
    """``Retry-After`` of the last response in seconds, if it gave one as a number."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def translate_ccxt(call: Awaitable[T], exchange: Any, what: str) -> T:
    """Await ``call``; re-raise ccxt errors as the project's own (cause chained)."""
    try:
        return await call
    except (ccxt_async.DDoSProtection, ccxt_async.RateLimitExceeded) as e:
        raise RateLimited(
            f"{what}: rate limited ({e})", retry_after=retry_after_seconds(exchange)
        ) from e
    except ccxt_async.RequestTimeout as e:
        raise MarketTimeout(f"{what}: timed out ({e})") from e
    except ccxt_async.ExchangeNotAvailable as e:
        raise ExchangeUnavailable(
            f"{what}: exchange unavailable ({e})", retry_after=retry_after_seconds(exchange)
        ) from e
    except ccxt_async.BadResponse as e:
        raise BadExchangeResponse(f"{what}: malformed response ({e})") from e
    except ccxt_async.NetworkError as e:
        raise TemporaryMarketError(f"{what}: network error ({e})") from e
    except ccxt_async.AuthenticationError as e:
        raise AuthenticationFailed(f"{what}: needs credentials ({e})") from e
    except ccxt_async.NotSupported as e:
        raise NotSupported(f"{what}: not supported ({e})") from e
    except ccxt_async.BaseError as e:
        raise PermanentMarketError(f"{what}: {e}") from e
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as e:
        raise BadExchangeResponse(f"{what}: malformed response ({e!r})") from e
