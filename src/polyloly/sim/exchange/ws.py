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
stall fault is armed. Every connection has one writer task with two outbound lanes:

* **control** replies (``PONG``) go first, ahead of any queued data, and are not subject
  to the data faults, so a client behind a flood of frames never sees a false stall;
* **data** frames (books, changes, trades, subscription replies) wait in a bounded queue
  (``queue_max`` frames) and go through the WebSocket faults in order.

A consumer is dropped only when a data frame finds its queue truly full: the connection
is then closed (``1013 Try Again Later``), not left open with its stream cut, so the
client reconnects and resyncs.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSMsgType, web

from polyloly.sim.exchange.faults import Faults
from polyloly.sim.exchange.feeds import MarketFrame, UserFrame
from polyloly.sim.exchange.frames import Json
from polyloly.sim.exchange.venue import Venue

__all__ = ["WsHub"]

_QUEUE_MAX: Final = 20_000
_CONTROL_MAX: Final = 64
_STALL_POLL_S: Final = 0.01
_POLICY_VIOLATION: Final = 1008
_TRY_AGAIN_LATER: Final = 1013
_DROP_CLOSE_TIMEOUT_S: Final = 1.0


@dataclass(eq=False)
class _Conn:
    """One client connection and its outbound lanes (see the module docstring)."""

    ws: web.WebSocketResponse
    channel: str
    capacity: int = _QUEUE_MAX
    transport: asyncio.Transport | None = None
    data: deque[str] = field(default_factory=deque)
    control: deque[str] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    open: bool = True
    assets: set[str] = field(default_factory=set)
    custom: bool = False
    owner: str | None = None
    markets: set[str] = field(default_factory=set)

    def push(self, text: str) -> bool:
        """Queue a data frame; ``False`` only when the queue is full (or the conn closed)."""
        if not self.open or len(self.data) >= self.capacity:
            return False
        self.data.append(text)
        self.ready.set()
        return True

    def reply(self, text: str) -> bool:
        """Queue a control reply ahead of the data; ``False`` if too many are pending."""
        if not self.open or len(self.control) >= _CONTROL_MAX:
            return False
        self.control.append(text)
        self.ready.set()
        return True

    def close_lanes(self) -> None:
        """Stop the writer: what is still queued is not sent."""
        self.open = False
        self.ready.set()

    async def next(self) -> tuple[str, bool] | None:
        """The next frame to send and whether it is a control reply; ``None`` once closed."""
        while True:
            if not self.open:
                return None
            if self.control:
                return self.control.popleft(), True
            if self.data:
                return self.data.popleft(), False
            self.ready.clear()
            await self.ready.wait()


def _parse(text: str) -> dict[str, Any] | None:
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


class WsHub:
    """Routes frames to connections and serves the two channels (a ``FeedSink``)."""

    def __init__(
        self, venue: Venue, faults: Faults | None = None, queue_max: int = _QUEUE_MAX
    ) -> None:
        self.venue = venue
        self.faults = faults
        # Data frames a connection may have queued (one more drops it); read per connection.
        self.queue_max = queue_max
        self._conns: set[_Conn] = set()
        self._closing: set[asyncio.Task[Any]] = set()
        self.dropped_slow = 0
        self.unanswered_pings = 0

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
        if conn.push(text) or not conn.open:
            return
        # The queue is full: the consumer is too slow. Close it rather than cut its stream.
        self.dropped_slow += 1
        self._discard(conn)
        self._spawn(self._close_slow(conn))

    def _discard(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        conn.close_lanes()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_slow(conn: _Conn) -> None:
        # A consumer this slow may not read the close frame either: bound the handshake,
        # then cut the TCP connection.
        try:
            async with asyncio.timeout(_DROP_CLOSE_TIMEOUT_S):
                await conn.ws.close(code=_TRY_AGAIN_LATER, message=b"slow consumer")
        except TimeoutError:
            if conn.transport is not None:
                conn.transport.abort()

    # -- control ----------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Open connections."""
        return len(self._conns)

    def queue_depths(self) -> list[int]:
        """Data frames waiting in each open connection's queue (its fill level)."""
        return [len(conn.data) for conn in self._conns]

    def drop_all(self) -> None:
        """Close every connection (fault injection and shutdown)."""
        for conn in list(self._conns):
            self._discard(conn)
            self._spawn(conn.ws.close())

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
        conn = _Conn(ws, channel, capacity=self.queue_max, transport=request.transport)
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
            if not stalled and not conn.reply("PONG"):
                self.unanswered_pings += 1  # 64 replies already pending: one is enough
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
            self._push(conn, "NO NEW ASSETS")
            return
        snapshots: list[Json] = []
        for asset in new:
            conn.assets.add(asset)
            listing = self.venue.by_token.get(asset)
            if listing is not None and len(conn.assets) <= limit:
                snapshots.append(self.venue.publisher.book_frame(listing, asset))
        if snapshots:
            self._push(conn, json.dumps(snapshots, separators=(",", ":")))

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
        held: list[str] = []  # a data frame the reorder fault holds back
        while (item := await conn.next()) is not None:
            text, control = item
            faults = self.faults
            if faults is not None:
                await self._unstalled(conn, faults)
            frames = [text] if control or faults is None else _faulted(faults, text, held)
            for frame in frames:
                if not await self._send(conn, frame):
                    return

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


def _faulted(faults: Faults, text: str, held: list[str]) -> list[str]:
    """The frames to send for one data frame under the armed faults, in order."""
    if faults.malform > 0:
        faults.malform -= 1
        text = text[: max(1, len(text) // 2)]
    if not held and faults.reorder > 0:
        faults.reorder -= 1
        held.append(text)  # sent after the next data frame
        return []
    frames = [text]
    if faults.duplicate > 0:
        faults.duplicate -= 1
        frames.append(text)
    frames.extend(held)
    held.clear()
    return frames
