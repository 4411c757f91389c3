"""Notices to the bot's admins through the outlets: each Telegram ``admin_ids`` user (a
private chat with the bot) and the Discord ``admin_channel_id``.

Best effort: a notice that cannot be delivered is logged, never retried and never raised —
admins also read the log. (Alerts go through :mod:`bot.notify.dispatch` instead.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from bot.notify.outlets import DeliveryError, Outlet
from bot.reply import Reply

__all__ = ["AdminNotices"]

log = logging.getLogger(__name__)


class AdminNotices:
    """``await notices(reply)`` sends ``reply`` to every admin target an outlet is enabled for."""

    def __init__(
        self,
        outlets: Iterable[Outlet],
        *,
        telegram_admins: Sequence[int | str] = (),
        discord_channel: int | str | None = None,
    ) -> None:
        self.outlets: dict[str, Outlet] = {o.platform: o for o in outlets}
        self.targets: list[tuple[str, str]] = [("telegram", str(a)) for a in telegram_admins]
        if discord_channel is not None:
            self.targets.append(("discord", str(discord_channel)))

    async def __call__(self, reply: Reply) -> None:
        for platform, chat_id in self.targets:
            outlet = self.outlets.get(platform)
            if outlet is None:
                continue
            try:
                await outlet.send(chat_id, reply)
            except DeliveryError as exc:
                log.warning("admin notice to %s %s not delivered: %s", platform, chat_id, exc)
            except Exception:  # a notice must never take the caller down
                log.exception("admin notice to %s %s failed", platform, chat_id)
