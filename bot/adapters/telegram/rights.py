"""Who may run admin commands in a Telegram chat: the caller's rights, looked up on demand.

A configured admin id is an admin everywhere. In a group, the rights of the caller of an
``admin`` or ``group_admin`` command are looked up with ``getChatMember`` — only then, one
call per such command. The lookup is retried briefly on what is known not to have been
answered (a 5xx, a 429 with a short ``retry_after``, a connect error: :data:`LOOKUP_POLICY`);
when it still fails the answer is *unknown*, not "no": the command then tells the caller
that their rights could not be checked and to try again (``CallContext.rights_unknown``),
rather than that only admins may do this.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from telegram import Bot, Chat, User
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.adapters.telegram.errors import judge
from bot.notify.retry import RetryBudget, RetryPolicy

__all__ = ["LOOKUP_POLICY", "CommandSpecLike", "Rights", "SpecLookup", "command_name", "rights"]

log = logging.getLogger("bot.adapters.telegram.adapter")

#: a getChatMember lookup: a few seconds (someone is waiting for the answer); a read timeout
#: may be repeated once — a lookup changes nothing
LOOKUP_POLICY: Final = RetryPolicy(5.0, unconfirmed_retries=1)


class CommandSpecLike(Protocol):
    """What the adapter reads from a command's spec: who may run it in a group."""

    @property
    def admin(self) -> bool: ...

    @property
    def group_admin(self) -> bool: ...


SpecLookup = Callable[[str], CommandSpecLike | None]


@dataclass(frozen=True, slots=True)
class Rights:
    """The caller is an admin here; ``unknown``: the lookup failed (then ``is_admin`` is False)."""

    is_admin: bool = False
    unknown: bool = False


def command_name(line: str) -> tuple[str, str | None]:
    """``("heatmap", "otherbot")`` for ``/heatmap@otherbot BTC``."""
    head = line.strip().split(maxsplit=1)[0] if line.strip() else ""
    name, _, addressee = head.lstrip("/").partition("@")
    return name.lower(), (addressee or None)


async def rights(
    bot: Bot,
    chat: Chat,
    user: User | None,
    line: str,
    *,
    is_group: bool,
    admin_ids: frozenset[str],
    bot_username: str | None,
    spec_of: SpecLookup,
    sleep: Callable[[float], Awaitable[object]],
    clock: Callable[[], float],
) -> Rights:
    """Configured admin; or, for an admin or group-admin command in a group, a chat
    administrator (see the module docstring)."""
    if user is None:
        return Rights()
    if str(user.id) in admin_ids:
        return Rights(is_admin=True)
    name, addressee = command_name(line)
    if not is_group or (addressee and addressee.lower() != (bot_username or "").lower()):
        return Rights()
    spec = spec_of(name)
    if spec is None or not (spec.admin or spec.group_admin):
        return Rights()
    lookup = RetryBudget(
        LOOKUP_POLICY,
        judge,
        sleep=sleep,
        clock=clock,
        what=f"getChatMember in Telegram chat {chat.id}",
        platform="telegram",
        chat_id=str(chat.id),
        kind="lookup",
    )
    try:
        member = await lookup(lambda: bot.get_chat_member(chat.id, user.id))
    except TelegramError as exc:
        log.warning("getChatMember failed in chat %s: %s: rights unknown", chat.id, exc)
        return Rights(unknown=True)
    return Rights(
        is_admin=member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
    )
