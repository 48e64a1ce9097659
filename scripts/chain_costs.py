"""Gas and wall time of the on-chain port's calls on a local anvil.

Run: ``.venv/bin/python scripts/chain_costs.py`` (after ``make chain-tools``).

Starts anvil (chain id 137, a block per transaction), deploys the local contracts, and times
``OnChainCtf`` end to end — estimate, fees, sign, send, receipt — for approvals, merges and
redemptions of an EOA, and a merge through the local relayer for a Safe. The gas is what the
contracts written here use; Polymarket's own CTF, adapters and wallets will differ, and
Polygon's block time (~2 s) replaces anvil's instant mining.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time
from typing import Any

from eth_account import Account

from polyloly.adapters.polymarket.config import Secret, SignatureType
from polyloly.adapters.polymarket.ctf import (
    ChainConfig,
    ChainContracts,
    EoaSender,
    OnChainCtf,
    connect,
)
from polyloly.adapters.polymarket.relayer import RelayerSender
from polyloly.sim.chain.anvil import Anvil
from polyloly.sim.chain.deploy import ETHER, LocalChain
from polyloly.sim.chain.relayer import BuilderCreds, LocalRelayer

ONE = 1_000_000
ROUNDS = 20


def _config(chain: LocalChain) -> ChainConfig:
    d = chain.deployment
    contracts = ChainContracts(
        pusd=d.pusd,
        ctf=d.ctf,
        exchange=d.exchange,
        neg_risk_exchange=d.neg_risk_exchange,
        adapter=d.adapter,
        neg_risk_adapter=d.neg_risk_adapter,
    )
    return ChainConfig(
        rpc_url=Secret(d.rpc_url), chain_id=d.chain_id, contracts=contracts, poll_interval_s=0.01
    )


def _gas(port: OnChainCtf) -> int:
    if port.last is None:
        raise RuntimeError("no transaction recorded")
    return port.last.gas_used


def _row(name: str, gas: list[int], ms: list[float]) -> str:
    return (
        f"{name:<28} gas {statistics.median(gas):>8,.0f}   "
        f"wall median {statistics.median(ms):6.1f} ms  max {max(ms):6.1f} ms  (n={len(ms)})"
    )


async def main() -> None:
    node = Anvil(chain_id=137)
    await node.start()
    try:
        chain = await LocalChain.deploy(node.rpc_url)
        cfg = _config(chain)
        account = Account.create()
        await chain.fund(account.address, pusd=100_000 * ONE, gas_wei=100 * ETHER)
        w3 = connect(cfg)
        port = OnChainCtf(w3, cfg, EoaSender.of(w3, Secret("0x" + account.key.hex()), cfg))
        t = time.perf_counter()
        sent = await port.approve_missing()
        approve_ms = (time.perf_counter() - t) * 1000
        gas_approve = [
            int((await w3.eth.get_transaction_receipt(h))["gasUsed"])
            for h in sent  # type: ignore[arg-type]
        ]
        print(f"approvals: {len(sent)} sent in {approve_ms:.0f} ms, gas {sum(gas_approve):,} total")
        merge_gas, merge_ms, redeem_gas, redeem_ms = [], [], [], []
        for i in range(ROUNDS):
            market = await chain.new_market(f"costs {i}")
            await chain.stock(market, 1_000 * ONE)
            for token in (market.yes_token, market.no_token):
                await chain.settle(account.address, token, buy=True, shares=50 * ONE, cash=25 * ONE)
            t = time.perf_counter()
            await port.merge(market.condition_id, 30 * ONE)
            merge_ms.append((time.perf_counter() - t) * 1000)
            merge_gas.append(_gas(port))
            await chain.resolve(market, 0)
            t = time.perf_counter()
            await port.redeem(market.condition_id)
            redeem_ms.append((time.perf_counter() - t) * 1000)
            redeem_gas.append(_gas(port))
        print(_row("EOA merge (adapter)", merge_gas, merge_ms))
        print(_row("EOA redeem (adapter)", redeem_gas, redeem_ms))

        await _safe_merges(chain, w3, cfg)
    finally:
        node.stop()


async def _safe_merges(chain: LocalChain, w3: Any, cfg: ChainConfig) -> None:
    creds = BuilderCreds("k", base64.urlsafe_b64encode(b"s").decode(), "p")
    relayer = LocalRelayer(chain.w3, creds)
    await relayer.start()
    try:
        owner = Account.create()
        sender = RelayerSender.create(
            w3,
            Secret("0x" + owner.key.hex()),
            cfg,
            signature_type=SignatureType.POLY_GNOSIS_SAFE,
            relayer_url=relayer.url,
            builder=(Secret("k"), Secret(creds.secret), Secret("p")),
        )
        await sender.deploy()
        safe = OnChainCtf(w3, cfg, sender, holder=sender.wallet)
        await chain.fund(sender.wallet, pusd=10_000 * ONE)
        await safe.approve_missing()
        gas, ms = [], []
        for i in range(5):
            market = await chain.new_market(f"safe costs {i}")
            await chain.stock(market, 1_000 * ONE)
            for token in (market.yes_token, market.no_token):
                await chain.settle(sender.wallet, token, buy=True, shares=50 * ONE, cash=25 * ONE)
            t = time.perf_counter()
            await safe.merge(market.condition_id, 30 * ONE)
            ms.append((time.perf_counter() - t) * 1000)
            gas.append(_gas(safe))
        print(_row("Safe merge (local relayer)", gas, ms))
    finally:
        await relayer.stop()


if __name__ == "__main__":
    asyncio.run(main())
