"""What an entry point refuses, as one line: a :class:`Failure` says what is wrong and what
to do, and ``liqwatch`` exits with its code — no traceback, and nothing touched.

The checks run before any work is done:

* :func:`check_out_dir` — an output folder that is a file, cannot be created or is not
  writable;
* :func:`open_storage` — the SQLite storage file: its folder, a second liqwatch on it (an
  exclusive lock on ``<file>.lock``, held while the process lives and released by the OS
  when it dies, SIGKILL included), a file that is not a liqwatch database or is damaged,
  one this user may not write, one written by a newer liqwatch. A refused file is never
  written to: the lock is taken before SQLite opens it, and SQLite reads a file's header
  before it writes anything.

:func:`describe_os_error` is the last resort of ``main`` for an OS error nobody foresaw.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

from bot.state.store import Store, StoreError

try:  # POSIX; elsewhere a second instance is not detected
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Failure",
    "StorageLock",
    "check_out_dir",
    "describe_os_error",
    "open_storage",
]


class Failure(Exception):
    """A refusal shown to the user as one line (``str``); ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def check_out_dir(path: Path, what: str = "--out", *, create: bool = True) -> Path:
    """The output folder ``path``, created (``create``) with its parents, or a
    :class:`Failure` saying why it cannot be used. ``create=False`` only checks that it
    could be: nothing is written before the work it is for has succeeded."""
    if path.exists() and not path.is_dir():
        raise Failure(f"{what} {path} is a file, not a folder: give a folder (it is created)")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise Failure(f"{what} {path}: {existing} is a file, not a folder; check the path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise Failure(f"{what} {path}: {existing} is not writable by this user; choose another")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise Failure(f"{what} {path}: cannot create the folder ({_reason(err)})") from None
    return path


class StorageLock:
    """An exclusive, non-blocking lock on ``<database>.lock`` that says who holds it."""

    def __init__(self, database: Path, holder: str) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self.holder = holder
        self._fd: int | None = None

    def acquire(self) -> StorageLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise Failure(
                f"storage.path {self.database}: cannot create its lock file {self.path.name} "
                f"({_reason(err)}); the folder must be writable by this user"
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                other = _read_holder(self.path)
                os.close(fd)
                raise Failure(
                    f"storage.path {self.database} is in use by another liqwatch ({other}): "
                    "stop that one first, or give this one its own storage.path"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, liqwatch {self.holder}".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go (the file stays: removing it would race with the next one to lock it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StorageLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(path: Path) -> str:
    with suppress(OSError):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text
    return "pid unknown"


def storage_problem(path: Path, *, must_exist: bool = False) -> str | None:
    """Why the storage file ``path`` cannot be opened, before trying; ``None`` if it can."""
    folder = path.resolve().parent
    if path.is_dir():
        return f"storage.path {path} is a folder; give a file name in it, e.g. {path / 'liqwatch.sqlite3'}"
    if must_exist and not path.exists():
        return (
            f"storage.path {path} does not exist: nothing was collected there yet "
            "(run `liqwatch run` with this config first, or pass the bot's --config)"
        )
    if not folder.is_dir():
        return f"storage.path: folder {folder} does not exist; create it or change storage.path"
    if not os.access(folder, os.W_OK):
        return f"storage.path: folder {folder} is not writable by this user; fix it or change storage.path"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"storage.path {path} is not readable and writable by this user; fix its permissions"
    return None


def _store_failure(path: Path, err: BaseException) -> Failure:
    text = str(err)
    if isinstance(err, StoreError):
        return Failure(f"storage.path {path}: {text}")
    if "readonly" in text or "read-only" in text:
        return Failure(f"storage.path {path} is read-only for this user; fix its permissions")
    if "locked" in text or "busy" in text:
        return Failure(
            f"storage.path {path} is locked by another program ({text}); stop it, or give "
            "liqwatch its own storage.path"
        )
    return Failure(
        f"storage.path {path} is not a liqwatch database, or it is damaged ({text}); it was "
        f"left untouched: move it aside (mv {path} {path}.bad) and liqwatch starts a new one, "
        "or set storage.path to another file"
    )


@contextmanager
def open_storage(
    path: Path | str, holder: str, *, lock: bool = True, must_exist: bool = False
) -> Iterator[Store]:
    """The store at ``path``, locked for this process (``lock``), or a :class:`Failure`
    saying what is wrong with it. ``":memory:"`` is a private store, never locked."""
    if str(path) == ":memory:":
        with Store(":memory:") as store:
            yield store
        return
    path = Path(path)
    problem = storage_problem(path, must_exist=must_exist)
    if problem:
        raise Failure(problem)
    held = StorageLock(path, holder).acquire() if lock else None
    try:
        try:
            store = Store(path)
        except (sqlite3.DatabaseError, StoreError) as err:
            raise _store_failure(path, err) from None
        with store:
            yield store
    finally:
        if held is not None:
            held.release()


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


_HINTS = {
    errno.EACCES: "check its permissions, or choose another path",
    errno.EPERM: "check its permissions, or choose another path",
    errno.EROFS: "the file system is read-only: choose another path",
    errno.ENOSPC: "the disk is full: free some space",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "it is a folder: give a file",
}


def describe_os_error(err: OSError) -> str:
    """``out/x.png: Permission denied — check its permissions, or choose another path``."""
    where = f"{err.filename}: " if err.filename else ""
    hint = _HINTS.get(err.errno or 0)
    return f"{where}{_reason(err)}" + (f" — {hint}" if hint else "")
