"""The control server stops within its shutdown timeout, even behind a stuck request."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from polyloly.bot.control import SHUTDOWN_TIMEOUT_S, ControlServer

TOKEN = "s3cret-control-token-0123456789"  # a test token, not a real credential
PROMPT_S = SHUTDOWN_TIMEOUT_S + 4.0  # well under aiohttp's own 60 s


class StuckTarget:
    """``cancel_all`` never finishes: the request stays in progress."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.cancelled = False

    def status(self) -> Mapping[str, Any]:
        return {"mode": "paper"}

    def halt(self, reason: str) -> None:
        del reason

    def resume(self) -> None:
        return None

    async def cancel_all(self) -> None:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def _request(method: str, path: str, extra: bytes = b"") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
    ).encode() + extra


@pytest.mark.asyncio
async def test_stop_is_prompt_while_a_request_hangs_on_a_keep_alive_connection() -> None:
    target = StuckTarget()
    server = ControlServer(target, TOKEN, port=0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(_request("POST", "/cancel-all", b"Content-Length: 0\r\n\r\n"))
        await writer.drain()
        await target.entered.wait()
        async with asyncio.timeout(PROMPT_S):
            await server.stop()
        assert target.cancelled  # the stuck handler was cancelled, not waited for
        await reader.read()  # the connection is closed (with or without an answer)
    finally:
        writer.close()


def test_the_shutdown_timeout_is_short() -> None:
    server = ControlServer(StuckTarget(), TOKEN, port=0)
    assert server.shutdown_timeout_s == SHUTDOWN_TIMEOUT_S <= 1.0
