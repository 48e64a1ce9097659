"""A real local chain per test: anvil on a free loopback port, the contracts deployed.

anvil and solcjs come from the Makefile's set-up (npm ci): a test fails, never skips, when
they are missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from eth_account import Account

from polyloly.adapters.polymarket.config import Secret
from polyloly.adapters.polymarket.ctf import ChainConfig, ChainContracts
from polyloly.runtime.clock import LiveClock
from polyloly.sim.chain.anvil import Anvil
from polyloly.sim.chain.bridge import ChainBridge
from polyloly.sim.chain.deploy import ETHER, LocalChain
from polyloly.sim.exchange import ExchangeSimulator, SimConfig

ONE = 1_000_000


@dataclass
class Wallet:
    """A fresh EOA funded with pUSD and gas."""

    key: Secret
    address: str


def contracts_of(chain: LocalChain) -> ChainContracts:
    d = chain.deployment
    return ChainContracts(
        pusd=d.pusd,
        ctf=d.ctf,
        exchange=d.exchange,
        neg_risk_exchange=d.neg_risk_exchange,
        adapter=d.adapter,
        neg_risk_adapter=d.neg_risk_adapter,
    )


def chain_config(chain: LocalChain, rpc_url: str | None = None, **kw: object) -> ChainConfig:
    return ChainConfig(
        rpc_url=Secret(rpc_url or chain.deployment.rpc_url),
        chain_id=chain.deployment.chain_id,
        contracts=contracts_of(chain),
        poll_interval_s=0.05,
        **kw,  # type: ignore[arg-type]
    )


@pytest_asyncio.fixture
async def chain() -> AsyncIterator[LocalChain]:
    node = Anvil()
    await node.start()
    try:
        yield await LocalChain.deploy(node.rpc_url)
    finally:
        node.stop()


async def new_wallet(chain: LocalChain, pusd: int = 1_000 * ONE) -> Wallet:
    account = Account.create()
    await chain.fund(account.address, pusd=pusd, gas_wei=10 * ETHER)
    return Wallet(Secret("0x" + bytes(account.key).hex()), account.address)


@pytest_asyncio.fixture
async def sim_on_chain(chain: LocalChain) -> AsyncIterator[tuple[ExchangeSimulator, ChainBridge]]:
    sim = ExchangeSimulator(
        SimConfig(seed=3, trade_mined_delay_ms=20, trade_confirmed_delay_ms=40), clock=LiveClock()
    )
    bridge = ChainBridge(chain, sim.venue)
    bridge.attach()
    await sim.start(host="127.0.0.1", port=0)
    await bridge.start()
    try:
        yield sim, bridge
    finally:
        await bridge.stop()
        await sim.stop()
