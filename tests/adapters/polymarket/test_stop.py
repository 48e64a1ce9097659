"""Stopping is prompt whatever the sockets are doing, against a live local exchange.

The sockets run with the production intervals (10 s pings, 30 s stall timeout, backoff up
to 30 s), so a stop that waited for a keepalive round, a stall verdict or a backoff sleep
would blow the bound by an order of magnitude. The bound is generous for loopback (a
clean stop takes a few milliseconds); it is there to catch waits, not to benchmark.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
from collections.abc import AsyncIterator, Awaitable

import pytest
import pytest_asyncio

from polyloly.adapters.polymarket.config import (
    ApiCredentials,
    PolymarketConfig,
    Secret,
    WalletConfig,
    WsConfig,
)
from polyloly.adapters.polymarket.events import UserResync
from polyloly.adapters.polymarket.factory import create_adapter
from polyloly.adapters.polymarket.http import ClobRest
from polyloly.adapters.polymarket.ws_common import cancel_and_wait
from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.adapters.polymarket.ws_user import UserWsClient
from polyloly.domain.events import Event, FeedState, FeedStatus
from polyloly.runtime.clock import LiveClock
from polyloly.sim.exchange import ExchangeSimulator, Listing, SimMarket

from .conftest import TEST_KEY, make_rest, wait_for

STOP_BOUND_S = 2.0
PRODUCTION_WS = WsConfig()


async def _timed(stop: Awaitable[None]) -> float:
    """Run ``stop`` and return how long it took; fail the test past the bound."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(STOP_BOUND_S):
            await stop
    except TimeoutError:
        pytest.fail(f"stop() took more than {STOP_BOUND_S} s")
    elapsed = loop.time() - started
    # Also checked after the fact: a stop() that swallowed the timeout's cancellation
    # would return late without raising.
    assert elapsed < STOP_BOUND_S, f"stop() took {elapsed:.1f} s"
    return elapsed


def _listing(sim: ExchangeSimulator) -> Listing:
    return sim.add_market(
        SimMarket(
            question="LoL: T1 vs Gen.G (BO3) - LCK",
            outcomes=("T1", "Gen.G"),
            slug="lol-t1-gen-2026-11-25",
        )
    )


def _downs(events: list[Event]) -> list[FeedStatus]:
    return [e for e in events if isinstance(e, FeedStatus) and e.state is FeedState.DOWN]


@pytest.mark.asyncio
async def test_adapter_stop_is_prompt_while_the_exchange_is_up(sim: ExchangeSimulator) -> None:
    listing = _listing(sim)
    config = PolymarketConfig(
        clob_url=sim.http_url,
        market_ws_url=sim.market_ws_url,
        user_ws_url=sim.user_ws_url,
        gamma_url=sim.gamma_url,
        wallet=WalletConfig(private_key=Secret(TEST_KEY)),
        ws=PRODUCTION_WS,
    )
    events: list[Event] = []
    adapter = await create_adapter(config, events.append, LiveClock(), rand=random.Random(2).random)
    user = adapter.user_ws
    heartbeat = adapter.heartbeat
    assert user is not None
    assert heartbeat is not None
    adapter.start()
    try:
        await adapter.market_ws.subscribe(listing.token_ids)
        await wait_for(
            lambda: all(adapter.market_ws.in_sync(t) for t in listing.token_ids), what="books"
        )
        await wait_for(lambda: any(isinstance(e, UserResync) for e in events), what="catch-up")
        await wait_for(lambda: heartbeat.state is FeedState.OK, what="first heartbeat")
        assert sim.hub.connections == 2
    finally:
        await _timed(adapter.stop())

    sockets = [*adapter.market_ws.sockets, user.socket]
    assert all(s is not None and not s.connected for s in sockets)
    # Both connections went through the close handshake: the exchange saw them go.
    await wait_for(lambda: sim.hub.connections == 0, timeout_s=STOP_BOUND_S, what="closed")
    assert {e.detail.rsplit(": ", 1)[-1] for e in _downs(events)} >= {"stopped"}


async def _connect_and_stop(sim: ExchangeSimulator, creds: ApiCredentials, rest: ClobRest) -> None:
    events: list[Event] = []
    user = UserWsClient(
        sim.user_ws_url, creds, rest, events.append, LiveClock(), config=PRODUCTION_WS
    )
    user.start()
    await wait_for(lambda: any(isinstance(e, UserResync) for e in events), what="caught up")
    await _timed(user.stop())
    assert _downs(events)[-1].detail == "stopped"


@pytest.mark.asyncio
async def test_user_channel_stop_is_prompt_once_caught_up(sim: ExchangeSimulator) -> None:
    rest = await make_rest(sim)
    creds = await rest.derive_creds()
    for _ in range(3):
        await _connect_and_stop(sim, creds, rest)
    await wait_for(lambda: sim.hub.connections == 0, timeout_s=STOP_BOUND_S, what="closed")


@pytest.mark.asyncio
async def test_stop_right_after_a_forced_reconnect(sim: ExchangeSimulator) -> None:
    listing = _listing(sim)
    client = MarketWsClient(sim.market_ws_url, lambda _e: None, LiveClock(), PRODUCTION_WS)
    await client.subscribe(listing.token_ids)
    client.start()
    await wait_for(lambda: all(client.in_sync(t) for t in listing.token_ids), what="books")
    [sock] = client.sockets
    sock.request_reconnect("test")
    await _timed(client.stop())
    assert not sock.connected


@pytest.mark.asyncio
async def test_many_shards_stop_together(sim: ExchangeSimulator) -> None:
    tokens = [t for n in range(3) for t in _multi(sim, n).token_ids]
    config = dataclasses.replace(PRODUCTION_WS, max_assets_per_connection=1)
    client = MarketWsClient(sim.market_ws_url, lambda _e: None, LiveClock(), config)
    await client.subscribe(tokens)
    client.start()
    await wait_for(lambda: all(client.in_sync(t) for t in tokens), what="books")
    assert len(client.sockets) == 6
    await _timed(client.stop())
    await wait_for(lambda: sim.hub.connections == 0, timeout_s=STOP_BOUND_S, what="closed")


def _multi(sim: ExchangeSimulator, n: int) -> Listing:
    return sim.add_market(
        SimMarket(question=f"LoL: A{n} vs B{n} (BO3) - Test", outcomes=(f"A{n}", f"B{n}"))
    )


def _refused_url() -> str:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"ws://127.0.0.1:{port}/ws/market"


@pytest.mark.asyncio
async def test_stop_while_backing_off() -> None:
    config = dataclasses.replace(PRODUCTION_WS, reconnect_initial_s=30.0, reconnect_jitter=0.0)
    events: list[Event] = []
    client = MarketWsClient(_refused_url(), events.append, LiveClock(), config)
    await client.subscribe(["token"])
    client.start()
    [sock] = client.sockets
    await wait_for(lambda: sock.stats.failed_connects >= 1, what="a refused connect")
    await _timed(client.stop())


@dataclasses.dataclass
class SilentServer:
    """Accepts TCP connections and never answers the WebSocket handshake."""

    url: str = ""
    requests: int = 0

    async def hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the client's upgrade request
        self.requests += 1
        await reader.read()  # until the client gives up
        writer.close()


@pytest_asyncio.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    """A :class:`SilentServer` on a free loopback port."""
    silent = SilentServer()
    server = await asyncio.start_server(silent.hold, "127.0.0.1", 0)
    silent.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws/market"
    try:
        yield silent
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_stop_during_the_opening_handshake(silent_server: SilentServer) -> None:
    client = MarketWsClient(silent_server.url, lambda _e: None, LiveClock(), PRODUCTION_WS)
    await client.subscribe(["token"])
    client.start()
    await wait_for(lambda: silent_server.requests == 1, what="the upgrade request")
    await _timed(client.stop())
    [sock] = client.sockets
    assert sock.stats.connects == 0


@pytest.mark.asyncio
async def test_cancel_and_wait_lets_the_callers_cancellation_through() -> None:
    release = asyncio.Event()

    async def slow_to_die() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # cleanup that takes a while
            raise

    task = asyncio.create_task(slow_to_die())
    await asyncio.sleep(0)  # let it start
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await cancel_and_wait(task)
    release.set()
    await cancel_and_wait(task)
    assert task.cancelled()
