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

Known traps kept faithfully: JSON answers carry ``Content-Type: application/json`` exactly
(discord.py's ``json_or_text`` compares the whole header); a 429 is only honoured by
discord.py when the answer has a ``Via`` header, so injected 429s carry one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes.fake_discord_payloads import (
    APP_ID,
    GUILD_ID,
    application_payload,
    bot_user,
    interaction_payload,
    thread_payload,
)

__all__ = [
    "APP_ID",
    "Call",
    "FakeDiscord",
    "Fault",
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


@dataclass
class Fault:
    """An injected failure: answer ``status`` with ``body`` (and ``headers``) ``times`` times."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


def rate_limited(retry_after: float = 0.3, times: int = 1) -> Fault:
    """A per-route 429 as Discord sends it (with the ``Via`` header discord.py requires)."""
    headers = {
        "Retry-After": str(retry_after),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": str(retry_after),
        "X-RateLimit-Bucket": "fakebucket",
        "X-RateLimit-Scope": "user",
        "Via": "1.1 google",
    }
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return Fault(429, body, headers, times)


def forbidden(times: int = 1) -> Fault:
    """403 Missing Permissions (code 50013)."""
    return Fault(403, {"code": 50013, "message": "Missing Permissions"}, times=times)


def unknown_channel(times: int = 1) -> Fault:
    """404 Unknown Channel (code 10003)."""
    return Fault(404, {"code": 10003, "message": "Unknown Channel"}, times=times)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # built by hand: json_response would add "; charset=utf-8", which discord.py rejects
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


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


class FakeDiscord:
    """Discord on 127.0.0.1: ``api_base_url`` for ``Route.BASE``, ``gateway_url`` for the WS."""

    def __init__(self, token: str, *, heartbeat_interval_ms: int = 41250) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.synced: list[dict[str, Any]] = []
        self.identified = asyncio.Event()
        self.identify: dict[str, Any] = {}
        self.heartbeats = 0
        #: gateway connections opened, and the IDENTIFY / RESUME payloads received, in order
        self.connections = 0
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        #: answer RESUME with RESUMED (True) or with INVALID_SESSION, not resumable (False)
        self.resumable = True
        self._session = 0
        self._ids = itertools.count(1200000000000000000)
        self._seq = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._silent: list[web.WebSocketResponse] = []
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

    async def __aexit__(self, *exc: object) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

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
        pending = self.faults.get(name)
        if pending:
            fault = pending[0]
            fault.times -= 1
            if fault.times <= 0:
                pending.pop(0)
            call.status = fault.status
            await self._record(call)
            return _json(fault.body, fault.status, fault.headers)
        await self._record(call)
        result = self._result(name, params, body, files)
        if result is None:
            return web.Response(status=204)
        return _json(result)

    async def _record(self, call: Call) -> None:
        async with self._new_call:
            self.calls.append(call)
            self._new_call.notify_all()

    def _message(
        self, channel_id: str, body: Any, files: dict[str, bytes], webhook_id: str | None = None
    ) -> dict[str, Any]:
        body = body or {}
        attachments = []
        for i, meta in enumerate(body.get("attachments", [])):
            data = files.get(f"files[{meta.get('id', i)}]", b"")
            attachments.append(
                {
                    "id": str(self.new_id()),
                    "filename": meta.get("filename", f"file{i}"),
                    "size": len(data),
                    "url": f"https://cdn.example/{meta.get('filename')}",
                    "proxy_url": f"https://media.example/{meta.get('filename')}",
                    "content_type": "image/png",
                }
            )
        message = {
            "id": str(self.new_id()),
            "channel_id": channel_id,
            "type": 0,
            "author": bot_user(),
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "attachments": attachments,
            "timestamp": "2026-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "flags": body.get("flags", 0),
            "components": [],
        }
        if webhook_id:
            message["webhook_id"] = webhook_id
        return message

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
            return self._message(params["channel"], body, files)
        if name == "thread":
            return thread_payload(self.new_id(), params["channel"], (body or {}).get("name", ""))
        if name == "channel":
            return {"id": params["channel"], "type": 0, "guild_id": str(GUILD_ID), "name": "x"}
        raise AssertionError(name)

    # --- gateway --------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        await ws.send_str(
            json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        )
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["op"] == 1:
                self.heartbeats += 1
                if ws not in self._silent:
                    await ws.send_str(json.dumps({"op": 11}))
            elif frame["op"] == 2:
                self.identify = frame["d"]
                self.identifies.append(frame["d"])
                self._session += 1
                await self._dispatch(ws, "READY", self._ready())
                self.identified.set()
            elif frame["op"] == 6:
                await self._resume(ws, frame["d"])
        return ws

    @property
    def session_id(self) -> str:
        """The session the last READY started (what a RESUME must name)."""
        return f"fake-session-{self._session}"

    async def _resume(self, ws: web.WebSocketResponse, resume: dict[str, Any]) -> None:
        """RESUME (op 6): RESUMED for the current session, else INVALID_SESSION (op 9)."""
        self.resumes.append(resume)
        if self.resumable and resume.get("session_id") == self.session_id:
            await self._dispatch(ws, "RESUMED", {})
        else:
            await ws.send_str(json.dumps({"op": 9, "d": False}))

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close every open gateway socket with ``code`` (4000: "unknown error, reconnect")."""
        for ws in self._sockets:
            if not ws.closed:
                await ws.close(code=code, message=b"fake gateway drop")

    def silence_gateway(self) -> None:
        """From now on the open sockets get nothing: no heartbeat ACK, no event."""
        self._silent.extend(ws for ws in self._sockets if not ws.closed)

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": bot_user(),
            "session_id": self.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "guilds": [],
            "private_channels": [],
        }

    async def _dispatch(self, ws: web.WebSocketResponse, event: str, data: Any) -> None:
        frame = {"op": 0, "t": event, "s": next(self._seq), "d": data}
        await ws.send_str(json.dumps(frame))

    async def dispatch(self, event: str, data: Any) -> None:
        """Send a gateway event to every connected client."""
        for ws in self._sockets:
            if not ws.closed and ws not in self._silent:
                await self._dispatch(ws, event, data)

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
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])

    async def inject(self, name: str, options: dict[str, Any] | None = None, **kw: Any) -> str:
        """Dispatch an interaction; returns its token (follow-ups are posted under it)."""
        payload = interaction_payload(name, options, new_id=self.new_id, **kw)
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])
