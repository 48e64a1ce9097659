"""Hypothesis properties: the book equals a naive reference model after any input."""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import BookSnapshot, LevelChange, PriceChanges, Side
from polyloly.domain.orderbook import BookSet, OrderBook

TICK = 10_000
SCALE = 1_000_000

# Prices cluster around the middle so updates often hit existing levels (and the best one);
# a size of 0 (remove the level) is drawn often.
prices = st.one_of(st.integers(45, 55), st.integers(1, 99)).map(lambda k: k * TICK)
sizes = st.one_of(st.just(0), st.integers(1, 500).map(lambda k: k * 10_000))  # <= 5 shares
levels = st.lists(st.tuples(prices, sizes), max_size=12)
update = st.tuples(st.booleans(), prices, sizes)  # (is_bid, price, size)
op = st.one_of(
    st.tuples(st.just("snap"), levels, levels, st.randoms(use_true_random=False)),
    st.tuples(st.just("upd"), update),
)


@dataclass
class Ref:
    """The obviously-correct model: two dicts, everything recomputed from scratch."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def snapshot(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        self.bids = {}
        self.asks = {}
        for p, s in bids:
            self.bids[p] = s
        for p, s in asks:
            self.asks[p] = s
        self.bids = {p: s for p, s in self.bids.items() if s}
        self.asks = {p: s for p, s in self.asks.items() if s}

    def update(self, is_bid: bool, price: int, size: int) -> None:
        side = self.bids if is_bid else self.asks
        if size:
            side[price] = size
        else:
            side.pop(price, None)


def check_equal(b: OrderBook, ref: Ref) -> None:
    assert b.bids() == sorted(ref.bids.items(), reverse=True)
    assert b.asks() == sorted(ref.asks.items())
    assert b.best_bid == (max(ref.bids.items()) if ref.bids else None)
    assert b.best_ask == (min(ref.asks.items()) if ref.asks else None)
    assert all(s > 0 for _, s in b.bids() + b.asks())


def apply_ops(ops: list[tuple[object, ...]]) -> tuple[OrderBook, Ref]:
    b = OrderBook("T", TICK)
    ref = Ref()
    for o in ops:
        if o[0] == "snap":
            _, bids, asks, rnd = o
            assert isinstance(bids, list)
            assert isinstance(asks, list)
            assert isinstance(rnd, Random)
            # a valid snapshot (book_rules): sizes > 0, each price once, not crossed
            ask_map = {p: s for p, s in dict(asks).items() if s}
            floor = min(ask_map, default=SCALE)
            bid_map = {p: s for p, s in dict(bids).items() if s and p < floor}
            ref.snapshot(list(bid_map.items()), list(ask_map.items()))
            # the same levels in a random order: the book must not care about input order
            bids_in, asks_in = list(bid_map.items()), list(ask_map.items())
            rnd.shuffle(bids_in)
            rnd.shuffle(asks_in)
            assert b.snapshot(tuple(bids_in), tuple(asks_in))
        else:
            _, (is_bid, price, size) = o
            ref.update(is_bid, price, size)
            assert b.apply_change(Side.BUY if is_bid else Side.SELL, price, size)
        check_equal(b, ref)
    return b, ref


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=40))
def test_book_matches_reference_after_any_sequence(ops: list[tuple[object, ...]]) -> None:
    b, _ = apply_ops(ops)
    assert b.rejected == 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(op, max_size=25),
    st.integers(min_value=0, max_value=2_000 * SCALE),
    st.one_of(st.none(), prices),
)
def test_depth_walk_cost_is_the_sum_over_levels(
    ops: list[tuple[object, ...]], shares: int, cap: int | None
) -> None:
    b, ref = apply_ops(ops)
    # buying: take asks from the cheapest up to the cap
    remaining, num, filled = shares, 0, 0
    for p, s in sorted(ref.asks.items()):
        if cap is not None and p > cap:
            break
        q = min(s, remaining)
        num += q * p
        filled += q
        remaining -= q
    walk = b.cost_to_buy(shares, cap)
    assert walk.shares == filled
    assert walk.amount == -(-num // SCALE)
    assert sum(q for _, q in b.ask_levels_for(shares, cap)) == filled
    if filled:
        assert walk.avg_price == -(-num // filled)
        assert min(ref.asks) <= walk.avg_price <= max(ref.asks)
    # selling: hit bids from the highest down to the floor
    remaining, num, filled = shares, 0, 0
    for p, s in sorted(ref.bids.items(), reverse=True):
        if cap is not None and p < cap:
            break
        q = min(s, remaining)
        num += q * p
        filled += q
        remaining -= q
    sell = b.proceeds_to_sell(shares, cap)
    assert sell.shares == filled
    assert sell.amount == num // SCALE


@settings(max_examples=150, deadline=None)
@given(
    st.lists(op, max_size=25),
    st.integers(min_value=0, max_value=1_000 * SCALE),
    st.one_of(st.none(), prices),
)
def test_budget_walks_are_tight(
    ops: list[tuple[object, ...]], budget: int, cap: int | None
) -> None:
    b, _ = apply_ops(ops)
    shares, cost = b.shares_for_budget(budget, cap)
    assert 0 <= cost <= budget
    assert b.cost_to_buy(shares, cap) == (shares, cost, b.cost_to_buy(shares, cap).avg_price)
    if b.cost_to_buy(shares + 1, cap).shares > shares:
        # another share-micro was on offer: it would have broken the budget
        num_more = sum(p * q for p, q in b.ask_levels_for(shares + 1, cap))
        assert num_more > budget * SCALE

    raise_shares, proceeds = b.shares_to_raise(budget, cap)
    sell = b.proceeds_to_sell(raise_shares, cap)
    assert sell.shares == raise_shares
    assert sell.amount == proceeds
    if proceeds < budget:  # only when the bids ran out
        assert raise_shares == b.proceeds_to_sell(10**15, cap).shares
    elif raise_shares:
        fewer = sum(p * q for p, q in b.bid_levels_for(raise_shares - 1, cap))
        assert fewer < budget * SCALE


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.booleans(), prices, sizes), max_size=30))
def test_bookset_frames_match_per_token_reference(
    items: list[tuple[str, bool, int, int]],
) -> None:
    bs = BookSet()
    refs = {"A": Ref(), "B": Ref()}
    for token in refs:
        bs.apply(
            BookSnapshot(
                ts_event=0, ts_init=0, market="M", token_id=token, bids=(), asks=(), tick=TICK
            )
        )
    # deliver in frames of up to 3 changes (a frame may touch both tokens)
    for i in range(0, len(items), 3):
        frame = items[i : i + 3]
        ev = PriceChanges(
            ts_event=i + 1,
            ts_init=i + 1,
            market="M",
            changes=tuple(
                LevelChange(t, Side.BUY if bid else Side.SELL, p, s) for t, bid, p, s in frame
            ),
        )
        changed = bs.apply(ev)
        assert set(changed) == {t for t, *_ in frame}
        for t, bid, p, s in frame:
            refs[t].update(bid, p, s)
    for token, ref in refs.items():
        b = bs.get(token)
        assert b is not None
        check_equal(b, ref)
