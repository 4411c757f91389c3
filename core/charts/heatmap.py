"""The liquidation heatmap: estimated liquidation notional over time × price.

Long and short levels are drawn *combined* as one intensity (the colormap goes from
transparent through purple and teal to yellow). The side is not lost: in the model a long
level always sits below the price of its time and a short level above it (a level is
consumed the moment price touches it), so everything above the price line is shorts and
everything below is longs; cluster labels and danger zones name their side explicitly.

Intensity is clipped at a high percentile of the non-zero cells and shown through a power
norm, so one enormous level cannot wash the rest of the chart out to black.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from core.charts.canvas import (
    Page,
    dollar_formatter,
    draw_footer,
    draw_header,
    draw_no_data,
    figure_to_png,
    footer_text,
    new_page,
    style_axes,
    time_ticks,
    title_text,
)
from core.charts.format import human_duration, human_price, human_usd
from core.charts.marks import mark_clusters, mark_price, mark_zones
from core.charts.style import load_style
from core.models import FloatArray, IntArray
from core.results import Analysis

__all__ = ["CANDLE_LIMIT", "build_heatmap_figure", "column_candles", "render_heatmap"]

#: Up to this many heatmap columns the price is drawn as candles, above it as a line.
CANDLE_LIMIT: Final = 300
_MARGINS: Final = (28.0, 104.0, 92.0, 64.0)  # left, right, top, bottom in reference pixels
_VIEW_PAD: Final = 0.12  # show at least ±12 % around the price


def column_candles(
    a: Analysis, column_times: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The candles aggregated to heatmap columns: (open, high, low, close, has_data)."""
    n = len(column_times)
    nan = np.full(n, np.nan)
    if n == 0 or len(a.candle_times) == 0:
        return nan, nan, nan, nan, np.zeros(n)
    col = np.searchsorted(column_times, a.candle_times, side="right") - 1
    inside = col >= 0
    col, idx = col[inside], np.flatnonzero(inside)
    has = np.bincount(col, minlength=n) > 0
    opens, highs, lows, closes = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    if len(idx):
        starts = np.flatnonzero(np.r_[True, np.diff(col) != 0])
        cols = col[starts]
        ends = np.r_[starts[1:], len(col)] - 1
        opens[cols] = a.candle_open[idx[starts]]
        closes[cols] = a.candle_close[idx[ends]]
        highs[cols] = np.maximum.reduceat(a.candle_high[idx], starts)
        lows[cols] = np.minimum.reduceat(a.candle_low[idx], starts)
    return opens, highs, lows, closes, has.astype(np.float64)


def _x_edges(times: IntArray) -> FloatArray:
    width = float(np.median(np.diff(times))) if len(times) > 1 else 3_600_000.0
    edges: FloatArray = np.r_[times.astype(np.float64), float(times[-1]) + width]
    return edges


def _view(a: Analysis, lows: FloatArray, highs: FloatArray) -> tuple[float, float]:
    """Price range to show: the candles, ±12 % around price, zones and clusters, inside the grid."""
    edges = a.heatmap.grid.edges
    lo = [a.price * (1 - _VIEW_PAD)] + [z.low for z in a.zones] + [c.low for c in a.clusters]
    hi = [a.price * (1 + _VIEW_PAD)] + [z.high for z in a.zones] + [c.high for c in a.clusters]
    if np.isfinite(lows).any():
        lo.append(float(np.nanmin(lows)))
        hi.append(float(np.nanmax(highs)))
    low, high = max(min(lo), float(edges[0])), min(max(hi), float(edges[-1]))
    pad = (high - low) * 0.02
    return low - pad, high + pad


def _draw_price(page: Page, ax: Axes, x: FloatArray, ohlc: tuple[FloatArray, ...]) -> None:
    pal = page.style.palette
    opens, highs, lows, closes, has = ohlc
    ok = has > 0
    if not ok.any():
        return
    width = float(x[1] - x[0])
    mid = x[:-1] + width / 2
    if ok.sum() > CANDLE_LIMIT:
        ax.plot(mid[ok], closes[ok], color=pal.price, linewidth=1.4, zorder=4)
        return
    up = closes >= opens
    colors = [pal.candle_up if u else pal.candle_down for u in up[ok]]
    wicks = [[(m, lo), (m, hi)] for m, lo, hi in zip(mid[ok], lows[ok], highs[ok], strict=True)]
    ax.add_collection(LineCollection(wicks, colors=colors, linewidths=0.9, zorder=4))
    half = width * 0.34
    bodies = []
    for m, o, c in zip(mid[ok], opens[ok], closes[ok], strict=True):
        bottom, top = min(o, c), max(o, c)
        top = max(top, bottom + 1e-9 * bottom)
        bodies.append([(m - half, bottom), (m + half, bottom), (m + half, top), (m - half, top)])
    ax.add_collection(
        PolyCollection(bodies, facecolors=colors, edgecolors=colors, linewidths=0.4, zorder=5)
    )


def _colorbar(page: Page, norm: PowerNorm, vmax: float, cmap_name: str) -> None:
    """A slim horizontal legend in the header: intensity → notional per price bin."""
    pal, fonts = page.style.palette, page.style.fonts
    fig = page.figure
    width = 260.0
    left = page.ref_width - _MARGINS[1] - width
    cax = fig.add_axes((page.fx(left), page.fy(58), width / page.ref_width, 11 / page.ref_height))
    cax.set_facecolor(pal.panel)
    ramp = np.linspace(0.0, vmax, 256)[None, :]
    cax.imshow(
        ramp,
        aspect="auto",
        cmap=page.style.heatmap.colormap(cmap_name),
        norm=norm,
        extent=(0.0, vmax, 0.0, 1.0),
        interpolation="nearest",
    )
    cax.set_yticks([])
    labels = [human_usd(0.0), human_usd(vmax / 2), human_usd(vmax) + "+"]  # clipped above vmax
    cax.set_xticks([0.0, vmax / 2, vmax], [s.replace("$", r"\$") for s in labels])
    cax.tick_params(colors=pal.muted, labelcolor=pal.muted, labelsize=fonts.footer, length=2, pad=1)
    for spine in cax.spines.values():
        spine.set_color(pal.grid)
    page.text(
        fig,
        page.fx(left),
        page.fy(42),
        "liquidation notional per price bin",
        ha="left",
        va="bottom",
        fontsize=fonts.footer,
        color=pal.muted,
    )


def build_heatmap_figure(
    a: Analysis, *, style: str = "dark", size: tuple[int, int] = (1280, 720)
) -> Figure:
    """The heatmap as a matplotlib Figure (not yet rendered), for tests and reuse."""
    return _build(a, style, size).figure


def _build(a: Analysis, style: str, size: tuple[int, int]) -> Page:
    page = new_page(load_style(style), size)
    fig, pal = page.figure, page.style.palette
    hm = a.heatmap
    total = hm.total
    subtitle = "Estimated liquidation levels · longs + shorts combined"
    if len(hm.column_times) > 1:
        subtitle += f" · {human_duration(float(np.median(np.diff(hm.column_times))))} columns"
    draw_header(page, title_text(a), subtitle)
    draw_footer(page, footer_text(a))
    ax = fig.add_axes(page.rect(*_MARGINS))
    style_axes(page, ax, grid_axis="")
    nonzero = total[total > 0]
    if len(hm.column_times) == 0 or nonzero.size == 0:
        draw_no_data(page, ax, "no estimated liquidation levels for this market yet")
        return page

    x = _x_edges(hm.column_times)
    ohlc = column_candles(a, hm.column_times)
    vmax = float(np.percentile(nonzero, page.style.heatmap.clip_percentile))
    norm = PowerNorm(gamma=page.style.heatmap.gamma, vmin=0.0, vmax=vmax, clip=True)
    cmap_name = f"liqwatch-{page.style.name}"
    ax.pcolorfast(
        x, hm.grid.edges, total.T, cmap=page.style.heatmap.colormap(cmap_name), norm=norm, zorder=1
    )
    _draw_price(page, ax, x, ohlc)
    low, high = _view(a, ohlc[2], ohlc[1])
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.set_ylim(low, high)

    ax.yaxis.tick_right()
    ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(dollar_formatter(human_price))
    ax.grid(True, axis="y", color=pal.grid, linewidth=0.5, alpha=0.6, zorder=2)
    positions, labels = time_ticks(float(x[0]), float(x[-1]), max_ticks=8)
    ax.set_xticks(positions, labels)

    mark_zones(page, ax, a.zones, low, high, (ohlc[2], ohlc[1]))
    mark_clusters(page, ax, a.clusters, low, high)
    mark_price(page, ax, a.price, low, high)
    _colorbar(page, norm, vmax, cmap_name)
    return page


def render_heatmap(
    a: Analysis, *, style: str = "dark", size: tuple[int, int] = (1280, 720)
) -> bytes:
    """PNG bytes of the liquidation heatmap of ``a`` (``size`` in pixels)."""
    return figure_to_png(_build(a, style, size))
