"""The thread's reality check quotes the live scorecard — and says when it has too few hours
to judge, or none; the auto-poster's threads carry it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.analysis.market_view import MarketView
from bot.analysis.service import MarketService
from bot.config.settings import ThreadChannelSettings
from bot.market.sim_source import SimSource
from bot.notify.autopost import AutoPoster
from bot.notify.reality import scorecard_quote
from bot.notify.scheduler import MarketUpdate
from bot.notify.threads import compose_thread, format_for_x, render_thread
from bot.reply import RANGES, Platform, Reply
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from core.livescore import HourScore, unscored
from core.livescore_view import MIN_HOURS
from tests.core.chart_fixtures import btc_analysis
from tests.fakes.clock import FakeClock

H = 3_600_000
BTC = "BTC/USDT:USDT"
NOW = 1_767_225_600_000 + 30 * 24 * H


def hour(side: str, top: float, base: float, reached: int, hits: int) -> HourScore:
    return HourScore(
        side=side,  # type: ignore[arg-type]
        status="scored",
        bins=40,
        real_usd=1e6,
        top_share=top,
        chance_share=0.25,
        best_share=0.9,
        spearman=0.4,
        reached=reached,
        hits=hits,
        base_top_share=base,
        base_spearman=0.1,
        base_reached=2,
        base_hits=1,
    )


def fill(book: ScoreBook, hours: int, *, feed_down: int = 0) -> None:
    for i in range(hours + feed_down):
        start = NOW - (i + 1) * H
        if i < feed_down:
            book.save(
                BTC, ["sim"], start, [unscored("long", "feed_down"), unscored("short", "feed_down")]
            )
            continue
        long_top, short_top = 0.6 if i % 2 else 0.5, 0.3
        book.save(
            BTC,
            ["sim"],
            start,
            [hour("long", long_top, 0.35, 1, i % 3 != 0), hour("short", short_top, 0.3, 0, 0)],
        )


def reality(thread_posts: Sequence[Reply]) -> Reply:
    (post,) = [p for p in thread_posts if p.template == "thread/reality"]
    return post


def text_of(book: ScoreBook, platform: Platform = "console") -> str:
    quote = scorecard_quote(book, BTC, now=NOW)
    thread = compose_thread(btc_analysis(), scorecard=quote)
    rendered = render_thread(dataclasses.replace(thread, posts=(reality(thread.posts),)), platform)
    return "\n".join(p.text for p in rendered)


def test_no_hour_scored_yet_is_said() -> None:
    with Store(":memory:") as store:
        assert "no hour has been scored against real prints yet" in text_of(ScoreBook(store))


def test_a_small_sample_is_too_few_to_judge() -> None:
    with Store(":memory:") as store:
        book = ScoreBook(store)
        fill(book, MIN_HOURS // 2)
        text = text_of(book)
    assert f"{MIN_HOURS // 2} hours scored so far — too few to judge" in text
    assert "× as often as by chance" not in text


def test_enough_hours_quote_the_lift_the_baseline_and_the_cluster_hits() -> None:
    with Store(":memory:") as store:
        book = ScoreBook(store)
        fill(book, 5 * MIN_HOURS, feed_down=3)
        long = book.scorecard(BTC, "long", window_ms=WINDOWS["7d"], now=NOW)
        short = book.scorecard(BTC, "short", window_ms=WINDOWS["7d"], now=NOW)
        text = text_of(book)
        telegram, discord = text_of(book, "telegram"), text_of(book, "discord")
    assert f"last 7d ({5 * MIN_HOURS} h scored, 3 h with a prints feed down left out)" in text
    assert f"longs {long.lift:.1f}× as often as by chance (baseline {long.base_lift:.1f}×)" in text
    assert f"shorts {short.lift:.1f}× as often as by chance" in text
    assert "no better than chance" in text  # the shorts' 0.3 vs 0.25 is inside the chance band
    assert f"{long.hits} of {long.reached} had real liquidations within ±0.5 %" in text
    assert "Live scorecard" in telegram and "Live scorecard" in discord


def test_x_posts_stay_within_280_with_the_quote() -> None:
    with Store(":memory:") as store:
        book = ScoreBook(store)
        fill(book, 5 * MIN_HOURS, feed_down=3)
        thread = compose_thread(btc_analysis(), scorecard=scorecard_quote(book, BTC, now=NOW))
    posts = format_for_x(thread)
    assert any("Live scorecard" in p for p in posts)


async def test_the_auto_posters_thread_quotes_its_markets_scorecard() -> None:
    class Outlet:
        platform: Platform = "telegram"

        def __init__(self) -> None:
            self.threads: list[list[Reply]] = []

        async def send(self, chat_id: str, reply: Reply) -> None:
            raise AssertionError("threads only")

        async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
            self.threads.append(list(posts))

    clock = FakeClock(NOW)
    store = Store(":memory:")
    fill(ScoreBook(store), MIN_HOURS // 2)
    service = MarketService({"sim": SimSource(candles=300)}, store, clock=clock)
    channel = ThreadChannelSettings.model_validate(
        {"platform": "telegram", "chat_id": "-100", "symbol": "BTC", "every": "6h"}
    )
    outlet = Outlet()
    poster = AutoPoster([channel], service, Subscriptions(store), [outlet], clock=clock,
                        attach_charts=False)  # fmt: skip
    analysis = btc_analysis()
    view = MarketView(analysis, BTC, ("sim",), RANGES[1], (), (("sim", analysis.as_of),))
    await poster([MarketUpdate("sim", BTC, view)])
    (posts,) = outlet.threads
    quote = reality(posts).context["scorecard"]
    assert quote is not None and quote.hours == MIN_HOURS // 2 and quote.too_few
