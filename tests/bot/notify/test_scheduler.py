"""The scheduler on the sim market with a fake clock: cadence, no overlap, backoff, alert
fan-out and delivery errors; and a crash test (SIGKILL mid-cycle, restart) for exactly-once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.config.settings import AlertSettings
from bot.market.errors import ExchangeUnavailable
from bot.market.refresh import refresh_series
from bot.notify.alerts import RULE_NAMES, RULES, AlertInputs, evaluate, rule_params
from bot.notify.outlets import ChatGone, ChatMoved, PermanentDeliveryError, TemporaryDeliveryError
from bot.notify.scheduler import MarketUpdate
from bot.state.records import RuleState
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.market_service import FakeEngine
from tests.fakes.scheduling import (
    BTC,
    MINUTE,
    NO_COOLDOWN,
    FakeClock,
    setup,
)


class CountingRefresh:
    """The real refresh, counting calls and concurrency; can fail or be slow on demand."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.starts: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail_calls: set[int] = set()
        self.slow_calls: dict[int, int] = {}

    async def __call__(self, *args: Any) -> object:
        call = len(self.starts)
        self.starts.append(self.clock())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if call in self.fail_calls:
                raise ExchangeUnavailable("sim: 503 Service Unavailable")
            self.clock.now += self.slow_calls.get(call, 0)
            await asyncio.sleep(0)
            return await refresh_series(*args)
        finally:
            self.in_flight -= 1


async def test_two_hundred_cycles_refresh_on_cadence_and_alert_once_per_transition() -> None:
    clock = FakeClock()
    refresh = CountingRefresh(clock)
    seen: list[MarketUpdate] = []

    async def on_cycle(updates: Sequence[MarketUpdate]) -> None:
        seen.extend(updates)

    scheduler, subs, outlet = setup(clock, refresh=refresh, on_cycle=[on_cycle])
    subs.subscribe("telegram", "1", BTC, ["imbalance", "cluster"])
    subs.set_setting("telegram", "1", "imbalance", "on", 1.6)
    subs.set_setting("telegram", "1", "cluster", "on", 0.03)
    await scheduler.run(cycles=200)

    # one refresh per cycle, 60 s ± 10 % jitter apart, never two at once
    assert len(refresh.starts) == 200
    gaps = [b - a for a, b in zip(refresh.starts, refresh.starts[1:], strict=False)]
    assert all(54_000 <= g <= 66_000 for g in gaps)
    assert refresh.max_in_flight == 1
    job = scheduler.jobs[("sim", BTC)]
    assert (job.runs, job.failures, job.skipped) == (200, 0, 0)
    assert len(seen) == 200 and {u.symbol for u in seen} == {BTC}

    # oracle: the pure rules replayed over the distinct analyses the cycles produced
    expected: list[tuple[str, int]] = []
    for name, threshold in (("imbalance", 1.6), ("cluster", 0.03)):
        state = RuleState()
        params = rule_params(RULES[name], NO_COOLDOWN, threshold)
        last = None
        for update in seen:
            if update.view.analysis is last:
                continue
            last = update.view.analysis
            state, event = evaluate(RULES[name], AlertInputs(last, "sim"), state, params)
            if event is not None:
                expected.append((name, event.transition))
    delivered = [(r.context["rule"], r.context["transition"]) for _, r in outlet.sent]
    assert sorted(delivered) == sorted(expected)
    assert len(set(delivered)) == len(delivered) >= 1
    assert subs.alert_counts() == {"delivered": len(delivered)}


async def test_failures_back_off_exponentially_and_are_recorded_for_status() -> None:
    clock = FakeClock()
    refresh = CountingRefresh(clock)
    refresh.fail_calls = {1, 2, 3}
    scheduler, subs, _ = setup(clock, refresh=refresh, watch=[BTC], jitter=0.0)
    await scheduler.run(cycles=3)
    (status,) = subs.store.market_status()
    assert status.last_error is not None and "503" in status.last_error
    await scheduler.run(cycles=3)
    gaps = [b - a for a, b in zip(refresh.starts, refresh.starts[1:], strict=False)]
    # ok, fail (wait 2×), fail (4×), fail (8×), ok (back to 1×)
    assert gaps[:5] == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, MINUTE]
    job = scheduler.jobs[("sim", BTC)]
    assert (job.failures, job.consecutive_failures, job.last_error) == (3, 0, None)
    assert subs.store.market_status()[0].last_error is None


async def test_backoff_is_capped() -> None:
    clock = FakeClock()
    refresh = CountingRefresh(clock)
    refresh.fail_calls = set(range(10))
    scheduler, _, _ = setup(
        clock, refresh=refresh, watch=[BTC], jitter=0.0, max_backoff_ms=5 * MINUTE
    )
    await scheduler.run(cycles=8)
    gaps = [b - a for a, b in zip(refresh.starts, refresh.starts[1:], strict=False)]
    assert gaps == [2 * MINUTE, 4 * MINUTE] + [5 * MINUTE] * 5


async def test_a_slow_run_skips_the_missed_runs_instead_of_overlapping() -> None:
    clock = FakeClock()
    refresh = CountingRefresh(clock)
    refresh.slow_calls = {2: 150_000}  # the third refresh takes 2.5 intervals
    scheduler, _, _ = setup(clock, refresh=refresh, watch=[BTC], jitter=0.0)
    await scheduler.run(cycles=5)
    gaps = [b - a for a, b in zip(refresh.starts, refresh.starts[1:], strict=False)]
    assert gaps == [MINUTE, MINUTE, 3 * MINUTE, MINUTE]
    assert scheduler.jobs[("sim", BTC)].skipped == 2
    assert refresh.max_in_flight == 1


def _always(subs: Subscriptions, chat: str) -> None:
    """A subscription whose imbalance rule fires at the first cycle (ratio >= 1 always)."""
    subs.subscribe("telegram", chat, BTC, ["imbalance"])
    subs.set_setting("telegram", chat, "imbalance", "on", 1.0)


async def test_delivery_errors_move_drop_retry_or_fail() -> None:
    clock = FakeClock()
    scheduler, subs, outlet = setup(clock)
    for chat in ("moved", "gone", "flaky", "broken", "fine"):
        _always(subs, chat)
    outlet.fail = {
        "moved": [ChatMoved("moved", "moved-2")],
        "gone": [ChatGone("gone", "Forbidden: bot was blocked by the user")],
        "flaky": [TemporaryDeliveryError("flaky", "timed out")],
        "broken": [PermanentDeliveryError("broken", "not enough rights")],
    }
    await scheduler.run(cycles=1)
    assert sorted(chat for chat, _ in outlet.sent) == ["fine", "moved-2"]
    assert [s.chat_id for s in subs.subscribers(BTC, "imbalance")] == [
        "broken",
        "fine",
        "flaky",
        "moved-2",
    ]
    assert subs.alert_counts() == {"delivered": 2, "failed": 2, "retry": 1}
    await scheduler.run(cycles=2)  # the refused alert goes out once, nothing else repeats
    assert sorted(chat for chat, _ in outlet.sent) == ["fine", "flaky", "moved-2"]
    assert subs.alert_counts() == {"delivered": 3, "failed": 2}
    assert scheduler.counters.dropped_chats == scheduler.counters.moved_chats == 1


async def test_cooldown_off_and_silent_settings() -> None:
    clock = FakeClock()
    scheduler, subs, outlet = setup(clock, settings=AlertSettings())
    _always(subs, "quiet")
    subs.set_setting("telegram", "quiet", "imbalance", "silent")
    _always(subs, "muted")
    subs.set_setting("telegram", "muted", "imbalance", "off")
    await scheduler.run(cycles=1)
    assert [(c, r.context["silent"]) for c, r in outlet.sent] == [("quiet", True)]


async def test_alert_carries_its_chart_and_numbers() -> None:
    clock = FakeClock()
    scheduler, subs, outlet = setup(clock, engine=FakeEngine(render_seconds=0), attach_charts=True)
    subs.subscribe("telegram", "1", BTC, ["imbalance"])  # default 5:1; the fake analysis is ~14:1
    await scheduler.run(cycles=1)
    ((_, reply),) = outlet.sent
    assert reply.template == "alert" and reply.context["rule"] == "imbalance"
    assert reply.context["exchange"] == "sim"  # one venue configured: its id, not "all"
    assert reply.context["numbers"]["ratio"] > 5
    assert reply.context["chart"] == "card" and len(reply.images) == 1
    assert reply.images[0].data  # the rendered PNG


async def test_no_outlet_for_the_platform_fails_the_alert_not_the_cycle() -> None:
    clock = FakeClock()
    scheduler, subs, outlet = setup(clock)
    subs.subscribe("discord", "7", BTC, ["imbalance"])
    subs.set_setting("discord", "7", "imbalance", "on", 1.0)
    assert await scheduler.run_once()
    assert outlet.sent == [] and subs.alert_counts() == {"failed": 1}


# --- crash test: SIGKILL mid-cycle, restart --------------------------------------------------

_CHATS = 30
_DRIVER = textwrap.dedent(
    """
    import asyncio, os, sys
    from bot.notify.alerts import RULE_NAMES
    from bot.reply import RANGES
    from bot.config.settings import AlertSettings
    from bot.market.sim_source import DEFAULT_START_MS, SimSource
    from bot.notify.scheduler import Scheduler
    from bot.analysis.service import MarketService
    from bot.state.store import Store
    from bot.state.subscriptions import Subscriptions

    db, log, chats = sys.argv[1], sys.argv[2], int(sys.argv[3])

    class Outlet:
        platform = "telegram"
        async def send(self, chat_id, reply):
            c = reply.context
            with open(log, "a") as f:
                f.write(f"{chat_id}|{c['rule']}|{c['transition']}\\n")
                f.flush()
                os.fsync(f.fileno())
            await asyncio.sleep(0.04)  # the platform acknowledges a little later
        async def post_thread(self, chat_id, title, posts):
            pass

    async def main():
        store = Store(db)
        subs = Subscriptions(store)
        now = int(store.get_meta("clock") or DEFAULT_START_MS + 150 * 300_000)
        clock = lambda: now
        async def sleep(seconds):
            nonlocal now
            now += round(seconds * 1000)
            store.set_meta("clock", str(now))
        if not subs.symbols():
            for i in range(chats):
                subs.subscribe("telegram", str(i), "BTC/USDT:USDT", RULE_NAMES)
                subs.set_setting("telegram", str(i), "imbalance", "on", 1.0)
        service = MarketService({"sim": SimSource(candles=300)}, store, clock=lambda: now)
        scheduler = Scheduler(service, subs, [Outlet()], alert_settings=AlertSettings(),
                              clock=lambda: now, sleep=sleep, range_=RANGES[0],
                              attach_charts=False)
        print("abandoned", await scheduler.recover(), flush=True)
        await scheduler.run(cycles=3)
        print("done", flush=True)

    asyncio.run(main())
    """
)


def _driver(db: Path, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "MPLBACKEND": "agg", "PYTHONPATH": str(Path.cwd())}
    return subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(db), str(log), str(_CHATS)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_sigkill_mid_cycle_then_restart_loses_no_subscription_and_repeats_no_alert(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "bot.sqlite3", tmp_path / "delivered.log"
    first = _driver(db, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not log.exists() or len(log.read_text().splitlines()) < 5
    ):
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert first.stdout is not None
    first.stdout.close()
    before = log.read_text().splitlines()
    assert 5 <= len(before) < _CHATS, "the kill must land mid-cycle"

    second = _driver(db, log)
    out, _ = second.communicate(timeout=90)
    assert second.returncode == 0 and "done" in out
    delivered = log.read_text().splitlines()
    assert len(delivered) == len(set(delivered)), "an alert was delivered twice"
    assert len(delivered) > len(before), "the restarted scheduler kept alerting"

    with Store(db) as store:
        subs = Subscriptions(store)
        for chat in range(_CHATS):
            assert {s.rule for s in subs.for_chat("telegram", str(chat))} == set(RULE_NAMES)
        counts = subs.alert_counts()
    # every claimed imbalance alert was delivered, or abandoned (in flight at the kill)
    imbalance = [line for line in delivered if "|imbalance|" in line]
    assert len({line.split("|")[0] for line in imbalance}) == len(imbalance)
    assert counts.get("abandoned", 0) <= 16  # at most the sends in flight (max_parallel_sends)
    assert counts.get("pending", 0) == 0
    # a message the platform got just before the kill is logged but still marked abandoned
    abandoned = counts.get("abandoned", 0)
    assert counts["delivered"] <= len(delivered) <= counts["delivered"] + abandoned
    assert f"abandoned {counts.get('abandoned', 0)}" in out


def _rows(subs: Subscriptions, table: str) -> int:
    with subs.store.locked() as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_daily_housekeeping_forgets_old_keys_and_candles_but_never_repeats() -> None:
    clock = FakeClock()
    scheduler, subs, outlet = setup(clock)
    subs.subscribe("telegram", "1", BTC, ["imbalance"])
    await scheduler.run_once()
    assert len(outlet.sent) == 1
    assert _rows(subs, "sent_alerts") == 1
    stored = _rows(subs, "candles")
    assert stored > 0
    clock.now += 12 * 3_600_000
    await scheduler.run_once()  # within a day of the last housekeeping: nothing pruned
    assert _rows(subs, "sent_alerts") == 1
    clock.now += 31 * 86_400_000
    await scheduler.run_once()
    assert _rows(subs, "sent_alerts") == 0  # past its retention
    cutoff = clock.now - 31 * 86_400_000  # the longest range (30d) plus a day
    with subs.store.locked() as conn:
        oldest = conn.execute("SELECT min(ts) FROM candles").fetchone()[0]
    assert _rows(subs, "candles") < stored
    assert oldest is None or oldest >= cutoff
    assert len(outlet.sent) == 1  # the rule's own state still holds the alert back


# --- several venues: one alert per symbol, on the aggregated market ---------------------------


async def test_the_scheduler_refreshes_the_order_book_and_prints_too() -> None:
    """The cascade walks the stored book and the prints rule reads stored prints: a cycle
    must bring both up to date, not only the candles."""
    clock = FakeClock()
    scheduler, subs, _ = setup(clock)
    subs.subscribe("telegram", "1", BTC, ["imbalance"])
    await scheduler.run_once()
    store = subs.store
    book = store.load_book("sim", BTC)
    assert book is not None
    assert len(book.bid_prices) > 0
    assert len(store.load_prints("sim", BTC)) > 0
