"""The Telegram adapter as an Outlet: pushed replies raise the outlet errors, and a thread is
its first post followed by replies to it — a real PTB Application against the fake Bot API."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
from PIL import Image as PilImage
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.adapters.telegram.adapter import TelegramAdapter, delivery_error
from bot.adapters.telegram.text import TEXT_LIMIT
from bot.notify.outlets import (
    ChatGone,
    ChatMoved,
    DeliveryError,
    DeliveryRefused,
    DeliveryUnconfirmed,
    Outlet,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from bot.notify.retry import RetryPolicy
from bot.reply import CallContext, Image, Platform, Reply
from tests.fakes.fake_telegram import ApiCall, FakeTelegram, Fault

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = -1001234567890


@dataclass
class NoCommands:
    """A command layer that never answers: these tests only push."""

    def menu(self) -> Sequence[tuple[str, str]]:
        return []

    def get(self, name: str) -> None:
        return None

    async def run(
        self, line: str, ctx: CallContext, *, bot_username: str | None = None
    ) -> Reply | None:
        return None


def render(reply: Reply, platform: Platform) -> str:
    return str(reply.context["text"])


def png() -> bytes:
    out = io.BytesIO()
    PilImage.new("RGB", (40, 30), (20, 80, 160)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Live:
    fake: FakeTelegram
    adapter: TelegramAdapter
    gone: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
        gone: list[str] = []
        moved: list[tuple[str, str]] = []
        adapter = TelegramAdapter(
            TOKEN,
            NoCommands(),
            render,
            api_base_url=fake.api_base_url,
            on_chat_gone=gone.append,
            on_chat_migrated=lambda old, new: moved.append((old, new)),
            poll_timeout=1,
            max_retries=0,  # a 429 escapes the rate limiter at once
            alert_policy=RetryPolicy(0.0),  # no retry: these tests see the raw mapping
        )
        await adapter.start()
        try:
            yield Live(fake, adapter, gone, moved)
        finally:
            await adapter.stop()


def text(call: ApiCall) -> str:
    return call.params.get("text") or call.params.get("caption", "")


def posted(fake: FakeTelegram) -> list[ApiCall]:
    return [c for c in fake.calls if c.method in ("sendmessage", "sendphoto") and c.ok]


# --- the protocol -----------------------------------------------------------------------------


async def test_adapter_is_a_telegram_outlet(live: Live) -> None:
    assert isinstance(live.adapter, Outlet)
    assert live.adapter.platform == "telegram"
    await live.adapter.send(str(CHAT), Reply("alert", {"text": "<b>BTC</b> squeeze"}))
    (call,) = posted(live.fake)
    assert call.params["chat_id"] == str(CHAT) and call.params["text"] == "<b>BTC</b> squeeze"


# --- error mapping: the scheduler decides, so send raises -----------------------------------


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.forbidden(), ChatGone),
        (Fault.bad_request(), PermanentDeliveryError),
        (Fault(500, "Internal Server Error"), DeliveryRefused),
        (Fault(502, "Bad Gateway"), DeliveryRefused),
        (Fault.retry_after(30), DeliveryRefused),
        (Fault.disconnect(), DeliveryUnconfirmed),  # sent, no answer: may have arrived
    ],
)
async def test_send_raises_the_outlet_error(
    live: Live, fault: Fault, expected: type[DeliveryError]
) -> None:
    live.fake.fail("sendMessage", fault)
    with pytest.raises(DeliveryError) as raised:
        await live.adapter.send("777", Reply("alert", {"text": "hello"}))
    assert type(raised.value) is expected
    assert raised.value.chat_id == "777"
    assert not live.gone and not live.moved  # callbacks are for command replies only
    await live.adapter.send("777", Reply("alert", {"text": "next"}))  # still working
    assert text(posted(live.fake)[-1]) == "next"


async def test_migrated_chat_raises_chat_moved_with_the_new_id(live: Live) -> None:
    live.fake.fail("sendPhoto", Fault.migrated(-1009999), chat_id=-4242)
    reply = Reply("alert", {"text": "cluster hit"}, images=(Image("a.png", png()),))
    with pytest.raises(ChatMoved) as raised:
        await live.adapter.send("-4242", reply)
    assert (raised.value.chat_id, raised.value.new_chat_id) == ("-4242", "-1009999")
    assert not posted(live.fake)  # not re-sent by the adapter: the scheduler moves and re-sends


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: Forbidden("Forbidden: bot was kicked"), ChatGone),
        (lambda: ChatMigrated(-10042), ChatMoved),
        (lambda: BadRequest("Bad Request: chat not found"), PermanentDeliveryError),
        (TimedOut, DeliveryUnconfirmed),
        (lambda: NetworkError("Internal Server Error (500)"), DeliveryRefused),
        (lambda: RetryAfter(dt.timedelta(seconds=5)), DeliveryRefused),
        (InvalidToken, PermanentDeliveryError),
        (lambda: Conflict("terminated by other getUpdates"), PermanentDeliveryError),
    ],
)
def test_delivery_error_maps_every_ptb_error(
    make: Callable[[], TelegramError],
    expected: type[DeliveryError],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # what the adapter opts in to
    error = delivery_error("5", make())
    assert type(error) is expected and error.chat_id == "5"
    if isinstance(error, ChatMoved):
        assert error.new_chat_id == "-10042"


# --- threads ------------------------------------------------------------------------------------


def thread_posts() -> list[Reply]:
    long_lines = "\n".join(f"level {i}: shorts stacked at ${90_000 + i * 10:,}" for i in range(200))
    assert len(long_lines) > TEXT_LIMIT
    return [
        Reply("thread/hook", {"text": "<b>BTC</b> market structure"}, (Image("h.png", png()),)),
        Reply("thread/imbalance", {"text": "shorts above 3:1"}),
        Reply("thread/why", {"text": "forced flow"}, (Image("c.png", png()),)),
        Reply("thread/watch", {"text": long_lines}),
        Reply("thread/caveat", {"text": "estimates, not positions"}),
    ]


async def test_thread_is_the_first_post_then_replies_to_it_in_order(live: Live) -> None:
    posts = thread_posts()
    await live.adapter.post_thread(str(CHAT), "BTC market structure", posts)
    calls = posted(live.fake)
    head, rest = calls[0], calls[1:]
    assert head.method == "sendphoto" and head.files  # the chart, with its caption
    assert head.params["caption"] == "<b>BTC</b> market structure"
    assert "reply_parameters" not in head.params
    first_id = head.result["message_id"]
    for call in rest:
        assert call.params["chat_id"] == str(CHAT)
        assert call.json("reply_parameters")["message_id"] == first_id
        assert call.params["disable_notification"] == "true"  # one ping per thread
    # order: imbalance, why (photo + caption), the long post in 2 chunks, caveat
    assert [c.method for c in rest] == ["sendmessage", "sendphoto", *["sendmessage"] * 3]
    assert [text(c) for c in rest][:2] == ["shorts above 3:1", "forced flow"]
    watch = text(rest[2]) + "\n" + text(rest[3])
    assert watch == posts[3].context["text"]  # split on line boundaries, nothing lost
    assert text(rest[-1]) == "estimates, not positions"
    ids = [c.result["message_id"] for c in calls]
    assert ids == sorted(ids)


async def test_thread_whose_first_post_fails_posts_nothing_else(live: Live) -> None:
    live.fake.fail("sendPhoto", Fault.forbidden())
    with pytest.raises(ChatGone):
        await live.adapter.post_thread(str(CHAT), "t", thread_posts())
    assert not posted(live.fake)


async def test_thread_failing_midway_raises_temporary(live: Live) -> None:
    live.fake.fail("sendMessage", Fault(500, "Internal Server Error"))
    with pytest.raises(TemporaryDeliveryError):
        await live.adapter.post_thread(str(CHAT), "t", thread_posts())
    assert [c.method for c in posted(live.fake)] == ["sendphoto"]


async def test_empty_thread_sends_nothing(live: Live) -> None:
    await live.adapter.post_thread(str(CHAT), "t", [])
    assert not posted(live.fake)
