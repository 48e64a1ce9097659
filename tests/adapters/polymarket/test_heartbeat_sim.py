"""The heartbeat loop against the local exchange over loopback, with a 3 s window.

The simulator runs the venue's chain exactly (``sim/exchange/heartbeats.py``); its faults
lose, delay and refuse beats. Lost beats must be recovered without a health change, a
refused id adopted within the beat, and a really missed window reported (the exchange has
cancelled the resting orders) and healed without a restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from polyloly.adapters.polymarket.heartbeat import HeartbeatLoop
from polyloly.adapters.polymarket.heartbeat_chain import Health, HeartbeatTiming
from polyloly.adapters.polymarket.http import ClobRest
from polyloly.adapters.polymarket.signing import OrderSpec
from polyloly.domain.events import Event, FeedState, FeedStatus, Side
from polyloly.runtime.clock import LiveClock
from polyloly.sim.exchange import ExchangeSimulator, Listing, SimConfig, SimMarket

from .conftest import eventually, make_rest, wait_for

pytestmark = pytest.mark.asyncio

WINDOW_S = 3.0
TIMING = HeartbeatTiming.from_seconds(interval_s=0.5, window_s=WINDOW_S, attempt_timeout_s=0.5)
HEARTBEATS = "/v1/heartbeats"


@pytest_asyncio.fixture
async def exchange() -> AsyncIterator[tuple[ExchangeSimulator, Listing]]:
    sim = ExchangeSimulator(SimConfig(seed=3, heartbeat_timeout_s=WINDOW_S), clock=LiveClock())
    listing = sim.add_market(
        SimMarket(question="LoL: T1 vs Gen.G (BO3) - LCK", outcomes=("T1", "Gen.G"))
    )
    sim.faults.hang_s = 1.0
    await sim.start(host="127.0.0.1", port=0)
    try:
        yield sim, listing
    finally:
        await sim.stop()


async def resting_order(rest: ClobRest, listing: Listing, price: int = 300_000) -> str:
    spec = OrderSpec(
        token_id=listing.token_ids[0], side=Side.BUY, price=price, size=5_000_000, tick=10_000
    )
    _, ack = await rest.create_and_post(spec)
    return ack.order_id


def states(events: list[Event]) -> list[FeedState]:
    return [e.state for e in events if isinstance(e, FeedStatus)]


async def test_lost_and_refused_beats_are_recovered_without_a_health_change(
    exchange: tuple[ExchangeSimulator, Listing],
) -> None:
    sim, listing = exchange
    rest = await make_rest(sim)
    order = await resting_order(rest, listing)
    events: list[Event] = []
    loop = HeartbeatLoop(rest, events.append, LiveClock(), TIMING)
    loop.start()
    try:
        await wait_for(lambda: loop.stats.ok >= 2, what="a running chain")
        faults = sim.faults
        # Two bursts, each well inside the window (both at once would leave little margin
        # on a loaded machine): beats that never reach the venue, then beats that count but
        # whose reply is lost or late, and a chain moved on behind our back.
        bursts: list[Callable[[], object]] = [
            lambda: (
                faults.http_errors(500, 1, HEARTBEATS),
                faults.http_errors(425, 1, HEARTBEATS),
                faults.http_errors(429, 1, HEARTBEATS),
                faults.http_timeouts(1, HEARTBEATS),  # hangs past the attempt's timeout
            ),
            lambda: (
                faults.lose_next_heartbeat_reply(2),  # the beat counts, the reply is lost
                faults.delay_next_heartbeat_reply(1, seconds=0.8),  # counts, answered late
                faults.heartbeat_mismatch(1),
            ),
        ]
        for arm in bursts:
            arm()
            ok_before = loop.stats.ok

            def consumed(ok_before: int = ok_before) -> bool:
                state = faults.state()
                idle = not state["http"] and not any(
                    state[k]
                    for k in (
                        "lose_heartbeat_replies",
                        "delay_heartbeat_replies",
                        "heartbeat_mismatches",
                    )
                )
                return idle and loop.stats.ok >= ok_before + 2

            await wait_for(consumed, timeout_s=20, what="the faults met and the chain beating")
    finally:
        await loop.stop()
    assert sim.venue.heartbeats.counts["expired"] == 0
    assert sim.order(order).status == "LIVE"  # type: ignore[union-attr]
    assert loop.stats.retried >= 7
    assert loop.stats.id_adopted >= 1  # faults may meet in one beat (a refusal whose reply is lost)
    assert loop.stats.window_missed == 0
    assert states(events) == [FeedState.OK]
    assert loop.chain.heartbeat_id == sim.venue.heartbeats.expected(rest.owner())


async def test_a_refused_id_is_adopted_within_one_beat(
    exchange: tuple[ExchangeSimulator, Listing],
) -> None:
    sim, _ = exchange
    rest = await make_rest(sim)
    loop = HeartbeatLoop(rest, lambda _e: None, LiveClock(), TIMING)
    await loop.beat()
    chains = sim.venue.heartbeats
    sim.faults.heartbeat_mismatch(1)
    assert await loop.beat() > TIMING.interval_ns // 2  # accepted: the next in an interval
    assert dict(chains.counts) == {"ok": 2, "rotated": 1, "mismatch": 1}
    sim.faults.lose_next_heartbeat_reply(1)
    assert await loop.beat() < TIMING.interval_ns // 2  # lost: a retry soon
    assert await loop.beat() > TIMING.interval_ns // 2  # refused, adopted, accepted: one beat
    assert dict(chains.counts) == {"ok": 4, "rotated": 1, "mismatch": 2}
    assert loop.stats.id_adopted == 2
    assert loop.chain.heartbeat_id == chains.expected(rest.owner())


async def test_a_missed_window_is_reported_after_the_exchange_cancelled_then_heals(
    exchange: tuple[ExchangeSimulator, Listing],
) -> None:
    sim, listing = exchange
    rest = await make_rest(sim)
    order = await resting_order(rest, listing)
    events: list[Event] = []
    loop = HeartbeatLoop(rest, events.append, LiveClock(), TIMING)
    loop.start()
    try:
        await wait_for(lambda: loop.stats.ok >= 1, what="a running chain")
        sim.faults.http_errors(503, 10_000, HEARTBEATS)  # every beat refused before the venue
        await wait_for(lambda: loop.health is Health.MISSED, what="the window missed")
        # The loop says so only once the exchange has really cancelled (or is about to: it
        # judges from the send time of the last valid beat, never later than the venue).
        await wait_for(lambda: sim.venue.heartbeats.counts["expired"] == 1, what="expiry")
        assert sim.order(order).status == "CANCELED"  # type: ignore[union-attr]
        assert states(events) == [FeedState.OK, FeedState.DOWN]
        sim.faults.clear()
        await wait_for(lambda: loop.health is Health.OK, what="the chain healed")
        assert states(events) == [FeedState.OK, FeedState.DOWN, FeedState.OK]
        assert loop.stats.chains_started == 2
        assert loop.stats.window_missed == 1
        again = await resting_order(rest, listing, price=310_000)
        await wait_for(lambda: loop.stats.ok >= 4, what="beats on the new chain")
        assert sim.order(again).status == "LIVE"  # type: ignore[union-attr]
    finally:
        await loop.stop()


async def test_the_exchange_cancels_every_order_once_the_beats_stop(
    exchange: tuple[ExchangeSimulator, Listing],
) -> None:
    sim, listing = exchange
    rest = await make_rest(sim)
    loop = HeartbeatLoop(rest, lambda _e: None, LiveClock(), TIMING)
    loop.start()
    order = await resting_order(rest, listing)
    await wait_for(lambda: loop.stats.ok >= 3, what="a few beats")
    await loop.stop()  # the bot dies: the dead-man switch cancels its orders

    async def cancelled() -> bool:
        return await rest.open_orders() == []

    await eventually(cancelled, timeout_s=10, what="venue-side cancel")
    assert sim.order(order).status == "CANCELED"  # type: ignore[union-attr]
