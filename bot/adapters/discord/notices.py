"""Admin-channel notices about channels the bot cannot post to, without the spam.

One refused channel can fail every alert rule of a cycle, every cycle: the admin hears of
each (channel, cause) once per cooldown (default one hour), and the log keeps every one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["DEFAULT_NOTICE_COOLDOWN_S", "Notices"]

DEFAULT_NOTICE_COOLDOWN_S = 3600.0
_MAX_KEPT = 1024


class Notices:
    """Remembers when each (channel, cause) was last reported."""

    def __init__(
        self,
        cooldown_s: float = DEFAULT_NOTICE_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}

    def due(self, chat_id: str, cause: str) -> bool:
        """Whether to report ``cause`` for ``chat_id`` now (and, if so, note that it was)."""
        now = self._clock()
        key = (chat_id, cause)
        last = self._last.get(key)
        if last is not None and now - last < self.cooldown_s:
            return False
        if len(self._last) >= _MAX_KEPT:  # bounded: forget the oldest
            del self._last[min(self._last, key=self._last.__getitem__)]
        self._last[key] = now
        return True
