"""/accuracy on the command layer: registration, the windows shown, small and large samples,
every platform's template, the numbers matching the scorecard's."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image

from bot.analysis.service import MarketService
from bot.commands.accuracy_cmds import accuracy_context
from bot.commands.catalog import TEMPLATE_NAMES, build_commands
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.reply import RANGES, CallContext, Platform, Range, Reply
from bot.reply.text import Templates, render_reply
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store
from core.livescore import unscored
from core.livescore_view import MIN_HOURS, judge
from tests.bot.commands.scorecard_data import SYMBOL, fill, scored_hours

H = 3_600_000
CANDLES = 600
NOW = DEFAULT_START_MS + CANDLES * 300_000
USER = CallContext("console", "1", "1")


@pytest.fixture
def service() -> MarketService:
    return MarketService({"sim": SimSource(candles=CANDLES)}, Store(":memory:"), clock=lambda: NOW)


def _week() -> Range:
    return next(r for r in RANGES if r.label == "7d")


async def test_accuracy_is_registered_with_usage_example_and_templates(
    service: MarketService,
) -> None:
    commands = build_commands(service)
    spec = commands.get("accuracy")
    assert spec is not None and spec.usage == "/accuracy [symbol] [range]"
    assert spec.examples == ("accuracy BTC", "accuracy ETH 30d")
    assert ("accuracy", spec.summary) in commands.menu() and len(spec.summary) <= 100
    assert "accuracy" in TEMPLATE_NAMES
    templates = Templates()
    platforms: tuple[Platform, ...] = ("telegram", "discord", "console")
    for platform in platforms:
        assert templates.path_of("accuracy", platform) is not None
    assert templates.path_of("accuracy", "telegram").parent.name == "telegram"  # type: ignore[union-attr]
    assert templates.path_of("accuracy", "discord").parent.name == "discord"  # type: ignore[union-attr]
    help_text = render_reply(await commands.run("/help", USER), "console")  # type: ignore[arg-type]
    assert "/accuracy [symbol] [range]" in help_text and "/accuracy BTC" in help_text
    for example in spec.examples:
        reply = await commands.run(f"/{example}", USER)
        assert reply is not None and not reply.is_error


async def test_nothing_scored_yet_says_so(service: MarketService) -> None:
    reply = await build_commands(service).run("/accuracy BTC", USER)
    assert reply is not None and not reply.is_error
    assert reply.context["scored_hours"] == 0
    assert "No hour scored yet in the last 7d" in render_reply(reply, "console")
    with Image.open(io.BytesIO(reply.images[0].data)) as image:
        assert image.size == (1280, 720)


async def test_a_small_sample_is_too_few_to_judge(service: MarketService) -> None:
    fill(service.store, NOW, 12)  # type: ignore[arg-type]
    reply = await build_commands(service).run("/accuracy BTC 24h", USER)
    assert reply is not None
    text = render_reply(reply, "telegram")
    assert "12 hours scored so far — too few to judge" in text
    assert f"a verdict needs {MIN_HOURS} hours with liquidations" in text
    assert "beats chance" not in text
    assert [w["label"] for w in reply.context["sides"][0]["windows"]] == ["24h"]  # as available


async def test_a_large_sample_is_judged_with_the_scorecards_numbers(service: MarketService) -> None:
    store: Store = service.store  # type: ignore[assignment]
    fill(store, NOW, 14 * 24)  # two weeks of hours: the 30d window reaches past the 7d one
    reply = await build_commands(service).run("/accuracy BTC 30d", USER)
    assert reply is not None and not reply.context["small"]
    book = ScoreBook(store)
    text = render_reply(reply, "discord")
    assert [w["label"] for w in reply.context["sides"][0]["windows"]] == ["24h", "7d", "30d"]
    verdicts = set()
    for side in ("long", "short"):
        for label, ms in WINDOWS.items():
            s = book.scorecard(SYMBOL, side, window_ms=ms, now=NOW)
            assert f"{label}: {s.hours:,} h scored ({s.hours_with_liquidations:,} with" in text
            if not math.isnan(s.lift):
                assert f"lift {s.lift:.2f}× (baseline {s.base_lift:.2f}×)" in text
            if s.reached:
                assert f"{s.hits:,} of {s.reached:,} reached were hit" in text
            verdicts.add(judge(s))
    assert "beats_chance" in verdicts  # the true map, judged on a month of hours
    month = book.scorecard(SYMBOL, "long", window_ms=WINDOWS["30d"], now=NOW)
    assert month.hours_with_liquidations >= MIN_HOURS and month.lift > 1.25
    assert "beats chance, above the baseline" in text


def test_windows_are_shown_as_available_and_feed_down_hours_are_counted() -> None:
    rows = [(NOW - 3 * H, s) for s in scored_hours()[-1][1:]]
    rows += [
        (NOW - 2 * H, unscored("long", "feed_down")),
        (NOW - 2 * H, unscored("short", "feed_down")),
    ]
    ctx = accuracy_context(SYMBOL, ("sim",), _week(), rows, NOW)
    assert [w["label"] for w in ctx["sides"][1]["windows"]] == ["24h"]
    assert ctx["scored_hours"] == 1 and ctx["down_hours"] == 1 and ctx["small"]
    older = [(NOW - 3 * 24 * H, s) for s in scored_hours()[-2][1:]]
    ctx = accuracy_context(SYMBOL, ("sim",), Range("3d", 3 * 24 * H + H), rows + older, NOW)
    assert [w["label"] for w in ctx["sides"][0]["windows"]] == ["24h", "3d"]
    platforms: tuple[Platform, ...] = ("telegram", "discord", "console")
    for platform in platforms:
        text = render_reply(Reply("accuracy", ctx), platform)
        assert "1 h of the last 3d not scored: prints feed down" in text


async def test_binance_prints_are_said_to_be_capped() -> None:
    ctx = accuracy_context(SYMBOL, ("binanceusdm", "bybit"), _week(), [], NOW)
    text = render_reply(Reply("accuracy", ctx), "console")
    assert (
        "binanceusdm sends at most one print per symbol per second: real totals are higher" in text
    )
    assert "bybit sends" not in text


async def test_an_unknown_symbol_lists_the_tracked_ones(service: MarketService) -> None:
    reply = await build_commands(service).run("/accuracy DOGEFAKE", USER)
    assert reply is not None and reply.is_error
    assert "Unknown symbol 'DOGEFAKE'" in render_reply(reply, "console")


async def test_the_same_scorecard_is_drawn_once_and_a_new_score_redraws_it(
    service: MarketService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.commands.accuracy_cmds as module
    from core.charts.accuracy import AccuracyChart, render_accuracy

    drawn: list[str] = []
    real = render_accuracy

    def counting(chart: AccuracyChart, **kw: object) -> bytes:
        drawn.append(chart.subtitle)
        return real(chart, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "render_accuracy", counting)
    commands = build_commands(service)
    fill(service.store, NOW, 30)  # type: ignore[arg-type]
    first = await commands.run("/accuracy BTC 7d", USER)
    again = await commands.run("/accuracy btc 7d", USER)
    assert first is not None and again is not None and len(drawn) == 1
    assert again.images[0].data == first.images[0].data
    await commands.run("/accuracy BTC 24h", USER)  # another range: another chart
    assert len(drawn) == 2
    fill(service.store, NOW, 60)  # type: ignore[arg-type]  # more hours scored
    latest = await commands.run("/accuracy BTC 7d", USER)
    assert latest is not None and len(drawn) == 3
    assert latest.images[0].data != first.images[0].data
