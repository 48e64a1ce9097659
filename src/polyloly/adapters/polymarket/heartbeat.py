"""The exchange heartbeat: a dead-man switch that cancels our orders if the bot dies.

Once heartbeats have started, the venue cancels every open order of the key when no valid
one arrives for 10 s. :class:`HeartbeatLoop` runs the chain of
:mod:`~polyloly.adapters.polymarket.heartbeat_chain` over a :class:`~.http.HeartbeatPort`:
it posts ``/v1/heartbeats`` with the chained id, sends again at once with the id the venue
expects when it refuses ours (``Invalid Heartbeat ID``), retries a lost beat inside the
window, and bounds each attempt (``attempt_timeout``) so that a hung request cannot eat the
window. Its health is reported as :class:`~polyloly.domain.events.FeedStatus` events on
source ``polymarket.heartbeat``, only when it changes:

* ``OK`` on the first valid beat, and again on the first valid beat after a miss;
* ``DOWN`` when the window was really missed — the venue has cancelled our orders, and the
  execution layer must treat every open order as gone until reconciled — or when no chain
  could be started within one window (the dead-man switch is off).

A lost beat inside the window is no health change: the orders are still protected, and the
kill switch must not fire for it. What happened is counted in :attr:`HeartbeatLoop.stats`
(``ok``, ``retried``, ``id_adopted``, ``window_missed``…), exported as metrics.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §1 (``post_heartbeat``, the mismatch
reply, the 10 s rule).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

import structlog

from polyloly.adapters.polymarket.heartbeat_chain import (
    Accepted,
    Health,
    HeartbeatChain,
    HeartbeatStats,
    HeartbeatTiming,
    Lost,
    Mismatch,
    Outcome,
    Step,
)
from polyloly.adapters.polymarket.http import HeartbeatPort
from polyloly.adapters.polymarket.ws_common import cancel_and_wait
from polyloly.domain.events import Event, FeedState, FeedStatus
from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.runtime.errors import BackOffError, PolylolyError

__all__ = ["HEARTBEAT_SOURCE", "HeartbeatLoop"]

_log = structlog.get_logger(__name__)
HEARTBEAT_SOURCE: Final = "polymarket.heartbeat"
"""The ``FeedStatus.source`` of the heartbeat's health (an exchange feed for the risk gate)."""

Sleep = Callable[[float], Awaitable[None]]


class HeartbeatLoop:
    """Posts chained heartbeats on the chain's schedule and reports health changes.

    Parameters
    ----------
    port
        Where heartbeats go (:class:`~.http.ClobRest` or a fake).
    publish
        Synchronous event sink for :class:`FeedStatus` changes.
    clock
        Injected clock: the window is judged on its ``monotonic_ns``.
    timing
        The schedule and the venue's window (default: the venue's, beats every 5 s).
    sleep
        Waits between attempts (injected so tests can drive a virtual clock).
    """

    def __init__(
        self,
        port: HeartbeatPort,
        publish: Callable[[Event], None],
        clock: Clock,
        timing: HeartbeatTiming | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.timing = timing or HeartbeatTiming()
        self.chain = HeartbeatChain(self.timing, start_ns=clock.monotonic_ns())
        self.state: FeedState | None = None
        self._port = port
        self._publish = publish
        self._clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    @property
    def stats(self) -> HeartbeatStats:
        """What happened so far (``ok``, ``retried``, ``id_adopted``, ``window_missed``…)."""
        return self.chain.stats

    @property
    def health(self) -> Health:
        """The chain's health."""
        return self.chain.health

    def start(self) -> None:
        """Start beating (call inside the event loop)."""
        if self._task is None or self._task.done():
            if self.chain.health is Health.STARTING:  # "unarmed" counts from here
                self.chain.start_ns = self._clock.monotonic_ns()
            self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        """Stop beating. The venue will cancel our orders a window after the last beat.

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
            delay_ns = await self.beat()
            await self._sleep(delay_ns / NS_PER_S)

    async def beat(self) -> int:
        """Send one beat now, and again at once with the id the venue expects if it refuses
        ours; return how long to wait before the next beat (ns)."""
        chain = self.chain
        while True:
            sent = self._clock.monotonic_ns()
            outcome = await self._attempt(chain.sending())
            step = chain.apply(outcome, sent, self._clock.monotonic_ns())
            self._report(outcome, step)
            if step.delay_ns or not isinstance(outcome, Mismatch):
                return step.delay_ns

    async def _attempt(self, heartbeat_id: str) -> Outcome:
        limit_s = self.timing.attempt_timeout_ns / NS_PER_S
        try:
            async with asyncio.timeout(limit_s):
                ack = await self._port.heartbeat(heartbeat_id)
        except TimeoutError:
            return Lost(f"no reply within {limit_s:g} s")
        except BackOffError as exc:
            hint = round((exc.retry_after_s or 0.0) * NS_PER_S)
            return Lost(f"{type(exc).__name__}: {exc}", retry_after_ns=hint)
        except PolylolyError as exc:
            return Lost(f"{type(exc).__name__}: {exc}")
        return Accepted(ack.heartbeat_id) if ack.accepted else Mismatch(ack.heartbeat_id)

    def _report(self, outcome: Outcome, step: Step) -> None:
        retry_in_s = round(step.delay_ns / NS_PER_S, 3)
        if isinstance(outcome, Lost):
            _log.warning("heartbeat.lost", detail=outcome.reason, retry_in_s=retry_in_s)
        elif isinstance(outcome, Mismatch):
            _log.info("heartbeat.id_adopted", chain_gone=not outcome.expected_id)
        if not step.changed:
            return
        window_s = self.timing.window_ns / NS_PER_S
        if step.health is Health.OK:
            self._set(FeedState.OK, "heartbeat chain healthy")
        elif step.health is Health.MISSED:
            _log.error("heartbeat.window_missed", window_s=window_s)
            self._set(
                FeedState.DOWN,
                f"no valid heartbeat for {window_s:g} s: the venue has cancelled every order",
            )
        elif step.health is Health.UNARMED:
            self._set(
                FeedState.DOWN,
                f"no heartbeat chain within {window_s:g} s: the dead-man switch is off",
            )

    def _set(self, state: FeedState, detail: str) -> None:
        if state is self.state:
            return
        self.state = state
        now = self._clock.now_ns()
        try:
            self._publish(
                FeedStatus(
                    ts_event=now, ts_init=now, source=HEARTBEAT_SOURCE, state=state, detail=detail
                )
            )
        except Exception:  # the dead-man switch must keep beating
            _log.exception("heartbeat.publish_failed")
