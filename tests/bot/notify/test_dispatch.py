"""The dispatcher: chats in parallel (bounded), each chat in firing order; an unconfirmed
send is not repeated, a refused one is kept for the next cycle with the chat's later alerts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.notify.dispatch import Dispatcher
from bot.notify.outlets import DeliveryRefused, DeliveryUnconfirmed
from bot.reply import Platform, Reply
from bot.state.records import AlertEvent, RuleState
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.scheduling import BTC

BOUND = 5.0  # seconds: generous, never a timing assertion — only "it did not wait forever"


class GatedOutlet:
    """Records sends; a chat in ``hang`` blocks until its event is set; ``fail`` raises."""

    platform: Platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.hang: dict[str, asyncio.Event] = {}
        self.fail: dict[str, list[Exception]] = {}
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, chat_id: str, reply: Reply) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            if chat_id in self.hang:
                await self.hang[chat_id].wait()
            errors = self.fail.get(chat_id)
            if errors:
                raise errors.pop(0)
            self.sent.append((chat_id, str(reply.context["transition"])))
        finally:
            self.in_flight -= 1

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        raise AssertionError("no threads here")


def event(transition: int) -> AlertEvent:
    return AlertEvent("imbalance", BTC, "sim", transition, 90_000.0, "card", {"ratio": 3.0})


async def no_chart(event: AlertEvent) -> bytes | None:
    return None


def make(outlet: GatedOutlet, max_parallel: int = 16) -> tuple[Dispatcher, Subscriptions]:
    subs = Subscriptions(Store(":memory:"))
    dispatcher = Dispatcher(
        subs,
        {"telegram": outlet},
        no_chart,
        clock=lambda: 1_000,
        range_label="24h",
        max_parallel=max_parallel,
    )
    return dispatcher, subs


def claim_and_submit(
    dispatcher: Dispatcher, subs: Subscriptions, chat: str, transition: int
) -> str:
    ev = event(transition)
    key = subs.claim("telegram", chat, ev, RuleState(False, transition), now=0, cooldown_ms=0)
    assert key is not None
    dispatcher.submit("telegram", chat, key, ev)
    return key


async def test_a_hung_chat_does_not_delay_the_other_chats() -> None:
    outlet = GatedOutlet()
    outlet.hang["slow"] = asyncio.Event()
    dispatcher, subs = make(outlet)
    claim_and_submit(dispatcher, subs, "slow", 1)
    for chat in ("a", "b", "c"):
        claim_and_submit(dispatcher, subs, chat, 1)
    flushing = asyncio.create_task(dispatcher.flush())

    async def others_done() -> None:
        for _ in range(1000):  # bounded polling: the outlet has no event to wait on
            if len(outlet.sent) >= 3:
                return
            await asyncio.sleep(0.005)

    await asyncio.wait_for(others_done(), BOUND)  # while "slow" still hangs
    assert sorted(chat for chat, _ in outlet.sent) == ["a", "b", "c"]
    assert not flushing.done()
    outlet.hang["slow"].set()
    await asyncio.wait_for(flushing, BOUND)
    assert subs.alert_counts() == {"delivered": 4}


async def test_order_is_kept_within_a_chat_and_parallelism_is_bounded() -> None:
    outlet = GatedOutlet()
    dispatcher, subs = make(outlet, max_parallel=3)
    for transition in range(1, 6):
        for chat in ("x", "y", "z", "w"):
            claim_and_submit(dispatcher, subs, chat, transition)
    await asyncio.wait_for(dispatcher.flush(), BOUND)
    for chat in ("x", "y", "z", "w"):
        assert [t for c, t in outlet.sent if c == chat] == ["1", "2", "3", "4", "5"]
    assert 1 < outlet.most_in_flight <= 3


async def test_unconfirmed_is_not_repeated_and_refused_holds_the_chat() -> None:
    outlet = GatedOutlet()
    outlet.fail = {
        "late": [DeliveryUnconfirmed("late", "sent, no answer: Timed out")],
        "busy": [DeliveryRefused("busy", "Too Many Requests", retry_after=30)],
    }
    dispatcher, subs = make(outlet)
    lost = claim_and_submit(dispatcher, subs, "late", 1)
    claim_and_submit(dispatcher, subs, "late", 2)
    claim_and_submit(dispatcher, subs, "busy", 1)
    claim_and_submit(dispatcher, subs, "busy", 2)  # waits behind the refused one
    await asyncio.wait_for(dispatcher.flush(), BOUND)
    assert outlet.sent == [("late", "2")]
    assert subs.alert_counts() == {"unconfirmed": 1, "delivered": 1, "retry": 2}
    assert dispatcher.counters.unconfirmed == 1
    assert dispatcher.counters.last_problem is not None
    assert "unconfirmed" in dispatcher.counters.last_problem
    retried = subs.take_retries(now=2_000)
    assert [r.chat_id for r in retried] == ["busy", "busy"] and lost not in {r.key for r in retried}
