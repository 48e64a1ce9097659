"""Pre-decided orders: the same logged events as the ordinary path; never a stale one sent.

The world is the node's own :class:`~polyloly.node.core.Core` on a :class:`NodeKernel` with a
recording event sink, the execution engine on the in-memory venue (wrapped so that it can
"write" an order synchronously and process it when the reply is awaited, as the exchange
does with the bytes a socket write delivered), the live :class:`Presigner` signing inline,
and temporal arbitrage in presign mode. Every scenario runs twice — pre-decisions on and
off — and the two logs must be identical, byte for byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from tests.conftest import RecordingSink
from tests.execution.m1_markets import GAME1, MATCH, START_NS

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    LevelChange,
    OperatorCommand,
    PriceChanges,
    Side,
    TimerTick,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.intents import PlaceOrderIntent, RiskDecision
from polyloly.domain.money import SCALE
from polyloly.domain.risk import RiskParams
from polyloly.execution.budget import BudgetLimits, KeeperConfig
from polyloly.execution.engine import ExecutionPorts
from polyloly.execution.events import OrderAccepted, OrderSubmitted
from polyloly.execution.ports import OrderSigner, OrderSpec, SignedOrder, SubmitResult
from polyloly.execution.presigner import Presigner
from polyloly.execution.risk_gate import GateConfig
from polyloly.node.core import Core, NodeKernel
from polyloly.node.predecide import Predecider, recover_written
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.strategies.temporal_arb import TemporalArbParams
from polyloly.testing.budget import MemoryBudget, MemoryStore
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

TOKENS = ("ma", "mb", "g1a", "g1b")


def params(**temporal: Any) -> NodeParams:
    return NodeParams(
        temporal_arb=TemporalArbParams(presign=True, **temporal),
        risk=RiskParams(),
        gate=GateConfig(require_reconciliation=False),
    )


@dataclass
class _Pending:
    venue: FakeVenue
    order: SignedOrder

    async def result(self) -> SubmitResult:
        return await self.venue.submit(self.order)


class WritingVenue:
    """The in-memory venue plus ``PostNowVenue``: a write records the order; the venue
    processes it when its reply is awaited (where the ordinary path's submit runs)."""

    def __init__(self, inner: FakeVenue) -> None:
        self.inner = inner
        self.written: list[str] = []
        self.connected = True  # an idle connection to write on
        self.broken = False  # the write raises (the socket failed under it)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def prepare_post(self, order: SignedOrder) -> SignedOrder:
        return order

    def post_now(self, prepared: SignedOrder) -> _Pending | None:
        if self.broken:
            raise ConnectionResetError("the order connection broke during the write")
        if not self.connected:
            return None
        self.written.append(prepared.order_hash)
        return _Pending(self.inner, prepared)


@dataclass
class World:
    clock: VirtualClock
    kernel: NodeKernel
    sink: RecordingSink
    core: Core
    venue: WritingVenue
    presigner: Presigner
    predecide: Predecider | None
    scheduled: list[Callable[[], None]] = field(default_factory=list)
    auto: bool = True  # run the pre-decider's scheduled work after each publish
    found: list[str] = field(default_factory=list)  # written orders found at a restart

    @property
    def engine(self) -> Any:
        return self.core.engine

    def now(self) -> int:
        return self.clock.now_ns()

    def run_scheduled(self) -> None:
        while self.scheduled:
            self.scheduled.pop(0)()

    async def publish(self, event: Event) -> None:
        self.kernel.publish(event)
        await self.settle()

    async def settle(self) -> None:
        for _ in range(3):
            await self.presigner.idle()
            await self.engine.idle()
            await asyncio.sleep(0)
            if self.auto:
                self.run_scheduled()

    def book(self, token: str, ask: int, depth: int = 1_000 * SCALE) -> BookSnapshot:
        now = self.now()
        return BookSnapshot(
            ts_event=now, ts_init=now, market="x", token_id=token,
            bids=((ask - 50_000, depth),), asks=((ask, depth),), tick=10_000,
        )  # fmt: skip

    def ask_moves(self, token: str, ask: int, old: int = 600_000) -> PriceChanges:
        """The best ask moves from ``old`` to ``ask`` (the old level emptied)."""
        now = self.now()
        return PriceChanges(
            ts_event=now, ts_init=now, market="x",
            changes=(
                LevelChange(token_id=token, side=Side.SELL, price=ask, size=1_000 * SCALE),
                LevelChange(token_id=token, side=Side.SELL, price=old, size=0),
            ),
        )  # fmt: skip

    def delta(
        self, change: str, game: int | None = None, winner: str | None = None, conf: int = 0
    ) -> TruthDelta:
        now = self.now()
        return TruthDelta(
            ts_event=now, ts_init=now, match_id="m1", state=TruthState.LIVE, change=change,
            score_a=0, score_b=0, team_a="t1", team_b="geng", confidence=conf,
            game_number=game, game_winner=winner, game_confidence=conf,
            game_sources=("grid", "pandascore"),
        )  # fmt: skip

    def final(self, winner: str = "t1", confidence: int = 9_900) -> TruthFinal:
        now = self.now()
        return TruthFinal(
            ts_event=now, ts_init=now, match_id="m1", winner=winner, score_a=2, score_b=0,
            team_a="t1", team_b="geng", confidence=confidence, sources=("grid", "pandascore"),
        )  # fmt: skip

    def submitted(self) -> list[str]:
        return [s.order_hash for s in self.sink.of(OrderSubmitted)]

    def log(self) -> list[bytes]:
        return [msgspec.json.encode(e) for e in self.sink.events]


async def _sign_inline(signer: OrderSigner, spec: OrderSpec) -> SignedOrder:
    return signer.sign(spec)


async def build(
    node: NodeParams | None = None,
    *,
    predecide: bool = True,
    budget: MemoryBudget | None = None,
    exchange: FakeVenue | None = None,
    recorded: list[Event] | None = None,
) -> World:
    """A node; ``exchange``: the venue of an earlier node; ``recorded``: its log, recovered
    before the session starts (a restart)."""
    clock = VirtualClock(START_NS)
    sink = RecordingSink()
    kernel = NodeKernel(clock, sink)
    core = Core(kernel)
    inner = exchange or FakeVenue(
        {"0xM": ("ma", "mb"), "0xG1": ("g1a", "g1b")}, collateral=10_000 * SCALE,
        now_ns=clock.now_ns,
    )  # fmt: skip
    inner.publish = kernel.publish
    venue = WritingVenue(inner)
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts(), cancel_all=venue
    )  # type: ignore[arg-type]
    engine = core.attach_engine(ports, sleep=VirtualSleep(clock))
    if budget is not None:
        limits = budget.limits
        keeper = engine.use_budget(budget, budget, KeeperConfig(instance="a", limits=limits))
        keeper.attach()
    scheduled: list[Callable[[], None]] = []
    pre = core.enable_predecide(venue, scheduled.append) if predecide else None

    def targets() -> list[Any]:
        return list(core.temporal.presign_targets()) if core.temporal is not None else []

    presigner = Presigner(
        kernel, engine.presign, engine.signer, targets, run_sign=_sign_inline, tick_of=core.tick_of
    )
    presigner.attach()
    world = World(clock, kernel, sink, core, venue, presigner, pre, scheduled)
    if recorded is not None:
        engine.recover(recorded)
        world.found = await recover_written(engine, recorded)
    now = clock.now_ns()
    await world.publish(
        SessionStarted(ts_event=now, ts_init=now, mode="test", params=node or params())
    )
    for mapping in (MATCH, GAME1):
        await world.publish(MarketDiscovered(ts_event=now, ts_init=now, mapping=mapping))
    presigner.start()
    await world.settle()
    return world


async def live_with_books(w: World, asks: dict[str, int] | None = None) -> None:
    """The match and game 1 are live, every book has asks under the cap: all pre-decided."""
    for token, ask in (asks or dict.fromkeys(TOKENS, 600_000)).items():
        await w.publish(w.book(token, ask))
    await w.publish(w.delta("match_started"))
    await w.publish(w.delta("game_started", game=1))


# ---------------------------------------------------------------------------------------------
# The same log
# ---------------------------------------------------------------------------------------------


async def _game_then_match(predecide: bool) -> World:
    w = await build(predecide=predecide)
    await live_with_books(w)
    w.clock.advance_ns(NS_PER_S)
    await w.publish(w.delta("game_result", game=1, winner="geng", conf=9_500))
    await w.publish(w.ask_moves("ma", 620_000))  # the plan re-made on the moved book
    w.clock.advance_ns(NS_PER_S)
    await w.publish(w.final("t1"))
    return w


@pytest.mark.asyncio
async def test_pre_decided_results_log_exactly_what_the_ordinary_path_logs() -> None:
    fast = await _game_then_match(predecide=True)
    plain = await _game_then_match(predecide=False)
    assert fast.predecide is not None
    assert fast.predecide.stats.sent == 2  # both results left from their pre-decision
    assert fast.venue.written == fast.submitted()  # and they are the orders the path chose
    assert len(fast.submitted()) == 2
    assert fast.log() == plain.log()
    assert [a.order_hash for a in fast.sink.of(OrderAccepted)] == fast.submitted()
    assert fast.engine.presign.stats.hits == 2  # sent as pre-signed, no signature made


@pytest.mark.asyncio
async def test_two_results_of_one_dispatch_log_the_same() -> None:
    """A game result and the match result in one dispatch (the truth engine emits both
    from one report); the exposure cap leaves no room for the second standard entry, so
    the strategy walks a smaller one: that one must not leave from its pre-decision."""

    async def run(predecide: bool) -> World:
        w = await build(params(max_exposure_usdc=60_000_000), predecide=predecide)
        await live_with_books(w)
        await w.publish(TimerTick(ts_event=w.now(), ts_init=w.now()))  # the day starts

        def both(_tick: TimerTick) -> None:  # as the truth engine emits them from one report
            w.kernel.emit(w.delta("game_result", game=1, winner="geng", conf=9_500))
            w.kernel.emit(w.final("t1"))

        w.kernel.subscribe(TimerTick, both)
        await w.publish(TimerTick(ts_event=w.now(), ts_init=w.now()))
        return w

    fast, plain = await run(True), await run(False)
    assert fast.predecide is not None
    assert fast.predecide.stats.sent == 1
    assert fast.predecide.stats.fallbacks == {"strategy": 1}
    assert fast.venue.written == fast.submitted()[:1]
    assert len(fast.submitted()) == 2  # the match entry went the ordinary way
    assert fast.log() == plain.log()


# ---------------------------------------------------------------------------------------------
# Never a stale pre-decision
# ---------------------------------------------------------------------------------------------


async def _armed(**kw: Any) -> World:
    w = await build(**kw)
    await live_with_books(w)
    assert w.predecide is not None
    assert {e.token_id for e in w.predecide.entries()} == set(TOKENS)
    w.auto = False  # from here on nothing re-decides before the result
    return w


@pytest.mark.asyncio
async def test_a_moved_book_is_never_sent_from_the_old_decision() -> None:
    w = await _armed()
    await w.publish(w.ask_moves("ma", 960_000))  # the best ask goes above the cap
    await w.publish(w.final("t1"))
    assert w.venue.written == []
    assert w.submitted() == []  # the ordinary path sees no ask under the cap either


@pytest.mark.asyncio
async def test_changed_exposure_is_never_sent_from_the_old_decision() -> None:
    w = await _armed()
    # an order of the ledger changes the exposure the gate and the strategy read
    await w.publish(w.delta("game_result", game=1, winner="geng", conf=9_500))
    assert w.venue.written == w.submitted()  # that one was pre-decided
    await w.publish(w.final("t1"))
    assert w.predecide is not None
    assert w.predecide.stats.fallbacks == {"changed": 1}
    assert len(w.venue.written) == 1
    assert len(w.submitted()) == 2  # the ordinary path decided it


@pytest.mark.asyncio
async def test_a_halt_is_never_sent_through() -> None:
    w = await _armed()
    await w.publish(OperatorCommand(ts_event=w.now(), ts_init=w.now(), command="halt"))
    await w.publish(w.final("t1"))
    assert w.venue.written == []
    assert w.submitted() == []
    decisions = w.sink.of(RiskDecision)
    assert [d.approved for d in decisions] == [False]


@pytest.mark.asyncio
async def test_a_halt_latched_in_the_same_dispatch_is_never_sent_through() -> None:
    """The kill switch latches at once; its event is dispatched after the result."""
    w = await _armed()
    await w.publish(TimerTick(ts_event=w.now(), ts_init=w.now()))  # the day starts
    w.run_scheduled()

    def halt_then(tick: TimerTick) -> None:
        w.kernel.emit(w.final("t1"))
        w.engine.gate.fire("manual_halt", "test")

    w.kernel.subscribe(TimerTick, halt_then)
    await w.publish(TimerTick(ts_event=w.now(), ts_init=w.now()))
    assert w.predecide is not None
    assert w.predecide.stats.fallbacks == {"halted": 1}
    assert w.venue.written == []
    assert w.submitted() == []


@pytest.mark.asyncio
async def test_an_expired_presigned_order_is_never_sent() -> None:
    w = await _armed()
    w.clock.advance_ns(46 * NS_PER_S)  # past the pool's maximum age, no event in between
    ready = {r.token_id: r.order.order_hash for r in w.engine.presign.ready()}
    await w.publish(w.final("t1"))
    assert w.predecide is not None
    assert w.predecide.stats.fallbacks == {"expired": 1}
    assert w.venue.written == []
    [sent] = w.submitted()
    assert sent != ready["ma"]  # signed on demand: the stale one never left


@pytest.mark.asyncio
async def test_new_parameters_are_never_sent_from_the_old_decision() -> None:
    w = await _armed()
    now = w.now()
    new = params(max_entry_price=500_000)  # now every ask is above the cap
    await w.publish(SessionStarted(ts_event=now, ts_init=now, mode="test", params=new))
    for mapping in (MATCH, GAME1):
        await w.publish(MarketDiscovered(ts_event=now, ts_init=now, mapping=mapping))
    await w.publish(w.final("t1"))
    assert w.venue.written == []
    assert w.submitted() == []


@pytest.mark.asyncio
async def test_an_unconfirmed_result_sends_nothing() -> None:
    w = await _armed()
    await w.publish(w.final("t1", confidence=8_000))  # below min_confidence
    assert w.venue.written == []
    assert w.submitted() == []


@pytest.mark.asyncio
async def test_no_idle_connection_takes_the_ordinary_path() -> None:
    w = await _armed()
    w.venue.connected = False
    await w.publish(w.final("t1"))
    assert w.predecide is not None
    assert w.predecide.stats.fallbacks == {"not_written": 1}
    assert len(w.submitted()) == 1  # posted by its submit task, as before


@pytest.mark.asyncio
async def test_a_failed_write_is_looked_up_then_sent_once_by_the_ordinary_path() -> None:
    w = await _armed()
    w.venue.broken = True
    await w.publish(w.final("t1"))
    assert w.predecide is not None
    assert w.predecide.stats.fallbacks == {"write_failed": 1}
    assert w.predecide.stats.mismatches == 0
    [sent] = w.submitted()  # the result was decided as always
    assert w.venue.inner.calls.get("lookup") == 1  # it may have left: looked up first
    assert list(w.venue.inner.orders) == [sent]  # then sent, once
    assert w.engine.state.halted is None


@pytest.mark.asyncio
async def test_a_written_order_the_path_did_not_make_is_logged_and_halts() -> None:
    """Defence in depth: if the ordinary path ever sent something else, the written order
    is still logged (the ledger tracks it) and the kill switch fires."""
    w = await _armed()
    assert w.predecide is not None
    entry = next(e for e in w.predecide.entries() if e.token_id == "ma")
    # written with no result behind it: the ordinary path submits nothing (a simulated bug)
    assert w.predecide._send(entry, w.now())
    w.run_scheduled()
    await w.settle()
    assert w.predecide.stats.mismatches == 1
    assert w.submitted() == [entry.order.order_hash]
    assert w.engine.state.halted is not None
    assert w.engine.state.order_for_client(entry.intent_id) is not None


# ---------------------------------------------------------------------------------------------
# The shared budget
# ---------------------------------------------------------------------------------------------


LIMITS = BudgetLimits(
    max_total=10_000 * SCALE, max_market=1_500 * SCALE, max_daily_loss=200 * SCALE
)


@pytest.mark.asyncio
async def test_pre_decisions_hold_their_shared_reservation_and_release_it() -> None:
    store = MemoryStore(now_ms=lambda: 0)
    w = await build(budget=MemoryBudget(store, instance="a", limits=LIMITS))
    await live_with_books(w)
    assert w.predecide is not None
    held = {e.token_id: e.order.order_hash for e in w.predecide.entries()}
    assert len(set(held.values())) == 4
    assert set(held.values()) <= set(store.reservations)  # every possible result's order
    await w.publish(w.final("t1"))
    assert w.submitted() == w.venue.written == [held["ma"]]  # sent on its reservation
    assert w.engine.budget.stats.reserves == 1  # answered at once: no second round trip
    # the series is over: the other orders are unwanted, their reservations dropped at
    # the next sync (the sent one's too: the published figures now hold that order)
    later = w.now() + 10 * NS_PER_S
    await w.publish(TimerTick(ts_event=later, ts_init=later))
    assert w.predecide.entries() == []
    assert not set(held.values()) & set(store.reservations)
    assert store.open_orders["a"] == {"0xM": 49_970_000}


@pytest.mark.asyncio
async def test_a_refused_reservation_is_never_sent_ahead() -> None:
    tight = BudgetLimits(max_total=40 * SCALE, max_market=1_500 * SCALE, max_daily_loss=200 * SCALE)
    store = MemoryStore(now_ms=lambda: 0)
    w = await build(budget=MemoryBudget(store, instance="a", limits=tight))
    await live_with_books(w)
    await w.publish(w.final("t1"))
    assert w.venue.written == []  # the $50 entry never got its reservation
    assert w.predecide is not None
    assert w.predecide.stats.fallbacks.get("not_reserved") == 1
    assert [i.intent_id for i in w.sink.of(PlaceOrderIntent)]  # decided as before


# ---------------------------------------------------------------------------------------------
# A crash between the write and its log
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_order_written_just_before_a_crash_is_found_and_logged_at_start_up() -> None:
    w = await _armed()
    assert w.predecide is not None
    entry = next(e for e in w.predecide.entries() if e.token_id == "ma")
    pending = w.venue.post_now(entry.prepared)  # the write ... and the process dies
    assert pending is not None
    w.venue.inner.publish = None  # a dead process hears nothing from the venue
    await pending.result()  # the venue received it
    assert w.submitted() == []  # its OrderSubmitted was never logged
    sent = w.venue.inner.submissions
    b = await build(exchange=w.venue.inner, recorded=list(w.sink.events))
    assert b.found == [entry.order.order_hash]
    [logged] = b.sink.of(OrderSubmitted)
    assert logged.order_hash == entry.order.order_hash
    assert logged.client_id == "temporal_arb:0xM:ma:1"  # the entry it was
    [accepted] = b.sink.of(OrderAccepted)
    assert accepted.found_by_lookup  # its outcome was looked up, never resent
    assert w.venue.inner.submissions == sent
    # the result reported again after the restart: that entry is not made twice
    await live_with_books(b)
    await b.publish(b.final("t1"))
    assert b.submitted() == [entry.order.order_hash]
    assert w.venue.inner.submissions == sent


@pytest.mark.asyncio
async def test_start_up_finds_nothing_when_no_order_was_written() -> None:
    w = await _armed()
    b = await build(exchange=w.venue.inner, recorded=list(w.sink.events))
    assert b.found == []
    assert b.submitted() == []
