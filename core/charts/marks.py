"""Annotations on a price-vertical axes: current price, top clusters, danger zones.

Every label states its side and its numbers in the human formats of
:mod:`core.charts.format`, so a cropped chart still says what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from matplotlib.axes import Axes

from core.charts.canvas import Page, spread_positions
from core.charts.format import human_price, human_usd
from core.models import FloatArray, Side
from core.results import Cluster, DangerZone

__all__ = [
    "BALANCED_RATIO",
    "TOP_CLUSTERS",
    "TOP_ZONES",
    "cluster_label",
    "mark_clusters",
    "mark_price",
    "mark_zones",
    "zone_label",
]

#: How many clusters (largest notional first) get a label.
TOP_CLUSTERS: Final = 3
#: How many danger zones (largest notional first) get a label; all are shaded.
TOP_ZONES: Final = 3


#: Below this heavy/thin ratio the market is called balanced: no side colour is used.
BALANCED_RATIO: Final = 1.25


def side_name(side: Side) -> str:
    return "shorts" if side is Side.SHORT else "longs"


def side_color(page: Page, side: Side) -> str:
    pal = page.style.palette
    return pal.short if side is Side.SHORT else pal.long


def cluster_label(c: Cluster) -> str:
    """``$98.4K · $2.1B shorts``: where the cluster is and how much sits there."""
    return f"{human_usd(c.price)} · {human_usd(c.notional)} {side_name(c.side)}"


def zone_label(z: DangerZone) -> str:
    """``Danger zone $95.2K–$99.6K · $13.2B shorts``."""
    return f"Danger zone {human_usd(z.low)}–{human_usd(z.high)} · {human_usd(z.notional)} {side_name(z.side)}"


def mark_price(page: Page, ax: Axes, price: float, low: float, high: float) -> None:
    """Dashed current-price line with a price tag on the right-hand price axis (if in view)."""
    pal, fonts = page.style.palette, page.style.fonts
    if not low <= price <= high:
        return
    ax.axhline(price, color=pal.price, linewidth=1.0, linestyle=(0, (4, 3)), alpha=0.9, zorder=6)
    ax.annotate(
        human_price(price),
        xy=(1.0, price),
        xycoords=("axes fraction", "data"),
        xytext=(3, 0),
        textcoords="offset points",
        ha="left",
        va="center",
        fontsize=fonts.tick,
        fontfamily="DejaVu Sans",
        weight="bold",
        color=pal.background,
        parse_math=False,
        annotation_clip=False,
        bbox={"boxstyle": "round,pad=0.25", "facecolor": pal.price, "edgecolor": "none"},
        zorder=9,
    )


def mark_clusters(
    page: Page, ax: Axes, clusters: Sequence[Cluster], low: float, high: float
) -> list[str]:
    """Label the largest clusters in view at the right edge; returns the label texts."""
    pal, fonts = page.style.palette, page.style.fonts
    visible = [c for c in clusters if low <= c.price <= high]
    top = sorted(visible, key=lambda c: c.notional, reverse=True)[:TOP_CLUSTERS]
    if not top:
        return []
    span = high - low
    wanted = [(c.price - low) / span for c in top]
    axes_px = ax.get_position().height * page.ref_height
    gap = fonts.annotation * 2.1 / axes_px
    placed = spread_positions(wanted, gap, gap / 2, 1 - gap / 2)
    labels = []
    for c, y_true, y_label in zip(top, wanted, placed, strict=True):
        color = side_color(page, c.side)
        ax.plot(
            [0.975, 1.0],
            [y_true, y_true],
            transform=ax.transAxes,
            color=color,
            linewidth=2.2,
            solid_capstyle="butt",
            zorder=7,
            clip_on=False,
        )
        text = cluster_label(c)
        ax.annotate(
            text,
            xy=(0.975, y_true),
            xycoords="axes fraction",
            xytext=(0.965, y_label),
            textcoords="axes fraction",
            ha="right",
            va="center",
            fontsize=fonts.annotation,
            fontfamily="DejaVu Sans",
            weight="bold",
            color=color,
            parse_math=False,
            bbox={
                "boxstyle": "round,pad=0.3",
                "facecolor": pal.label_bg,
                "edgecolor": color,
                "linewidth": 0.8,
            },
            arrowprops={"arrowstyle": "-", "color": color, "linewidth": 0.8},
            zorder=8,
        )
        labels.append(text)
    return labels


def _label_x(
    bands: tuple[FloatArray, FloatArray] | None,
    y_range: tuple[float, float],
    width: float,
) -> float:
    """Left edge (axes fraction) for a label spanning ``y_range`` (prices) that covers as
    few price columns as possible; ``bands`` are per-column (low, high) prices."""
    candidates = (0.01, 0.22, 0.44)
    if bands is None or len(bands[0]) == 0:
        return candidates[0]
    lows, highs = bands
    n = len(lows)
    best, best_hits = candidates[0], n + 1
    for x in candidates:
        if x + width > 0.72:  # keep clear of the cluster labels on the right
            break
        cols = slice(int(x * n), min(n, int(np.ceil((x + width) * n)) + 1))
        hit = (highs[cols] >= y_range[0]) & (lows[cols] <= y_range[1])
        hits = int(np.count_nonzero(hit))
        if hits < best_hits:
            best, best_hits = x, hits
        if hits == 0:
            break
    return best


def mark_zones(
    page: Page,
    ax: Axes,
    zones: Sequence[DangerZone],
    low: float,
    high: float,
    price_bands: tuple[FloatArray, FloatArray] | None = None,
) -> list[str]:
    """Shade every danger zone in view; label the largest few at their upper edge, placed
    where they hide the fewest price columns (``price_bands``: per-column low/high, spread
    evenly over the x axis). Returns the label texts."""
    pal, fonts = page.style.palette, page.style.fonts
    shown = [z for z in zones if min(z.high, high) > max(z.low, low)]
    for z in shown:
        lo, hi = max(z.low, low), min(z.high, high)
        color = side_color(page, z.side)
        fill = pal.zone_short if z.side is Side.SHORT else pal.zone_long
        ax.axhspan(lo, hi, facecolor=fill, edgecolor="none", zorder=2)
        for edge in (lo, hi):
            ax.axhline(edge, color=color, linewidth=0.8, linestyle=(0, (2, 3)), alpha=0.8, zorder=3)
    top = sorted(shown, key=lambda z: z.notional, reverse=True)[:TOP_ZONES]
    if not top:
        return []
    box = ax.get_position()
    height = fonts.annotation * 2.0 / (box.height * page.ref_height)
    span = high - low
    wanted = [(min(z.high, high) - low) / span - height / 2 for z in top]
    centers = spread_positions(wanted, height, height / 2, 1 - height / 2)
    labels = []
    for z, y in zip(top, centers, strict=True):
        text = zone_label(z)
        width = len(text) * fonts.annotation * 0.66 / (box.width * page.ref_width)
        y_prices = (low + (y - height / 2) * span, low + (y + height / 2) * span)
        x = _label_x(price_bands, y_prices, width)
        page.text(
            ax,
            x,
            y,
            text,
            transform=ax.transAxes,
            ha="left",
            va="center",
            fontsize=fonts.annotation,
            weight="bold",
            color=side_color(page, z.side),
            bbox={"boxstyle": "round,pad=0.3", "facecolor": pal.label_bg, "edgecolor": "none"},
            zorder=8,
        )
        labels.append(text)
    return labels
