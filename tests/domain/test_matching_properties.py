"""Hypothesis properties of the matching engine over random order flows.

* conservation: pUSD + fees + tokens balance out (a mint turns pUSD into A+B pairs, a
  merge turns them back, a complementary trade only moves them);
* no crossed book after matching, also across the two tokens (no mintable bids, no
  mergeable asks are left resting);
* price-time priority: fills run from the best effective price, oldest first at a price,
  within the taker's limit;
* FOK is all or nothing, FAK leaves nothing resting.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import Side
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import Fill, FillKind, MatchingEngine, OrderRequest, OrderState
from polyloly.domain.money import ONE

CID, A, B = "0xm", "A", "B"
NOW = 1_800_000_000
OWNERS = ("alice", "bob", "carol")


@dataclass
class Ledger:
    cash: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    tokens: defaultdict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    fees: int = 0

    def apply(self, f: Fill) -> None:
        sign = 1 if f.taker_side is Side.BUY else -1
        self.cash[f.taker_owner] -= sign * f.taker_cash + f.fee
        self.tokens[(f.taker_owner, f.taker_token)] += sign * f.size
        self.fees += f.fee
        if f.kind is FillKind.COMPLEMENTARY:
            self.cash[f.maker_owner] += sign * f.maker_cash
            self.tokens[(f.maker_owner, f.maker_token)] -= sign * f.size
        else:  # mint (both buy) or merge (both sell)
            self.cash[f.maker_owner] -= sign * f.maker_cash
            self.tokens[(f.maker_owner, f.maker_token)] += sign * f.size

    def total_tokens(self, token: str) -> int:
        return sum(v for (_, t), v in self.tokens.items() if t == token)


order_st = st.builds(
    lambda token, side, ticks, shares, kind, owner, post: (
        token,
        side,
        ticks * 10_000,
        shares * ONE,
        kind,
        owner,
        post,
    ),
    st.sampled_from((A, B)),
    st.sampled_from((Side.BUY, Side.SELL)),
    st.integers(44, 56),
    st.integers(5, 40),
    st.sampled_from((OrderType.GTC, OrderType.GTC, OrderType.FOK, OrderType.FAK)),
    st.sampled_from(OWNERS),
    st.sampled_from((False, False, False, True)),
)
ops_st = st.lists(
    st.one_of(order_st, order_st, order_st, st.integers(0, 50)), min_size=15, max_size=60
)


def _check_uncrossed(e: MatchingEngine) -> None:
    best = {(t, s): e.best(t, s) for t in (A, B) for s in (Side.BUY, Side.SELL)}
    for token in (A, B):
        bid, ask = best[(token, Side.BUY)], best[(token, Side.SELL)]
        assert bid is None or ask is None or bid < ask
    bid_a, bid_b = best[(A, Side.BUY)], best[(B, Side.BUY)]
    ask_a, ask_b = best[(A, Side.SELL)], best[(B, Side.SELL)]
    assert bid_a is None or bid_b is None or bid_a + bid_b < ONE
    assert ask_a is None or ask_b is None or ask_a + ask_b > ONE


def _check_priority(request: OrderRequest, fills: tuple[Fill, ...], seq: dict[str, int]) -> None:
    buy = request.side is Side.BUY
    for fill in fills:
        assert fill.price <= request.price if buy else fill.price >= request.price
        expected = (
            fill.maker_price if fill.maker_token == request.token_id else ONE - fill.maker_price
        )
        assert fill.price == expected
    for prev, cur in itertools.pairwise(fills):
        assert prev.price <= cur.price if buy else prev.price >= cur.price
        if prev.price == cur.price and prev.maker_order_id != cur.maker_order_id:
            assert seq[prev.maker_order_id] < seq[cur.maker_order_id]


@settings(max_examples=150, deadline=None)
@given(ops_st)
def test_random_flows_keep_every_invariant(ops: list[object]) -> None:
    e = MatchingEngine()
    e.add_market(CID, A, B, tick=10_000, min_size=5 * ONE, fee_model=PolymarketFeeModel(30_000))
    ledger = Ledger()
    seq: dict[str, int] = {}
    placed: list[str] = []
    for n, op in enumerate(ops):
        if isinstance(op, int):
            if placed:
                e.cancel(placed[op % len(placed)])
            continue
        token, side, price, size, kind, owner, post = op  # type: ignore[misc]
        request = OrderRequest(
            order_id=f"o{n}",
            owner=owner,
            maker=owner,
            token_id=token,
            side=side,
            price=price,
            size=size,
            order_type=kind,
            post_only=post and kind is OrderType.GTC,
        )
        seq[request.order_id] = n
        before = (e.levels(A, Side.BUY), e.levels(A, Side.SELL), e.levels(B, Side.BUY))
        result = e.submit(request, NOW)
        for fill in result.fills:
            ledger.apply(fill)
        if result.state is OrderState.REJECTED:
            assert not result.fills
            assert before == (e.levels(A, Side.BUY), e.levels(A, Side.SELL), e.levels(B, Side.BUY))
        if kind is OrderType.FOK and result.accepted:
            assert result.filled == size
        if kind in (OrderType.FOK, OrderType.FAK):
            assert e.order(request.order_id) is None
        if result.state is OrderState.LIVE:
            placed.append(request.order_id)
            assert result.resting == size - result.filled
        _check_priority(request, result.fills, seq)
        _check_uncrossed(e)
        a_total, b_total = ledger.total_tokens(A), ledger.total_tokens(B)
        assert a_total == b_total  # pairs are only ever minted or merged together
        assert sum(ledger.cash.values()) + ledger.fees + a_total == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(40, 60), st.integers(5, 30)), min_size=1, max_size=12),
    st.integers(5, 200),
)
def test_fok_never_partially_fills(asks: list[tuple[int, int]], want: int) -> None:
    e = MatchingEngine()
    e.add_market(CID, A, B, tick=10_000, min_size=5 * ONE)
    for n, (ticks, shares) in enumerate(asks):
        e.submit(
            OrderRequest(
                order_id=f"m{n}",
                owner="m",
                maker="m",
                token_id=A,
                side=Side.SELL,
                price=ticks * 10_000,
                size=shares * ONE,
            ),
            NOW,
        )
    depth = sum(size for price, size in e.levels(A, Side.SELL) if price <= 550_000)
    fok = OrderRequest(
        order_id="fok",
        owner="t",
        maker="t",
        token_id=A,
        side=Side.BUY,
        price=550_000,
        size=want * ONE,
        order_type=OrderType.FOK,
    )
    result = e.submit(fok, NOW)
    if depth >= want * ONE:
        assert result.filled == want * ONE
    else:
        assert result.state is OrderState.REJECTED
        assert sum(s for _, s in e.levels(A, Side.SELL) if _ <= 550_000) == depth
