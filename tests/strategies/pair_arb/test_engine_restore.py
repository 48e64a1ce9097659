"""Pair-arbitrage decisions across a restart: stable ids, steps that carry on, one in flight."""

from __future__ import annotations

from polyloly.domain.events import BookSnapshot
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent, split_intent_id
from polyloly.domain.orderbook import BookSet
from polyloly.domain.pairs import PairPosition
from polyloly.strategies.pair_arb.engine import PairArbEngine, PairIntent
from polyloly.strategies.pair_arb.math import buy_fill
from polyloly.strategies.pair_arb.params import PairArbParams

SH = 1_000_000
C = 10_000
Y, N, M = "tok-yes", "tok-no", "0xmarket"
FEES = PolymarketFeeModel()


def _books() -> BookSet:
    books = BookSet()
    for token, price in ((Y, 45 * C), (N, 48 * C)):
        books.apply(
            BookSnapshot(
                ts_event=1, ts_init=1, market=M, token_id=token, bids=(),
                asks=((price, 200 * SH),), tick=C,
            )
        )  # fmt: skip
    return books


def _engine() -> PairArbEngine:
    eng = PairArbEngine(PairArbParams(), FEES)
    eng.add_market(M, Y, N, "match")
    return eng


def _execute(eng: PairArbEngine, books: BookSet, intent: PairIntent) -> None:
    """A miniature venue: a FAK BUY takes the asks up to its limit; a merge merges."""
    if isinstance(intent, MergeIntent):
        eng.on_merged(M, intent.size)
    else:
        book = books.book(intent.token_id)
        levels = book.ask_levels_for(intent.size, intent.price)
        fill = buy_fill(levels, FEES)
        for p, q in levels:
            book.set_ask(p, book.ask_size(p) - q)
        eng.on_fill(M, intent.token_id, fill.shares, fill.cost, fill.fee)
    eng.on_order_done(M)


def _run(eng: PairArbEngine, books: BookSet, steps: int = 50) -> list[PairIntent]:
    done: list[PairIntent] = []
    for t in range(steps):
        out = eng.evaluate(M, books, 1_000 + t)
        if not out:
            break
        done.append(out[0])
        _execute(eng, books, out[0])
    return done


def _what(intents: list[PairIntent]) -> list[tuple[str, int]]:
    return [(i.token_id if isinstance(i, PlaceOrderIntent) else "merge", i.size) for i in intents]


def test_ids_are_strategy_market_and_step() -> None:
    ids = [i.intent_id for i in _run(_engine(), _books())]
    assert ids[:3] == ["pair_arb:0xmarket:1", "pair_arb:0xmarket:2", "pair_arb:0xmarket:3"]
    assert [split_intent_id(i) for i in ids[:2]] == [
        ("pair_arb:0xmarket", 1),
        ("pair_arb:0xmarket", 2),
    ]
    assert _engine().decision_key(M) == "pair_arb:0xmarket"


def test_a_replay_derives_the_same_decisions_with_the_same_ids() -> None:
    assert _run(_engine(), _books()) == _run(_engine(), _books())


def test_a_restart_carries_the_steps_on_and_waits_for_the_intent_in_flight() -> None:
    books = _books()
    first = _engine()
    out = first.evaluate(M, books, 1)
    assert len(out) == 1
    in_flight = out[0]  # the process dies here: the order is out, its fate unknown
    restarted = _engine()
    restarted.restore(M, last_step=1, pending=in_flight.intent_id)
    assert restarted.pending(M) == in_flight.intent_id
    for t in range(5):  # books keep changing: the same decision is not made again
        assert restarted.evaluate(M, books, 10 + t) == []
    _execute(restarted, books, in_flight)  # the venue's answer arrives: it filled
    nxt = restarted.evaluate(M, books, 20)
    assert len(nxt) == 1
    assert nxt[0].intent_id == "pair_arb:0xmarket:2"  # a new decision, never an old id
    assert isinstance(nxt[0], PlaceOrderIntent)
    assert nxt[0].token_id != in_flight.token_id  # the next leg, not the same one again


def test_a_restart_mid_run_ends_where_an_uninterrupted_run_ends() -> None:
    whole = _run(_engine(), _books())
    books = _books()
    first = _engine()
    before = _run(first, books, steps=3)
    restarted = _engine()
    restarted.set_position(M, first.position(M))
    restarted.restore(M, last_step=3)
    after = _run(restarted, books)
    assert _what(before + after) == _what(whole)
    assert [i.intent_id for i in before + after] == [i.intent_id for i in whole]
    assert restarted.position(M) == _run_position(whole)


def _run_position(intents: list[PairIntent]) -> PairPosition:
    eng, books = _engine(), _books()
    for intent in intents:
        _execute(eng, books, intent)
    return eng.position(M)


def test_restore_never_moves_the_step_back() -> None:
    eng = _engine()
    eng.restore(M, last_step=7)
    eng.restore(M, last_step=2)
    (intent,) = eng.evaluate(M, _books(), 1)
    assert intent.intent_id == "pair_arb:0xmarket:8"
