"""Working only where something changed decides exactly what always working decided.

The node hands a book event to a strategy only if it moved a top of book or touches what
the strategy reads deeper (a pair market that is not quiet, an armed temporal plan's
asks), and the risk gate checks only the kill-switch conditions an event can move. Here
random logs — books, level changes, trades, results confirmed by two providers, feeds
going down and up, timer ticks — are replayed against the simulated venue twice: with
that routing, and with every book event handed to every strategy and every condition
re-checked (``Core.route_all``, ``RiskGate.full_check``, the behaviour before). Every
derived event — intents, risk decisions, orders, fills, positions, kill-switch events —
must be the same, in the same order, byte for byte.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyloly.adapters.polymarket import events as pm
from polyloly.backtest.replay import ReplayParts, replay_simulated
from polyloly.bot.node_options import PM_TRANSLATORS
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    FeedState,
    FeedStatus,
    LastTrade,
    LevelChange,
    MatchEvent,
    MatchEventKind,
    PriceChanges,
    Side,
    TimerTick,
)
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE
from polyloly.domain.risk import RiskParams
from polyloly.execution.engine import ExecutionConfig, ExecutionPorts
from polyloly.node.core import Core, NodeKernel
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, Clock
from polyloly.runtime.kernel import EventSink
from polyloly.runtime.sleep import Sleep
from polyloly.storage.event_log import EventLogReader, EventLogWriter, encode_event
from polyloly.strategies.pair_arb import PairArbParams
from polyloly.strategies.temporal_arb import TemporalArbParams

START = 1_800_000_000 * NS_PER_S
C = 10_000  # a cent
K = MatchEventKind


def mappings() -> list[MarketMapping]:
    out: list[MarketMapping] = []
    for m in range(2):
        for game in (None, 1):
            name = "match" if game is None else f"g{game}"
            out.append(
                MarketMapping(
                    match_id=f"m{m}",
                    market_id=f"0x{m}{name}",
                    question=f"LoL: alpha{m} vs beta{m}",
                    kind=MarketKind.MATCH if game is None else MarketKind.GAME,
                    game_number=game,
                    team_a=f"alpha{m}",
                    team_b=f"beta{m}",
                    token_a=f"{m}{name}a",
                    token_b=f"{m}{name}b",
                    tick=C,
                )
            )
    return out


MAPPINGS = mappings()
TOKENS = [t for mp in MAPPINGS for t in (mp.token_a, mp.token_b)]
MARKET_OF = {t: mp.market_id for mp in MAPPINGS for t in (mp.token_a, mp.token_b)}


def report(
    ts: int, source: str, kind: MatchEventKind, *, m: int, seq: int, winner: str, **extra: Any
) -> MatchEvent:
    return MatchEvent(
        ts_event=ts, ts_init=ts, source=source, kind=kind, seq=seq, match_id=f"m{m}",
        provider_match_id=f"p{m}", team_a=f"alpha{m}", team_b=f"beta{m}", best_of=3,
        game="lol", winner=None if kind is K.MATCH_STARTED else winner, **extra,
    )  # fmt: skip


SCRIPT = (
    ("grid", K.MATCH_STARTED, {}),
    ("grid", K.GAME_ENDED, {"game_number": 1, "score_a": 1, "score_b": 0}),
    ("pandascore", K.GAME_ENDED, {"game_number": 1, "score_a": 1, "score_b": 0}),
    ("grid", K.MATCH_ENDED, {}),
    ("pandascore", K.MATCH_ENDED, {}),
)


@st.composite
def logs(draw: st.DrawFn) -> list[Event]:
    params = NodeParams(
        pair_arb=PairArbParams(
            merge_min_pairs_shares=draw(st.sampled_from([0, 20 * SCALE])),
            stuck_leg_timeout_ns=draw(st.sampled_from([0, 2 * NS_PER_S])),
            step_usdc=draw(st.sampled_from([5, 25])) * SCALE,
        ),
        temporal_arb=TemporalArbParams(
            fixed_size_usdc=draw(st.sampled_from([5, 50])) * SCALE,
            max_exposure_usdc=draw(st.sampled_from([50, 200])) * SCALE,
            presign=draw(st.booleans()),
        ),
        risk=RiskParams(max_daily_loss=draw(st.sampled_from([2, 200])) * SCALE),
    )
    events: list[Event] = [
        SessionStarted(ts_event=START, ts_init=START, mode="record", params=params)
    ]
    events += [
        MarketDiscovered(ts_event=START, ts_init=START, mapping=mp, game="lol") for mp in MAPPINGS
    ]
    winners = [draw(st.sampled_from([f"alpha{m}", f"beta{m}"])) for m in range(2)]
    steps = draw(st.integers(20, 160))
    at = {
        (m, k): draw(st.integers(0, steps)) for m in range(2) for k in range(len(SCRIPT))
    }  # step index of each report (sorted per match below)
    for m in range(2):
        order = sorted(at[(m, k)] for k in range(len(SCRIPT)))
        for k in range(len(SCRIPT)):
            at[(m, k)] = order[k]
    t = START + NS_PER_S
    next_tick = START + NS_PER_S
    for step in range(steps + 1):
        t += draw(st.integers(1, 600)) * NS_PER_MS
        while next_tick <= t:
            events.append(TimerTick(ts_event=next_tick, ts_init=next_tick))
            next_tick += NS_PER_S
        for m in range(2):
            for k, (source, kind, extra) in enumerate(SCRIPT):
                if at[(m, k)] == step:
                    events.append(
                        report(t, source, kind, m=m, seq=k + 1, winner=winners[m], **extra)
                    )
        events.append(market_event(draw, t))
    return events


def market_event(draw: st.DrawFn, t: int) -> Event:
    token = draw(st.sampled_from(TOKENS))
    market = MARKET_OF[token]
    kind = draw(st.sampled_from(["snap", *["change"] * 6, "last", "feed"]))
    if kind == "snap":  # sometimes thin: an armed entry then waits for depth
        ask = draw(st.integers(30, 70))
        most = draw(st.sampled_from([2, 60]))
        bids = tuple((p * C, draw(st.integers(1, most)) * SCALE) for p in range(ask - 4, ask))
        asks = tuple((p * C, draw(st.integers(1, most)) * SCALE) for p in range(ask, ask + 4))
        return BookSnapshot(
            ts_event=t, ts_init=t, market=market, token_id=token, bids=bids, asks=asks, tick=C
        )
    if kind == "last":
        price = draw(st.integers(30, 70)) * C
        return LastTrade(
            ts_event=t, ts_init=t, market=market, token_id=token, price=price,
            size=SCALE, side=draw(st.sampled_from(list(Side))),
        )  # fmt: skip
    if kind == "feed":
        return FeedStatus(
            ts_event=t, ts_init=t,
            source=draw(st.sampled_from(["polymarket_ws", "grid"])),
            state=draw(st.sampled_from([FeedState.OK, FeedState.OK, FeedState.OK, FeedState.DOWN])),
        )  # fmt: skip
    changes = tuple(
        LevelChange(
            token_id=draw(st.sampled_from([token, token, *TOKENS])),
            side=draw(st.sampled_from(list(Side))),
            price=draw(st.integers(26, 74)) * C,
            size=draw(st.sampled_from([0, 0, 1, 5, 20, 60])) * SCALE,
        )
        for _ in range(draw(st.integers(1, 2)))
    )
    return PriceChanges(ts_event=t, ts_init=t, market=market, changes=changes)


def factory(*, route_all: bool) -> Any:
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
        core.route_all = route_all
        engine.gate.full_check = route_all
        return ReplayParts(kernel=kernel, engine=engine, registry=core.registry, books=core.books)

    return build


def derived(folder: Path) -> list[bytes]:
    return [encode_event(e) for e in EventLogReader([folder]) if type(e).derived]


def both_ways(folder: Path, events: list[Event]) -> tuple[list[Event], list[bytes], list[bytes]]:
    """``events`` written as a log and replayed twice: routed by what changed, and with every
    book event reaching every handler. The routed run's decisions, and each run's derived
    events (the decisions among them) as written."""
    with EventLogWriter(folder / "log") as writer:
        for event in events:
            writer.append(event)
    decided: list[Event] = []
    runs: list[list[bytes]] = []
    for route_all in (False, True):
        out = folder / ("all" if route_all else "routed")
        result = asyncio.run(
            replay_simulated(
                [folder / "log"], factory(route_all=route_all), collateral=500 * SCALE, out_dir=out
            )
        )
        decided = decided or result.replayed
        runs.append(derived(out))
    return decided, runs[0], runs[1]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(logs())
def test_routing_by_what_changed_decides_as_always_calling(
    tmp_path_factory: Any, events: list[Event]
) -> None:
    _, routed, always = both_ways(Path(tmp_path_factory.mktemp("routing")), events)
    assert routed == always


def test_an_armed_entry_waiting_for_depth_fires_on_a_change_behind_the_top(
    tmp_path: Path,
) -> None:
    """A result arms an entry on a book too thin for a minimum order; depth then arrives at
    the best ask (its size grows, no top of book moves): the entry fires on that change."""
    params = NodeParams(temporal_arb=TemporalArbParams(fixed_size_usdc=20 * SCALE))
    mp = MAPPINGS[0]  # match m0's series market
    t = START + NS_PER_S
    events: list[Event] = [
        SessionStarted(ts_event=START, ts_init=START, mode="record", params=params),
        MarketDiscovered(ts_event=START, ts_init=START, mapping=mp, game="lol"),
    ]
    events += [
        BookSnapshot(
            ts_event=t, ts_init=t, market=mp.market_id, token_id=token,
            bids=((40 * C, SCALE),), asks=((50 * C, SCALE),), tick=C,
        )
        for token in (mp.token_a, mp.token_b)
    ]  # fmt: skip
    for k, (source, kind, _) in enumerate(s for s in SCRIPT if s[1] is not K.GAME_ENDED):
        t += NS_PER_S
        events.append(report(t, source, kind, m=0, seq=k + 1, winner="alpha0"))
    # Changes that move no top and that the waiting plan does not read (a bid behind the
    # best, an ask above the entry cap), then depth where it walks (at the best ask).
    for side, price, size in (
        (Side.BUY, 39 * C, SCALE),
        (Side.SELL, 97 * C, 100 * SCALE),
        (Side.SELL, 50 * C, 100 * SCALE),
    ):
        t += NS_PER_S
        change = LevelChange(token_id=mp.token_a, side=side, price=price, size=size)
        events.append(PriceChanges(ts_event=t, ts_init=t, market=mp.market_id, changes=(change,)))
    decided, routed, always = both_ways(tmp_path, events)
    entries = [e for e in decided if isinstance(e, PlaceOrderIntent)]
    assert [(e.strategy, e.token_id, e.ts_init) for e in entries] == [
        ("temporal_arb", mp.token_a, t)
    ]
    assert routed == always


@st.composite
def pair_logs(draw: st.DrawFn) -> list[Event]:
    """One market that pair arbitrage trades again and again: asks that open and close an
    edge, bids that move alone, legs left lagging (and stuck, then unwound), snapshots."""
    params = NodeParams(
        pair_arb=PairArbParams(
            merge_min_pairs_shares=draw(st.sampled_from([0, 10 * SCALE])),
            stuck_leg_timeout_ns=draw(st.sampled_from([0, 2 * NS_PER_S, 5 * NS_PER_S])),
            step_usdc=draw(st.sampled_from([5, 10])) * SCALE,
        ),
        temporal_arb=None,
        risk=RiskParams(max_daily_loss=draw(st.sampled_from([3, 500])) * SCALE),
    )
    mp = MAPPINGS[0]
    t = START + NS_PER_S
    events: list[Event] = [
        SessionStarted(ts_event=START, ts_init=START, mode="record", params=params),
        MarketDiscovered(ts_event=START, ts_init=START, mapping=mp, game="lol"),
    ]
    events += [
        BookSnapshot(
            ts_event=t, ts_init=t, market=mp.market_id, token_id=token,
            bids=((45 * C, 50 * SCALE), (44 * C, 50 * SCALE)),
            asks=((ask * C, 30 * SCALE), ((ask + 2) * C, 30 * SCALE)), tick=C,
        )
        for token, ask in ((mp.token_a, 50), (mp.token_b, 52))
    ]  # fmt: skip
    next_tick = START + 2 * NS_PER_S
    for _ in range(draw(st.integers(10, 120))):
        t += draw(st.sampled_from([1, 50, 400, 1_500])) * NS_PER_MS
        while next_tick <= t:
            events.append(TimerTick(ts_event=next_tick, ts_init=next_tick))
            next_tick += NS_PER_S
        token = draw(st.sampled_from([mp.token_a, mp.token_b]))
        kind = draw(st.sampled_from(["ask", "ask", "bid", "bid", "snap"]))
        if kind == "snap":
            ask = draw(st.integers(40, 60))
            events.append(
                BookSnapshot(
                    ts_event=t, ts_init=t, market=mp.market_id, token_id=token,
                    bids=(((ask - draw(st.integers(1, 8))) * C, 40 * SCALE),),
                    asks=((ask * C, draw(st.integers(5, 40)) * SCALE),), tick=C,
                )
            )  # fmt: skip
            continue
        side, price = (
            (Side.SELL, draw(st.integers(40, 60)))
            if kind == "ask"
            else (Side.BUY, draw(st.integers(36, 47)))
        )
        size = draw(st.sampled_from([0, 0, 5, 20, 80])) * SCALE
        change = LevelChange(token_id=token, side=side, price=price * C, size=size)
        events.append(PriceChanges(ts_event=t, ts_init=t, market=mp.market_id, changes=(change,)))
    return events


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(pair_logs())
def test_pair_arbitrage_routed_by_what_changed_trades_as_always_evaluated(
    tmp_path_factory: Any, events: list[Event]
) -> None:
    _, routed, always = both_ways(Path(tmp_path_factory.mktemp("pair")), events)
    assert routed == always


@pytest.mark.parametrize("woken_by", ["book", "tick"])
def test_a_stuck_leg_unwinds_at_its_timeout_though_no_top_moves(
    tmp_path: Path, woken_by: str
) -> None:
    """The first leg fills, the second's ask jumps above the cap: the market waits, quiet,
    for the stuck-leg timeout. The first event after it — a best bid's move, which reaches
    no quiet market, or a timer tick — unwinds the leg, at that event's time."""
    params = NodeParams(
        pair_arb=PairArbParams(merge_min_pairs_shares=0, stuck_leg_timeout_ns=2 * NS_PER_S),
        temporal_arb=None,
    )
    mp = MAPPINGS[0]
    yes, no = mp.token_a, mp.token_b
    t0 = START + NS_PER_S

    def bid(token: str, price: int, at: int) -> PriceChanges:
        change = LevelChange(token_id=token, side=Side.BUY, price=price * C, size=10 * SCALE)
        return PriceChanges(ts_event=at, ts_init=at, market=mp.market_id, changes=(change,))

    gone = LevelChange(token_id=no, side=Side.SELL, price=50 * C, size=0)
    wake = t0 + 7 * NS_PER_S // 2
    events: list[Event] = [
        SessionStarted(ts_event=START, ts_init=START, mode="record", params=params),
        MarketDiscovered(ts_event=START, ts_init=START, mapping=mp, game="lol"),
        BookSnapshot(
            ts_event=t0, ts_init=t0, market=mp.market_id, token_id=yes,
            bids=((44 * C, 50 * SCALE),), asks=((45 * C, 20 * SCALE), (47 * C, 30 * SCALE)),
            tick=C,
        ),
        BookSnapshot(
            ts_event=t0, ts_init=t0, market=mp.market_id, token_id=no,
            bids=((40 * C, 50 * SCALE),), asks=((50 * C, 30 * SCALE), (60 * C, 30 * SCALE)),
            tick=C,
        ),
        PriceChanges(
            ts_event=t0 + NS_PER_S, ts_init=t0 + NS_PER_S, market=mp.market_id, changes=(gone,)
        ),
        bid(no, 41, t0 + 2 * NS_PER_S),  # stuck, before the timeout: nothing to do
        bid(no, 42, wake) if woken_by == "book" else TimerTick(ts_event=wake, ts_init=wake),
    ]  # fmt: skip
    decided, routed, always = both_ways(tmp_path, events)
    intents = [(e.reason, e.side, e.ts_init) for e in decided if isinstance(e, PlaceOrderIntent)]
    assert intents == [("pair_open", Side.BUY, t0), ("unwind_stuck_leg", Side.SELL, wake)]
    assert routed == always
