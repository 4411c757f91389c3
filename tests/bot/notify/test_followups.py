"""What happened next: a delivered cluster alert gets one follow-up when price reaches its
level or after the horizon — once, across restarts; never in a chat that turned them off."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bot.notify.followups import FOLLOWED_RULES, followup_reply, span
from bot.notify.outlets import DeliveryUnconfirmed
from bot.reply.text import render_reply
from bot.state.followups import FOLLOWUP_SETTING, followup_key
from bot.state.store import Store
from core.charts.format import human_price, human_usd
from core.livescore import HIT_TOLERANCE
from core.models import Side
from tests.bot.notify.followup_fixtures import (
    BTC,
    CANDLE,
    HORIZON,
    LEVEL,
    T0,
    VENUE,
    IdOutlet,
    Print,
    alert,
    cluster_alert,
    rising,
    save_prints,
    series,
    start_bot,
    zone_alert,
)

PRINTS = [
    Print(T0 + 20 * CANDLE, Side.SHORT, LEVEL * 1.003, 3e6),  # inside ±0.5 %: counted
    Print(T0 + 21 * CANDLE, Side.SHORT, LEVEL * 0.998, 5e6),  # inside: counted
    Print(T0 + 21 * CANDLE, Side.SHORT, LEVEL * 1.02, 7e6),  # 2 % away
    Print(T0 + 22 * CANDLE, Side.LONG, LEVEL, 11e6),  # the other side
    Print(T0 - 60_000, Side.SHORT, LEVEL, 13e6),  # before the alert
]


def counted(prints: list[Print], level: float) -> float:
    """The oracle: short prints within ±0.5 % of ``level`` after the alert's candle."""
    return sum(
        p.usd
        for p in prints
        if p.side is Side.SHORT
        and abs(p.price / level - 1) <= HIT_TOLERANCE
        and p.time >= T0 + CANDLE
    )


def first_reach(closes: np.ndarray, level: float) -> int:
    """The oracle: open time of the first candle after the alert whose high gets to ``level``."""
    highs = series(T0, closes).high
    i = next(i for i in range(1, len(highs)) if highs[i] >= level)
    return T0 + i * CANDLE


async def test_reached_cluster_is_followed_up_once_threaded_across_restarts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite3"
    closes = rising()
    reach = first_reach(closes, LEVEL)
    outlet = IdOutlet()
    with Store(path) as store:
        bot = start_bot(store, outlet)
        await alert(bot, "42", cluster_alert())
        (alert_reply,) = outlet.sent
        store.save_series(VENUE, BTC, "5m", series(T0, closes[:10]))  # not there yet
        bot.clock[0] = T0 + 10 * CANDLE
        assert await bot.followups.cycle() == 0
    # the process restarts: the open follow-up and the alert's message id were persisted
    with Store(path) as store:
        bot = start_bot(store, outlet, now=reach + CANDLE)
        bot.subs.abandon_pending(now=bot.now())
        store.save_series(VENUE, BTC, "5m", series(T0, closes))
        save_prints(store, PRINTS)
        assert await bot.followups.cycle() == 0  # the sweep's prints are still coming in
        bot.clock[0] = reach + CANDLE + 15 * 60_000
        assert await bot.followups.cycle() == 1
        assert await bot.followups.cycle() == 0
    with Store(path) as store:  # and once more: nothing is sent again
        bot = start_bot(store, outlet, now=reach + 10 * HORIZON)
        bot.subs.abandon_pending(now=bot.now())
        assert await bot.followups.cycle() == 0
        assert bot.subs.take_retries(now=bot.now()) == []
        assert bot.subs.alert_counts() == {"delivered": 2}
    ((chat, reply),) = outlet.followups()
    assert len(outlet.followups()) == 1 and chat == "42"
    assert reply.reply_to == "m1" and alert_reply[1].template == "alert"
    text = render_reply(reply, "console")
    assert f"{human_price(LEVEL)} short cluster was reached {span(reach - T0)} later" in text
    assert f"{human_usd(counted(PRINTS, LEVEL))} of shorts were liquidated within ±0.5%" in text


async def test_not_reached_is_said_after_the_horizon_with_the_closest_price() -> None:
    closes = rising(n=90, top=101.0)  # tops out below the cluster
    outlet = IdOutlet()
    with Store(":memory:") as store:
        bot = start_bot(store, outlet)
        await alert(bot, "7", cluster_alert())
        store.save_series(VENUE, BTC, "5m", series(T0, closes[:60]))
        bot.clock[0] = T0 + HORIZON  # the horizon has passed, but data stops short of it
        assert await bot.followups.cycle() == 0
        store.save_series(VENUE, BTC, "5m", series(T0, closes))
        assert await bot.followups.cycle() == 1
    ((_, reply),) = outlet.followups()
    window = series(T0, closes).high[1 : HORIZON // CANDLE]
    text = render_reply(reply, "console")
    assert f"cluster was not reached in {span(HORIZON)}" in text and span(HORIZON) == "6 h"
    assert f"closest price was {human_price(float(window.max()))}" in text
    assert reply.reply_to == "m1"


async def test_a_chat_that_turned_followups_off_gets_none_the_other_chat_does() -> None:
    closes = rising()
    outlet = IdOutlet()
    with Store(":memory:") as store:
        bot = start_bot(store, outlet)
        await alert(bot, "on-chat", cluster_alert())
        await alert(bot, "off-chat", cluster_alert())
        bot.subs.set_setting("telegram", "off-chat", FOLLOWUP_SETTING, "off")
        store.save_series(VENUE, BTC, "5m", series(T0, closes))
        bot.clock[0] = T0 + HORIZON + CANDLE
        assert await bot.followups.cycle() == 1
        assert bot.followups.book.counts() == {"sent": 1, "dropped": 1}
    assert [c for c, _ in outlet.followups()] == ["on-chat"]


async def test_silent_followups_and_silent_rules_are_sent_without_a_sound() -> None:
    outlet = IdOutlet()
    with Store(":memory:") as store:
        bot = start_bot(store, outlet)
        for chat in ("loud", "quiet-followups", "quiet-rule"):
            await alert(bot, chat, cluster_alert())
        bot.subs.set_setting("telegram", "quiet-followups", FOLLOWUP_SETTING, "silent")
        bot.subs.set_setting("telegram", "quiet-rule", "cluster", "silent")
        store.save_series(VENUE, BTC, "5m", series(T0, rising()))
        bot.clock[0] = T0 + HORIZON + CANDLE
        assert await bot.followups.cycle() == 3
    silent = {c: r.silent for c, r in outlet.followups()}
    assert silent == {"loud": False, "quiet-followups": True, "quiet-rule": True}


async def test_a_followup_in_cooldown_waits_for_it_and_is_not_lost() -> None:
    cooldown = 2 * 3_600_000
    outlet = IdOutlet()
    with Store(":memory:") as store:
        bot = start_bot(store, outlet, cooldown_ms=cooldown)
        await alert(bot, "9", cluster_alert(T0))
        await alert(bot, "9", cluster_alert(T0 + CANDLE, level=LEVEL - 0.2))
        store.save_series(VENUE, BTC, "5m", series(T0, rising()))
        bot.clock[0] = T0 + HORIZON + CANDLE
        assert await bot.followups.cycle() == 1  # both resolved; one chat, one symbol
        bot.clock[0] += cooldown - 1
        assert await bot.followups.cycle() == 0
        bot.clock[0] += 1
        assert await bot.followups.cycle() == 1
    assert len({r.reply_to for _, r in outlet.followups()}) == 2


async def test_a_claimed_followup_never_handed_over_is_sent_after_a_restart(
    tmp_path: Path,
) -> None:
    """Claimed, then the process died before the send: sent once, by the retry path."""
    path = tmp_path / "state.sqlite3"
    outlet = IdOutlet()
    with Store(path) as store:
        bot = start_bot(store, outlet)
        key = await alert(bot, "5", cluster_alert())
        store.save_series(VENUE, BTC, "5m", series(T0, rising()))
        bot.clock[0] = T0 + HORIZON + CANDLE
        bot.followups.dispatcher = None  # the claim commits, the send never happens
        assert await bot.followups.cycle() == 0
    with Store(path) as store:
        bot = start_bot(store, outlet, now=T0 + HORIZON + 2 * CANDLE)
        bot.subs.abandon_pending(now=bot.now())
        (retry,) = bot.subs.take_retries(now=bot.now())
        assert retry.key == followup_key(key)
        bot.dispatcher.submit(retry.platform, retry.chat_id, retry.key, retry.event)
        await bot.dispatcher.flush()
        assert await bot.followups.cycle() == 0
    ((_, reply),) = outlet.followups()
    assert reply.reply_to == "m1"


async def test_a_followup_in_flight_when_the_process_died_is_not_sent_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite3"
    outlet = IdOutlet()
    with Store(path) as store:
        bot = start_bot(store, outlet)
        key = await alert(bot, "5", cluster_alert())
        store.save_series(VENUE, BTC, "5m", series(T0, rising()))
        bot.clock[0] = T0 + HORIZON + CANDLE
        bot.followups.dispatcher = None
        await bot.followups.cycle()
        bot.subs.mark(followup_key(key), "pending", now=bot.now())  # handed over … and died
    with Store(path) as store:
        bot = start_bot(store, outlet, now=T0 + HORIZON + 2 * CANDLE)
        assert bot.subs.abandon_pending(now=bot.now()) == 1
        assert bot.subs.take_retries(now=bot.now()) == []
        assert await bot.followups.cycle() == 0
    assert outlet.followups() == []


async def test_an_unanswered_alert_gets_an_unthreaded_followup() -> None:
    class Unanswered(IdOutlet):
        async def send(self, chat_id: str, reply: object) -> str | None:
            if getattr(reply, "template", "") == "alert":
                raise DeliveryUnconfirmed(chat_id, "read timeout")
            return await super().send(chat_id, reply)  # type: ignore[arg-type]

    outlet = Unanswered()
    with Store(":memory:") as store:
        bot = start_bot(store, outlet)
        await alert(bot, "3", cluster_alert())
        store.save_series(VENUE, BTC, "5m", series(T0, rising()))
        bot.clock[0] = T0 + HORIZON + CANDLE
        assert await bot.followups.cycle() == 1
    ((_, reply),) = outlet.followups()
    assert reply.reply_to is None


async def test_a_danger_zone_is_swept_when_price_gets_through_it() -> None:
    low, high = 100.4, 101.2
    closes = rising()
    outlet = IdOutlet()
    prints = [
        Print(T0 + 15 * CANDLE, Side.SHORT, 100.8, 4e6),
        Print(T0 + 16 * CANDLE, Side.SHORT, 99.0, 9e6),
    ]
    with Store(":memory:") as store:
        bot = start_bot(store, outlet)
        await alert(bot, "1", zone_alert(low, high))
        store.save_series(VENUE, BTC, "5m", series(T0, closes))
        save_prints(store, prints)
        bot.clock[0] = T0 + HORIZON + CANDLE
        assert await bot.followups.cycle() == 1
    ((_, reply),) = outlet.followups()
    text = render_reply(reply, "telegram")
    swept = first_reach(closes, high)  # a short zone is swept at its top
    assert f"danger zone was swept {span(swept - T0)} later" in text
    assert f"{human_usd(4e6)} of shorts were liquidated inside it" in text


def test_only_cluster_alerts_are_followed_and_every_outcome_renders_everywhere() -> None:
    assert {"cluster"} == FOLLOWED_RULES
    base = {
        "of": "cluster",
        "side": "long",
        "level": 95.0,
        "zone_low": 95.0,
        "zone_high": 96.5,
        "elapsed_ms": 190 * 60_000,
        "horizon_ms": HORIZON,
        "extreme": 95.4,
        "tolerance": HIT_TOLERANCE,
        "reply_to": "77",
    }
    for kind in ("cluster", "zone"):
        for reached in (True, False):
            for liquidated, feed_down in ((0.0, False), (2.5e6, True)):
                numbers = base | {"kind": kind, "reached": reached, "liquidated": liquidated}
                numbers |= {"prints": 3, "feed_down": feed_down}
                event = dataclasses.replace(zone_alert(95.0, 96.5), numbers=numbers)
                event = dataclasses.replace(event, rule="followup")
                reply = followup_reply(event)
                assert reply.reply_to == "77"
                for platform in ("telegram", "discord", "console"):
                    text = render_reply(reply, platform)
                    assert ("3 h 10 m later" in text) == reached
                    assert ("real totals can be higher" in text) and (
                        "down part" in text
                    ) == feed_down
    assert span(45 * 60_000) == "45 m" and span(24 * 3_600_000) == "24 h"
    assert span(50 * 3_600_000) == "2 d 2 h"


async def test_attached_to_the_scheduler_every_old_enough_cluster_alert_gets_one_followup() -> None:
    """The wiring on the synthetic market: the dispatcher reports, each cycle resolves."""
    from bot.analysis.service import MarketService
    from bot.market.sim_source import SimSource
    from bot.notify.followups import Followups
    from bot.notify.scheduler import Scheduler
    from bot.reply import RANGES
    from bot.state.subscriptions import Subscriptions
    from tests.fakes.scheduling import NO_COOLDOWN, FakeClock

    clock = FakeClock()
    store = Store(":memory:")
    service = MarketService(
        {"sim": SimSource(candles=300)}, store, clock=clock, lookback_ms=2 * 86_400_000
    )
    subs = Subscriptions(store)
    outlet = IdOutlet()
    scheduler = Scheduler(service, subs, [outlet], alert_settings=NO_COOLDOWN, clock=clock,
                          sleep=clock.sleep, range_=RANGES[0], attach_charts=False)  # fmt: skip
    horizon = 3_600_000
    followups = Followups(subs, exchanges=service.exchanges, timeframe="5m", horizon_ms=horizon,
                          cooldown_ms=0, clock=clock)  # fmt: skip
    followups.attach(scheduler)
    subs.subscribe("telegram", "1", BTC, ["cluster"])
    subs.set_setting("telegram", "1", "cluster", "on", 0.03)
    await scheduler.run(cycles=200)

    ids = {f"m{i}": r for i, (_, r) in enumerate(outlet.sent, 1) if r.template == "alert"}
    answers = [r for _, r in outlet.followups()]
    assert ids and answers, (len(ids), len(answers))
    assert len({r.reply_to for r in answers}) == len(answers)  # one per alert
    assert {r.reply_to for r in answers} <= set(ids)
    end = clock()
    old = [m for m, r in ids.items() if r.context["transition"] + horizon + 2 * CANDLE <= end]
    assert {r.reply_to for r in answers} >= set(old)
    stored = store.load_series("sim", BTC, "5m")
    assert stored is not None
    for reply in answers:
        alerted = ids[str(reply.reply_to)].context
        level = float(alerted["numbers"].get("cluster_price") or reply.context["level"])
        t = alerted["transition"]
        window = (stored.timestamps > t) & (stored.timestamps < t + horizon)
        side = stored.high if level > alerted["price"] else -stored.low
        goal = level if level > alerted["price"] else -level
        if "cluster_price" in alerted["numbers"]:
            assert reply.context["reached"] == bool((side[window] >= goal).any())
