"""The paper venue mirrors a market's books into the matching engine only while we have orders.

Every book is followed (a ``BookSet``); a market's synthetic queues are built from it when
one of our orders arrives, follow the live levels while one of ours rests, and are dropped
once none does. Queue position and the liquidity we took must not depend on whether the
market happened to be mirrored.
"""

from __future__ import annotations

import pytest
from tests.execution.paper_harness import NO, YES, M, PaperHarness

from polyloly.domain.events import (
    BookSnapshot,
    PriceChanges,
    Side,
    TickSizeChange,
)
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE
from polyloly.domain.orderbook import BookSet
from polyloly.execution.events import TradeUpdate
from polyloly.execution.ports import VenueOrderStatus

pytestmark = pytest.mark.asyncio

BID, ASK = 400_000, 420_000


def _standard_books(p: PaperHarness) -> None:
    p.book(YES, ((BID, 100 * SCALE),), ((ASK, 150 * SCALE),))
    p.book(NO, ((500_000, 100 * SCALE),), ((700_000, 100 * SCALE),))


async def test_books_are_followed_without_mirroring_a_market_we_have_no_orders_in() -> None:
    p = PaperHarness()
    _standard_books(p)
    p.level(Side.BUY, BID, 30 * SCALE)
    p.level(Side.BUY, 390_000, 10 * SCALE)
    p.trade(Side.SELL, BID, 10 * SCALE)
    assert p.venue.mirrored == ()
    assert p.venue.engine.resting() == []
    live = p.venue.books.get(YES)
    assert live is not None
    assert live.bids() == [(BID, 30 * SCALE), (390_000, 10 * SCALE)]


async def test_an_order_queues_behind_the_size_displayed_when_it_arrives() -> None:
    p = PaperHarness()
    _standard_books(p)
    for size in (30, 120, 70):  # the level moves while we have no order there
        p.level(Side.BUY, BID, size * SCALE)
    ours, _ = await p.order(Side.BUY, BID, 20 * SCALE)
    assert p.venue.mirrored == (M,)
    assert p.venue.engine.levels(YES, Side.BUY) == [(BID, 90 * SCALE)]  # 70 ahead + our 20
    p.trade(Side.SELL, BID, 70 * SCALE)
    assert p.matched(ours) == 0
    p.trade(Side.SELL, BID, 5 * SCALE)
    assert p.matched(ours) == 5 * SCALE
    # The other token of the market is mirrored too (it can trade with ours: mint/merge).
    assert p.venue.engine.levels(NO, Side.SELL) == [(700_000, 100 * SCALE)]


async def test_the_mirror_is_dropped_with_our_last_order_and_rebuilt_with_the_next() -> None:
    p = PaperHarness()
    _standard_books(p)
    first, _ = await p.order(Side.BUY, BID, 20 * SCALE)
    await p.venue.cancel([first])
    assert p.venue.orders[first].status is VenueOrderStatus.CANCELED
    assert p.venue.mirrored == ()
    assert p.venue.engine.resting() == []
    p.level(Side.BUY, BID, 40 * SCALE)
    p.level(Side.SELL, ASK, 0)
    p.level(Side.SELL, 430_000, 25 * SCALE)
    second, _ = await p.order(Side.BUY, BID, 20 * SCALE)
    engine = p.venue.engine
    assert engine.levels(YES, Side.BUY) == [(BID, 60 * SCALE)]
    assert engine.levels(YES, Side.SELL) == [(430_000, 25 * SCALE)]
    # A live ask crossing our bid trades with the queue: the 40 ahead of us first.
    p.level(Side.SELL, BID, 50 * SCALE)
    assert p.matched(second) == 10 * SCALE
    assert p.venue.mirrored == (M,)
    p.level(Side.SELL, BID, 70 * SCALE)  # it crosses again: the rest of ours
    assert p.matched(second) == 20 * SCALE
    assert p.venue.mirrored == ()  # filled: nothing of ours rests there any more


async def test_a_market_order_that_leaves_nothing_resting_does_not_keep_the_mirror() -> None:
    p = PaperHarness()
    _standard_books(p)
    ours, result = await p.order(Side.BUY, ASK, 50 * SCALE, order_type=OrderType.FAK)
    assert result.status is VenueOrderStatus.MATCHED
    assert p.matched(ours) == 50 * SCALE
    assert p.venue.mirrored == ()
    assert p.venue.engine.resting() == []


async def test_liquidity_we_took_stays_consumed_while_the_market_is_not_mirrored() -> None:
    p = PaperHarness()
    _standard_books(p)
    await p.order(Side.BUY, ASK, 100 * SCALE, order_type=OrderType.FAK)  # 100 of the 150
    assert p.venue.mirrored == ()
    p.book(YES, ((BID, 100 * SCALE),), ((ASK, 150 * SCALE),))  # the live level is unchanged
    second, _ = await p.order(Side.BUY, ASK, 100 * SCALE, order_type=OrderType.FAK)
    assert p.matched(second) == 50 * SCALE  # only what we had not taken yet
    # The level shrinks below what we took (now 150): we cannot have taken more than it
    # shows, so 60 of it stays consumed; when it grows again, only the growth is new.
    p.level(Side.SELL, ASK, 60 * SCALE)
    p.level(Side.SELL, ASK, 90 * SCALE)
    third, _ = await p.order(Side.BUY, ASK, 100 * SCALE, order_type=OrderType.FAK)
    assert p.matched(third) == 30 * SCALE
    # A snapshot without the level forgets what we took there.
    p.book(YES, ((BID, 100 * SCALE),), ((430_000, 10 * SCALE),))
    p.book(YES, ((BID, 100 * SCALE),), ((ASK, 40 * SCALE),))
    fourth, _ = await p.order(Side.BUY, ASK, 100 * SCALE, order_type=OrderType.FAK)
    assert p.matched(fourth) == 40 * SCALE


async def test_our_buy_mints_against_the_complement_bids_when_they_are_better() -> None:
    p = PaperHarness()
    p.book(YES, ((BID, 100 * SCALE),), ((700_000, 100 * SCALE),))
    p.book(NO, ((450_000, 30 * SCALE),), ((800_000, 100 * SCALE),))  # YES offered at 0.55
    ours, _ = await p.order(Side.BUY, 600_000, 20 * SCALE, order_type=OrderType.FAK)
    # A FAK BUY spends its amount, 20 x 0.60 = 12 pUSD: at 0.55 that is 21.818181 shares.
    assert p.matched(ours) == 12 * SCALE * SCALE // 550_000
    trades = [e.report for e in p.events if isinstance(e, TradeUpdate)]
    assert [(t.price, t.maker_legs[0].asset_id) for t in trades] == [(550_000, NO)]
    assert p.venue.mirrored == ()


async def test_a_shared_book_set_is_applied_once_per_event() -> None:
    books = BookSet()
    p = PaperHarness(books=books)
    p.kernel.subscribe(BookSnapshot, books.apply)  # the node applies it too
    p.kernel.subscribe(PriceChanges, books.apply)
    _standard_books(p)
    p.level(Side.BUY, BID, 70 * SCALE)
    ours, _ = await p.order(Side.BUY, BID, 20 * SCALE)
    assert p.venue.books is books
    assert p.venue.engine.levels(YES, Side.BUY) == [(BID, 90 * SCALE)]
    assert p.matched(ours) == 0


async def test_levels_on_a_new_tick_grid_are_followed_after_a_tick_size_change() -> None:
    p = PaperHarness()
    _standard_books(p)
    now = p.clock.now_ns()
    p.kernel.publish(
        TickSizeChange(
            ts_event=now, ts_init=now, market=M, token_id=YES, old_tick=10_000, new_tick=1_000
        )
    )
    p.level(Side.BUY, 401_000, 10 * SCALE)
    live = p.venue.books.get(YES)
    assert live is not None
    assert live.bid_size(401_000) == 10 * SCALE
