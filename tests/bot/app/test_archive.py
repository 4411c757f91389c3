"""``liqwatch archive export``: the archive and the stored data as a backtest folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.analysis.archiver import Archiver
from bot.analysis.params import sim_defaults
from bot.analysis.service import CoreEngine, MarketService
from bot.app.archive import ExportError, export_archive, parse_since
from bot.app.cli import build_parser, main
from bot.market.backtest_folder import read_backtest_folder
from bot.market.sim_source import SimSource
from bot.reply import Range
from bot.state.archive import MapArchive
from bot.state.scorecard import ScoreBook
from bot.state.store import Store

H = 3_600_000


async def _collect(path: Path, hours: int = 4) -> None:
    with Store(path) as store:
        source = SimSource(candles=2016)
        now = [source.start_ms + 2 * 86_400_000]
        service = MarketService(
            {"sim": source},
            store,
            lookback_ms=86_400_000,
            engine=CoreEngine(sim_defaults()),
            clock=lambda: now[0],
        )
        archiver = Archiver(
            service, MapArchive(store), ScoreBook(store), ["BTC"], range_=Range("24h", 24 * H)
        )
        for _ in range(hours):
            await archiver.cycle()
            now[0] += H


async def test_export_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    await _collect(db)
    with Store(db) as store:
        folder, maps = export_archive(store, "btc", "12h", tmp_path / "out", "5m")
        latest = store.last_candle_time("sim", "BTC/USDT:USDT", "5m")
        assert latest is not None
        series = store.load_series("sim", "BTC/USDT:USDT", "5m", since=latest - 12 * H)
        assert series is not None
        prints = store.load_prints(
            "sim", "BTC/USDT:USDT", since=latest - 12 * H, until=latest + 300_000 - 1
        )
        archived = MapArchive(store).load("BTC/USDT:USDT")
    assert maps == 4
    back = read_backtest_folder(folder)
    assert back.meta.symbol == "BTC/USDT:USDT" and back.meta.exchange == "sim"
    np.testing.assert_array_equal(back.series.timestamps, series.timestamps)
    np.testing.assert_array_equal(back.series.close, series.close)
    assert back.series.open_interest is not None and series.open_interest is not None
    np.testing.assert_allclose(back.series.open_interest, series.open_interest)
    assert back.prints is not None and len(prints) > 0
    np.testing.assert_array_equal(back.prints.times, prints.times)
    np.testing.assert_array_equal(back.prints.notionals, prints.notionals)
    assert back.real.total_usd.sum() == pytest.approx(prints.notionals.sum())
    lines = (folder / "archive.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["time"] == archived[0].time and first["price"] == archived[0].map.price
    dense = np.zeros(len(first["edges"]) - 1)
    for i, v in first["long"]:
        dense[i] = v
    np.testing.assert_array_equal(dense, archived[0].map.long)


async def test_liqwatch_backtest_reads_the_export(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    await _collect(db, hours=2)
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db}"\n')
    out = tmp_path / "export"
    assert (
        main(
            [
                "archive",
                "export",
                "BTC",
                "--since",
                "1d",
                "--out",
                str(out),
                "--config",
                str(config),
            ]
        )
        == 0
    )
    assert main(["backtest", str(out), "--out", str(tmp_path / "bt"), "--lookback", "12h"]) == 0
    assert (tmp_path / "bt" / "score.json").is_file()


def test_nothing_archived_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(tmp_path / "empty.sqlite3") as store, pytest.raises(ExportError, match="empty"):
        export_archive(store, "BTC", "7d", tmp_path / "out", "5m")
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "empty.sqlite3"}"\n')
    code = main(["archive", "export", "BTC", "--out", str(tmp_path / "o"), "--config", str(config)])
    assert code == 2 and "run `liqwatch run`" in capsys.readouterr().err


def test_since_accepts_durations_and_dates() -> None:
    assert parse_since("1d", 10 * 86_400_000) == 9 * 86_400_000
    assert parse_since("2026-01-01", 0) == 1_767_225_600_000
    with pytest.raises(ExportError, match="duration"):
        parse_since("yesterday", 0)
    args = build_parser().parse_args(["archive", "export", "ETH", "--out", "x"])
    assert (args.symbol, args.since, args.out) == ("ETH", "30d", "x")
