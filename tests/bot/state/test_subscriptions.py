"""Subscriptions, settings, rule state, cooldowns and sent-alert keys in SQLite."""

from __future__ import annotations

from pathlib import Path

from bot.state.records import AlertEvent, RuleState
from bot.state.store import Store
from bot.state.subscriptions import MAX_ATTEMPTS, ChatSetting, Subscription, Subscriptions

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
HOUR = 3_600_000


def event(transition: int = 1_000, rule: str = "imbalance", symbol: str = BTC) -> AlertEvent:
    return AlertEvent(rule, symbol, "binanceusdm", transition, 90_000.0, "card", {"ratio": 6.0})


def test_subscriptions_survive_reopening_the_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with Store(path) as store:
        subs = Subscriptions(store)
        assert subs.subscribe("telegram", "-1", BTC, ["imbalance", "cluster"]) == 2
        assert subs.subscribe("telegram", "-1", BTC, ["imbalance"]) == 0  # already there
        subs.subscribe("discord", "42", ETH, ["oi"])
        subs.set_setting("telegram", "-1", "imbalance", "silent", 8.0)
        subs.save_state("telegram", "-1", "imbalance", "okx", BTC, RuleState(False, 77))
    with Store(path) as store:
        subs = Subscriptions(store)
        assert subs.for_chat("telegram", "-1") == [
            Subscription("telegram", "-1", BTC, "cluster"),
            Subscription("telegram", "-1", BTC, "imbalance"),
        ]
        assert subs.symbols() == [BTC, ETH]
        assert subs.setting("telegram", "-1", "imbalance") == ChatSetting(
            "imbalance", "silent", 8.0
        )
        assert subs.rule_state("telegram", "-1", "imbalance", "okx", BTC) == RuleState(False, 77)
        assert subs.rule_state("telegram", "-1", "imbalance", "bybit", BTC) == RuleState()


def test_unsubscribe_by_rule_symbol_or_everything() -> None:
    with Store(":memory:") as store:
        subs = Subscriptions(store)
        subs.subscribe("telegram", "1", BTC, ["imbalance", "cluster", "oi"])
        subs.subscribe("telegram", "1", ETH, ["imbalance"])
        assert subs.unsubscribe("telegram", "1", BTC, "oi") == 1
        assert subs.unsubscribe("telegram", "1", BTC) == 2
        assert [s.symbol for s in subs.for_chat("telegram", "1")] == [ETH]
        assert subs.unsubscribe("telegram", "1") == 1
        assert subs.for_chat("telegram", "1") == []


def test_off_setting_hides_the_chat_from_subscribers_and_keeps_the_threshold() -> None:
    with Store(":memory:") as store:
        subs = Subscriptions(store)
        subs.subscribe("telegram", "1", BTC, ["imbalance"])
        subs.subscribe("telegram", "2", BTC, ["imbalance"])
        subs.set_setting("telegram", "1", "imbalance", "on", 7.0)
        subs.set_setting("telegram", "1", "imbalance", "off")
        assert [s.chat_id for s in subs.subscribers(BTC, "imbalance")] == ["2"]
        assert subs.setting("telegram", "1", "imbalance") == ChatSetting("imbalance", "off", 7.0)
        subs.set_setting("telegram", "1", "imbalance", "silent")
        assert [s.chat_id for s in subs.subscribers(BTC, "imbalance")] == ["1", "2"]


def test_move_chat_carries_everything_and_drop_chat_forgets_it() -> None:
    with Store(":memory:") as store:
        subs = Subscriptions(store)
        subs.subscribe("telegram", "-5", BTC, ["imbalance"])
        subs.set_setting("telegram", "-5", "imbalance", "silent")
        subs.record_thread("telegram", "-5", BTC, 123, "BTC structure")
        subs.move_chat("telegram", "-5", "-1005")
        assert subs.for_chat("telegram", "-5") == []
        assert subs.for_chat("telegram", "-1005") == [
            Subscription("telegram", "-1005", BTC, "imbalance")
        ]
        assert subs.setting("telegram", "-1005", "imbalance").mode == "silent"
        assert subs.last_thread("telegram", "-1005", BTC) == 123
        key = subs.claim("telegram", "-1005", event(), RuleState(False, 1), now=0, cooldown_ms=HOUR)
        assert key is not None
        assert subs.drop_chat("telegram", "-1005") == 1
        assert subs.for_chat("telegram", "-1005") == []
        assert subs.settings("telegram", "-1005") == {}
        assert subs.last_thread("telegram", "-1005", BTC) is None
        assert subs.alert_counts() == {"failed": 1}  # its in-flight alert will not be retried


def test_claim_is_once_per_key_and_respects_the_cooldown() -> None:
    with Store(":memory:") as store:
        subs = Subscriptions(store)
        fired = RuleState(False, 1_000)
        first = subs.claim("telegram", "1", event(1_000), fired, now=0, cooldown_ms=HOUR)
        assert first == event(1_000).key("telegram", "1")
        # the same transition again (e.g. re-evaluated after a restart): never a second send
        assert (
            subs.claim("telegram", "1", event(1_000), fired, now=2 * HOUR, cooldown_ms=HOUR) is None
        )
        # a new transition inside the cooldown is swallowed, but the state is stored
        later = RuleState(False, 2_000)
        assert (
            subs.claim("telegram", "1", event(2_000), later, now=HOUR - 1, cooldown_ms=HOUR) is None
        )
        assert subs.rule_state("telegram", "1", "imbalance", "binanceusdm", BTC) == later
        # other chats and other rules have their own cooldown
        assert subs.claim("telegram", "2", event(2_000), later, now=1, cooldown_ms=HOUR)
        assert subs.claim("telegram", "1", event(2_000, "oi"), later, now=1, cooldown_ms=HOUR)
        # after the cooldown a new transition goes out
        assert subs.claim("telegram", "1", event(3_000), later, now=HOUR, cooldown_ms=HOUR)
        assert subs.alert_counts() == {"queued": 4}


def test_pending_alerts_are_abandoned_at_startup_and_refused_ones_retried(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with Store(path) as store:
        subs = Subscriptions(store)
        in_flight = subs.claim("telegram", "1", event(1), RuleState(False, 1), now=0, cooldown_ms=0)
        refused = subs.claim("telegram", "2", event(1), RuleState(False, 1), now=0, cooldown_ms=0)
        done = subs.claim("telegram", "3", event(1), RuleState(False, 1), now=0, cooldown_ms=0)
        assert in_flight and refused and done
        subs.mark(in_flight, "pending", now=1)  # handed to the platform
        subs.mark(refused, "retry", now=1, error="503")
        subs.mark(done, "delivered", now=1)
    with Store(path) as store:  # the process died with `in_flight` pending
        subs = Subscriptions(store)
        assert subs.abandon_pending(now=5) == 1
        retries = subs.take_retries(now=6)
        assert [(r.key, r.chat_id, r.attempts, r.event) for r in retries] == [
            (refused, "2", 2, event(1))
        ]
        assert subs.alert_counts() == {"abandoned": 1, "queued": 1, "delivered": 1}
        for attempt in range(3, MAX_ATTEMPTS + 2):
            subs.mark(refused, "retry", now=attempt)
            retries = subs.take_retries(now=attempt)
            assert len(retries) == (1 if attempt <= MAX_ATTEMPTS else 0)
        assert subs.alert_counts()["failed"] == 1
        assert subs.prune_alerts(before=10) == 3


def test_queued_alerts_never_handed_over_are_retried_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with Store(path) as store:
        subs = Subscriptions(store)
        sent = subs.claim("telegram", "1", event(1), RuleState(False, 1), now=0, cooldown_ms=0)
        waiting = subs.claim("telegram", "1", event(2), RuleState(False, 2), now=0, cooldown_ms=0)
        assert sent and waiting
        subs.mark(sent, "pending", now=1)  # in flight at the crash; `waiting` behind it
    with Store(path) as store:
        subs = Subscriptions(store)
        assert subs.abandon_pending(now=5) == 1
        assert [r.key for r in subs.take_retries(now=6)] == [waiting]
        assert subs.alert_counts() == {"abandoned": 1, "queued": 1}


def test_refused_alerts_older_than_the_deadline_fail_and_problems_are_counted(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "bot.sqlite3") as store:
        subs = Subscriptions(store)
        old = subs.claim("telegram", "1", event(1), RuleState(False, 1), now=0, cooldown_ms=0)
        new = subs.claim("telegram", "2", event(1), RuleState(False, 1), now=900, cooldown_ms=0)
        lost = subs.claim("telegram", "3", event(1), RuleState(False, 1), now=900, cooldown_ms=0)
        assert old and new and lost
        subs.mark(old, "retry", now=1, error="429")
        subs.mark(new, "retry", now=901, error="429")
        subs.mark(lost, "unconfirmed", now=901, error="timed out")
        assert [r.key for r in subs.take_retries(now=1_000, max_age_ms=500)] == [new]
        assert subs.delivery_problems(since=0) == {"failed": 1, "unconfirmed": 1}
        assert subs.delivery_problems(since=500) == {"unconfirmed": 1}
