"""The kernel: log-before-dispatch, FIFO derived events, typed dispatch, replay determinism."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import RecordingSink

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    MatchEvent,
    MatchEventKind,
    Side,
    TimerTick,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent, RiskDecision, intent_id_for
from polyloly.runtime.clock import LiveClock, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.storage.event_log import EventLogReader, EventLogWriter, encode_event


class Ping(Event, frozen=True, tag="test_ping"):
    n: int = 0


class Pong(Event, frozen=True, tag="test_pong"):
    n: int = 0
    derived: ClassVar[bool] = True


class Base(Event, frozen=True, tag="test_base"):
    pass


class Child(Base, frozen=True, tag="test_child"):
    pass


def tick(ts: int = 0, name: str = "tick") -> TimerTick:
    return TimerTick(ts_event=ts, ts_init=ts, name=name)


def test_every_event_is_logged_in_order_before_any_handler_runs() -> None:
    sink = RecordingSink()
    kernel = Kernel(VirtualClock(), sink)
    seen: list[Event] = []

    def handler(event: Event) -> None:
        # the sink already holds this event, and everything before it, in order
        assert sink.events[-1] is event
        assert sink.events[: len(seen)] == seen
        seen.append(event)
        if isinstance(event, Ping) and event.n < 3:
            kernel.emit(Pong(ts_event=0, ts_init=0, n=event.n))

    kernel.subscribe(Event, handler)
    for n in range(5):
        kernel.publish(Ping(ts_event=n, ts_init=n, n=n))
    assert seen == sink.events
    assert len(sink.events) == 8
    assert kernel.published == 8


def test_derived_events_are_dispatched_first_in_first_out() -> None:
    sink = RecordingSink()
    kernel = Kernel(VirtualClock(), sink)
    order: list[str] = []

    def on_ping(event: Ping) -> None:
        order.append(f"ping{event.n}")
        if event.n == 0:  # one input fans out into two, the first of which fans out again
            kernel.emit(Ping(ts_event=0, ts_init=0, n=1))
            kernel.emit(Ping(ts_event=0, ts_init=0, n=2))
        elif event.n == 1:
            kernel.emit(Ping(ts_event=0, ts_init=0, n=3))

    kernel.subscribe(Ping, on_ping)
    kernel.publish(Ping(ts_event=0, ts_init=0, n=0))
    assert order == ["ping0", "ping1", "ping2", "ping3"]
    assert [e.n for e in sink.events if isinstance(e, Ping)] == [0, 1, 2, 3]
    # the whole cascade ran inside one publish, then the batch was flushed once
    assert (sink.flushes, sink.durable) == (1, 4)


def test_typed_subscribe_by_class_and_base_class() -> None:
    kernel = Kernel(VirtualClock())
    calls: list[tuple[str, str]] = []
    kernel.subscribe(Base, lambda e: calls.append(("base", type(e).__name__)))
    kernel.subscribe(Child, lambda e: calls.append(("child", type(e).__name__)))
    kernel.subscribe(Event, lambda e: calls.append(("event", type(e).__name__)))
    kernel.subscribe_all(lambda e: calls.append(("all", type(e).__name__)))
    kernel.subscribe(Ping, lambda e: calls.append(("ping", type(e).__name__)))

    kernel.publish(Child(ts_event=0, ts_init=0))
    assert calls == [("child", "Child"), ("base", "Child"), ("event", "Child"), ("all", "Child")]
    calls.clear()
    kernel.publish(Base(ts_event=0, ts_init=0))
    assert calls == [("base", "Base"), ("event", "Base"), ("all", "Base")]
    calls.clear()
    kernel.publish(tick())
    assert calls == [("event", "TimerTick"), ("all", "TimerTick")]


def test_handlers_of_one_class_run_in_subscription_order_and_late_subscribers_apply() -> None:
    kernel = Kernel(VirtualClock())
    calls: list[int] = []
    kernel.subscribe(TimerTick, lambda e: calls.append(1))
    kernel.subscribe(TimerTick, lambda e: calls.append(2))
    kernel.publish(tick())
    kernel.subscribe(TimerTick, lambda e: calls.append(3))  # the dispatch cache is rebuilt
    kernel.publish(tick())
    assert calls == [1, 2, 1, 2, 3]


def test_a_failing_handler_stops_the_stream_but_its_event_is_flushed() -> None:
    sink = RecordingSink()
    kernel = Kernel(VirtualClock(), sink, flush_every=100)

    def explode(event: Ping) -> None:
        kernel.emit(Pong(ts_event=0, ts_init=0))
        raise RuntimeError("bug")

    kernel.subscribe(Ping, explode)
    with pytest.raises(RuntimeError, match="bug"):
        kernel.publish(Ping(ts_event=0, ts_init=0))
    assert sink.durable == 1  # the event that broke the handler reached the disk
    assert kernel.handler_errors == 1
    kernel.publish(tick())  # the kernel is usable again; the queued Pong was dropped
    assert [type(e).__name__ for e in sink.events] == ["Ping", "TimerTick"]


def test_on_handler_error_keeps_the_other_handlers_running() -> None:
    kernel = Kernel(VirtualClock())
    failures: list[tuple[str, str]] = []
    kernel.on_handler_error = lambda event, exc: failures.append((type(event).__name__, str(exc)))
    ran: list[int] = []

    def bad(event: TimerTick) -> None:
        raise ValueError("nope")

    kernel.subscribe(TimerTick, bad)
    kernel.subscribe(TimerTick, lambda e: ran.append(e.ts_init))
    kernel.publish(tick(1))
    kernel.publish(tick(2))
    assert failures == [("TimerTick", "nope")] * 2
    assert ran == [1, 2]
    assert kernel.handler_errors == 2


def test_flush_every_batches_writes() -> None:
    sink = RecordingSink()
    kernel = Kernel(VirtualClock(), sink, flush_every=3)
    for ts in range(7):
        kernel.publish(tick(ts))
    assert (sink.flushes, sink.durable) == (2, 6)
    kernel.flush()
    assert (sink.flushes, sink.durable) == (3, 7)


def test_an_input_that_caused_a_decision_is_flushed_at_once() -> None:
    """Batched market data may wait for the batch; a decision never waits (nor what preceded it)."""
    sink = RecordingSink()
    kernel = Kernel(VirtualClock(), sink, flush_every=1_000)
    kernel.subscribe(Ping, lambda _e: kernel.emit(Pong(ts_event=0, ts_init=0)))
    for ts in range(5):
        kernel.publish(tick(ts))
    assert (sink.flushes, sink.durable) == (0, 0)  # plain inputs: batched
    kernel.publish(Ping(ts_event=0, ts_init=0))
    assert (sink.flushes, sink.durable) == (1, 7)  # the ticks, the Ping and its Pong
    kernel.publish(tick(9))
    assert (sink.flushes, sink.durable) == (1, 7)


def test_kernel_without_a_sink_still_dispatches() -> None:
    kernel = Kernel(VirtualClock(5))
    seen: list[int] = []
    kernel.subscribe(TimerTick, lambda e: seen.append(kernel.now_ns()))
    kernel.publish(tick())
    kernel.flush()
    assert seen == [5]


# -- replay ---------------------------------------------------------------------------------

MATCH = "lol:g2-fnc:1"
TOKEN_A, TOKEN_B = "111", "222"


class Pipeline:
    """A small stateful truth -> strategy -> risk chain, wired onto a kernel."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.score: dict[str, list[int]] = {}
        self.best_ask: dict[str, int] = {}
        self.seq = 0
        kernel.subscribe(MatchEvent, self.on_match)
        kernel.subscribe(BookSnapshot, self.on_book)
        kernel.subscribe(TruthFinal, self.on_final)
        kernel.subscribe(PlaceOrderIntent, self.on_intent)

    def on_book(self, event: BookSnapshot) -> None:
        if event.asks:
            self.best_ask[event.token_id] = min(price for price, _ in event.asks)

    def on_match(self, event: MatchEvent) -> None:
        now = self.kernel.now_ns()
        score = self.score.setdefault(event.match_id, [0, 0])
        if event.kind is MatchEventKind.GAME_ENDED and event.winner:
            score[0 if event.winner == event.team_a else 1] += 1
            self.kernel.emit(
                TruthDelta(
                    ts_event=event.ts_event,
                    ts_init=now,
                    match_id=event.match_id,
                    state=TruthState.LIVE,
                    change="game_ended",
                    score_a=score[0],
                    score_b=score[1],
                    team_a=event.team_a,
                    team_b=event.team_b,
                    confidence=8000,
                    game_winner=event.winner,
                )
            )
        if max(score) == 2 and event.kind is MatchEventKind.GAME_ENDED:
            self.kernel.emit(
                TruthFinal(
                    ts_event=event.ts_event,
                    ts_init=now,
                    match_id=event.match_id,
                    winner=event.team_a if score[0] == 2 else event.team_b,
                    score_a=score[0],
                    score_b=score[1],
                    team_a=event.team_a,
                    team_b=event.team_b,
                    confidence=9500,
                )
            )

    def on_final(self, event: TruthFinal) -> None:
        token = TOKEN_A if event.winner == event.team_a else TOKEN_B
        price = self.best_ask.get(token)
        if price is None or price > 950_000:
            return
        self.seq += 1
        size = 50_000_000
        self.kernel.emit(
            PlaceOrderIntent(
                ts_event=event.ts_event,
                ts_init=self.kernel.now_ns(),
                intent_id=intent_id_for("temporal_arb", event.match_id, self.seq),
                strategy="temporal_arb",
                market="0xmarket",
                token_id=token,
                side=Side.BUY,
                price=price,
                size=size,
                order_type=OrderType.FOK,
                notional=size * price // 1_000_000,
                match_id=event.match_id,
            )
        )

    def on_intent(self, event: PlaceOrderIntent) -> None:
        approved = event.notional <= 40_000_000
        self.kernel.emit(
            RiskDecision(
                ts_event=event.ts_event,
                ts_init=self.kernel.now_ns(),
                intent_id=event.intent_id,
                approved=approved,
                reason="ok" if approved else "max_single_order",
            )
        )


def game_end(ts: int, winner: str, match_id: str = MATCH) -> MatchEvent:
    return MatchEvent(
        ts_event=ts - 1_000,
        ts_init=ts,
        source="pandascore",
        match_id=match_id,
        provider_match_id="9",
        kind=MatchEventKind.GAME_ENDED,
        team_a="G2",
        team_b="FNC",
        winner=winner,
    )


def book(ts: int, token: str, ask: int) -> BookSnapshot:
    return BookSnapshot(
        ts_event=ts, ts_init=ts, market="0xmarket", token_id=token, bids=(), asks=((ask, 10**8),)
    )


def run_live(inputs: list[Event], sink: RecordingSink | EventLogWriter) -> Kernel:
    """Feed inputs as adapters would: the clock moves to each arrival, then publish."""
    clock = VirtualClock()
    kernel = Kernel(clock, sink)
    Pipeline(kernel)
    for event in inputs:
        clock.set_ns(event.ts_init)
        kernel.publish(event)
    return kernel


SCENARIO: list[Event] = [
    book(1_000, TOKEN_A, 620_000),
    book(1_500, TOKEN_B, 400_000),
    game_end(2_000, "G2"),
    tick(2_500),
    book(3_000, TOKEN_A, 700_000),
    game_end(4_000, "FNC"),
    game_end(5_000, "G2"),
    game_end(6_000, "FNC", match_id="dota:og-tl:2"),
]


def test_replaying_a_log_through_a_fresh_kernel_yields_identical_derived_events(
    tmp_path: Path,
) -> None:
    with EventLogWriter(tmp_path) as writer:
        run_live(SCENARIO, writer)
    recorded = list(EventLogReader([tmp_path]))
    derived = [e for e in recorded if type(e).derived]
    assert [type(e).__name__ for e in derived] == [
        "TruthDelta",
        "TruthDelta",
        "TruthDelta",
        "TruthFinal",
        "PlaceOrderIntent",
        "RiskDecision",
        "TruthDelta",
    ]
    sink = RecordingSink()
    fresh = Kernel(VirtualClock(), sink)
    Pipeline(fresh)
    assert fresh.replay(recorded) == len(SCENARIO)
    assert not fresh.replaying
    assert sink.events == recorded
    assert [encode_event(e) for e in sink.events] == [encode_event(e) for e in recorded]


def test_replay_needs_a_virtual_clock() -> None:
    with pytest.raises(TypeError, match="VirtualClock"):
        Kernel(LiveClock()).replay([tick()])


def test_replay_skips_recorded_derived_events_and_marks_replaying() -> None:
    kernel = Kernel(VirtualClock())
    flags: list[bool] = []
    kernel.subscribe_all(lambda e: flags.append(kernel.replaying))
    fed = kernel.replay([tick(1), Pong(ts_event=0, ts_init=2), tick(3)])
    assert fed == 2
    assert flags == [True, True]
    assert kernel.clock.now_ns() == 3


kinds = st.sampled_from(["book_a", "book_b", "g2", "fnc", "tick"])


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(kinds, st.integers(1, 10**9), st.integers(1, 99)), max_size=30))
def test_replay_is_deterministic_for_any_input_sequence(steps: list[tuple[str, int, int]]) -> None:
    inputs: list[Event] = []
    ts = 0
    for kind, gap, price in steps:
        ts += gap
        if kind == "book_a":
            inputs.append(book(ts, TOKEN_A, price * 10_000))
        elif kind == "book_b":
            inputs.append(book(ts, TOKEN_B, price * 10_000))
        elif kind == "tick":
            inputs.append(tick(ts))
        else:
            inputs.append(game_end(ts, "G2" if kind == "g2" else "FNC", f"m{price % 3}"))
    live = RecordingSink()
    run_live(inputs, live)
    replayed = RecordingSink()
    kernel = Kernel(VirtualClock(), replayed)
    Pipeline(kernel)
    kernel.replay(live.events)
    assert replayed.events == live.events
