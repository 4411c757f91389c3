"""Per-user flood throttling for chat commands: a token bucket per (platform, user).

Every command a user runs takes one token from their bucket; the bucket holds at most
``capacity`` tokens and regains one every ``refill_seconds``. With the defaults (8, 3 s) a
user may fire eight commands in a burst and then one every three seconds — far above what
a person reading charts needs, far below what a script can send.

A refused command is answered **at most once per** ``notice_seconds`` (default 30 s) with a
short "slow down" message naming when to try again; every other refused line is dropped
silently (``Commands.run`` returns ``None``), so a flooder cannot turn the bot into a second
flooder. Refused lines take no token: a user who stops is served again as soon as the bucket
has a token.

**Admins are not exempt.** ``CallContext.is_admin`` is also true for the administrator of
any Telegram group — and anyone can create a group and add the bot — so an exemption would
be a free pass. Instead a caller marked admin gets a bucket ``admin_factor`` times larger
that refills ``admin_factor`` times faster (defaults: 32 commands, one every 0.75 s), which
no human operator reaches. The bucket is per user: limits are those of the current call.

Memory is bounded: at most ``max_users`` buckets are kept, least recently used first out.
An evicted user starts again with a full bucket — a user idle long enough to be evicted
would have refilled anyway, and a crowd of fresh accounts each has its own bucket regardless.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_CAPACITY", "DEFAULT_REFILL_SECONDS", "Throttle", "ThrottleDecision"]

DEFAULT_CAPACITY: Final = 8
DEFAULT_REFILL_SECONDS: Final = 3.0
DEFAULT_ADMIN_FACTOR: Final = 4.0
DEFAULT_NOTICE_SECONDS: Final = 30.0
DEFAULT_MAX_USERS: Final = 10_000


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    """Whether one command may run; when not, whether to tell the user and when to retry."""

    allowed: bool
    #: refused, and this is the one refusal per notice period the user is told about
    notify: bool = False
    #: seconds until the next command will be accepted (0 when allowed)
    retry_after: float = 0.0

    @property
    def message(self) -> str:
        """``Slow down — too many commands. Try again in 3 s.`` (whole seconds, at least 1)."""
        seconds = max(1, math.ceil(self.retry_after))
        return f"Slow down — too many commands. Try again in {seconds} s."


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    #: no further notice before this time (clock seconds)
    quiet_until: float = -math.inf


class Throttle:
    """Token buckets per (platform, user); see the module docstring for the policy."""

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        refill_seconds: float = DEFAULT_REFILL_SECONDS,
        admin_factor: float = DEFAULT_ADMIN_FACTOR,
        notice_seconds: float = DEFAULT_NOTICE_SECONDS,
        max_users: int = DEFAULT_MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError("throttle capacity must be at least 1 command")
        if not refill_seconds > 0 or not notice_seconds >= 0:
            raise ValueError("throttle refill_seconds must be > 0 and notice_seconds >= 0")
        if not admin_factor >= 1:
            raise ValueError("throttle admin_factor must be at least 1")
        if max_users < 1:
            raise ValueError("throttle max_users must be at least 1")
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self.admin_factor = admin_factor
        self.notice_seconds = notice_seconds
        self.max_users = max_users
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def __len__(self) -> int:
        """How many users' buckets are held."""
        return len(self._buckets)

    def limits(self, *, is_admin: bool = False) -> tuple[float, float]:
        """(capacity in commands, seconds per regained token) for a caller."""
        if is_admin:
            return self.capacity * self.admin_factor, self.refill_seconds / self.admin_factor
        return float(self.capacity), self.refill_seconds

    def check(self, platform: str, user_id: str, *, is_admin: bool = False) -> ThrottleDecision:
        """Take a token for one command of ``user_id`` on ``platform``, if there is one."""
        now = self.clock()
        capacity, refill = self.limits(is_admin=is_admin)
        key = (platform, user_id)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=capacity, updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_users:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)  # a clock that steps back refills nothing
            bucket.tokens = min(capacity, bucket.tokens + elapsed / refill)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return ThrottleDecision(allowed=True)
        retry_after = (1.0 - bucket.tokens) * refill
        if now < bucket.quiet_until:
            return ThrottleDecision(allowed=False, retry_after=retry_after)
        bucket.quiet_until = now + max(self.notice_seconds, retry_after)
        return ThrottleDecision(allowed=False, notify=True, retry_after=retry_after)
