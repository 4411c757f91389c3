"""Market-structure threads: one :class:`~core.results.Analysis` told as a series of posts.

The thread follows the post that started the project — what the chart shows, the
imbalance, why it matters (the forced-flow feedback loop, with the cascade numbers), the
danger zone, the thin side, a reality check against real liquidation prints and the
recent move, the levels to watch, and the caveat. Each part is a Jinja2 template under
``templates/thread/`` (user-editable); a part with no data is left out.

:func:`compose_thread` returns platform-neutral posts (:class:`~bot.reply.Reply`
with raw numbers in the context); :func:`render_thread` turns them into Telegram or Discord
messages inside the platform limits, :func:`format_for_x` into numbered posts of at most
280 characters (weighted as X counts them); the cutting is :mod:`bot.notify.post_split`'s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from bot.notify.post_split import X_LIMIT, split_text, x_length
from bot.notify.reality import ScorecardQuote
from bot.reply import Image, Platform, Reply
from bot.reply.text import PLATFORMS, TEMPLATE_DIR, TemplateError, Templates
from core.charts.format import human_price
from core.models import LiquidationPrints, Side
from core.results import Analysis, CascadeResult, Cluster

__all__ = [
    "DAY_MS",
    "PLATFORM_LIMITS",
    "THREAD_PARTS",
    "PlatformLimits",
    "PrintsSummary",
    "RenderedPost",
    "Thread",
    "check_thread_templates",
    "compose_thread",
    "format_for_x",
    "render_thread",
    "summarize_prints",
]

#: The parts of a thread, in posting order; each is ``templates/thread/<part>.j2``.
THREAD_PARTS: Final = (
    "hook",
    "imbalance",
    "why",
    "danger",
    "thin",
    "reality",
    "watch",
    "caveat",
)
DAY_MS: Final = 86_400_000
#: Clusters per side in "what to watch" and zones in "danger zone".
_WATCH_PER_SIDE: Final = 2
_ZONES_SHOWN: Final = 2


@dataclass(frozen=True)
class PlatformLimits:
    """Characters a platform accepts: plain text, and a caption under an image."""

    text: int
    caption: int


#: Telegram: text 4096, photo caption 1024. Discord: message content 2000 (a chart is an
#: attachment of the same message, so the content limit holds for both).
PLATFORM_LIMITS: Final[dict[Platform, PlatformLimits]] = {
    "telegram": PlatformLimits(text=4096, caption=1024),
    "discord": PlatformLimits(text=2000, caption=2000),
    "console": PlatformLimits(text=1_000_000, caption=1_000_000),
}


@dataclass(frozen=True)
class PrintsSummary:
    """Real liquidation orders over a recent window, by side of the liquidated position."""

    since: int  # ms, start of the window
    until: int  # ms, end of the window
    long_notional: float
    short_notional: float
    count: int

    @property
    def window_ms(self) -> int:
        return self.until - self.since


def summarize_prints(prints: LiquidationPrints, since: int, until: int) -> PrintsSummary:
    """Totals of the prints with ``since <= time < until``."""
    keep = (prints.times >= since) & (prints.times < until)
    notionals = prints.notionals[keep]
    sides = prints.sides[keep]
    return PrintsSummary(
        since=since,
        until=until,
        long_notional=float(notionals[sides == Side.LONG].sum()),
        short_notional=float(notionals[sides == Side.SHORT].sum()),
        count=int(keep.sum()),
    )


@dataclass(frozen=True)
class Thread:
    """A composed thread: a title and its posts, each ``Reply("thread/<part>", …)``."""

    title: str
    posts: tuple[Reply, ...]

    @property
    def parts(self) -> tuple[str, ...]:
        """The part names present (``"hook"``, …), in order."""
        return tuple(post.template.removeprefix("thread/") for post in self.posts)


@dataclass(frozen=True)
class RenderedPost:
    """One message ready for a platform: text (markup for that platform) and its images."""

    text: str
    images: tuple[Image, ...] = ()


# --- composing ------------------------------------------------------------------------------


def _coin(symbol: str) -> str:
    """``BTC/USDT:USDT`` → ``BTC`` (the name a thread reader uses)."""
    return symbol.partition("/")[0] or symbol


def _side_name(side: Side) -> str:
    return "longs" if side is Side.LONG else "shorts"


def _move_since(analysis: Analysis, since: int) -> float:
    """Relative price change from the first close at or after ``since`` to the last close."""
    times, closes = analysis.candle_times, analysis.candle_close
    if len(closes) < 2:
        return math.nan
    start = min(int(np.searchsorted(times, since, side="left")), len(closes) - 1)
    return float(closes[-1] / closes[start] - 1.0)


def _estimated_realized(analysis: Analysis, since: int) -> tuple[float, float]:
    """The model's own liquidations (long, short) since ``since``: what the prints check."""
    r = analysis.realized
    keep = r.timestamps >= since
    return float(r.long[keep].sum()), float(r.short[keep].sum())


def _nearest(clusters: Sequence[Cluster], price: float, above: bool) -> list[Cluster]:
    side = [c for c in clusters if (c.price > price) == above]
    return sorted(side, key=lambda c: abs(c.price - price))[:_WATCH_PER_SIDE]


def _cascade_context(cascade: CascadeResult) -> dict[str, Any]:
    return {
        "cascade": cascade,
        "up": cascade.direction > 0,
        "self_feeding": cascade.r_ratio > 1,
        "ran_off_map": cascade.outcome == "map_edge",
    }


def compose_thread(
    analysis: Analysis,
    *,
    charts: Callable[[str], bytes] | None = None,
    prints_summary: PrintsSummary | None = None,
    window_ms: int = DAY_MS,
    scorecard: ScorecardQuote | None = None,
) -> Thread:
    """The thread for ``analysis``; parts without data are skipped.

    ``charts(kind)`` renders a chart (``"heatmap"``, ``"card"``, ``"map"``, ``"cascade"``)
    to PNG bytes; without it the posts carry no images. ``prints_summary`` holds the real
    liquidation prints for the reality check; the recent move is measured over its window
    (else over the last ``window_ms``). ``scorecard``: the live scorecard the reality check
    quotes (:func:`bot.notify.reality.scorecard_quote`; honest about a small sample).
    """
    a = analysis
    imb = a.imbalance
    coin = _coin(a.symbol)
    heavy, thin = imb.heavy_side, imb.thin_side
    heavy_total = imb.short_above if heavy is Side.SHORT else imb.long_below
    thin_total = imb.long_below if heavy is Side.SHORT else imb.short_above
    has_levels = heavy_total > 0
    base: dict[str, Any] = {
        "coin": coin,
        "symbol": a.symbol,
        "exchange": a.exchange_label,
        "price": a.price,
        "as_of": a.as_of,
        "imbalance": imb,
        "heavy": _side_name(heavy),
        "thin": _side_name(thin),
        "heavy_up": heavy is Side.SHORT,
        "heavy_total": heavy_total,
        "thin_total": thin_total,
        "has_levels": has_levels,
    }
    slug = re.sub(r"[^a-z0-9]+", "-", coin.lower()).strip("-") or "market"

    def image(kind: str, alt: str) -> tuple[Image, ...]:
        if charts is None:
            return ()
        return (Image(f"{slug}-thread-{kind}.png", charts(kind), alt),)

    def post(part: str, images: tuple[Image, ...] = (), **extra: Any) -> Reply:
        return Reply(f"thread/{part}", {**base, "part": part, **extra}, images=images)

    posts = [post("hook", image("heatmap", f"{coin} estimated liquidation heatmap"))]
    if has_levels and imb.bands:
        posts.append(post("imbalance", bands=list(imb.bands)))
    heavy_cascade = a.cascade_up if heavy is Side.SHORT else a.cascade_down
    if has_levels and heavy_cascade is not None and heavy_cascade.forced_notional > 0:
        posts.append(
            post(
                "why",
                image("cascade", f"{coin} simulated liquidation cascade"),
                **_cascade_context(heavy_cascade),
            )
        )
    zones = sorted((z for z in a.zones if z.side is heavy), key=lambda z: -z.notional)
    if zones:
        posts.append(post("danger", zones=zones[:_ZONES_SHOWN]))
    thin_cascade = a.cascade_down if heavy is Side.SHORT else a.cascade_up
    thin_clusters = _nearest(a.clusters, a.price, above=thin is Side.SHORT)
    if thin_total > 0 or thin_clusters:
        extra = _cascade_context(thin_cascade) if thin_cascade is not None else {"cascade": None}
        posts.append(post("thin", cluster=thin_clusters[0] if thin_clusters else None, **extra))
    since = prints_summary.since if prints_summary is not None else a.as_of - window_ms
    move = _move_since(a, since)
    est_long, est_short = _estimated_realized(a, since)
    if not math.isnan(move) or prints_summary is not None or scorecard is not None:
        posts.append(
            post(
                "reality",
                scorecard=scorecard,  # the live scorecard (bot.notify.reality), if kept
                prints=prints_summary,
                move=move,
                has_move=not math.isnan(move),
                window_ms=prints_summary.window_ms if prints_summary else window_ms,
                est_long=est_long,
                est_short=est_short,
            )
        )
    above = _nearest(a.clusters, a.price, above=True)
    below = _nearest(a.clusters, a.price, above=False)
    if above or below:
        posts.append(post("watch", above=above, below=below))
    span = int(a.candle_times[-1] - a.candle_times[0]) if len(a.candle_times) > 1 else 0
    posts.append(post("caveat", timeframe=a.timeframe, span_ms=span, candles=len(a.candle_times)))
    title = f"{coin} market structure — {human_price(a.price)}"
    return Thread(title=title, posts=tuple(posts))


# --- fitting posts into platform limits ------------------------------------------------------


def _templates(templates: Templates | None) -> Templates:
    return templates if templates is not None else Templates(TEMPLATE_DIR)


def render_thread(
    thread: Thread, platform: Platform, templates: Templates | None = None
) -> list[RenderedPost]:
    """Messages for ``platform``, each inside its limit (a too-long post is split at
    sentence ends; its images go with the first piece, whose caption limit applies)."""
    chosen = _templates(templates)
    limits = PLATFORM_LIMITS[platform]
    out: list[RenderedPost] = []
    for post in thread.posts:
        text = chosen.render(post.template, dict(post.context), platform)
        if post.images:
            first, *rest = split_text(text, limits.caption)
            remainder = "\n".join(rest)
            out.append(RenderedPost(first, post.images))
            if remainder:
                out.extend(RenderedPost(t) for t in split_text(remainder, limits.text))
        else:
            out.extend(RenderedPost(t) for t in split_text(text, limits.text))
    return out


def format_for_x(thread: Thread, templates: Templates | None = None) -> list[str]:
    """Numbered plain-text posts (``1/9 …``), each at most 280 characters as X counts them."""
    chosen = _templates(templates)
    texts = [chosen.render(post.template, dict(post.context), "console") for post in thread.posts]
    total = len(texts)
    while True:  # the numbering's width depends on the count, which depends on the width
        prefix = len(f"{total}/{total} ")
        chunks = [c for text in texts for c in split_text(text, X_LIMIT - prefix, x_length)]
        if len(chunks) <= total:
            break
        total = len(chunks)
    n = len(chunks)
    return [f"{i}/{n} {chunk}" for i, chunk in enumerate(chunks, start=1)]


# --- start-up check ----------------------------------------------------------------------------


def check_thread_templates(root: Path = TEMPLATE_DIR) -> list[str]:
    """Every problem with the thread templates under ``root`` (empty: all good).

    Each part must exist as ``thread/<part>.j2`` and compile (syntax, filters) on every
    platform, including platform variants ``<platform>/thread/<part>.j2``.
    """
    root = Path(root)
    if not (root / "thread").is_dir():
        return [f"templates folder {root / 'thread'}: not found"]
    templates = Templates(root)
    problems: list[str] = []
    for part in THREAD_PARTS:
        if not (root / "thread" / f"{part}.j2").is_file():
            problems.append(f"template {root / 'thread' / part}.j2: not found")
            continue
        for platform in PLATFORMS:
            try:
                templates.render(f"thread/{part}", {}, platform)
            except TemplateError as exc:
                if exc.problem.startswith("undefined value"):
                    continue  # compiled fine; only the (empty) check context is missing
                if exc.args[0] not in problems:
                    problems.append(str(exc.args[0]))
    return problems
