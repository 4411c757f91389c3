"""The per-user token bucket and its use in ``Commands.run``, on a fake clock."""

from __future__ import annotations

import math

import pytest

from bot.commands.registry import Commands
from bot.commands.spec import Call, CommandSpec, Param
from bot.commands.throttle import Throttle, ThrottleDecision
from bot.reply import CallContext, Reply


class FakeClock:
    """Seconds that only move when told to."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def throttle(clock: FakeClock, **kwargs: float) -> Throttle:
    params: dict[str, float] = {"capacity": 8, "refill_seconds": 3.0, "notice_seconds": 30.0}
    params.update(kwargs)
    return Throttle(
        capacity=int(params.pop("capacity")),
        clock=clock,
        **params,  # type: ignore[arg-type]
    )


def test_a_burst_of_capacity_passes_then_one_notice_then_silence() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    assert all(limiter.check("telegram", "7").allowed for _ in range(8))
    first = limiter.check("telegram", "7")
    assert not first.allowed and first.notify
    assert first.retry_after == pytest.approx(3.0)
    assert first.message == "Slow down — too many commands. Try again in 3 s."
    later = [limiter.check("telegram", "7") for _ in range(50)]
    assert not any(d.allowed or d.notify for d in later)


def test_tokens_come_back_at_the_refill_rate_and_refusals_take_none() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    for _ in range(8):
        limiter.check("telegram", "7")
    clock.advance(2.9)
    refused = limiter.check("telegram", "7")
    assert not refused.allowed and refused.retry_after == pytest.approx(0.1)
    clock.advance(0.1)
    assert limiter.check("telegram", "7").allowed
    assert not limiter.check("telegram", "7").allowed
    clock.advance(3 * 5)  # five tokens back, not more
    assert [limiter.check("telegram", "7").allowed for _ in range(6)] == [True] * 5 + [False]
    clock.advance(10_000)  # never more than the capacity
    assert sum(limiter.check("telegram", "7").allowed for _ in range(20)) == 8


def test_notice_again_only_after_the_notice_period() -> None:
    clock = FakeClock()
    limiter = throttle(clock, notice_seconds=30.0)
    notices = 0
    allowed = 0
    for _ in range(600):  # a flood of 10 lines a second for a minute
        decision = limiter.check("telegram", "7")
        allowed += decision.allowed
        notices += decision.notify
        clock.advance(0.1)
    assert notices == 2  # at 0.8 s and 30.8 s
    # the burst, then the tokens regained since t = 0: one at every 3 s mark up to 59.9 s
    assert allowed == 8 + math.floor(59.9 / 3.0)


def test_notice_period_is_at_least_the_wait() -> None:
    clock = FakeClock()
    limiter = throttle(clock, capacity=1, refill_seconds=60.0, notice_seconds=0.0)
    assert limiter.check("discord", "1").allowed
    told = limiter.check("discord", "1")
    assert told.notify and told.message.endswith("Try again in 60 s.")
    clock.advance(30)
    assert not limiter.check("discord", "1").notify
    clock.advance(30)
    assert limiter.check("discord", "1").allowed


def test_users_and_platforms_have_their_own_buckets() -> None:
    clock = FakeClock()
    limiter = throttle(clock, capacity=2)
    for _ in range(2):
        assert limiter.check("telegram", "7").allowed
    assert not limiter.check("telegram", "7").allowed
    assert limiter.check("telegram", "8").allowed
    assert limiter.check("discord", "7").allowed


def test_admins_get_a_larger_faster_bucket_not_an_exemption() -> None:
    clock = FakeClock()
    limiter = throttle(clock, admin_factor=4.0)
    assert limiter.limits(is_admin=True) == (32.0, 0.75)
    results = [limiter.check("telegram", "1", is_admin=True).allowed for _ in range(40)]
    assert results == [True] * 32 + [False] * 8
    clock.advance(0.75)
    assert limiter.check("telegram", "1", is_admin=True).allowed


def test_memory_is_bounded_least_recently_used_out() -> None:
    clock = FakeClock()
    limiter = throttle(clock, capacity=1, max_users=3)
    for user in ("a", "b", "c"):
        limiter.check("telegram", user)
    limiter.check("telegram", "a")  # a is refused, and now the most recent
    limiter.check("telegram", "d")  # evicts b
    assert len(limiter) == 3
    assert limiter.check("telegram", "b").allowed  # b forgotten: a full bucket again
    assert not limiter.check("telegram", "a").allowed  # c was evicted for b, a kept
    for user in map(str, range(1_000)):
        limiter.check("discord", user)
    assert len(limiter) == 3


def test_a_clock_stepping_back_refills_nothing() -> None:
    clock = FakeClock()
    limiter = throttle(clock, capacity=1)
    assert limiter.check("telegram", "7").allowed
    clock.advance(-100)
    assert not limiter.check("telegram", "7").allowed


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capacity": 0},
        {"refill_seconds": 0.0},
        {"notice_seconds": -1.0},
        {"admin_factor": 0.5},
        {"max_users": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="throttle"):
        throttle(FakeClock(), **kwargs)


def test_message_rounds_up_to_whole_seconds() -> None:
    assert ThrottleDecision(False, True, 11.2).message.endswith("Try again in 12 s.")
    assert ThrottleDecision(False, True, 0.01).message.endswith("Try again in 1 s.")


# --- through the registry ----------------------------------------------------------------

USER = CallContext("telegram", "42", "7")
GROUP = CallContext("telegram", "-100", "7", is_group=True)


def registry(clock: FakeClock, **kwargs: float) -> tuple[Commands, list[str]]:
    ran: list[str] = []

    async def ping(call: Call) -> Reply:
        ran.append(call.line)
        return Reply("start", {"symbol": "BTC", "exchanges": []})

    spec = CommandSpec("ping", "Answer", (Param("n", "text"),), handler=ping)
    return Commands([spec], throttle=throttle(clock, **kwargs)), ran


async def test_run_answers_a_flood_once_then_ignores_it() -> None:
    clock = FakeClock()
    commands, ran = registry(clock, capacity=3)
    replies = [await commands.run(f"/ping {i}", USER) for i in range(20)]
    assert all(r is not None and not r.is_error for r in replies[:3])
    notice = replies[3]
    assert notice is not None and notice.is_error
    assert notice.context["message"].startswith("Slow down — too many commands.")
    assert replies[4:] == [None] * 16
    assert ran == ["/ping 0", "/ping 1", "/ping 2"]  # refused lines are never parsed or run
    clock.advance(3.0)
    again = await commands.run("/ping", USER)
    assert again is not None and not again.is_error


async def test_lines_not_for_the_bot_never_count() -> None:
    clock = FakeClock()
    commands, _ = registry(clock, capacity=1)
    for _ in range(10):
        assert await commands.run("just chatting", GROUP) is None
        assert await commands.run("/other", GROUP) is None  # another bot's command
        assert await commands.run("/ping@other_bot", GROUP, bot_username="liqwatch_bot") is None
    reply = await commands.run("/ping", GROUP)
    assert reply is not None and not reply.is_error


async def test_unknown_commands_to_the_bot_count() -> None:
    clock = FakeClock()
    commands, _ = registry(clock, capacity=2)
    for _ in range(2):
        reply = await commands.run("/nope", USER)
        assert reply is not None and "Unknown command" in reply.context["message"]
    reply = await commands.run("/nope", USER)
    assert reply is not None and reply.context["message"].startswith("Slow down")


async def test_without_a_throttle_nothing_is_limited() -> None:
    async def ping(call: Call) -> Reply:
        return Reply("start", {"symbol": "BTC", "exchanges": []})

    commands = Commands([CommandSpec("ping", "Answer", handler=ping)])
    replies = [await commands.run("/ping", USER) for _ in range(100)]
    assert all(r is not None and not r.is_error for r in replies)
