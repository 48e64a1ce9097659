"""The exchange heartbeat: a dead-man switch that cancels our orders if the bot dies.

Once heartbeats have started, the venue cancels every open order of the key when none
arrives for 10 s. :class:`HeartbeatLoop` posts ``/v1/heartbeats`` every
``interval_s`` with the ``heartbeat_id`` chained from the previous reply (the first one
sends ``""``), and reports its health as :class:`~polyloly.domain.events.FeedStatus`
events on source ``polymarket.heartbeat``:

* ``OK`` when the first beat succeeds and whenever beats recover;
* ``STALE`` on the first failure (orders are still protected by earlier beats);
* ``DOWN`` when no beat has succeeded for 10 s: the venue has cancelled our orders, and
  the execution layer must treat every open order as gone until reconciled.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §1 (``post_heartbeat``, 10 s rule).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

import structlog

from polyloly.adapters.polymarket.constants import HEARTBEAT_TIMEOUT_S
from polyloly.adapters.polymarket.http import HeartbeatPort
from polyloly.adapters.polymarket.ws_common import cancel_and_wait
from polyloly.bot.clock import Clock
from polyloly.bot.errors import PolylolyError
from polyloly.domain.events import Event, FeedState, FeedStatus

__all__ = ["HeartbeatLoop"]

_log = structlog.get_logger(__name__)
_SOURCE: Final = "polymarket.heartbeat"
_NS_PER_S: Final = 1_000_000_000


class HeartbeatLoop:
    """Posts chained heartbeats on a timer and reports health changes.

    Parameters
    ----------
    port
        Where heartbeats go (:class:`~.http.ClobRest` or a fake).
    publish
        Synchronous event sink for :class:`FeedStatus` changes.
    clock
        Injected clock (``monotonic_ns`` measures time since the last good beat).
    interval_s
        Time between beats; must stay well under the venue's 10 s.
    """

    def __init__(
        self,
        port: HeartbeatPort,
        publish: Callable[[Event], None],
        clock: Clock,
        interval_s: float = 5.0,
    ) -> None:
        self.heartbeat_id = ""
        self.sent = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.resyncs = 0
        self.state: FeedState | None = None
        self.last_ok_ns: int | None = None
        self._port = port
        self._publish = publish
        self._clock = clock
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start beating (call inside the event loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        """Stop beating. The venue will cancel our orders 10 s after the last beat.

        If the caller is cancelled while waiting (a timeout around ``stop()``, a shutdown),
        the cancellation propagates; the loop's task keeps its reference until it has
        ended, so calling ``stop()`` again waits for the rest.
        """
        task = self._task
        if task is None:
            return
        await cancel_and_wait(task)
        if self._task is task:
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(self._interval_s)

    async def beat(self) -> bool:
        """Send one heartbeat now; return whether it succeeded."""
        self.sent += 1
        try:
            ack = await self._port.heartbeat(self.heartbeat_id)
        except PolylolyError as exc:
            self.failures += 1
            self.consecutive_failures += 1
            self._on_failure(f"{type(exc).__name__}: {exc}")
            return False
        self.heartbeat_id = ack.heartbeat_id
        if ack.resynced:
            self.resyncs += 1
        self.consecutive_failures = 0
        self.last_ok_ns = self._clock.monotonic_ns()
        self._set(FeedState.OK, "heartbeat ok")
        return True

    def _on_failure(self, detail: str) -> None:
        _log.warning("heartbeat.failed", detail=detail, consecutive=self.consecutive_failures)
        last = self.last_ok_ns
        overdue = (last is None and self.consecutive_failures > 1) or (
            last is not None
            and self._clock.monotonic_ns() - last >= HEARTBEAT_TIMEOUT_S * _NS_PER_S
        )
        if overdue:
            self._set(FeedState.DOWN, f"no heartbeat for {HEARTBEAT_TIMEOUT_S} s: {detail}")
        elif self.state is not FeedState.DOWN:
            self._set(FeedState.STALE, detail)

    def _set(self, state: FeedState, detail: str) -> None:
        if state is self.state:
            return
        self.state = state
        now = self._clock.now_ns()
        try:
            self._publish(
                FeedStatus(ts_event=now, ts_init=now, source=_SOURCE, state=state, detail=detail)
            )
        except Exception:  # the dead-man switch must keep beating
            _log.exception("heartbeat.publish_failed")
