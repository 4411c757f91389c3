"""The imbalance card: a 1200×675 summary image that reads as a chat preview thumbnail.

Composited with Pillow: the ratio in large type (``14:1``) in the heavy side's colour under
the line that says which side is on top (``Shorts over longs``, from the one imbalance
formatter :func:`~core.charts.format.imbalance_ratio`), the two totals, which side is thin, the main danger zone, a small liquidation-map
thumbnail drawn with matplotlib, and symbol, venue, range (``7d``: the candles the
analysis covers) and time. The text is computed first
by :func:`card_text` (pure, testable); :func:`render_card` only lays it out.

Fonts are DejaVu Sans, which ships inside matplotlib, so no system font is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from matplotlib.font_manager import FontProperties, findfont
from PIL import Image, ImageDraw, ImageFont

from core.charts.canvas import (
    CAVEAT,
    analysis_span_ms,
    check_size,
    display_symbol,
    encode_png,
    utc_label,
)
from core.charts.format import human_duration, human_usd, imbalance_ratio
from core.charts.liqmap import map_thumbnail
from core.charts.marks import BALANCED_RATIO, side_name, zone_label
from core.charts.style import Style, load_style
from core.models import Side
from core.results import Analysis

__all__ = ["CardText", "card_text", "render_card"]

_REFERENCE: Final = (1200, 675)
_PALETTE_COLORS: Final = 256


@dataclass(frozen=True)
class CardText:
    """Every string on the card, derived from the analysis."""

    symbol: str
    venue: str  # "binanceusdm · 7d": the exchange and the range the analysis covers
    time: str
    caption: str  # what the ratio measures
    ratio: str  # "14:1", or "no data"
    short_total: str  # "$14.0B" (short notional above price), "" without data
    long_total: str  # "$986M" (long notional below price), "" without data
    message: str  # shown instead of the totals when there is no data
    thin_line: str  # which side is thin
    zone_line: str  # the main danger zone, or ""
    footer: str
    heavy: Side | None  # colour of the ratio; None without data or when balanced


def card_text(a: Analysis) -> CardText:
    """The card's strings: ratio, totals, thin side and the largest danger zone."""
    imb = a.imbalance
    window = f"±{imb.window * 100:.0f} %"
    span = analysis_span_ms(a)
    venue = f"{a.exchange_label} · {human_duration(span)}" if span > 0 else a.exchange_label
    common = {
        "symbol": display_symbol(a.symbol),
        "venue": venue,
        "time": utc_label(a.as_of),
        "footer": f"{CAVEAT} · liqwatch",
    }
    if a.map.is_empty or (imb.short_above == 0 and imb.long_below == 0):
        return CardText(
            caption=f"Liquidation imbalance within {window}",
            ratio="no data",
            short_total="",
            long_total="",
            message="No estimated liquidation levels around the price yet",
            thin_line="",
            zone_line="",
            heavy=None,
            **common,
        )
    thin = imb.thin_side
    thin_where = "below" if thin is Side.LONG else "above"
    zones = sorted(a.zones, key=lambda z: z.notional, reverse=True)
    ratio, _, sides = imbalance_ratio(imb.short_above, imb.long_below).partition(" ")
    return CardText(
        caption=f"{sides[:1].upper()}{sides[1:]} · liquidations within {window}",
        ratio=ratio,
        short_total=human_usd(imb.short_above),
        long_total=human_usd(imb.long_below),
        message="",
        thin_line=(
            "Balanced: neither side dominates"
            if imb.ratio < BALANCED_RATIO
            else f"Thin side: {side_name(thin)} {thin_where} price"
        ),
        zone_line=zone_label(zones[0]) if zones else "",
        heavy=None if imb.ratio < BALANCED_RATIO else imb.heavy_side,
        **common,
    )


class _Fonts:
    """DejaVu Sans regular/bold loaded from matplotlib's bundled copy at any size."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.regular = findfont(FontProperties(family="DejaVu Sans"))
        self.bold = findfont(FontProperties(family="DejaVu Sans", weight="bold"))

    def get(self, size: float, *, bold: bool = False) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(
            self.bold if bold else self.regular, max(6, round(size * self.scale))
        )

    def fit(
        self, draw: ImageDraw.ImageDraw, text: str, size: float, width: float, *, bold: bool = False
    ) -> ImageFont.FreeTypeFont:
        """The largest font up to ``size`` at which ``text`` fits in ``width`` pixels."""
        font = self.get(size, bold=bold)
        while size > 8 and draw.textlength(text, font=font) > width * self.scale:
            size *= 0.92
            font = self.get(size, bold=bold)
        return font


def _side_rgb(style: Style, side: Side | None) -> str:
    if side is None:
        return style.palette.muted
    return style.palette.short if side is Side.SHORT else style.palette.long


def build_card_image(
    a: Analysis, *, style: str = "dark", size: tuple[int, int] = _REFERENCE
) -> Image.Image:
    """The card as an RGB Pillow image (before PNG encoding)."""
    st = load_style(style)
    pal = st.palette
    width, height = check_size(size)
    scale = min(width / _REFERENCE[0], height / _REFERENCE[1])
    text = card_text(a)
    image = Image.new("RGB", (width, height), pal.background)
    draw = ImageDraw.Draw(image)
    fonts = _Fonts(scale)

    def at(x: float, y: float) -> tuple[float, float]:
        return x * scale, y * scale

    left, column = 48.0, 560.0
    draw.text(at(left, 36), text.symbol, font=fonts.get(46, bold=True), fill=pal.text)
    symbol_width = draw.textlength(text.symbol, font=fonts.get(46, bold=True)) / scale
    draw.text(at(left + symbol_width + 16, 50), text.venue, font=fonts.get(28), fill=pal.muted)
    draw.text(
        at(width / scale - 48, 52), text.time, font=fonts.get(26), fill=pal.muted, anchor="ra"
    )
    draw.line(
        [at(left, 112), at(width / scale - 48, 112)], fill=pal.grid, width=max(1, round(2 * scale))
    )

    draw.text(
        at(left, 134), text.caption, font=fonts.fit(draw, text.caption, 27, column), fill=pal.muted
    )
    ratio_font = fonts.fit(draw, text.ratio, 200, column, bold=True)
    ratio_color = _side_rgb(st, text.heavy) if text.heavy or not text.short_total else pal.text
    draw.text(at(left, 172), text.ratio, font=ratio_font, fill=ratio_color)
    if text.message:
        font = fonts.fit(draw, text.message, 30, column)
        draw.text(at(left, 420), text.message, font=font, fill=pal.muted)
    totals = (
        ("Shorts above", text.short_total, pal.short),
        ("Longs below", text.long_total, pal.long),
    )
    label_font = fonts.get(40, bold=True)
    for i, (label, value, color) in enumerate(totals if text.short_total else ()):
        y = 404 + 56 * i
        draw.text(at(left, y), label, font=label_font, fill=color)
        draw.text(
            at(left + column - 24, y), value, font=fonts.get(44, bold=True), fill=color, anchor="ra"
        )
    if text.thin_line:
        thin_color = (
            pal.muted
            if text.heavy is None
            else _side_rgb(st, Side.LONG if text.heavy is Side.SHORT else Side.SHORT)
        )
        draw.text(
            at(left, 526),
            text.thin_line,
            font=fonts.fit(draw, text.thin_line, 30, column),
            fill=thin_color,
        )
    if text.zone_line:
        zone_side = max(a.zones, key=lambda z: z.notional).side
        draw.text(
            at(left, 570),
            text.zone_line,
            font=fonts.fit(draw, text.zone_line, 28, column, bold=True),
            fill=_side_rgb(st, zone_side),
        )

    thumb_box = (640.0, 138.0, 1152.0, 588.0)  # x0, y0, x1, y1 in reference pixels
    thumb_size = (
        round((thumb_box[2] - thumb_box[0]) * scale),
        round((thumb_box[3] - thumb_box[1]) * scale),
    )
    if min(thumb_size) >= 200:
        image.paste(
            map_thumbnail(a, style, thumb_size, scale=0.85 * scale),
            (round(thumb_box[0] * scale), round(thumb_box[1] * scale)),
        )
        draw.rectangle(
            [at(thumb_box[0], thumb_box[1]), at(thumb_box[2], thumb_box[3])],
            outline=pal.grid,
            width=max(1, round(2 * scale)),
        )
        draw.text(
            at(thumb_box[0], thumb_box[1] - 8),
            "Liquidation map",
            font=fonts.get(22),
            fill=pal.muted,
            anchor="ld",
        )
    draw.text(
        at(left, height / scale - 26),
        text.footer,
        font=fonts.fit(draw, text.footer, 21, width / scale - 2 * left),
        fill=pal.muted,
        anchor="ld",
    )
    return image


def render_card(a: Analysis, *, style: str = "dark", size: tuple[int, int] = _REFERENCE) -> bytes:
    """PNG bytes of the imbalance card (palette PNG: a few dozen KB)."""
    return encode_png(build_card_image(a, style=style, size=size), palette_colors=_PALETTE_COLORS)
