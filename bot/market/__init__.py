"""Market data: the only package that imports ccxt; also the sim and replay sources.

Every source implements :class:`~bot.market.port.MarketSource`. Import the concrete
sources from their modules (``bot.market.ccxt_source``, ``bot.market.sim_source``,
``bot.market.replay_source``) so that importing the port does not import ccxt.
"""

from bot.market.errors import (
    BadExchangeResponse,
    MarketError,
    PermanentMarketError,
    RateLimited,
    TemporaryMarketError,
    UnknownSymbol,
)
from bot.market.port import MarketSource, resolve_symbol

__all__ = [
    "BadExchangeResponse",
    "MarketError",
    "MarketSource",
    "PermanentMarketError",
    "RateLimited",
    "TemporaryMarketError",
    "UnknownSymbol",
    "resolve_symbol",
]
