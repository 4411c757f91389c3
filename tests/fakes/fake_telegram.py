"""A loopback Telegram Bot API server (aiohttp) that a real PTB ``Application`` talks to.

Point PTB at it with ``ApplicationBuilder().base_url(fake.api_base_url)``. It serves
``/bot<token>/<method>`` for the methods the adapter uses, parses what PTB really sends
(form-urlencoded with nested objects as JSON strings, or multipart with the files), answers
in the Bot API's shapes (``{"ok": true, "result": Message}``), checks what Telegram checks
(HTML that parses, text ≤ 4096 and caption ≤ 1024 visible characters in UTF-16 units,
callback data ≤ 64 bytes), records every call, and injects faults per method. The wire shapes
and checks live in :mod:`tests.fakes.fake_telegram_wire` (re-exported: ``Fault``, ``ApiCall``,
``visible_html``).

Tests drive it with :meth:`FakeTelegram.inject_command` / :meth:`inject_callback` (delivered
to the next ``getUpdates`` long-poll at once) and :meth:`wait_for` ("the next N sendPhoto").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from types import TracebackType
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes.fake_telegram_wire import (
    DISCONNECT,
    HANG,
    SLOW,
    ApiCall,
    ApiError,
    Fault,
    chat_json,
    check_keyboard,
    check_text,
    photo_sizes,
    user_json,
    utf16,
    visible_html,
)

__all__ = ["ApiCall", "FakeTelegram", "Fault", "visible_html"]


class FakeTelegram:
    """The fake Bot API server. ``async with FakeTelegram(token) as fake: ...``."""

    def __init__(
        self, token: str, *, bot_username: str = "liqwatch_test_bot", poll_cap: float = 1.0
    ) -> None:
        self.token = token
        self.me: dict[str, Any] = {
            "id": 700000001,
            "is_bot": True,
            "first_name": "liqwatch",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.files: dict[str, bytes] = {}
        self.commands: list[dict[str, str]] = []
        #: chat id → user ids that are administrators / the owner there
        self.chat_admins: dict[int, set[int]] = {}
        self.chat_owners: dict[int, int] = {}
        self._poll_cap = poll_cap
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._chats: dict[int, dict[str, Any]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._faults: dict[str, list[tuple[Fault, int | None]]] = {}
        self._changed = asyncio.Condition()
        self._released = asyncio.Event()
        #: requests held by a ``Fault.hang()`` right now
        self.hung = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self._released.set()  # nothing stays hung past the test
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- test controls ---------------------------------------------------------------------

    def fail(
        self, method: str, fault: Fault, *, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id`` if given) with ``fault``."""
        self._faults.setdefault(method.lower(), []).extend([(fault, chat_id)] * times)

    def release(self) -> None:
        """Let every request held by ``Fault.hang()`` (now and later) go on."""
        self._released.set()

    def calls_of(self, method: str, *, ok_only: bool = True) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method.lower() and (c.ok or not ok_only)]

    async def wait_for(
        self, method: str, count: int = 1, within: float = 10.0, *, ok_only: bool = True
    ) -> list[ApiCall]:
        """The next ``count`` calls of ``method`` made from now on (successful ones by default)."""
        start = len(self.calls)

        def matching() -> list[ApiCall]:
            return [
                c
                for c in self.calls[start:]
                if c.method == method.lower() and (c.ok or not ok_only)
            ]

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()[:count]

    def inject_command(
        self,
        text: str,
        *,
        chat_id: int = 5001,
        user_id: int = 5001,
        chat_type: str = "private",
        username: str = "alice",
    ) -> dict[str, Any]:
        """Queue a user's message (a ``bot_command`` entity on its first word); returns it."""
        user = user_json(user_id, username)
        chat = self._chat(chat_id, chat_type, username)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            head = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16(head)}]
        self._queue({"message": message})
        return message

    def inject_callback(
        self, message: dict[str, Any], data: str, *, user_id: int = 5001, username: str = "alice"
    ) -> str:
        """Queue a press of a button with ``data`` under the bot's ``message``; returns its id."""
        user = user_json(user_id, username)
        query_id = f"cb{next(self._update_ids)}"
        self._queue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "chat_instance": f"ci{message['chat']['id']}",
                    "message": message,
                    "data": data,
                }
            }
        )
        return query_id

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """The current state of a message the bot sent (after edits)."""
        return self._messages[(chat_id, message_id)]

    def _chat(
        self, chat_id: int, chat_type: str = "private", name: str = "alice"
    ) -> dict[str, Any]:
        if chat_id not in self._chats:
            self._chats[chat_id] = chat_json(chat_id, chat_type, name)
        return self._chats[chat_id]

    def _queue(self, update: dict[str, Any]) -> None:
        self._updates.append({"update_id": next(self._update_ids), **update})
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        params: dict[str, str] = {}
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader), "PTB sends no nested multipart"
                if part.filename:
                    files[str(part.name)] = bytes(await part.read())
                else:
                    params[str(part.name)] = await part.text()
        elif request.content_type == "application/json":
            params = {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in (await request.json()).items()
            }
        else:
            params = {k: str(v) for k, v in (await request.post()).items()}
        call = ApiCall(method, params, files)
        if request.match_info["token"] != self.token:
            return await self._error(call, ApiError(401, "Unauthorized"))
        fault = self._take_fault(method, params)
        if fault is not None and fault.status == DISCONNECT:
            return await self._drop(request, call)
        if fault is not None and fault.status == HANG:
            self.hung += 1
            await self._notify()
            try:
                await self._released.wait()
            finally:
                self.hung -= 1
            fault = None
        delay = fault.delay if fault is not None and fault.status == SLOW else 0.0
        if fault is not None and fault.status != SLOW:
            return await self._error(
                call, ApiError(fault.status, fault.description, fault.parameters)
            )
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return await self._error(call, ApiError(404, "Not Found"))
        try:
            call.result = await handler(call)
        except ApiError as err:
            return await self._error(call, err)
        await self._record(call)
        if delay:  # performed and recorded: only the answer is late
            await asyncio.sleep(delay)
        return web.json_response({"ok": True, "result": call.result})

    def _take_fault(self, method: str, params: dict[str, str]) -> Fault | None:
        queue = self._faults.get(method, [])
        for i, (fault, chat_id) in enumerate(queue):
            if chat_id is None or params.get("chat_id") == str(chat_id):
                del queue[i]
                return fault
        return None

    async def _drop(self, request: web.Request, call: ApiCall) -> web.Response:
        """Close the connection without answering (the client sees a protocol error)."""
        call.status = DISCONNECT
        await self._record(call)
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)  # never reaches the client: the socket is gone

    async def _error(self, call: ApiCall, err: ApiError) -> web.Response:
        call.status = err.code
        body: dict[str, Any] = {"ok": False, "error_code": err.code, "description": err.description}
        if err.parameters:
            body["parameters"] = err.parameters
        await self._record(call)
        return web.json_response(body, status=err.code)

    async def _record(self, call: ApiCall) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # -- methods ---------------------------------------------------------------------------

    async def _api_getme(self, call: ApiCall) -> Any:
        return self.me

    async def _api_deletewebhook(self, call: ApiCall) -> Any:
        return True

    async def _api_setmycommands(self, call: ApiCall) -> Any:
        self.commands = call.json("commands")
        return True

    async def _api_getupdates(self, call: ApiCall) -> Any:
        offset = int(call.params.get("offset", 0) or 0)
        limit = int(call.params.get("limit", 100) or 100)
        wait = min(float(call.params.get("timeout", 0) or 0), self._poll_cap)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and wait > 0:
            try:
                async with asyncio.timeout(wait), self._changed:
                    await self._changed.wait_for(lambda: bool(self._updates))
            except TimeoutError:
                pass
        return self._updates[:limit]

    async def _api_sendmessage(self, call: ApiCall) -> Any:
        text = call.params["text"]
        check_text(text, call.params.get("parse_mode"), 4096, "message is too long")
        return self._new_message(call, text=text)

    async def _api_sendphoto(self, call: ApiCall) -> Any:
        return self._new_message(
            call, photo=self._photo(call, "photo"), **self._caption(call.params)
        )

    async def _api_sendmediagroup(self, call: ApiCall) -> Any:
        media = call.json("media")
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: media group must include 2-10 items")
        return [
            self._new_message(call, photo=self._photo(call, item["media"]), **self._caption(item))
            for item in media
        ]

    async def _api_editmessagemedia(self, call: ApiCall) -> Any:
        media = call.json("media")
        return self._edit(call, photo=self._photo(call, media["media"]), **self._caption(media))

    async def _api_editmessagecaption(self, call: ApiCall) -> Any:
        return self._edit(call, **self._caption(call.params))

    async def _api_editmessagetext(self, call: ApiCall) -> Any:
        text = call.params["text"]
        check_text(text, call.params.get("parse_mode"), 4096, "message is too long")
        return self._edit(call, text=text)

    async def _api_answercallbackquery(self, call: ApiCall) -> Any:
        return True

    async def _api_getchatmember(self, call: ApiCall) -> Any:
        chat_id, user_id = int(call.params["chat_id"]), int(call.params["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        if self.chat_owners.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self.chat_admins.get(chat_id, set()):
            rights = (
                "can_be_edited is_anonymous can_manage_chat can_delete_messages "
                "can_manage_video_chats can_restrict_members can_promote_members can_change_info "
                "can_invite_users can_post_stories can_edit_stories can_delete_stories"
            )
            return {"status": "administrator", "user": user, **dict.fromkeys(rights.split(), False)}
        return {"status": "member", "user": user}

    async def _api_getchat(self, call: ApiCall) -> Any:
        chat = self._chat(int(call.params["chat_id"]))
        gifts = (
            "unlimited_gifts limited_gifts unique_gifts premium_subscription gifts_from_channels"
        )
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys(gifts.split(), False),
        }

    # -- helpers ---------------------------------------------------------------------------

    def _caption(self, source: dict[str, Any]) -> dict[str, Any]:
        caption = source.get("caption")
        if not caption:
            return {}
        check_text(caption, source.get("parse_mode"), 1024, "message caption is too long")
        return {"caption": caption}

    def _photo(self, call: ApiCall, ref: str) -> list[dict[str, Any]]:
        name = ref.removeprefix("attach://")
        data = call.files.get(name)
        if data is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        file_id = f"photo{next(self._file_ids)}"
        self.files[file_id] = data
        return photo_sizes(file_id, data)

    def _markup(self, call: ApiCall) -> dict[str, Any]:
        if "reply_markup" not in call.params:
            return {}
        markup = call.json("reply_markup")
        check_keyboard(markup)
        return {"reply_markup": markup}

    def _new_message(self, call: ApiCall, **content: Any) -> dict[str, Any]:
        chat_id = int(call.params["chat_id"])
        if "reply_parameters" in call.params:  # a reply to a message the chat does not have
            to = call.json("reply_parameters")
            known = (int(to.get("chat_id", chat_id)), int(to["message_id"])) in self._messages
            if not known and not to.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self.me,
            **content,
            **self._markup(call),
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _edit(self, call: ApiCall, **content: Any) -> dict[str, Any]:
        key = (int(call.params["chat_id"]), int(call.params["message_id"]))
        old = self._messages.get(key)
        if old is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        new = {k: v for k, v in old.items() if k not in ("text", "caption", "reply_markup")}
        new.update(content, **self._markup(call), edit_date=int(time.time()))
        if "photo" not in content and "photo" in old:
            new["photo"] = old["photo"]
        if all(new.get(k) == old.get(k) for k in ("text", "caption", "reply_markup", "photo")):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup",
            )
        self._messages[key] = new
        return new
