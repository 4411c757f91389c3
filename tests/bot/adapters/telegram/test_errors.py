"""What a failed Bot API call means, and what the adapter does about it — a real PTB
``Application`` against the loopback fake Bot API (docs/delivery.md has the table).

A send answered after the client's read timeout is *not* repeated for an alert and repeated
at most once for a command reply; a 500 and then success delivers; N×429 with
``retry_after`` delivers within the deadline and is given up (logged, counted) past it; one
chat whose send hangs does not hold another chat's alert."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.adapters.telegram.errors import judge
from bot.notify.outlets import DeliveryUnconfirmed
from bot.notify.retry import Judgement, RetryPolicy
from bot.reply import CallContext, Platform, Reply
from tests.fakes.clock import FakeMonotonic
from tests.fakes.fake_telegram import ApiCall, FakeTelegram, Fault

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = 5001
CLIENT_TIMEOUT = 0.3  # the bot's read timeout in these tests
LATE = 1.0  # the fake answers this late: after the bot stopped listening


@dataclass
class Echo:
    """A command layer that answers every line with its text."""

    lines: list[str] = field(default_factory=list)

    def menu(self) -> Sequence[tuple[str, str]]:
        return []

    def get(self, name: str) -> None:
        return None

    async def run(
        self, line: str, ctx: CallContext, *, bot_username: str | None = None
    ) -> Reply | None:
        self.lines.append(line)
        return Reply("echo", {"text": f"answer to {line}"})


def render(reply: Reply, platform: Platform) -> str:
    return str(reply.context["text"])


@dataclass
class Live:
    fake: FakeTelegram
    adapter: TelegramAdapter
    time: FakeMonotonic


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
        clock = FakeMonotonic()
        adapter = TelegramAdapter(
            TOKEN,
            Echo(),
            render,
            api_base_url=fake.api_base_url,
            poll_timeout=1,
            read_timeout=CLIENT_TIMEOUT,
            sleep=clock.sleep,
            clock=clock,
        )
        await adapter.start()
        try:
            yield Live(fake, adapter, clock)
        finally:
            await adapter.stop()


def sends(fake: FakeTelegram, chat: int = CHAT) -> list[ApiCall]:
    """Every sendMessage the fake performed (answered in time or late) to ``chat``."""
    return [c for c in fake.calls if c.method == "sendmessage" and c.params["chat_id"] == str(chat)]


async def eventually(check: object, within: float = 10.0) -> None:
    """Wait (bounded) until ``check()`` is true."""
    assert callable(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


# --- item 1: a late answer is not "not delivered" ---------------------------------------------


async def test_alert_answered_after_the_client_timeout_is_not_repeated(live: Live) -> None:
    live.fake.fail("sendMessage", Fault.slow(LATE), times=3)
    with pytest.raises(DeliveryUnconfirmed):
        await live.adapter.send(str(CHAT), Reply("alert", {"text": "squeeze"}))
    assert len(sends(live.fake)) == 1  # the chat got it once — and only once
    stats = live.adapter.delivery_stats
    assert stats.unconfirmed == 1 and stats.retried == 0
    assert stats.last_problem is not None and "not repeated" in stats.last_problem


async def test_reply_answered_after_the_client_timeout_is_repeated_at_most_once(
    live: Live,
) -> None:
    live.fake.fail("sendMessage", Fault.slow(LATE), times=5)
    live.fake.inject_command("/status")
    await eventually(lambda: live.adapter.delivery_stats.last_problem is not None)
    texts = [c.params["text"] for c in sends(live.fake)]
    assert texts == ["answer to /status"] * 2  # the first try and one blind retry, no third
    assert live.adapter.delivery_stats.unconfirmed == 2


async def test_reply_whose_first_answer_is_late_is_sent_again_and_confirmed(live: Live) -> None:
    live.fake.fail("sendMessage", Fault.slow(LATE))
    live.fake.inject_command("/help")
    await eventually(lambda: len([c for c in sends(live.fake) if c.ok]) == 2)
    assert live.adapter.delivery_stats.unconfirmed == 1
    assert live.adapter.delivery_stats.last_problem is None


# --- item 3: refused is retried within the deadline ------------------------------------------


async def test_reply_answered_500_then_success_is_delivered(live: Live) -> None:
    live.fake.fail("sendMessage", Fault.server_error())
    live.fake.inject_command("/start")
    (call,) = await live.fake.wait_for("sendMessage")
    assert call.params["text"] == "answer to /start"
    assert [c.status for c in sends(live.fake)] == [500, 200]
    assert live.time.slept == [1.0]  # backoff, not a hammering loop


async def test_alert_answered_500_then_success_is_delivered(live: Live) -> None:
    live.fake.fail("sendMessage", Fault.server_error(), times=2)
    await live.adapter.send(str(CHAT), Reply("alert", {"text": "cluster hit"}))
    assert [c.status for c in sends(live.fake)] == [500, 500, 200]
    assert live.time.slept == [1.0, 2.0]


async def test_repeated_429s_are_waited_out_within_the_deadline(live: Live) -> None:
    live.fake.fail("sendMessage", Fault.retry_after(7), times=4)
    live.fake.inject_command("/alerts")
    (call,) = await live.fake.wait_for("sendMessage")
    assert call.params["text"] == "answer to /alerts"
    assert live.time.slept == [7.0] * 4  # exactly what Telegram asked for, four times
    assert live.adapter.delivery_stats.gave_up == 0


async def test_repeated_429s_on_an_alert_are_waited_out_within_the_deadline(live: Live) -> None:
    live.fake.fail("sendMessage", Fault.retry_after(12), times=4)
    await live.adapter.send(str(CHAT), Reply("alert", {"text": "squeeze"}))
    assert [c.status for c in sends(live.fake)] == [429] * 4 + [200]
    assert live.time.slept == [12.0] * 4  # 48 s: within the 60 s of one send
    assert live.adapter.delivery_stats.gave_up == 0


async def test_429s_past_the_reply_deadline_are_given_up_and_reported(live: Live) -> None:
    live.fake.fail("sendMessage", Fault.retry_after(25), times=10)
    live.fake.inject_command("/alerts")
    await eventually(lambda: live.adapter.delivery_stats.gave_up == 1)
    assert live.time.slept == [25.0, 25.0]  # 75 s would pass the 60 s deadline
    assert len(sends(live.fake)) == 3 and not any(c.ok for c in sends(live.fake))
    problem = live.adapter.delivery_stats.last_problem
    assert problem is not None and "gave up after 3 tries" in problem


# --- item 2: a hung chat holds only itself ---------------------------------------------------


async def test_a_hung_chat_does_not_hold_another_chats_alert(live: Live) -> None:
    hung, other = 7001, 7002
    live.fake.fail("sendMessage", Fault.hang(), chat_id=hung)
    stuck = asyncio.create_task(live.adapter.send(str(hung), Reply("alert", {"text": "a"})))
    await eventually(lambda: live.fake.hung == 1)
    await asyncio.wait_for(live.adapter.send(str(other), Reply("alert", {"text": "b"})), 5.0)
    assert [c.params["text"] for c in sends(live.fake, other)] == ["b"]
    assert live.fake.hung == 1  # the first chat is still unanswered — and it did not matter
    with pytest.raises(DeliveryUnconfirmed):  # the client timeout ends it: not re-sent
        await stuck
    live.fake.release()


# --- the judgement, error by error ---------------------------------------------------------------


def _caused(error: NetworkError, cause: BaseException) -> NetworkError:
    error.__cause__ = cause
    return error


REQUEST = httpx.Request("POST", "http://127.0.0.1/bot/sendMessage")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: RetryAfter(dt.timedelta(seconds=3)), Judgement("refused", 3.0)),
        (lambda: NetworkError("Internal Server Error (500)"), Judgement("refused")),
        (lambda: NetworkError("Bad Gateway"), Judgement("refused")),
        (lambda: _caused(NetworkError("x"), httpx.ConnectError("refused")), Judgement("refused")),
        (lambda: _caused(TimedOut(), httpx.ConnectTimeout("slow dns")), Judgement("refused")),
        (lambda: _caused(TimedOut(), httpx.PoolTimeout("pool")), Judgement("refused")),
        (
            lambda: _caused(TimedOut(), httpx.ReadTimeout("late", request=REQUEST)),
            Judgement("unconfirmed"),
        ),
        (lambda: _caused(TimedOut(), httpx.WriteTimeout("half")), Judgement("unconfirmed")),
        (
            lambda: _caused(NetworkError("x"), httpx.RemoteProtocolError("eof")),
            Judgement("unconfirmed"),
        ),
        (lambda: TimedOut(), Judgement("unconfirmed")),
        (lambda: BadRequest("Bad Request: chat not found"), None),
        (lambda: Forbidden("Forbidden: bot was blocked by the user"), None),
    ],
)
def test_judge(
    make: Callable[[], Exception], expected: Judgement | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # what the adapter opts in to
    assert judge(make()) == expected


def test_policies_validate() -> None:
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(-1.0)
