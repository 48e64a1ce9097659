"""Intent ids with a session namespace: unique across restarts, identical on replay."""

from __future__ import annotations

from polyloly.domain.events import BookSnapshot
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent
from polyloly.domain.orderbook import BookSet
from polyloly.strategies.pair_arb.engine import PairArbEngine, PairIntent
from polyloly.strategies.pair_arb.math import buy_fill
from polyloly.strategies.pair_arb.params import PairArbParams

SH = 1_000_000
C = 10_000
Y, N, M = "tok-yes", "tok-no", "0xmarket"


def session(namespace: str | None) -> list[PairIntent]:
    """Trade one market to the end against a miniature venue; return the intents."""
    fees = PolymarketFeeModel()
    if namespace is None:
        eng = PairArbEngine(PairArbParams(), fees)
    else:
        eng = PairArbEngine(PairArbParams(), fees, id_namespace=namespace)
    eng.add_market(M, Y, N, "match")
    books = BookSet()
    for token, price in ((Y, 45 * C), (N, 48 * C)):
        books.apply(
            BookSnapshot(
                ts_event=1,
                ts_init=1,
                market=M,
                token_id=token,
                bids=(),
                asks=((price, 200 * SH),),
                tick=C,
            )
        )
    done: list[PairIntent] = []
    for t in range(50):
        out = eng.evaluate(M, books, 1_000 + t)
        if not out:
            break
        intent = out[0]
        done.append(intent)
        if isinstance(intent, MergeIntent):
            eng.on_merged(M, intent.size)
        else:
            book = books.book(intent.token_id)
            levels = book.ask_levels_for(intent.size, intent.price)
            fill = buy_fill(levels, fees)
            for p, q in levels:
                book.set_ask(p, book.ask_size(p) - q)
            eng.on_fill(M, intent.token_id, fill.shares, fill.cost, fill.fee)
        eng.on_order_done(M)
    return done


def decisions(intents: list[PairIntent]) -> list[tuple[str, str, int]]:
    return [
        (i.market, i.token_id if isinstance(i, PlaceOrderIntent) else "merge", i.size)
        for i in intents
    ]


def test_namespace_prefixes_the_market_key() -> None:
    ids = [i.intent_id for i in session("s42")]
    assert ids[:3] == [
        "pair_arb:s42:0xmarket:1",
        "pair_arb:s42:0xmarket:2",
        "pair_arb:s42:0xmarket:3",
    ]


def test_two_sessions_never_share_an_id_and_a_replay_repeats_them() -> None:
    first, restarted = session("s1"), session("s2")
    assert len(first) >= 3
    assert not {i.intent_id for i in first} & {i.intent_id for i in restarted}
    assert session("s1") == first  # deterministic for the same namespace
    assert decisions(first) == decisions(restarted)  # only the ids differ


def test_empty_namespace_keeps_todays_ids() -> None:
    default, empty = session(None), session("")
    assert default == empty
    assert [i.intent_id for i in default][:2] == ["pair_arb:0xmarket:1", "pair_arb:0xmarket:2"]
