"""L2 order book per outcome token, and the set of books the bot follows.

Hot path. One :class:`OrderBook` keeps each side as a ``dict`` price → aggregate size (int
micros), so a level update is one dict store; the best bid and best ask are cached and only
recomputed when the best level itself is removed. Sorted views for depth walks are built
lazily and reused until a level is added or removed (a size change at an existing price
keeps them valid). An update allocates no rich objects (``BookSet.apply`` returns a
one-element tuple of the token id).

Level order in the input never matters: Polymarket's ``book`` frames list both sides
worst → best (best last), other sources send best first; a snapshot is a set of levels.

A book is **in sync** only after a full snapshot; a tick-size change, a malformed level or
an explicit :class:`~polyloly.domain.events.BookInvalidated` takes it out of sync until the
next snapshot. Strategies must not trade on a book that is not in sync (or that is
crossed, which means an update was missed).

Every snapshot and level change is checked against :mod:`polyloly.domain.book_rules`
before it changes the book (the same rules live and in replay): a refused snapshot or
change leaves the book empty or untouched, out of sync, with the reason in
:attr:`OrderBook.fault`; a frame that leaves a book crossed unsyncs it too
(``crossed_book``). :class:`BookSet` counts every refusal by reason in
:attr:`BookSet.refused`.

Depth walks price exactly: the cost of a walk is ``ceil(Σ size_i × price_i / 1e6)`` for a
buy (what we pay, rounded against us) and ``floor(…)`` for a sell (what we receive).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NamedTuple

from polyloly.domain.book_rules import (
    CROSSED_BOOK,
    level_fault,
    snapshot_fault,
    tick_change_fault,
)
from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    Level,
    LevelChange,
    PriceChanges,
    Side,
    TickSizeChange,
)
from polyloly.domain.money import ONE, SCALE, all_on_grid

__all__ = ["BookSet", "BookWalk", "OrderBook"]

_BUY: Final = Side.BUY


class BookWalk(NamedTuple):
    """Result of walking one side of the book for a quantity.

    ``shares`` is what the book can fill (share-micros), ``amount`` the pUSD-micros paid
    (buy, rounded up) or received (sell, rounded down), ``avg_price`` the average fill price
    in micros (rounded the same way), 0 when nothing fills.
    """

    shares: int
    amount: int
    avg_price: int


class OrderBook:
    """The L2 book of one outcome token (prices and sizes in integer micros).

    Parameters
    ----------
    token_id
        The token this book belongs to (informational).
    tick
        The token's tick size in micros, or ``None`` while unknown (prices are then only
        checked to lie strictly inside ``(0, 1)``).
    """

    __slots__ = (
        "_ask_sorted",
        "_asks",
        "_bid_sorted",
        "_bids",
        "best_ask_price",
        "best_bid_price",
        "fault",
        "in_sync",
        "rejected",
        "snapshot_ts",
        "tick",
        "token_id",
    )

    def __init__(self, token_id: str = "", tick: int | None = None) -> None:
        self.token_id = token_id
        self.tick = tick
        self.in_sync = False
        self.rejected = 0
        """Count of malformed levels/snapshots refused (each one also unsyncs the book)."""
        self.fault: str | None = None
        """Why the book last refused a snapshot or level (a :mod:`~polyloly.domain.book_rules`
        reason), cleared by the next accepted snapshot."""
        self.snapshot_ts = 0
        """``ts_event`` of the last snapshot applied through :class:`BookSet` (ns)."""
        self.best_bid_price: int | None = None
        self.best_ask_price: int | None = None
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bid_sorted: list[int] | None = None  # best first (descending)
        self._ask_sorted: list[int] | None = None  # best first (ascending)

    # -- validation --------------------------------------------------------------------------

    def valid_level(self, price: int, size: int) -> bool:
        """Whether a level change is valid on this book (see ``book_rules.level_fault``)."""
        tick = self.tick
        return size >= 0 and 0 < price < ONE and (tick is None or price % tick == 0)

    def _side_ok(self, side: dict[int, int]) -> bool:
        """Every level of a snapshot side is valid (checked in bulk: min/max, then the grid)."""
        if not side:
            return True
        if min(side.values()) <= 0 or min(side) <= 0 or max(side) >= ONE:
            return False
        tick = self.tick
        return tick is None or all_on_grid(side, tick)

    def _reject(self, fault: str) -> None:
        self.rejected += 1
        self.in_sync = False
        self.fault = fault

    def _refuse_level(self, price: int, size: int) -> bool:
        self._reject(level_fault(price, size, self.tick) or "rejected_level")
        return False

    def lose_sync_if_crossed(self) -> bool:
        """Unsync the book if it is crossed (a frame left it so: an update was missed)."""
        b, a = self.best_bid_price, self.best_ask_price
        if b is not None and a is not None and b >= a:
            self._reject(CROSSED_BOOK)
            return True
        return False

    # -- mutation ------------------------------------------------------------------------------

    def snapshot(
        self, bids: tuple[Level, ...], asks: tuple[Level, ...], tick: int | None = None
    ) -> bool:
        """Replace every level (any input order); the book is in sync afterwards.

        A ``tick`` given here becomes the book's tick. The snapshot must pass
        :func:`~polyloly.domain.book_rules.snapshot_fault` (every size > 0, every price
        inside ``(0, 1)`` and on the tick, no price twice on a side, not crossed); if it
        does not, it is refused whole: the book is emptied, counted in :attr:`rejected`,
        left out of sync, and :attr:`fault` says why.

        Returns
        -------
        bool
            Whether the snapshot was accepted.
        """
        if tick is not None:
            self.tick = tick
        bid_map, ask_map = dict(bids), dict(asks)
        # In bulk on the accepting path (min/max, the grid in C); the rule names the fault.
        ok = (
            len(bid_map) == len(bids)
            and len(ask_map) == len(asks)
            and self._side_ok(bid_map)
            and self._side_ok(ask_map)
        )
        best_bid = max(bid_map) if bid_map else None
        best_ask = min(ask_map) if ask_map else None
        if ok and best_bid is not None and best_ask is not None and best_bid >= best_ask:
            ok = False
        if not ok:
            self._clear()
            self._reject(snapshot_fault(bids, asks, self.tick) or "rejected_book")
            return False
        self._bids = bid_map
        self._asks = ask_map
        self._bid_sorted = None
        self._ask_sorted = None
        self.best_bid_price = best_bid
        self.best_ask_price = best_ask
        self.in_sync = True
        self.fault = None
        return True

    def _clear(self) -> None:
        self._bids = {}
        self._asks = {}
        self._bid_sorted = None
        self._ask_sorted = None
        self.best_bid_price = None
        self.best_ask_price = None

    def set_bid(self, price: int, size: int) -> bool:
        """Set the aggregate bid size at ``price`` (0 removes the level).

        Returns ``False`` (and unsyncs the book) if the level is malformed.
        """
        if not (size >= 0 and 0 < price < ONE and (self.tick is None or price % self.tick == 0)):
            return self._refuse_level(price, size)
        bids = self._bids
        if size:
            if price not in bids:
                self._bid_sorted = None
                best = self.best_bid_price
                if best is None or price > best:
                    self.best_bid_price = price
            bids[price] = size
        elif bids.pop(price, 0):
            self._bid_sorted = None
            if price == self.best_bid_price:
                self.best_bid_price = max(bids) if bids else None
        return True

    def set_ask(self, price: int, size: int) -> bool:
        """Set the aggregate ask size at ``price`` (0 removes the level).

        Returns ``False`` (and unsyncs the book) if the level is malformed.
        """
        if not (size >= 0 and 0 < price < ONE and (self.tick is None or price % self.tick == 0)):
            return self._refuse_level(price, size)
        asks = self._asks
        if size:
            if price not in asks:
                self._ask_sorted = None
                best = self.best_ask_price
                if best is None or price < best:
                    self.best_ask_price = price
            asks[price] = size
        elif asks.pop(price, 0):
            self._ask_sorted = None
            if price == self.best_ask_price:
                self.best_ask_price = min(asks) if asks else None
        return True

    def apply_change(self, side: Side, price: int, size: int) -> bool:
        """Apply one ``price_change`` level: ``BUY`` updates bids, ``SELL`` asks."""
        if side is _BUY:
            return self.set_bid(price, size)
        return self.set_ask(price, size)

    def set_tick(self, tick: int) -> None:
        """Change the tick size; a real change unsyncs the book until the next snapshot."""
        if tick != self.tick:
            self.tick = tick
            self.in_sync = False

    def change_tick(self, old_tick: int, new_tick: int) -> bool:
        """Apply a tick-size change if it passes ``book_rules.tick_change_fault``.

        A refused change (an illegal tick, an old tick that is not the book's) unsyncs the
        book (its real tick is unknown until the next snapshot) and returns ``False``.
        """
        fault = tick_change_fault(old_tick, new_tick, self.tick)
        if fault is not None:
            self._reject(fault)
            return False
        self.set_tick(new_tick)
        return True

    def invalidate(self) -> None:
        """Mark the book out of sync (disconnect, stall, gap) until the next snapshot."""
        self.in_sync = False

    # -- reads ---------------------------------------------------------------------------------

    @property
    def best_bid(self) -> Level | None:
        """``(price, size)`` of the best bid, or ``None`` when there are no bids."""
        p = self.best_bid_price
        return None if p is None else (p, self._bids[p])

    @property
    def best_ask(self) -> Level | None:
        """``(price, size)`` of the best ask, or ``None`` when there are no asks."""
        p = self.best_ask_price
        return None if p is None else (p, self._asks[p])

    @property
    def crossed(self) -> bool:
        """Whether best bid ≥ best ask: an update was missed (or a frame is half applied)."""
        b, a = self.best_bid_price, self.best_ask_price
        return b is not None and a is not None and b >= a

    @property
    def tradable(self) -> bool:
        """In sync and not crossed: the only state a strategy may trade on."""
        return self.in_sync and not self.crossed

    def bid_size(self, price: int) -> int:
        """Aggregate bid size at ``price`` (0 if no level)."""
        return self._bids.get(price, 0)

    def ask_size(self, price: int) -> int:
        """Aggregate ask size at ``price`` (0 if no level)."""
        return self._asks.get(price, 0)

    def _asks_best_first(self) -> list[int]:
        s = self._ask_sorted
        if s is None:
            s = self._ask_sorted = sorted(self._asks)
        return s

    def _bids_best_first(self) -> list[int]:
        s = self._bid_sorted
        if s is None:
            s = self._bid_sorted = sorted(self._bids, reverse=True)
        return s

    def bids(self) -> list[Level]:
        """Bid levels, best (highest) first."""
        d = self._bids
        return [(p, d[p]) for p in self._bids_best_first()]

    def asks(self) -> list[Level]:
        """Ask levels, best (lowest) first."""
        d = self._asks
        return [(p, d[p]) for p in self._asks_best_first()]

    @property
    def depth(self) -> tuple[int, int]:
        """Number of ``(bid, ask)`` levels."""
        return len(self._bids), len(self._asks)

    # -- depth walks: buying lifts asks ----------------------------------------------------------

    def ask_levels_for(self, shares: int, price_cap: int | None = None) -> list[Level]:
        """The ``(price, quantity)`` pieces a buy of ``shares`` takes, best first.

        Stops at ``price_cap`` (inclusive) or when the book runs out; the last piece may
        be a partial level. The last price is the limit price that fills the walk.
        """
        out: list[Level] = []
        remaining = shares
        asks = self._asks
        for p in self._asks_best_first():
            if remaining <= 0 or (price_cap is not None and p > price_cap):
                break
            q = min(asks[p], remaining)
            out.append((p, q))
            remaining -= q
        return out

    def cost_to_buy(self, shares: int, price_cap: int | None = None) -> BookWalk:
        """Fill up to ``shares`` from the asks (price ≤ ``price_cap``).

        Returns
        -------
        BookWalk
            ``(filled_shares, cost_micros, avg_price)``; cost and average are rounded up.
        """
        filled = 0
        num = 0  # Σ q × p, scale 1e12
        asks = self._asks
        for p in self._asks_best_first():
            if filled >= shares or (price_cap is not None and p > price_cap):
                break
            q = min(asks[p], shares - filled)
            filled += q
            num += q * p
        if not filled:
            return BookWalk(0, 0, 0)
        return BookWalk(filled, -(-num // SCALE), -(-num // filled))

    def shares_for_budget(self, budget: int, price_cap: int | None = None) -> tuple[int, int]:
        """Most shares ``budget`` pUSD-micros buys from the asks (price ≤ ``price_cap``).

        Returns
        -------
        tuple[int, int]
            ``(shares, cost)`` with ``cost`` (rounded up) never above ``budget``.
        """
        left = budget * SCALE  # remaining budget, scale 1e12
        shares = 0
        asks = self._asks
        for p in self._asks_best_first():
            if left <= 0 or (price_cap is not None and p > price_cap):
                break
            size = asks[p]
            full = size * p
            if full <= left:
                shares += size
                left -= full
            else:
                q = left // p
                shares += q
                left -= q * p
                break
        return shares, -(-(budget * SCALE - left) // SCALE)

    # -- depth walks: selling hits bids ----------------------------------------------------------

    def bid_levels_for(self, shares: int, price_floor: int | None = None) -> list[Level]:
        """The ``(price, quantity)`` pieces a sell of ``shares`` takes, best first."""
        out: list[Level] = []
        remaining = shares
        bids = self._bids
        for p in self._bids_best_first():
            if remaining <= 0 or (price_floor is not None and p < price_floor):
                break
            q = min(bids[p], remaining)
            out.append((p, q))
            remaining -= q
        return out

    def proceeds_to_sell(self, shares: int, price_floor: int | None = None) -> BookWalk:
        """Sell up to ``shares`` into the bids (price ≥ ``price_floor``).

        Returns
        -------
        BookWalk
            ``(filled_shares, proceeds_micros, avg_price)``; proceeds and average rounded down.
        """
        filled = 0
        num = 0
        bids = self._bids
        for p in self._bids_best_first():
            if filled >= shares or (price_floor is not None and p < price_floor):
                break
            q = min(bids[p], shares - filled)
            filled += q
            num += q * p
        if not filled:
            return BookWalk(0, 0, 0)
        return BookWalk(filled, num // SCALE, num // filled)

    def shares_to_raise(self, amount: int, price_floor: int | None = None) -> tuple[int, int]:
        """Fewest shares to sell into the bids (price ≥ ``price_floor``) to raise ``amount``.

        Returns
        -------
        tuple[int, int]
            ``(shares, proceeds)``; ``proceeds`` (rounded down) reaches ``amount`` unless
            the bids above the floor run out first, in which case it is all they pay.
        """
        need = amount * SCALE
        shares = 0
        got = 0
        bids = self._bids
        for p in self._bids_best_first():
            if got >= need or (price_floor is not None and p < price_floor):
                break
            size = bids[p]
            full = size * p
            if got + full <= need:
                shares += size
                got += full
            else:
                q = -(-(need - got) // p)
                shares += q
                got += q * p
                break
        return shares, got // SCALE


class BookSet:
    """Every followed token's book, updated from market-data events.

    ``apply(event)`` takes :class:`~polyloly.domain.events.BookSnapshot`,
    :class:`~polyloly.domain.events.PriceChanges`,
    :class:`~polyloly.domain.events.TickSizeChange` and
    :class:`~polyloly.domain.events.BookInvalidated` and returns the token ids whose book
    changed (other events change nothing). A book is created on first sight of its token,
    out of sync until its first snapshot. Level updates stamped (``ts_event``) before the
    book's last snapshot are stale — e.g. a frame buffered across a reconnect — and are
    skipped, counted in :attr:`stale_skipped`.

    One set can be shared by every layer that reads books (the market-data client at the
    edge, the strategies, the risk gate): applying is idempotent per event *object* — the
    edge applies an event right before it publishes it, and each reader's ``apply`` of that
    same object returns the tokens it touched without changing the books again. (Publishing
    dispatches synchronously, so the event a reader sees is the one applied last; a replay,
    with no edge, applies each event on the first reader's call.)

    Validation (:mod:`~polyloly.domain.book_rules`) happens here, so the edge and a replay
    refuse alike: a refused event unsyncs every book it names (a ``PriceChanges`` with one
    bad change is refused whole: its bad level is never applied, and whatever else of it was
    is in books out of sync, never read until their next snapshot), and is counted once in
    :attr:`refused` by reason (:attr:`refusals` is the running total, :attr:`last_fault`
    the latest reason). A frame that leaves an in-sync book crossed unsyncs it — and every
    other book the frame named (``crossed_book``), counted the same way.

    What changed: after each ``apply``, :attr:`moved` says whether the event changed the
    top of a book it touched (best bid or ask price, sync, tick). Most level updates do
    not (they resize the best level or move levels behind it), so a reader whose decision
    depends only on the top of book need not look again after one that did not move
    (the node routes book events to strategies by it, the risk gate keeps its quotes and
    marks by it). That needs every change of an in-sync book to come through an event its
    readers see: true live (the edge publishes every event it applies, except a frame it
    refuses, which leaves the books it names out of sync and is followed by their
    ``BookInvalidated``; an out-of-sync book decides nothing until its next snapshot) and
    in replay (the log holds those same events).
    """

    __slots__ = (
        "_books",
        "asks_moved",
        "get",
        "last_event",
        "last_fault",
        "last_touched",
        "moved",
        "refusals",
        "refused",
        "stale_skipped",
    )

    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}
        self.get: Callable[[str], OrderBook | None] = self._books.get
        """Return the book of a token id, or ``None`` if never seen (the dict's own ``get``:
        hot readers call it several times per frame)."""
        self.last_event: object = None
        """The event applied last (read only; see :meth:`apply`)."""
        self.last_touched: tuple[str, ...] = ()
        """The tokens it touched: a reader of that same event may take them from here
        instead of calling :meth:`apply` again (the hot path saves a call)."""
        self.moved = False
        """Whether the event applied last changed what a reader of the top of book sees:
        the best bid or best ask price, the sync state or the tick of a book it touched
        (or created one). Every event but a ``PriceChanges`` counts as moving; a
        ``PriceChanges`` that only sets sizes at the best prices, or adds, resizes or
        removes levels behind them, does not (see the class docstring)."""
        self.asks_moved = False
        """Whether it changed what a reader of the best *asks* sees: as :attr:`moved`, but
        a move of a best bid alone does not count (one that crossed its book does: the book
        lost sync). A reader of best asks and sync only (pair arbitrage's quiet markets)
        need not look again after an event that did not."""
        self.stale_skipped = 0
        self.refused: dict[str, int] = {}
        """Events refused by the book rules, by reason."""
        self.refusals = 0
        self.last_fault: str | None = None

    def _refuse(self, fault: str) -> None:
        self.refused[fault] = self.refused.get(fault, 0) + 1
        self.refusals += 1
        self.last_fault = fault

    def clear(self) -> None:
        """Forget every book (a new session)."""
        self._books.clear()
        self.last_event = None
        self.last_touched = ()

    def book(self, token_id: str) -> OrderBook:
        """Return the book of ``token_id``, creating an empty out-of-sync one if needed."""
        b = self._books.get(token_id)
        if b is None:
            b = self._books[token_id] = OrderBook(token_id)
        return b

    def __contains__(self, token_id: object) -> bool:
        return token_id in self._books

    def __len__(self) -> int:
        return len(self._books)

    def token_ids(self) -> tuple[str, ...]:
        """Every token with a book."""
        return tuple(self._books)

    def apply(self, event: Event) -> tuple[str, ...]:
        """Apply one market-data event; return the token ids whose book changed.

        Applying the event object applied last again changes nothing and returns the same
        tokens (see the class docstring); :attr:`moved` then still describes it.
        """
        if event is self.last_event:
            return self.last_touched
        if type(event) is PriceChanges:
            changes = event.changes
            if len(changes) != 1:
                touched = self._apply_changes(event)
            else:
                touched = self._apply_one(event.ts_event, changes[0])
        else:
            touched = self._apply_other(event)
            self.moved = self.asks_moved = True
        self.last_event = event
        self.last_touched = touched
        return touched

    def _apply_one(  # noqa: C901, PLR0912, PLR0915 - OrderBook.set_bid / set_ask inlined
        self, ts_event: int, ch: LevelChange
    ) -> tuple[str, ...]:
        # The common frame (one level of one token), on the hot path: the book's own level
        # update is inlined here (same rules), noting whether the best price moved.
        token = ch.token_id
        book = self._books.get(token)
        if book is None:
            book = self.book(token)
            self.moved = self.asks_moved = True  # a new book (empty, out of sync) is a change
            moved = True
        elif ts_event < book.snapshot_ts:
            self.stale_skipped += 1
            self.moved = self.asks_moved = False
            return ()
        else:
            moved = self.asks_moved = False
        price, size, tick = ch.price, ch.size, book.tick
        if not (size >= 0 and 0 < price < ONE and (tick is None or price % tick == 0)):
            book._refuse_level(price, size)
            self._refuse(book.fault or "rejected_level")
            self.moved = self.asks_moved = True
            return (token,)
        if ch.side is _BUY:
            bids = book._bids
            if size:
                if price not in bids:
                    book._bid_sorted = None
                    best = book.best_bid_price
                    if best is None or price > best:
                        book.best_bid_price = price
                        moved = True
                bids[price] = size
                if (ask := book.best_ask_price) is not None and price >= ask:
                    self._crossed(book)
                    moved = self.asks_moved = True
            elif bids.pop(price, 0):
                book._bid_sorted = None
                if price == book.best_bid_price:
                    book.best_bid_price = max(bids) if bids else None
                    moved = True
        else:
            asks = book._asks
            if size:
                if price not in asks:
                    book._ask_sorted = None
                    best = book.best_ask_price
                    if best is None or price < best:
                        book.best_ask_price = price
                        moved = self.asks_moved = True
                asks[price] = size
                if (bid := book.best_bid_price) is not None and price <= bid:
                    self._crossed(book)
                    moved = self.asks_moved = True
            elif asks.pop(price, 0):
                book._ask_sorted = None
                if price == book.best_ask_price:
                    book.best_ask_price = min(asks) if asks else None
                    moved = self.asks_moved = True
        self.moved = moved
        return (token,)

    def _crossed(self, book: OrderBook) -> None:
        if book.in_sync and book.lose_sync_if_crossed():
            self._refuse(CROSSED_BOOK)

    def _apply_other(self, event: Event) -> tuple[str, ...]:
        if type(event) is BookSnapshot:
            return self._apply_snapshot(event)
        if type(event) is TickSizeChange:
            book = self.book(event.token_id)
            if not book.change_tick(event.old_tick, event.new_tick):
                self._refuse(book.fault or "bad_tick")
            return (event.token_id,)
        if type(event) is BookInvalidated and event.token_id in self._books:
            self._books[event.token_id].invalidate()
            return (event.token_id,)
        return ()

    def _apply_snapshot(self, ev: BookSnapshot) -> tuple[str, ...]:
        b = self.book(ev.token_id)
        if not b.snapshot(ev.bids, ev.asks, ev.tick):
            self._refuse(b.fault or "rejected_book")
        b.snapshot_ts = ev.ts_event
        return (ev.token_id,)

    def _apply_changes(  # noqa: C901, PLR0912, PLR0915 - OrderBook.set_bid / set_ask inlined
        self, ev: PriceChanges
    ) -> tuple[str, ...]:
        books = self._books
        ts = ev.ts_event
        touched: list[str] = []
        bad: OrderBook | None = None
        moved = asks_moved = False
        for ch in ev.changes:
            token = ch.token_id
            b = books.get(token)
            if b is None:
                b = self.book(token)
                moved = asks_moved = True
            elif ts < b.snapshot_ts:
                self.stale_skipped += 1
                continue
            if token not in touched:  # a frame touches one or two tokens: a list beats a set
                touched.append(token)
            price, size, tick = ch.price, ch.size, b.tick
            if not (size >= 0 and 0 < price < ONE and (tick is None or price % tick == 0)):
                b._refuse_level(price, size)  # the level is not applied; the book unsynced
                bad = b
            elif ch.side is _BUY:
                bids = b._bids
                if size:
                    if price not in bids:
                        b._bid_sorted = None
                        best = b.best_bid_price
                        if best is None or price > best:
                            b.best_bid_price = price
                            moved = True
                    bids[price] = size
                elif bids.pop(price, 0):
                    b._bid_sorted = None
                    if price == b.best_bid_price:
                        b.best_bid_price = max(bids) if bids else None
                        moved = True
            else:
                asks = b._asks
                if size:
                    if price not in asks:
                        b._ask_sorted = None
                        best = b.best_ask_price
                        if best is None or price < best:
                            b.best_ask_price = price
                            moved = asks_moved = True
                    asks[price] = size
                elif asks.pop(price, 0):
                    b._ask_sorted = None
                    if price == b.best_ask_price:
                        b.best_ask_price = min(asks) if asks else None
                        moved = asks_moved = True
        if bad is not None:
            # one bad change refuses the frame: every book it names missed an update
            self._unsync_all(touched, bad.fault or "rejected_level")
            moved = asks_moved = True
        elif moved and self._left_crossed(touched):  # (no best moved: none can have crossed)
            asks_moved = True
        self.moved = moved
        self.asks_moved = asks_moved
        return tuple(touched)

    def _left_crossed(self, touched: list[str]) -> bool:
        """If the frame left a book crossed (it missed an update), refuse it whole."""
        books = self._books
        for token in touched:
            b = books[token]
            bid, ask = b.best_bid_price, b.best_ask_price
            if bid is not None and ask is not None and bid >= ask and b.in_sync:
                self._unsync_all(touched, CROSSED_BOOK)
                return True
        return False

    def _unsync_all(self, tokens: list[str], fault: str) -> None:
        for token in tokens:
            self._books[token]._reject(fault)
        self._refuse(fault)
