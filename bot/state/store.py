"""SQLite store: the market-data cache (candles with derivatives data, order books,
liquidation prints), fetch status per market, and a small key-value table.

One file holds everything the bot must remember across restarts; later schema versions add
the bot's own state (subscriptions, chat settings, alert cooldowns, sent-alert keys, threads)
as further entries of :data:`MIGRATIONS`.

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

_SCHEMA_V1: Final = (
    """CREATE TABLE markets (
        id            INTEGER PRIMARY KEY,
        exchange      TEXT NOT NULL,
        symbol        TEXT NOT NULL,
        timeframe     TEXT NOT NULL,
        last_fetch_at INTEGER,  -- Unix ms of the last fetch attempt
        last_error    TEXT,     -- its error message; NULL when it succeeded
        UNIQUE (exchange, symbol, timeframe)
    )""",
    # One row per candle. Optional columns are NULL where the series had no such column or the
    # value was NaN (SQLite stores NaN as NULL); bit i of `present` says whether optional
    # column i was given for this candle, so a gap (NaN) and an absent column stay distinct.
    """CREATE TABLE candles (
        market_id        INTEGER NOT NULL REFERENCES markets (id) ON DELETE CASCADE,
        ts               INTEGER NOT NULL,
        open             REAL NOT NULL,
        high             REAL NOT NULL,
        low              REAL NOT NULL,
        close            REAL NOT NULL,
        volume           REAL NOT NULL,
        taker_buy_volume REAL,
        open_interest    REAL,
        funding_rate     REAL,
        long_short_ratio REAL,
        present          INTEGER NOT NULL,
        PRIMARY KEY (market_id, ts)
    ) WITHOUT ROWID""",
    # Latest order book per market; price/size arrays as little-endian float64 BLOBs.
    """CREATE TABLE order_books (
        exchange   TEXT NOT NULL,
        symbol     TEXT NOT NULL,
        ts         INTEGER NOT NULL,
        bid_prices BLOB NOT NULL,
        bid_sizes  BLOB NOT NULL,
        ask_prices BLOB NOT NULL,
        ask_sizes  BLOB NOT NULL,
        PRIMARY KEY (exchange, symbol)
    ) WITHOUT ROWID""",
    # Reported liquidations; the key makes a re-fetched print a no-op.
    """CREATE TABLE liquidation_prints (
        exchange TEXT NOT NULL,
        symbol   TEXT NOT NULL,
        ts       INTEGER NOT NULL,
        side     INTEGER NOT NULL,
        price    REAL NOT NULL,
        notional REAL NOT NULL,
        PRIMARY KEY (exchange, symbol, ts, side, price, notional)
    ) WITHOUT ROWID""",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
)

#: Version 2: the bot's own state — subscriptions, per-chat rule settings, alert rule state,
#: cooldowns, sent-alert keys and the last thread per channel (queries: bot/state/subscriptions.py).
_SCHEMA_V2: Final = (
    """CREATE TABLE subscriptions (
        platform TEXT NOT NULL,
        chat_id  TEXT NOT NULL,
        symbol   TEXT NOT NULL,
        rule     TEXT NOT NULL,
        PRIMARY KEY (platform, chat_id, symbol, rule)
    ) WITHOUT ROWID""",
    """CREATE TABLE chat_settings (
        platform  TEXT NOT NULL,
        chat_id   TEXT NOT NULL,
        rule      TEXT NOT NULL,
        mode      TEXT NOT NULL DEFAULT 'on' CHECK (mode IN ('on', 'silent', 'off')),
        threshold REAL,  -- NULL: the [alerts] default
        PRIMARY KEY (platform, chat_id, rule)
    ) WITHOUT ROWID""",
    """CREATE TABLE alert_state (
        platform TEXT NOT NULL,
        chat_id  TEXT NOT NULL,
        rule     TEXT NOT NULL,
        exchange TEXT NOT NULL,
        symbol   TEXT NOT NULL,
        armed    INTEGER NOT NULL,
        since    INTEGER NOT NULL,  -- candle time of the last transition
        PRIMARY KEY (platform, chat_id, rule, exchange, symbol)
    ) WITHOUT ROWID""",
    """CREATE TABLE cooldowns (
        platform TEXT NOT NULL,
        chat_id  TEXT NOT NULL,
        rule     TEXT NOT NULL,
        symbol   TEXT NOT NULL,
        until    INTEGER NOT NULL,  -- Unix ms
        PRIMARY KEY (platform, chat_id, rule, symbol)
    ) WITHOUT ROWID""",
    # status: pending (handed to the platform) → delivered | retry | failed | abandoned
    """CREATE TABLE sent_alerts (
        key        TEXT PRIMARY KEY,
        platform   TEXT NOT NULL,
        chat_id    TEXT NOT NULL,
        event      TEXT NOT NULL,  -- AlertEvent as JSON
        status     TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        error      TEXT
    ) WITHOUT ROWID""",
    "CREATE INDEX sent_alerts_status ON sent_alerts (status)",
    """CREATE TABLE threads (
        platform   TEXT NOT NULL,
        chat_id    TEXT NOT NULL,
        symbol     TEXT NOT NULL,
        posted_at  INTEGER NOT NULL,  -- Unix ms of the last thread
        title      TEXT NOT NULL,
        PRIMARY KEY (platform, chat_id, symbol)
    ) WITHOUT ROWID""",
)

#: Version 3: the point-in-time map archive and the live scorecard (queries:
#: bot/state/archive.py, bot/state/scorecard.py).
_SCHEMA_V3: Final = (
    # One map as shown at `ts` (its as-of, Unix ms): quantised notionals per bin (see
    # bot/state/archive.py), the reported clusters and zones, and which prints feeds were up.
    """CREATE TABLE archive_maps (
        symbol   TEXT NOT NULL,
        venues   TEXT NOT NULL,  -- the analysed exchanges, comma-separated
        ts       INTEGER NOT NULL,
        price    REAL NOT NULL,
        grid     BLOB NOT NULL,
        long     BLOB NOT NULL,
        short    BLOB NOT NULL,
        levels   TEXT NOT NULL,  -- clusters and zones as JSON
        feeds    TEXT NOT NULL,  -- {exchange: prints feed up} as JSON
        PRIMARY KEY (symbol, venues, ts)
    ) WITHOUT ROWID""",
    # One side of one scored hour [hour, hour + every) against the map archived at `hour`.
    """CREATE TABLE live_scores (
        symbol  TEXT NOT NULL,
        venues  TEXT NOT NULL,
        hour    INTEGER NOT NULL,
        side    TEXT NOT NULL CHECK (side IN ('long', 'short')),
        status  TEXT NOT NULL CHECK (status IN ('scored', 'feed_down', 'no_map')),
        detail  TEXT NOT NULL,  -- the HourScore as JSON (NaN as null)
        PRIMARY KEY (symbol, venues, hour, side)
    ) WITHOUT ROWID""",
)

#: Schema steps: ``MIGRATIONS[i]`` takes version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (_SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3)


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
