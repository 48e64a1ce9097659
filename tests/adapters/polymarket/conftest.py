"""Shared builders for the Polymarket adapter tests: a running local exchange."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import pytest_asyncio

from polyloly.adapters.polymarket.config import (
    PolymarketConfig,
    Secret,
    SignatureType,
    WalletConfig,
    WsConfig,
)
from polyloly.adapters.polymarket.factory import build_clob_client, build_signer
from polyloly.adapters.polymarket.http import (
    ClobRest,
    configure_http_transport,
    restore_http_transport,
)
from polyloly.runtime.clock import LiveClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig

FAST_WS = WsConfig(
    ping_interval_s=0.05,
    pong_timeout_s=0.4,
    reconnect_initial_s=0.01,
    reconnect_max_s=0.1,
    reconnect_jitter=0.5,
    resync_timeout_s=1.5,
    open_timeout_s=3.0,
)
"""Real sockets, short intervals: stalls are detected in under half a second."""


@pytest.fixture(autouse=True)
def _clob_http_timeout() -> Iterator[None]:
    """A short library HTTP timeout for these tests, restored afterwards (it is global)."""
    previous = configure_http_transport(1.0)
    try:
        yield
    finally:
        restore_http_transport(previous)


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[ExchangeSimulator]:
    """A local exchange on a free loopback port."""
    simulator = ExchangeSimulator(
        SimConfig(seed=7, trade_mined_delay_ms=50, trade_confirmed_delay_ms=100),
        clock=LiveClock(),
    )
    await simulator.start(host="127.0.0.1", port=0)
    try:
        yield simulator
    finally:
        await simulator.stop()


async def wait_for(cond: Callable[[], bool], timeout_s: float = 10.0, what: str = "") -> None:
    """Poll ``cond`` on the event loop until it holds (fails the test after ``timeout_s``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.01)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0, what: str = ""
) -> None:
    """Like :func:`wait_for` for an async check (e.g. a REST read)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


TEST_KEY = "0x" + "59" * 32


async def make_rest(
    sim: ExchangeSimulator,
    sig_type: SignatureType = SignatureType.EOA,
    funder: str | None = None,
    key: str = TEST_KEY,
) -> ClobRest:
    """A REST port for a wallet on the local exchange, with its API key derived."""
    config = PolymarketConfig(
        clob_url=sim.http_url,
        wallet=WalletConfig(private_key=Secret(key), signature_type=sig_type, funder=funder),
    )
    clock = LiveClock()
    rest = ClobRest(build_clob_client(config), build_signer(config, clock), clock)
    await rest.derive_creds()
    return rest
