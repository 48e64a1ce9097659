"""Truth engine -> temporal arbitrage -> risk check, wired through the kernel, and replayed."""

from __future__ import annotations

import msgspec
from tests.conftest import RecordingSink

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    MatchEvent,
    MatchEventKind,
    TimerTick,
    TruthAlert,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.intents import PlaceOrderIntent, RiskDecision
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.orderbook import BookSet
from polyloly.domain.risk import Quote, RiskParams, TradingState, check
from polyloly.domain.truth_engine import TruthEngine
from polyloly.runtime.clock import VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.strategies.temporal_arb import TemporalArbEngine, TemporalArbParams

K = MatchEventKind
SECOND = 1_000_000_000

MATCH = MarketMapping(
    match_id="lol-1", market_id="0xM", question="LoL: T1 vs Gen.G (BO3)", kind=MarketKind.MATCH,
    team_a="t1", team_b="geng", token_a="ta", token_b="tb", seconds_delay=3,
)  # fmt: skip
GAME1 = MarketMapping(
    match_id="lol-1", market_id="0xG1", question="Game 1 Winner", kind=MarketKind.GAME,
    game_number=1, team_a="t1", team_b="geng", token_a="g1a", token_b="g1b", seconds_delay=3,
)  # fmt: skip


def wire(kernel: Kernel, params: TemporalArbParams | None = None) -> None:
    """Subscribe the pure components the way the bot shell does."""
    books = BookSet()
    truth = TruthEngine()
    registry = MarketRegistry([MATCH, GAME1])
    temporal = TemporalArbEngine(params or TemporalArbParams(), registry, books.get)

    def on_book(e: Event) -> None:
        books.apply(e)
        for intent in temporal.on_event(e):
            kernel.emit(intent)

    def on_truth_input(e: Event) -> None:
        for out in truth.apply(e):
            kernel.emit(out)

    def on_truth_output(e: Event) -> None:
        for intent in temporal.on_event(e):
            kernel.emit(intent)

    def on_intent(intent: PlaceOrderIntent) -> None:
        quotes = {}
        for token in books.token_ids():
            b = books.get(token)
            assert b is not None
            bid, ask = b.best_bid, b.best_ask
            quotes[token] = Quote(
                best_bid=bid[0] if bid else None, best_ask=ask[0] if ask else None,
                tick=b.tick, in_sync=b.in_sync, min_size=5_000_000,
            )  # fmt: skip
        kernel.emit(check(intent, TradingState(quotes=quotes), RiskParams()))

    kernel.subscribe(BookSnapshot, on_book)
    kernel.subscribe(MatchEvent, on_truth_input)
    kernel.subscribe(TimerTick, on_truth_input)
    for cls in (TruthDelta, TruthFinal, TruthAlert):
        kernel.subscribe(cls, on_truth_output)
    kernel.subscribe(PlaceOrderIntent, on_intent)


def report(t: int, source: str, kind: MatchEventKind, **kw: object) -> MatchEvent:
    return MatchEvent(
        ts_event=t, ts_init=t, source=source, match_id="lol-1", provider_match_id="x", kind=kind,
        team_a="T1", team_b="Gen.G", best_of=3, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def book(t: int, token: str, ask: int) -> BookSnapshot:
    return BookSnapshot(
        ts_event=t, ts_init=t, market="x", token_id=token, bids=((ask - 100_000, 50_000_000),),
        asks=((ask, 100_000_000),), tick=10_000,
    )  # fmt: skip


def script() -> list[Event]:
    return [
        book(1, "g1a", 600_000),
        book(1, "g1b", 400_000),
        book(1, "ta", 550_000),
        book(1, "tb", 450_000),
        report(2 * SECOND, "grid", K.MATCH_STARTED),
        report(3 * SECOND, "grid", K.GAME_ENDED, game_number=1, winner="T1", seq=10),
        report(4 * SECOND, "pandascore", K.GAME_ENDED, game_number=1, winner="t1", seq=3),
        report(5 * SECOND, "grid", K.MATCH_ENDED, winner="T1", seq=20),
        TimerTick(ts_event=10 * SECOND, ts_init=10 * SECOND),
        book(11 * SECOND, "ta", 980_000),  # the market caught up: nothing under the cap
        TimerTick(ts_event=15 * SECOND, ts_init=15 * SECOND),
        book(16 * SECOND, "ta", 900_000),  # a seller appears under the cap
    ]


def test_a_single_source_timeout_final_is_not_traded_by_default() -> None:
    sink = RecordingSink()
    kernel = Kernel(VirtualClock(), sink)
    wire(kernel)
    for e in script():
        kernel.clock.set_ns(e.ts_init)  # type: ignore[attr-defined]
        kernel.publish(e)
    intents = [e for e in sink.events if isinstance(e, PlaceOrderIntent)]
    finals = [e for e in sink.events if isinstance(e, TruthFinal)]
    # Game 1 is confirmed by two sources; the match FINAL is grid's alone, by the timeout.
    assert [(f.winner, f.sources, f.timed_out) for f in finals] == [("t1", ("grid",), True)]
    assert [(i.market, i.token_id) for i in intents] == [("0xG1", "g1a")]


def test_results_flow_to_approved_intents_and_replay_identically() -> None:
    sink = RecordingSink()
    kernel = Kernel(VirtualClock(), sink)
    wire(kernel, TemporalArbParams(allow_single_source_final=True))
    for e in script():
        kernel.clock.set_ns(e.ts_init)  # type: ignore[attr-defined]
        kernel.publish(e)
    intents = [e for e in sink.events if isinstance(e, PlaceOrderIntent)]
    decisions = [e for e in sink.events if isinstance(e, RiskDecision)]
    finals = [e for e in sink.events if isinstance(e, TruthFinal)]
    # Game 1 confirmed by two sources at 4 s -> the Game 1 market; the match FINAL comes from
    # the 10 s timeout (one source, traded only by opt-in) at 15 s; the ask waits until 16 s.
    assert [(i.market, i.token_id, i.ts_init) for i in intents] == [
        ("0xG1", "g1a", 4 * SECOND),
        ("0xM", "ta", 16 * SECOND),
    ]
    assert [(f.winner, f.ts_init) for f in finals] == [("t1", 15 * SECOND)]
    assert [d.approved for d in decisions] == [True, True], [d.reason for d in decisions]

    # Replay the recorded inputs: the derived events come out byte-identical.
    replay_sink = RecordingSink()
    again = Kernel(VirtualClock(), replay_sink)
    wire(again, TemporalArbParams(allow_single_source_final=True))
    again.replay(sink.events)
    encode = msgspec.json.encode
    assert [encode(e) for e in replay_sink.events] == [encode(e) for e in sink.events]
