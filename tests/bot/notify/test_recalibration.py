"""The recalibration in ``liqwatch run``: admin notices through the outlets, the hook on the
scheduler, and adopted settings put back on the running engine at start-up."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from bot.analysis.engine import CoreEngine
from bot.analysis.params import analysis_params, engine_params
from bot.analysis.recalibrate import META_ADOPTED, Recalibrator
from bot.analysis.service import MarketService
from bot.config.settings import Settings
from bot.market.sim_source import SimSource
from bot.notify.admin import AdminNotices
from bot.notify.outlets import ChatGone
from bot.notify.recalibration import attach_recalibration
from bot.reply import Platform, Reply
from bot.state.store import Store
from core.calibrate import describe


class Outlet:
    def __init__(self, platform: Platform, fail: set[str] | None = None) -> None:
        self._platform: Platform = platform
        self.fail = fail or set()
        self.sent: list[tuple[str, str]] = []

    @property
    def platform(self) -> Platform:
        return self._platform

    async def send(self, chat_id: str, reply: Reply) -> None:
        if chat_id in self.fail:
            raise ChatGone(chat_id, "blocked")
        self.sent.append((chat_id, reply.template))

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        raise AssertionError("no threads here")


async def test_admin_notices_reach_every_admin_and_a_failure_stops_no_one() -> None:
    telegram, discord = Outlet("telegram", fail={"11"}), Outlet("discord")
    notices = AdminNotices([telegram, discord], telegram_admins=(11, 12), discord_channel=99)
    await notices(Reply("recalibrate", {}))
    assert telegram.sent == [("12", "recalibrate")] and discord.sent == [("99", "recalibrate")]
    only_telegram = AdminNotices([telegram], telegram_admins=(12,), discord_channel=99)
    await only_telegram(Reply("recalibrate", {}))  # no Discord outlet enabled: skipped
    assert len(telegram.sent) == 2


def settings(mode: str, **model: Any) -> Settings:
    return Settings.model_validate(
        {"model": {"recalibrate": mode, **model}, "telegram": {"admin_ids": [5]}}
    )


def service_for(store: Store, s: Settings) -> MarketService:
    engine = CoreEngine(analysis_params(s.model, synthetic=True))
    return MarketService({"sim": SimSource(candles=100)}, store, engine=engine)


def test_off_attaches_nothing() -> None:
    with Store(":memory:") as store:
        s = settings("off")
        scheduler = SimpleNamespace(on_cycle=[])
        found = attach_recalibration(s, service_for(store, s), store, scheduler, [])  # type: ignore[arg-type]
        assert found is None and scheduler.on_cycle == []


def test_auto_puts_the_adopted_settings_back_on_the_engine_unless_model_was_edited() -> None:
    with Store(":memory:") as store:
        s = settings("auto")
        config = engine_params(s.model, synthetic=True)
        adopted = dataclasses.replace(config, half_life_hours=72.0, entry="typical")
        doc = {"config": describe(config), "params": describe(adopted)}
        store.set_meta(META_ADOPTED, json.dumps(doc))
        service = service_for(store, s)
        scheduler = SimpleNamespace(on_cycle=[])
        found = attach_recalibration(s, service, store, scheduler, [Outlet("telegram")])  # type: ignore[arg-type]
        assert isinstance(found, Recalibrator) and scheduler.on_cycle == [found]
        assert service.engine.params.engine == adopted  # type: ignore[attr-defined]
        assert found.current() == adopted
        found.adopt(config)
        assert service.engine.params.engine == config  # type: ignore[attr-defined]
        # the same store, a [model] edited since: the config wins
        edited = settings("auto", side_lean=0.5)
        service = service_for(store, edited)
        attach_recalibration(edited, service, store, SimpleNamespace(on_cycle=[]), [])  # type: ignore[arg-type]
        assert service.engine.params.engine == engine_params(edited.model, synthetic=True)  # type: ignore[attr-defined]
        # suggest never applies what auto adopted
        service = service_for(store, s := settings("suggest"))
        attach_recalibration(s, service, store, SimpleNamespace(on_cycle=[]), [])  # type: ignore[arg-type]
        assert service.engine.params.engine == config  # type: ignore[attr-defined]
