"""The live scorecard re-scored offline: ``liqwatch backtest`` on a folder written by
``liqwatch archive export`` (it holds ``archive.jsonl``, ``coverage.json`` and ``prints.csv``).

Each archived map is scored against the prints of the interval after it with the function
the live archiver uses (:func:`bot.analysis.rescore.score_archived`), so the hours and their
scores are the live scorecard's. What differs from the rest of the backtest, by construction:

* the backtest **re-estimates** every candle point in time from the folder's candles and open
  interest and ranks *hours* — Spearman of estimated vs real liquidations over time, top-5 %
  precision, cluster-hit lift against matched hours;
* the live scorecard scores the **archived** maps as they were shown, across *price*: where
  in the map the real liquidations of the next hour fell (top-quartile share over chance,
  Spearman over the bins in reach, clusters reached and hit), beside the proximity baseline.

The first says whether the model knows *when* liquidations come, the second whether the map
showed *where*. Only the second is what ``/accuracy`` reports; this module reproduces it.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.analysis.rescore import interval_of, score_archived
from bot.market.backtest_folder import BacktestFolder
from bot.state.archive import ArchivedMap
from bot.state.feeds import FeedRecord, down_venues
from core.livescore import HourScore, SideSummary, summarise
from core.models import LiquidationPrints, Side
from core.results import Cluster, DangerZone, LiquidationMap, PriceGrid

__all__ = ["ArchiveRescore", "rescore_folder"]

ARCHIVE_FILE = "archive.jsonl"
COVERAGE_FILE = "coverage.json"


@dataclass(frozen=True)
class _Line:
    map: ArchivedMap
    every_ms: int
    after: tuple[float, float] | None


def _dense(pairs: Sequence[Sequence[float]], bins: int) -> np.ndarray:
    out = np.zeros(bins)
    for i, v in pairs:
        out[int(i)] = float(v)
    return out


def _line(doc: dict[str, Any]) -> _Line:
    edges = np.asarray(doc["edges"], dtype=np.float64)
    grid = PriceGrid(edges, log=bool(doc.get("log_grid", True)))
    bins = len(edges) - 1
    lmap = LiquidationMap(
        grid,
        float(doc["price"]),
        int(doc["time"]),
        _dense(doc["long"], bins),
        _dense(doc["short"], bins),
    )
    clusters = tuple(Cluster(**{**c, "side": Side(c["side"])}) for c in doc["clusters"])
    zones = tuple(DangerZone(**{**z, "side": Side(z["side"])}) for z in doc["zones"])
    m = ArchivedMap(doc["symbol"], tuple(doc["venues"]), lmap, clusters, zones, doc["feeds"])
    after = doc.get("after")
    return _Line(m, int(doc.get("every_ms", 3_600_000)), None if after is None else tuple(after))


def _window(p: LiquidationPrints, start: int, end: int) -> LiquidationPrints:
    keep = (p.times >= start) & (p.times < end)
    return LiquidationPrints(p.times[keep], p.sides[keep], p.prices[keep], p.notionals[keep])


def _nan_none(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


@dataclass(frozen=True)
class ArchiveRescore:
    """The archived maps re-scored: per hour (start, long, short) and pooled per side."""

    hours: tuple[tuple[int, HourScore, HourScore], ...]

    def summary(self, side: str) -> SideSummary:
        return summarise(side, [long if side == "long" else short for _, long, short in self.hours])

    def to_dict(self) -> dict[str, Any]:
        sides = {}
        for side in ("long", "short"):
            s = self.summary(side)
            d = {k: _nan_none(v) for k, v in asdict(s).items()}
            d.update(lift=_nan_none(s.lift), base_lift=_nan_none(s.base_lift))
            d.update(hit_rate=_nan_none(s.hit_rate), base_hit_rate=_nan_none(s.base_hit_rate))
            sides[side] = d
        return {"hours": len(self.hours), "sides": sides}

    def write_csv(self, path: Path) -> None:
        fields = [f for f in HourScore.__dataclass_fields__ if f != "side"]
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["hour_ms", "side", *fields])
            for start, *scores in self.hours:
                for s in scores:
                    row = [getattr(s, f) for f in fields]
                    w.writerow([start, s.side, *("" if _nan_none(v) is None else v for v in row)])

    def to_markdown(self) -> str:
        lines = [
            "## Live scorecard, re-scored from archive.jsonl",
            "",
            f"{len(self.hours)} archived maps scored on the interval after each (as "
            "`/accuracy` scores them: where the next hour's real liquidations fell in the map "
            "as shown — not the point-in-time re-estimate above).",
            "",
            "| side | hours scored | feed down | top-quartile share | chance | lift | baseline "
            "lift | clusters hit / reached | Spearman (baseline) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for side in ("long", "short"):
            s = self.summary(side)
            lines.append(
                f"| {side}s | {s.hours} | {s.feed_down_hours} | {s.top_share:.3f} | "
                f"{s.chance_share:.3f} | {s.lift:.2f} | {s.base_lift:.2f} | {s.hits} / "
                f"{s.reached} | {s.spearman:.2f} ({s.base_spearman:.2f}) |"
            )
        return "\n".join(lines) + "\n"


def rescore_folder(folder: BacktestFolder) -> ArchiveRescore | None:
    """The folder's archived maps re-scored, or None when it has no ``archive.jsonl`` or no
    ``prints.csv`` (nothing to re-score)."""
    path = folder.path / ARCHIVE_FILE
    prints = folder.prints
    if not path.is_file() or prints is None:
        return None
    lines = [_line(json.loads(t)) for t in path.read_text("utf-8").splitlines() if t.strip()]
    records: dict[str, FeedRecord] = {}
    cov_path = folder.path / COVERAGE_FILE
    if cov_path.is_file():
        streamed = json.loads(cov_path.read_text("utf-8")).get("streamed", {})
        records = {
            ex: FeedRecord(ex, tuple((int(a), int(b)) for a, b in doc["spans"]))
            for ex, doc in streamed.items()
        }
    series, candle = folder.series, folder.candle_ms
    # intervals that ended by the newest candle's open: that candle may have been forming
    # when it was exported, as the live archiver never scores past its own clock
    data_end = int(series.timestamps[-1]) if len(series) else 0

    def candles_range(start: int, end: int) -> tuple[float, float] | None:
        keep = (series.timestamps >= start) & (series.timestamps < end)
        if not keep.any():
            return None
        return float(series.high[keep].max()), float(series.low[keep].min())

    def down(venues: Sequence[str], start: int, end: int) -> list[str]:
        return down_venues(records, venues, start, end)

    hours: list[tuple[int, HourScore, HourScore]] = []
    for i, line in enumerate(lines):
        start, end = interval_of(line.map, candle, line.every_ms)
        if end > data_end:
            continue
        after = lines[i + 1].map if i + 1 < len(lines) else None
        recorded = line.after

        def hour_range(
            a: int, b: int, recorded: tuple[float, float] | None = recorded
        ) -> tuple[float, float] | None:
            return recorded if recorded is not None else candles_range(a, b)

        (long, short), _ = score_archived(
            line.map,
            after,
            start,
            end,
            prints=lambda a, b: _window(prints, a, b),
            hour_range=hour_range,
            down=down,
        )
        hours.append((start, long, short))
    return ArchiveRescore(tuple(hours))
