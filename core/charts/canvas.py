"""Shared drawing machinery: figures of an exact pixel size, PNG encoding, text, layout.

Every chart is laid out on a 1280×720 *reference* page: margins are given in reference
pixels and fonts in points at 100 dpi. A chart of another size is the same page drawn at
``dpi = 100 × scale`` (``scale = min(w / 1280, h / 720)``), so lines and fonts grow or
shrink with the image and a chart stays legible as a phone thumbnail.

Thread safety: nothing here touches global matplotlib state. Each call makes its own
:class:`~matplotlib.figure.Figure` with its own Agg canvas; text is drawn with
``parse_math=False`` so ``$`` in dollar amounts is literal, and every colour and font is
set per artist instead of through ``rcParams``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter
from matplotlib.typing import LegendLocType
from PIL import Image

from core.charts.errors import ChartError
from core.charts.format import human_duration, market_name
from core.charts.style import Style
from core.models import timeframe_ms
from core.results import Analysis

__all__ = [
    "CAVEAT",
    "FONT",
    "REFERENCE_SIZE",
    "Page",
    "analysis_span_ms",
    "check_size",
    "display_symbol",
    "dollar_formatter",
    "draw_footer",
    "draw_header",
    "draw_legend",
    "draw_no_data",
    "encode_png",
    "figure_rgb",
    "figure_to_png",
    "footer_text",
    "new_page",
    "spread_positions",
    "style_axes",
    "time_ticks",
    "title_text",
    "utc_label",
]

REFERENCE_SIZE: Final = (1280, 720)
FONT: Final = "DejaVu Sans"
_MIN_SIDE: Final = 200
_MAX_SUM: Final = 10_000  # Telegram: width + height <= 10,000
CAVEAT: Final = "Estimated liquidation levels — clusters are magnets, not promises"


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    """Validate a pixel size (both sides >= 200, sum <= 10,000 for Telegram)."""
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ChartError(f"size must be (width, height) in pixels, got {size!r}") from None
    if (width, height) != tuple(size) or min(width, height) < _MIN_SIDE:
        raise ChartError(f"size {size!r}: need whole pixels, each side >= {_MIN_SIDE}")
    if width + height > _MAX_SUM:
        raise ChartError(f"size {size!r}: width + height must be <= {_MAX_SUM} (Telegram)")
    return width, height


@dataclass(frozen=True)
class Page:
    """A figure of exact pixel size on the reference-page coordinate system."""

    figure: Figure
    style: Style
    size: tuple[int, int]
    scale: float

    @property
    def ref_width(self) -> float:
        return self.size[0] / self.scale

    @property
    def ref_height(self) -> float:
        return self.size[1] / self.scale

    def rect(
        self, left: float, right: float, top: float, bottom: float
    ) -> tuple[float, float, float, float]:
        """Axes rectangle from margins in reference pixels → figure fractions."""
        w, h = self.ref_width, self.ref_height
        return (left / w, bottom / h, (w - left - right) / w, (h - top - bottom) / h)

    def fx(self, ref_px: float) -> float:
        """A horizontal reference-pixel offset from the left as a figure fraction."""
        return ref_px / self.ref_width

    def fy(self, ref_px_from_top: float) -> float:
        """A vertical reference-pixel offset from the top as a figure fraction."""
        return 1.0 - ref_px_from_top / self.ref_height

    def text(self, target: Figure | Axes, x: float, y: float, s: str, **kw: Any) -> Text:
        """Text with a literal ``$`` (no mathtext) in the style's font and colour."""
        kw.setdefault("color", self.style.palette.text)
        kw.setdefault("fontsize", self.style.fonts.label)
        return target.text(x, y, s, parse_math=False, fontfamily=FONT, **kw)


def new_page(style: Style, size: tuple[int, int], *, scale: float | None = None) -> Page:
    """A blank figure of exactly ``size`` pixels with its own Agg canvas.

    ``scale`` overrides the size-derived scale (a thumbnail wants larger type than a
    shrunken full chart).
    """
    width, height = check_size(size)
    if scale is None:
        scale = min(width / REFERENCE_SIZE[0], height / REFERENCE_SIZE[1])
    dpi = 100.0 * scale
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor=style.palette.background)
    FigureCanvasAgg(fig)
    return Page(figure=fig, style=style, size=(width, height), scale=scale)


def figure_rgb(page: Page) -> Image.Image:
    """Draw the page and return it as an RGB Pillow image of exactly ``page.size``."""
    canvas = page.figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    image = Image.fromarray(rgba, "RGBA").convert("RGB")
    if image.size != page.size:  # float rounding of figsize × dpi: pad or crop by a pixel
        exact = Image.new("RGB", page.size, page.style.palette.background)
        exact.paste(image, (0, 0))
        image = exact
    return image


def encode_png(image: Image.Image, *, palette_colors: int | None = None) -> bytes:
    """PNG bytes; ``palette_colors`` quantizes to that many colours (much smaller files)."""
    if palette_colors is not None:
        image = image.quantize(
            colors=palette_colors,
            method=Image.Quantize.MEDIANCUT,
            dither=Image.Dither.NONE,
        )
    out = io.BytesIO()
    # zlib level 6: ``optimize=True`` costs ~0.1 s per chart for ~2 % smaller files.
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def figure_to_png(page: Page, *, palette_colors: int | None = None) -> bytes:
    """Render ``page`` to PNG bytes (RGB, no alpha, no timestamp metadata)."""
    return encode_png(figure_rgb(page), palette_colors=palette_colors)


def style_axes(page: Page, ax: Axes, *, grid_axis: Literal["both", "x", "y", ""] = "both") -> None:
    """Panel colour, quiet spines, readable ticks, faint grid — per artist, not rcParams."""
    pal, fonts = page.style.palette, page.style.fonts
    ax.set_facecolor(pal.panel)
    for spine in ax.spines.values():
        spine.set_color(pal.grid)
        spine.set_linewidth(0.8)
    ax.tick_params(
        colors=pal.muted,
        labelcolor=pal.muted,
        labelsize=fonts.tick,
        length=3,
        width=0.8,
        labelfontfamily=FONT,
    )
    if grid_axis:
        ax.grid(True, axis=grid_axis, color=pal.grid, linewidth=0.6, alpha=0.9)
        ax.set_axisbelow(True)


def dollar_formatter(fmt: Callable[[float], str]) -> FuncFormatter:
    """A tick formatter from a human formatter, ``$`` escaped so tick text is literal."""
    return FuncFormatter(lambda x, _pos: fmt(float(x)).replace("$", r"\$"))


def utc_label(ms: int) -> str:
    """``2026-11-24 12:00 UTC`` for a Unix-millisecond time."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def analysis_span_ms(a: Analysis) -> int:
    """Time covered by the analysis' candles (first open to last close)."""
    if len(a.candle_times) == 0:
        return 0
    try:
        step = timeframe_ms(a.timeframe)
    except ValueError:
        step = 0
    return int(a.candle_times[-1] - a.candle_times[0]) + step


def display_symbol(symbol: str) -> str:
    """The market as the text replies name it: ``BTC`` for the ccxt perpetual
    ``BTC/USDT:USDT``, ``BTCUSDC`` for ``BTC/USDC:USDC`` (see :func:`market_name`)."""
    return market_name(symbol)


def title_text(a: Analysis) -> str:
    """``BTC · binanceusdm · 7d`` (``aggregated`` across several exchanges)."""
    span = analysis_span_ms(a)
    parts = [display_symbol(a.symbol), a.exchange_label]
    if span > 0:
        parts.append(human_duration(span))
    return " · ".join(parts)


def footer_text(a: Analysis) -> str:
    """The honest caveat, the data time and the bot's name."""
    return f"{CAVEAT} · data {utc_label(a.as_of)} · liqwatch"


def draw_header(page: Page, title: str, subtitle: str) -> None:
    """Title and subtitle in the top band of the page."""
    fonts, pal = page.style.fonts, page.style.palette
    fig = page.figure
    page.text(fig, page.fx(28), page.fy(16), title, fontsize=fonts.title, weight="bold", va="top")
    if subtitle:
        page.text(
            fig,
            page.fx(28),
            page.fy(50),
            subtitle,
            fontsize=fonts.subtitle,
            color=pal.muted,
            va="top",
        )


def draw_footer(page: Page, text: str) -> None:
    fonts, pal = page.style.fonts, page.style.palette
    page.text(
        page.figure,
        page.fx(28),
        12 / page.ref_height,
        text,
        fontsize=fonts.footer,
        color=pal.muted,
        va="bottom",
    )


def draw_legend(page: Page, ax: Axes, handles: Sequence[Artist], loc: LegendLocType) -> None:
    """A legend in the page's style, above every plotted layer."""
    pal, fonts = page.style.palette, page.style.fonts
    legend = ax.legend(
        handles=list(handles),
        loc=loc,
        fontsize=fonts.tick,
        facecolor=pal.label_bg,
        edgecolor=pal.grid,
        labelcolor=pal.text,
    )
    legend.set_zorder(9)


def draw_no_data(page: Page, ax: Axes, reason: str) -> None:
    """A clean empty panel that says so instead of an empty grid."""
    pal, fonts = page.style.palette, page.style.fonts
    ax.set_xticks([])
    ax.set_yticks([])
    page.text(
        ax,
        0.5,
        0.55,
        "no data",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=fonts.title * 1.6,
        weight="bold",
        color=pal.muted,
    )
    page.text(
        ax,
        0.5,
        0.40,
        reason,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=fonts.label,
        color=pal.muted,
    )


_TIME_STEPS_MS: Final = tuple(
    m * 60_000
    for m in (5, 15, 30, 60, 120, 180, 240, 360, 720, 1440, 2880, 4320, 10080, 20160, 43200)
)


def time_ticks(start_ms: float, end_ms: float, max_ticks: int = 8) -> tuple[list[float], list[str]]:
    """Round UTC tick times in ``[start, end]``: ``HH:MM`` inside a day, ``Mon DD`` at midnight."""
    span = end_ms - start_ms
    if not span > 0:
        return [], []
    step = next((s for s in _TIME_STEPS_MS if span / s <= max_ticks), _TIME_STEPS_MS[-1])
    first = int(np.ceil(start_ms / step)) * step
    positions = [float(t) for t in range(first, int(end_ms) + 1, step)]
    labels = []
    for t in positions:
        moment = datetime.fromtimestamp(t / 1000, tz=UTC)
        at_midnight = moment.hour == 0 and moment.minute == 0
        labels.append(
            moment.strftime("%b %d")
            if at_midnight or step >= 86_400_000
            else moment.strftime("%H:%M")
        )
    return positions, labels


def spread_positions(values: Sequence[float], min_gap: float, lo: float, hi: float) -> list[float]:
    """Move sorted-by-value label positions apart so neighbours are >= ``min_gap`` apart.

    Keeps the order and stays inside ``[lo, hi]`` when there is room; returns positions in
    the order of ``values``.
    """
    if not values:
        return []
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = [min(max(values[i], lo), hi) for i in order]
    for _ in range(2):
        for k in range(1, len(placed)):
            placed[k] = max(placed[k], placed[k - 1] + min_gap)
        if placed[-1] > hi:
            placed[-1] = hi
            for k in range(len(placed) - 2, -1, -1):
                placed[k] = min(placed[k], placed[k + 1] - min_gap)
        if placed[0] >= lo:
            break
        placed[0] = lo
    out = [0.0] * len(values)
    for k, i in enumerate(order):
        out[i] = placed[k]
    return out
