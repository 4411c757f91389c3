"""The state database's schema: :data:`MIGRATIONS`, one tuple of statements per version.

``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1`` (``PRAGMA user_version``);
:func:`bot.state.sqlite.migrate` applies the missing steps in one transaction each. Append a
step for every change, never edit one that has shipped: a database written by any earlier
release must open.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS"]

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

#: Version 4: chats dropped because the bot could not reach them, with what they had, until
#: they are told (queries: bot/state/gone.py).
_SCHEMA_V4: Final = (
    """CREATE TABLE gone_chats (
        platform      TEXT NOT NULL,
        chat_id       TEXT NOT NULL,
        dropped_at    INTEGER NOT NULL,  -- Unix ms (wall clock)
        reason        TEXT NOT NULL,     -- what the platform said
        subscriptions TEXT NOT NULL,     -- [[symbol, rule], ...] as JSON
        settings      TEXT NOT NULL,     -- [[rule, mode, threshold], ...] as JSON
        PRIMARY KEY (platform, chat_id)
    ) WITHOUT ROWID""",
)

#: Version 5: alerts waiting for their "what happened next" follow-up, with the id of the
#: message each became (queries: bot/state/followups.py).
_SCHEMA_V5: Final = (
    """CREATE TABLE followups (
        key        TEXT PRIMARY KEY,  -- the alert's delivery key (sent_alerts.key)
        platform   TEXT NOT NULL,
        chat_id    TEXT NOT NULL,
        symbol     TEXT NOT NULL,
        event      TEXT NOT NULL,     -- the alert's AlertEvent as JSON
        message_id TEXT,              -- the platform's id of the alert message; NULL: unknown
        status     TEXT NOT NULL CHECK (status IN ('open', 'sent', 'dropped')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        note       TEXT               -- why it was dropped
    ) WITHOUT ROWID""",
    "CREATE INDEX followups_status ON followups (status)",
)

#: Schema steps: ``MIGRATIONS[i]`` takes version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    _SCHEMA_V1,
    _SCHEMA_V2,
    _SCHEMA_V3,
    _SCHEMA_V4,
    _SCHEMA_V5,
)
