"""Proxy, Safe and deposit wallets (signature types 1–3): merge, redeem and approvals through
the official relayer client and a local relayer stand-in, on a real chain (id 137: the only
ids the client knows). The owner key has no gas: every call is relayed."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from eth_account import Account
from py_builder_relayer_client.builder.derive import derive_uups_deposit_wallet
from py_builder_relayer_client.config import get_contract_config

from polyloly.adapters.polymarket.config import Secret, SignatureType
from polyloly.adapters.polymarket.ctf import OnChainCtf, connect
from polyloly.adapters.polymarket.relayer import RelayerSender
from polyloly.runtime.errors import ConfigError, RejectError
from polyloly.sim.chain.anvil import Anvil
from polyloly.sim.chain.deploy import LocalChain
from polyloly.sim.chain.relayer import BuilderCreds, LocalRelayer

from .conftest import ONE, chain_config

pytestmark = pytest.mark.asyncio
CREDS = BuilderCreds("builder-key", base64.urlsafe_b64encode(b"builder-secret").decode(), "pass")
BUILDER = (Secret(CREDS.key), Secret(CREDS.secret), Secret(CREDS.passphrase))


@pytest_asyncio.fixture
async def polygon() -> AsyncIterator[tuple[LocalChain, LocalRelayer]]:
    node = Anvil(chain_id=137)
    await node.start()
    try:
        chain = await LocalChain.deploy(node.rpc_url)
        relayer = LocalRelayer(chain.w3, CREDS)
        await relayer.start()
        try:
            yield chain, relayer
        finally:
            await relayer.stop()
    finally:
        node.stop()


def sender_for(
    chain: LocalChain, relayer: LocalRelayer, kind: SignatureType, key: Secret, funder: str | None
) -> tuple[OnChainCtf, RelayerSender]:
    cfg = chain_config(chain)
    w3 = connect(cfg)
    sender = RelayerSender.create(
        w3, key, cfg, signature_type=kind, relayer_url=relayer.url, builder=BUILDER, funder=funder
    )
    return OnChainCtf(w3, cfg, sender, holder=sender.wallet), sender


@pytest.mark.parametrize(
    "kind",
    [SignatureType.POLY_PROXY, SignatureType.POLY_GNOSIS_SAFE, SignatureType.POLY_1271],
)
async def test_relayed_wallet_approves_merges_and_redeems(
    polygon: tuple[LocalChain, LocalRelayer], kind: SignatureType
) -> None:
    chain, relayer = polygon
    owner = Account.create()
    key = Secret("0x" + bytes(owner.key).hex())
    funder = None
    if kind is SignatureType.POLY_1271:  # the deposit wallet is named by the funder setting
        contracts = get_contract_config(137)
        funder = derive_uups_deposit_wallet(
            owner.address,
            contracts.deposit_wallet_factory,
            contracts.deposit_wallet_implementation,
        )
    ctf, sender = sender_for(chain, relayer, kind, key, funder)
    await sender.deploy()
    wallet = sender.wallet
    assert wallet != owner.address
    await chain.fund(wallet, pusd=100 * ONE)
    market = await chain.new_market(f"relayed {kind.name}")
    ctf.tokens_of = lambda _c: (market.yes_token, market.no_token)

    assert len(await ctf.approve_missing()) == 8
    assert all(s.ok for s in await ctf.read())
    await chain.stock(market, 1_000 * ONE)
    await chain.settle(wallet, market.yes_token, buy=True, shares=30 * ONE, cash=14 * ONE)
    await chain.settle(wallet, market.no_token, buy=True, shares=30 * ONE, cash=15 * ONE)
    before = await ctf.balances([market.yes_token, market.no_token])
    merged = await ctf.merge(market.condition_id, 20 * ONE)
    after = await ctf.balances([market.yes_token, market.no_token])
    assert after.collateral == before.collateral + 20 * ONE
    assert after.tokens == {market.yes_token: 10 * ONE, market.no_token: 10 * ONE}
    tx = await chain.w3.eth.get_transaction(merged.transaction_hash)  # type: ignore[arg-type]
    assert tx["from"] == chain.w3.to_checksum_address(wallet)  # executed as the wallet

    await chain.resolve(market, winner_index=1)
    redeemed = await ctf.redeem(market.condition_id)
    assert redeemed.payout == 10 * ONE
    assert await chain.w3.eth.get_balance(owner.address) == 0  # gasless for the owner


async def test_relayer_lost_reply_is_found_not_resubmitted(
    polygon: tuple[LocalChain, LocalRelayer],
) -> None:
    chain, relayer = polygon
    key = Secret("0x" + bytes(Account.create().key).hex())
    ctf, sender = sender_for(chain, relayer, SignatureType.POLY_GNOSIS_SAFE, key, None)
    await sender.deploy()
    market = await chain.new_market("lost relayer reply")
    await ctf.approve_missing()
    await chain.fund(sender.wallet, pusd=50 * ONE)
    await chain.stock(market, 1_000 * ONE)
    for token in (market.yes_token, market.no_token):
        await chain.settle(sender.wallet, token, buy=True, shares=10 * ONE, cash=5 * ONE)
    before = await ctf.balances([market.yes_token, market.no_token])
    submits = relayer.submits
    relayer.lose_next_reply = True
    await ctf.merge(market.condition_id, 10 * ONE)
    assert relayer.submits == submits + 1  # submitted once: found by its nonce, not resent
    after = await ctf.balances([market.yes_token, market.no_token])
    assert after.collateral == before.collateral + 10 * ONE


async def test_relayer_refuses_a_wrong_funder_and_bad_builder_credentials(
    polygon: tuple[LocalChain, LocalRelayer],
) -> None:
    chain, relayer = polygon
    key = Secret("0x" + bytes(Account.create().key).hex())
    with pytest.raises(ConfigError, match="is not this key's wallet"):
        sender_for(chain, relayer, SignatureType.POLY_GNOSIS_SAFE, key, "0x" + "12" * 20)
    cfg = chain_config(chain)
    w3 = connect(cfg)
    wrong = (Secret(CREDS.key), Secret(base64.urlsafe_b64encode(b"wrong").decode()), Secret("p"))
    sender = RelayerSender.create(
        w3, key, cfg, signature_type=SignatureType.POLY_PROXY, relayer_url=relayer.url,
        builder=wrong,
    )  # fmt: skip
    ctf = OnChainCtf(w3, cfg, sender, holder=sender.wallet)
    with pytest.raises(RejectError, match="401"):
        await ctf.approve_missing()
