"""The prints-feed log: when each exchange's liquidation stream was up, kept in the store.

The live scorecard must never read "no prints" as "no liquidations". A feed is *covered*
over a time span when it was seen connected at every sample of it — the samples of
:class:`~bot.analysis.feedwatch.FeedMonitor`, every few seconds while ``liqwatch run`` runs,
and one more right before each archive cycle scores. The log keeps, per exchange, the spans
of consecutive "up" samples (a sample with a reconnect since the previous one breaks the
span; so does a gap between samples longer than ``max_gap_ms`` — the process was stopped).
A span ends at its last "up" sample: whatever came after it is not covered. An interval with
more than :data:`GAP_TOLERANCE_MS` not covered is *down* for that exchange: reported, not
scored (:mod:`bot.analysis.archiver`).

An exchange with no record at all is not streamed by this bot — the synthetic market and
recorded data carry their prints with the data — and is always covered.

Stored in the store's ``meta`` table, one JSON document per exchange under
``prints_feed:<exchange>`` (no schema change): the spans (pruned by age, at most
:data:`MAX_SPANS`) and the latest sample (connected, last print, last error, reconnects),
which ``/status`` shows. Blocking SQLite: call it through :func:`asyncio.to_thread`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from bot.state.store import Store

__all__ = [
    "GAP_TOLERANCE_MS",
    "MAX_SPANS",
    "FeedLog",
    "FeedRecord",
    "FeedSample",
    "covered_ms",
    "down_venues",
    "uncovered",
]

_KEY: Final = "prints_feed:"
#: an interval missing at most this much coverage is still scored (one reconnect blip)
GAP_TOLERANCE_MS: Final = 60_000
#: spans kept per exchange (a flapping feed cannot grow the record without bound)
MAX_SPANS: Final = 5_000

Span = tuple[int, int]


@dataclass(frozen=True)
class FeedSample:
    """One look at a prints watcher (times are Unix ms)."""

    at: int
    connected: bool
    reconnects: int = 0
    last_print_ms: int | None = None
    last_error: str | None = None
    prints: int = 0


@dataclass(frozen=True)
class FeedRecord:
    """What the log holds for one exchange."""

    exchange: str
    spans: tuple[Span, ...] = ()
    last: FeedSample | None = None
    #: when the feed last went from up to down or back (None: never sampled)
    since: int | None = None

    @property
    def up(self) -> bool:
        return self.last is not None and self.last.connected


def uncovered(spans: Sequence[Span], start: int, end: int) -> list[Span]:
    """The parts of ``[start, end)`` no span covers, in order."""
    out: list[Span] = []
    at = start
    for lo, hi in sorted(spans):
        if hi <= at:
            continue
        if lo >= end:
            break
        if lo > at:
            out.append((at, min(lo, end)))
        at = max(at, hi)
        if at >= end:
            break
    if at < end:
        out.append((at, end))
    return out


def covered_ms(spans: Sequence[Span], start: int, end: int) -> int:
    """How much of ``[start, end)`` the spans cover."""
    return (end - start) - sum(b - a for a, b in uncovered(spans, start, end))


def down_venues(
    records: dict[str, FeedRecord], venues: Sequence[str], start: int, end: int
) -> list[str]:
    """The venues whose feed missed more than :data:`GAP_TOLERANCE_MS` of ``[start, end)``
    (venues without a record are not streamed here: never down)."""
    down = []
    for venue in venues:
        record = records.get(venue)
        if record is None:
            continue
        missing = sum(b - a for a, b in uncovered(record.spans, start, end))
        if missing > GAP_TOLERANCE_MS:
            down.append(venue)
    return down


def _dump(record: FeedRecord) -> str:
    doc: dict[str, Any] = {
        "spans": [list(s) for s in record.spans],
        "last": None if record.last is None else asdict(record.last),
        "since": record.since,
    }
    return json.dumps(doc, separators=(",", ":"))


def _load(exchange: str, text: str) -> FeedRecord:
    doc = json.loads(text)
    last = doc.get("last")
    return FeedRecord(
        exchange,
        tuple((int(a), int(b)) for a, b in doc.get("spans", [])),
        None if last is None else FeedSample(**last),
        doc.get("since"),
    )


class FeedLog:
    """Per-exchange coverage spans and the latest sample, in the store's ``meta`` table."""

    def __init__(self, store: Store, *, max_gap_ms: int = 90_000) -> None:
        self.store = store
        #: samples further apart than this do not join one span (the bot was not running)
        self.max_gap_ms = max_gap_ms

    def record(self, exchange: str) -> FeedRecord | None:
        text = self.store.get_meta(_KEY + exchange)
        return None if text is None else _load(exchange, text)

    def records(self) -> dict[str, FeedRecord]:
        """Every exchange's record, by exchange."""
        with self.store.locked() as conn:
            rows = conn.execute(
                "SELECT key, value FROM meta WHERE key >= ? AND key < ?", (_KEY, _KEY + "\uffff")
            ).fetchall()
        return {k[len(_KEY) :]: _load(k[len(_KEY) :], v) for k, v in rows}

    def register(self, exchange: str) -> None:
        """Start logging ``exchange`` (it is streamed here): until sampled up, not covered."""
        with self.store.locked(write=True) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                (_KEY + exchange, _dump(FeedRecord(exchange))),
            )

    def sample(self, exchange: str, sample: FeedSample) -> FeedRecord:
        """Add one look at the feed; returns the updated record."""
        with self.store.locked(write=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (_KEY + exchange,))
            found = row.fetchone()
            old = FeedRecord(exchange) if found is None else _load(exchange, found[0])
            new = self._next(old, sample)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (_KEY + exchange, _dump(new)),
            )
        return new

    def _next(self, old: FeedRecord, s: FeedSample) -> FeedRecord:
        prev = old.last
        up = s.connected and (prev is None or s.reconnects == prev.reconnects)
        spans = list(old.spans)
        joined = (
            prev is not None
            and prev.connected
            and up
            and spans
            and spans[-1][1] == prev.at
            and 0 <= s.at - prev.at <= self.max_gap_ms
        )
        if joined:
            spans[-1] = (spans[-1][0], s.at)
        elif up:
            spans.append((s.at, s.at))
        since = old.since if prev is not None and prev.connected == s.connected else s.at
        return FeedRecord(old.exchange, tuple(spans[-MAX_SPANS:]), s, since)

    def down(self, venues: Sequence[str], start: int, end: int) -> list[str]:
        """:func:`down_venues` over the stored records."""
        return down_venues(self.records(), venues, start, end)

    def prune(self, before: int) -> None:
        """Drop the spans that ended before ``before`` (one transaction: no sample is lost)."""
        with self.store.locked(write=True) as conn:
            rows = conn.execute(
                "SELECT key, value FROM meta WHERE key >= ? AND key < ?", (_KEY, _KEY + "\uffff")
            ).fetchall()
            for key, value in rows:
                record = _load(key[len(_KEY) :], value)
                kept = tuple(s for s in record.spans if s[1] >= before)
                if kept != record.spans:
                    pruned = FeedRecord(record.exchange, kept, record.last, record.since)
                    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (_dump(pruned), key))
