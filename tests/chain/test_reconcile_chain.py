"""A merge whose receipt never came in time (mining stalled) is not resent, and the ledger is
reconciled from the chain: kept while the balances do not show it, booked once they do.

The engine runs with the real on-chain port as its merger and the chain as the source of
balances (``ChainBalancesAccount``); orders and fills come from the in-memory venue, whose
balance changes are settled on the chain by the exchange stand-in, so the two agree.
"""

from __future__ import annotations

import pytest
from tests.conftest import RecordingSink

from polyloly.adapters.polymarket.ctf import EoaSender, OnChainCtf, connect
from polyloly.bot.chain import ChainBalancesAccount
from polyloly.domain.events import BookSnapshot, Side
from polyloly.domain.intents import MergeIntent, OrderType, PlaceOrderIntent
from polyloly.execution.engine import ExecutionEngine, ExecutionPorts
from polyloly.execution.events import (
    MergeCompleted,
    MergeFailed,
    ReconciliationCompleted,
    ReconciliationCorrection,
)
from polyloly.execution.ports import TradeStatus
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.sim.chain.deploy import LocalChain
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

from .conftest import ONE, chain_config, new_wallet

pytestmark = pytest.mark.asyncio


async def test_a_stalled_merge_is_not_resent_and_is_booked_from_the_chain(
    chain: LocalChain,
) -> None:
    wallet = await new_wallet(chain, pusd=1_000 * ONE)
    market = await chain.new_market("stalled merge")
    cid, yes, no = market.condition_id, market.yes_token, market.no_token
    cfg = chain_config(chain, receipt_timeout_s=1.0)
    w3 = connect(cfg)
    port = OnChainCtf(w3, cfg, EoaSender.of(w3, wallet.key, cfg), tokens_of=lambda _c: (yes, no))
    await port.approve_missing()
    await chain.stock(market, 10_000 * ONE)

    clock = VirtualClock(1_800_000_000 * NS_PER_S)
    sink = RecordingSink()
    kernel = Kernel(clock, sink)
    venue = FakeVenue({cid: (yes, no)}, collateral=1_000 * ONE, now_ns=clock.now_ns)
    venue.publish = kernel.publish
    ports = ExecutionPorts(
        signer=FakeSigner(),
        venue=venue,
        account=ChainBalancesAccount(venue, port),
        alerts=RecordingAlerts(),
        cancel_all=venue,
        merger=port,
    )
    engine = ExecutionEngine(
        kernel, ports, sleep=VirtualSleep(clock), tokens_of=lambda _m: (yes, no)
    )
    engine.attach()
    for token, bid, ask in ((yes, 400_000, 420_000), (no, 580_000, 600_000)):
        now = clock.now_ns()
        kernel.publish(
            BookSnapshot(ts_event=now, ts_init=now, market=cid, token_id=token,
                         bids=((bid, 1_000 * ONE),), asks=((ask, 1_000 * ONE),), tick=10_000)
        )  # fmt: skip
    engine.start()
    await engine.idle()  # the start-up pass adopts the chain's 1,000 pUSD as the baseline

    # buy 20 of each at the venue; the venue's balance changes are settled on the chain
    for i, (token, price) in enumerate(((yes, 420_000), (no, 560_000))):
        now = clock.now_ns()
        kernel.publish(
            PlaceOrderIntent(ts_event=now, ts_init=now, intent_id=f"t:{i}", strategy="t",
                             market=cid, token_id=token, side=Side.BUY, price=price,
                             size=20 * ONE, order_type=OrderType.GTC, notional=20 * price)
        )  # fmt: skip
        await engine.idle()
        record = engine.state.order_for_client(f"t:{i}")
        assert record is not None
        venue.fill(record.order_hash, 20 * ONE)
    venue.settle_all(TradeStatus.CONFIRMED)
    await engine.idle()
    spent = 1_000 * ONE - venue.balances_map["collateral"]
    await chain.send(chain.exchange().functions.move(wallet.address, [int(yes), int(no)],
                                                     [20 * ONE, 20 * ONE], -spent))  # fmt: skip
    before = engine.state.collateral()
    nonce = await chain.w3.eth.get_transaction_count(wallet.address)

    await chain.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    now = clock.now_ns()
    kernel.publish(
        MergeIntent(ts_event=now, ts_init=now, intent_id="t:merge", strategy="t", market=cid,
                    size=15 * ONE)
    )  # fmt: skip
    await engine.idle()
    (failed,) = sink.of(MergeFailed)
    assert failed.unknown
    assert "no receipt" in failed.error
    # the pass it asked for: the chain does not show the merge yet — kept, not dropped
    assert sink.of(ReconciliationCompleted)[-1].ok
    assert "t:merge" in engine.state.unknown_onchain
    assert engine.state.collateral() == before

    await chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    await chain.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert await chain.w3.eth.get_transaction_count(wallet.address) == nonce + 1  # sent once
    engine.reconciler.request()
    await engine.idle()
    kinds = [c.kind for c in sink.of(ReconciliationCorrection)]
    assert "merge_adopted" in kinds
    last = sink.of(ReconciliationCompleted)[-1]
    assert last.ok
    assert last.balances_checked
    assert engine.state.collateral() == before + 15 * ONE
    assert engine.state.position(yes).expected == 5 * ONE
    onchain = await port.balances([yes, no])
    assert onchain.collateral == engine.state.collateral()
    assert onchain.tokens == {yes: 5 * ONE, no: 5 * ONE}
    assert not sink.of(MergeCompleted)  # booked by reconciliation, not by a reply
    await port.aclose()
