"""What /accuracy says about a scorecard: verdicts, the small-sample threshold, the timeline,
and the accuracy chart (semantics, PNG limits, a reference image)."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from core.charts.accuracy import AccuracyChart, render_accuracy
from core.charts.canvas import Page, figure_to_png
from core.livescore import HourScore, summarise, unscored
from core.livescore_view import (
    CHANCE_BAND,
    MIN_HOURS,
    bucket_ms_for,
    judge,
    timeline,
)

H = 3_600_000
REFERENCE = Path(__file__).parent / "reference_png" / "accuracy-dark.png"


def _hour(side: str, top: float, real: float = 1e6, reached: int = 0, hits: int = 0) -> HourScore:
    """One scored hour side: 20 bins in range (chance 0.25), baseline half the model's share."""
    return HourScore(
        side,  # type: ignore[arg-type]
        "scored",
        20,
        real,
        top,
        0.25,
        0.9,
        0.5,
        reached,
        hits,
        top / 2,
        0.1,
        reached,
        0,
    )


def test_fewer_hours_with_liquidations_than_the_threshold_are_too_few_to_judge() -> None:
    strong = [_hour("long", 0.75)] * (MIN_HOURS - 1)
    empty_hours = [_hour("long", math.nan, real=0.0)] * 100  # scored, nothing in reach
    assert judge(summarise("long", strong + empty_hours)) == "too_few"
    enough = summarise("long", [*strong, _hour("long", 0.75)])
    assert enough.hours_with_liquidations == MIN_HOURS
    assert judge(enough) == "beats_chance" and enough.lift == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("share", "verdict"),
    [
        (0.25 * CHANCE_BAND[1], "beats_chance"),
        (0.25 * 1.0, "chance"),
        (0.25 * (CHANCE_BAND[0] + 0.01), "chance"),
        (0.25 * (CHANCE_BAND[0] - 0.01), "worse_than_chance"),
    ],
)
def test_the_verdict_follows_the_chance_band(share: float, verdict: str) -> None:
    assert judge(summarise("short", [_hour("short", share)] * MIN_HOURS)) == verdict


def test_feed_down_hours_never_count_towards_the_sample() -> None:
    down = [unscored("long", "feed_down")] * 50
    summary = summarise("long", [_hour("long", 0.75)] * 5 + down)
    assert summary.feed_down_hours == 50 and summary.hours == 5
    assert judge(summary) == "too_few"


def test_buckets_give_at_most_32_points() -> None:
    assert bucket_ms_for(12 * H) == H and bucket_ms_for(24 * H) == H
    assert bucket_ms_for(3 * 24 * H) == 3 * H
    assert bucket_ms_for(7 * 24 * H) == 6 * H
    assert bucket_ms_for(30 * 24 * H) == 24 * H
    for span in (12 * H, 30 * 24 * H, 400 * 24 * H):
        assert span / bucket_ms_for(span) <= 32 or bucket_ms_for(span) == 48 * H


def _rows(hours: int, seed: int = 3) -> list[tuple[int, HourScore]]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, HourScore]] = []
    for h in range(hours):
        if h in (30, 31, 32):
            rows += [
                (h * H, unscored("long", "feed_down")),
                (h * H, unscored("short", "feed_down")),
            ]
            continue
        for side in ("long", "short"):
            real = float(rng.choice([0.0, rng.lognormal(13, 1)]))
            top = float(rng.uniform(0.2, 0.9)) if real else math.nan
            reached = int(rng.integers(0, 3))
            rows.append((h * H, _hour(side, top, real, reached, int(rng.integers(0, reached + 1)))))
    return rows


def test_the_timeline_pools_each_bucket_like_the_scorecard() -> None:
    rows = _rows(72)
    tl = timeline(rows, start=0, end=72 * H, bucket_ms=6 * H)
    assert len(tl) == 12 and list(tl.starts) == [k * 6 * H for k in range(12)]
    for k in range(12):
        inside = [s for t, s in rows if k * 6 * H <= t < (k + 1) * 6 * H]
        lo = summarise("long", [s for s in inside if s.side == "long"])
        sh = summarise("short", [s for s in inside if s.side == "short"])
        np.testing.assert_allclose(tl.long_lift[k], lo.lift, equal_nan=True)
        np.testing.assert_allclose(tl.base_short_lift[k], sh.base_lift, equal_nan=True)
        assert tl.reached[k] == lo.reached + sh.reached
        assert tl.hits[k] == lo.hits + sh.hits
        assert tl.down_hours[k] == max(lo.feed_down_hours, sh.feed_down_hours)
    assert list(tl.down_hours[5:6]) == [3]  # hours 30–32 fall in the sixth bucket
    assert tl.down_hours.sum() == 3
    outside = timeline(rows, start=100 * H, end=106 * H, bucket_ms=H)
    assert np.isnan(outside.long_lift).all() and not outside.reached.any()


def _chart(warning: str = "", hours: int = 7 * 24) -> AccuracyChart:
    return AccuracyChart(
        "Live accuracy · BTC · sim · 7d",
        "longs 2.10× over chance (baseline 1.05×)",
        "test footer · liqwatch",
        timeline(_rows(hours), start=0, end=7 * 24 * H, bucket_ms=6 * H),
        warning,
    )


def _texts(fig: Figure) -> list[str]:
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            found += [t.get_text() for t in legend.get_texts()]
    return found


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the accuracy chart draws (kept as it encodes them)."""
    import core.charts.accuracy as module

    figures: list[Figure] = []

    def encode(page: Page) -> bytes:
        figures.append(page.figure)
        return figure_to_png(page)

    monkeypatch.setattr(module, "figure_to_png", encode)
    return figures


def test_the_chart_says_what_it_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    figures = _capture(monkeypatch)
    png = render_accuracy(_chart("12 hours scored so far — too few to judge"), size=(1200, 675))
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (1200, 675)
    (fig,) = figures
    texts = _texts(fig)
    assert "12 hours scored so far — too few to judge" in texts
    assert {"longs", "shorts", "baseline", "prints feed down (not scored)"} <= set(texts)
    assert any("/" in t and t.split("/")[0].isdigit() for t in texts)  # hit counts
    lift_ax, hit_ax = fig.axes
    assert len(lift_ax.get_lines()) >= 5  # chance line, 2 sides × model and baseline
    assert lift_ax.get_ylim()[0] == 0.0 and lift_ax.get_ylim()[1] > 1.0
    assert len(hit_ax.patches) >= 24  # model and baseline bars per bucket


def test_an_empty_scorecard_is_a_clean_no_data_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    figures = _capture(monkeypatch)
    empty = AccuracyChart("t", "s", "f", timeline([], start=0, end=24 * H, bucket_ms=H), "")
    render_accuracy(empty, style="light")
    texts = _texts(figures[0])
    assert "no data" in texts and "no scored hours in this range" in texts


def test_matches_reference_png() -> None:
    png = render_accuracy(_chart())
    if os.environ.get("LIQWATCH_REGEN_PNG") == "1":
        REFERENCE.write_bytes(png)
    assert REFERENCE.exists(), f"missing {REFERENCE}: run with LIQWATCH_REGEN_PNG=1"
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(REFERENCE).convert("RGB"), dtype=np.int16)
    assert a.shape == b.shape
    diff = np.abs(a - b)
    assert diff.mean() < 1.0 and (diff.max(axis=2) > 32).mean() < 0.002
    other = np.asarray(Image.open(io.BytesIO(render_accuracy(_chart(), style="light"))))
    assert np.abs(other.astype(np.int16) - b).mean() > 5  # the comparison can fail
