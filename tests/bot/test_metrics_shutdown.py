"""The metrics server stops within its shutdown timeout, whatever its clients are doing."""

from __future__ import annotations

import asyncio

import pytest

from polyloly.bot.metrics import SHUTDOWN_TIMEOUT_S, Metrics, MetricsServer
from polyloly.runtime.clock import VirtualClock

PROMPT_S = SHUTDOWN_TIMEOUT_S + 4.0  # well under aiohttp's own 60 s (and its 10 s linger)


async def _started() -> MetricsServer:
    server = MetricsServer(Metrics(VirtualClock(10**18)), port=0)
    await server.start()
    return server


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


@pytest.mark.asyncio
async def test_stop_is_prompt_with_a_request_still_in_progress() -> None:
    server = await _started()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        # A keep-alive request whose body never finishes: the handler answers, then the
        # connection keeps reading the rest (aiohttp lingers up to 10 s, then 60 s).
        writer.write(
            b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
            b"Content-Length: 1000\r\n\r\npartial"
        )
        await writer.drain()
        assert (await _read_response(reader)).startswith(b"HTTP/1.1 200")
        async with asyncio.timeout(PROMPT_S):
            await server.stop()
        assert await reader.read() == b""  # the server closed the connection
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_stop_is_prompt_with_an_idle_keep_alive_connection() -> None:
    server = await _started()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
        await writer.drain()
        assert (await _read_response(reader)).endswith(b"ok\n")
        async with asyncio.timeout(PROMPT_S):
            await server.stop()
        assert await reader.read() == b""
    finally:
        writer.close()


def test_the_shutdown_timeout_is_short() -> None:
    server = MetricsServer(Metrics(VirtualClock(0)), port=0)
    assert server.shutdown_timeout_s == SHUTDOWN_TIMEOUT_S <= 1.0
