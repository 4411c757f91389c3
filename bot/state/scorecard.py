"""Storage and rolling windows of the live scorecard (table ``live_scores``, schema v3).

Each scored hour is one row per side holding its :class:`~core.livescore.HourScore`;
:meth:`ScoreBook.scorecard` pools the hours of a window (24 h / 7 d / 30 d …) into a
:class:`~core.livescore.SideSummary` — the query ``/accuracy`` is built on::

    book.scorecard("BTC/USDT:USDT", "long", window_ms=7 * DAY_MS, now=now_ms)

Blocking SQLite like the store: call it through :func:`asyncio.to_thread` from asyncio code.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any, Final

from bot.state.archive import venues_key
from bot.state.store import Store
from core.livescore import HourScore, SideSummary, summarise

__all__ = ["WINDOWS", "ScoreBook"]

_H: Final = 3_600_000
#: the rolling windows the scorecard is kept for, by label
WINDOWS: Final = {"24h": 24 * _H, "7d": 7 * 24 * _H, "30d": 30 * 24 * _H}


def _dump(score: HourScore) -> str:
    doc = {
        k: (None if isinstance(v, float) and math.isnan(v) else v)
        for k, v in dataclasses.asdict(score).items()
    }
    return json.dumps(doc, separators=(",", ":"))


def _load(text: str) -> HourScore:
    doc: dict[str, Any] = json.loads(text)
    fields = {f.name: f.type for f in dataclasses.fields(HourScore)}
    for key, kind in fields.items():
        if doc.get(key) is None and kind == "float":
            doc[key] = math.nan
    return HourScore(**doc)


class ScoreBook:
    """Scored hours per market and side, and their rolling summaries."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(
        self, symbol: str, venues: Sequence[str], hour: int, scores: Sequence[HourScore]
    ) -> None:
        """Record the sides of one hour (re-scoring an hour replaces it)."""
        rows = [(symbol, venues_key(venues), hour, s.side, s.status, _dump(s)) for s in scores]
        with self.store.locked(write=True) as conn:
            conn.executemany("INSERT OR REPLACE INTO live_scores VALUES (?, ?, ?, ?, ?, ?)", rows)

    def last_hour(self, symbol: str, venues: Sequence[str]) -> int | None:
        """Start of the newest scored hour of the market, or None."""
        with self.store.locked() as conn:
            row = conn.execute(
                "SELECT max(hour) FROM live_scores WHERE symbol = ? AND venues = ?",
                (symbol, venues_key(venues)),
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def hours(
        self,
        symbol: str,
        side: str,
        *,
        since: int,
        until: int,
        venues: Sequence[str] | None = None,
    ) -> list[tuple[int, HourScore]]:
        """(hour start, score) of one side with ``since <= hour < until``, oldest first."""
        sql = (
            "SELECT hour, detail FROM live_scores WHERE symbol = ? AND side = ? "
            "AND hour >= ? AND hour < ?"
        )
        args: list[object] = [symbol, side, since, until]
        if venues is not None:
            sql += " AND venues = ?"
            args.append(venues_key(venues))
        with self.store.locked() as conn:
            rows = conn.execute(sql + " ORDER BY hour", args).fetchall()
        return [(int(h), _load(d)) for h, d in rows]

    def scorecard(
        self,
        symbol: str,
        side: str,
        *,
        window_ms: int,
        now: int,
        venues: Sequence[str] | None = None,
    ) -> SideSummary:
        """The pooled scores of ``side`` over the hours starting in ``[now − window, now)``."""
        found = self.hours(symbol, side, since=now - window_ms, until=now, venues=venues)
        return summarise(side, [s for _, s in found])

    def prune(self, before: int) -> int:
        """Drop the hours that started before ``before``; returns the rows dropped."""
        with self.store.locked(write=True) as conn:
            return conn.execute("DELETE FROM live_scores WHERE hour < ?", (before,)).rowcount
