"""Table tests for the L2 order book and the book set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import load_fixture

from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    LevelChange,
    PriceChanges,
    Side,
    TickSizeChange,
    TimerTick,
)
from polyloly.domain.money import parse_micros
from polyloly.domain.orderbook import BookSet, BookWalk, OrderBook

C = 10_000  # one cent
SH = 1_000_000  # one share


def book(bids: list[tuple[int, int]], asks: list[tuple[int, int]], tick: int = C) -> OrderBook:
    b = OrderBook("T", tick)
    assert b.snapshot(tuple(bids), tuple(asks))
    return b


def levels(raw: list[dict[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((parse_micros(x["price"]), parse_micros(x["size"])) for x in raw)


# -- snapshot and top of book --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        # Polymarket order: worst -> best on both sides
        ([(48 * C, 5 * SH), (49 * C, 3 * SH), (50 * C, 2 * SH)], [(53 * C, 4 * SH), (52 * C, SH)]),
        # best first
        ([(50 * C, 2 * SH), (49 * C, 3 * SH), (48 * C, 5 * SH)], [(52 * C, SH), (53 * C, 4 * SH)]),
        # shuffled
        ([(49 * C, 3 * SH), (50 * C, 2 * SH), (48 * C, 5 * SH)], [(53 * C, 4 * SH), (52 * C, SH)]),
    ],
)
def test_snapshot_any_order_gives_same_book(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> None:
    b = book(bids, asks)
    assert b.in_sync
    assert b.best_bid == (50 * C, 2 * SH)
    assert b.best_ask == (52 * C, SH)
    assert b.bids() == [(50 * C, 2 * SH), (49 * C, 3 * SH), (48 * C, 5 * SH)]
    assert b.asks() == [(52 * C, SH), (53 * C, 4 * SH)]
    assert b.depth == (3, 2)
    assert not b.crossed
    assert b.tradable


def test_snapshot_with_a_zero_size_level_is_refused() -> None:
    b = OrderBook("T", C)
    assert not b.snapshot(((40 * C, 0),), ())
    assert not b.in_sync
    assert b.fault == "bad_size"


def test_empty_book() -> None:
    b = book([], [])
    assert b.in_sync
    assert b.best_bid is None
    assert b.best_ask is None
    assert b.bids() == []
    assert b.cost_to_buy(10 * SH) == BookWalk(0, 0, 0)
    assert b.shares_for_budget(10 * SH) == (0, 0)
    assert b.proceeds_to_sell(SH) == BookWalk(0, 0, 0)


def test_new_book_is_not_in_sync_until_snapshot() -> None:
    b = OrderBook("T", C)
    assert not b.in_sync
    assert b.set_ask(50 * C, SH)
    assert not b.in_sync
    assert not b.tradable


def test_snapshot_repeating_a_price_is_refused() -> None:
    b = OrderBook("T", C)
    assert not b.snapshot((), ((50 * C, SH), (50 * C, 3 * SH)))
    assert not b.in_sync
    assert b.fault == "duplicate_level"


def test_crossed_snapshot_is_refused_and_empties_the_book() -> None:
    b = book([(40 * C, SH)], [(45 * C, SH)])
    assert not b.snapshot(((60 * C, SH),), ((10 * C, SH),))
    assert not b.in_sync
    assert b.fault == "crossed_book"
    assert b.best_bid is None
    assert b.best_ask is None


# -- level updates ---------------------------------------------------------------------------------


def test_level_updates_add_change_remove() -> None:
    b = book([(49 * C, SH)], [(51 * C, SH), (52 * C, SH)])
    assert b.apply_change(Side.BUY, 50 * C, 2 * SH)  # new best bid
    assert b.best_bid == (50 * C, 2 * SH)
    assert b.apply_change(Side.SELL, 51 * C, 7 * SH)  # size change at the best ask
    assert b.best_ask == (51 * C, 7 * SH)
    assert b.apply_change(Side.SELL, 51 * C, 0)  # best ask removed: next one becomes best
    assert b.best_ask == (52 * C, SH)
    assert b.apply_change(Side.SELL, 30 * C, 0)  # removing an absent level is a no-op
    assert b.asks() == [(52 * C, SH)]
    assert b.apply_change(Side.BUY, 50 * C, 0)
    assert b.apply_change(Side.BUY, 49 * C, 0)
    assert b.best_bid is None
    assert b.in_sync


def test_sorted_views_stay_correct_after_size_only_change() -> None:
    b = book([], [(51 * C, SH), (52 * C, SH)])
    assert b.asks() == [(51 * C, SH), (52 * C, SH)]  # builds the cached order
    b.set_ask(52 * C, 5 * SH)  # size only: cache still valid
    b.set_ask(50 * C, 2 * SH)  # new level: cache rebuilt
    assert b.asks() == [(50 * C, 2 * SH), (51 * C, SH), (52 * C, 5 * SH)]


@pytest.mark.parametrize(
    ("price", "size"),
    [
        (50 * C + 1, SH),  # off the tick grid
        (0, SH),  # price 0
        (100 * C, SH),  # price 1
        (-C, SH),
        (50 * C, -1),  # negative size
    ],
)
def test_malformed_level_is_refused_and_unsyncs(price: int, size: int) -> None:
    b = book([(49 * C, SH)], [(51 * C, SH)])
    assert not b.set_ask(price, size)
    assert not b.set_bid(price, size)
    assert b.rejected == 2
    assert not b.in_sync
    assert b.asks() == [(51 * C, SH)]  # the bad level was not stored
    assert b.bids() == [(49 * C, SH)]


def test_malformed_snapshot_is_refused_and_clears() -> None:
    b = book([(49 * C, SH)], [(51 * C, SH)])
    assert not b.snapshot(((49 * C, SH),), ((51 * C + 5, SH),))
    assert not b.in_sync
    assert b.rejected == 1
    assert b.asks() == []
    assert b.bids() == []
    assert b.snapshot(((49 * C, SH),), ((51 * C, SH),))
    assert b.in_sync


def test_unknown_tick_accepts_any_price_inside_zero_one() -> None:
    b = OrderBook("T")
    assert b.snapshot(((123_457, SH),), ((999_999, SH),))
    assert b.best_ask == (999_999, SH)
    assert not b.set_ask(1_000_000, SH)


# -- tick and sync ---------------------------------------------------------------------------------


def test_tick_change_unsyncs_until_next_snapshot() -> None:
    b = book([(95 * C, SH)], [(96 * C, SH)])
    b.set_tick(1_000)
    assert b.tick == 1_000
    assert not b.in_sync
    assert b.set_ask(965_000, SH)  # on the new grid: stored, still not in sync
    assert not b.in_sync
    assert b.snapshot(((950_000, SH),), ((961_000, SH),))
    assert b.in_sync
    b.set_tick(1_000)  # same tick: not a change
    assert b.in_sync


def test_snapshot_tick_overrides_book_tick() -> None:
    b = OrderBook("T", C)
    assert b.snapshot((), ((965_000, SH),), tick=1_000)
    assert b.tick == 1_000
    assert b.in_sync


def test_invalidate_and_crossed() -> None:
    b = book([(50 * C, SH)], [(51 * C, SH)])
    b.set_bid(51 * C, SH)
    assert b.crossed
    assert b.in_sync
    assert not b.tradable
    b.set_bid(51 * C, 0)
    assert b.tradable
    b.invalidate()
    assert not b.tradable


# -- depth walks -----------------------------------------------------------------------------------

ASKS = [(45 * C, 10 * SH), (46 * C, 20 * SH), (48 * C, 5 * SH)]
BIDS = [(44 * C, 10 * SH), (43 * C, 20 * SH), (40 * C, 5 * SH)]


@pytest.mark.parametrize(
    ("shares", "cap", "expected"),
    [
        (5 * SH, None, BookWalk(5 * SH, 2_250_000, 45 * C)),
        (10 * SH, None, BookWalk(10 * SH, 4_500_000, 45 * C)),
        # 10 @ .45 + 5 @ .46 = 6.8 for 15 -> avg 0.453333.. rounded up
        (15 * SH, None, BookWalk(15 * SH, 6_800_000, 453_334)),
        (15 * SH, 45 * C, BookWalk(10 * SH, 4_500_000, 45 * C)),  # cap stops the walk
        (100 * SH, None, BookWalk(35 * SH, 16_100_000, 460_000)),  # book runs out
        (100 * SH, 44 * C, BookWalk(0, 0, 0)),
        (1, None, BookWalk(1, 1, 45 * C)),  # 0.45 micro-pUSD rounds up to 1
    ],
)
def test_cost_to_buy(shares: int, cap: int | None, expected: BookWalk) -> None:
    assert book(BIDS, ASKS).cost_to_buy(shares, cap) == expected


@pytest.mark.parametrize(
    ("budget", "cap", "expected"),
    [
        (4_500_000, None, (10 * SH, 4_500_000)),
        (2_250_000, None, (5 * SH, 2_250_000)),
        (5_000_000, None, (10 * SH + 1_086_956, 5_000_000)),  # 0.5 / 0.46 = 1.086956 shares
        (100_000_000, None, (35 * SH, 16_100_000)),
        (100_000_000, 46 * C, (30 * SH, 13_700_000)),
        (0, None, (0, 0)),
    ],
)
def test_shares_for_budget(budget: int, cap: int | None, expected: tuple[int, int]) -> None:
    b = book(BIDS, ASKS)
    shares, cost = b.shares_for_budget(budget, cap)
    assert (shares, cost) == expected
    assert cost <= budget
    assert b.cost_to_buy(shares).amount == cost


@pytest.mark.parametrize(
    ("shares", "floor", "expected"),
    [
        (10 * SH, None, BookWalk(10 * SH, 4_400_000, 44 * C)),
        (15 * SH, None, BookWalk(15 * SH, 6_550_000, 436_666)),  # avg rounds down
        (15 * SH, 44 * C, BookWalk(10 * SH, 4_400_000, 44 * C)),
        (100 * SH, None, BookWalk(35 * SH, 15_000_000, 428_571)),
        (1, None, BookWalk(1, 0, 44 * C)),  # 0.44 micro-pUSD rounds down to 0
    ],
)
def test_proceeds_to_sell(shares: int, floor: int | None, expected: BookWalk) -> None:
    assert book(BIDS, ASKS).proceeds_to_sell(shares, floor) == expected


@pytest.mark.parametrize(
    ("amount", "floor", "expected"),
    [
        (4_400_000, None, (10 * SH, 4_400_000)),
        (5_000_000, None, (10 * SH + 1_395_349, 5_000_000)),  # 0.6 / 0.43 rounded up
        (100_000_000, None, (35 * SH, 15_000_000)),  # bids run out
        (100_000_000, 43 * C, (30 * SH, 13_000_000)),
        (0, None, (0, 0)),
    ],
)
def test_shares_to_raise(amount: int, floor: int | None, expected: tuple[int, int]) -> None:
    b = book(BIDS, ASKS)
    assert b.shares_to_raise(amount, floor) == expected


def test_ask_and_bid_levels_for() -> None:
    b = book(BIDS, ASKS)
    assert b.ask_levels_for(15 * SH) == [(45 * C, 10 * SH), (46 * C, 5 * SH)]
    assert b.ask_levels_for(15 * SH, 45 * C) == [(45 * C, 10 * SH)]
    assert b.ask_levels_for(0) == []
    assert b.bid_levels_for(12 * SH) == [(44 * C, 10 * SH), (43 * C, 2 * SH)]
    assert b.bid_levels_for(12 * SH, 44 * C) == [(44 * C, 10 * SH)]
    assert b.bid_size(43 * C) == 20 * SH
    assert b.ask_size(47 * C) == 0


# -- BookSet ---------------------------------------------------------------------------------------


def snap(token: str, bids: Any, asks: Any, ts: int = 10, tick: int | None = C) -> BookSnapshot:
    return BookSnapshot(
        ts_event=ts, ts_init=ts, market="M", token_id=token, bids=bids, asks=asks, tick=tick
    )


def changes(*items: tuple[str, Side, int, int], ts: int = 20) -> PriceChanges:
    return PriceChanges(
        ts_event=ts,
        ts_init=ts,
        market="M",
        changes=tuple(LevelChange(t, s, p, q) for t, s, p, q in items),
    )


def test_bookset_applies_events_and_reports_changed_tokens() -> None:
    bs = BookSet()
    assert bs.apply(snap("A", ((49 * C, SH),), ((51 * C, SH),))) == ("A",)
    assert bs.apply(snap("B", ((48 * C, SH),), ((52 * C, SH),))) == ("B",)
    a, b = bs.get("A"), bs.get("B")
    assert a is not None
    assert b is not None
    assert a.in_sync
    assert b.in_sync
    assert len(bs) == 2
    assert "A" in bs
    assert bs.token_ids() == ("A", "B")

    got = bs.apply(changes(("A", Side.SELL, 50 * C, 2 * SH)))
    assert got == ("A",)
    assert a.best_ask == (50 * C, 2 * SH)

    got = bs.apply(
        changes(
            ("B", Side.BUY, 49 * C, SH),
            ("A", Side.BUY, 49 * C, 0),
            ("B", Side.SELL, 52 * C, 0),
        )
    )
    assert got == ("B", "A")
    assert a.best_bid is None
    assert b.best_bid == (49 * C, SH)
    assert b.best_ask is None

    tick = TickSizeChange(
        ts_event=30, ts_init=30, market="M", token_id="A", old_tick=C, new_tick=1_000
    )
    assert bs.apply(tick) == ("A",)
    assert not a.in_sync
    assert a.tick == 1_000
    assert bs.apply(BookInvalidated(ts_event=31, ts_init=31, token_id="B", reason="stall")) == (
        "B",
    )
    assert not b.in_sync
    assert bs.apply(BookInvalidated(ts_event=31, ts_init=31, token_id="Z", reason="x")) == ()
    assert bs.apply(TimerTick(ts_event=32, ts_init=32)) == ()


def test_bookset_skips_updates_older_than_the_snapshot() -> None:
    bs = BookSet()
    bs.apply(snap("A", (), ((51 * C, SH),), ts=100))
    assert bs.apply(changes(("A", Side.SELL, 50 * C, SH), ts=99)) == ()
    assert bs.apply(changes(("A", Side.SELL, 50 * C, SH), ("A", Side.BUY, 40 * C, SH), ts=99)) == ()
    assert bs.stale_skipped == 3
    book_a = bs.get("A")
    assert book_a is not None
    assert book_a.best_ask == (51 * C, SH)
    assert bs.apply(changes(("A", Side.SELL, 50 * C, SH), ts=100)) == ("A",)  # same time: applies
    assert book_a.best_ask == (50 * C, SH)


def test_bookset_update_before_snapshot_creates_unsynced_book() -> None:
    bs = BookSet()
    assert bs.apply(changes(("A", Side.SELL, 50 * C, SH))) == ("A",)
    a = bs.get("A")
    assert a is not None
    assert not a.in_sync
    assert bs.get("nope") is None


def test_bookset_keeps_tick_when_snapshot_has_none() -> None:
    bs = BookSet()
    bs.apply(snap("A", (), ((51 * C, SH),), tick=C))
    bs.apply(snap("A", (), ((52 * C, SH),), ts=11, tick=None))
    a = bs.get("A")
    assert a is not None
    assert a.tick == C
    assert a.in_sync


# -- real recorded frames --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["ws_market_book_msg.json", "ws_book_snapshot.json", "clob_book_response.json"]
)
def test_real_book_frames_in_either_order(real_fixtures: Path, name: str) -> None:
    raw = load_fixture(real_fixtures / "polymarket", name)
    b = OrderBook(raw["asset_id"], C)
    assert b.snapshot(levels(raw["bids"]), levels(raw["asks"]))
    bids, asks = levels(raw["bids"]), levels(raw["asks"])
    assert b.best_bid == max(bids)
    assert b.best_ask == min(asks)
    assert b.bids() == sorted(bids, reverse=True)
    assert b.asks() == sorted(asks)


def test_real_deep_book_on_a_thousandth_tick(real_fixtures: Path) -> None:
    raw = load_fixture(real_fixtures / "polymarket", "py_ws_book.json")
    bids, asks = levels(raw["bids"]), levels(raw["asks"])
    b = OrderBook(raw["asset_id"], C)
    assert not b.snapshot(bids, asks)  # 0.999 is off a cent grid: refused, not guessed
    assert b.snapshot(bids, asks, tick=1_000)
    assert b.best_ask == min(asks)
    assert b.best_bid == max(bids)
    everything = sum(q for _, q in asks)
    walk = b.cost_to_buy(everything)
    assert walk.shares == everything
    assert walk.amount == -(-sum(p * q for p, q in asks) // 1_000_000)


def test_real_price_change_frame_applies(real_fixtures: Path) -> None:
    book_raw = load_fixture(real_fixtures / "polymarket", "ws_book_snapshot.json")
    pc_raw = load_fixture(real_fixtures / "polymarket", "ws_market_price_change_msg.json")
    bs = BookSet()
    token = book_raw["asset_id"]
    bs.apply(snap(token, levels(book_raw["bids"]), levels(book_raw["asks"])))
    items = [
        (c["asset_id"], Side(c["side"]), parse_micros(c["price"]), parse_micros(c["size"]))
        for c in pc_raw["price_changes"]
    ]
    assert bs.apply(changes(*items)) == (token,)
    b = bs.get(token)
    assert b is not None
    for _token, side, price, size in items:
        assert (b.bid_size(price) if side is Side.BUY else b.ask_size(price)) == size
    # The two recordings are not one session: the frame's bid at 0.51 meets the snapshot's
    # 0.51 ask. The book sees that it is crossed and is not tradable.
    assert b.crossed
    assert not b.tradable


def test_bookset_apply_is_idempotent_per_event_object() -> None:
    """The edge applies an event, then every reader applies the same object: no change."""
    bs = BookSet()
    first = snap("A", ((49 * C, SH),), ((51 * C, SH),), ts=100)
    assert bs.apply(first) == ("A",)
    stale = changes(("A", Side.SELL, 50 * C, SH), ts=99)
    assert bs.apply(stale) == ()
    assert bs.apply(stale) == ()  # the same object again: not counted twice
    assert bs.stale_skipped == 1
    update = changes(("A", Side.SELL, 50 * C, 2 * SH), ("A", Side.BUY, 49 * C, 0), ts=101)
    assert bs.apply(update) == ("A",)
    a = bs.get("A")
    assert a is not None
    a.set_ask(50 * C, 7 * SH)  # a later change made directly on the book...
    assert bs.apply(update) == ("A",)  # ...is not overwritten by re-applying the same object
    assert a.best_ask == (50 * C, 7 * SH)
    equal = changes(("A", Side.SELL, 50 * C, 2 * SH), ts=101)  # an equal but new object applies
    assert bs.apply(equal) == ("A",)
    assert a.best_ask == (50 * C, 2 * SH)


def test_bookset_clear_forgets_every_book_and_the_last_event() -> None:
    bs = BookSet()
    event = snap("A", ((49 * C, SH),), ((51 * C, SH),))
    bs.apply(event)
    reader = bs.get  # readers may hold the bound lookup: it stays valid across clear()
    bs.clear()
    assert len(bs) == 0
    assert reader("A") is None
    assert bs.apply(event) == ("A",)  # applied again after the clear
    a = reader("A")
    assert a is not None
    assert a.in_sync


def test_snapshot_repeated_price_is_still_validated() -> None:
    """A malformed level refuses the snapshot even when a later level repeats its price."""
    b = book([], [(51 * C, SH)])
    assert not b.snapshot((), ((50 * C, -SH), (50 * C, SH)))
    assert not b.in_sync
    assert b.rejected == 1
