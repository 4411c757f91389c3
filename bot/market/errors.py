"""The market layer's own small error hierarchy.

Every source raises only these; vendor exceptions (ccxt's) are translated at the edge in
:mod:`bot.market.ccxt_source`, the freqtrade way::

    except ccxt.DDoSProtection as e:
        raise RateLimited(str(e), retry_after=...) from e

Two branches decide what a caller does next:

* :class:`TemporaryMarketError` — worth retrying after a pause (network trouble, a
  timeout, a 5xx, HTTP 429, maintenance, a malformed body). :func:`bot.market.retry.retry`
  retries these and nothing else.
* :class:`PermanentMarketError` — retrying will not help (unknown symbol, an endpoint the
  exchange does not offer, missing credentials, a request the exchange rejects).

:class:`BadExchangeResponse` (a body that is not the JSON shape we expect) is
*temporary*: a truncated or garbled body from a proxy or an overloaded exchange usually
comes right on the next attempt, and the retry budget bounds the cost when it does not —
after the last attempt it surfaces with the original message.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AuthenticationFailed",
    "BadExchangeResponse",
    "ExchangeUnavailable",
    "MarketError",
    "MarketTimeout",
    "NotSupported",
    "PermanentMarketError",
    "RateLimited",
    "TemporaryMarketError",
    "UnknownSymbol",
]


class MarketError(Exception):
    """Anything that went wrong while getting market data."""


class TemporaryMarketError(MarketError):
    """Retryable: the same request may succeed later.

    ``retry_after`` is the pause in seconds the exchange asked for (HTTP ``Retry-After``),
    or ``None`` when it did not say.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TemporaryMarketError):
    """HTTP 429/418 or a DDoS-protection answer: slow down (honour ``retry_after``)."""


class MarketTimeout(TemporaryMarketError):
    """The exchange did not answer within the client timeout."""


class ExchangeUnavailable(TemporaryMarketError):
    """5xx, maintenance or a refused connection: the exchange is down for now."""


class BadExchangeResponse(TemporaryMarketError):
    """The answer was not the shape we expect (not JSON, missing fields, wrong types)."""


class PermanentMarketError(MarketError):
    """Not retryable: the request itself cannot succeed as asked."""


class NotSupported(PermanentMarketError):
    """The exchange (or this source) does not offer that data publicly."""


class AuthenticationFailed(PermanentMarketError):
    """The endpoint needs credentials we do not have, or they were refused."""


class UnknownSymbol(PermanentMarketError):
    """No perpetual matches ``query``; ``suggestions`` holds close matches, best first."""

    def __init__(self, query: str, suggestions: Sequence[str] = ()) -> None:
        self.query = query
        self.suggestions: tuple[str, ...] = tuple(suggestions)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown symbol {query!r}{hint}")
