"""Intent ids per session: a restarted node never reuses the previous session's ids.

Two sessions are recorded in one event log (a node, then the same node restarted on the
same market); a simulated run trades in both, and an exact replay of that run makes the
very same intents again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyloly.backtest.latency import LatencyModel
from polyloly.backtest.replay import replay_exact, replay_simulated
from polyloly.bot.clock import NS_PER_S
from polyloly.bot.replay_core import core_factory
from polyloly.bot.wiring import MarketDiscovered, NodeParams, SessionStarted, session_namespace
from polyloly.domain.events import BookSnapshot, Event, TimerTick
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE
from polyloly.execution.events import ExecutionAnomaly, OrderSubmitted
from polyloly.storage.event_log import EventLogWriter
from polyloly.strategies.pair_arb import PairArbParams

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


def test_the_namespace_is_the_session_start_in_base36() -> None:
    event = SessionStarted(ts_event=1, ts_init=36**3 + 35, mode="live", params=NodeParams())
    assert session_namespace(event) == "100z"
    assert int(session_namespace(_session(START)[0]), 36) == START
    assert session_namespace(_session(START)[0]) != session_namespace(_session(RESTART)[0])


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
    namespaces = {session_namespace(e) for e in _session(START)[:1] + _session(RESTART)[:1]}
    assert all(any(f":{ns}:" in i for ns in namespaces) for i in first + second)
    anomalies = [e for e in simulated.replayed if isinstance(e, ExecutionAnomaly)]
    assert not [a for a in anomalies if "duplicate" in a.kind]
    orders = [e for e in simulated.replayed if isinstance(e, OrderSubmitted)]
    assert len({o.client_id for o in orders}) == len(orders)
    # the replay reads the same SessionStarted events: the same ids again, byte for byte
    exact = await replay_exact([tmp_path / "simulated"], core_factory())
    assert exact.identical, exact.first_mismatch
