"""bot.state.store: the SQLite series cache — exact round trips, upserts, ranges, durability."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.state.sqlite import StoreError, migrate, open_connection
from bot.state.store import MIGRATIONS, MarketStatus, Store
from core.models import LiquidationPrints, MarketSeries, OrderBook, Side
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT
MINUTE = 60_000
OPTIONAL = ("taker_buy_volume", "open_interest", "funding_rate", "long_short_ratio")


def make_series(
    n: int,
    *,
    start: int = 1_700_000_000_000,
    step: int = 5 * MINUTE,
    optional: bool = True,
    seed: int = 0,
) -> MarketSeries:
    """A random-walk market with awkward floats (full 53-bit mantissas) and NaN gaps."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    open_ = np.concatenate([[close[0] / (1 + rng.normal(0, 0.003))], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.random(n) * 0.002)
    low = np.minimum(open_, close) * (1 - rng.random(n) * 0.002)
    volume = rng.random(n) * 1e3 + 1.0 / 3.0
    extra: dict[str, np.ndarray] = {}
    if optional:
        open_interest = 8e4 + np.cumsum(rng.normal(0, 50, n))
        open_interest[rng.random(n) < 0.2] = np.nan
        funding = rng.normal(0, 1e-4, n)
        funding[: n // 3] = np.nan
        extra = {
            "taker_buy_volume": volume * rng.random(n),
            "open_interest": open_interest,
            "funding_rate": funding,
            "long_short_ratio": np.full(n, np.nan),  # a column that is present but all gaps
        }
    timestamps = start + step * np.arange(n, dtype=np.int64)
    return MarketSeries(timestamps, open_, high, low, close, volume, **extra)


def assert_same(got: MarketSeries | None, want: MarketSeries) -> None:
    assert got is not None
    np.testing.assert_array_equal(got.timestamps, want.timestamps)
    assert got.timestamps.dtype == np.int64
    for name in ("open", "high", "low", "close", "volume", *OPTIONAL):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == np.float64
            # exact float equality, NaN exactly where NaN
            assert np.array_equal(a, b, equal_nan=True), name


@pytest.fixture
def store() -> Iterator[Store]:
    with Store(":memory:") as memory_store:
        yield memory_store


# --- candles -------------------------------------------------------------------------------


@pytest.mark.parametrize("optional", [True, False])
def test_round_trip_is_exact(store: Store, optional: bool) -> None:
    series = make_series(500, optional=optional)
    assert store.save_series("binanceusdm", "BTC/USDT:USDT", "5m", series) == 500
    assert_same(store.load_series("binanceusdm", "BTC/USDT:USDT", "5m"), series)
    assert store.last_candle_time("binanceusdm", "BTC/USDT:USDT", "5m") == series.timestamps[-1]


def test_unknown_market_and_empty_series(store: Store) -> None:
    assert store.load_series("okx", "BTC", "5m") is None
    assert store.last_candle_time("okx", "BTC", "5m") is None
    assert store.save_series("okx", "BTC", "5m", make_series(1).slice(0, 0)) == 0
    assert store.market_status() == []


def test_refetched_last_candle_replaces_the_cached_one(store: Store) -> None:
    first = make_series(10, seed=1)
    store.save_series("bybit", "ETH", "5m", first)
    # the next fetch starts at the still-forming last candle: it comes back changed, plus one
    refetch = make_series(2, start=int(first.timestamps[-1]), seed=2)
    assert store.save_series("bybit", "ETH", "5m", refetch) == 2
    loaded = store.load_series("bybit", "ETH", "5m")
    assert loaded is not None and len(loaded) == 11
    assert_same(loaded.slice(0, 9), first.slice(0, 9))
    assert_same(loaded.slice(9), refetch)
    assert store.last_candle_time("bybit", "ETH", "5m") == refetch.timestamps[-1]
    assert store.market_status()[0].candles == 11


def test_since_until_are_inclusive(store: Store) -> None:
    series = make_series(20)
    store.save_series("okx", "SOL", "5m", series)
    t = series.timestamps
    assert_same(store.load_series("okx", "SOL", "5m", since=int(t[5])), series.slice(5))
    assert_same(store.load_series("okx", "SOL", "5m", until=int(t[5])), series.slice(0, 6))
    window = store.load_series("okx", "SOL", "5m", since=int(t[3]) - 1, until=int(t[7]) + 1)
    assert_same(window, series.slice(3, 8))
    assert store.load_series("okx", "SOL", "5m", since=int(t[-1]) + 1) is None


def test_markets_are_kept_apart(store: Store) -> None:
    a, b, c = make_series(5, seed=1), make_series(5, seed=2), make_series(5, seed=3)
    store.save_series("binanceusdm", "BTC", "5m", a)
    store.save_series("bybit", "BTC", "5m", b)
    store.save_series("binanceusdm", "BTC", "1h", c)
    assert_same(store.load_series("binanceusdm", "BTC", "5m"), a)
    assert_same(store.load_series("bybit", "BTC", "5m"), b)
    assert_same(store.load_series("binanceusdm", "BTC", "1h"), c)


def test_batches_with_and_without_optional_columns(store: Store) -> None:
    """Absent columns and gaps stay distinct across batches of different shape."""
    plain = make_series(6, optional=False, seed=1)
    rich = make_series(6, start=int(plain.timestamps[-1]) + 5 * MINUTE, seed=2)
    store.save_series("okx", "BTC", "5m", plain)
    store.save_series("okx", "BTC", "5m", rich)
    both = store.load_series("okx", "BTC", "5m")
    assert both is not None and len(both) == 12
    assert both.open_interest is not None and rich.open_interest is not None
    assert np.isnan(both.open_interest[:6]).all()
    assert np.array_equal(both.open_interest[6:], rich.open_interest, equal_nan=True)
    assert both.taker_buy_volume is None  # cannot carry gaps: only when every candle has it
    assert_same(store.load_series("okx", "BTC", "5m", since=int(rich.timestamps[0])), rich)
    assert_same(store.load_series("okx", "BTC", "5m", until=int(plain.timestamps[-1])), plain)


def test_prune_candles(store: Store) -> None:
    series = make_series(10)
    store.save_series("okx", "BTC", "5m", series)
    assert store.prune_candles(int(series.timestamps[4])) == 4
    assert_same(store.load_series("okx", "BTC", "5m"), series.slice(4))


# --- books, prints, meta, status --------------------------------------------------------------


def test_latest_order_book_per_market(store: Store) -> None:
    rng = np.random.default_rng(3)
    bids = 100.0 - np.cumsum(rng.random(50) + 0.01)
    asks = 100.5 + np.cumsum(rng.random(40) + 0.01)
    book = OrderBook(1_700_000_000_123, bids, rng.random(50) * 7, asks, rng.random(40) / 3)
    assert store.load_book("okx", "BTC") is None
    store.save_book(
        "okx", "BTC", OrderBook(1, np.array([1.0]), np.ones(1), np.array([2.0]), np.ones(1))
    )
    store.save_book("okx", "BTC", book)
    store.save_book("okx", "ETH", OrderBook(5, np.empty(0), np.empty(0), np.empty(0), np.empty(0)))
    got = store.load_book("okx", "BTC")
    assert got is not None and got.timestamp == book.timestamp
    for name in ("bid_prices", "bid_sizes", "ask_prices", "ask_sizes"):
        assert getattr(got, name).tobytes() == getattr(book, name).tobytes()
    empty = store.load_book("okx", "ETH")
    assert empty is not None and len(empty.bid_prices) == 0 and len(empty.ask_sizes) == 0


def prints(rows: list[tuple[int, Side, float, float]]) -> LiquidationPrints:
    times, sides, prices, notionals = zip(*rows, strict=True)
    return LiquidationPrints(
        np.array(times), np.array(sides), np.array(prices), np.array(notionals)
    )


def test_prints_are_deduplicated_and_ranged(store: Store) -> None:
    first = prints(
        [(10, Side.LONG, 99.5, 1e5), (20, Side.SHORT, 101.25, 2.5e5), (20, Side.LONG, 99.0, 1e4)]
    )
    assert store.save_prints("bybit", "BTC", first) == 3
    overlap = prints([(20, Side.SHORT, 101.25, 2.5e5), (30, Side.SHORT, 102.0, 1 / 3)])
    assert store.save_prints("bybit", "BTC", overlap) == 1
    assert store.save_prints("bybit", "BTC", LiquidationPrints.empty()) == 0
    got = store.load_prints("bybit", "BTC")
    assert got.times.tolist() == [10, 20, 20, 30]
    assert got.sides.tolist() == [1, -1, 1, -1]
    assert got.notionals.tolist() == [1e5, 2.5e5, 1e4, 1 / 3]
    assert store.load_prints("bybit", "BTC", since=20, until=20).times.tolist() == [20, 20]
    assert len(store.load_prints("bybit", "BTC", since=31)) == 0
    assert len(store.load_prints("okx", "BTC")) == 0


def test_meta_values(store: Store) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "one")
    store.set_meta("k", "two")
    assert store.get_meta("k") == "two"
    store.set_meta("k", None)
    assert store.get_meta("k") is None


def test_market_status(store: Store) -> None:
    series = make_series(7)
    store.save_series("okx", "BTC", "5m", series)
    store.record_fetch("okx", "BTC", "5m", at=111, error="timeout")
    store.record_fetch("bybit", "ETH", "1h", at=222)
    assert store.market_status() == [
        MarketStatus("bybit", "ETH", "1h", 0, None, None, 222, None),
        MarketStatus(
            "okx",
            "BTC",
            "5m",
            7,
            int(series.timestamps[0]),
            int(series.timestamps[-1]),
            111,
            "timeout",
        ),
    ]
    store.record_fetch("okx", "BTC", "5m", at=333)
    assert store.market_status()[1].last_error is None


# --- database file: WAL, schema, threads, crash ----------------------------------------------


def test_file_database_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    with Store(path) as store:
        assert store.journal_mode() == "wal"
        store.save_series("okx", "BTC", "5m", make_series(3))
        assert (tmp_path / "cache.sqlite3-wal").exists()
        other = sqlite3.connect(path)
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT count(*) FROM candles").fetchone()[0] == 3
        other.close()


def test_schema_version_and_reopening_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    series = make_series(4)
    with Store(path) as first, Store(path) as second:  # two connections, one migration
        assert first.schema_version == second.schema_version == len(MIGRATIONS)
        first.save_series("okx", "BTC", "5m", series)
        assert_same(second.load_series("okx", "BTC", "5m"), series)
    with Store(path) as again:
        assert again.schema_version == len(MIGRATIONS)
        assert_same(again.load_series("okx", "BTC", "5m"), series)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    raw.close()


def test_forward_migration_runs_once_and_rolls_back_on_failure(tmp_path: Path) -> None:
    conn = open_connection(tmp_path / "m.sqlite3")
    base = MIGRATIONS[:1]
    assert migrate(conn, base) == 1
    step2 = ("CREATE TABLE step_two (chat TEXT PRIMARY KEY)",)
    assert migrate(conn, (*base, step2)) == 2
    assert migrate(conn, (*base, step2)) == 2  # CREATE TABLE would fail if re-run
    broken = ("CREATE TABLE step_three (key TEXT)", "CREATE TABLE oops (")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, (*base, step2, broken))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "step_two" in tables
    assert "step_three" not in tables
    with pytest.raises(StoreError, match="newer than this liqwatch"):
        migrate(conn, base)
    conn.close()
    newer = len(MIGRATIONS) + 1
    future = open_connection(tmp_path / "future.sqlite3")
    migrate(future, (*MIGRATIONS, ("CREATE TABLE from_the_future (x)",)))
    future.close()
    with pytest.raises(StoreError, match=f"schema version {newer}"):
        Store(tmp_path / "future.sqlite3")


async def test_concurrent_use_from_threads(tmp_path: Path) -> None:
    with Store(tmp_path / "t.sqlite3") as store:
        batches = [make_series(200, seed=i) for i in range(8)]
        await asyncio.gather(
            *(
                asyncio.to_thread(store.save_series, "okx", f"S{i}", "5m", series)
                for i, series in enumerate(batches)
            ),
            *(asyncio.to_thread(store.market_status) for _ in range(8)),
        )
        for i, series in enumerate(batches):
            assert_same(await asyncio.to_thread(store.load_series, "okx", f"S{i}", "5m"), series)


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from bot.state.store import Store
    from core.models import MarketSeries

    store = Store(sys.argv[1])
    size = int(sys.argv[2])
    batch = 0
    while True:
        ts = (batch * size + np.arange(size, dtype=np.int64)) * 60_000
        price = np.full(size, 100.0 + batch)
        volume = np.full(size, float(batch))  # tags every candle with its batch
        store.save_series("x", "BTC", "1m", MarketSeries(ts, price, price, price, price, volume))
        print(batch, flush=True)
        batch += 1
    """
)


def test_sigkill_mid_write_leaves_only_complete_batches(tmp_path: Path) -> None:
    path, size = tmp_path / "kill.sqlite3", 20_000
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(size)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    committed = [int(writer.stdout.readline()) for _ in range(3)]
    time.sleep(0.013)  # land inside the next batch's transaction (each takes ~tens of ms)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    with Store(path) as store:
        series = store.load_series("x", "BTC", "1m")
    assert series is not None
    batches, counts = np.unique(series.volume, return_counts=True)
    assert (counts == size).all()  # every stored batch is complete
    assert batches.tolist() == list(range(len(batches)))  # and none is missing
    assert len(batches) >= len(committed)  # every batch reported committed survived
    np.testing.assert_array_equal(series.timestamps, np.arange(len(series)) * 60_000)
