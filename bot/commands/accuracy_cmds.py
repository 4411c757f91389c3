"""``/accuracy [symbol] [range]``: the live scorecard — how the maps the bot showed scored
against the real liquidation prints of the hour after each — as text and a chart.

Per side, for the 24 h / 7 d / 30 d windows the scored hours reach (and the range asked):
the lift over chance (the share of real liquidated notional in the map's top-quartile bins ÷
that quartile's share of the bins), the proximity baseline's lift, the cluster hit rate and
the per-hour Spearman, each beside the baseline's. Fewer than
:data:`~core.livescore_view.MIN_HOURS` hours with liquidations of a side is "too few to
judge" (the module :mod:`core.livescore_view` says why 24). Hours whose prints feed was down
are counted and named, never scored as zero liquidations. The chart
(:func:`core.charts.accuracy.render_accuracy`) shows the asked range over time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from bot.analysis.render_cache import CoalescingCache
from bot.analysis.service import MarketService
from bot.commands.feeds_status import capped_feeds, feed_gaps
from bot.commands.market_cmds import CommandDefaults, short_symbol, unknown_symbol_message
from bot.commands.spec import ArgumentError, Call, CommandSpec, Param
from bot.market.errors import UnknownSymbol
from bot.reply import RANGES, Button, Image, Range, Reply
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store
from core.charts.accuracy import AccuracyChart, render_accuracy
from core.charts.canvas import display_symbol
from core.charts.format import human_duration
from core.livescore import HourScore, SideSummary, summarise
from core.livescore_view import MIN_HOURS, MIN_REACHED, bucket_ms_for, judge, timeline

__all__ = ["AccuracyCommands", "accuracy_context"]

_H: Final = 3_600_000
DEFAULT_RANGE: Final = next(r for r in RANGES if r.label == "7d")
_VERDICTS: Final = {
    "too_few": "too few to judge",
    "beats_chance": "beats chance",
    "chance": "no better than chance",
    "worse_than_chance": "worse than chance",
}
Rows = Sequence[tuple[int, HourScore]]
#: rendered charts kept: a repeat of the same scorecard (a refresh, a second chat, a button
#: pressed twice) is not drawn again — the chart changes only when an hour is scored
_CHART_CACHE_SIZE: Final = 16


def _hours_text(n: int) -> str:
    return f"{n} hour{'s' if n != 1 else ''}"


def _windows(range_: Range, rows: Rows, now: int) -> list[tuple[str, int]]:
    """The windows worth showing: 24h / 7d / 30d and the asked range, shortest first, each
    only when it reaches hours the shorter ones do not ("as available")."""
    spans = dict(WINDOWS)
    spans.setdefault(range_.label, range_.ms)
    shown: list[tuple[str, int]] = []
    previous = -1
    for label, ms in sorted(spans.items(), key=lambda kv: kv[1]):
        count = len({t for t, _ in rows if now - ms <= t < now})
        if not shown or count > previous:
            shown.append((label, ms))
            previous = count
    return shown


def _window_entry(label: str, s: SideSummary) -> dict[str, Any]:
    verdict = judge(s)
    return {
        "label": label,
        "s": s,
        "verdict": verdict,
        "verdict_text": _VERDICTS[verdict],
        "lift": _fmt_lift(s.lift),
        "base_lift": _fmt_lift(s.base_lift),
        "above_baseline": s.lift > s.base_lift,
        "hits_judged": s.reached >= MIN_REACHED,
    }


def accuracy_context(
    symbol: str,
    venues: Sequence[str],
    range_: Range,
    rows: Rows,
    now: int,
    gaps: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The template context of ``/accuracy`` from the scored rows (both sides)."""
    sides = []
    windows = _windows(range_, rows, now)
    for side in ("long", "short"):
        entries = []
        for label, ms in windows:
            picked = [s for t, s in rows if s.side == side and now - ms <= t < now]
            entries.append(_window_entry(label, summarise(side, picked)))
        sides.append({"name": side, "title": f"{side.capitalize()}s", "windows": entries})
    in_range = [s for t, s in rows if now - range_.ms <= t < now]
    scored = len({t for t, s in rows if now - range_.ms <= t < now and s.status == "scored"})
    down_hours = len({t for t, s in rows if now - range_.ms <= t < now and s.status == "feed_down"})
    small = all(judge(summarise(side, [s for s in in_range if s.side == side])) == "too_few"
                for side in ("long", "short"))  # fmt: skip
    return {
        "symbol": short_symbol(symbol),
        "venues": " + ".join(venues),
        "range": range_.label,
        "scored_hours": scored,
        "scored_text": _hours_text(scored),
        "down_hours": down_hours,
        "small": small,
        "min_hours": MIN_HOURS,
        "min_reached": MIN_REACHED,
        "sides": sides,
        "gaps": list(gaps),
        "capped": capped_feeds(venues),
    }


def _warning(ctx: dict[str, Any]) -> str:
    if not ctx["scored_hours"]:
        return "no hour scored yet in this range"
    if ctx["small"]:
        return f"{ctx['scored_text']} scored so far — too few to judge"
    return ""


def _fmt_lift(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}×"


def _subtitle(ctx: dict[str, Any]) -> str:
    """``longs 2.10× over chance (baseline 0.40×) · shorts … · 150 hours scored`` for the
    asked range (the widest window shown when the range is not one of them)."""
    parts = []
    for side in ctx["sides"]:
        by_label = {w["label"]: w for w in side["windows"]}
        s: SideSummary = by_label.get(ctx["range"], side["windows"][-1])["s"]
        parts.append(
            f"{side['name']}s {_fmt_lift(s.lift)} over chance (baseline {_fmt_lift(s.base_lift)})"
        )
    parts.append(f"{ctx['scored_text']} scored")
    if ctx["down_hours"]:
        parts.append(f"{_hours_text(ctx['down_hours'])} feed down, not scored")
    return " · ".join(parts)


def _fingerprint(chart: AccuracyChart) -> str:
    """A digest of everything the chart draws: its texts and every timeline array in full."""
    digest = hashlib.blake2b(digest_size=16)
    for text in (chart.title, chart.subtitle, chart.footer, chart.warning):
        digest.update(text.encode() + b"\0")
    tl = chart.timeline
    digest.update(str(tl.bucket_ms).encode())
    for f in dataclasses.fields(tl):
        value = getattr(tl, f.name)
        if isinstance(value, np.ndarray):
            digest.update(f.name.encode() + np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


class AccuracyCommands:
    """The ``/accuracy`` handler, bound to one service (its store holds the scorecard)."""

    def __init__(self, service: MarketService, defaults: CommandDefaults) -> None:
        self.service = service
        self.defaults = defaults
        self._charts: CoalescingCache[bytes] = CoalescingCache(_CHART_CACHE_SIZE)

    def specs(self) -> tuple[CommandSpec, ...]:
        labels = ", ".join(r.label for r in RANGES)
        return (
            CommandSpec(
                "accuracy",
                "Live scorecard: how the maps shown matched the real liquidations that followed",
                (
                    Param(
                        "symbol",
                        "symbol",
                        default=self.defaults.symbol,
                        help=f"market, e.g. BTC or ETHUSDT (default {self.defaults.symbol})",
                    ),
                    Param(
                        "range",
                        "range",
                        default=DEFAULT_RANGE,
                        help=f"{labels}: the chart's span (default {DEFAULT_RANGE.label})",
                    ),
                ),
                ("accuracy BTC", "accuracy ETH 30d"),
                handler=self.accuracy,
            ),
        )

    async def accuracy(self, call: Call) -> Reply:
        range_: Range = call.args["range"]
        try:
            symbol, venues = await self.service.resolve(call.args["symbol"], self.service.exchanges)
        except UnknownSymbol as exc:
            raise ArgumentError(unknown_symbol_message(exc, self.defaults.tracked)) from None
        store = self.service.store
        if not isinstance(store, Store):  # pragma: no cover - the service always has one
            raise ArgumentError("The scorecard needs the bot's database.")
        now = self.service.clock()
        since = now - max(WINDOWS["30d"], range_.ms)

        def load() -> tuple[list[tuple[int, HourScore]], list[dict[str, Any]]]:
            book = ScoreBook(store)
            rows = [
                row
                for side in ("long", "short")
                for row in book.hours(symbol, side, since=since, until=now)
            ]
            shown = [t for t, _ in rows if t >= now - range_.ms]
            # prints missing where hours were due (before the first one, nothing was asked)
            gaps = feed_gaps(store, venues, min(shown), now) if shown else []
            return rows, gaps

        rows, gaps = await asyncio.to_thread(load)
        ctx = accuracy_context(symbol, venues, range_, rows, now, gaps)
        bucket = bucket_ms_for(range_.ms)
        start = (now - range_.ms) // bucket * bucket
        chart = AccuracyChart(
            title=f"Live accuracy · {display_symbol(symbol)} · {ctx['venues']} · {range_.label}",
            subtitle=_subtitle(ctx),
            footer="estimated maps as shown, scored against the real liquidation prints of the "
            f"hour after · buckets of {human_duration(bucket)} · clusters are magnets, not "
            "promises · liqwatch",
            timeline=timeline(rows, start=start, end=now, bucket_ms=bucket),
            warning=_warning(ctx),
        )
        png = await self._render(chart, (symbol, tuple(venues), range_.label, start, now // 60_000))
        short = short_symbol(symbol)
        image = Image(
            filename=f"{short}-accuracy-{range_.label}.png".lower(),
            data=png,
            alt=f"Live accuracy of the liquidation maps of {short}, {range_.label}",
        )
        buttons = tuple(
            Button(r.label, f"/accuracy {short} {r.label}", r.label == range_.label) for r in RANGES
        )
        return Reply("accuracy", ctx, images=(image,), buttons=(buttons,))

    async def _render(self, chart: AccuracyChart, scope: tuple[object, ...]) -> bytes:
        """The chart's PNG, drawn once per distinct content (``chart`` is compared whole,
        ``scope`` keeps the key cheap to tell apart) and minute of the clock; identical
        requests in flight share one render."""
        style, size = self.service.style, self.service.size
        key = (*scope, style, size, _fingerprint(chart))
        return await self._charts.get(
            key, lambda: asyncio.to_thread(render_accuracy, chart, style=style, size=size)
        )
