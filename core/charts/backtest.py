"""The backtest chart: estimated against real liquidations, over time and bar by bar.

Top: real and estimated liquidations per day (long + short, log scale), so a reader sees
whether the estimate rises and falls with what was really liquidated. Bottom: one scatter
per side, real against estimated per bar (log–log), with each side's Spearman rank
correlation — the number the README reports. The estimate's scale is not the real one
(open interest of one venue against liquidations of several), which the top panel shows
as it is rather than rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from core.charts.canvas import (
    Page,
    dollar_formatter,
    draw_footer,
    draw_header,
    draw_no_data,
    figure_to_png,
    new_page,
    style_axes,
    time_ticks,
)
from core.charts.format import human_usd
from core.charts.style import load_style
from core.models import FloatArray, IntArray, ModelError

__all__ = ["BacktestChart", "render_backtest"]

_DAY_MS: Final = 86_400_000
_FLOOR_USD: Final = 1_000.0  # log axes: bars below this are drawn at it


@dataclass(frozen=True, eq=False)
class BacktestChart:
    """What the chart shows: per scored bar, its open, the real and estimated notional."""

    title: str
    subtitle: str
    footer: str
    bar_open_ms: IntArray
    real_long: FloatArray
    real_short: FloatArray
    est_long: FloatArray
    est_short: FloatArray
    spearman_long: float
    spearman_short: float

    def __post_init__(self) -> None:
        n = len(self.bar_open_ms)
        for name in ("real_long", "real_short", "est_long", "est_short"):
            if len(getattr(self, name)) != n:
                raise ModelError(f"{name}: length does not match bar_open_ms ({n})")


def _daily(times: IntArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    day = times // _DAY_MS
    days, inverse = np.unique(day, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(days))
    centre: FloatArray = (days * _DAY_MS + _DAY_MS // 2).astype(np.float64)
    return centre, sums.astype(np.float64)


def _timeline(page: Page, ax: Axes, chart: BacktestChart) -> None:
    pal = page.style.palette
    style_axes(page, ax)
    if len(chart.bar_open_ms) == 0:
        draw_no_data(page, ax, "no scored bars")
        return
    t, real = _daily(chart.bar_open_ms, chart.real_long + chart.real_short)
    _, est = _daily(chart.bar_open_ms, chart.est_long + chart.est_short)
    ax.plot(t, np.maximum(real, _FLOOR_USD), color=pal.text, linewidth=1.8)
    ax.plot(t, np.maximum(est, _FLOOR_USD), color=pal.accent, linewidth=1.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(dollar_formatter(human_usd))
    ticks, labels = time_ticks(float(t[0]), float(t[-1]))
    ax.set_xticks(ticks, labels)
    ax.set_xlim(float(t[0]), float(t[-1]) if len(t) > 1 else float(t[0]) + _DAY_MS)
    page.text(ax, 0.0, 1.03, "liquidated per day, longs + shorts (log scale)",
              transform=ax.transAxes, va="bottom", color=pal.muted)  # fmt: skip
    handles = [
        Line2D([], [], color=pal.text, linewidth=1.8, label="real"),
        Line2D([], [], color=pal.accent, linewidth=1.8, label="estimated"),
    ]
    legend = ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=2,
        frameon=False,
        fontsize=page.style.fonts.tick,
        labelcolor=pal.text,
        borderaxespad=0.2,
    )
    legend.set_zorder(9)


def _scatter(
    page: Page, ax: Axes, real: FloatArray, est: FloatArray, colour: str, label: str, rho: float
) -> None:
    pal = page.style.palette
    style_axes(page, ax)
    if len(real) == 0:
        draw_no_data(page, ax, "no scored bars")
        return
    x = np.maximum(real, _FLOOR_USD)
    y = np.maximum(est, _FLOOR_USD)
    ax.scatter(x, y, s=9, color=colour, alpha=0.45, linewidths=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(dollar_formatter(human_usd))
    ax.yaxis.set_major_formatter(dollar_formatter(human_usd))
    floor = human_usd(_FLOOR_USD)
    ax.set_xlabel(f"real per bar (below {floor}, $0 too, drawn at {floor})", color=pal.muted)
    ax.set_ylabel("estimated per bar", color=pal.muted)
    rho_text = "n/a" if not np.isfinite(rho) else f"{rho:.2f}"
    page.text(ax, 0.02, 0.97, f"{label} · Spearman {rho_text}", transform=ax.transAxes,
              va="top", weight="bold")  # fmt: skip


def render_backtest(
    chart: BacktestChart, *, style: str = "dark", size: tuple[int, int] = (1400, 900)
) -> bytes:
    """The backtest chart as PNG bytes."""
    page = new_page(load_style(style), size)
    pal = page.style.palette
    fig = page.figure
    w, h = page.ref_width, page.ref_height
    left, right, head, foot, gap = 110.0, 40.0, 122.0, 92.0, 120.0
    timeline_h = 0.34 * h
    top = fig.add_axes(page.rect(left, right, head, h - head - timeline_h))
    half = (w - left - right - gap) / 2
    scatter_top = head + timeline_h + 64.0
    left_ax = fig.add_axes(page.rect(left, w - left - half, scatter_top, foot))
    right_ax = fig.add_axes(page.rect(left + half + gap, right, scatter_top, foot))
    draw_header(page, chart.title, chart.subtitle)
    _timeline(page, top, chart)
    _scatter(page, left_ax, chart.real_long, chart.est_long, pal.long, "longs",
             chart.spearman_long)  # fmt: skip
    _scatter(page, right_ax, chart.real_short, chart.est_short, pal.short, "shorts",
             chart.spearman_short)  # fmt: skip
    draw_footer(page, chart.footer)
    return figure_to_png(page)
