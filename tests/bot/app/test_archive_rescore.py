"""Export round trip: `liqwatch archive export` → `liqwatch backtest` gives, for the same hours,
the live scorecard's scores — every hour, both sides, the feed-down hours included."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from bot.analysis.archiver import Archiver
from bot.analysis.params import sim_defaults
from bot.analysis.service import CoreEngine, MarketService
from bot.app.cli import main
from bot.market.sim_source import SimSource
from bot.reply import Range
from bot.state.archive import MapArchive
from bot.state.feeds import FeedLog, FeedSample
from bot.state.scorecard import ScoreBook
from bot.state.store import Store
from core.livescore import HourScore

H = 3_600_000
M = 60_000
SYMBOL = "BTC/USDT:USDT"
HOURS = 10


async def _collect(path: Path) -> tuple[int, int]:
    """Ten hourly cycles on the sim; its prints feed logged as streamed, down for 40 minutes
    inside the fifth interval. Returns (first cycle, outage start)."""
    with Store(path) as store:
        source = SimSource(candles=2016)
        start = await _busy_start(source)
        now = [start]
        service = MarketService(
            {"sim": source},
            store,
            lookback_ms=86_400_000,
            engine=CoreEngine(sim_defaults()),
            clock=lambda: now[0],
        )
        log = FeedLog(store)
        log.register("sim")
        archiver = Archiver(
            service,
            MapArchive(store),
            ScoreBook(store),
            ["BTC"],
            range_=Range("24h", 24 * H),
            down=log.down,
        )
        outage = range(start + 4 * H + 10 * M, start + 4 * H + 50 * M)
        for _ in range(HOURS):
            log.sample("sim", FeedSample(at=now[0], connected=True))
            await archiver.cycle()
            for _ in range(60):
                now[0] += M
                log.sample("sim", FeedSample(at=now[0], connected=now[0] not in outage))
        return start, outage.start


async def _busy_start(source: SimSource) -> int:
    """From day 2, the first hour after which most of the next hours had liquidations (the
    synthetic market is quiet in most hours: a scorecard of empty hours would test little)."""
    prints = (await source.snapshot("BTC")).prints
    first = source.start_ms + 2 * 86_400_000
    for k in range(120):
        t = first + k * H
        busy = [((prints.times >= t + h * H) & (prints.times < t + (h + 1) * H)).any()
                for h in range(1, HOURS)]  # fmt: skip
        if sum(busy) >= 6:
            return t
    raise AssertionError("no busy stretch in the simulated run")


def _row_score(row: dict[str, str]) -> HourScore:
    doc: dict[str, object] = {}
    for name, field in HourScore.__dataclass_fields__.items():
        if name == "side":
            doc[name] = row["side"]
        elif field.type == "float":
            doc[name] = math.nan if row[name] == "" else float(row[name])
        elif field.type == "int":
            doc[name] = int(row[name])
        else:
            doc[name] = row[name]
    return HourScore(**doc)  # type: ignore[arg-type]


def _same(a: HourScore, b: HourScore) -> None:
    for name in HourScore.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, float):
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-12), name
        else:
            assert x == y, name


async def test_export_then_backtest_gives_the_live_scores(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    first, outage = await _collect(db)
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db}"\n[archive]\nevery = "1h"\n')
    out, bt = tmp_path / "export", tmp_path / "bt"
    args = ["archive", "export", "BTC", "--since", "2d", "--out", str(out), "--config", str(config)]
    assert main(args) == 0
    assert main(["backtest", str(out), "--out", str(bt), "--lookback", "12h"]) == 0

    with Store(db) as store:
        book = ScoreBook(store)
        live = {
            (t, s.side): s
            for side in ("long", "short")
            for t, s in book.hours(SYMBOL, side, since=0, until=2**62)
        }
        summaries = {
            side: book.scorecard(SYMBOL, side, window_ms=30 * 24 * H, now=first + HOURS * H)
            for side in ("long", "short")
        }
    with (bt / "live_scores.csv").open() as fh:
        offline = {(int(r["hour_ms"]), r["side"]): _row_score(r) for r in csv.DictReader(fh)}
    assert set(offline) == set(live) and len(live) == 2 * (HOURS - 2)
    for key, score in live.items():
        _same(offline[key], score)
    statuses = {t: s.status for (t, side), s in live.items() if side == "long"}
    (down,) = [t for t, s in statuses.items() if s == "feed_down"]
    assert down <= outage and outage + 40 * M <= down + H  # the interval holding the outage
    assert sum(s.real_usd > 0 for s in live.values() if s.status == "scored") >= 3

    doc = json.loads((bt / "score.json").read_text())["live_scorecard"]
    assert doc["hours"] == HOURS - 2
    for side, summary in summaries.items():
        got = doc["sides"][side]
        assert got["hours"] == summary.hours and got["feed_down_hours"] == 1
        for name in ("top_share", "chance_share", "spearman", "lift", "base_lift"):
            want = getattr(summary, name)
            assert (got[name] is None and math.isnan(want)) or got[name] == pytest.approx(want)
        assert (got["hits"], got["reached"]) == (summary.hits, summary.reached)
    report = (bt / "report.md").read_text()
    assert "## Live scorecard, re-scored from archive.jsonl" in report


async def test_without_the_coverage_file_the_outage_hour_would_be_scored(tmp_path: Path) -> None:
    """The feed log travels with the export: drop coverage.json and the offline re-score can
    no longer tell the outage hour from a quiet one (the same test fails the other way)."""
    db = tmp_path / "state.sqlite3"
    _, outage = await _collect(db)
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db}"\n')
    out, bt = tmp_path / "export", tmp_path / "bt"
    assert (
        main(
            [
                "archive",
                "export",
                "BTC",
                "--since",
                "2d",
                "--out",
                str(out),
                "--config",
                str(config),
            ]
        )
        == 0
    )
    (out / "coverage.json").unlink()
    assert main(["backtest", str(out), "--out", str(bt), "--lookback", "12h"]) == 0
    with (bt / "live_scores.csv").open() as fh:
        rows = {(int(r["hour_ms"]), r["side"]): r["status"] for r in csv.DictReader(fh)}
    (hour,) = [t for t, side in rows if side == "long" and t <= outage < t + H]
    assert rows[(hour, "long")] == "scored"
    assert "feed_down" not in rows.values()
