"""SQLite plumbing for :mod:`bot.state.store`: connection setup, transactions, schema migrations,
and the exact encoding of float arrays as BLOBs.

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A transaction that
returned from COMMIT survives a crash of the process (SIGKILL included); only a power loss or
OS crash may lose the last few commits, and never leaves a half-written one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.models import FloatArray

__all__ = [
    "StoreError",
    "decode_floats",
    "encode_floats",
    "migrate",
    "open_connection",
    "transaction",
]


class StoreError(Exception):
    """The database cannot be used (e.g. its schema is newer than this version of liqwatch)."""


def open_connection(path: Path | str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread.

    The caller serialises access to it (one lock per connection). ``":memory:"`` is allowed.
    """
    conn = sqlite3.connect(
        str(path),
        timeout=10.0,  # wait this long for another process's write lock
        isolation_level=None,
        check_same_thread=False,
    )
    conn.execute("PRAGMA journal_mode=WAL")  # answers "memory" for an in-memory database
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; ``ROLLBACK`` if the block raises.

    IMMEDIATE takes the write lock up front, so two writers never deadlock half-way.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]]) -> int:
    """Bring the schema to version ``len(migrations)``; returns that version.

    ``migrations[i]`` holds the statements that take the schema from version ``i`` to
    ``i + 1`` (the version lives in ``PRAGMA user_version``). All pending steps run in one
    transaction, so a crash leaves the old version intact; running it again is a no-op.
    Migrations only ever move forward: append a step, never edit a released one.
    """
    target = len(migrations)
    with transaction(conn):
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if current > target:
            raise StoreError(
                f"database schema version {current} is newer than this liqwatch "
                f"understands ({target}); upgrade liqwatch or use another storage.path"
            )
        for statements in migrations[current:]:
            for statement in statements:
                conn.execute(statement)
        if current != target:
            conn.execute(f"PRAGMA user_version = {int(target)}")
    return target


def encode_floats(values: FloatArray) -> bytes:
    """Little-endian float64 bytes: exact, compact, independent of the machine."""
    return np.ascontiguousarray(values, dtype="<f8").tobytes()


def decode_floats(blob: bytes) -> FloatArray:
    """Inverse of :func:`encode_floats` (a new, writable array in native byte order)."""
    return np.frombuffer(blob, dtype="<f8").astype(np.float64)
