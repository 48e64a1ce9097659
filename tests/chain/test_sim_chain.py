"""The exchange simulator settling on a real chain: a pair bought through the CLOB is merged
on-chain, a winner redeemed, and the simulator's ledger agrees with the chain throughout."""

from __future__ import annotations

import pytest
from eth_account import Account

from polyloly.adapters.polymarket.config import PolymarketConfig, Secret, WalletConfig
from polyloly.adapters.polymarket.ctf import EoaSender, OnChainCtf, connect
from polyloly.adapters.polymarket.factory import build_clob_client, build_signer
from polyloly.adapters.polymarket.http import ClobRest
from polyloly.adapters.polymarket.signing import OrderSpec
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.errors import RejectError
from polyloly.sim.chain.bridge import ChainBridge
from polyloly.sim.chain.deploy import LocalChain
from polyloly.sim.exchange import ExchangeSimulator, SimMarket

from .conftest import ONE, chain_config

pytestmark = pytest.mark.asyncio


async def test_pair_bought_on_the_simulator_is_merged_and_redeemed_on_chain(
    chain: LocalChain, sim_on_chain: tuple[ExchangeSimulator, ChainBridge]
) -> None:
    sim, bridge = sim_on_chain
    listing = sim.add_market(
        SimMarket(question="LoL: T1 vs Gen.G - Game 1 Winner", outcomes=("T1", "Gen.G"), slug="g1")
    )
    yes, no = listing.token_ids
    sim.place_resting(yes, Side.SELL, 450_000, 1_000 * ONE)
    sim.place_resting(no, Side.SELL, 480_000, 1_000 * ONE)
    account = Account.create()
    key = Secret("0x" + bytes(account.key).hex())
    config = PolymarketConfig(clob_url=sim.http_url, wallet=WalletConfig(private_key=key))
    clock = LiveClock()
    rest = ClobRest(build_clob_client(config), build_signer(config, clock), clock)
    await rest.derive_creds()  # the simulator opens (and the chain funds) the account
    await bridge.settled()
    # the wallet approves the exchange and the adapters on the chain, as a real one must
    cfg = chain_config(chain)
    w3 = connect(cfg)
    ctf = OnChainCtf(w3, cfg, EoaSender.of(w3, key, cfg), tokens_of=lambda _c: (yes, no))
    early = OrderSpec(
        token_id=yes, side=Side.BUY, price=500_000, size=5 * ONE, tick=10_000,
        order_type=OrderType.GTC,
    )  # fmt: skip
    with pytest.raises(RejectError, match="not enough balance / allowance"):
        await rest.create_and_post(early)  # nothing approved on the chain yet
    await ctf.approve_missing()
    await bridge.settled()  # the CLOB's allowance follows the chain's
    start = await ctf.balances([yes, no])
    assert start.collateral == sim.config.starting_balance

    size = 20 * ONE
    for token in (yes, no):
        spec = OrderSpec(
            token_id=token,
            side=Side.BUY,
            price=500_000,
            size=size,
            tick=10_000,
            order_type=OrderType.GTC,
        )
        _signed, ack = await rest.create_and_post(spec)
        assert ack.status == "matched"
    await bridge.settled()
    bought = await ctf.balances([yes, no])
    clob = await rest.balances([yes, no])
    assert bought.tokens == {yes: size, no: size} == clob.tokens
    assert bought.collateral == clob.collateral < start.collateral  # cost and fees paid on-chain

    result = await ctf.merge(listing.condition_id, 15 * ONE)
    merged = await ctf.balances([yes, no])
    assert merged.collateral == bought.collateral + 15 * ONE
    assert merged.tokens == {yes: 5 * ONE, no: 5 * ONE}
    await bridge.settled()
    clob = await rest.balances([yes, no])  # the CLOB saw the merge on the chain
    assert (clob.collateral, dict(clob.tokens)) == (merged.collateral, merged.tokens)
    assert result.transaction_hash.startswith("0x")

    sim.resolve(listing.condition_id, yes)
    await bridge.settled()
    redeemed = await ctf.redeem(listing.condition_id)
    assert redeemed.payout == 5 * ONE
    final = await ctf.balances([yes, no])
    assert final.tokens == {yes: 0, no: 0}
    await bridge.settled()
    clob = await rest.balances([yes, no])
    assert (clob.collateral, dict(clob.tokens)) == (final.collateral, final.tokens)
    assert bridge.failures == []
