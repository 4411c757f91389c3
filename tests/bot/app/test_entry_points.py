"""Every `liqwatch` entry point refuses what it cannot use with one line saying what is wrong
and what to do, an exit code ≠ 0, no traceback, and nothing lost (issue 14).

The bad inputs: a bad path, an unwritable folder, a corrupt storage file, a second instance
on the same storage file. Most cases run ``main()`` in-process (fast); one runs real
processes to show that a second ``liqwatch run`` is refused while the first keeps going.

This suite runs as root in CI, where ``chmod`` does not stop writes: ``unwritable`` then
also makes ``os.access`` report the folder read-only, which is what liqwatch checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import failures
from bot.app.cli import main
from bot.app.failures import Failure, StorageLock, check_out_dir, describe_os_error, open_storage
from bot.state.store import Store
from tests.fakes.exchange_data import recorded_market
from tests.fakes.fake_exchange import FakeExchange, fake_exchange
from tests.paths import REPO_ROOT

__all__ = ["fake_exchange"]  # the fixture, used by name

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(autouse=True)
def _no_leftover_log_handler() -> Iterator[None]:
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


# --- the command line itself -----------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == "liqwatch 0.1.0"


def test_demo_help_lists_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    from core.sim_scenarios import SCENARIOS

    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    for name, scenario in SCENARIOS.items():
        assert f"  {name} " in out and scenario.description[:40] in out


def test_the_console_script_entry_point_works() -> None:
    script = Path(sys.executable).parent / "liqwatch"
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("liqwatch ")


# --- demo --------------------------------------------------------------------------------------


def test_demo_unknown_scenario_is_one_line_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--scenario", "nope", "--out", str(out)]) == 2
    one_line(capsys, "--scenario 'nope'", "seed, balanced", "demo --help")
    assert not out.exists()  # no folder, no liqwatch-demo.sqlite3 left behind


def test_demo_unknown_scenario_in_a_real_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "demo", "--scenario", "nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_demo_out_is_a_file_or_unwritable(
    tmp_path: Path, unwritable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "out"
    afile.write_text("keep me")
    assert main(["demo", "--out", str(afile)]) == 2
    one_line(capsys, "is a file, not a folder")
    assert afile.read_text() == "keep me"
    assert main(["demo", "--out", str(unwritable / "demo")]) == 2
    one_line(capsys, "not writable")


def test_a_second_demo_on_the_same_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "liqwatch-demo.sqlite3"
    db.write_bytes(b"the first demo's store")
    with StorageLock(db, "demo"):
        assert main(["demo", "--out", str(tmp_path)]) == 2
        one_line(capsys, "in use by another liqwatch", f"pid {os.getpid()}, liqwatch demo")
    assert db.read_bytes() == b"the first demo's store"  # not deleted under the first one


# --- console -------------------------------------------------------------------------------------


def test_console_out_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    afile = tmp_path / "out"
    afile.write_text("x")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["console", "--out", str(afile)]) == 2
    one_line(capsys, f"--out {afile} is a file, not a folder")


@pytest.mark.parametrize("command", ["console", "run"])
def test_a_corrupt_storage_file_is_left_untouched(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = corrupt_db(tmp_path)
    before = digest(db)
    config = storage_config(tmp_path, db, telegram=command == "run")
    monkeypatch.setenv("LIQWATCH__TELEGRAM__TOKEN", TOKEN)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    args = [command, "--config", str(config)]
    if command == "console":
        args += ["--out", str(tmp_path / "charts")]
    assert main(args) == 2
    line = one_line(capsys, "is not a liqwatch database", "mv ", "storage.path")
    assert str(db) in line
    assert digest(db) == before


@pytest.mark.parametrize("command", ["console", "run"])
def test_a_second_instance_on_the_storage_file_is_refused(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = real_db(tmp_path)
    before = digest(db)
    config = storage_config(tmp_path, db, telegram=command == "run")
    monkeypatch.setenv("LIQWATCH__TELEGRAM__TOKEN", TOKEN)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with StorageLock(db, "run") as first:
        args = [command, "--config", str(config)]
        if command == "console":
            args += ["--out", str(tmp_path / "charts")]
        assert main(args) == 2
        one_line(capsys, "in use by another liqwatch (pid", "liqwatch run)", "stop that one")
        assert first._fd is not None  # still held by the first
    assert digest(db) == before
    with Store(db) as store:  # and its data is all there
        assert store.market_status()[0].last_fetch_at == 1


def test_console_with_an_unwritable_storage_folder(
    unwritable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = storage_config(tmp_path, unwritable / "state.sqlite3")
    assert main(["console", "--config", str(config), "--out", str(tmp_path / "c")]) == 2
    one_line(capsys, "is not writable by this user")
    assert not (unwritable / "state.sqlite3").exists()


# --- bad paths, every entry point ------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--config", "{missing}"],
        ["console", "--config", "{missing}"],
        ["thread", "BTC", "--config", "{missing}"],
        ["check-config", "{missing}"],
        ["archive", "export", "BTC", "--out", "{tmp}/x", "--config", "{missing}"],
        ["backtest", "{tmp}", "--params", "{missing}"],
    ],
)
def test_a_config_that_is_not_there(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    filled = [a.format(missing=missing, tmp=tmp_path) for a in args]
    assert main(filled) == 2
    one_line(capsys, f"{missing}: file not found")


def test_check_config_of_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path)]) == 2
    one_line(capsys, "cannot read the file")


def test_backtest_of_a_folder_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", str(tmp_path / "nope")]) == 2
    one_line(capsys, "does not exist: give a backtest folder (meta.json")


def test_backtest_out_is_unwritable_before_any_work(
    tmp_path: Path, unwritable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["backtest", str(tmp_path), "--out", str(afile)]) == 2
    one_line(capsys, "is a file, not a folder")
    assert main(["backtest", str(tmp_path), "--out", str(unwritable / "o")]) == 2
    one_line(capsys, "not writable")


def test_archive_export_storage_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "never-ran.sqlite3"
    config = storage_config(tmp_path, missing)
    out = str(tmp_path / "export")
    assert main(["archive", "export", "BTC", "--out", out, "--config", str(config)]) == 2
    one_line(capsys, "does not exist: nothing was collected there yet")
    assert not missing.exists()  # no empty database created at a mistyped path
    db = corrupt_db(tmp_path)
    before = digest(db)
    config = storage_config(tmp_path, db)
    assert main(["archive", "export", "BTC", "--out", out, "--config", str(config)]) == 2
    one_line(capsys, "is not a liqwatch database")
    assert digest(db) == before


def test_archive_export_runs_beside_the_bot_that_holds_the_storage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = real_db(tmp_path)
    config = storage_config(tmp_path, db)
    with StorageLock(db, "run"):  # a reader takes no lock: the live bot's archive exports
        out = str(tmp_path / "export")
        assert main(["archive", "export", "BTC", "--out", out, "--config", str(config)]) == 2
    one_line(capsys, "the archive is empty")  # the archive's own answer, not a lock refusal


# --- the helpers ---------------------------------------------------------------------------------


def test_check_out_dir_can_check_without_creating(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert check_out_dir(target, create=False) == target and not target.exists()
    assert check_out_dir(target).is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(Failure, match="is a file, not a folder"):
        check_out_dir(tmp_path / "f" / "sub", create=False)


def test_the_lock_is_released_with_the_storage(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"

    def second() -> None:
        with open_storage(db, "console"):
            pass

    with open_storage(db, "run"), pytest.raises(Failure, match="in use"):
        second()
    with open_storage(db, "console") as store:  # free again
        assert store.schema_version >= 1
    with open_storage(":memory:", "run"), open_storage(":memory:", "run"):
        pass  # private stores are never locked


def test_a_storage_path_that_is_a_folder(tmp_path: Path) -> None:
    with (
        pytest.raises(Failure, match="is a folder; give a file name"),
        open_storage(tmp_path, "run"),
    ):
        pass


def test_unforeseen_os_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    err = PermissionError(13, "Permission denied", "out/x.png")
    assert describe_os_error(err) == (
        "out/x.png: Permission denied — check its permissions, or choose another path"
    )

    def boom(args: object) -> int:
        raise OSError(28, "No space left on device", str(tmp_path / "heatmap.png"))

    monkeypatch.setattr("bot.app.demo.run_demo", lambda **_: boom(None))
    assert main(["demo", "--out", str(tmp_path)]) == 1
    one_line(capsys, "No space left on device — the disk is full")


def test_failures_module_names_the_lock_file(tmp_path: Path) -> None:
    lock = StorageLock(tmp_path / "state.sqlite3", "run")
    assert lock.path.name == "state.sqlite3.lock"
    assert failures.storage_problem(tmp_path / "nowhere" / "s.sqlite3") is not None


# --- thread on the configured market ------------------------------------------------------------


def test_thread_uses_the_configured_market(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[market]\nsymbols = ["DOGE", "BTC"]\nsim_scenario = "long-heavy"\n')
    assert main(["thread", "DOGE"]) == 2  # not a market of the plain synthetic one
    one_line(capsys, "Unknown symbol 'DOGE'")
    assert main(["thread", "DOGE", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("# DOGE market structure")
    assert main(["thread", "BTC", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "longs over shorts" in out and "longs stacked below" in out  # long-heavy
    assert main(["thread", "BTC", "--config", str(config), "--scenario", "chop"]) == 2
    one_line(capsys, "--scenario and --candles are for the synthetic market without --config")
    assert main(["thread", "BTC", "--config", str(config), "--exchange", "kraken"]) == 2
    one_line(capsys, "Unknown exchange 'kraken'")


async def test_thread_on_a_live_exchange_source(
    tmp_path: Path,
    fake_exchange: FakeExchange,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """source = "ccxt" (real ccxt → the loopback fake Binance), at the recording's end."""
    end = int(recorded_market("5m").times[-1]) + 300_000
    monkeypatch.setattr("bot.app.compose._clock_for", lambda sources: lambda: end)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[market]
source = "ccxt"
exchanges = ["binanceusdm"]
symbols = ["XRP"]
lookback = "2d"
[exchanges.binanceusdm]
api_base_url = "{fake_exchange.url}"
rate_limit = false
timeout_s = 5
"""
    )
    code = await asyncio.to_thread(
        main, ["thread", "XRP", "--config", str(config), "--range", "24h"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("# XRP market structure")
    assert "XRP liquidation map (binanceusdm)" in captured.out
    assert fake_exchange.requests["/fapi/v1/klines"] >= 1
    code = await asyncio.to_thread(main, ["thread", "NOPE", "--config", str(config)])
    assert code == 2
    one_line(capsys, "Unknown symbol 'NOPE'", "Tracked here: XRP", "[market] symbols")
