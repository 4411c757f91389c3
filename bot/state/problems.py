"""Alerts that were not delivered, read from ``sent_alerts`` for ``/status``.

The counts per status are :meth:`bot.state.subscriptions.Subscriptions.delivery_problems`;
this adds the most recent one — when, where, what became of it and why — so ``/status`` can
name it (the delivery table: docs/delivery.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from bot.state.store import Store

__all__ = ["PROBLEM_STATUSES", "AlertProblem", "last_alert_problem"]

#: the statuses of an alert that did not (or not yet) reach its chat
PROBLEM_STATUSES: Final = ("unconfirmed", "failed", "abandoned", "retry")


@dataclass(frozen=True, slots=True)
class AlertProblem:
    """The last undelivered alert: its status, when that was recorded (Unix ms, the
    scheduler's clock), where it was going, and the error."""

    status: str
    at: int
    platform: str
    chat_id: str
    error: str


def last_alert_problem(store: Store, since: int) -> AlertProblem | None:
    """The undelivered alert claimed since ``since`` whose status changed last, or None."""
    marks = ", ".join("?" * len(PROBLEM_STATUSES))
    with store.locked() as conn:
        row = conn.execute(
            "SELECT status, updated_at, platform, chat_id, coalesce(error, '') FROM sent_alerts "
            f"WHERE created_at >= ? AND status IN ({marks}) "
            "ORDER BY updated_at DESC LIMIT 1",
            (since, *PROBLEM_STATUSES),
        ).fetchone()
    if row is None:
        return None
    status, at, platform, chat_id, error = row
    return AlertProblem(str(status), int(at), str(platform), str(chat_id), str(error))
