"""The notice for a chat whose alerts were removed while the bot could not reach it.

A chat that blocked or removed the bot loses its subscriptions (the platform answers 403:
:meth:`~bot.state.subscriptions.Subscriptions.drop_chat`), and what it had is kept
(:mod:`bot.state.gone`). When anyone runs a command in that chat again — ``/alerts``,
``/subscribe``, anything — the reply begins with this notice, once: that the alerts were
removed, when and why, and the commands that restore them (``/subscribe BTC``, one line per
market, or per rule when only some were chosen, then ``/settings`` for the rules whose mode
or threshold was changed). It is a :data:`~bot.commands.registry.NoticeSource` for
:class:`~bot.commands.registry.Commands`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bot.commands.alert_cmds import typed_threshold
from bot.notify.alerts import RULE_NAMES
from bot.reply import CallContext, Reply
from bot.state.followups import FOLLOWUP_SETTING
from bot.state.gone import GoneChat, GoneChats
from core.charts.format import market_name

__all__ = ["Comeback", "restore_lines"]


def restore_lines(gone: GoneChat) -> list[str]:
    """The command lines that give the chat back what it had (see the module docstring)."""
    by_symbol: dict[str, list[str]] = {}
    for symbol, rule in gone.subscriptions:
        by_symbol.setdefault(symbol, []).append(rule)
    lines: list[str] = []
    for symbol, rules in by_symbol.items():
        name = market_name(symbol)
        if set(RULE_NAMES) <= set(rules):
            lines.append(f"/subscribe {name}")
        else:
            lines += [f"/subscribe {name} {rule}" for rule in RULE_NAMES if rule in rules]
    for rule, mode, threshold in gone.settings:
        if mode == "on" and threshold is None:
            continue  # the default: nothing to restore
        if rule == FOLLOWUP_SETTING:  # a mode without a threshold
            lines.append(f"/settings {rule} {mode}")
        elif rule in RULE_NAMES:  # a rule no longer offered is left out
            value = "" if threshold is None else f" {typed_threshold(rule, threshold)}"
            lines.append(f"/settings {rule} {mode}{value}")
    return lines


class Comeback:
    """Takes the chat's record, if any, and turns it into the notice (shown once)."""

    def __init__(self, gone: GoneChats, *, wall: Callable[[], float] = time.time) -> None:
        self.gone = gone
        self._wall = wall

    async def __call__(self, ctx: CallContext) -> Reply | None:
        record = await asyncio.to_thread(self.gone.take, ctx.platform, ctx.chat_id)
        if record is None:
            return None
        context: dict[str, Any] = {
            "age_ms": max(0, int(self._wall() * 1000) - record.dropped_at),
            "reason": record.reason,
            "count": len(record.subscriptions),
            "lines": restore_lines(record),
        }
        return Reply("comeback", context)
