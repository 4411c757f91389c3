"""The interaction rules of the fake Discord: the initial response within 3 s, once, of a
type the interaction allows; follow-ups, edits and deletes only after it and for 15 minutes.
A refusal is answered as Discord answers it (404 Unknown interaction 10062, 404 Unknown
Webhook 10015, 400 already acknowledged 40060).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.fake_discord_rules import Problem, form_error

__all__ = ["INITIAL_RESPONSE_S", "TOKEN_LIFETIME_S", "Interaction", "Interactions", "Refusal"]

#: the initial response must arrive within 3 s of the interaction; the token then serves
#: follow-ups, edits and deletes for 15 minutes
INITIAL_RESPONSE_S = 3.0
TOKEN_LIFETIME_S = 15 * 60.0
#: callback types allowed per interaction type (2 command, 3 component, 4 autocomplete)
_CALLBACK_TYPES = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}}


@dataclass
class Interaction:
    """One dispatched interaction, as the fake tracks it."""

    id: str
    token: str
    kind: int
    created: float
    acknowledged: float | None = None


class Refusal(Exception):
    """Discord refuses the request: answer ``status`` with ``body``."""

    def __init__(self, status: int, body: dict[str, Any], code: str) -> None:
        super().__init__(body.get("message", code))
        self.status = status
        self.body = body
        self.code = code


def _unknown(code: int, message: str) -> Refusal:
    return Refusal(404, {"code": code, "message": message}, message)


class Interactions:
    """The initial-response and follow-up rules, per interaction token."""

    def __init__(self) -> None:
        self.by_token: dict[str, Interaction] = {}

    def add(self, interaction_id: str, token: str, kind: int, now: float) -> None:
        self.by_token[token] = Interaction(interaction_id, token, kind, now)

    def callback(self, interaction_id: str, token: str, body: Any, now: float) -> None:
        """An initial response: in time, once, of a type the interaction allows."""
        found = self.by_token.get(token)
        if found is None or found.id != interaction_id:
            raise _unknown(10062, "Unknown interaction")
        if found.acknowledged is not None:
            raise Refusal(
                400,
                {"code": 40060, "message": "Interaction has already been acknowledged."},
                "already acknowledged",
            )
        if now - found.created > INITIAL_RESPONSE_S:
            raise _unknown(10062, "Unknown interaction")  # Discord: too late, it is gone
        kind = (body or {}).get("type")
        if kind not in _CALLBACK_TYPES.get(found.kind, set()):
            problem = Problem(
                ("type",),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {sorted(_CALLBACK_TYPES.get(found.kind, set()))}.",
            )
            raise Refusal(400, form_error([problem]), problem.code)
        found.acknowledged = now

    def webhook(self, token: str, now: float) -> bool:
        """A follow-up / edit / delete under ``token``: ``False`` when it is not an
        interaction token (a real webhook); refused before the initial response or
        after 15 minutes."""
        found = self.by_token.get(token)
        if found is None:
            return False
        if found.acknowledged is None or now - found.created > TOKEN_LIFETIME_S:
            raise _unknown(10015, "Unknown Webhook")
        return True
