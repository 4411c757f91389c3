"""Each venue's maintenance-margin brackets per market, asked for once and remembered.

:class:`BracketBook` is how :class:`~bot.analysis.service.MarketService` knows the
brackets before a market's first analysis: each (exchange, symbol) is asked once
(concurrent first requests share the question) and the answer is remembered — ``None``
too, so a venue without public brackets is not asked again. A venue that is briefly
unreachable is asked again after a refresh interval; the analysis meanwhile estimates it
with the engine's default table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from bot.analysis.render_cache import CoalescingCache
from bot.market.errors import MarketError, TemporaryMarketError
from bot.market.port import MarketSource
from core.brackets import Brackets
from core.models import ModelError

__all__ = ["BracketBook"]

log = logging.getLogger(__name__)


class BracketBook:
    """Brackets per (exchange, symbol), fetched once through ``sources`` (see the module
    docstring); ``retry_after_ms`` is how long a briefly unreachable venue is left alone."""

    def __init__(
        self,
        sources: Mapping[str, MarketSource],
        *,
        clock: Callable[[], int],
        retry_after_ms: int,
    ) -> None:
        self.sources = sources
        self.clock = clock
        self.retry_after_ms = retry_after_ms
        #: (exchange, symbol) → the venue's brackets, or None (not public: the default table)
        self._brackets: dict[tuple[str, str], Brackets | None] = {}
        self._fetches: CoalescingCache[Brackets | None] = CoalescingCache(max_entries=0)
        #: markets whose bracket fetch failed for now (logged once, asked again)
        self._retries: set[tuple[str, str]] = set()
        #: (exchange, symbol) → not before (ms): brackets briefly unreachable
        self._retry_at: dict[tuple[str, str], int] = {}

    def known(self, exchange: str, symbol: str) -> bool:
        """Whether the market's answer is in (brackets, or ``None`` for the default table)."""
        return (exchange, symbol) in self._brackets

    async def get(self, symbol: str, exchanges: Sequence[str]) -> dict[str, Brackets]:
        """Each exchange's brackets for ``symbol``, where it reports them (never raises)."""
        found = await asyncio.gather(*(self._market(ex, symbol) for ex in exchanges))
        return {ex: b for ex, b in zip(exchanges, found, strict=True) if b is not None}

    async def _market(self, exchange: str, symbol: str) -> Brackets | None:
        market = (exchange, symbol)
        if market in self._brackets:
            return self._brackets[market]
        if self.clock() < self._retry_at.get(market, 0):
            return None  # briefly unreachable: not asked again within a refresh interval

        async def ask() -> Brackets | None:
            try:
                found = await self.sources[exchange].fetch_brackets(symbol)
            except TemporaryMarketError as exc:
                self._retry_at[market] = self.clock() + self.retry_after_ms
                if market not in self._retries:  # log the first miss only
                    self._retries.add(market)
                    log.info("%s %s: brackets unavailable (%s); default table", *market, exc)
                return None  # not remembered: asked again next time
            except (MarketError, ModelError) as exc:
                found = None
                log.info("%s %s: brackets unusable (%s); default table", *market, exc)
            except Exception:
                found = None
                log.warning(
                    "%s %s: fetching brackets failed; default table", *market, exc_info=True
                )
            else:
                if found is None:
                    log.info("%s %s: brackets not public; default table", *market)
            self._brackets[market] = found
            return found

        return await self._fetches.get(("brackets", exchange, symbol), ask)
