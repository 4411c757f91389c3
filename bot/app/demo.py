"""``liqwatch demo``: the whole pipeline, offline, on the synthetic market.

sim source → SQLite store (incremental refresh) → level engine and analysis → charts →
text. The synthetic market knows every position it holds, so the demo also prints the
true numbers beside the estimates: the model is checked in front of the user.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from bot.analysis.params import analysis_params
from bot.analysis.service import CoreEngine, MarketService
from bot.app.demo_accuracy import demo_scorecard
from bot.app.failures import Failure, StorageLock, check_out_dir
from bot.config.settings import ModelSettings
from bot.market.refresh import refresh_series
from bot.market.sim_source import SIM_MARKETS, SimMarketSpec, SimSource
from bot.notify.alerts import RULE_NAMES
from bot.notify.scheduler import Scheduler
from bot.notify.threads import (
    DAY_MS,
    compose_thread,
    format_for_x,
    render_thread,
    summarize_prints,
)
from bot.reply import Platform, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from core.analysis import analyze
from core.charts import (
    human_price,
    human_usd,
    render_card,
    render_cascade,
    render_heatmap,
    render_map,
)
from core.charts.canvas import analysis_span_ms
from core.charts.format import human_duration, imbalance_ratio, market_name
from core.imbalance import compute_imbalance
from core.models import Side, Snapshot
from core.results import Analysis, CascadeResult
from core.sim import SCENARIOS, simulate

__all__ = ["DemoResult", "heavy_direction", "run_demo"]

TIMEFRAME = "5m"
CANDLES = 2016  # one week of 5m candles
DB_NAME = "liqwatch-demo.sqlite3"
#: the default [model] on the synthetic market (its leveraged share: every position)
DEMO_PARAMS = analysis_params(ModelSettings(), synthetic=True)


@dataclass(frozen=True)
class DemoResult:
    analysis: Analysis
    files: tuple[Path, ...]
    true_short_above: float
    true_long_below: float


def run_demo(
    out_dir: Path, scenario: str = "seed", seed: int = 7, out: TextIO | None = None
) -> int:
    """Run the demo and print its report to ``out`` (stdout by default); 0 on success.

    An unknown scenario, an output folder that cannot be written and a second demo on the
    same folder are refused (:class:`~bot.app.failures.Failure`) before anything is written.
    """
    import sys

    if scenario not in SCENARIOS:
        raise Failure(
            f"--scenario {scenario!r}: no such scenario; use one of: {', '.join(SCENARIOS)} "
            "(`liqwatch demo --help` describes each)"
        )
    stream = out if out is not None else sys.stdout
    check_out_dir(out_dir)
    with StorageLock(out_dir / DB_NAME, "demo"):
        (out_dir / DB_NAME).unlink(missing_ok=True)  # a fresh store: the demo shows a first refresh
        asyncio.run(demo(out_dir, scenario=scenario, seed=seed, out=stream))
    return 0


async def demo(out_dir: Path, *, scenario: str, seed: int, out: TextIO) -> DemoResult:
    started = time.perf_counter()
    db_path = out_dir / DB_NAME
    markets = dict(SIM_MARKETS)
    btc = "BTC/USDT:USDT"
    markets[btc] = SimMarketSpec(seed=seed, start_price=markets[btc].start_price)
    source = SimSource(scenario=scenario, candles=CANDLES, markets=markets)
    files: list[Path] = []
    try:
        with Store(db_path) as store:
            full = await source.snapshot(btc, TIMEFRAME)
            now_ms = int(full.series.timestamps[-1])
            lookback = now_ms - int(full.series.timestamps[0])
            _p(out, f"liqwatch demo — synthetic market, scenario {scenario!r}, seed {seed}")
            _p(out, f"store: {db_path}\n")
            _p(
                out,
                f"{'market':<16}{'candles':>8}{'last price':>14}{'open interest':>16}"
                f"{'liq. prints':>13}",
            )
            snapshots: dict[str, Snapshot] = {}
            for symbol in source.symbols():
                await refresh_series(source, store, symbol, TIMEFRAME, lookback, now_ms)
                series = await asyncio.to_thread(store.load_series, "sim", symbol, TIMEFRAME)
                assert series is not None  # just written
                book = await source.fetch_book(symbol)
                prints = await source.fetch_prints(symbol, int(series.timestamps[0]))
                snap = Snapshot("sim", symbol, TIMEFRAME, series, now_ms, book, prints)
                snapshots[symbol] = snap
                oi = series.open_interest
                oi_usd = float(oi[-1]) * series.last_price if oi is not None else float("nan")
                _p(
                    out,
                    f"{market_name(symbol):<16}{len(series):>8}{human_price(series.last_price):>14}"
                    f"{human_usd(oi_usd):>16}{human_usd(float(prints.notionals.sum())):>13}",
                )
            # a second refresh asks only for what is new: nothing, here
            again = await refresh_series(source, store, btc, TIMEFRAME, lookback, now_ms)
            _p(
                out,
                f"\nsecond refresh of {market_name(btc)}: {again.fetched} candle(s) re-fetched "
                f"(the last one, which may have been forming), incremental={again.incremental}",
            )

        params = DEMO_PARAMS
        analysis = await asyncio.to_thread(analyze, [snapshots[btc]], params)
        truth = simulate(
            scenario,
            seed=seed,
            candles=CANDLES,
            timeframe=TIMEFRAME,
            symbol=btc,
            start_price=markets[btc].start_price,
        )
        true_map = truth.true_map(analysis.map.grid)
        true_imb = compute_imbalance(true_map, window=params.window)
        _report(out, analysis, true_imb.short_above, true_imb.long_below)

        heavy = heavy_direction(analysis)
        renders = {
            "heatmap.png": render_heatmap,
            "liquidation-map.png": render_map,
            "imbalance-card.png": render_card,
            "cascade.png": lambda a: render_cascade(a, heavy),
        }
        _p(out, "\ncharts:")
        for name, render in renders.items():
            data = await asyncio.to_thread(render, analysis)
            path = out_dir / name
            path.write_bytes(data)
            files.append(path)
            _p(out, f"  {path}  ({len(data) / 1024:.0f} KB)")
        summary = out_dir / "summary.txt"
        summary.write_text(_summary_text(analysis), encoding="utf-8")
        files.append(summary)
        _p(out, f"  {summary}")

        snap = snapshots[btc]
        last_day = summarize_prints(snap.prints, now_ms - DAY_MS, now_ms + 1)
        thread = compose_thread(analysis, prints_summary=last_day)
        x_path = out_dir / "thread-x.txt"
        x_posts = format_for_x(thread)
        x_path.write_text("\n\n".join(x_posts) + "\n", encoding="utf-8")
        tg_path = out_dir / "thread-telegram.html"
        tg_posts = render_thread(thread, "telegram")
        tg_path.write_text("\n\n---\n\n".join(p.text for p in tg_posts) + "\n", encoding="utf-8")
        files += [x_path, tg_path]
        _p(
            out,
            f"\nthread: {_posts(len(x_posts))} {x_path} (X format), "
            f"{_posts(len(tg_posts))} {tg_path} (Telegram)",
        )

        alerts_path, sent = await _one_scheduler_cycle(source, db_path, btc, now_ms, out_dir)
        files.append(alerts_path)
        _p(
            out,
            f"one scheduler cycle: {sent} alert(s) for a chat subscribed to every rule → {alerts_path}",
        )
        card = await demo_scorecard(  # the live scorecard: the sim's forced closes are its prints
            out_dir, scenario=scenario, markets=markets, symbol=btc, candles=CANDLES
        )
        files += card.files
        _p(out, f"\nlive scorecard: {card.hours} hourly maps archived and scored → {card.files[1]}")
        _p(out, render_reply(card.reply, "console"))
        _p(out, f"\ndone in {time.perf_counter() - started:.1f} s")
        return DemoResult(analysis, tuple(files), true_imb.short_above, true_imb.long_below)
    finally:
        await source.close()


class _FileOutlet:
    """An outlet that writes what would be pushed: text to one file, charts beside it."""

    platform: Platform = "console"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sent: list[str] = []

    async def send(self, chat_id: str, reply: Reply) -> None:
        text = render_reply(reply, "console")
        for image in reply.images:
            target = self.path.parent / image.filename
            await asyncio.to_thread(target.write_bytes, image.data)
            text += f"\n[chart: {target.name}]"
        self.sent.append(text)

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        for post in posts:
            await self.send(chat_id, post)


async def _one_scheduler_cycle(
    source: SimSource, db_path: Path, symbol: str, now_ms: int, out_dir: Path
) -> tuple[Path, int]:
    """A demo chat subscribed to every rule; one scheduler cycle; what it would receive."""
    path = out_dir / "alerts.txt"
    outlet = _FileOutlet(path)
    with Store(db_path) as store:
        subs = Subscriptions(store)
        subs.subscribe("console", "demo-chat", symbol, RULE_NAMES)
        service = MarketService(
            {source.name: source}, store, clock=lambda: now_ms, engine=CoreEngine(DEMO_PARAMS)
        )
        scheduler = Scheduler(service, subs, [outlet], watch=[symbol], clock=lambda: now_ms)
        await scheduler.recover()
        await scheduler.run_once()
    body = "\n\n".join(outlet.sent) if outlet.sent else "(no alert fired)"
    rules = ", ".join(RULE_NAMES)
    path.write_text(
        f"# one scheduler cycle, a chat subscribed to {market_name(symbol)}: {rules}\n\n{body}\n",
        encoding="utf-8",
    )
    return path, len(outlet.sent)


def heavy_direction(a: Analysis) -> int:
    """The cascade the analysis calls heavy: +1 (squeeze up) when more shorts sit above
    price than longs below, else -1 (flush down) — the side the demo draws."""
    imb = a.imbalance
    return 1 if imb.short_above >= imb.long_below else -1


def _posts(n: int) -> str:
    return f"{n} post{'s' if n != 1 else ''} →"


def _p(out: TextIO, line: str = "") -> None:
    print(line, file=out)


def _report(out: TextIO, a: Analysis, true_short: float, true_long: float) -> None:
    imb = a.imbalance
    pct = f"±{imb.window:.0%}"
    _p(
        out,
        f"\n{market_name(a.symbol)} at {human_price(a.price)} — estimated liquidation levels "
        f"({pct}, {_span(a)} of data):",
    )
    _p(
        out,
        f"  shorts above price  {human_usd(imb.short_above):>9}   (true: {human_usd(true_short)})",
    )
    _p(
        out,
        f"  longs below price   {human_usd(imb.long_below):>9}   (true: {human_usd(true_long)})",
    )
    _p(
        out,
        f"  imbalance           {imbalance_ratio(imb.short_above, imb.long_below)}   "
        f"(true: {imbalance_ratio(true_short, true_long)}), thin side: {_side(imb.thin_side)}",
    )
    if imb.bands:
        _p(out, "  by distance:")
        for band in imb.bands:
            _p(
                out,
                f"    {band.lo:>4.0%}–{band.hi:<4.0%} shorts {human_usd(band.short_above):>8}"
                f"  longs {human_usd(band.long_below):>8}",
            )
    _p(out, "\ntop clusters:")
    for c in a.clusters:
        _p(
            out,
            f"  {_side(c.side):<6} {human_price(c.price):>10} ({c.distance_from(a.price):+.1%})"
            f"  {human_usd(c.notional):>8}",
        )
    if not a.clusters:
        _p(out, "  none")
    _p(out, "\ndanger zones:")
    for z in a.zones:
        _p(
            out,
            f"  {human_price(z.low)}–{human_price(z.high)}: {human_usd(z.notional)} of "
            f"{_side(z.side)} liquidations",
        )
    if not a.zones:
        _p(out, "  none")
    for cascade in (a.cascade_up, a.cascade_down):
        if cascade is not None:
            _p(out, _cascade_line(cascade))


def _cascade_line(c: CascadeResult) -> str:
    way = "up" if c.direction > 0 else "down"
    verdict = "self-feeding" if c.r_ratio > 1 else "absorbed"
    return (
        f"\ncascade {way}: push {human_price(c.start_price)} → {human_price(c.push_price)}; "
        f"forced {human_usd(c.forced_notional)} over {c.rounds} round(s) carries price to "
        f"{human_price(c.final_price)} ({c.extra_move:+.2%} beyond the push); "
        f"R = {c.r_ratio:.2f} ({verdict}; {c.depth_source} depth)"
    )


def _span(a: Analysis) -> str:
    """The range the analysis covers, as the charts' titles name it (``7d``)."""
    return human_duration(analysis_span_ms(a))


def _side(side: Side) -> str:
    return "long" if side is Side.LONG else "short"


def _summary_text(a: Analysis) -> str:
    imb = a.imbalance
    zone = max(a.zones, key=lambda z: z.notional, default=None)
    lines = [
        f"{market_name(a.symbol)} · {a.exchange_label} · {_span(a)} · {human_price(a.price)}",
        f"Estimated: {human_usd(imb.short_above)} of short liquidations within "
        f"{imb.window:.0%} above price vs {human_usd(imb.long_below)} of longs below — "
        f"{imbalance_ratio(imb.short_above, imb.long_below)}.",
    ]
    if zone is not None:
        lines.append(
            f"Densest zone: {human_price(zone.low)}–{human_price(zone.high)}, "
            f"{human_usd(zone.notional)} of {_side(zone.side)} liquidations."
        )
    cascade = a.cascade_up if heavy_direction(a) > 0 else a.cascade_down
    if cascade is not None:
        lines.append(_cascade_line(cascade).strip())
    lines.append("Estimated levels; clusters are magnets, not promises. Not financial advice.")
    moved = float(np.log(a.candle_close[-1] / a.candle_close[0])) if len(a.candle_close) else 0.0
    lines.append(f"Move over the window: {np.expm1(moved):+.1%}.")
    return "\n".join(lines) + "\n"
