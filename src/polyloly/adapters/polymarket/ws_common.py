"""One reconnecting WebSocket connection with the venue's text keepalive, shared by both channels.

:class:`ReconnectingSocket` owns the connect → subscribe → read loop of one connection:

* it sends text ``PING`` every ``ping_interval_s`` and treats ``pong_timeout_s`` without a
  ``PONG`` as a silent stall (the server stopped talking but kept the TCP connection);
* on a drop, a stall, or a reconnect its owner asked for, it closes the connection, tells
  the owner (:meth:`SocketOwner.on_close`) and reconnects after an exponential backoff with
  injected jitter (:func:`backoff_delay`);
* each frame is handed synchronously to :meth:`SocketOwner.on_frame` on the reader task.

Time for stall detection comes from the injected clock (``monotonic_ns``); waiting uses
asyncio (real sockets need real time), with intervals from :class:`~.config.WsConfig`.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §2 (keepalive: PING every 10 s, PONG,
stale after 30 s); websockets ``asyncio.client``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from polyloly.adapters.polymarket.config import WsConfig
from polyloly.adapters.polymarket.constants import NO_NEW_ASSETS_TEXT, PING_TEXT, PONG_TEXT
from polyloly.runtime.clock import Clock

__all__ = [
    "ReconnectingSocket",
    "SocketOwner",
    "SocketStats",
    "backoff_delay",
    "cancel_and_wait",
]

_log = structlog.get_logger(__name__)
_NS_PER_S: Final = 1_000_000_000


def backoff_delay(
    attempt: int, initial_s: float, max_s: float, jitter: float, rand: Callable[[], float]
) -> float:
    """Delay before reconnect ``attempt`` (0-based): exponential, capped, jittered down.

    The base doubles from ``initial_s`` up to ``max_s``; ``jitter`` (0..1) of it is removed
    at random (``rand()`` in ``[0, 1)``) so that many clients do not reconnect in step.
    """
    base = min(max_s, initial_s * float(2 ** min(attempt, 32)))
    return float(base * (1.0 - jitter * rand()))


_KEEPALIVE_TEXTS: Final = (PONG_TEXT, NO_NEW_ASSETS_TEXT, PING_TEXT)
_KEEPALIVE_MAX: Final = max(map(len, _KEEPALIVE_TEXTS))


def frame_payload(data: str | bytes, ignored: Counter[str]) -> str | bytes | None:
    """Return a frame's JSON payload, or ``None`` for keepalive text (counted in ``ignored``).

    Shared by both channels: the venue sends plain-text ``PONG`` / ``NO NEW ASSETS`` between
    JSON frames, and those are neither data nor malformed. Text stays text: msgspec decodes
    ``str`` as well as ``bytes``, so the frame is not copied into bytes first.
    """
    if type(data) is str and len(data) <= _KEEPALIVE_MAX and data in _KEEPALIVE_TEXTS:
        ignored[data] += 1
        return None
    return data


async def cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it has finished.

    Unlike ``suppress(CancelledError): await task``, a cancellation of the *caller* (a
    timeout around ``stop()``, a shutdown) still propagates; the task's own cancellation is
    expected and not re-raised. Any other exception of the task is.
    """
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and (exc := task.exception()) is not None:
        raise exc


class SocketOwner(Protocol):
    """What a channel client implements for its :class:`ReconnectingSocket`."""

    async def on_open(self, sock: ReconnectingSocket) -> None:
        """Connected: send the subscription (and start any catch-up)."""
        ...

    def on_frame(self, sock: ReconnectingSocket, data: str | bytes) -> None:
        """One frame; must not raise (count and skip bad input)."""
        ...

    def on_close(self, sock: ReconnectingSocket, reason: str) -> None:
        """The connection is gone (drop, stall, forced reconnect, stop)."""
        ...

    def watchdog(self, sock: ReconnectingSocket) -> str | None:
        """Called every ping interval; a returned reason forces a reconnect."""
        ...


@dataclass
class SocketStats:
    """Counters of one connection."""

    connects: int = 0
    failed_connects: int = 0
    disconnects: int = 0
    stalls: int = 0
    forced: int = 0
    pings: int = 0
    pongs: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class _Reconnect(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReconnectingSocket:
    """One WebSocket connection that keeps itself alive and reconnects.

    Parameters
    ----------
    url
        ``ws://`` or ``wss://`` endpoint.
    owner
        The channel client receiving frames and lifecycle calls.
    clock
        Injected clock (stall detection uses ``monotonic_ns``).
    config
        Intervals and limits.
    rand
        ``[0, 1)`` source for backoff jitter.
    name
        Label for logs and feed-status events.
    """

    def __init__(
        self,
        url: str,
        owner: SocketOwner,
        *,
        clock: Clock,
        config: WsConfig,
        rand: Callable[[], float],
        name: str,
    ) -> None:
        self.url = url
        self.name = name
        self.stats = SocketStats()
        self._owner = owner
        self._clock = clock
        self._cfg = config
        self._rand = rand
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._force_reason: str | None = None
        self._wake = asyncio.Event()
        self.last_pong_ns = 0

    # -- public --------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a connection is open right now."""
        return self._ws is not None

    def start(self) -> None:
        """Start the connect/read/reconnect loop as a task owned by this object."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"ws:{self.name}")

    async def stop(self) -> None:
        """Close the connection and end the loop.

        Returns once the connection is closed: the close handshake takes one round trip, or
        at most the close timeout when the venue does not answer it.
        """
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def send(self, text: str) -> bool:
        """Send a text frame if connected; ``False`` if not (it will be resent on reconnect)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(text)
        except (WebSocketException, OSError):
            return False
        return True

    def request_reconnect(self, reason: str) -> None:
        """Drop the current connection at the next opportunity and reconnect."""
        self._force_reason = reason
        self._wake.set()

    def note_pong(self) -> None:
        """The owner saw ``PONG``: the connection is alive."""
        self.stats.pongs += 1
        self.last_pong_ns = self._clock.monotonic_ns()

    # -- loop ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        cfg = self._cfg
        while not self._stopping:
            healthy = False
            reason = "closed"
            try:
                async with connect(
                    self.url,
                    open_timeout=cfg.open_timeout_s,
                    ping_interval=None,  # the venue's keepalive is a text PING
                    close_timeout=min(1.0, cfg.ping_interval_s),
                    max_size=cfg.max_frame_bytes,
                    compression="deflate" if cfg.compression else None,
                ) as ws:
                    self._ws = ws
                    self.stats.connects += 1
                    healthy, reason = await self._session(ws)
            except asyncio.CancelledError:
                self._closed("stopped")
                raise
            except (OSError, WebSocketException, TimeoutError) as exc:
                self.stats.failed_connects += 1
                reason = f"error:{type(exc).__name__}"
            except Exception as exc:  # an owner bug must not end the feed
                _log.exception("ws.session_failed", socket=self.name)
                reason = f"error:{type(exc).__name__}"
            self._closed(reason)
            if self._stopping:
                return
            attempt = 0 if healthy else attempt + 1
            delay = backoff_delay(
                attempt,
                cfg.reconnect_initial_s,
                cfg.reconnect_max_s,
                cfg.reconnect_jitter,
                self._rand,
            )
            _log.info("ws.reconnecting", socket=self.name, reason=reason, delay_s=round(delay, 3))
            await asyncio.sleep(delay)

    def _closed(self, reason: str) -> None:
        was_open = self._ws is not None
        self._ws = None
        if was_open:
            self.stats.disconnects += 1
            key = reason.split(":", 1)[0]
            self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1
        try:
            self._owner.on_close(self, reason)
        except Exception:  # the loop must survive an owner bug
            _log.exception("ws.on_close_failed", socket=self.name)

    async def _session(self, ws: ClientConnection) -> tuple[bool, str]:
        """Run one connection; return (received anything, why it ended)."""
        self.last_pong_ns = self._clock.monotonic_ns()
        self._force_reason = None
        self._wake.clear()
        received = [False]
        await self._owner.on_open(self)
        reader = asyncio.create_task(self._read(ws, received))
        keeper = asyncio.create_task(self._keepalive(ws))
        try:
            done, _ = await asyncio.wait({reader, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, keeper):
                task.cancel()
            await asyncio.gather(reader, keeper, return_exceptions=True)
        reason = "closed"
        for task in sorted(done, key=lambda t: t is keeper, reverse=True):
            exc = None if task.cancelled() else task.exception()
            if isinstance(exc, _Reconnect):
                return received[0], exc.reason  # our own decision names the cause
            if exc is not None and not isinstance(exc, ConnectionClosed):
                reason = f"error:{type(exc).__name__}"
        return received[0], reason

    async def _read(self, ws: ClientConnection, received: list[bool]) -> None:
        owner = self._owner
        async for frame in ws:
            received[0] = True
            owner.on_frame(self, frame)

    async def _keepalive(self, ws: ClientConnection) -> None:
        cfg = self._cfg
        timeout_ns = int(cfg.pong_timeout_s * _NS_PER_S)
        while True:
            await self._sleep_or_wake(cfg.ping_interval_s)
            self._wake.clear()
            if self._stopping:
                raise _Reconnect("stopped")
            if self._force_reason is not None:
                self.stats.forced += 1
                raise _Reconnect(f"forced:{self._force_reason}")
            if self._clock.monotonic_ns() - self.last_pong_ns > timeout_ns:
                self.stats.stalls += 1
                raise _Reconnect("stalled")
            reason = self._owner.watchdog(self)
            if reason is not None:
                self.stats.forced += 1
                raise _Reconnect(f"forced:{reason}")
            await ws.send(PING_TEXT)
            self.stats.pings += 1

    async def _sleep_or_wake(self, seconds: float) -> None:
        """Wait ``seconds`` or until :attr:`_wake` is set, whichever comes first.

        Not ``asyncio.wait_for(event.wait(), …)``: on Python 3.11 it swallows a cancellation
        that lands in the same loop iteration as the event (``stop()`` sets the event, then
        cancels), so the keepalive outlived ``stop()`` by a whole ``pong_timeout_s``.
        ``asyncio.timeout`` re-raises an outside cancellation whatever else happened.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
