"""A local stand-in of Telegram's Bot API (``/bot<token>/<method>``) on loopback.

It speaks what python-telegram-bot uses for long polling: ``getMe``, ``deleteWebhook``,
``getUpdates`` (``offset`` acknowledges, ``timeout`` long-polls until an update comes) and
``sendMessage``; form-encoded or JSON parameters, ``{"ok": true, "result": …}`` answers,
``401 Unauthorized`` for another token. :meth:`BotApiStandIn.say` queues a user's message
(a command gets its ``bot_command`` entity); :attr:`sent` keeps the bot's answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

BOT_ID = 777_000_001


@dataclass(frozen=True, slots=True)
class Sent:
    """One message the bot sent."""

    chat_id: int
    text: str


class BotApiStandIn:
    """The Bot API for one bot token (see the module docstring)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.calls: list[str] = []
        self._next_update = 1
        self._next_message = 1
        self._news = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The API root to configure (``telegram.api_url``)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._call)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def say(self, chat_id: int, text: str, user_id: int | None = None) -> None:
        """Queue a message from a user in ``chat_id``."""
        message: dict[str, Any] = {
            "message_id": self._message_id(),
            "date": int(time.time()),  # noqa: TID251 - the Bot API's own clock
            "chat": {"id": chat_id, "type": "private", "first_name": "operator"},
            "from": {"id": user_id or chat_id, "is_bot": False, "first_name": "operator"},
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        async with self._news:
            self.updates.append({"update_id": self._next_update, "message": message})
            self._next_update += 1
            self._news.notify_all()

    async def answers(self, count: int, timeout_s: float = 10.0) -> list[Sent]:
        """Wait until the bot has sent ``count`` messages in all."""
        async with asyncio.timeout(timeout_s), self._news:
            await self._news.wait_for(lambda: len(self.sent) >= count)
        return self.sent[:count]

    def _message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        form = await request.post()
        out: dict[str, Any] = {}
        for key, value in form.items():
            text = str(value)
            try:
                out[key] = json.loads(text)
            except ValueError:
                out[key] = text
        return out

    async def _call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        params = await self._params(request)
        handler = {
            "getMe": self._get_me,
            "deleteWebhook": self._true,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
        }.get(method)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.json_response({"ok": True, "result": await handler(params)})

    async def _get_me(self, _params: dict[str, Any]) -> Any:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "polyloly",
            "username": "polyloly_test_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _true(self, _params: dict[str, Any]) -> Any:
        return True

    async def _get_updates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        async with self._news:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and timeout > 0:
                try:
                    async with asyncio.timeout(timeout):
                        await self._news.wait_for(lambda: bool(self.updates))
                except TimeoutError:
                    pass
            return list(self.updates[: int(params.get("limit") or 100)])

    async def _send_message(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        text = str(params["text"])
        async with self._news:
            self.sent.append(Sent(chat_id, text))
            self._news.notify_all()
        return {
            "message_id": self._message_id(),
            "date": int(time.time()),  # noqa: TID251
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "polyloly"},
            "text": text,
        }
