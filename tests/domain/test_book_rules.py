"""The book rules, and the book set that applies them: no bad event ever reaches a readable book."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain import book_rules as rules
from polyloly.domain.events import BookSnapshot, LevelChange, PriceChanges, Side, TickSizeChange
from polyloly.domain.money import ONE, VALID_TICKS
from polyloly.domain.orderbook import BookSet, OrderBook

C = 10_000  # one cent in micros
TOKENS = ("A", "B")

any_price = st.one_of(st.integers(-C, ONE + C), st.integers(1, 99).map(lambda k: k * C))
any_size = st.one_of(st.integers(-5, 5), st.integers(0, 500).map(lambda k: k * C))
ticks = st.sampled_from(sorted(VALID_TICKS))
any_tick = st.one_of(ticks, st.integers(-C, 2 * C))


def naive_level_fault(price: int, size: int, tick: int | None) -> str | None:
    ok_price = 0 < price < ONE
    if size < 0:
        return "bad_size"
    if not ok_price:
        return "bad_price"
    return "off_tick" if tick is not None and price % tick != 0 else None


@given(any_price, any_size, st.one_of(st.none(), ticks))
def test_level_fault_is_the_naive_rule(price: int, size: int, tick: int | None) -> None:
    assert rules.level_fault(price, size, tick) == naive_level_fault(price, size, tick)


levels = st.lists(st.tuples(any_price, any_size), max_size=6)


@given(levels, levels, st.one_of(st.none(), ticks))
def test_snapshot_fault_accepts_exactly_the_valid_uncrossed_books(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], tick: int | None
) -> None:
    fault = rules.snapshot_fault(bids, asks, tick)
    every = bids + asks
    valid_levels = all(
        s > 0 and 0 < p < ONE and (tick is None or p % tick == 0) for p, s in every
    ) and (len({p for p, _ in bids}) == len(bids) and len({p for p, _ in asks}) == len(asks))
    crossed = bool(bids and asks) and max(p for p, _ in bids) >= min(p for p, _ in asks)
    assert (fault is None) == (valid_levels and not crossed)
    if valid_levels and crossed:
        assert fault == "crossed_book"
    # the book refuses exactly what the rule refuses, for the rule's reason
    book = OrderBook("T", tick)
    assert book.snapshot(tuple(bids), tuple(asks)) == (fault is None)
    assert book.in_sync == (fault is None)
    assert book.fault == fault


@given(any_tick, any_tick, st.one_of(st.none(), ticks))
def test_tick_change_fault(old: int, new: int, current: int | None) -> None:
    fault = rules.tick_change_fault(old, new, current)
    legal = old in rules.LEGAL_TICKS and new in rules.LEGAL_TICKS
    if not legal:
        assert fault == "bad_tick"
    elif current is not None and old != current:
        assert fault == "tick_mismatch"
    else:
        assert fault is None


@given(st.text(max_size=3), st.frozensets(st.text(max_size=3), max_size=3))
def test_a_resolution_must_name_a_token_of_its_market(winner: str, tokens: frozenset[str]) -> None:
    fault = rules.resolution_fault(winner, tokens)
    if not tokens:
        assert fault == "unknown_market"
    else:
        assert (fault is None) == (winner in tokens)


def test_tick_inference_needs_an_off_grid_price_at_the_extremes() -> None:
    assert rules.tick_inference_plausible([970_500, 960_000], C)
    assert rules.tick_inference_plausible([35_500], C)
    assert not rules.tick_inference_plausible([505_000], C)
    assert not rules.tick_inference_plausible([500_000], C)  # nothing off the grid


# -- the book set: any sequence of good and bad events ---------------------------------------

token = st.sampled_from(TOKENS)
side = st.sampled_from((Side.BUY, Side.SELL))
snapshot = st.builds(
    lambda t, b, a, tick: BookSnapshot(
        ts_event=0, ts_init=0, market="M", token_id=t, bids=tuple(b), asks=tuple(a), tick=tick
    ),
    token,
    levels,
    levels,
    st.one_of(st.none(), st.just(C)),
)
change = st.builds(LevelChange, token, side, any_price, any_size)
changes = st.builds(
    lambda cs: PriceChanges(ts_event=0, ts_init=0, market="M", changes=tuple(cs)),
    st.lists(change, min_size=1, max_size=3),
)
tick_change = st.builds(
    lambda t, old, new: TickSizeChange(
        ts_event=0, ts_init=0, market="M", token_id=t, old_tick=old, new_tick=new
    ),
    token,
    any_tick,
    any_tick,
)
event = st.one_of(snapshot, changes, changes, tick_change)


def readable_book_is_sound(book: OrderBook) -> None:
    """An in-sync book: uncrossed, every level valid on its tick."""
    if not book.in_sync:
        return
    assert not book.crossed
    for price, size in book.bids() + book.asks():
        assert size > 0
        assert 0 < price < ONE
        assert book.tick is None or price % book.tick == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(event, max_size=30))
def test_no_refused_event_reaches_a_readable_book(events: list[object]) -> None:
    books = BookSet()
    for ev in events:
        assert isinstance(ev, BookSnapshot | PriceChanges | TickSizeChange)
        before = {t: (b.bids(), b.asks()) for t in TOKENS if (b := books.get(t)) is not None}
        refusals = books.refusals
        touched = books.apply(ev)
        refused = books.refusals - refusals
        assert refused in (0, 1) or isinstance(
            ev, PriceChanges
        )  # one per event, or per crossed book
        if refused and books.last_fault != "crossed_book":
            assert sum(books.refused.values()) == books.refusals
            # every book the refused event names is out of sync (unreadable) …
            for t in touched:
                assert not books.book(t).in_sync
            # … and a bad level was applied nowhere (only valid levels ever enter a book)
            if isinstance(ev, PriceChanges):
                for t, (bids, asks) in before.items():
                    levels = set(bids + asks)
                    book = books.book(t)
                    new = set(book.bids() + book.asks()) - levels
                    assert all(s > 0 and 0 < p < ONE for p, s in new)
        for t in TOKENS:
            if (b := books.get(t)) is not None:
                readable_book_is_sound(b)


def test_a_frame_that_crosses_the_book_unsyncs_it() -> None:
    books = BookSet()
    books.apply(
        BookSnapshot(
            ts_event=0,
            ts_init=0,
            market="M",
            token_id="A",
            bids=((40 * C, C),),
            asks=((45 * C, C),),
        )
    )
    books.apply(
        PriceChanges(
            ts_event=0, ts_init=0, market="M", changes=(LevelChange("A", Side.BUY, 50 * C, C),)
        )
    )
    book = books.book("A")
    assert not book.in_sync
    assert book.fault == "crossed_book"
    assert books.refused == {"crossed_book": 1}


def test_one_bad_change_refuses_the_whole_frame() -> None:
    books = BookSet()
    for t in TOKENS:
        books.apply(
            BookSnapshot(
                ts_event=0, ts_init=0, market="M", token_id=t, bids=((40 * C, C),), asks=(), tick=C
            )
        )
    books.apply(
        PriceChanges(
            ts_event=1,
            ts_init=1,
            market="M",
            changes=(
                LevelChange("A", Side.BUY, 41 * C, C),
                LevelChange("B", Side.SELL, 515_000, C),
            ),
        )
    )
    assert books.refused == {"off_tick": 1}
    assert books.book("B").ask_size(515_000) == 0  # the bad level is nowhere
    assert not books.book("A").in_sync  # the good change's book missed the frame: unsynced
    assert not books.book("B").in_sync
