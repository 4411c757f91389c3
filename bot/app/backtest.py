"""``liqwatch backtest DIR``: score the level model against a folder of real liquidations.

Reads a backtest folder (:mod:`bot.market.backtest_folder`), estimates every candle point
in time (:mod:`core.backtest`), scores the model, the flat-open-interest placebo and the
trivial baselines on the real bars (:mod:`core.scoring`), and writes ``OUT/``:

* ``estimates.csv`` — ``open_time_ms,est_long_usd,est_short_usd``, every candle after the
  warm-up;
* ``map.csv`` — ``price_low,price_high,long_usd,short_usd``: the map after the last candle;
* ``score.json`` / ``report.md`` — the scorecard (with ``--calibrate``: in and out of sample);
* ``backtest.png`` — estimated against real over time, and per bar.

With ``--calibrate`` the model's settings are fitted on the first part of the folder and
scored on the rest (:mod:`core.calibrate`); ``estimates.csv`` and ``map.csv`` then use the
settings fitted on the whole folder, and a ``[model]`` block to paste is printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from bot.analysis.params import engine_params, model_block, params_summary
from bot.app.backtest_archive import ArchiveRescore, rescore_folder
from bot.config.fields import format_duration, parse_duration
from bot.config.settings import ModelSettings
from bot.market.backtest_folder import BacktestFolder, BacktestFolderError, read_backtest_folder
from core.backtest import PLACEBO, BacktestRun, estimate, flat_open_interest
from core.calibrate import Calibration, calibrate, split_bars
from core.charts.backtest import BacktestChart, render_backtest
from core.levels import EngineParams
from core.models import ModelError
from core.scoring import RealLiquidations, Scorecard, aggregate_to_bars, score

if TYPE_CHECKING:
    from bot.config.settings import Settings

__all__ = ["BacktestOptions", "main", "run_backtest"]

_HOUR_MS: Final = 3_600_000
DEFAULT_LOOKBACK: Final = "7d"


class ProgressBar:
    """``maps [#######.......] 48 %`` on a terminal; silent when ``stream`` is not one."""

    def __init__(self, stream: IO[str], label: str) -> None:
        self.stream = stream
        self.label = label
        self.enabled = stream.isatty()
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        pct = done * 100 // total
        if pct == self._last:
            return
        self._last = pct
        filled = pct * 30 // 100
        bar = "#" * filled + "." * (30 - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label} [{bar}] {pct:3d} %{end}")
        self.stream.flush()


@dataclass(frozen=True)
class BacktestOptions:
    folder: Path
    out: Path
    params: EngineParams
    lookback_candles: int
    calibrate: bool
    source: str  # where the settings came from, for the report


def _write_estimates(path: Path, run: BacktestRun) -> None:
    est = run.estimates
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["open_time_ms", "est_long_usd", "est_short_usd"])
        for t, lo, sh in zip(est.open_ms, est.long_usd, est.short_usd, strict=True):
            w.writerow([int(t), f"{lo:.2f}", f"{sh:.2f}"])


def _write_map(path: Path, run: BacktestRun) -> None:
    m = run.map
    edges = m.grid.edges
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["price_low", "price_high", "long_usd", "short_usd"])
        for i in range(m.grid.bins):
            w.writerow(
                [f"{edges[i]:.6g}", f"{edges[i + 1]:.6g}", f"{m.long[i]:.2f}", f"{m.short[i]:.2f}"]
            )


def _chart(folder: BacktestFolder, run: BacktestRun, card: Scorecard, title: str) -> bytes:
    bars = aggregate_to_bars(run.estimates, folder.real, candle_ms=folder.candle_ms)
    keep = bars.included
    model = card.get("model")
    return render_backtest(
        BacktestChart(
            title=title,
            subtitle=(
                f"{folder.meta.symbol} · {folder.meta.exchange} · {folder.meta.timeframe} · "
                f"{int(keep.sum())} bars, point in time · estimate "
                f"{model.total.total_ratio:.1f}× the real total (ranks are scored)"
            ),
            footer="estimated liquidations, point in time; clusters are magnets, not promises · liqwatch",
            bar_open_ms=folder.real.open_ms[keep],
            real_long=folder.real.long_usd[keep],
            real_short=folder.real.short_usd[keep],
            est_long=bars.long_usd[keep],
            est_short=bars.short_usd[keep],
            spearman_long=model.long.spearman,
            spearman_short=model.short.spearman,
        )
    )


def _score(
    folder: BacktestFolder, params: EngineParams, lookback: int, real: RealLiquidations
) -> tuple[BacktestRun, Scorecard]:
    """The model (with cluster hits) and its flat-OI placebo, scored on ``real``."""
    every = max(1, _HOUR_MS // folder.candle_ms)
    bar = ProgressBar(sys.stderr, "cluster maps")
    run = estimate(folder.series, params, lookback=lookback, map_every=every, progress=bar)
    placebo = estimate(flat_open_interest(folder.series), params, lookback=lookback)
    card = score(
        real,
        {"model": run.estimates, PLACEBO: placebo.estimates},
        folder.series,
        candle_ms=folder.candle_ms,
    )
    return run, card


def _json_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _report_header(folder: BacktestFolder, opts: BacktestOptions) -> list[str]:
    days = opts.lookback_candles * folder.candle_ms / 86_400_000
    lines = [
        f"Folder `{folder.path}` — {folder.meta.description or folder.meta.symbol}.",
        "",
        f"Every candle estimated point in time from the {opts.lookback_candles} candles "
        f"({days:g} days) before it and its own high/low. Model settings: {opts.source}: "
        f"{params_summary(opts.params)}.",
    ]
    if folder.notes:
        lines += ["", "Data notes:", "", *(f"- {n}" for n in folder.notes)]
    return lines


def run_backtest(opts: BacktestOptions, out: IO[str] | None = None) -> int:
    """Run one backtest and write its files (a summary to ``out``, default stdout);
    returns the exit code."""
    out = sys.stdout if out is None else out
    started = time.perf_counter()
    try:
        folder = read_backtest_folder(opts.folder)
    except BacktestFolderError as err:
        print(f"{opts.folder}: {len(err.problems)} problem(s)", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    lookback = opts.lookback_candles
    header = _report_header(folder, opts)
    doc: dict[str, Any] = {
        "folder": str(folder.path),
        "symbol": folder.meta.symbol,
        "timeframe": folder.meta.timeframe,
        "lookback_candles": lookback,
        "notes": list(folder.notes),
    }
    cal: Calibration | None = None
    try:
        if opts.calibrate:
            cal = calibrate(
                folder.series,
                folder.real,
                base=opts.params,
                lookback=lookback,
                candle_ms=folder.candle_ms,
                progress=ProgressBar(sys.stderr, "calibration"),
            )
            params = cal.full_params
            report = _calibration_report(folder, cal, lookback, header)
            doc["calibration"] = cal.to_dict()
            run, card = _score(folder, params, lookback, folder.real)
        else:
            params = opts.params
            run, card = _score(folder, params, lookback, folder.real)
            report = "\n".join(
                [card.to_markdown("liqwatch backtest — estimated vs real liquidations"),
                 *header, ""]
            )  # fmt: skip
    except ModelError as err:
        print(f"{opts.folder}: {err}", file=sys.stderr)
        return 2
    opts.out.mkdir(parents=True, exist_ok=True)
    rescored = rescore_folder(folder)  # a folder from `liqwatch archive export`
    if rescored is not None:
        doc["live_scorecard"] = rescored.to_dict()
        rescored.write_csv(opts.out / "live_scores.csv")
        report += "\n" + rescored.to_markdown()
    doc["score"] = card.to_dict()
    doc["params"] = params_summary(params)
    _write_estimates(opts.out / "estimates.csv", run)
    _write_map(opts.out / "map.csv", run)
    (opts.out / "score.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    (opts.out / "report.md").write_text(report)
    title = "Estimated vs real liquidations" + (" (calibrated)" if opts.calibrate else "")
    (opts.out / "backtest.png").write_bytes(_chart(folder, run, card, title))
    if cal is not None:
        out.write(
            f"Out of sample (the last {1 - cal.fit_fraction:.0%} of the bars; settings fitted "
            f"on the first {cal.fit_fraction:.0%}):\n" + _summary(cal.test_score)
        )
        out.write("\nWhole folder, settings fitted on all of it (in sample):\n")
    out.write(_summary(card))
    if cal is not None:
        out.write("\nPaste into config.toml:\n\n" + model_block(params) + "\n")
    if rescored is not None:
        out.write(_live_summary(rescored))
    out.write(
        f"\nwrote {opts.out}/ (estimates.csv, map.csv, score.json, report.md, backtest.png"
        f"{', live_scores.csv' if rescored is not None else ''}) "
        f"in {time.perf_counter() - started:.1f} s\n"
    )
    return 0


def _summary(card: Scorecard) -> str:
    """Spearman per side: model, placebo and the best baseline."""
    lines = [f"Spearman on {card.bars} bars   model  placebo  best baseline"]
    model, placebo = card.get("model"), card.get(PLACEBO)
    for side in ("long", "short", "total"):
        best = card.best_baseline[side]
        base = card.get(best).side(side).spearman
        lines.append(
            f"  {side:<6}                   {model.side(side).spearman:5.2f}  "
            f"{placebo.side(side).spearman:7.2f}  {base:5.2f} ({best})"
        )
    return "\n".join(lines) + "\n"


def _live_summary(rescored: ArchiveRescore) -> str:
    """The archived maps re-scored as the live scorecard scores them, per side."""
    lines = [f"\nLive scorecard re-scored from archive.jsonl ({len(rescored.hours)} hours):"]
    for side in ("long", "short"):
        s = rescored.summary(side)
        lines.append(
            f"  {side:<6} {s.hours} scored, {s.feed_down_hours} feed down: lift {s.lift:.2f} "
            f"over chance (baseline {s.base_lift:.2f}), clusters hit {s.hits}/{s.reached}"
        )
    return "\n".join(lines) + "\n"


def _calibration_report(
    folder: BacktestFolder, cal: Calibration, lookback: int, header: list[str]
) -> str:
    fit_bars, test_bars = split_bars(folder.real, cal.fit_fraction)
    lines = [
        "# liqwatch backtest — calibrated",
        "",
        f"Settings fitted on the first {cal.fit_fraction:.0%} of the bars "
        f"({len(fit_bars)} bars, objective: mean Spearman of the model over long, short "
        f"and total), scored out of sample on the last {len(test_bars)} bars.",
        "",
        f"Fitted: {params_summary(cal.fit_params)}.",
        f"Fitted on the whole folder (estimates.csv, map.csv): {params_summary(cal.full_params)}.",
        "",
        *header,
        "",
        cal.test_score.to_markdown("Out of sample (the last part, not used to fit)"),
        cal.fit_score.to_markdown("In sample (the part the settings were fitted on)"),
        "## Trials (in sample, objective)",
        "",
        *(f"- {t.label}: {_json_float(t.objective)}" for t in cal.trials),
        "",
    ]
    return "\n".join(lines)


def _lookback_candles(text: str, candle_ms: int) -> int:
    ms = parse_duration(text)
    return max(1, ms // candle_ms)


def main(args: argparse.Namespace, settings: Settings | None) -> int:
    """``liqwatch backtest`` from parsed arguments (``settings``: those of ``--params``)."""
    folder = Path(args.folder)
    candle_ms, exchange = _peek_meta(folder)
    lookback_text = args.lookback or (
        format_duration(settings.market.lookback) if settings is not None else DEFAULT_LOOKBACK
    )
    try:
        lookback = _lookback_candles(lookback_text, candle_ms or _HOUR_MS)
    except ValueError as err:
        print(f"--lookback: {err}", file=sys.stderr)
        return 2
    model = settings.model if settings is not None else ModelSettings()
    opts = BacktestOptions(
        folder=folder,
        out=Path(args.out) if args.out else Path("out") / "backtest" / folder.resolve().name,
        # a folder recorded from the synthetic market gets the synthetic market's own scale
        params=engine_params(model, synthetic=exchange == "sim"),
        lookback_candles=lookback,
        calibrate=bool(args.calibrate),
        source=f"[model] of {args.params}" if args.params else "built-in defaults",
    )
    return run_backtest(opts)


def _peek_meta(folder: Path) -> tuple[int | None, str]:
    """(candle length, exchange) as meta.json declares them; (None, "") when unreadable —
    the reader then says what is wrong with the folder."""
    from core.models import timeframe_ms

    try:
        meta: Mapping[str, Any] = json.loads((folder / "meta.json").read_text())
        return timeframe_ms(str(meta["timeframe"])), str(meta.get("exchange", ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ModelError):
        return None, ""
