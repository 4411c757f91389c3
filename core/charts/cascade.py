"""The cascade chart: forced notional against price as a simulated squeeze walks the book.

The curve is the cumulative forced notional from the start price on: first the push
itself (the map's liquidations of the squeezed side it crosses, bin by bin, from $0 at the
start price), then each round — the price the previous round's forced market orders
reached and the cumulative forced notional liquidated by then. Rounds are numbered from 1
(the push is labelled as such, not as a round ``0``). The path is drawn as steps (a round's forced flow moves price, which crosses more levels), ending
at the fixed point (or where the walk left the map, or hit the round limit — the labels
say which). ``R`` (liquidations per $ of move ÷ book depth per $ of move) says
whether the loop feeds itself (R ≥ 1) or is absorbed by the book. The map's liquidations
of the side being squeezed are drawn faintly behind the path for context.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from core.charts.canvas import (
    Page,
    dollar_formatter,
    draw_footer,
    draw_header,
    draw_legend,
    draw_no_data,
    figure_to_png,
    footer_text,
    new_page,
    style_axes,
    title_text,
)
from core.charts.errors import ChartError
from core.charts.format import human_price, human_usd
from core.charts.style import load_style
from core.results import Analysis, CascadeResult

__all__ = [
    "build_cascade_figure",
    "cascade_headline",
    "push_curve",
    "r_verdict",
    "render_cascade",
]

_MARGINS: Final = (96.0, 40.0, 118.0, 78.0)


def r_verdict(r: float) -> str:
    """``R = 1.8 — self-feeding`` / ``R = 0.4 — absorbed`` (``R ≥ 1`` feeds itself)."""
    if math.isnan(r):
        return "R n/a"
    value = "∞" if math.isinf(r) else f"{r:.1f}"
    return f"R = {value} — {'self-feeding' if r >= 1 else 'absorbed'}"


_DEPTH_NAMES: Final = {"book": "order-book depth", "model": "power-law depth model"}


#: How the walk ended, for the subtitle, and the name of its end point.
_OUTCOMES: Final = {
    "converged": "fixed point reached",
    "map_edge": "ran past the map's edge (the move is a lower bound)",
    "max_rounds": "still moving when the round limit stopped it",
}
_END_NAMES: Final = {"converged": "fixed point", "map_edge": "map edge", "max_rounds": "stopped"}


def _final(c: CascadeResult) -> str:
    """The final price; ``≥``/``≤`` when the walk left the map (the move is a bound)."""
    bound = ("≥" if c.direction > 0 else "≤") if c.outcome == "map_edge" else ""
    return f"{bound}{human_price(c.final_price)}"


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} %".replace("-", "−")


def cascade_headline(c: CascadeResult) -> str:
    """``Push +5.0 % → $15.7B forced buys → $105,097 (+11.1 % beyond the push)``."""
    flow = "buys" if c.direction > 0 else "sells"
    return (
        f"Push {_pct(c.push_price / c.start_price - 1)} → {human_usd(c.forced_notional)} forced "
        f"{flow} → {_final(c)} ({_pct(c.extra_move)} beyond the push)"
    )


def push_curve(a: Analysis, c: CascadeResult) -> tuple[np.ndarray, np.ndarray]:
    """The cumulative forced notional during the push: ``$0`` at the start price, then each
    crossed bin of the squeezed side (at its centre) up to the push price, where the path's
    round 0 takes over."""
    m = a.map
    centers = m.grid.centers
    if c.direction > 0:
        inside = (centers >= c.start_price) & (centers <= c.push_price)
        xs, values = centers[inside], m.short[inside]
    else:
        inside = (centers <= c.start_price) & (centers >= c.push_price)
        xs, values = centers[inside][::-1], m.long[inside][::-1]
    return np.r_[c.start_price, xs], np.r_[0.0, np.cumsum(values)]


def _pick(a: Analysis, direction: int) -> CascadeResult | None:
    if direction not in (1, -1):
        raise ChartError(f"direction must be 1 (squeeze up) or -1 (flush down), got {direction!r}")
    return a.cascade_up if direction == 1 else a.cascade_down


def build_cascade_figure(
    a: Analysis, direction: int = 1, *, style: str = "dark", size: tuple[int, int] = (1280, 720)
) -> Figure:
    """The cascade chart as a matplotlib Figure (not yet rendered)."""
    return _build(a, direction, style, size).figure


def _build(a: Analysis, direction: int, style: str, size: tuple[int, int]) -> Page:
    c = _pick(a, direction)
    page = new_page(load_style(style), size)
    pal, fonts = page.style.palette, page.style.fonts
    what = "squeeze up" if direction == 1 else "flush down"
    draw_header(page, f"{title_text(a)} · {what} cascade", "")
    draw_footer(page, footer_text(a))
    ax = page.figure.add_axes(page.rect(*_MARGINS))
    style_axes(page, ax)
    if c is None or len(c.path_prices) == 0:
        draw_no_data(page, ax, f"no {what} cascade was simulated for this market")
        return page
    side_color = pal.short if direction == 1 else pal.long
    page.text(
        page.figure,
        page.fx(28),
        page.fy(46),
        cascade_headline(c),
        fontsize=fonts.headline,
        weight="bold",
        va="top",
        color=side_color,
    )
    page.text(
        page.figure,
        page.fx(28),
        page.fy(78),
        f"Simulated: crossed liquidations become market {'buys' if direction == 1 else 'sells'}"
        f" that walk the book ({_DEPTH_NAMES.get(c.depth_source, c.depth_source)})"
        f" · {_OUTCOMES.get(c.outcome, c.outcome)} after {c.rounds} rounds",
        fontsize=fonts.subtitle,
        color=pal.muted,
        va="top",
    )

    prices = np.r_[c.path_prices, c.final_price]
    forced = np.r_[c.path_forced, c.forced_notional]
    ends = np.r_[prices, c.start_price]
    lo, hi = float(ends.min()), float(ends.max())
    pad = max(hi - lo, c.start_price * 0.01) * 0.08
    lo, hi = lo - pad, hi + pad
    top = float(max(forced.max(), 1.0)) * 1.3

    # Context: the map's liquidations of the squeezed side, per bin, faint, own scale.
    m = a.map
    back = ax.twinx()
    side_values = m.short if direction == 1 else m.long
    back.stairs(side_values, m.grid.edges, fill=True, color=side_color, alpha=0.18, zorder=1)
    in_view = (m.grid.centers >= lo) & (m.grid.centers <= hi)
    back_peak = float(side_values[in_view].max(initial=0.0))
    back.set_ylim(0.0, back_peak / 0.6 if back_peak > 0 else 1.0)
    back.set_yticks([])
    back.set_xlim(lo, hi)
    style_axes(page, back, grid_axis="")
    ax.set_zorder(back.get_zorder() + 1)
    ax.patch.set_visible(False)
    back.set_facecolor(pal.panel)

    push_x, push_y = push_curve(a, c)
    ax.step(
        np.r_[push_x, prices],
        np.r_[push_y, forced],
        where="post",
        color=side_color,
        linewidth=2.6,
        zorder=5,
    )
    ax.plot(c.path_prices, c.path_forced, "o", color=side_color, markersize=5, zorder=6)
    min_gap = (hi - lo) * 0.025
    last_x = float(c.path_prices[0])  # round 0 is the push: its arrow says so
    for k, (p, f) in enumerate(zip(c.path_prices, c.path_forced, strict=True)):
        if k == 0:
            continue
        if abs(p - last_x) >= min_gap and abs(p - c.final_price) >= min_gap:
            page.text(
                ax,
                p,
                f,
                f" {k}",
                ha="left",
                va="bottom",
                fontsize=fonts.tick,
                color=pal.muted,
                zorder=6,
            )
            last_x = p
    ax.axvline(c.start_price, color=pal.price, linewidth=1.1, linestyle=(0, (4, 3)), zorder=4)
    page.text(
        ax,
        c.start_price,
        0.985,
        f" start {human_price(c.start_price)} ",
        transform=ax.get_xaxis_transform(),
        ha="left" if direction == 1 else "right",
        va="top",
        fontsize=fonts.tick,
        weight="bold",
        color=pal.price,
    )
    ax.annotate(
        "",
        xy=(c.push_price, top * 0.06),
        xytext=(c.start_price, top * 0.06),
        arrowprops={"arrowstyle": "-|>", "color": pal.push, "linewidth": 2.2},
        zorder=7,
    )
    page.text(
        ax,
        (c.start_price + c.push_price) / 2,
        top * 0.08,
        f"push {_pct(c.push_price / c.start_price - 1)}",
        ha="center",
        va="bottom",
        fontsize=fonts.annotation,
        weight="bold",
        color=pal.push,
        zorder=7,
    )
    ax.plot(
        [c.final_price],
        [c.forced_notional],
        marker="*",
        markersize=20,
        color=pal.accent,
        markeredgecolor=pal.background,
        zorder=8,
        linestyle="none",
    )
    right_side = (c.final_price - lo) / (hi - lo) > 0.6
    ax.annotate(
        f"{_END_NAMES.get(c.outcome, 'end')} {_final(c)}\n{human_usd(c.forced_notional)} forced"
        f" · round {c.rounds}",
        xy=(c.final_price, c.forced_notional),
        xytext=(-14 if right_side else 14, 12),
        textcoords="offset points",
        ha="right" if right_side else "left",
        va="bottom",
        fontsize=fonts.annotation,
        fontfamily="DejaVu Sans",
        weight="bold",
        color=pal.accent,
        parse_math=False,
        zorder=8,
        bbox={"boxstyle": "round,pad=0.35", "facecolor": pal.label_bg, "edgecolor": "none"},
    )
    r_color = side_color if c.r_ratio >= 1 else pal.muted
    page.text(
        ax,
        0.015 if direction == 1 else 0.985,
        0.9,
        r_verdict(c.r_ratio),
        transform=ax.transAxes,
        ha="left" if direction == 1 else "right",
        va="top",
        fontsize=fonts.headline,
        weight="bold",
        color=r_color,
        zorder=9,
        bbox={"boxstyle": "round,pad=0.4", "facecolor": pal.label_bg, "edgecolor": r_color},
    )

    ax.set_xlim(lo, hi)
    ax.set_ylim(0.0, top)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(dollar_formatter(human_price))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.yaxis.set_major_formatter(dollar_formatter(human_usd))
    ax.set_ylabel(
        "cumulative forced notional", color=pal.muted, fontsize=fonts.tick, fontfamily="DejaVu Sans"
    )
    bars = Patch(
        facecolor=side_color,
        alpha=0.3,
        label=f"estimated {'short' if direction == 1 else 'long'} liquidations "
        "per price bin (shape, own scale)",
    )
    draw_legend(page, ax, [bars], "center left" if direction == 1 else "center right")
    return page


def render_cascade(
    a: Analysis, direction: int = 1, *, style: str = "dark", size: tuple[int, int] = (1280, 720)
) -> bytes:
    """PNG bytes of the up (``direction=1``) or down (``-1``) cascade of ``a``."""
    return figure_to_png(_build(a, direction, style, size))
