"""Heartbeat loop: chained ids, health reporting, and the venue's dead-man switch."""

from __future__ import annotations

import pytest

from polyloly.adapters.polymarket.heartbeat import HeartbeatLoop
from polyloly.adapters.polymarket.http import HeartbeatAck
from polyloly.adapters.polymarket.signing import OrderSpec
from polyloly.bot.clock import NS_PER_S, LiveClock, VirtualClock
from polyloly.bot.errors import BackOffError, PolylolyError, RetryableError
from polyloly.domain.events import Event, FeedState, FeedStatus, Side
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, SimMarket

from .conftest import eventually, make_rest, wait_for


class FakeHeartbeats:
    """In-memory heartbeat endpoint: chains ids, fails on demand, rejects stale ids."""

    def __init__(self) -> None:
        self.current = ""
        self.seq = 0
        self.fail_with: list[PolylolyError] = []
        self.seen: list[str] = []

    async def heartbeat(self, heartbeat_id: str) -> HeartbeatAck:
        self.seen.append(heartbeat_id)
        if self.fail_with:
            raise self.fail_with.pop(0)
        if heartbeat_id != self.current:
            return HeartbeatAck(heartbeat_id=self.current, resynced=True)
        self.seq += 1
        self.current = f"hb-{self.seq}"
        return HeartbeatAck(heartbeat_id=self.current)


def _states(events: list[Event]) -> list[FeedState]:
    return [e.state for e in events if isinstance(e, FeedStatus)]


@pytest.mark.asyncio
async def test_chain_and_health_transitions() -> None:
    port = FakeHeartbeats()
    clock = VirtualClock(10**18)
    events: list[Event] = []
    loop = HeartbeatLoop(port, events.append, clock, interval_s=5)
    assert await loop.beat()
    assert await loop.beat()
    assert port.seen == ["", "hb-1"]
    assert _states(events) == [FeedState.OK]
    port.fail_with = [RetryableError("503"), BackOffError("429")]
    clock.advance_ns(5 * NS_PER_S)
    assert not await loop.beat()
    assert _states(events)[-1] is FeedState.STALE
    clock.advance_ns(6 * NS_PER_S)  # 11 s since the last good beat: the venue cancelled
    assert not await loop.beat()
    assert _states(events)[-1] is FeedState.DOWN
    assert await loop.beat()
    assert _states(events) == [FeedState.OK, FeedState.STALE, FeedState.DOWN, FeedState.OK]
    # Another process advanced the chain: the venue's id is adopted, not raised.
    port.current = "hb-other"
    assert await loop.beat()
    assert loop.resyncs == 1
    assert loop.heartbeat_id == "hb-other"
    assert await loop.beat()
    assert port.seen[-1] == "hb-other"


@pytest.mark.asyncio
async def test_dead_man_switch_against_the_exchange() -> None:
    sim = ExchangeSimulator(SimConfig(seed=3, heartbeat_timeout_s=1), clock=LiveClock())
    await sim.start(host="127.0.0.1", port=0)
    try:
        listing = sim.add_market(
            SimMarket(question="LoL: T1 vs Gen.G (BO3) - LCK", outcomes=("T1", "Gen.G"))
        )
        rest = await make_rest(sim)
        events: list[Event] = []
        loop = HeartbeatLoop(rest, events.append, LiveClock(), interval_s=0.1)
        loop.start()
        _, ack = await rest.create_and_post(
            OrderSpec(
                token_id=listing.token_ids[0],
                side=Side.BUY,
                price=300_000,
                size=5_000_000,
                tick=10_000,
            )
        )
        await wait_for(lambda: loop.sent >= 12, what="beats for over a second")
        assert loop.failures == 0
        assert [o.order_id for o in await rest.open_orders()] == [ack.order_id]
        await loop.stop()
        # No more beats: the venue cancels every order of the key.

        async def all_cancelled() -> bool:
            return await rest.open_orders() == []

        await eventually(all_cancelled, timeout_s=5, what="venue-side cancel")
        assert _states(events) == [FeedState.OK]
    finally:
        await sim.stop()
