"""The live accuracy chart (``/accuracy``): how the archived maps scored against the real
liquidation prints of the hours after them, over time, beside the trivial baseline.

Top panel: **lift over chance** per time bucket — the share of the real liquidated notional
that fell in the map's top-quartile bins, divided by the share a map with no information
captures (the top quartile's share of the bins) — for longs and shorts (solid), and the same
for the proximity baseline (dashed); 1× is chance. Bottom panel: **cluster hit rate** — of
the reported clusters price reached, the share with real liquidations within ±0.5 % — with
the baseline's levels beside it. Buckets in which a prints feed was down are shaded: those
hours are reported, never scored as zero liquidations. A small sample says so on the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from core.charts.canvas import (
    Page,
    draw_footer,
    draw_header,
    draw_no_data,
    figure_to_png,
    new_page,
    style_axes,
    time_ticks,
)
from core.charts.style import load_style
from core.livescore_view import Timeline
from core.models import FloatArray

__all__ = ["AccuracyChart", "render_accuracy"]

_MARGINS: Final = (118.0, 40.0, 112.0, 76.0)  # left, right, top, bottom (reference px)
_GAP: Final = 58.0


@dataclass(frozen=True, eq=False)
class AccuracyChart:
    """What the chart shows; ``warning`` (e.g. "12 hours scored so far — too few to judge")
    is written across the top panel when set."""

    title: str
    subtitle: str
    footer: str
    timeline: Timeline
    warning: str = ""


def _x(tl: Timeline) -> FloatArray:
    out: FloatArray = (tl.starts + tl.bucket_ms / 2).astype(np.float64)
    return out


def _shade_down(page: Page, ax: Axes, tl: Timeline) -> None:
    for start, hours in zip(tl.starts, tl.down_hours, strict=True):
        if hours > 0:
            ax.axvspan(float(start), float(start + tl.bucket_ms), color=page.style.palette.grid,
                       alpha=0.55, linewidth=0, zorder=0)  # fmt: skip


def _time_axis(ax: Axes, tl: Timeline, labels: bool) -> None:
    lo, hi = float(tl.starts[0]), float(tl.starts[-1] + tl.bucket_ms)
    ticks, names = time_ticks(lo, hi)
    ax.set_xticks(ticks, names if labels else [""] * len(ticks))
    ax.set_xlim(lo, hi)


def _legend_above(page: Page, ax: Axes, handles: Sequence[Artist]) -> None:
    """One row of legend entries above the panel's right end (the data stays clear)."""
    legend = ax.legend(
        handles=list(handles),
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=len(handles),
        frameon=False,
        fontsize=page.style.fonts.tick,
        labelcolor=page.style.palette.text,
        borderaxespad=0.1,
        handlelength=1.8,
        columnspacing=1.2,
    )
    legend.set_zorder(9)


def _lift_panel(page: Page, ax: Axes, chart: AccuracyChart) -> None:
    pal, tl = page.style.palette, chart.timeline
    style_axes(page, ax)
    x = _x(tl)
    _shade_down(page, ax, tl)
    ax.axhline(1.0, color=pal.muted, linewidth=1.2, linestyle=(0, (2, 3)), zorder=1)
    series = (
        (tl.long_lift, pal.long, "-", 2.2),
        (tl.short_lift, pal.short, "-", 2.2),
        (tl.base_long_lift, pal.long, "--", 1.3),
        (tl.base_short_lift, pal.short, "--", 1.3),
    )
    for values, colour, style, width in series:
        alpha = 1.0 if style == "-" else 0.75
        ax.plot(x, values, color=colour, linestyle=style, linewidth=width, alpha=alpha,
                marker="o", markersize=3.4 if style == "-" else 2.2, zorder=3)  # fmt: skip
    finite = np.concatenate([v[np.isfinite(v)] for v, *_ in series] + [np.array([2.0])])
    ax.set_ylim(0.0, max(2.5, float(finite.max()) * 1.12))
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _p: "chance 1×" if v == 1.0 else f"{v:g}×")
    )
    _time_axis(ax, tl, labels=False)
    page.text(ax, 0.0, 1.03, "lift over chance: top-quartile share ÷ chance", weight="bold",
              transform=ax.transAxes, va="bottom", fontsize=page.style.fonts.tick)  # fmt: skip
    handles: list[Artist] = [
        Line2D([], [], color=pal.long, linewidth=2.2, label="longs"),
        Line2D([], [], color=pal.short, linewidth=2.2, label="shorts"),
        Line2D([], [], color=pal.muted, linewidth=1.3, linestyle="--", label="baseline"),
    ]
    if tl.down_hours.any():
        handles.append(Patch(color=pal.grid, label="prints feed down (not scored)"))
    _legend_above(page, ax, handles)
    if chart.warning:
        box = {"boxstyle": "round,pad=0.45", "facecolor": pal.label_bg, "edgecolor": pal.grid}
        page.text(ax, 0.5, 0.86, chart.warning, transform=ax.transAxes, ha="center",
                  va="center", weight="bold", color=pal.text, zorder=8, bbox=box,
                  fontsize=page.style.fonts.headline * 0.85)  # fmt: skip


def _hit_panel(page: Page, ax: Axes, chart: AccuracyChart) -> None:
    pal, tl = page.style.palette, chart.timeline
    style_axes(page, ax, grid_axis="y")
    _shade_down(page, ax, tl)
    x = _x(tl)
    width = tl.bucket_ms * 0.38
    model = np.where(np.isfinite(tl.hit_rate), tl.hit_rate, 0.0)
    base = np.where(np.isfinite(tl.base_hit_rate), tl.base_hit_rate, 0.0)
    ax.bar(x - width / 2, model, width=width, color=pal.accent, zorder=3)
    ax.bar(x + width / 2, base, width=width, color=pal.muted, alpha=0.7, zorder=3)
    ax.set_ylim(0.0, 1.36)
    ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    _time_axis(ax, tl, labels=True)
    page.text(ax, 0.0, 1.03, "cluster hit rate: reached, with liquidations within ±0.5 %",
              weight="bold", transform=ax.transAxes, va="bottom",
              fontsize=page.style.fonts.tick)  # fmt: skip
    small = page.style.fonts.tick * 0.8
    for i, xi in enumerate(x):  # counts stacked over the pair: clusters, then baseline levels
        top = max(model[i], base[i]) + 0.03
        if tl.reached[i]:
            page.text(ax, xi, top, f"{tl.hits[i]}/{tl.reached[i]}", ha="center", va="bottom",
                      fontsize=small, zorder=4)  # fmt: skip
            top += 0.11
        if tl.base_reached[i]:
            page.text(ax, xi, top, f"{tl.base_hits[i]}/{tl.base_reached[i]}", ha="center",
                      va="bottom", fontsize=small, color=pal.muted, zorder=4)  # fmt: skip
    handles = [
        Patch(color=pal.accent, label="reported clusters"),
        Patch(color=pal.muted, alpha=0.7, label="baseline levels (every 1 %)"),
    ]
    _legend_above(page, ax, handles)
    if not tl.reached.any():
        page.text(ax, 0.5, 0.5, "no reported cluster was reached", transform=ax.transAxes,
                  ha="center", va="center", color=pal.muted)  # fmt: skip


def render_accuracy(
    chart: AccuracyChart, *, style: str = "dark", size: tuple[int, int] = (1280, 720)
) -> bytes:
    """The accuracy chart as PNG bytes."""
    page = new_page(load_style(style), size)
    left, right, top, bottom = _MARGINS
    h = page.ref_height
    body = h - top - bottom - _GAP
    upper = body * 0.6
    draw_header(page, chart.title, chart.subtitle)
    tl = chart.timeline
    scored = np.isfinite(tl.long_lift).any() or np.isfinite(tl.short_lift).any()
    if len(tl) == 0 or not (scored or tl.reached.any() or tl.down_hours.any()):
        empty = page.figure.add_axes(page.rect(left, right, top, bottom))
        style_axes(page, empty)
        draw_no_data(page, empty, chart.warning or "no scored hours in this range")
    else:
        lift_ax = page.figure.add_axes(page.rect(left, right, top, h - top - upper))
        hit_ax = page.figure.add_axes(page.rect(left, right, top + upper + _GAP, bottom))
        _lift_panel(page, lift_ax, chart)
        _hit_panel(page, hit_ax, chart)
    draw_footer(page, chart.footer)
    return figure_to_png(page)
