"""Small WebSocket helpers for the simulator tests (read frames until a condition holds)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp

TIMEOUT_S = 5.0


async def next_text(ws: aiohttp.ClientWebSocketResponse) -> str:
    """The next text message (protocol control messages are skipped)."""
    while True:
        msg = await ws.receive(timeout=TIMEOUT_S)
        if msg.type is aiohttp.WSMsgType.TEXT:
            return str(msg.data)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            raise ConnectionError("socket closed")


def events_of(text: str) -> list[dict[str, Any]]:
    """The events of one frame (an object or an array of them)."""
    data = json.loads(text)
    return data if isinstance(data, list) else [data]


async def collect(
    ws: aiohttp.ClientWebSocketResponse, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Read events until ``until(all events so far)`` is true."""
    seen: list[dict[str, Any]] = []
    while not until(seen):
        text = await next_text(ws)
        if text in ("PONG", "NO NEW ASSETS"):
            seen.append({"event_type": text})
            continue
        seen.extend(events_of(text))
    return seen


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Events of one ``event_type``."""
    return [e for e in events if e.get("event_type") == kind]
