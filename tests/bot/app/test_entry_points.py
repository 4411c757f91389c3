"""Every `liqwatch` entry point refuses what it cannot use with one line saying what is wrong
and what to do, an exit code ≠ 0, no traceback, and nothing lost (issue 14).

The bad inputs: a bad path, an unwritable folder, a corrupt storage file, a second instance
on the same storage file. Most cases run ``main()`` in-process (fast); one runs real
processes to show that a second ``liqwatch run`` is refused while the first keeps going.

This suite runs as root in CI, where ``chmod`` does not stop writes: ``unwritable`` then
also makes ``os.access`` report the folder read-only, which is what liqwatch checks.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.failures import StorageLock
from bot.state.store import Store
from tests.bot.app.entry_point_fixtures import (
    TOKEN,
    corrupt_db,
    digest,
    no_leftover_log_handler,
    one_line,
    real_db,
    storage_config,
    unwritable,
)
from tests.paths import REPO_ROOT

__all__ = ["no_leftover_log_handler", "unwritable"]  # the fixtures, used by name


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
