"""Market-structure threads: every scenario on every platform, numbers, skips, escaping, errors."""

from __future__ import annotations

import dataclasses
import functools
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app.cli import main
from bot.notify.post_split import X_LIMIT, split_text, x_length
from bot.notify.threads import (
    DAY_MS,
    PLATFORM_LIMITS,
    THREAD_PARTS,
    PrintsSummary,
    Thread,
    check_thread_templates,
    compose_thread,
    format_for_x,
    render_thread,
    summarize_prints,
)
from bot.reply.text import PLATFORMS, TEMPLATE_DIR, TemplateError, Templates
from core.analysis import analyze
from core.charts.format import human_price, human_ratio, human_usd
from core.models import LiquidationPrints, Side
from core.results import Analysis, Imbalance
from core.sim import SCENARIOS, SimMarket, simulate

SCENARIO_NAMES = tuple(SCENARIOS)
FAKE_PNG = b"\x89PNG\r\n\x1a\n-not-a-real-chart"
#: a number as the templates print it: $1.2B, $90,971, +2.1%, 21:1, 0.14
NUMBER = re.compile(r"[-+]?\$?\d[\d,]*(?:\.\d+)?[KMBT%]?(?::\d[\d,.]*)?")
X_NUMBERING = re.compile(r"^(\d+)/(\d+) ", re.MULTILINE)


@functools.cache
def market(scenario: str) -> SimMarket:
    return simulate(scenario, candles=600)


@functools.cache
def analysis_of(scenario: str) -> Analysis:
    return analyze([market(scenario).snapshot])


def prints_of(scenario: str) -> PrintsSummary:
    a = analysis_of(scenario)
    return summarize_prints(market(scenario).snapshot.prints, a.as_of - DAY_MS, a.as_of + 1)


@functools.cache
def thread_of(scenario: str) -> Thread:
    return compose_thread(
        analysis_of(scenario), charts=lambda kind: FAKE_PNG, prints_summary=prints_of(scenario)
    )


def console_texts(thread: Thread) -> dict[str, str]:
    return {
        part: post.text
        for part, post in zip(thread.parts, render_thread(thread, "console"), strict=True)
    }


# --- limits and numbering --------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
@pytest.mark.parametrize("platform", ["telegram", "discord"])
def test_every_post_fits_the_platform(scenario: str, platform: str) -> None:
    thread = thread_of(scenario)
    posts = render_thread(thread, platform)  # type: ignore[arg-type]
    limits = PLATFORM_LIMITS[platform]  # type: ignore[index]
    assert len(posts) >= len(thread.posts) >= 3
    for post in posts:
        assert post.text.strip()
        assert len(post.text) <= (limits.caption if post.images else limits.text)
    assert posts[0].images and posts[0].images[0].data == FAKE_PNG


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_x_posts_are_numbered_and_within_280(scenario: str) -> None:
    posts = format_for_x(thread_of(scenario))
    assert len(posts) >= len(thread_of(scenario).posts)
    for i, post in enumerate(posts, start=1):
        assert x_length(post) <= X_LIMIT, post
        assert post.startswith(f"{i}/{len(posts)} ")
        assert len(X_NUMBERING.findall(post)) == 1  # no stray numbering inside a post


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_x_split_never_cuts_a_number(scenario: str) -> None:
    thread = thread_of(scenario)
    whole = " ".join(console_texts(thread).values())
    split = " ".join(X_NUMBERING.sub("", post) for post in format_for_x(thread))
    assert NUMBER.findall(split) == NUMBER.findall(whole)
    assert split.split() == whole.split()  # same words in the same order


def test_a_long_part_is_split_and_renumbered(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, root)
    filler = "Forced buys push price into the next level of $1.2B. " * 12
    (root / "thread" / "caveat.j2").write_text(filler, encoding="utf-8")
    thread = thread_of("seed")
    templates = Templates(root)
    posts = format_for_x(thread, templates)
    normal = format_for_x(thread)
    assert len(posts) >= len(normal) + 2
    assert all(x_length(p) <= X_LIMIT for p in posts)
    assert [int(m.group(1)) for p in posts for m in [X_NUMBERING.match(p)] if m] == list(
        range(1, len(posts) + 1)
    )
    long_caveat = render_thread(thread, "discord", templates)
    assert all(len(p.text) <= 2000 for p in long_caveat)


# --- the numbers are the analysis' ----------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_numbers_equal_the_analysis(scenario: str) -> None:
    a = analysis_of(scenario)
    thread = thread_of(scenario)
    text = console_texts(thread)
    imb = a.imbalance
    heavy = imb.short_above if imb.heavy_side is Side.SHORT else imb.long_below
    thin = imb.long_below if imb.heavy_side is Side.SHORT else imb.short_above
    for number in (human_usd(heavy), human_usd(thin), human_ratio(imb.ratio), human_price(a.price)):
        assert number in text["hook"]
    for band in imb.bands:
        assert f"{human_usd(band.short_above)} / {human_usd(band.long_below)}" in text["imbalance"]
    cascade = a.cascade_up if imb.heavy_side is Side.SHORT else a.cascade_down
    if "why" in text:
        assert cascade is not None
        for level in (cascade.push_price, cascade.final_price):
            assert human_price(level) in text["why"]
        assert human_usd(cascade.forced_notional) in text["why"]
        assert f"R = {cascade.r_ratio:.2f}" in text["why"]
        assert ("feeds itself" in text["why"]) == (cascade.r_ratio > 1)
    heavy_zones = sorted((z for z in a.zones if z.side is imb.heavy_side), key=lambda z: z.notional)
    assert ("danger" in text) == bool(heavy_zones)
    if heavy_zones:
        densest = heavy_zones[-1]
        line = f"{human_price(densest.low)}–{human_price(densest.high)} densely packed: "
        assert line + human_usd(densest.notional) in text["danger"]
    above = [c.price for c in a.clusters if c.price > a.price]
    below = [c.price for c in a.clusters if c.price <= a.price]
    assert ("watch" in text) == bool(a.clusters)
    assert ("Above:" in text["watch"]) == bool(above)
    assert ("Below:" in text["watch"]) == bool(below)
    for nearest in ([min(above)] if above else []) + ([max(below)] if below else []):
        assert human_price(nearest) in text["watch"]
    # reality check: prints re-summed here from the raw prints, the move from the closes
    prints = market(scenario).snapshot.prints
    keep = (prints.times >= a.as_of - DAY_MS) & (prints.times <= a.as_of)
    longs = prints.notionals[keep & (prints.sides == Side.LONG)].sum()
    shorts = prints.notionals[keep & (prints.sides == Side.SHORT)].sum()
    assert f"{human_usd(float(longs))} of longs and {human_usd(float(shorts))}" in text["reality"]
    first = int(np.searchsorted(a.candle_times, a.as_of - DAY_MS))
    move = a.candle_close[-1] / a.candle_close[first] - 1
    assert f"Price {move * 100:+.1f}% over the window" in text["reality"]
    assert "magnets, not promises" in text["reality"]


def test_images_go_with_the_hook_and_the_cascade() -> None:
    asked: list[str] = []

    def charts(kind: str) -> bytes:
        asked.append(kind)
        return FAKE_PNG

    thread = compose_thread(analysis_of("seed"), charts=charts)
    by_part = dict(zip(thread.parts, thread.posts, strict=True))
    assert [i.filename for i in by_part["hook"].images] == ["btc-thread-heatmap.png"]
    assert [i.filename for i in by_part["why"].images] == ["btc-thread-cascade.png"]
    assert sorted(asked) == ["cascade", "heatmap"]
    assert all(not p.images for p in compose_thread(analysis_of("seed")).posts)


# --- parts without data ---------------------------------------------------------------------


def test_parts_without_data_are_skipped() -> None:
    a = analysis_of("seed")
    bare = dataclasses.replace(a, zones=(), clusters=(), cascade_up=None, cascade_down=None)
    thread = compose_thread(bare)
    assert thread.parts == ("hook", "imbalance", "thin", "reality", "caveat")
    assert [p.template for p in thread.posts] == [f"thread/{p}" for p in thread.parts]
    assert set(thread.parts) <= set(THREAD_PARTS)
    for platform in PLATFORMS:
        assert len(render_thread(thread, platform)) == len(thread.parts)

    empty = dataclasses.replace(bare, imbalance=Imbalance(a.price, 0.1, 0.0, 0.0, ()))
    thread = compose_thread(empty)
    assert thread.parts == ("hook", "reality", "caveat")
    assert "no estimated liquidation levels" in render_thread(thread, "console")[0].text
    assert all(x_length(p) <= X_LIMIT for p in format_for_x(thread))


def test_a_short_history_skips_the_move_but_keeps_the_prints() -> None:
    a = analysis_of("seed")
    one = slice(len(a.candle_close) - 1, None)
    short = dataclasses.replace(
        a,
        candle_times=a.candle_times[one],
        candle_close=a.candle_close[one],
        candle_high=a.candle_high[one],
        candle_low=a.candle_low[one],
        candle_open=a.candle_open[one],
    )
    summary = PrintsSummary(a.as_of - DAY_MS, a.as_of, 2.5e6, 7.5e6, 12)
    text = console_texts(compose_thread(short, prints_summary=summary))["reality"]
    assert "$2.5M of longs and $7.5M of shorts actually liquidated (12 orders)" in text
    assert "over the window" not in text
    assert "no real liquidation prints" in console_texts(compose_thread(a))["reality"]


def test_long_heavy_thread_talks_about_forced_sells() -> None:
    a = analysis_of("seed")
    flipped = dataclasses.replace(
        a,
        imbalance=Imbalance(a.price, 0.1, 1e8, 9e8, a.imbalance.bands),
        zones=tuple(dataclasses.replace(z, side=Side.LONG) for z in a.zones),
    )
    text = console_texts(compose_thread(flipped))
    assert "~$900M of longs stacked below" in text["hook"]
    assert "9:1" in text["hook"]
    if "why" in text:
        assert "forced market sell" in text["why"]
    assert "forced market sells" in text["danger"]


# --- escaping and template errors -----------------------------------------------------------


def test_market_names_cannot_inject_markup() -> None:
    a = dataclasses.replace(analysis_of("seed"), symbol="<b>X*_`/USDT:USDT", exchanges=("ex<i>*",))
    thread = compose_thread(a)
    telegram = "\n".join(p.text for p in render_thread(thread, "telegram"))
    assert "&lt;b&gt;X" in telegram and "<b>X" not in telegram
    assert "ex&lt;i&gt;" in telegram and "<i>" not in telegram
    assert "<b>Caveat</b>" in telegram  # our own markup survives
    discord = "\n".join(p.text for p in render_thread(thread, "discord"))
    assert "ex\\<i>\\*" in discord
    assert "X\\*\\_" in discord
    assert "**Caveat**" in discord
    console = "\n".join(format_for_x(thread))
    assert "<b>X*_`" in console  # plain text: shown as is


def test_shipped_thread_templates_check_clean() -> None:
    assert check_thread_templates(TEMPLATE_DIR) == []
    assert all((TEMPLATE_DIR / "thread" / f"{p}.j2").is_file() for p in THREAD_PARTS)


def test_a_broken_template_is_named(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, root)
    broken = root / "thread" / "danger.j2"
    broken.write_text("{% for zone in zones %}{{ zone.low|price }}\n", encoding="utf-8")
    (root / "thread" / "watch.j2").write_text("{{ price|no_such_filter }}", encoding="utf-8")
    (root / "thread" / "thin.j2").unlink()
    problems = check_thread_templates(root)
    assert any(str(broken) in p and "line" in p for p in problems), problems
    assert any("watch.j2" in p and "no_such_filter" in p for p in problems), problems
    assert any(p.endswith("thin.j2: not found") for p in problems), problems
    assert len(problems) == 3
    with pytest.raises(TemplateError, match=re.escape(str(broken))):
        render_thread(thread_of("seed"), "telegram", Templates(root))
    assert check_thread_templates(tmp_path / "nowhere") == [
        f"templates folder {tmp_path / 'nowhere' / 'thread'}: not found"
    ]


# --- text splitting and X length ------------------------------------------------------------


def test_x_length_weighs_urls_and_wide_characters() -> None:
    assert x_length("abc $3.4B 12:1 –") == 16
    assert x_length("→") == 2
    assert x_length("see https://example.com/a/very/long/path/indeed ok") == 4 + 23 + 3


_WORDS = st.sampled_from(["$3.4B", "12:1", "+2.1%", "$92,741", "shorts", "price", "R", "0.14"])
_SENTENCES = st.lists(_WORDS, min_size=1, max_size=12).map(lambda ws: " ".join(ws) + ".")


@settings(max_examples=120)
@given(
    st.lists(_SENTENCES, min_size=1, max_size=25).map(" ".join),
    st.integers(min_value=10, max_value=300),
)
def test_split_text_keeps_every_word_within_the_limit(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert " ".join(chunks).split() == text.split()
    if len(text) <= limit:
        assert chunks == [text]


def test_split_text_prefers_sentence_ends() -> None:
    text = "First part ends here. Second: $3.4B of shorts.\nThird line."
    assert split_text(text, 30) == [
        "First part ends here.",
        "Second: $3.4B of shorts.",
        "Third line.",
    ]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_summarize_prints_counts_each_side_inside_the_window() -> None:
    prints = LiquidationPrints(
        times=np.array([0, 10, 20, 30, 40], np.int64),
        sides=np.array([1, -1, 1, -1, 1], np.int8),
        prices=np.full(5, 100.0),
        notionals=np.array([1.0, 2.0, 4.0, 8.0, 16.0]),
    )
    summary = summarize_prints(prints, 10, 40)
    assert (summary.long_notional, summary.short_notional, summary.count) == (4.0, 10.0, 3)
    assert summary.window_ms == 30


# --- the command line -----------------------------------------------------------------------


def test_cli_prints_numbered_x_posts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["thread", "BTC", "--format", "x"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# BTC market structure")
    numbers = [(int(i), int(n)) for i, n in X_NUMBERING.findall(out)]
    total = numbers[0][1]
    assert numbers == [(i, total) for i in range(1, total + 1)]
    posts = re.split(r"\n\n(?=\d+/\d+ )", out.split("\n\n", 1)[1].strip())
    assert len(posts) == total
    assert all(x_length(p) <= X_LIMIT for p in posts)
    assert "actually liquidated" in out  # the sim source has prints


def test_cli_telegram_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["thread", "ETH", "--format", "telegram", "--candles", "600"]) == 0
    out = capsys.readouterr().out
    assert "<b>ETH liquidation map</b>" in out
    assert "[1/" in out
