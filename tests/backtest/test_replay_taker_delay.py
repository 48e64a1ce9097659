"""A simulated replay holds temporal arbitrage's taker order on a delayed market until the
public knows the result — the bot's own truth, ahead of the public, never lifts the delay.

The log: a Bo3's "Game 1 Winner" market with the venue's 3 s taker delay, game 1 in play
(reported by GRID), then game 1 won by T1 reported by GRID and PandaScore (the bot's truth
confirms it, temporal arbitrage buys T1's token) and, in some variants, Polymarket's own
sports feed reporting the same result (the public's view), before or after the order. The
ask under the cap is gone 2 s after the result (the market reprices).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyloly.backtest.latency import LatencyModel
from polyloly.backtest.replay import ReplayResult, compare_decisions, replay_simulated
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
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE
from polyloly.execution.events import OrderUpdate, TradeUpdate
from polyloly.execution.paper import PUBLIC_SOURCE
from polyloly.execution.ports import VenueOrderStatus
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S
from polyloly.storage.event_log import EventLogReader, EventLogWriter
from polyloly.strategies.temporal_arb import TemporalArbParams

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

START = 1_800_000_000 * NS_PER_S
MARKET, T1, GEN = "0xgame1", "801", "802"
RESULT_S = 20  # GRID reports game 1's result; PandaScore confirms 0.5 s later
REPRICED_S = RESULT_S + 2  # the cheap asks are gone (the makers saw it)
K = MatchEventKind


def report(t: int, source: str, kind: MatchEventKind, **kw: Any) -> MatchEvent:
    return MatchEvent(
        ts_event=t, ts_init=t, source=source, match_id="lol-t1-gen", provider_match_id=source,
        kind=kind, team_a="t1", team_b="geng", game="lol", best_of=3,
        **kw,
    )  # fmt: skip


def write_log(folder: Path, public_at_s: float | None) -> None:
    mapping = MarketMapping(
        match_id="lol-t1-gen", market_id=MARKET, question="LoL: T1 vs Gen.G - Game 1 Winner",
        kind=MarketKind.GAME, game_number=1, team_a="t1", team_b="geng", token_a=T1,
        token_b=GEN, seconds_delay=3,
    )  # fmt: skip
    params = NodeParams(temporal_arb=TemporalArbParams())
    events: list[Event] = [
        SessionStarted(ts_event=START, ts_init=START, mode="record", params=params),
        MarketDiscovered(ts_event=START, ts_init=START, mapping=mapping, game="lol", best_of=3),
    ]
    t = START + NS_PER_S
    for token, ask in ((T1, 550_000), (GEN, 500_000)):
        events.append(
            BookSnapshot(
                ts_event=t, ts_init=t, market=MARKET, token_id=token,
                bids=((ask - 50_000, 500 * SCALE),), asks=((ask, 500 * SCALE),), tick=10_000,
            )
        )  # fmt: skip
    at = START + 2 * NS_PER_S
    events += [
        report(at, "grid", K.MATCH_STARTED),
        report(at, "grid", K.GAME_STARTED, game_number=1),
    ]
    result = START + RESULT_S * NS_PER_S
    for offset_ms, source in ((0, "grid"), (500, "pandascore")):
        ts = result + offset_ms * NS_PER_MS
        events.append(
            report(ts, source, K.GAME_ENDED, game_number=1, winner="t1", score_a=1, score_b=0)
        )
    if public_at_s is not None:
        ts = START + int(public_at_s * NS_PER_S)
        events.append(
            report(ts, PUBLIC_SOURCE, K.GAME_ENDED, game_number=1, winner="t1", score_a=1,
                   score_b=0, detail={"confirm_only": True})
        )  # fmt: skip
    repriced = START + REPRICED_S * NS_PER_S
    changes = (  # T1's cheap ask and Gen.G's bid (its complement) are gone
        LevelChange(T1, Side.SELL, 550_000, 0),
        LevelChange(T1, Side.SELL, 990_000, 500 * SCALE),
        LevelChange(GEN, Side.BUY, 450_000, 0),
        LevelChange(GEN, Side.BUY, 10_000, 500 * SCALE),
    )
    events.append(PriceChanges(ts_event=repriced, ts_init=repriced, market=MARKET, changes=changes))
    events += [
        TimerTick(ts_event=START + k * NS_PER_S // 2, ts_init=START + k * NS_PER_S // 2)
        for k in range(2, 2 * (REPRICED_S + 6))
    ]
    events.sort(key=lambda e: e.ts_init)
    with EventLogWriter(folder) as writer:
        for event in events:
            writer.append(event)


@dataclass
class Run:
    result: ReplayResult
    events: list[Event]  # everything the replay logged

    def orders(self) -> list[PlaceOrderIntent]:
        """Temporal arbitrage's orders on the delayed market."""
        return [
            e for e in self.result.replayed
            if isinstance(e, PlaceOrderIntent) and e.strategy == "temporal_arb"
            and e.market == MARKET
        ]  # fmt: skip

    def statuses(self) -> set[VenueOrderStatus]:
        """Every status the venue gave our orders."""
        return {e.order.status for e in self.events if isinstance(e, OrderUpdate)}

    def bought(self) -> list[tuple[int, int]]:
        """(price, ts) of every trade of ours."""
        seen: dict[str, tuple[int, int]] = {}
        for e in self.events:
            if isinstance(e, TradeUpdate):
                seen.setdefault(e.report.trade_id, (e.report.price, e.report.match_time_ns))
        return list(seen.values())


async def run(tmp_path: Path, public_at_s: float | None) -> Run:
    write_log(tmp_path / "log", public_at_s)
    result = await replay_simulated(
        [tmp_path / "log"],
        core_factory(),
        latency=LatencyModel(market_data_ms=0, esports_ms=0, request_ms=10, reply_ms=10),
        collateral=1_000 * SCALE,
        out_dir=tmp_path / "out",
    )
    return Run(result, list(EventLogReader([tmp_path / "out"])))


async def test_the_bots_truth_ahead_of_the_public_gets_the_full_delay(tmp_path: Path) -> None:
    """The public's result comes 10 s after the bot's: the order waits the full 3 s; by
    then the cheap asks are gone and it fills nothing (before the fix: filled at once)."""
    run_ = await run(tmp_path, public_at_s=RESULT_S + 10)
    orders = run_.orders()
    assert orders, run_.result.counts()
    assert orders[0].ts_init + NS_PER_S < START + REPRICED_S * NS_PER_S  # before the reprice
    assert VenueOrderStatus.DELAYED in run_.statuses()
    assert run_.bought() == []  # matched 3 s on, after the reprice: nothing under the cap


async def test_the_publics_result_before_the_order_means_no_delay(tmp_path: Path) -> None:
    run_ = await run(tmp_path, public_at_s=RESULT_S - 1)
    orders = run_.orders()
    assert orders
    assert VenueOrderStatus.DELAYED not in run_.statuses()
    assert run_.bought()
    assert {price for price, _ in run_.bought()} == {550_000}  # the cheap ask
    assert all(ts < orders[0].ts_init + NS_PER_S for _, ts in run_.bought())  # at once


async def test_without_the_public_feed_the_order_is_held(tmp_path: Path) -> None:
    run_ = await run(tmp_path, public_at_s=None)
    assert run_.orders()
    assert VenueOrderStatus.DELAYED in run_.statuses()
    assert run_.bought() == []


async def test_the_delayed_replay_is_deterministic(tmp_path: Path) -> None:
    first = await run(tmp_path / "a", public_at_s=RESULT_S + 10)
    second = await run(tmp_path / "b", public_at_s=RESULT_S + 10)
    assert first.result.replayed
    assert compare_decisions(first.result.replayed, second.result.replayed) == (0, "")
    assert compare_decisions(first.events, second.events) == (0, "")
