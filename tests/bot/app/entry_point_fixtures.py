"""Refusal checks, unwritable folders and storage files shared by the entry-point tests."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.store import Store

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(autouse=True)
def no_leftover_log_handler() -> Iterator[None]:
    """``run`` and ``console`` install a stderr handler; the next test must not log into
    this test's captured (then closed) stream."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_liqwatch", False):
            root.removeHandler(handler)


def one_line(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    """The single stderr line of a refusal, checked for each of ``needles``."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes anyway: report it as the check a user would get
        real = os.access

        def access(path: object, mode: int, **kwargs: object) -> bool:
            inside = Path(str(path)).resolve().is_relative_to(folder.resolve())
            if inside and mode & os.W_OK:
                return False
            return real(path, mode, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "access", access)
    return folder


def storage_config(tmp_path: Path, db: Path, *, telegram: bool = False) -> Path:
    config = tmp_path / "config.toml"
    extra = '[telegram]\nenabled = true\napi_base_url = "http://127.0.0.1:9"\n' if telegram else ""
    config.write_text(f'[storage]\npath = "{db}"\n{extra}')
    return config


def corrupt_db(tmp_path: Path) -> Path:
    db = tmp_path / "state.sqlite3"
    db.write_bytes(b"this is not a database, it is somebody's notes\n" * 100)
    return db


def real_db(tmp_path: Path) -> Path:
    db = tmp_path / "state.sqlite3"
    with Store(db) as store:
        store.record_fetch("sim", "BTC/USDT:USDT", "5m", 1, None)
    return db
