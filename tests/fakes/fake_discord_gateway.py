"""The gateway half of the fake Discord: HELLO → IDENTIFY → READY, heartbeats, RESUME,
scripted drops and silences, and events sent to the connected clients (see
:mod:`tests.fakes.fake_discord`). An IDENTIFY or RESUME with a token other than the fake's,
or after :meth:`~tests.fakes.fake_discord.FakeDiscord.revoke`, is closed with 4004
("Authentication failed"), as Discord does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.fake_discord_payloads import APP_ID, bot_user

__all__ = ["FakeGateway"]


class FakeGateway:
    """The gateway state and handler; :class:`~tests.fakes.fake_discord.FakeDiscord` adds REST."""

    token: str
    revoked: bool
    heartbeat_interval_ms: int

    @property
    def gateway_url(self) -> str:
        raise NotImplementedError

    def _init_gateway(self) -> None:
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
        self._seq = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._silent: list[web.WebSocketResponse] = []

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
            elif frame["op"] in (2, 6) and (self.revoked or frame["d"].get("token") != self.token):
                await ws.close(code=4004, message=b"Authentication failed.")
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
