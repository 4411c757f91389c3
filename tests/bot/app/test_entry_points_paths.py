"""Entry points refusing bad paths, the failure helpers, and `thread` on the configured market."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.app import failures
from bot.app.cli import main
from bot.app.failures import Failure, StorageLock, check_out_dir, describe_os_error, open_storage
from tests.bot.app.entry_point_fixtures import (
    corrupt_db,
    digest,
    no_leftover_log_handler,
    one_line,
    real_db,
    storage_config,
    unwritable,
)
from tests.fakes.exchange_data import recorded_market
from tests.fakes.fake_exchange import FakeExchange, fake_exchange

__all__ = ["fake_exchange", "no_leftover_log_handler", "unwritable"]  # the fixtures, used by name


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
