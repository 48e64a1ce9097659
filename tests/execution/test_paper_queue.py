"""Paper queue position when live levels shrink: synthetic liquidity is reduced in place."""

from __future__ import annotations

import pytest

from polyloly.bot.clock import NS_PER_S, VirtualClock
from polyloly.bot.kernel import Kernel
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    LastTrade,
    LevelChange,
    PriceChanges,
    Side,
)
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import BookOrder
from polyloly.domain.money import SCALE
from polyloly.execution.events import OrderUpdate
from polyloly.execution.fakes import FakeSigner
from polyloly.execution.paper import PaperConfig, PaperVenue
from polyloly.execution.ports import OrderSpec

pytestmark = pytest.mark.asyncio

M, YES, NO = "0xpaper-queue", "1", "2"
BID = 400_000


class _Paper:
    def __init__(self) -> None:
        self.clock = VirtualClock(1_800_000_000 * NS_PER_S)
        self.kernel = Kernel(self.clock)
        self.events: list[Event] = []
        self.kernel.subscribe_all(self.events.append)
        self.venue = PaperVenue(self.clock, PaperConfig(starting_collateral=1_000 * SCALE))
        self.venue.add_market(M, (YES, NO), tick=10_000, min_size=5 * SCALE)
        self.venue.attach(self.kernel)
        self.signer = FakeSigner()

    def publish_book(self, bids: tuple[tuple[int, int], ...]) -> None:
        now = self.clock.now_ns()
        self.kernel.publish(
            BookSnapshot(
                ts_event=now,
                ts_init=now,
                market=M,
                token_id=YES,
                bids=bids,
                asks=((700_000, 100 * SCALE),),
                tick=10_000,
            )
        )

    def level(self, size: int) -> None:
        now = self.clock.now_ns()
        change = LevelChange(YES, Side.BUY, BID, size)
        self.kernel.publish(PriceChanges(ts_event=now, ts_init=now, market=M, changes=(change,)))

    def trade(self, size: int) -> None:
        now = self.clock.now_ns()
        self.kernel.publish(
            LastTrade(
                ts_event=now,
                ts_init=now,
                market=M,
                token_id=YES,
                price=BID,
                size=size,
                side=Side.SELL,
            )
        )

    async def bid(self, size: int) -> str:
        spec = OrderSpec(
            client_id="c1",
            market=M,
            token_id=YES,
            side=Side.BUY,
            price=BID,
            size=size,
            order_type=OrderType.GTC,
            salt=1,
            timestamp_ms=1,
        )
        signed = self.signer.sign(spec)
        await self.venue.submit(signed)
        return signed.order_hash

    def bids(self) -> list[BookOrder]:
        """Resting YES bids in queue order."""
        return [o for o in self.venue.engine.resting() if o.side is Side.BUY]

    def matched(self, order_hash: str) -> int:
        updates = [
            e.order.size_matched
            for e in self.events
            if isinstance(e, OrderUpdate) and e.order.order_hash == order_hash
        ]
        return updates[-1] if updates else 0


async def test_shrinking_liquidity_ahead_of_us_keeps_us_behind_what_is_left() -> None:
    p = _Paper()
    p.publish_book(((BID, 100 * SCALE),))
    ours = await p.bid(20 * SCALE)
    # The live level shrinks to 40 without a trade: only synthetic liquidity is there to
    # lose, and the order ahead of us shrinks in place rather than being re-queued.
    p.level(40 * SCALE)
    assert p.venue.engine.levels(YES, Side.BUY) == [(BID, 60 * SCALE)]
    ahead = [o for o in p.bids() if o.owner == "market"]
    assert [o.remaining for o in ahead] == [40 * SCALE]
    assert ahead[0].size == 100 * SCALE  # reduced, not replaced by a new order
    p.trade(30 * SCALE)
    assert p.matched(ours) == 0
    p.trade(15 * SCALE)  # 10 left ahead of us, then 5 of ours
    assert p.matched(ours) == 5 * SCALE


async def test_shrinking_behind_us_trims_the_newest_liquidity_first() -> None:
    p = _Paper()
    p.publish_book(((BID, 10 * SCALE),))
    ours = await p.bid(20 * SCALE)
    p.level(50 * SCALE)  # 40 joins behind us
    p.level(25 * SCALE)  # 25 leaves: from the back, so it is taken from those 40
    book = p.venue.engine
    assert book.levels(YES, Side.BUY) == [(BID, 45 * SCALE)]
    assert [(o.owner, o.remaining) for o in p.bids()] == [
        ("market", 10 * SCALE),
        ("paper", 20 * SCALE),
        ("market", 15 * SCALE),
    ]
    p.trade(12 * SCALE)
    assert p.matched(ours) == 2 * SCALE
