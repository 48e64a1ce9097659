"""Paper queue position when live levels shrink: synthetic liquidity is reduced in place."""

from __future__ import annotations

import pytest
from tests.execution.paper_harness import YES, PaperHarness

from polyloly.domain.events import Side
from polyloly.domain.matching_book import BookOrder
from polyloly.domain.money import SCALE
from polyloly.execution.events import OrderUpdate

pytestmark = pytest.mark.asyncio

BID = 400_000


class _Paper(PaperHarness):
    """One YES bid level at ``BID`` under a fixed ask; our orders are bids there."""

    def publish_book(self, bids: tuple[tuple[int, int], ...]) -> None:
        self.book(YES, bids, ((700_000, 100 * SCALE),))

    def bid_level(self, size: int) -> None:
        self.level(Side.BUY, BID, size)

    def print_sell(self, size: int) -> None:
        self.trade(Side.SELL, BID, size)

    async def bid(self, size: int) -> str:
        order_hash, _ = await self.order(Side.BUY, BID, size)
        return order_hash

    def bids(self) -> list[BookOrder]:
        """Resting YES bids in queue order."""
        return [o for o in self.venue.engine.resting() if o.side is Side.BUY]

    def matched_as_published(self, order_hash: str) -> int:
        """What the last ``OrderUpdate`` of the order says it matched (0 before any)."""
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
    p.bid_level(40 * SCALE)
    assert p.venue.engine.levels(YES, Side.BUY) == [(BID, 60 * SCALE)]
    ahead = [o for o in p.bids() if o.owner == "market"]
    assert [o.remaining for o in ahead] == [40 * SCALE]
    assert ahead[0].size == 100 * SCALE  # reduced, not replaced by a new order
    p.print_sell(30 * SCALE)
    assert p.matched_as_published(ours) == 0
    p.print_sell(15 * SCALE)  # 10 left ahead of us, then 5 of ours
    assert p.matched_as_published(ours) == 5 * SCALE


async def test_shrinking_behind_us_trims_the_newest_liquidity_first() -> None:
    p = _Paper()
    p.publish_book(((BID, 10 * SCALE),))
    ours = await p.bid(20 * SCALE)
    p.bid_level(50 * SCALE)  # 40 joins behind us
    p.bid_level(25 * SCALE)  # 25 leaves: from the back, so it is taken from those 40
    book = p.venue.engine
    assert book.levels(YES, Side.BUY) == [(BID, 45 * SCALE)]
    assert [(o.owner, o.remaining) for o in p.bids()] == [
        ("market", 10 * SCALE),
        ("paper", 20 * SCALE),
        ("market", 15 * SCALE),
    ]
    p.print_sell(12 * SCALE)
    assert p.matched_as_published(ours) == 2 * SCALE
