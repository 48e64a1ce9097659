"""Replays: the ports they use, the latency model, and a simulated → exact round trip."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from polyloly.adapters.polymarket import events as pm
from polyloly.backtest.latency import LatencyModel, LatentVenue
from polyloly.backtest.replay import (
    CoreFactory,
    ReplayParts,
    compare_decisions,
    replay_exact,
    replay_simulated,
)
from polyloly.backtest.replay_ports import DigestSigner, InertVenue, RecordedSigner
from polyloly.bot.node_options import PM_TRANSLATORS
from polyloly.bot.replay_core import core_factory
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    LevelChange,
    MatchEvent,
    MatchEventKind,
    PriceChanges,
    Side,
    TimerTick,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionConfig, ExecutionPorts
from polyloly.execution.events import OrderSubmitted
from polyloly.execution.paper import PaperConfig, PaperVenue
from polyloly.execution.ports import OrderSpec
from polyloly.node.core import Core, NodeKernel
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, Clock
from polyloly.runtime.kernel import EventSink
from polyloly.runtime.sleep import Sleep
from polyloly.storage.event_log import EventLogWriter
from polyloly.strategies.pair_arb import PairArbParams

START = 1_800_000_000 * NS_PER_S
MARKET, YES, NO = "0xabc", "901", "902"


def spec(client_id: str = "pair_arb:m:1", price: int = 400_000) -> OrderSpec:
    return OrderSpec(
        client_id=client_id, market=MARKET, token_id=YES, side=Side.BUY, price=price,
        size=10 * SCALE, order_type=OrderType.FAK, salt=7, timestamp_ms=1,
    )  # fmt: skip


def test_digest_signer_is_deterministic_and_recorded_signer_reuses_identical_specs() -> None:
    digest = DigestSigner()
    assert digest.sign(spec()).order_hash == digest.sign(spec()).order_hash
    assert digest.sign(spec()).order_hash != digest.sign(spec(price=410_000)).order_hash
    recorded = digest.sign(spec())
    signer = RecordedSigner({"pair_arb:m:1": recorded})
    assert signer.sign(spec()) is recorded
    changed = signer.sign(spec(price=410_000))
    assert changed.order_hash != recorded.order_hash
    assert (signer.reused, signer.unrecorded) == (1, 1)


def test_compare_decisions_counts_and_describes_differences() -> None:
    a = [TimerTick(ts_event=1, ts_init=1), TimerTick(ts_event=2, ts_init=2)]
    assert compare_decisions(a, list(a)) == (0, "")
    count, first = compare_decisions(a, [a[0]])
    assert count == 1
    assert first.startswith("#1:")


def test_latency_model_delays_by_event_kind_and_jitters_reproducibly() -> None:
    model = LatencyModel(market_data_ms=20, esports_ms=300, jitter_ms=5, seed=3)
    book = BookSnapshot(ts_event=0, ts_init=0, market=MARKET, token_id=YES, bids=(), asks=())
    report = MatchEvent(
        ts_event=0, ts_init=0, source="grid", match_id="m", provider_match_id="1",
        kind=MatchEventKind.KILL, team_a="a", team_b="b",
    )  # fmt: skip
    assert model.feed_delay_ns(book) == 20 * NS_PER_MS
    assert model.feed_delay_ns(report) == 300 * NS_PER_MS
    assert model.feed_delay_ns(TimerTick(ts_event=0, ts_init=0)) == 0
    first, second = model.jitter(), model.jitter()
    draws = [first() for _ in range(5)]
    assert draws == [second() for _ in range(5)]
    assert all(0 <= d <= 5 * NS_PER_MS for d in draws)
    with pytest.raises(ValueError, match=">= 0"):
        LatencyModel(request_ms=-1)


@pytest.mark.asyncio
async def test_latent_venue_waits_the_request_then_the_reply() -> None:
    waits: list[int] = []

    async def sleep(delay_ns: int) -> None:
        waits.append(delay_ns)

    paper = PaperVenue(_FixedClock(), PaperConfig(starting_collateral=50 * SCALE))
    venue = LatentVenue(paper, LatencyModel(request_ms=30, reply_ms=40), sleep)
    balances = await venue.balances([])
    assert balances.collateral == 50 * SCALE
    assert waits == [30 * NS_PER_MS, 40 * NS_PER_MS]


class _FixedClock:
    def now_ns(self) -> int:
        return START

    def monotonic_ns(self) -> int:
        return START


@pytest.mark.asyncio
async def test_inert_venue_never_answers() -> None:
    task = asyncio.create_task(InertVenue().submit(DigestSigner().sign(spec())))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def synthetic_log(folder: Path) -> None:
    """A session, a market, books with a pair gap (0.40 + 0.50) and a few seconds of ticks."""
    params = NodeParams(pair_arb=PairArbParams(merge_min_pairs_shares=0))
    mapping = MarketMapping(
        match_id="lol-x", market_id=MARKET, question="LoL: A vs B - Game 1 Winner",
        kind=MarketKind.GAME, game_number=1, team_a="a", team_b="b", token_a=YES, token_b=NO,
    )  # fmt: skip
    events: list[Event] = [
        SessionStarted(ts_event=START, ts_init=START, mode="record", params=params),
        MarketDiscovered(ts_event=START, ts_init=START, mapping=mapping, game="lol"),
    ]
    t = START + NS_PER_S
    for token, ask in ((YES, 400_000), (NO, 500_000)):
        events.append(
            BookSnapshot(
                ts_event=t, ts_init=t, market=MARKET, token_id=token,
                bids=((ask - 30_000, 400 * SCALE),), asks=((ask, 400 * SCALE),), tick=10_000,
            )
        )  # fmt: skip
    events += [
        TimerTick(ts_event=START + k * NS_PER_S, ts_init=START + k * NS_PER_S) for k in range(2, 8)
    ]
    with EventLogWriter(folder) as writer:
        for event in events:
            writer.append(event)


@pytest.mark.asyncio
async def test_simulated_run_trades_and_its_log_replays_exactly(tmp_path: Path) -> None:
    synthetic_log(tmp_path / "recorded")
    simulated = await replay_simulated(
        [tmp_path / "recorded"],
        core_factory(),
        latency=LatencyModel(market_data_ms=5, request_ms=10, reply_ms=10),
        collateral=1_000 * SCALE,
        out_dir=tmp_path / "simulated",
    )
    orders = [e for e in simulated.replayed if isinstance(e, OrderSubmitted)]
    assert {o.order.spec.token_id for o in orders} == {YES, NO}  # both legs of a pair
    assert simulated.fills >= 2
    assert simulated.recorded == []  # the recording had no decisions to compare
    exact = await replay_exact([tmp_path / "simulated"], core_factory())
    assert exact.identical, exact.first_mismatch
    assert len(exact.replayed) == len(simulated.replayed)
    assert any(isinstance(e, PlaceOrderIntent) for e in exact.replayed)


def quiet_log(folder: Path, updates: int) -> None:
    """A session, a market with no pair gap, then ``updates`` level changes and ticks."""
    mapping = MarketMapping(
        match_id="lol-x", market_id=MARKET, question="LoL: A vs B - Game 1 Winner",
        kind=MarketKind.GAME, game_number=1, team_a="a", team_b="b", token_a=YES, token_b=NO,
    )  # fmt: skip
    events: list[Event] = [
        SessionStarted(ts_event=START, ts_init=START, mode="record", params=NodeParams()),
        MarketDiscovered(ts_event=START, ts_init=START, mapping=mapping, game="lol"),
    ]
    t = START + NS_PER_S
    events.extend(
        BookSnapshot(
            ts_event=t, ts_init=t, market=MARKET, token_id=token,
            bids=((400_000, 100 * SCALE),), asks=((600_000, 100 * SCALE),), tick=10_000,
        )
        for token in (YES, NO)
    )  # fmt: skip
    for k in range(updates):
        t += NS_PER_MS
        change = LevelChange(YES if k % 2 else NO, Side.BUY, 390_000, (k % 7 + 1) * SCALE)
        events.append(PriceChanges(ts_event=t, ts_init=t, market=MARKET, changes=(change,)))
        if k % 1_000 == 999:
            events.append(TimerTick(ts_event=t, ts_init=t))
    with EventLogWriter(folder) as writer:
        for event in events:
            writer.append(event)


@pytest.mark.asyncio
async def test_simulated_replay_runs_the_event_loop_only_for_inputs_that_leave_work(
    tmp_path: Path,
) -> None:
    quiet_log(tmp_path, 3_000)
    turns = 0

    async def count_loop_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    probe = asyncio.create_task(count_loop_turns())
    result = await replay_simulated([tmp_path], core_factory(), collateral=1_000 * SCALE)
    probe.cancel()
    assert result.inputs >= 3_000
    assert result.replayed == []  # nothing to trade on: no venue call after start-up
    # The start-up reconciliation's venue calls take a few turns; the book updates none.
    assert turns < 100


def core_sharing_its_books() -> CoreFactory:
    """The replay core of :func:`core_factory`, also handing its book set to the replay."""

    def build(
        clock: Clock, sink: EventSink | None, ports: ExecutionPorts, sleep: Sleep
    ) -> ReplayParts:
        kernel = NodeKernel(clock, sink)
        core = Core(kernel)
        engine = core.attach_engine(
            ports,
            sleep=sleep,
            config=ExecutionConfig(),
            translators=PM_TRANSLATORS,
            resync_types=(pm.UserResync,),
        )
        return ReplayParts(kernel=kernel, engine=engine, registry=core.registry, books=core.books)

    return build


@pytest.mark.asyncio
async def test_a_venue_reading_the_cores_books_fills_the_same(tmp_path: Path) -> None:
    synthetic_log(tmp_path)
    latency = LatencyModel(request_ms=10, reply_ms=10)  # no feed delay: the set is shared
    own = await replay_simulated([tmp_path], core_factory(), latency=latency)
    shared = await replay_simulated([tmp_path], core_sharing_its_books(), latency=latency)
    assert own.fills >= 2
    assert compare_decisions(own.replayed, shared.replayed) == (0, "")
    assert (shared.fills, shared.equity) == (own.fills, own.equity)
