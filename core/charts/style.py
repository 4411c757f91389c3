"""Chart styles as data: ``core/charts/styles/<name>.json`` → a frozen :class:`Style`.

A style file holds three tables — ``palette`` (colours), ``fonts`` (sizes in points for a
1280×720 chart; the charts scale them with the image) and ``heatmap`` (colormap stops
and intensity scaling). Unknown or missing keys are errors, so a typo in a style file
fails loudly with the file and key named instead of silently falling back.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

from matplotlib.colors import LinearSegmentedColormap, is_color_like, to_rgba

from core.charts.errors import ChartError

__all__ = [
    "FontSizes",
    "HeatmapLook",
    "Palette",
    "Style",
    "available_styles",
    "load_style",
    "parse_style",
]

_STYLE_DIR = "styles"


@dataclass(frozen=True)
class Palette:
    """Colours (any matplotlib colour string, ``#rrggbbaa`` for translucency)."""

    background: str  # figure background
    panel: str  # plotting-area background
    text: str
    muted: str  # secondary text, ticks, footer
    grid: str
    price: str  # price line and current-price marker
    candle_up: str
    candle_down: str
    short: str  # short liquidations (above price; a squeeze up)
    long: str  # long liquidations (below price; a flush down)
    zone_short: str  # danger-zone shading, short side
    zone_long: str
    label_bg: str  # boxes behind labels drawn over data
    accent: str  # fixed points, highlights
    push: str  # the starting push of a cascade


@dataclass(frozen=True)
class FontSizes:
    """Font sizes in points at the 1280×720 reference size."""

    title: float
    subtitle: float
    headline: float
    label: float
    tick: float
    annotation: float
    footer: float


@dataclass(frozen=True)
class HeatmapLook:
    """How heatmap intensity becomes colour.

    ``stops`` are ``(position 0..1, colour)`` pairs; the first colour should be fully
    transparent so empty cells show the panel. Values are clipped at the
    ``clip_percentile`` of non-zero cells and shown with a power norm of ``gamma``
    (< 1 lifts faint levels), so one huge level cannot wash out the rest.
    """

    stops: tuple[tuple[float, str], ...]
    clip_percentile: float
    gamma: float

    def colormap(self, name: str) -> LinearSegmentedColormap:
        """A fresh colormap (colormaps are mutable: one per figure)."""
        colors = [(pos, to_rgba(color)) for pos, color in self.stops]
        return LinearSegmentedColormap.from_list(name, colors, N=256)


@dataclass(frozen=True)
class Style:
    """A complete chart style."""

    name: str
    palette: Palette
    fonts: FontSizes
    heatmap: HeatmapLook


def _table(source: str, section: str, raw: Any, cls: type[Any]) -> dict[str, Any]:
    """Check ``raw`` has exactly the fields of ``cls``; return it as a dict."""
    if not isinstance(raw, dict):
        raise ChartError(f"{source}: '{section}' must be a table")
    wanted = {f.name for f in fields(cls)}
    missing = sorted(wanted - raw.keys())
    unknown = sorted(raw.keys() - wanted)
    if missing or unknown:
        raise ChartError(f"{source}: '{section}' missing {missing}, unknown {unknown}")
    return dict(raw)


def parse_style(source: str, data: Any) -> Style:
    """Validate a decoded style file (``source`` names it in errors) into a :class:`Style`."""
    if not isinstance(data, dict):
        raise ChartError(f"{source}: top level must be a table")
    top = _table(source, "(top level)", data, Style)
    palette = _table(source, "palette", top["palette"], Palette)
    for key, value in palette.items():
        if not isinstance(value, str) or not is_color_like(value):
            raise ChartError(f"{source}: palette.{key} is not a colour: {value!r}")
    fonts = _table(source, "fonts", top["fonts"], FontSizes)
    for key, value in fonts.items():
        if not isinstance(value, int | float) or not 4 <= value <= 200:
            raise ChartError(f"{source}: fonts.{key} must be a size 4..200, got {value!r}")
    look = _table(source, "heatmap", top["heatmap"], HeatmapLook)
    stops = look["stops"]
    if not isinstance(stops, list) or len(stops) < 2:
        raise ChartError(f"{source}: heatmap.stops needs at least two [position, colour]")
    parsed: list[tuple[float, str]] = []
    for stop in stops:
        if not (isinstance(stop, list) and len(stop) == 2 and is_color_like(stop[1])):
            raise ChartError(f"{source}: heatmap stop {stop!r} is not [position, colour]")
        parsed.append((float(stop[0]), str(stop[1])))
    positions = [p for p, _ in parsed]
    if positions[0] != 0.0 or positions[-1] != 1.0 or positions != sorted(positions):
        raise ChartError(f"{source}: heatmap stop positions must rise from 0 to 1")
    clip = float(look["clip_percentile"])
    gamma = float(look["gamma"])
    if not (50 <= clip <= 100 and 0 < gamma <= 3):
        raise ChartError(f"{source}: need 50 <= clip_percentile <= 100 and 0 < gamma <= 3")
    return Style(
        name=str(top["name"]),
        palette=Palette(**palette),
        fonts=FontSizes(**{k: float(v) for k, v in fonts.items()}),
        heatmap=HeatmapLook(stops=tuple(parsed), clip_percentile=clip, gamma=gamma),
    )


def available_styles() -> tuple[str, ...]:
    """Names of the bundled styles, sorted (``("dark", "light")``)."""
    folder = resources.files(__package__ or "core.charts") / _STYLE_DIR
    names = (p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))
    return tuple(sorted(names))


@functools.lru_cache(maxsize=16)
def load_style(name: str) -> Style:
    """The bundled style ``name``; :class:`ChartError` (a ``ValueError``) names the choices."""
    styles = available_styles()
    if name not in styles:
        raise ChartError(f"unknown chart style {name!r}; available styles: {', '.join(styles)}")
    source = f"styles/{name}.json"
    text = (resources.files(__package__ or "core.charts") / _STYLE_DIR / f"{name}.json").read_text(
        encoding="utf-8"
    )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ChartError(f"{source}: not valid JSON ({exc})") from exc
    style = parse_style(source, data)
    if style.name != name:
        raise ChartError(f"{source}: 'name' is {style.name!r}, expected {name!r}")
    return style
