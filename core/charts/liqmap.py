"""The liquidation map: estimated liquidation notional per price bin at the last candle.

Price runs left to right. Short liquidations (above price — fuel for a squeeze up) and
long liquidations (below — fuel for a flush down) are filled steps in their side colours
on the left axis; the cumulative curves on the right axis answer "how much is liquidated
if price moves to here". The headline's numbers are the analysis' :class:`Imbalance`,
inside its stated window.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.patheffects import withStroke
from matplotlib.ticker import MaxNLocator
from PIL import Image

from core.charts.canvas import (
    FONT,
    Page,
    dollar_formatter,
    draw_footer,
    draw_header,
    draw_legend,
    draw_no_data,
    figure_rgb,
    figure_to_png,
    footer_text,
    new_page,
    style_axes,
    title_text,
    utc_label,
)
from core.charts.format import human_price, human_usd, imbalance_ratio
from core.charts.marks import BALANCED_RATIO
from core.charts.style import load_style
from core.models import Side
from core.results import Analysis, Imbalance

__all__ = ["build_map_figure", "draw_map", "map_headline", "map_thumbnail", "render_map"]

_MARGINS: Final = (96.0, 96.0, 118.0, 78.0)  # left, right, top, bottom in reference pixels


def map_headline(imb: Imbalance) -> str:
    """``Shorts above $14.0B vs longs below $986M — 14:1 shorts over longs`` (heavy first)."""
    heavy_first = imb.short_above >= imb.long_below
    ratio = imbalance_ratio(imb.short_above, imb.long_below)
    short, long_ = human_usd(imb.short_above), human_usd(imb.long_below)
    if heavy_first:
        return f"Shorts above {short} vs longs below {long_} — {ratio}"
    return f"Longs below {long_} vs shorts above {short} — {ratio}"


def _round_price(x: float) -> str:
    """Compact tick price: ``$95K`` rather than ``$95.0K``."""
    return re.sub(r"\.0(?=[KMBT]$)", "", human_usd(x))


def _window_pct(imb: Imbalance) -> str:
    return f"±{imb.window * 100:.0f} %"


def map_view(a: Analysis) -> tuple[float, float]:
    """Price range shown: the imbalance window plus a margin, inside the grid."""
    edges = a.map.grid.edges
    reach = max(a.imbalance.window * 1.25, 0.05)
    return max(a.price * (1 - reach), float(edges[0])), min(a.price * (1 + reach), float(edges[-1]))


def draw_map(page: Page, ax: Axes, a: Analysis, *, compact: bool = False) -> Axes:
    """Bars, cumulative curves, price line and window marks on ``ax``; returns the twin axes."""
    pal, fonts = page.style.palette, page.style.fonts
    m, imb = a.map, a.imbalance
    low, high = map_view(a)
    edges = m.grid.edges
    ax.stairs(m.short, edges, fill=True, color=pal.short, alpha=0.85, zorder=3)
    ax.stairs(m.long, edges, fill=True, color=pal.long, alpha=0.85, zorder=3)
    ax.set_xlim(low, high)
    in_view = (m.grid.centers >= low) & (m.grid.centers <= high)
    peak = float(max(m.short[in_view].max(initial=0.0), m.long[in_view].max(initial=0.0)))
    ax.set_ylim(0.0, peak * 1.12 if peak > 0 else 1.0)

    cum = ax.twinx()
    above = m.grid.centers >= m.price
    upper, lower = edges[1:], edges[:-1]
    short_x = np.r_[m.price, upper[above]]
    short_y = np.r_[0.0, m.cumulative_short_above[above]]
    long_x = np.r_[m.price, lower[~above][::-1]]
    long_y = np.r_[0.0, m.cumulative_long_below[~above][::-1]]
    halo = [withStroke(linewidth=4.2, foreground=pal.panel)]
    cum.plot(short_x, short_y, color=pal.short, linewidth=2.4, zorder=5, path_effects=halo)
    cum.plot(long_x, long_y, color=pal.long, linewidth=2.4, zorder=5, path_effects=halo)
    visible_cum = np.r_[short_y[short_x <= high], long_y[long_x >= low]]
    top = float(visible_cum.max(initial=0.0))
    cum.set_ylim(0.0, top * 1.12 if top > 0 else 1.0)
    cum.set_xlim(low, high)

    ax.axvline(m.price, color=pal.price, linewidth=1.2, linestyle=(0, (4, 3)), zorder=6)
    for edge in (m.price * (1 - imb.window), m.price * (1 + imb.window)):
        if low < edge < high:
            ax.axvline(edge, color=pal.muted, linewidth=0.9, linestyle=(0, (1, 3)), zorder=2)
    for axis in (ax, cum):
        style_axes(page, axis, grid_axis="")
    ax.grid(True, axis="y", color=pal.grid, linewidth=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5 if compact else 9, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(dollar_formatter(_round_price if compact else human_price))
    if compact:
        ax.set_yticks([])
        cum.set_yticks([])
        return cum
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(dollar_formatter(human_usd))
    cum.yaxis.set_major_locator(MaxNLocator(nbins=5))
    cum.yaxis.set_major_formatter(dollar_formatter(human_usd))
    ax.set_ylabel("per price bin", color=pal.muted, fontsize=fonts.tick, fontfamily=FONT)
    cum.set_ylabel("cumulative from price", color=pal.muted, fontsize=fonts.tick, fontfamily=FONT)
    if low <= m.price <= high:
        page.text(
            ax,
            m.price,
            1.0,
            f" {human_price(m.price)}",
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="bottom",
            fontsize=fonts.tick,
            weight="bold",
            color=pal.price,
        )
    for edge, label in (
        (1 - imb.window, f"−{imb.window * 100:.0f} %"),
        (1 + imb.window, f"+{imb.window * 100:.0f} %"),
    ):
        x = m.price * edge
        if low < x < high:
            page.text(
                ax,
                x,
                1.0,
                label,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=fonts.tick,
                color=pal.muted,
            )
    handles = [
        Patch(facecolor=pal.short, label="shorts (liquidated on a rise)"),
        Patch(facecolor=pal.long, label="longs (liquidated on a fall)"),
        Line2D([], [], color=pal.muted, linewidth=2.4, label="cumulative (right axis)"),
    ]
    draw_legend(page, ax, handles, "upper left")
    return cum


def build_map_figure(
    a: Analysis, *, style: str = "dark", size: tuple[int, int] = (1280, 720)
) -> Figure:
    """The liquidation map as a matplotlib Figure (not yet rendered)."""
    return _build(a, style, size).figure


def _build(a: Analysis, style: str, size: tuple[int, int]) -> Page:
    page = new_page(load_style(style), size)
    pal, fonts = page.style.palette, page.style.fonts
    imb = a.imbalance
    draw_header(page, f"{title_text(a)} · liquidation map", "")
    draw_footer(page, footer_text(a))
    ax = page.figure.add_axes(page.rect(*_MARGINS))
    if a.map.is_empty:
        style_axes(page, ax, grid_axis="")
        draw_no_data(page, ax, "no estimated liquidation levels around the price")
        return page
    page.text(
        page.figure,
        page.fx(28),
        page.fy(46),
        map_headline(imb),
        fontsize=fonts.headline,
        weight="bold",
        va="top",
        color=(
            pal.text
            if imb.ratio < BALANCED_RATIO
            else pal.short
            if imb.heavy_side is Side.SHORT
            else pal.long
        ),
    )
    page.text(
        page.figure,
        page.fx(28),
        page.fy(78),
        f"Estimated, within {_window_pct(imb)} of {human_price(imb.price)} at {utc_label(a.map.time)}"
        " · bars per price bin, lines cumulative from price",
        fontsize=fonts.subtitle,
        color=pal.muted,
        va="top",
    )
    draw_map(page, ax, a)
    return page


def render_map(a: Analysis, *, style: str = "dark", size: tuple[int, int] = (1280, 720)) -> bytes:
    """PNG bytes of the liquidation map of ``a``."""
    return figure_to_png(_build(a, style, size))


def map_thumbnail(
    a: Analysis, style: str, size: tuple[int, int], *, scale: float = 0.85
) -> Image.Image:
    """A compact map (bars, cumulative curves, price line, a few price ticks) as an image."""
    page = new_page(load_style(style), size, scale=scale)
    ax = page.figure.add_axes(page.rect(10.0, 10.0, 10.0, 34.0))
    if a.map.is_empty:
        style_axes(page, ax, grid_axis="")
        draw_no_data(page, ax, "")
    else:
        draw_map(page, ax, a, compact=True)
    return figure_rgb(page)
