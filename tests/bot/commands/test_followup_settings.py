"""/settings followups on|silent|off: the per-chat switch of "what happened next" replies."""

from __future__ import annotations

from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.commands.registry import Commands
from bot.config.settings import AlertSettings
from bot.reply import CallContext, Reply
from bot.reply.text import render_reply
from bot.state.followups import FOLLOWUP_SETTING
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from core.charts.format import human_duration
from tests.fakes.market_service import FakeEngine, FakeSource

PRIVATE = CallContext("telegram", "100", "100")
GROUP_MEMBER = CallContext("telegram", "-5", "7", is_group=True)
DEFAULTS = AlertSettings.model_validate({"followup_horizon": "12h"})


def build() -> tuple[Commands, Subscriptions]:
    store = Store(":memory:")
    service = MarketService(
        {"binanceusdm": FakeSource("binanceusdm")}, store, engine=FakeEngine(render_seconds=0)
    )
    subs = Subscriptions(store)
    return build_commands(service, subscriptions=subs, alert_defaults=DEFAULTS), subs


def text(reply: Reply | None) -> str:
    assert reply is not None
    return render_reply(reply, "console")


async def test_followups_default_on_and_turned_off_and_silent_per_chat() -> None:
    commands, subs = build()
    body = text(await commands.run("/settings", PRIVATE))
    horizon = human_duration(DEFAULTS.followup_horizon)
    assert "followups: on — a reply under each cluster alert" in body
    assert f'"not reached" after {horizon}' in body and "/settings followups off" in body
    body = text(await commands.run("/settings followups off", PRIVATE))
    assert "Updated followups." in body and "followups: off" in body
    assert subs.setting("telegram", "100", FOLLOWUP_SETTING).mode == "off"
    await commands.run("/settings followups silent", PRIVATE)
    assert subs.setting("telegram", "100", FOLLOWUP_SETTING).mode == "silent"
    assert subs.setting("telegram", "other", FOLLOWUP_SETTING).mode == "on"


async def test_followups_take_no_threshold_and_group_members_cannot_change_them() -> None:
    commands, subs = build()
    reply = await commands.run("/settings followups on 5", PRIVATE)
    assert (
        reply is not None and reply.is_error and "followups takes on, silent or off" in text(reply)
    )
    reply = await commands.run("/settings followups off", GROUP_MEMBER)
    assert reply is not None and reply.is_error
    assert subs.setting("telegram", "-5", FOLLOWUP_SETTING).mode == "on"
