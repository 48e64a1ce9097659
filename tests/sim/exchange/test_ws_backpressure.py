"""Outbound back-pressure on the simulator's sockets: PONG jumps the data queue, and a slow
consumer is dropped (closed) only when its queue is truly full."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from tests.sim.exchange.conftest import Env
from tests.sim.exchange.wsutil import next_text
from websockets.asyncio.client import ClientConnection, connect

from polyloly.domain.events import Side
from polyloly.sim.exchange.feeds import MarketFrame

pytestmark = pytest.mark.asyncio

FLOOD_FRAMES = 4_000
FRAME_PAD = 4_000  # ~4 KB a frame: 16 MB of flood, several times what loopback buffers hold


def _subscribe(asset: str) -> str:
    return json.dumps({"type": "market", "assets_ids": [asset]})


@pytest_asyncio.fixture
async def slow_reader(env: Env) -> AsyncIterator[ClientConnection]:
    """A market client that reads only when the test does, with a small TCP window, so the
    exchange's writer backs up behind it instead of the kernel absorbing the flood."""
    env.sim.hub.queue_max = FLOOD_FRAMES
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", env.sim.port))
    sock.setblocking(False)
    async with connect(
        env.sim.market_ws_url, sock=sock, compression=None, max_queue=2, ping_interval=None
    ) as ws:
        await ws.send(_subscribe(env.yes))
        assert json.loads(await ws.recv())[0]["event_type"] == "book"
        yield ws


async def test_pong_overtakes_a_full_queue_of_data(env: Env, slow_reader: ClientConnection) -> None:
    hub = env.sim.hub
    frame = {
        "event_type": "price_change",
        "market": env.market.condition_id,
        "pad": "x" * FRAME_PAD,
    }
    for _ in range(FLOOD_FRAMES):
        hub.market(MarketFrame(frame, (env.yes,)))
    assert hub.queue_depths() == [FLOOD_FRAMES]  # full to the last slot: not dropped
    await slow_reader.send("PING")
    before = 0
    while (text := await slow_reader.recv()) != "PONG":
        assert json.loads(text)["event_type"] == "price_change"
        before += 1
    # Only what had already left the queue (socket buffers) precedes the PONG; behind the
    # queue it would have come after every one of the frames (or, with the queue full,
    # never at all).
    assert before < FLOOD_FRAMES // 2
    assert hub.queue_depths()[0] > 0
    assert (hub.dropped_slow, hub.connections) == (0, 1)
    # The data after the PONG is all there, in order.
    after = 0
    while after < FLOOD_FRAMES - before:
        assert json.loads(await slow_reader.recv())["event_type"] == "price_change"
        after += 1
    await slow_reader.send("PING")
    assert await slow_reader.recv() == "PONG"


async def test_slow_consumer_is_dropped_only_when_its_queue_is_full(env: Env) -> None:
    hub = env.sim.hub
    hub.queue_max = 4
    async with aiohttp.ClientSession() as session, session.ws_connect(env.sim.market_ws_url) as ws:
        await ws.send_str(_subscribe(env.yes))
        await next_text(ws)
        # A stalled writer drains nothing: the queue can only fill up.
        env.sim.faults.stall_ws()
        price = 100_000
        while hub.queue_depths() != [4]:
            env.sim.place_resting(env.yes, Side.BUY, price, 10_000_000)
            price += 10_000
            assert (hub.dropped_slow, hub.connections) == (0, 1)
            assert price < 300_000, "the queue never filled"
        env.sim.place_resting(env.yes, Side.BUY, price, 10_000_000)
        assert (hub.dropped_slow, hub.connections) == (1, 0)
        # Dropped means closed, not left open with its stream cut.
        msg = await ws.receive(timeout=5)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1013)
    env.sim.faults.clear()
