"""SQLite store: the market-data cache (candles with derivatives data, order books,
liquidation prints), fetch status per market, and a small key-value table.

One file holds everything the bot must remember across restarts; later schema versions add
the bot's own state (subscriptions, chat settings, alert cooldowns, sent-alert keys, threads)
as further entries of :data:`bot.state.schema.MIGRATIONS`.

Threading rule: a :class:`Store` owns one connection guarded by a lock, so any thread may call
it. Every method blocks on disk I/O; from asyncio code call it through
``await asyncio.to_thread(store.save_series, ...)``, never directly on the event loop.

Each write method is one transaction: after a crash the database holds every batch that a
call returned from, complete, and nothing of the batch that was being written.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

import numpy as np

from bot.state.schema import MIGRATIONS
from bot.state.sqlite import (
    StoreError,
    decode_floats,
    encode_floats,
    migrate,
    open_connection,
    transaction,
)
from core.models import FloatArray, LiquidationPrints, MarketSeries, OrderBook

__all__ = ["MIGRATIONS", "MarketStatus", "Store", "StoreError"]

#: Optional MarketSeries columns, in the bit order of ``candles.present``.
_OPTIONAL: Final = ("taker_buy_volume", "open_interest", "funding_rate", "long_short_ratio")
_CANDLE_COLUMNS: Final = ("ts", "open", "high", "low", "close", "volume", *_OPTIONAL, "present")


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """What the cache holds for one (exchange, symbol, timeframe), for ``/status``."""

    exchange: str
    symbol: str
    timeframe: str
    candles: int
    first_candle_at: int | None
    last_candle_at: int | None
    last_fetch_at: int | None
    last_error: str | None


class Store:
    """The bot's SQLite database. ``":memory:"`` gives a private in-memory one (tests)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = open_connection(path)
        try:
            self.schema_version = migrate(self._conn, MIGRATIONS)
        except BaseException:
            self._conn.close()
            raise

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def locked(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection under the store's lock; ``write=True`` wraps it in one transaction.

        The hook other modules (``bot.state.subscriptions``) use for their own tables.
        """
        with self._lock:
            if write:
                with transaction(self._conn) as conn:
                    yield conn
            else:
                yield self._conn

    def journal_mode(self) -> str:
        """``"wal"`` for a file database (``"memory"`` for ``":memory:"``)."""
        with self._lock:
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    # --- candles -----------------------------------------------------------------------------

    def last_candle_time(self, exchange: str, symbol: str, timeframe: str) -> int | None:
        """Open time (Unix ms) of the newest cached candle — fetch from here on."""
        with self._lock:
            row = self._conn.execute(
                "SELECT max(c.ts) FROM candles c JOIN markets m ON m.id = c.market_id "
                "WHERE m.exchange = ? AND m.symbol = ? AND m.timeframe = ?",
                (exchange, symbol, timeframe),
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def save_series(self, exchange: str, symbol: str, timeframe: str, series: MarketSeries) -> int:
        """Upsert every candle of ``series`` in one transaction; returns the rows written.

        A candle already cached at the same open time is replaced — the still-forming last
        candle is fetched again and again until it closes.
        """
        if not len(series):
            return 0
        columns: list[Sequence[float | None]] = [
            series.timestamps.tolist(),
            *(getattr(series, name).tolist() for name in _CANDLE_COLUMNS[1:6]),
        ]
        present = 0
        for bit, name in enumerate(_OPTIONAL):
            values: FloatArray | None = getattr(series, name)
            if values is None:
                columns.append([None] * len(series))
            else:
                present |= 1 << bit
                columns.append(values.tolist())  # NaN is stored as NULL
        columns.append([present] * len(series))
        with self._lock, transaction(self._conn) as conn:
            market_id = self._market_id(conn, exchange, symbol, timeframe)
            conn.executemany(
                f"INSERT OR REPLACE INTO candles (market_id, {', '.join(_CANDLE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * (len(_CANDLE_COLUMNS) + 1))})",
                ((market_id, *row) for row in zip(*columns, strict=True)),
            )
        return len(series)

    def load_series(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        since: int | None = None,
        until: int | None = None,
    ) -> MarketSeries | None:
        """Cached candles with ``since <= open time <= until`` (both optional), oldest first.

        None when no candle matches. An optional column comes back as None when no candle in
        the range had it, else with NaN where a candle had no value. ``taker_buy_volume``
        cannot carry gaps, so it comes back only if every candle in the range has it.
        """
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {', '.join('c.' + c for c in _CANDLE_COLUMNS)} "
                "FROM candles c JOIN markets m ON m.id = c.market_id "
                "WHERE m.exchange = ? AND m.symbol = ? AND m.timeframe = ? "
                "AND c.ts >= ? AND c.ts <= ? ORDER BY c.ts",
                (exchange, symbol, timeframe, _lowest(since), _highest(until)),
            ).fetchall()
        if not rows:
            return None
        # one float64 matrix: NULL → NaN; times and masks are exact (|value| < 2**53)
        table = np.array(rows, dtype=np.float64)
        present = table[:, -1].astype(np.int64)
        optional: dict[str, FloatArray | None] = {}
        for bit, name in enumerate(_OPTIONAL):
            given = (present >> bit) & 1 == 1
            needed = given.all() if name == "taker_buy_volume" else given.any()
            optional[name] = np.where(given, table[:, 6 + bit], np.nan) if needed else None
        return MarketSeries(
            timestamps=table[:, 0].astype(np.int64),
            open=table[:, 1],
            high=table[:, 2],
            low=table[:, 3],
            close=table[:, 4],
            volume=table[:, 5],
            **optional,
        )

    def prune_candles(self, before: int) -> int:
        """Drop every cached candle that opened before ``before`` (Unix ms); returns the count."""
        with self._lock, transaction(self._conn) as conn:
            return conn.execute("DELETE FROM candles WHERE ts < ?", (before,)).rowcount

    # --- order books ---------------------------------------------------------------------------

    def save_book(self, exchange: str, symbol: str, book: OrderBook) -> None:
        """Keep ``book`` as the latest order book of the market (replacing the previous one)."""
        with self._lock, transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO order_books VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    exchange,
                    symbol,
                    int(book.timestamp),
                    encode_floats(book.bid_prices),
                    encode_floats(book.bid_sizes),
                    encode_floats(book.ask_prices),
                    encode_floats(book.ask_sizes),
                ),
            )

    def load_book(self, exchange: str, symbol: str) -> OrderBook | None:
        """The latest saved order book of the market, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT ts, bid_prices, bid_sizes, ask_prices, ask_sizes FROM order_books "
                "WHERE exchange = ? AND symbol = ?",
                (exchange, symbol),
            ).fetchone()
        if row is None:
            return None
        ts, *blobs = row
        bid_prices, bid_sizes, ask_prices, ask_sizes = (decode_floats(b) for b in blobs)
        return OrderBook(int(ts), bid_prices, bid_sizes, ask_prices, ask_sizes)

    # --- liquidation prints ------------------------------------------------------------------

    def save_prints(self, exchange: str, symbol: str, prints: LiquidationPrints) -> int:
        """Add reported liquidations, skipping any already stored; returns how many were new.

        Prints are identical when time, side, price and notional all match.
        """
        rows = zip(
            prints.times.tolist(),
            prints.sides.tolist(),
            prints.prices.tolist(),
            prints.notionals.tolist(),
            strict=True,
        )
        with self._lock, transaction(self._conn) as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO liquidation_prints VALUES (?, ?, ?, ?, ?, ?)",
                ((exchange, symbol, *row) for row in rows),
            )
            return conn.total_changes - before

    def load_prints(
        self, exchange: str, symbol: str, since: int | None = None, until: int | None = None
    ) -> LiquidationPrints:
        """Stored liquidations with ``since <= time <= until``, sorted by time (maybe empty)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT ts, side, price, notional FROM liquidation_prints "
                "WHERE exchange = ? AND symbol = ? AND ts >= ? AND ts <= ? "
                "ORDER BY ts, side, price, notional",
                (exchange, symbol, _lowest(since), _highest(until)),
            ).fetchall()
        if not rows:
            return LiquidationPrints.empty()
        times, sides, prices, notionals = zip(*rows, strict=True)
        return LiquidationPrints(
            times=np.array(times, dtype=np.int64),
            sides=np.array(sides, dtype=np.int8),
            prices=np.array(prices, dtype=np.float64),
            notionals=np.array(notionals, dtype=np.float64),
        )

    # --- fetch status and key-value ------------------------------------------------------------

    def record_fetch(
        self, exchange: str, symbol: str, timeframe: str, at: int, error: str | None = None
    ) -> None:
        """Note a fetch attempt of the market at ``at`` (Unix ms) and its error, if any."""
        with self._lock, transaction(self._conn) as conn:
            market_id = self._market_id(conn, exchange, symbol, timeframe)
            conn.execute(
                "UPDATE markets SET last_fetch_at = ?, last_error = ? WHERE id = ?",
                (at, error, market_id),
            )

    def market_status(self) -> list[MarketStatus]:
        """Per cached (exchange, symbol, timeframe): candle count and span, last fetch, error."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT m.exchange, m.symbol, m.timeframe, count(c.ts), min(c.ts), max(c.ts), "
                "m.last_fetch_at, m.last_error "
                "FROM markets m LEFT JOIN candles c ON c.market_id = m.id "
                "GROUP BY m.id ORDER BY m.exchange, m.symbol, m.timeframe"
            ).fetchall()
        return [MarketStatus(*row) for row in rows]

    def set_meta(self, key: str, value: str | None) -> None:
        """Store a small text value under ``key`` (None deletes it)."""
        with self._lock, transaction(self._conn) as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # --- internals -------------------------------------------------------------------------

    @staticmethod
    def _market_id(conn: sqlite3.Connection, exchange: str, symbol: str, timeframe: str) -> int:
        conn.execute(
            "INSERT OR IGNORE INTO markets (exchange, symbol, timeframe) VALUES (?, ?, ?)",
            (exchange, symbol, timeframe),
        )
        row = conn.execute(
            "SELECT id FROM markets WHERE exchange = ? AND symbol = ? AND timeframe = ?",
            (exchange, symbol, timeframe),
        ).fetchone()
        return int(row[0])


def _lowest(since: int | None) -> int:
    return -(2**63) if since is None else int(since)


def _highest(until: int | None) -> int:
    return 2**63 - 1 if until is None else int(until)
