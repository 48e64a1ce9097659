"""Paper trading through the unchanged order manager, on the shared matching engine."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from polyloly.domain.events import (
    BookSnapshot,
    LastTrade,
    LevelChange,
    PriceChanges,
    Side,
    TimerTick,
)
from polyloly.domain.intents import MergeIntent, OrderType, PlaceOrderIntent
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionEngine, ExecutionPorts
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.paper import PaperConfig, PaperVenue
from polyloly.execution.ports import TradeStatus
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.testing.fakes import FakeSigner, RecordingAlerts, VirtualSleep

pytestmark = pytest.mark.asyncio

M, YES, NO = "0xpaper-market", "1", "2"


@dataclass
class Paper:
    clock: VirtualClock
    kernel: Kernel
    venue: PaperVenue
    engine: ExecutionEngine
    n: int = 0

    def book(
        self, token: str, bids: tuple[tuple[int, int], ...], asks: tuple[tuple[int, int], ...]
    ) -> None:
        now = self.clock.now_ns()
        self.kernel.publish(
            BookSnapshot(
                ts_event=now,
                ts_init=now,
                market=M,
                token_id=token,
                bids=bids,
                asks=asks,
                tick=10_000,
            )
        )

    async def order(
        self,
        side: Side,
        price: int,
        size: int,
        token: str = YES,
        order_type: OrderType = OrderType.GTC,
        *,
        notional: int | None = None,
    ) -> str:
        self.n += 1
        now = self.clock.now_ns()
        intent = PlaceOrderIntent(
            ts_event=now,
            ts_init=now,
            intent_id=f"paper:{self.n}",
            strategy="t",
            market=M,
            token_id=token,
            side=side,
            price=price,
            size=size,
            order_type=order_type,
            notional=size * price // SCALE if notional is None else notional,
        )
        self.kernel.publish(intent)
        await self.engine.idle()
        record = self.engine.state.order_for_client(intent.intent_id)
        assert record is not None
        return str(record.order_hash)

    def trade(self, side: Side, price: int, size: int, token: str = YES) -> None:
        now = self.clock.now_ns()
        self.kernel.publish(
            LastTrade(
                ts_event=now,
                ts_init=now,
                market=M,
                token_id=token,
                price=price,
                size=size,
                side=side,
            )
        )

    def tick(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.advance_ns(NS_PER_S)
            now = self.clock.now_ns()
            self.kernel.publish(TimerTick(ts_event=now, ts_init=now))

    def assert_matches_venue(self) -> None:
        state = self.engine.state
        assert state.collateral() == self.venue.balances_map["collateral"]
        for token in (YES, NO):
            assert state.position(token).expected == self.venue.balances_map.get(token, 0)


async def _paper() -> Paper:
    clock = VirtualClock(1_800_000_000 * NS_PER_S)
    kernel = Kernel(clock)
    venue = PaperVenue(clock, PaperConfig(starting_collateral=1_000 * SCALE))
    venue.add_market(M, (YES, NO), tick=10_000, min_size=5 * SCALE)
    alerts = RecordingAlerts()
    ports = ExecutionPorts(
        signer=FakeSigner(),
        venue=venue,
        account=venue,
        alerts=alerts,
        cancel_all=venue,
        merger=venue,
    )
    engine = ExecutionEngine(kernel, ports, sleep=VirtualSleep(clock))
    engine.attach()
    venue.attach(kernel)
    p = Paper(clock, kernel, venue, engine)
    p.book(YES, ((400_000, 100 * SCALE),), ((420_000, 150 * SCALE),))
    # Not the mirror of YES, so that cross-token (mint/merge) matches stay out of the way.
    p.book(NO, ((500_000, 100 * SCALE),), ((700_000, 100 * SCALE),))
    engine.start()
    await engine.idle()
    return p


async def test_marketable_buy_fills_at_the_ask_and_settles() -> None:
    p = await _paper()
    order = await p.order(Side.BUY, 420_000, 100 * SCALE)
    state = p.engine.state
    assert state.orders[order].state is OrderState.MATCHED
    pos = state.position(YES)
    assert pos.pending == 100 * SCALE
    fee = 730_800  # 100 × 0.03 × 0.42 × 0.58
    assert pos.cost == 42 * SCALE + fee
    p.tick(3)
    assert all(f.status is TradeStatus.MINED for f in state.fills.values())
    p.tick(5)
    assert state.position(YES).confirmed == 100 * SCALE
    p.assert_matches_venue()


async def test_marketable_buy_spends_its_amount_like_the_exchange() -> None:
    """A FAK BUY under a high limit buys what its pUSD amount buys at the asks, not its size."""
    p = await _paper()
    # notional: what 50 shares cost at the book (the risk gate checks the average against it)
    order = await p.order(
        Side.BUY, 600_000, 50 * SCALE, order_type=OrderType.FAK, notional=21 * SCALE
    )
    state = p.engine.state
    bought = 30 * SCALE * SCALE // 420_000  # 50 x 0.60 = 30 pUSD at the 0.42 ask
    assert state.position(YES).pending == bought
    assert state.orders[order].state is OrderState.MATCHED
    p.tick(8)
    assert state.position(YES).confirmed == bought
    p.assert_matches_venue()


async def test_resting_order_waits_for_the_queue_ahead() -> None:
    p = await _paper()
    order = await p.order(Side.BUY, 400_000, 20 * SCALE)  # behind 100 at 0.40
    p.trade(Side.SELL, 400_000, 50 * SCALE)
    await p.engine.idle()
    assert p.engine.state.orders[order].size_matched == 0
    # The level grows (liquidity joins behind us), then shrinks without a trade (taken
    # from behind us, pessimistically): neither moves us forward.
    for size in (80, 60):
        now = p.clock.now_ns()
        change = LevelChange(YES, Side.BUY, 400_000, size * SCALE)
        p.kernel.publish(PriceChanges(ts_event=now, ts_init=now, market=M, changes=(change,)))
    p.trade(Side.SELL, 400_000, 45 * SCALE)
    await p.engine.idle()
    assert p.engine.state.orders[order].size_matched == 0
    p.trade(Side.SELL, 400_000, 10 * SCALE)  # 5 ahead of us, then 5 of ours
    await p.engine.idle()
    assert p.engine.state.orders[order].size_matched == 5 * SCALE
    assert p.engine.state.orders[order].state is OrderState.PARTIALLY_MATCHED
    p.assert_matches_venue()


async def test_live_ask_crossing_our_bid_trades_with_us() -> None:
    p = await _paper()
    order = await p.order(Side.BUY, 410_000, 20 * SCALE)  # a new best bid
    p.book(YES, ((400_000, 100 * SCALE),), ((410_000, 50 * SCALE),))
    await p.engine.idle()
    assert p.engine.state.orders[order].state is OrderState.MATCHED
    p.assert_matches_venue()


async def test_liquidity_we_took_is_not_taken_twice() -> None:
    p = await _paper()
    await p.order(Side.BUY, 420_000, 100 * SCALE)
    p.book(YES, ((400_000, 100 * SCALE),), ((420_000, 150 * SCALE),))  # live level unchanged
    second = await p.order(Side.BUY, 420_000, 100 * SCALE)
    assert p.engine.state.orders[second].size_matched == 50 * SCALE


async def test_cancel_all_and_merge() -> None:
    p = await _paper()
    await p.order(Side.BUY, 420_000, 50 * SCALE)
    await p.order(Side.BUY, 700_000, 50 * SCALE, token=NO)
    p.tick(8)
    resting = await p.order(Side.BUY, 300_000, 20 * SCALE)
    assert await p.venue.open_orders()
    await p.venue.cancel_all()
    await p.engine.idle()
    assert p.engine.state.orders[resting].state is OrderState.CANCELED
    now = p.clock.now_ns()
    p.kernel.publish(
        MergeIntent(
            ts_event=now, ts_init=now, intent_id="mg", strategy="t", market=M, size=50 * SCALE
        )
    )
    await p.engine.idle()
    assert p.engine.state.position(YES).expected == 0
    p.assert_matches_venue()
