"""The hot path's busy node reaches its state through the node's own inputs, and keeps it.

``bench.hotpath.HotRun`` seeds held positions (a result → temporal arbitrage → risk gate →
order → the venue's fill) and armed temporal arbitrage (a result on a decided market) only
by publishing events, then runs the stream with more results arriving: these tests check the
node really is in that state, from its public state, and that every result was traded.
"""

from __future__ import annotations

import asyncio

import pytest
from bench.hotpath import HotRun, Scenario
from bench.stream import DECIDED_ASK_FLOOR, StreamSpec, generate

SPEC = StreamSpec(markets=12, messages=12_000, seed=5, decided_markets=3)


@pytest.fixture(scope="module")
def stream():  # type: ignore[no-untyped-def]
    return generate(SPEC)


def test_the_scenario_picks_active_markets_and_spreads_results(stream) -> None:  # type: ignore[no-untyped-def]
    sc = Scenario.for_stream(stream, held=3, results=4)
    meta = stream.meta
    assert sc.armed == tuple(meta.decided)
    assert not set(sc.held) & set(meta.decided)
    assert list(sc.held) == [m for m in meta.activity if m not in meta.decided][:3]
    frames = [at for at, _ in sc.results]
    assert frames == sorted(frames)
    assert frames[0] > 0
    assert frames[-1] < len(stream) - meta.initial
    assert not {m for _, m in sc.results} & (set(sc.held) | set(sc.armed))


def test_set_up_holds_positions_and_arms_temporal_arbitrage_through_events(stream) -> None:  # type: ignore[no-untyped-def]
    sc = Scenario.for_stream(stream, held=3, results=4)
    hot = HotRun(stream, sc)

    async def main() -> float:
        await hot.setup()
        engine, core = hot.bot.engine, hot.bot.core
        # the held markets' winners: one position each, filled by the venue
        held_tokens = set(engine.state.positions)
        assert len(held_tokens) == 3
        assert {core.registry.by_token(t).market_id for t in held_tokens} == {
            stream.meta.condition_ids[m] for m in sc.held
        }
        # the decided markets: armed on team a's token, whose ask is over the entry cap
        assert core.temporal is not None
        armed = core.temporal.armed()
        assert {s.token_id for s in armed} == {stream.meta.tokens[2 * m] for m in sc.armed}
        for signal in armed:
            book = core.books.get(signal.token_id)
            assert book is not None
            assert book.best_ask_price is not None
            assert book.best_ask_price >= DECIDED_ASK_FLOOR
        assert hot.venue.submissions == 3
        elapsed = await hot.run(len(stream) - stream.meta.initial)
        # the risk gate marked every position on its book's changes
        assert all(engine.state.marks.get(t) is not None for t in engine.state.positions)
        await engine.stop()
        return elapsed

    assert asyncio.run(main()) > 0
    checks = hot.checks()
    assert checks["results"] == 4
    assert checks["intents"] == checks["approved"] == checks["orders"] == checks["fills"] == 4
    assert checks["positions_end"] == 3 + 4
    assert checks["armed_end"] == len(sc.armed)  # the asks never came under the cap
    assert checks["armed_replans"] > 0
    assert checks["replan_outcomes"].get("no ask at or under the entry cap", 0) > 0
    assert checks["top_mismatches"] == 0
    assert checks["handler_errors"] == 0
    assert checks["kill_switch_fired"] == 0


def test_the_idle_node_holds_and_arms_nothing(stream) -> None:  # type: ignore[no-untyped-def]
    hot = HotRun(stream, None)

    async def main() -> None:
        await hot.setup()
        await hot.run(2_000)
        await hot.bot.engine.stop()

    asyncio.run(main())
    checks = hot.checks()
    assert checks["positions_end"] == checks["armed_end"] == checks["intents"] == 0
    assert checks["armed_replans"] == 0
