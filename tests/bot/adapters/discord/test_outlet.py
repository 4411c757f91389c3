"""The Discord bot as an Outlet: alerts to channels and threads against the strict fake Discord,
429s waited out, 403s reported to the admin channel once per channel and cause."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from bot.notify.outlets import ChatGone, PermanentDeliveryError
from bot.reply import Reply
from tests.bot.adapters.discord.harness import ADMIN_CHANNEL, CHANNEL, Harness
from tests.fakes.fake_discord import forbidden, rate_limited, unknown_channel


def _post(text: str) -> Reply:
    return Reply("error", {"message": text, "usage": "", "example": ""})


async def test_thread_first_post_then_followups_in_order(live: Harness) -> None:
    posts = [_post(f"post number {i}") for i in range(4)]
    await live.adapter.post_thread(str(CHANNEL), "BTC market structure", posts)
    messages = live.fake.calls_of("message")
    (thread,) = live.fake.calls_of("thread")
    assert messages[0].path == f"/channels/{CHANNEL}/messages"
    assert thread.json["name"] == "BTC market structure"
    inside = [m for m in messages[1:]]
    assert all(m.path != messages[0].path for m in inside) and len(inside) == 3
    order = [m.json["embeds"][0]["description"] for m in messages]
    assert [o.split()[-1] for o in order] == ["0", "1", "2", "3"]


async def test_rate_limit_is_waited_out_and_order_kept(live: Harness) -> None:
    live.fake.fail("message", rate_limited(0.3))
    await live.adapter.send(str(CHANNEL), _post("alert one"))
    await live.adapter.send(str(CHANNEL), _post("alert two"))
    statuses = [c.status for c in live.fake.calls_of("message", ok_only=False)]
    assert statuses == [429, 200, 200]
    texts = [c.json["embeds"][0]["description"] for c in live.fake.calls_of("message")]
    assert "one" in texts[0] and "two" in texts[1]


async def test_a_rate_limited_channel_does_not_hold_another_channel(live: Harness) -> None:
    """discord.py waits out a 429 per route bucket, and a channel is its own bucket (the
    channel id is a major parameter): alerts to other channels go out meanwhile."""
    slow, other = CHANNEL, CHANNEL + 1
    live.fake.fail("message", dataclasses.replace(rate_limited(3.0), path=str(slow)))
    waiting = asyncio.create_task(live.adapter.send(str(slow), _post("to the limited one")))
    await live.fake.wait_for("message", ok_only=False)  # the 429 was answered
    await asyncio.wait_for(live.adapter.send(str(other), _post("to another one")), 10)
    assert not waiting.done()  # still waiting out its 3 s — and it did not matter
    await asyncio.wait_for(waiting, 15)
    paths = [(c.path, c.status) for c in live.fake.calls_of("message", ok_only=False)]
    assert paths == [
        (f"/channels/{slow}/messages", 429),
        (f"/channels/{other}/messages", 200),
        (f"/channels/{slow}/messages", 200),
    ]


async def test_forbidden_is_reported_and_the_bot_carries_on(live: Harness) -> None:
    live.fake.fail("message", forbidden())
    with pytest.raises(PermanentDeliveryError):
        await live.adapter.send(str(CHANNEL), _post("blocked"))
    report = live.fake.calls_of("message")[0]
    assert report.path == f"/channels/{ADMIN_CHANNEL}/messages"
    assert str(CHANNEL) in report.json["embeds"][0]["description"]
    await live.adapter.send(str(CHANNEL), _post("next one"))
    assert live.fake.calls_of("message")[-1].path == f"/channels/{CHANNEL}/messages"
    assert live.adapter.client.is_ready()


async def test_unknown_channel_is_chat_gone(live: Harness) -> None:
    live.fake.fail("message", unknown_channel())
    with pytest.raises(ChatGone):
        await live.adapter.send(str(CHANNEL), _post("gone"))


async def test_one_admin_notice_per_channel_and_cause(live: Harness) -> None:
    """Five alert rules refused by one channel: one notice, without the id twice."""
    live.fake.fail("message", forbidden(times=5, path=str(CHANNEL)))
    for rule in range(5):
        with pytest.raises(PermanentDeliveryError):
            await live.adapter.send(str(CHANNEL), _post(f"alert {rule}"))
    (notice,) = [c for c in live.fake.calls_of("message") if str(ADMIN_CHANNEL) in c.path]
    text = notice.json["embeds"][0]["description"]
    assert text.count(str(CHANNEL)) == 1 and "missing permission" in text
    live.fake.fail("message", forbidden(path=str(CHANNEL + 1)))
    with pytest.raises(PermanentDeliveryError):
        await live.adapter.send(str(CHANNEL + 1), _post("another channel"))
    notices = [c for c in live.fake.calls_of("message") if str(ADMIN_CHANNEL) in c.path]
    assert len(notices) == 2  # another channel is another notice
    live.adapter.notices.cooldown_s = 0  # the cooldown over: the same cause is told again
    live.fake.fail("message", forbidden(path=str(CHANNEL)))
    with pytest.raises(PermanentDeliveryError):
        await live.adapter.send(str(CHANNEL), _post("later"))
    assert len([c for c in live.fake.calls_of("message") if str(ADMIN_CHANNEL) in c.path]) == 3
