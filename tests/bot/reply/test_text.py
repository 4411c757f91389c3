"""Reply templates: every one renders on every platform, escaping, fallback, clear errors."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import pytest

from bot.analysis.market_view import MarketView
from bot.commands.catalog import TEMPLATE_NAMES
from bot.commands.market_cmds import market_context
from bot.reply import RANGES, Reply
from bot.reply.text import (
    PLATFORMS,
    TEMPLATE_DIR,
    TemplateError,
    Templates,
    check_templates,
    escape_markdown,
    render_reply,
)
from core.charts.format import human_usd
from core.results import Analysis
from tests.core.chart_fixtures import btc_analysis as _btc_analysis


@functools.cache
def btc_analysis() -> Analysis:
    return _btc_analysis()


NASTY = "<script>alert(1)</script> & *bold* _it_ `code` @everyone"


def contexts() -> dict[str, dict[str, Any]]:
    a = btc_analysis()
    view = MarketView(
        a, "BTC/USDT:USDT", ("binanceusdm",), RANGES[3], (NASTY,), (("binanceusdm", a.as_of),)
    )
    market = market_context(view)
    assert a.cascade_up is not None
    return {
        "start": {"symbol": "BTC", "exchanges": ["binanceusdm"]},
        "help": {
            "commands": [
                {
                    "name": "heatmap",
                    "usage": "/heatmap [symbol]",
                    "summary": "Heat",
                    "params": [{"usage": "[symbol]", "help": "market"}],
                    "example": "/heatmap BTC",
                    "admin": False,
                }
            ]
        },
        "status": {
            "markets": [
                {
                    "exchange": "bybit",
                    "symbol": "BTC/USDT:USDT",
                    "timeframe": "5m",
                    "candles": 2016,
                    "age_ms": 240_000,
                    "last_error": NASTY,
                }
            ],
            "exchanges": ["bybit"],
        },
        "error": {"message": NASTY, "usage": "/heatmap [symbol]", "example": "/heatmap BTC"},
        "heatmap": market,
        "map": market,
        "imbalance": {**market, "bands": list(a.imbalance.bands)},
        "levels": {**market, "clusters": list(a.clusters), "zones": list(a.zones)},
        "cascade": {**market, "cascade": a.cascade_up, "direction": "up"},
        "accuracy": _accuracy(),
    }


def _accuracy() -> dict[str, Any]:
    """A day of scored hours (and one with the feed down) as /accuracy shows them."""
    from bot.commands.accuracy_cmds import accuracy_context
    from core.livescore import HourScore, unscored

    h, now = 3_600_000, 100 * 3_600_000
    rows: list[tuple[int, HourScore]] = []
    for k in range(30):
        for side in ("long", "short"):
            score = HourScore(side, "scored", 20, 1e6, 0.6, 0.25, 0.9, 0.5, 3, 2, 0.3, 0.1, 4, 1)  # type: ignore[arg-type]
            rows.append((now - (k + 1) * h, score))
    rows += [
        (now - 31 * h, unscored("long", "feed_down")),
        (now - 31 * h, unscored("short", "feed_down")),
    ]
    gaps = [{"exchange": NASTY, "missing_ms": h, "missing": "1h"}]
    return accuracy_context("BTC/USDT:USDT", ("binanceusdm",), RANGES[3], rows, now, gaps)


def test_there_is_a_context_for_every_template() -> None:
    assert set(contexts()) == set(TEMPLATE_NAMES)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_renders_on_every_platform(name: str, platform: str) -> None:
    out = render_reply(Reply(name, contexts()[name]), platform)  # type: ignore[arg-type]
    assert out.strip()
    assert "\n\n\n" not in out
    if name in ("heatmap", "map", "imbalance", "levels", "cascade"):
        assert "est." in out
    if name in ("heatmap", "map", "imbalance"):
        assert human_usd(btc_analysis().imbalance.short_above) in out


def test_telegram_escapes_html_in_provided_strings() -> None:
    out = render_reply(Reply("error", contexts()["error"]), "telegram")
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; *bold*" in out
    assert "<code>/heatmap [symbol]</code>" in out  # the template's own markup survives
    heat = render_reply(Reply("heatmap", contexts()["heatmap"]), "telegram")
    assert heat.startswith("<b>BTC</b>")  # the telegram variant is used
    assert "&lt;script&gt;" in heat and "<script>" not in heat  # notes escaped too


def test_discord_escapes_markdown_in_provided_strings() -> None:
    out = render_reply(Reply("error", contexts()["error"]), "discord")
    assert r"\*bold\*" in out and r"\_it\_" in out and r"\`code\`" in out
    assert r"\<script>" in out
    assert "@everyone" not in out  # defused with a zero-width space
    assert "`/heatmap [symbol]`" in out
    heat = render_reply(Reply("heatmap", contexts()["heatmap"]), "discord")
    assert heat.startswith("**BTC**")


def test_console_is_plain() -> None:
    out = render_reply(Reply("error", contexts()["error"]), "console")
    assert out.splitlines()[0] == NASTY
    assert "Usage: /heatmap [symbol]" in out


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a*b", r"a\*b"),
        ("x_y", r"x\_y"),
        ("- item", r"\- item"),
        ("> q", r"\> q"),
        ("a-b", "a-b"),
        ("-2.8%", "-2.8%"),  # a negative number starts no list
        ("# h", r"\# h"),
        ("-# small", r"\-# small"),
        ("line\n- item", "line\n\\- item"),
        (r"\\", r"\\\\"),
    ],
)
def test_escape_markdown(raw: str, escaped: str) -> None:
    assert escape_markdown(raw) == escaped


def test_platform_variant_falls_back_to_neutral(tmp_path: Path) -> None:
    (tmp_path / "telegram").mkdir()
    (tmp_path / "hello.j2").write_text("plain {{ name }}")
    (tmp_path / "telegram" / "hello.j2").write_text("<b>{{ name }}</b>")
    templates = Templates(tmp_path)
    assert templates.render("hello", {"name": "a&b"}, "telegram") == "<b>a&amp;b</b>"
    assert templates.render("hello", {"name": "a&b"}, "console") == "plain a&b"
    assert templates.render("hello", {"name": "a_b"}, "discord") == r"plain a\_b"


def test_missing_template_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        Templates(tmp_path).render("nothing", {}, "console")
    assert str(tmp_path / "nothing.j2") in str(info.value)


def test_undefined_value_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{{ missing }}")
    with pytest.raises(TemplateError) as info:
        Templates(tmp_path).render("t", {}, "console")
    assert "t.j2" in str(info.value) and "missing" in str(info.value)


def test_broken_template_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "ok.j2").write_text("fine")
    (tmp_path / "discord").mkdir()
    (tmp_path / "discord" / "bad.j2").write_text("line one\n{% if x %}never closed")
    with pytest.raises(TemplateError) as info:
        Templates(tmp_path).render("bad", {"x": 1}, "discord")
    assert "bad.j2" in str(info.value) and "line 2" in str(info.value)
    problems = check_templates(tmp_path, required=("ok", "gone"))
    assert any("gone.j2: not found" in p for p in problems)
    assert any("discord/bad.j2: line 2" in p for p in problems)
    assert len(problems) == 2


def test_shipped_templates_pass_the_startup_check() -> None:
    assert check_templates(TEMPLATE_DIR, required=TEMPLATE_NAMES) == []
    assert check_templates(TEMPLATE_DIR / "nowhere") == [
        f"templates folder {TEMPLATE_DIR / 'nowhere'}: not found"
    ]


def test_numbers_that_are_not_numbers_render_as_na() -> None:
    ctx = contexts()["cascade"]
    weird = dataclasses.replace(ctx["cascade"], r_ratio=float("nan"))
    out = render_reply(Reply("cascade", {**ctx, "cascade": weird}), "console")
    assert "R = n/a est." in out
