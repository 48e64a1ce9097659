"""Fixtures of the exchange simulator tests: a started simulator on loopback, test keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from eth_account import Account
from py_clob_client_v2.client import ClobClient

from polyloly.runtime.clock import LiveClock, VirtualClock
from polyloly.sim.exchange import ExchangeSimulator, Listing, SimConfig, SimMarket

# Fixed, publicly known test keys (Hardhat's default accounts): never real funds.
KEY_1 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
KEY_2 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
KEY_3 = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


@dataclass
class Env:
    sim: ExchangeSimulator
    clock: VirtualClock
    market: Listing

    @property
    def yes(self) -> str:
        return self.market.token_ids[0]

    @property
    def no(self) -> str:
        return self.market.token_ids[1]

    def client(self, key: str = KEY_1, **kwargs: object) -> ClobClient:
        """A py-clob-client-v2 client with API creds (created or derived)."""
        client = ClobClient(self.sim.http_url, 137, key=key, **kwargs)  # type: ignore[arg-type]
        client.set_api_creds(client.create_or_derive_api_key())
        return client

    def advance(self, seconds: float) -> int:
        """Move the virtual clock and run what fell due."""
        self.clock.advance_ns(int(seconds * 1_000_000_000))
        return self.sim.run_due()


def lol_market(**overrides: object) -> SimMarket:
    base = {
        "question": "LoL: T1 vs Gen.G (BO3) - LCK",
        "outcomes": ("T1", "Gen.G"),
        "tick": 10_000,
        "min_size": 5_000_000,
        "fee_rate": 30_000,
        "game": "lol",
        "slug": "lol-t1-gen-2026-11-25",
        "event_slug": "lol-t1-gen-2026-11-25",
        "game_start_time": "2026-11-25T10:00:00Z",
    }
    base.update(overrides)
    return SimMarket(**base)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    """A started simulator on a virtual clock that starts at wall time (for auth headers)."""
    clock = VirtualClock(LiveClock().now_ns())
    config = SimConfig(seed=7, trade_mined_delay_ms=2_000, trade_confirmed_delay_ms=3_000)
    sim = ExchangeSimulator(config, clock=clock)
    market = sim.add_market(lol_market())
    await sim.start("127.0.0.1", 0)
    try:
        yield Env(sim, clock, market)
    finally:
        await sim.stop()


@pytest.fixture
def fresh_key() -> str:
    """A new random private key."""
    return "0x" + bytes(Account.create().key).hex()
