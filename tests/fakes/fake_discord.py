"""A loopback Discord (REST v10 + gateway) that the real discord.py client talks to.

The REST side answers the routes the bot uses — login, command sync, interaction
callbacks and follow-ups, channel messages, threads, webhooks — and records every call
(JSON body, or ``payload_json`` plus the uploaded files of a multipart body). The gateway
side speaks the real protocol with JSON text frames (discord.py asks for ``compress=…``
in the URL but only decompresses *binary* frames, so plain text frames are accepted):
HELLO → IDENTIFY → READY, heartbeat ACKs, and injected ``INTERACTION_CREATE`` events.
Connection loss is scriptable: :meth:`FakeDiscord.drop_gateway` closes every socket with a
close code, a RESUME (op 6) is answered with ``RESUMED`` — or with INVALID_SESSION (op 9,
"not resumable") when ``resumable`` is off, so the client IDENTIFYs afresh — and
:meth:`FakeDiscord.silence_gateway` plays a half-open link: the open sockets get no more
heartbeat ACKs or events (a new connection is served normally).

Strict like Discord: every bot route wants ``Authorization: Bot <token>`` (else 401, and
an IDENTIFY or RESUME with another token is closed with 4004); message bodies, command
registrations and interaction timing are checked against Discord's documented rules
(:mod:`tests.fakes.fake_discord_rules`). A refused request is answered as Discord answers it
(400 / 50035 with an ``errors`` object, 404 Unknown interaction / Unknown Webhook, 40060) *and*
recorded in :attr:`FakeDiscord.violations`; leaving the ``async with`` block with violations
left fails the test (take the expected ones with :meth:`FakeDiscord.take_violations`).
:meth:`FakeDiscord.revoke` plays a token reset in the developer portal.

Known traps kept faithfully: JSON answers carry ``Content-Type: application/json`` exactly
(discord.py's ``json_or_text`` compares the whole header); a 429 is only honoured by
discord.py when the answer has a ``Via`` header, so injected 429s carry one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import BodyPartReader, web

from tests.fakes.fake_discord_gateway import FakeGateway
from tests.fakes.fake_discord_interactions import Interactions, Refusal
from tests.fakes.fake_discord_payloads import (
    APP_ID,
    GUILD_ID,
    Fault,
    application_payload,
    bot_user,
    forbidden,
    interaction_payload,
    message_payload,
    rate_limited,
    thread_payload,
    unauthorized,
    unknown_channel,
)
from tests.fakes.fake_discord_rules import (
    Problem,
    Violation,
    check_commands,
    check_message,
    form_error,
)

__all__ = [
    "APP_ID",
    "Call",
    "FakeDiscord",
    "Fault",
    "Violation",
    "forbidden",
    "rate_limited",
    "unknown_channel",
]


@dataclass
class Call:
    """One REST request as received: route pattern name, path, JSON (or ``payload_json``)."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    json: Any
    files: dict[str, bytes] = field(default_factory=dict)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # built by hand: json_response would add "; charset=utf-8", which discord.py rejects
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


#: routes called without the bot token (interaction webhooks, webhooks, the gateway URL)
_NO_AUTH = frozenset({"gateway", "callback", "webhook", "edit_original", "delete_original"})
#: routes whose body is a message (checked by ``check_message``)
_MESSAGE_ROUTES = frozenset({"webhook", "edit_original", "message"})

_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", r"/users/@me", "me"),
    ("GET", r"/gateway", "gateway"),
    ("GET", r"/gateway/bot", "gateway_bot"),
    ("GET", r"/oauth2/applications/@me", "application"),
    ("PUT", r"/applications/(?P<app>\d+)/commands", "sync"),
    ("POST", r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback", "callback"),
    ("POST", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)", "webhook"),
    ("PATCH", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/@original", "edit_original"),
    ("DELETE", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/@original", "delete_original"),
    ("POST", r"/channels/(?P<channel>\d+)/messages", "message"),
    ("POST", r"/channels/(?P<channel>\d+)/messages/(?P<mid>\d+)/threads", "thread"),
    ("GET", r"/channels/(?P<channel>\d+)", "channel"),
)


class FakeDiscord(FakeGateway):
    """Discord on 127.0.0.1: ``api_base_url`` for ``Route.BASE``, ``gateway_url`` for the WS."""

    def __init__(
        self,
        token: str,
        *,
        heartbeat_interval_ms: int = 41250,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.revoked = False
        #: seconds, for the 3 s / 15 min interaction rules (a test may move it on)
        self.clock = clock
        self.calls: list[Call] = []
        #: every request refused because real Discord would refuse it
        self.violations: list[Violation] = []
        self.interactions = Interactions()
        self.faults: dict[str, list[Fault]] = {}
        self.synced: list[dict[str, Any]] = []
        #: id → channel id of every message posted to a channel (what a reply may reference)
        self.posted: dict[str, str] = {}
        self._ids = itertools.count(1200000000000000000)
        self._init_gateway()
        self._new_call = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/gateway-ws/", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if exc_type is None and self.violations:
            listed = "\n  ".join(str(v) for v in self.violations)
            raise AssertionError(f"real Discord would have refused:\n  {listed}")

    def take_violations(self) -> list[Violation]:
        """The violations so far (expected by the test), cleared."""
        taken, self.violations = self.violations, []
        return taken

    async def revoke(self) -> None:
        """The token is reset: REST answers 401, the gateway closes with 4004 (and would
        close every IDENTIFY / RESUME with it)."""
        self.revoked = True
        await self.drop_gateway(4004)

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway-ws/"

    def webhook_url(self, webhook_id: int, token: str) -> str:
        """A URL shaped like Discord's (``discord.com/api/webhooks/<id>/<token>``)."""
        return f"https://discord.com/api/webhooks/{webhook_id}/{token}"

    def fail(self, route: str, fault: Fault) -> None:
        """Answer the next call(s) of ``route`` (a name from the route table) with ``fault``."""
        self.faults.setdefault(route, []).append(fault)

    def new_id(self) -> int:
        return next(self._ids)

    # --- inspection -----------------------------------------------------------------------

    def calls_of(self, route: str, *, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.route == route and (c.status < 300 or not ok_only)]

    async def wait_for(
        self, route: str, count: int = 1, *, within: float = 15.0, ok_only: bool = True
    ) -> list[Call]:
        """The first ``count`` calls of ``route``, waiting until they have arrived."""

        def enough() -> bool:
            return len(self.calls_of(route, ok_only=ok_only)) >= count

        async with asyncio.timeout(within), self._new_call:
            await self._new_call.wait_for(enough)
        return self.calls_of(route, ok_only=ok_only)[:count]

    # --- REST -----------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        for method, pattern, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match and method == request.method:
                return await self._answer(request, path, name, match.groupdict())
        return _json({"code": 0, "message": "404: Not Found"}, 404)

    async def _read_body(self, request: web.Request) -> tuple[Any, dict[str, bytes]]:
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            files: dict[str, bytes] = {}
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader)
                data = await part.read()
                if part.name == "payload_json":
                    payload = json.loads(data)
                elif part.name:
                    files[part.name] = bytes(data)
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), {}

    async def _answer(
        self, request: web.Request, path: str, name: str, params: dict[str, str]
    ) -> web.StreamResponse:
        body, files = await self._read_body(request)
        call = Call(request.method, path, name, dict(request.query), body, files)
        call.headers = dict(request.headers)
        if name not in _NO_AUTH and (
            self.revoked or request.headers.get("Authorization") != f"Bot {self.token}"
        ):
            call.status = 401
            await self._record(call)
            return _json(unauthorized(), 401)
        # an injected fault first: the request then never reached the rules
        pending = [f for f in self.faults.get(name, []) if f.path in path]
        if pending:
            fault = pending[0]
            fault.times -= 1
            if fault.times <= 0:
                self.faults[name].remove(fault)
            call.status = fault.status
            await self._record(call)
            return _json(fault.body, fault.status, fault.headers)
        refusal = self._refusal(name, params, body, files)
        if refusal is not None:
            call.status = refusal.status
            self.violations.append(Violation(request.method, path, refusal.status, refusal.code))
            await self._record(call)
            return _json(refusal.body, refusal.status)
        await self._record(call)
        result = self._result(name, params, body, files)
        if result is None:
            return web.Response(status=204)
        return _json(result)

    def _refusal(
        self, name: str, params: dict[str, str], body: Any, files: dict[str, bytes]
    ) -> Refusal | None:
        """What real Discord would refuse in this request, else ``None``."""
        now = self.clock()
        problems: list[Problem] = []
        try:
            if name == "callback":
                self.interactions.callback(params["id"], params["token"], body, now)
                data = (body or {}).get("data")
                if (body or {}).get("type") in (4, 7) and data is not None:
                    problems = check_message(data, files, edit=body["type"] == 7)
            elif name in ("webhook", "edit_original", "delete_original"):
                is_interaction = self.interactions.webhook(params["token"], now)
                if is_interaction and params["app"] != str(APP_ID):
                    return Refusal(404, {"code": 10015, "message": "Unknown Webhook"}, "10015")
            if name in _MESSAGE_ROUTES:
                problems = check_message(body, files, edit=name == "edit_original")
            if name == "message":
                problems += self._reference_problems(params["channel"], body)
            elif name == "sync":
                if params["app"] != str(APP_ID):
                    return Refusal(403, {"code": 50001, "message": "Missing Access"}, "50001")
                problems = check_commands(body)
        except Refusal as refusal:
            return refusal
        if not problems:
            return None
        codes = ", ".join(f"{p.where or '(body)'} {p.code}" for p in problems)
        return Refusal(400, form_error(problems), codes)

    async def _record(self, call: Call) -> None:
        async with self._new_call:
            self.calls.append(call)
            self._new_call.notify_all()

    def _reference_problems(self, channel_id: str, body: Any) -> list[Problem]:
        """A reply (``message_reference``) to a message Discord does not know in the channel
        is refused unless ``fail_if_not_exists`` is false (then it is posted unthreaded)."""
        ref = (body or {}).get("message_reference")
        if not ref or ref.get("fail_if_not_exists") is False:
            return []
        if self.posted.get(str(ref.get("message_id"))) == str(ref.get("channel_id", channel_id)):
            return []
        code = "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
        return [Problem(("message_reference",), code, "Unknown message")]

    def _message(
        self, channel_id: str, body: Any, files: dict[str, bytes], webhook_id: str | None = None
    ) -> dict[str, Any]:
        return message_payload(channel_id, body, files, new_id=self.new_id, webhook_id=webhook_id)

    def _result(self, name: str, params: dict[str, str], body: Any, files: dict[str, bytes]) -> Any:
        if name == "me":
            return bot_user()
        if name in ("gateway", "gateway_bot"):
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            return {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}
        if name == "application":
            return application_payload()
        if name == "sync":
            self.synced = list(body or [])
            return [
                {**cmd, "id": str(self.new_id()), "application_id": str(APP_ID), "version": "1"}
                for cmd in self.synced
            ]
        if name == "callback":
            kind = (body or {}).get("type", 0)
            flags = ((body or {}).get("data") or {}).get("flags", 0)
            return {
                "interaction": {
                    "id": params["id"],
                    "type": 2,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": {"type": kind},
            }
        if name in ("webhook", "edit_original"):
            return self._message("1", body, files, webhook_id=params["app"])
        if name == "delete_original":
            return None
        if name == "message":
            message = self._message(params["channel"], body, files)
            self.posted[message["id"]] = params["channel"]
            return message
        if name == "thread":
            return thread_payload(self.new_id(), params["channel"], (body or {}).get("name", ""))
        if name == "channel":
            return {"id": params["channel"], "type": 0, "guild_id": str(GUILD_ID), "name": "x"}
        raise AssertionError(name)

    # --- interactions ---------------------------------------------------------------------

    async def press(self, custom_id: str, channel_id: int = 1300000000000000001) -> str:
        """Press a button with ``custom_id`` on a bot message; returns the interaction token."""
        message = self._message(str(channel_id), {}, {})
        payload = interaction_payload(
            "",
            kind=3,
            custom_id=custom_id,
            message=message,
            channel_id=channel_id,
            new_id=self.new_id,
        )
        self.interactions.add(str(payload["id"]), str(payload["token"]), 3, self.clock())
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])

    async def inject(self, name: str, options: dict[str, Any] | None = None, **kw: Any) -> str:
        """Dispatch an interaction; returns its token (follow-ups are posted under it)."""
        payload = interaction_payload(name, options, new_id=self.new_id, **kw)
        kind = int(payload["type"])
        self.interactions.add(str(payload["id"]), str(payload["token"]), kind, self.clock())
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])
