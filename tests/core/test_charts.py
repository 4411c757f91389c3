"""Tests for core.charts: styles, chart semantics, PNG limits, threads, image regressions
(number formats: test_chart_format.py).

Image regression: each chart of the fixture analysis is compared with a reference PNG in
tests/core/reference_png/ by decoded pixels (mean absolute difference and the share of
pixels off by more than 32 levels). After an intended visual change, look at the new
images, then regenerate the references with

    LIQWATCH_REGEN_PNG=1 MPLBACKEND=agg .venv/bin/pytest tests/core/test_charts.py -k reference
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from chart_fixtures import TARGET_RATIO, btc_analysis, empty_analysis
from matplotlib.cbook import is_math_text
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from core.charts import (
    ChartError,
    available_styles,
    human_price,
    human_ratio,
    human_usd,
    render_card,
    render_cascade,
    render_heatmap,
    render_map,
)
from core.charts.canvas import spread_positions, time_ticks
from core.charts.card import build_card_image, card_text
from core.charts.cascade import build_cascade_figure, push_curve, r_verdict
from core.charts.format import imbalance_ratio
from core.charts.heatmap import CANDLE_LIMIT, build_heatmap_figure, column_candles
from core.charts.liqmap import build_map_figure, map_headline
from core.charts.marks import cluster_label, zone_label
from core.charts.style import load_style, parse_style
from core.results import Analysis, Heatmap, LiquidationMap

REFERENCE_DIR = Path(__file__).parent / "reference_png"
REGEN = os.environ.get("LIQWATCH_REGEN_PNG") == "1"
MAX_MEAN_ABS_DIFF = 1.0  # 0..255 levels, averaged over all pixels and channels
MAX_CHANGED_SHARE = 0.002  # pixels differing by > 32 levels in any channel
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Renderer = Callable[..., bytes]
RENDERERS: dict[str, Renderer] = {
    "heatmap": render_heatmap,
    "map": render_map,
    "card": render_card,
    "cascade": render_cascade,
}


@pytest.fixture(scope="module")
def btc() -> Analysis:
    return btc_analysis()


@pytest.fixture(scope="module")
def empty() -> Analysis:
    return empty_analysis()


# --- styles --------------------------------------------------------------------------


def test_available_styles_and_lookup_error() -> None:
    assert available_styles() == ("dark", "light")
    for name in available_styles():
        assert load_style(name).name == name
    with pytest.raises(ChartError, match=r"unknown chart style 'neon'.*dark, light"):
        load_style("neon")
    assert issubclass(ChartError, ValueError)


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_every_renderer_rejects_unknown_style(btc: Analysis, name: str) -> None:
    with pytest.raises(ValueError, match="available styles: dark, light"):
        RENDERERS[name](btc, style="neon")


def test_style_file_errors_name_the_key() -> None:
    import json
    from importlib import resources

    raw = json.loads((resources.files("core.charts") / "styles" / "dark.json").read_text())
    raw["palette"]["short"] = "not-a-colour"
    with pytest.raises(ChartError, match=r"palette\.short"):
        parse_style("test.json", raw)
    del raw["palette"]["short"]
    raw["palette"]["shrot"] = "#ffffff"
    with pytest.raises(ChartError, match=r"missing \['short'\], unknown \['shrot'\]"):
        parse_style("test.json", raw)


# --- helpers -------------------------------------------------------------------------


def test_spread_positions_keeps_order_and_gap() -> None:
    placed = spread_positions([0.50, 0.51, 0.52, 0.9], 0.05, 0.0, 1.0)
    assert placed == sorted(placed)
    assert np.all(np.diff(placed) >= 0.05 - 1e-12)
    top = spread_positions([0.99, 0.98], 0.05, 0.0, 1.0)
    assert max(top) <= 1.0
    assert top[0] - top[1] == pytest.approx(0.05)


def test_time_ticks_are_round_utc_times() -> None:
    start = 1_795_000_000_000
    positions, labels = time_ticks(start, start + 7 * 86_400_000, max_ticks=8)
    assert 4 <= len(positions) <= 8
    assert all(p % 86_400_000 == 0 for p in positions)  # whole days at midnight UTC
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d\d", label) for label in labels)


def test_column_candles_aggregate_ohlc(btc: Analysis) -> None:
    cols = btc.heatmap.column_times
    opens, highs, lows, closes, has = column_candles(btc, cols)
    per = len(btc.candle_times) // len(cols)
    assert has.all()
    assert opens[3] == btc.candle_open[3 * per]
    assert closes[3] == btc.candle_close[4 * per - 1]
    assert highs[3] == btc.candle_high[3 * per : 4 * per].max()
    assert lows[3] == btc.candle_low[3 * per : 4 * per].min()


# --- semantics: the numbers drawn come from the analysis ----------------------------


def _texts(fig: Figure) -> list[Text]:
    fig.canvas.draw()  # populates tick labels
    return [t for t in fig.findobj(Text) if isinstance(t, Text) and t.get_text()]


def _strings(fig: Figure) -> list[str]:
    return [t.get_text() for t in _texts(fig)]


def _assert_dollars_literal(fig: Figure) -> None:
    for t in _texts(fig):
        assert not (t.get_parse_math() and is_math_text(t.get_text())), t.get_text()


def test_heatmap_labels(btc: Analysis) -> None:
    fig = build_heatmap_figure(btc)
    strings = _strings(fig)
    assert "BTC · binanceusdm · 7d" in strings
    assert any("data 2026-11-24 12:00 UTC · liqwatch" in s for s in strings)
    assert any("clusters are magnets, not promises" in s for s in strings)
    assert human_price(btc.price) in strings
    for cluster in btc.clusters:
        assert cluster_label(cluster) in strings
    assert cluster_label(btc.clusters[0]).startswith(human_usd(btc.clusters[0].price))
    assert zone_label(btc.zones[0]) in strings
    _assert_dollars_literal(fig)


def _with_heatmap(a: Analysis, heatmap: Heatmap) -> Analysis:
    return dataclasses.replace(a, heatmap=heatmap)


def test_heatmap_one_huge_level_does_not_wash_out(btc: Analysis) -> None:
    short = btc.heatmap.short.copy()
    short[-1, int(np.argmax(short[-1]))] *= 1000.0
    hm = Heatmap(btc.heatmap.column_times, btc.heatmap.grid, btc.heatmap.long, short)
    fig = build_heatmap_figure(_with_heatmap(btc, hm))
    (image,) = [im for im in fig.axes[0].get_images() if im.get_array() is not None]
    vmax = image.norm.vmax
    assert vmax is not None
    assert vmax < hm.total.max() / 100  # colour scale set by the bulk, not the outlier


def test_heatmap_with_many_columns_draws_a_price_line(btc: Analysis) -> None:
    per = len(btc.candle_times) // len(btc.heatmap.column_times)
    hm = Heatmap(
        btc.candle_times,
        btc.heatmap.grid,
        np.repeat(btc.heatmap.long, per, axis=0),
        np.repeat(btc.heatmap.short, per, axis=0),
    )
    assert len(hm.column_times) > CANDLE_LIMIT
    fig = build_heatmap_figure(_with_heatmap(btc, hm))
    lines = [
        ln
        for ln in fig.axes[0].get_lines()
        if np.asarray(ln.get_xdata()).size == len(btc.candle_times)
    ]
    assert len(lines) == 1
    assert np.allclose(lines[0].get_ydata(), btc.candle_close)


def test_price_outside_the_grid_is_not_tagged(btc: Analysis) -> None:
    far = 250_000.0  # a price the grid (up to $110K) does not reach
    m = btc.map
    moved = dataclasses.replace(
        btc, price=far, map=LiquidationMap(m.grid, far, m.time, m.long, m.short)
    )
    for build in (build_heatmap_figure, build_map_figure):
        strings = _strings(build(moved))
        assert not any(human_price(far) in s for s in strings if not s.startswith("Estimated"))


def test_map_headline_from_imbalance(btc: Analysis) -> None:
    imb = btc.imbalance
    headline = map_headline(imb)
    assert headline == (
        f"Shorts above {human_usd(imb.short_above)} vs longs below "
        f"{human_usd(imb.long_below)} — {imbalance_ratio(imb.short_above, imb.long_below)}"
    )
    assert headline.endswith(f"— {round(TARGET_RATIO)}:1 shorts over longs")
    fig = build_map_figure(btc)
    strings = _strings(fig)
    assert headline in strings
    assert any(f"within ±{imb.window * 100:.0f} %" in s for s in strings)
    _assert_dollars_literal(fig)


def test_cascade_labels(btc: Analysis) -> None:
    assert r_verdict(1.8) == "R = 1.8 — self-feeding"
    assert r_verdict(0.4) == "R = 0.4 — absorbed"
    assert btc.cascade_up is not None
    assert btc.cascade_down is not None
    up = _strings(build_cascade_figure(btc, 1))
    assert r_verdict(btc.cascade_up.r_ratio) in up
    assert any(human_usd(btc.cascade_up.forced_notional) in s for s in up)
    assert any(human_price(btc.cascade_up.final_price) in s for s in up)
    down = build_cascade_figure(btc, -1)
    assert r_verdict(btc.cascade_down.r_ratio) in _strings(down)
    _assert_dollars_literal(down)
    with pytest.raises(ChartError, match="direction"):
        render_cascade(btc, 0)


@pytest.mark.parametrize("direction", [1, -1])
def test_cascade_curve_starts_at_zero_at_the_start_price(btc: Analysis, direction: int) -> None:
    c = btc.cascade_up if direction == 1 else btc.cascade_down
    assert c is not None
    xs, ys = push_curve(btc, c)
    assert (xs[0], ys[0]) == (c.start_price, 0.0)  # the curve begins where the push begins
    assert np.all(np.diff(ys) >= 0)
    assert ys[-1] == pytest.approx(c.path_forced[0], rel=1e-6)  # and meets round 0
    fig = build_cascade_figure(btc, direction)
    curve = max(fig.axes[0].get_lines(), key=lambda line: len(line.get_xdata()))
    assert float(np.asarray(curve.get_xdata())[0]) == pytest.approx(c.start_price)
    assert float(np.asarray(curve.get_ydata())[0]) == 0.0
    labels = [t.get_text().strip() for t in fig.axes[0].texts]
    assert "0" not in labels  # round 0 is the push, labelled by its arrow
    assert "1" in labels


def test_card_of_a_long_heavy_market_reads_longs_over_shorts(btc: Analysis) -> None:
    imb = btc.imbalance
    flipped = dataclasses.replace(
        imb, short_above=imb.long_below, long_below=imb.short_above, bands=()
    )
    text = card_text(dataclasses.replace(btc, imbalance=flipped))
    assert text.ratio == "14:1"
    assert text.caption.startswith("Longs over shorts")
    assert text.heavy is not None and text.heavy.name == "LONG"
    assert map_headline(flipped).endswith("— 14:1 longs over shorts")


def test_card_text_from_analysis(btc: Analysis) -> None:
    text = card_text(btc)
    assert text.ratio == human_ratio(btc.imbalance.ratio) == "14:1"
    assert text.caption.startswith("Shorts over longs")  # which side the ratio puts on top
    assert text.venue == "binanceusdm · 7d"  # every card names its range
    assert text.short_total == human_usd(btc.imbalance.short_above)
    assert text.long_total == human_usd(btc.imbalance.long_below)
    assert text.thin_line == "Thin side: longs below price"
    assert text.zone_line == zone_label(max(btc.zones, key=lambda z: z.notional))
    assert text.time == "2026-11-24 12:00 UTC"
    assert build_card_image(btc).size == (1200, 675)


# --- empty analysis -------------------------------------------------------------------


def test_empty_analysis_says_no_data(empty: Analysis) -> None:
    for build in (build_heatmap_figure, build_map_figure, build_cascade_figure):
        assert "no data" in _strings(build(empty))
    assert card_text(empty).ratio == "no data"
    for name, render in RENDERERS.items():
        assert Image.open(io.BytesIO(render(empty))).size[0] > 0, name


# --- PNG limits -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RENDERERS))
@pytest.mark.parametrize("size", [(1280, 720), (800, 450), (1000, 1000), (1920, 1080)])
def test_png_is_valid_exact_and_small(btc: Analysis, name: str, size: tuple[int, int]) -> None:
    png = RENDERERS[name](btc, size=size)
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG"
    assert image.size == size
    assert sum(image.size) <= 10_000
    assert len(png) < 10 * 1024 * 1024
    if size == (1280, 720):
        assert len(png) < 400 * 1024


@pytest.mark.parametrize("size", [(100, 720), (6000, 5000), (1280.5, 720)])
def test_impossible_sizes_are_refused(btc: Analysis, size: tuple[int, int]) -> None:
    with pytest.raises(ChartError, match="size"):
        render_map(btc, size=size)


# --- threads --------------------------------------------------------------------------


def test_threaded_renders_equal_serial(btc: Analysis) -> None:
    jobs: list[Callable[[], bytes]] = [
        lambda: render_heatmap(btc),
        lambda: render_map(btc),
        lambda: render_card(btc),
        lambda: render_cascade(btc, -1),
    ] * 2
    serial = [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = list(pool.map(lambda job: job(), jobs))
    assert threaded == serial


# --- image regression ------------------------------------------------------------------


def _difference(actual: Image.Image, expected: Image.Image) -> tuple[float, float]:
    """(mean absolute difference in levels, share of pixels off by > 32 in any channel)."""
    if actual.size != expected.size:
        return math.inf, 1.0
    a = np.asarray(actual.convert("RGB"), dtype=np.int16)
    b = np.asarray(expected.convert("RGB"), dtype=np.int16)
    diff = np.abs(a - b)
    return float(diff.mean()), float((diff.max(axis=2) > 32).mean())


def _matches(actual: Image.Image, expected: Image.Image) -> bool:
    mean, share = _difference(actual, expected)
    return mean < MAX_MEAN_ABS_DIFF and share < MAX_CHANGED_SHARE


REFERENCES: dict[str, Callable[[Analysis, Analysis], bytes]] = {
    "heatmap-dark": lambda a, e: render_heatmap(a),
    "heatmap-light": lambda a, e: render_heatmap(a, style="light"),
    "map-dark": lambda a, e: render_map(a),
    "card-dark": lambda a, e: render_card(a),
    "cascade-up-dark": lambda a, e: render_cascade(a, 1),
    "cascade-down-light": lambda a, e: render_cascade(a, -1, style="light"),
    "map-empty-dark": lambda a, e: render_map(e),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_matches_reference_png(btc: Analysis, empty: Analysis, name: str) -> None:
    path = REFERENCE_DIR / f"{name}.png"
    png = REFERENCES[name](btc, empty)
    if REGEN:
        REFERENCE_DIR.mkdir(exist_ok=True)
        path.write_bytes(png)
    assert path.exists(), f"missing {path}: run with LIQWATCH_REGEN_PNG=1 to create it"
    actual, expected = Image.open(io.BytesIO(png)), Image.open(path)
    mean, share = _difference(actual, expected)
    assert _matches(actual, expected), f"{name}: mean diff {mean:.2f}, {share:.2%} pixels changed"


def test_reference_comparison_catches_regressions() -> None:
    expected = Image.open(REFERENCE_DIR / "heatmap-dark.png").convert("RGB")
    assert _matches(expected, expected)
    missing_label = expected.copy()
    missing_label.paste((20, 20, 20), (900, 150, 1140, 180))  # a cluster label's box
    assert not _matches(missing_label, expected)
    other_style = Image.open(REFERENCE_DIR / "heatmap-light.png")
    assert not _matches(other_style, expected)
    assert not _matches(expected.crop((0, 0, 1279, 720)), expected)
