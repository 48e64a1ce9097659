"""Decisions across a restart: stable ids, steps that carry on, nothing in flight decided twice.

Two sessions are recorded in one event log (a node, then the same node restarted on the
same market); a simulated run trades in both, and an exact replay of that run makes the
very same intents again. Then a node dies with a pair leg in flight: the restarted node's
strategy waits for that order (resent once by reconciliation) and decides nothing twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import RecordingSink

from polyloly.backtest.latency import LatencyModel
from polyloly.backtest.replay import replay_exact, replay_simulated
from polyloly.bot.replay_core import core_factory
from polyloly.domain.events import BookSnapshot, Event, TimerTick, TruthDelta, TruthState
from polyloly.domain.intents import PlaceOrderIntent, split_intent_id
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE, cost_of
from polyloly.execution.engine import ExecutionEngine, ExecutionPorts
from polyloly.execution.events import ExecutionAnomaly, OrderSubmitted
from polyloly.execution.ports import SignedOrder, SubmitResult
from polyloly.node.core import Core, NodeKernel
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.storage.event_log import EventLogWriter
from polyloly.strategies.pair_arb import PairArbParams
from polyloly.strategies.temporal_arb import TemporalArbParams
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

START = 1_800_000_000 * NS_PER_S
RESTART = START + 60 * NS_PER_S
MARKET, YES, NO = "0xabc", "901", "902"


def _session(t0: int) -> list[Event]:
    params = NodeParams(pair_arb=PairArbParams(merge_min_pairs_shares=0))
    mapping = MarketMapping(
        match_id="lol-x", market_id=MARKET, question="LoL: A vs B - Game 1 Winner",
        kind=MarketKind.GAME, game_number=1, team_a="a", team_b="b", token_a=YES, token_b=NO,
    )  # fmt: skip
    events: list[Event] = [
        SessionStarted(ts_event=t0, ts_init=t0, mode="paper", params=params),
        MarketDiscovered(ts_event=t0, ts_init=t0, mapping=mapping, game="lol"),
    ]
    t = t0 + NS_PER_S
    for token, ask in ((YES, 400_000), (NO, 500_000)):
        events.append(
            BookSnapshot(
                ts_event=t, ts_init=t, market=MARKET, token_id=token,
                bids=((ask - 30_000, 400 * SCALE),), asks=((ask, 400 * SCALE),), tick=10_000,
            )
        )  # fmt: skip
    events += [
        TimerTick(ts_event=t0 + k * NS_PER_S, ts_init=t0 + k * NS_PER_S) for k in range(2, 8)
    ]
    return events


@pytest.mark.asyncio
async def test_two_sessions_in_one_log_never_share_an_intent_id(tmp_path: Path) -> None:
    with EventLogWriter(tmp_path / "recorded") as writer:
        for event in (*_session(START), *_session(RESTART)):
            writer.append(event)
    simulated = await replay_simulated(
        [tmp_path / "recorded"],
        core_factory(),
        latency=LatencyModel(market_data_ms=5, request_ms=10, reply_ms=10),
        collateral=1_000 * SCALE,
        out_dir=tmp_path / "simulated",
    )
    intents = [e for e in simulated.replayed if isinstance(e, PlaceOrderIntent)]
    first = [i.intent_id for i in intents if i.ts_init < RESTART]
    second = [i.intent_id for i in intents if i.ts_init >= RESTART]
    assert first
    assert second
    assert not set(first) & set(second)
    assert len(set(first + second)) == len(intents)
    # The ids are the decisions' keys: strategy, market, step; the steps carry on.
    steps = [split_intent_id(i) for i in first + second]
    assert [s[0] for s in steps if s] == [f"pair_arb:{MARKET}"] * len(steps)
    numbers = [s[1] for s in steps if s]
    assert numbers == list(range(1, len(numbers) + 1))
    anomalies = [e for e in simulated.replayed if isinstance(e, ExecutionAnomaly)]
    assert not [a for a in anomalies if "duplicate" in a.kind]
    orders = [e for e in simulated.replayed if isinstance(e, OrderSubmitted)]
    assert len({o.client_id for o in orders}) == len(orders)
    # the replay reads the same SessionStarted events: the same ids again, byte for byte
    exact = await replay_exact([tmp_path / "simulated"], core_factory())
    assert exact.identical, exact.first_mismatch


# -- a node dies with a pair leg in flight ---------------------------------------------------------


@dataclass
class Node:
    """One process: a kernel logging to a sink, the core, its engine, on a shared venue."""

    clock: VirtualClock
    sink: RecordingSink
    kernel: NodeKernel
    core: Core
    engine: ExecutionEngine
    recovered: list[Event]

    def at(self, seconds: float) -> int:
        ts = START + int(seconds * NS_PER_S)
        self.clock.set_ns(ts)
        return ts

    def intents(self) -> list[PlaceOrderIntent]:
        """What this process decided (the sink starts with the recovered log)."""
        return [i for i in self.sink.of(PlaceOrderIntent) if i not in self.recovered]

    def books(self, t: float, yes_ask: int = 400_000, no_ask: int = 500_000) -> None:
        ts = self.at(t)
        for token, ask in ((YES, yes_ask), (NO, no_ask)):
            self.kernel.publish(
                BookSnapshot(
                    ts_event=ts, ts_init=ts, market=MARKET, token_id=token,
                    bids=((ask - 20_000, 500 * SCALE),), asks=((ask, 500 * SCALE),), tick=10_000,
                )
            )  # fmt: skip


PAIR_ONLY = NodeParams(pair_arb=PairArbParams(merge_min_pairs_shares=0))


def _node(
    clock: VirtualClock,
    venue: FakeVenue,
    t: float,
    log: list[Event],
    params: NodeParams = PAIR_ONLY,
) -> Node:
    """Start a process: recover ``log``, open a session, discover the market (no books yet)."""
    sink = RecordingSink()
    for event in log:
        sink.append(event)
    sink.flush()
    kernel = NodeKernel(clock, sink)
    core = Core(kernel)
    venue.publish = kernel.publish
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts(),
        cancel_all=venue, merger=venue,
    )  # fmt: skip
    engine = core.attach_engine(ports, sleep=VirtualSleep(clock))
    engine.recover(log)
    node = Node(clock, sink, kernel, core, engine, list(log))
    ts = node.at(t)
    kernel.publish(SessionStarted(ts_event=ts, ts_init=ts, mode="live", params=params))
    mapping = MarketMapping(
        match_id="lol-x", market_id=MARKET, question="LoL: A vs B - Game 1 Winner",
        kind=MarketKind.GAME, game_number=1, team_a="a", team_b="b", token_a=YES, token_b=NO,
    )  # fmt: skip
    kernel.publish(MarketDiscovered(ts_event=ts, ts_init=ts, mapping=mapping, game="lol"))
    return node


async def _kill(node: Node) -> list[Event]:
    await node.engine.stop()
    return node.sink.durable_events()


@pytest.mark.asyncio
@pytest.mark.parametrize("posted", [False, True], ids=["before-the-post", "after-the-post"])
async def test_a_decision_in_flight_at_a_crash_is_placed_once_and_never_decided_again(
    posted: bool,
) -> None:
    clock = VirtualClock(START)
    venue = FakeVenue({MARKET: (YES, NO)}, collateral=1_000 * SCALE, now_ns=clock.now_ns)
    first = _node(clock, venue, 0, [])
    first.engine.start()
    await first.engine.idle()
    real_submit = venue.submit

    async def dies_in_the_submit(order: SignedOrder) -> SubmitResult:
        venue.ws_connected = False  # the process hears nothing from here on
        if posted:
            await real_submit(order)  # the venue has it; the reply never comes back
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    venue.submit = dies_in_the_submit  # type: ignore[method-assign]
    first.books(1)  # 0.40 + 0.50 + fees < 0.975: the pair's first leg
    await asyncio.sleep(0)
    (leg,) = first.sink.of(OrderSubmitted)
    log = await _kill(first)
    venue.submit = real_submit  # type: ignore[method-assign]
    venue.ws_connected = True

    second = _node(clock, venue, 30, log)
    pair = second.core.pair
    assert pair is not None
    assert pair.pending(MARKET) == leg.client_id  # before anything is decided
    exposure = second.engine.state.exposure()  # the risk gate counts it as open
    assert exposure.open_orders == {MARKET: 1}
    assert exposure.exposure[MARKET] > 0
    second.engine.start()  # reconciliation: found, or resent once (a lookup, then a post)
    await second.engine.idle()
    for t in range(31, 36):  # books keep changing: the same decision is not made again
        second.books(t)
        await second.engine.idle()
    assert second.intents() == []
    assert [o.order_hash for o in venue.orders.values()] == [leg.order_hash]
    assert venue.submissions == 1
    # The order fills: the pair carries on with its next step, on the other leg.
    second.at(40)
    size = leg.order.spec.size
    venue.fill(leg.order_hash, size, taker=True)
    second.books(41)
    await second.engine.idle()
    (nxt,) = second.intents()
    assert split_intent_id(nxt.intent_id) == (f"pair_arb:{MARKET}", 2)
    assert nxt.token_id != leg.order.spec.token_id
    assert len(venue.orders) == 2  # one order per decision at the venue
    assert not [a for a in second.sink.of(ExecutionAnomaly) if "illegal" in a.kind]


def _game_one_won_by_b(node: Node, t: float) -> TruthDelta:
    ts = node.at(t)
    return TruthDelta(
        ts_event=ts, ts_init=ts, match_id="lol-x", state=TruthState.LIVE, change="game_result",
        score_a=0, score_b=1, team_a="a", team_b="b", confidence=0, game_number=1,
        game_winner="b", game_confidence=9_900, game_sources=("grid", "pandascore"),
    )  # fmt: skip


@pytest.mark.asyncio
async def test_a_result_entered_before_a_crash_is_not_entered_again_and_still_commits() -> None:
    clock = VirtualClock(START)
    venue = FakeVenue({MARKET: (YES, NO)}, collateral=1_000 * SCALE, now_ns=clock.now_ns)
    temporal = NodeParams(temporal_arb=TemporalArbParams(max_slippage_bps=10_000))
    first = _node(clock, venue, 0, [], temporal)
    first.engine.start()
    await first.engine.idle()
    venue.ws_connected = False  # the process hears nothing more: it dies with the entry out
    first.books(1, yes_ask=200_000, no_ask=600_000)
    first.kernel.publish(_game_one_won_by_b(first, 2))
    (entry,) = first.intents()
    assert entry.intent_id == f"temporal_arb:{MARKET}:{NO}:1"
    await first.engine.idle()
    log = await _kill(first)
    venue.ws_connected = True

    second = _node(clock, venue, 30, log, temporal)
    engine = second.core.temporal
    assert engine is not None
    assert engine.exposure == cost_of(entry.size, entry.price)  # in flight: the worst case
    second.engine.start()
    await second.engine.idle()
    second.books(31, yes_ask=200_000, no_ask=600_000)
    second.kernel.publish(_game_one_won_by_b(second, 32))  # the truth engine says it again
    await second.engine.idle()
    assert second.intents() == []
    assert len(venue.orders) == 1  # one order for the one result
