"""Single-flight LRU cache: identical concurrent requests share one computation.

A chart render takes ~0.1–1 s of CPU; a popular ``/heatmap BTC`` in a busy group can be
asked for dozens of times in a few seconds. :class:`CoalescingCache` keys each result by
everything that determines it (kind, symbol, range, exchanges, style and the *data
version* — the last candle time of each market), so:

* a second request while the first is still computing awaits the same future
  (50 identical requests → 1 render), and
* a finished result is kept in a small LRU until newer data changes the key.

A failed computation is not cached: every waiter gets the exception, and the next request
tries again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["CoalescingCache"]

T = TypeVar("T")


class CoalescingCache(Generic[T]):
    """LRU of finished results plus a table of in-flight futures, by hashable key."""

    def __init__(self, max_entries: int = 32) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        self._done: OrderedDict[Hashable, T] = OrderedDict()
        self._in_flight: dict[Hashable, asyncio.Future[T]] = {}
        #: computations actually started (cache misses that were not coalesced)
        self.computed = 0
        #: requests answered from the LRU or by joining an in-flight computation
        self.hits = 0

    def __len__(self) -> int:
        return len(self._done)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._done

    def clear(self) -> None:
        """Forget finished results (in-flight computations still complete for their waiters)."""
        self._done.clear()

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The result for ``key``: cached, joined in flight, or computed now by ``compute``."""
        if key in self._done:
            self._done.move_to_end(key)
            self.hits += 1
            return self._done[key]
        pending = self._in_flight.get(key)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        self.computed += 1
        try:
            result = await compute()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            elif not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(result)
            self._store(key, result)
            return result
        finally:
            del self._in_flight[key]

    def _store(self, key: Hashable, value: T) -> None:
        if self.max_entries == 0:
            return
        self._done[key] = value
        self._done.move_to_end(key)
        while len(self._done) > self.max_entries:
            self._done.popitem(last=False)
