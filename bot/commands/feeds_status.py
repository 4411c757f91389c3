"""The prints-feed lines of ``/status`` (``templates/_feeds.j2``) and what ``/accuracy`` says
about missing prints: per exchange, whether its liquidation stream is connected, how old its
last print is, how much of the last 24 h it covered (:mod:`bot.state.feeds`), and what the
exchange withholds by design (Binance pushes at most one liquidation per symbol per second,
so real totals are higher than any feed of it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Final

from bot.analysis.service import MarketService
from bot.market.exchanges import EXCHANGES
from bot.state.feeds import GAP_TOLERANCE_MS, FeedLog, FeedRecord, covered_ms, uncovered
from bot.state.store import Store

__all__ = [
    "PRINT_CAPS",
    "STALE_MS",
    "capped_feeds",
    "feed_gaps",
    "feeds_context",
    "span_text",
    "status_feeds",
]

#: what an exchange's stream leaves out by design, by exchange id
PRINT_CAPS: Final[Mapping[str, str]] = {
    "binanceusdm": "sends at most one print per symbol per second: real totals are higher",
}
#: a sample older than this: the state is unknown (no `liqwatch run` samples the feed)
STALE_MS: Final = 5 * 60_000
_DAY: Final = 86_400_000


def span_text(ms: int) -> str:
    """``1h 52m``, ``45m``, ``3d 4h``: a gap, to the minute."""
    minutes = max(0, ms) // 60_000
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"


def capped_feeds(venues: Sequence[str]) -> list[dict[str, str]]:
    """``[{"exchange": "binanceusdm", "cap": "sends at most one print …"}]`` of ``venues``."""
    return [{"exchange": v, "cap": PRINT_CAPS[v]} for v in venues if v in PRINT_CAPS]


def feed_gaps(store: Store, venues: Sequence[str], start: int, end: int) -> list[dict[str, Any]]:
    """The venues whose prints were not collected for more than a minute of ``[start, end)``
    (feed down, or the bot not running), with how long (blocking SQLite)."""
    records = FeedLog(store).records()
    out = []
    for venue in venues:
        record = records.get(venue)
        if record is None:
            continue
        missing = sum(b - a for a, b in uncovered(record.spans, start, end))
        if missing > GAP_TOLERANCE_MS:
            out.append({"exchange": venue, "missing_ms": missing, "missing": span_text(missing)})
    return out


def _streamed(record: FeedRecord, now: int) -> dict[str, Any]:
    last = record.last
    stale = last is None or now - last.at > STALE_MS
    # over the last 24 h, or since the feed was first seen up when that is later
    begin = max(now - _DAY, record.spans[0][0]) if record.spans else now - _DAY
    span = max(1, now - begin)
    return {
        "exchange": record.exchange,
        "kind": "streamed",
        "state": "unknown" if stale else ("connected" if record.up else "down"),
        "seen": "never" if last is None else f"{span_text(now - last.at)} ago",
        "since": None if record.since is None else span_text(now - record.since),
        "print_age_ms": None
        if last is None or last.last_print_ms is None
        else max(0, now - last.last_print_ms),
        "prints": 0 if last is None else last.prints,
        "last_error": None if last is None else last.last_error,
        "coverage": covered_ms(record.spans, begin, now) / span,
        "window": span_text(span),
        "cap": PRINT_CAPS.get(record.exchange),
    }


def feeds_context(store: Store, exchanges: Sequence[str], now: int) -> list[dict[str, Any]]:
    """One entry per exchange for ``_feeds.j2`` (blocking SQLite)."""
    records = FeedLog(store).records()
    out: list[dict[str, Any]] = []
    for exchange in exchanges:
        if exchange in records:
            out.append(_streamed(records[exchange], now))
        elif exchange in EXCHANGES:  # a live exchange nobody streams from this database
            out.append({"exchange": exchange, "kind": "not_running",
                        "cap": PRINT_CAPS.get(exchange)})  # fmt: skip
        else:  # the synthetic market, recorded data: prints come with the data
            kind = "synthetic" if exchange == "sim" else "recorded"
            out.append({"exchange": exchange, "kind": kind, "cap": None})
    return out


async def status_feeds(service: MarketService) -> list[dict[str, Any]]:
    """:func:`feeds_context` for the service's exchanges, now; [] without a store."""
    store = service.store
    if not isinstance(store, Store):
        return []
    return await asyncio.to_thread(feeds_context, store, service.exchanges, service.clock())
