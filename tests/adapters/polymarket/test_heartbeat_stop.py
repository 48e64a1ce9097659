"""``HeartbeatLoop.stop`` lets the caller's cancellation through and still ends the loop."""

from __future__ import annotations

import asyncio

import pytest

from polyloly.adapters.polymarket.heartbeat import HeartbeatLoop
from polyloly.adapters.polymarket.heartbeat_chain import HeartbeatTiming
from polyloly.adapters.polymarket.http import HeartbeatAck
from polyloly.domain.events import Event
from polyloly.runtime.clock import VirtualClock


class SlowToDiePort:
    """A heartbeat call that hangs, and whose cancellation takes until ``release``."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.cancel_seen = asyncio.Event()
        self.release = asyncio.Event()

    async def heartbeat(self, heartbeat_id: str) -> HeartbeatAck:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancel_seen.set()
            await self.release.wait()  # cleanup that takes a while
            raise
        return HeartbeatAck(heartbeat_id=heartbeat_id)  # pragma: no cover - never reached


@pytest.mark.asyncio
async def test_stop_propagates_the_callers_cancellation() -> None:
    port = SlowToDiePort()
    events: list[Event] = []
    loop = HeartbeatLoop(port, events.append, VirtualClock(10**18), HeartbeatTiming())
    loop.start()
    await port.entered.wait()
    stopper = asyncio.create_task(loop.stop())
    await port.cancel_seen.wait()  # stop() cancelled the beat and now waits for it to end
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert stopper.cancelled()
    # The loop is still ending; a second stop() waits for the rest, then it is gone.
    port.release.set()
    await loop.stop()
    assert loop._task is None
    assert events == []


@pytest.mark.asyncio
async def test_stop_inside_a_timeout_raises_timeout() -> None:
    port = SlowToDiePort()
    loop = HeartbeatLoop(port, lambda _e: None, VirtualClock(10**18), HeartbeatTiming())
    loop.start()
    await port.entered.wait()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await loop.stop()
    port.release.set()
    await loop.stop()
    assert loop._task is None


@pytest.mark.asyncio
async def test_stop_without_start_and_twice_is_harmless() -> None:
    port = SlowToDiePort()
    port.release.set()
    loop = HeartbeatLoop(port, lambda _e: None, VirtualClock(10**18), HeartbeatTiming())
    await loop.stop()
    loop.start()
    await port.entered.wait()
    await loop.stop()
    await loop.stop()
    assert loop._task is None
