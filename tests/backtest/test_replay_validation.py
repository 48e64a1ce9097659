"""The book rules apply in replay as live: a recorded crossed snapshot or a resolution naming
no token of its market is refused by the replayed core (old logs may hold them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyloly.backtest.latency import LatencyModel
from polyloly.backtest.replay import replay_simulated
from polyloly.bot.replay_core import core_factory
from polyloly.domain.events import BookSnapshot, Event, MarketResolved, TimerTick
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE
from polyloly.execution.events import OrderSubmitted
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_S
from polyloly.storage.event_log import EventLogWriter
from polyloly.strategies.pair_arb import PairArbParams

START = 1_800_000_000 * NS_PER_S
MARKET, YES, NO = "0xabc", "901", "902"


def log_with_a_pair_gap(folder: Path, *, crossed_yes: bool, foreign_resolution: bool) -> None:
    """Asks 0.40 + 0.50: a pair gap pair arbitrage takes — unless YES's snapshot is crossed."""
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
    if foreign_resolution:  # a winner that is no token of the market: must stop nothing
        events.append(MarketResolved(ts_event=t, ts_init=t, market=MARKET, winning_token_id="77"))
    for token, ask in ((YES, 400_000), (NO, 500_000)):
        bid = 600_000 if crossed_yes and token == YES else ask - 30_000
        events.append(
            BookSnapshot(
                ts_event=t, ts_init=t, market=MARKET, token_id=token,
                bids=((bid, 400 * SCALE),), asks=((ask, 400 * SCALE),), tick=10_000,
            )
        )  # fmt: skip
    events += [
        TimerTick(ts_event=START + k * NS_PER_S, ts_init=START + k * NS_PER_S) for k in range(2, 8)
    ]
    with EventLogWriter(folder) as writer:
        for event in events:
            writer.append(event)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("crossed_yes", "foreign_resolution", "trades"),
    [(False, False, True), (True, False, False), (False, True, True)],
)
async def test_replay_refuses_what_the_live_path_refuses(
    tmp_path: Path, crossed_yes: bool, foreign_resolution: bool, trades: bool
) -> None:
    log_with_a_pair_gap(tmp_path, crossed_yes=crossed_yes, foreign_resolution=foreign_resolution)
    result = await replay_simulated(
        [tmp_path],
        core_factory(),
        latency=LatencyModel(market_data_ms=5, request_ms=10, reply_ms=10),
        collateral=1_000 * SCALE,
    )
    orders = [e for e in result.replayed if isinstance(e, OrderSubmitted)]
    # a crossed book is never traded on; a bogus resolution does not stop the market
    assert bool(orders) is trades
