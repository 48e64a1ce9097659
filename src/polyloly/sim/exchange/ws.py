"""The market and user WebSocket channels (``/ws/market``, ``/ws/user``) on aiohttp.

Market channel: subscribe with ``{"type":"market","assets_ids":[…],
"custom_feature_enabled":…}`` and later ``{"operation":"subscribe"|"unsubscribe",…}``;
each new asset gets a ``book`` snapshot in one JSON array (none past
``max_assets_per_connection``), then ``price_change``, ``last_trade_price``,
``tick_size_change`` and, with the custom feature, ``best_bid_ask``, ``new_market`` and
``market_resolved``. A subscribe that adds nothing is answered ``NO NEW ASSETS``.

User channel: ``{"auth":{"apiKey","secret","passphrase"},"type":"user","markets":[…]}``
(no markets = all), then ``operation`` (un)subscribes by condition id; ``order`` and
``trade`` events of that key only. Bad credentials close the socket (code 1008).

Both channels answer text ``PING`` with ``PONG`` and protocol pings with pongs, unless a
stall fault is armed. Every connection has a bounded outbound queue and one writer task
that applies the WebSocket faults; a consumer too slow to drain its queue is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSMsgType, web

from polyloly.sim.exchange.faults import Faults
from polyloly.sim.exchange.feeds import MarketFrame, UserFrame
from polyloly.sim.exchange.frames import Json
from polyloly.sim.exchange.venue import Venue

__all__ = ["WsHub"]

_QUEUE_MAX: Final = 20_000
_STALL_POLL_S: Final = 0.01
_POLICY_VIOLATION: Final = 1008


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    channel: str
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(_QUEUE_MAX))
    assets: set[str] = field(default_factory=set)
    custom: bool = False
    owner: str | None = None
    markets: set[str] = field(default_factory=set)

    def push(self, text: str) -> bool:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True


def _parse(text: str) -> dict[str, Any] | None:
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


class WsHub:
    """Routes frames to connections and serves the two channels (a ``FeedSink``)."""

    def __init__(self, venue: Venue, faults: Faults | None = None) -> None:
        self.venue = venue
        self.faults = faults
        self._conns: set[_Conn] = set()
        self._closing: set[asyncio.Task[bool]] = set()
        self.dropped_slow = 0

    # -- FeedSink ---------------------------------------------------------------------------

    def market(self, item: MarketFrame) -> None:
        """Send a market frame to every connection subscribed to one of its assets."""
        text: str | None = None
        for conn in list(self._conns):
            if conn.channel != "market" or (item.custom and not conn.custom):
                continue
            if item.broadcast or not conn.assets.isdisjoint(item.assets):
                text = text or json.dumps(item.frame, separators=(",", ":"))
                self._push(conn, text)

    def user(self, item: UserFrame) -> None:
        """Send a user frame to the owner's connections subscribed to its market."""
        text: str | None = None
        for conn in list(self._conns):
            if conn.channel != "user" or conn.owner != item.owner:
                continue
            if not conn.markets or item.market in conn.markets:
                text = text or json.dumps(item.frame, separators=(",", ":"))
                self._push(conn, text)

    def _push(self, conn: _Conn, text: str) -> None:
        if not conn.push(text):
            self.dropped_slow += 1
            self._discard(conn)

    def _discard(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        with contextlib.suppress(asyncio.QueueFull):
            conn.queue.put_nowait(None)

    # -- control ----------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Open connections."""
        return len(self._conns)

    def drop_all(self) -> None:
        """Close every connection (fault injection and shutdown)."""
        loop = asyncio.get_running_loop()
        for conn in list(self._conns):
            self._discard(conn)
            task = loop.create_task(conn.ws.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # -- handlers ---------------------------------------------------------------------------

    async def handle_market(self, request: web.Request) -> web.StreamResponse:
        """Serve ``/ws/market``."""
        return await self._serve(request, "market")

    async def handle_user(self, request: web.Request) -> web.StreamResponse:
        """Serve ``/ws/user``."""
        return await self._serve(request, "user")

    async def _serve(self, request: web.Request, channel: str) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = _Conn(ws, channel)
        self._conns.add(conn)
        writer = asyncio.create_task(self._writer(conn), name=f"ws-{channel}-writer")
        try:
            async for msg in ws:
                if not await self._on_message(conn, msg.type, msg.data):
                    break
        finally:
            self._discard(conn)
            await writer
            await ws.close()
        return ws

    async def _on_message(self, conn: _Conn, kind: WSMsgType, data: Any) -> bool:
        """Handle one client message; False ends the connection."""
        stalled = self.faults is not None and self.faults.stalled()
        if kind is WSMsgType.PING:
            if not stalled:
                await conn.ws.pong(data)
            return True
        if kind is not WSMsgType.TEXT:
            return kind not in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR)
        text = str(data).strip()
        if text.upper() == "PING":
            if not stalled:
                conn.push("PONG")
            return True
        message = _parse(text)
        if message is None:
            return True  # the venue ignores garbage
        if conn.channel == "market":
            self._market_subscribe(conn, message)
            return True
        return await self._user_subscribe(conn, message)

    def _market_subscribe(self, conn: _Conn, message: dict[str, Any]) -> None:
        assets = [str(a) for a in message.get("assets_ids") or []]
        if "custom_feature_enabled" in message:
            conn.custom = bool(message["custom_feature_enabled"])
        if message.get("operation") == "unsubscribe":
            conn.assets.difference_update(assets)
            return
        limit = self.venue.config.max_assets_per_connection
        new = [a for a in dict.fromkeys(assets) if a not in conn.assets]
        if not new:
            conn.push("NO NEW ASSETS")
            return
        snapshots: list[Json] = []
        for asset in new:
            conn.assets.add(asset)
            listing = self.venue.by_token.get(asset)
            if listing is not None and len(conn.assets) <= limit:
                snapshots.append(self.venue.publisher.book_frame(listing, asset))
        if snapshots:
            conn.push(json.dumps(snapshots, separators=(",", ":")))

    async def _user_subscribe(self, conn: _Conn, message: dict[str, Any]) -> bool:
        markets = {str(m) for m in message.get("markets") or []}
        if conn.owner is None:
            auth = message.get("auth") or {}
            creds = self.venue.keys.get(str(auth.get("apiKey", "")))
            if (
                creds is None
                or auth.get("secret") != creds.secret
                or auth.get("passphrase") != creds.passphrase
            ):
                await conn.ws.close(code=_POLICY_VIOLATION, message=b"Unauthorized")
                return False
            conn.owner = creds.api_key
            conn.markets = markets
            return True
        if message.get("operation") == "unsubscribe":
            conn.markets.difference_update(markets)
        elif conn.markets:  # an empty set already means every market
            conn.markets.update(markets)
        return True

    async def _writer(self, conn: _Conn) -> None:
        held: str | None = None
        while True:
            text = await conn.queue.get()
            if text is None:
                return
            faults = self.faults
            if faults is not None:
                await self._unstalled(conn, faults)
                if faults.malform > 0:
                    faults.malform -= 1
                    text = text[: max(1, len(text) // 2)]
                if held is None and faults.reorder > 0:
                    faults.reorder -= 1
                    held = text
                    continue
            if not await self._send(conn, text):
                return
            if faults is not None and faults.duplicate > 0:
                faults.duplicate -= 1
                if not await self._send(conn, text):
                    return
            if held is not None:
                if not await self._send(conn, held):
                    return
                held = None

    @staticmethod
    async def _unstalled(conn: _Conn, faults: Faults) -> None:
        # A stall ends on the (possibly virtual) clock, so it is polled, not awaited.
        while True:
            if conn.ws.closed or not faults.stalled():
                return
            await asyncio.sleep(_STALL_POLL_S)

    async def _send(self, conn: _Conn, text: str) -> bool:
        if conn.ws.closed:
            return False
        try:
            await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return False
        return True
