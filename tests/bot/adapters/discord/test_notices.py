"""One admin notice per (channel, cause) per cooldown."""

from __future__ import annotations

from bot.adapters.discord.notices import Notices


def test_once_per_channel_and_cause_per_cooldown() -> None:
    now = [0.0]
    notices = Notices(cooldown_s=60, clock=lambda: now[0])
    assert notices.due("1", "missing permission")
    assert not notices.due("1", "missing permission")
    assert notices.due("1", "cannot create a thread")  # another cause
    assert notices.due("2", "missing permission")  # another channel
    now[0] = 59.9
    assert not notices.due("1", "missing permission")
    now[0] = 60.0
    assert notices.due("1", "missing permission")


def test_memory_is_bounded() -> None:
    notices = Notices()
    for i in range(5000):
        notices.due(str(i), "x")
    assert len(notices._last) <= 1024
    assert notices.due("0", "x")  # the oldest was forgotten
