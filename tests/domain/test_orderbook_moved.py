"""``BookSet.moved``: an event that does not say it moved a top of book moved none.

Readers keep decisions taken on the top of book (best bid and ask prices, sync, tick) and
look again only after an event that moved one (the node's routing, the risk gate's quotes
and marks). The property: after any sequence of good and bad events, an event with
``moved`` false left every book's top exactly as it was, and created no book.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    LevelChange,
    PriceChanges,
    Side,
    TickSizeChange,
)
from polyloly.domain.orderbook import BookSet, OrderBook

C = 10_000  # one cent in micros
TOKENS = ("A", "B", "C")

# Prices cluster so that changes often hit the best levels; a few are invalid (off the
# tick, out of range), sizes are often 0 (remove) and sometimes negative (refused).
price = st.one_of(
    st.integers(47, 53).map(lambda k: k * C),
    st.integers(40, 60).map(lambda k: k * C),
    st.integers(-1, 101).map(lambda k: k * C + 5),
)
size = st.one_of(st.just(0), st.integers(1, 9).map(lambda k: k * C), st.just(-1))
level = st.tuples(st.integers(44, 56).map(lambda k: k * C), st.integers(1, 9).map(lambda k: k * C))
token = st.sampled_from(TOKENS)
ts = st.integers(0, 5)  # a change older than its book's snapshot is skipped (stale)
change = st.builds(LevelChange, token, st.sampled_from(list(Side)), price, size)

snapshot = st.builds(
    lambda t, b, a, at: BookSnapshot(
        ts_event=at,
        ts_init=at,
        market="M",
        token_id=t,
        bids=tuple(dict(b).items()),
        asks=tuple(dict(a).items()),
        tick=C,
    ),
    token,
    st.lists(level, max_size=3),
    st.lists(level, max_size=3),
    st.integers(0, 3),
)
changes = st.builds(
    lambda cs, at: PriceChanges(ts_event=at, ts_init=at, market="M", changes=tuple(cs)),
    st.one_of(st.lists(change, min_size=1, max_size=1), st.lists(change, min_size=2, max_size=3)),
    ts,
)
others = st.one_of(
    st.builds(
        lambda t: TickSizeChange(
            ts_event=9, ts_init=9, market="M", token_id=t, old_tick=C, new_tick=1_000
        ),
        token,
    ),
    st.builds(lambda t: BookInvalidated(ts_event=9, ts_init=9, token_id=t, reason="gap"), token),
)
events = st.lists(
    st.one_of(snapshot, changes, changes, changes, changes, others), min_size=5, max_size=80
)


def tops(books: BookSet, *, bids: bool = True) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for t in books.token_ids():
        b = books.book(t)
        best_bid = b.best_bid_price if bids else None
        out[t] = (best_bid, b.best_ask_price, b.in_sync, b.tick, b.tradable)
    return out


@settings(max_examples=400, deadline=None)
@given(events)
def test_an_event_that_did_not_move_left_every_top_as_it_was(seq: list[Event]) -> None:
    books = BookSet()
    for ev in seq:
        before, asks_before = tops(books), tops(books, bids=False)
        touched = books.apply(ev)
        moved, asks_moved = books.moved, books.asks_moved
        assert books.apply(ev) == touched  # the same object again: nothing changes
        assert (books.moved, books.asks_moved) == (moved, asks_moved)
        assert moved or not asks_moved
        if not moved:
            assert isinstance(ev, PriceChanges)
            assert tops(books) == before
        if not asks_moved:  # a best bid may have moved, nothing else (tradable neither)
            assert tops(books, bids=False) == asks_before


def book_with_levels() -> BookSet:
    books = BookSet()
    books.apply(
        BookSnapshot(
            ts_event=1, ts_init=1, market="M", token_id="A",
            bids=((40 * C, 5 * C), (39 * C, 5 * C)), asks=((42 * C, 5 * C), (43 * C, 5 * C)),
            tick=C,
        )
    )  # fmt: skip
    return books


def change(side: Side, price: int, size: int, at: int = 2) -> PriceChanges:
    return PriceChanges(
        ts_event=at, ts_init=at, market="M", changes=(LevelChange("A", side, price, size),)
    )


def test_what_moves_and_what_does_not() -> None:
    books = book_with_levels()
    assert books.moved  # a snapshot always moves
    for ev, moved in (
        (change(Side.BUY, 40 * C, 7 * C), False),  # the best bid resized
        (change(Side.SELL, 45 * C, 1 * C), False),  # a level behind the best ask
        (change(Side.SELL, 43 * C, 0), False),  # a level behind it removed
        (change(Side.BUY, 41 * C, 1 * C), True),  # a better bid
        (change(Side.BUY, 41 * C, 0), True),  # the best bid removed
        (change(Side.SELL, 42 * C, 0), True),  # the best ask removed
        (change(Side.SELL, 40 * C, 1 * C), True),  # crosses the book: it loses sync
        (change(Side.SELL, 50 * C, 1 * C), False),  # out of sync, behind the top
    ):
        books.apply(ev)
        assert books.moved is moved, ev
    books.apply(change(Side.BUY, 30 * C, 1 * C, at=0))  # older than the snapshot: skipped
    assert not books.moved
    two = PriceChanges(
        ts_event=3, ts_init=3, market="M",
        changes=(LevelChange("A", Side.BUY, 38 * C, C), LevelChange("B", Side.SELL, 60 * C, C)),
    )  # fmt: skip
    books.apply(two)
    assert books.moved  # B's book is new


def copy_of(book: OrderBook) -> OrderBook:
    """The book's levels as they are (even out of sync or crossed), in a fresh book."""
    ref = OrderBook(book.token_id, book.tick)
    for price, size in book.bids():
        ref._bids[price] = size
    for price, size in book.asks():
        ref._asks[price] = size
    ref.best_bid_price, ref.best_ask_price = book.best_bid_price, book.best_ask_price
    return ref


@settings(max_examples=600, deadline=None)
@given(events)
def test_the_book_sets_inlined_updates_are_the_books_own(seq: list[Event]) -> None:
    """The set applies a level change inline (the hot path): the same levels and best prices
    as the book's own ``set_bid`` / ``set_ask`` on a copy fed the same changes."""
    books = BookSet()
    mirror: dict[str, OrderBook] = {}
    for ev in seq:
        if isinstance(ev, PriceChanges):
            for ch in ev.changes:
                ref = mirror.get(ch.token_id)
                book = books.get(ch.token_id)
                if ref is not None and book is not None and ev.ts_event >= book.snapshot_ts:
                    ref.apply_change(ch.side, ch.price, ch.size)
        books.apply(ev)
        if isinstance(ev, BookSnapshot | TickSizeChange):  # the reference restarts from here
            mirror[ev.token_id] = copy_of(books.book(ev.token_id))
        for token, ref in mirror.items():
            book = books.book(token)
            assert (book.bids(), book.asks()) == (ref.bids(), ref.asks())
            assert (book.best_bid_price, book.best_ask_price) == (
                ref.best_bid_price,
                ref.best_ask_price,
            )


def test_removing_the_last_level_of_a_side_leaves_no_best_price() -> None:
    for frame in (1, 2):  # a one-change frame, and the same change in a two-change frame
        books = BookSet()
        books.apply(
            BookSnapshot(
                ts_event=1, ts_init=1, market="M", token_id="A",
                bids=((40 * C, C),), asks=((42 * C, C),), tick=C,
            )
        )  # fmt: skip
        for side, price in ((Side.BUY, 40 * C), (Side.SELL, 42 * C)):
            gone = LevelChange("A", side, price, 0)
            noop = LevelChange("A", side, 30 * C if side is Side.BUY else 60 * C, 0)
            books.apply(
                PriceChanges(ts_event=2, ts_init=2, market="M", changes=(gone, noop)[:frame])
            )
            assert books.moved
        book = books.book("A")
        assert (book.best_bid_price, book.best_ask_price, book.depth) == (None, None, (0, 0))
