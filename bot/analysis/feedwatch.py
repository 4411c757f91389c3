"""The feed monitor: samples each exchange's liquidation-prints watcher into the
:class:`~bot.state.feeds.FeedLog` while ``liqwatch run`` runs.

Every ``every_s`` seconds (and whenever the archiver asks which feeds are up, right before it
scores) each watcher's status is read — connected, reconnects so far, last print, last error
— and recorded with the service clock's time. The log turns the samples into coverage spans,
so an hour with the feed down, a reconnect, or the bot itself stopped is known to be
incomplete and is not scored (:mod:`bot.analysis.archiver`). ``/status`` shows the latest
sample.

A watcher is anything with a ``status`` holding ``connected``, ``reconnects``,
``last_print_ms``, ``last_error`` and ``prints`` (:class:`bot.market.prints_stream.StreamStatus`:
``status`` is a property there; a method is called).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bot.state.feeds import FeedLog, FeedSample

__all__ = ["FeedMonitor"]

log = logging.getLogger(__name__)


def _status(watcher: Any) -> Any:
    status = watcher.status
    return status() if callable(status) else status


class FeedMonitor:
    """Sample ``watchers`` (exchange → prints watcher) into ``log`` (see the module docstring)."""

    def __init__(
        self,
        watchers: Mapping[str, Any],
        log_: FeedLog,
        *,
        clock: Callable[[], int],
        every_s: float = 15.0,
        keep_ms: int = 35 * 86_400_000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.watchers = watchers
        self.log = log_
        self.clock = clock
        self.every_s = every_s
        #: coverage older than this is dropped (the scorecard's longest window is 30 days)
        self.keep_ms = keep_ms
        self.sleep = sleep
        self._samples = 0

    def start(self) -> None:
        """Register every watched exchange: not covered until it is seen up; drop old
        coverage (blocking)."""
        for exchange in self.watchers:
            self.log.register(exchange)
        self.log.prune(self.clock() - self.keep_ms)

    def sample(self) -> dict[str, bool]:
        """Record one look at every watcher; exchange → up now (blocking SQLite)."""
        now = self.clock()
        up: dict[str, bool] = {}
        for exchange, watcher in self.watchers.items():
            try:
                s = _status(watcher)
                sample = FeedSample(
                    at=now,
                    connected=bool(s.connected),
                    reconnects=int(s.reconnects),
                    last_print_ms=s.last_print_ms,
                    last_error=s.last_error,
                    prints=int(s.prints),
                )
            except Exception:  # a broken watcher reads as down, never as up
                log.exception("prints feed %s: status unreadable", exchange)
                sample = FeedSample(at=now, connected=False, last_error="status unreadable")
            record = self.log.sample(exchange, sample)
            up[exchange] = record.up
        return up

    def feeds(self, exchanges: Sequence[str]) -> dict[str, bool]:
        """The archiver's question — which of ``exchanges`` have their feed up — answered
        with a fresh sample; an exchange without a watcher carries its prints with its
        data (the synthetic market, recorded data): up."""
        up = self.sample()
        return {ex: up.get(ex, True) for ex in exchanges}

    async def run(self, stop: asyncio.Event) -> None:
        """Sample every ``every_s`` seconds until ``stop``."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.sample)
                self._samples += 1
                if self._samples % 1000 == 0:  # about every four hours
                    await asyncio.to_thread(self.log.prune, self.clock() - self.keep_ms)
            except Exception:  # the store being briefly busy must not end the monitor
                log.exception("prints feed sample failed")
            await self.sleep(self.every_s)
