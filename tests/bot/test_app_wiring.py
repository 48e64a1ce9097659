"""The core's wiring: pinned time, session configuration, strategies ↔ execution feedback.

Everything runs on a virtual clock against the execution layer's in-memory fake venue.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import msgspec
import pytest
from tests.conftest import RecordingSink

from polyloly.bot.config_loader import load_settings
from polyloly.bot.config_map import feed_settings, node_params, polymarket_config
from polyloly.domain.events import BookSnapshot, Event, OperatorCommand, TimerTick
from polyloly.domain.intents import PlaceOrderIntent, RiskDecision
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE
from polyloly.domain.risk import RiskParams
from polyloly.execution.engine import ExecutionPorts
from polyloly.execution.events import OrderSubmitted, OrderUpdate, UpdateSource
from polyloly.execution.ports import TradeStatus, VenueOrderStatus
from polyloly.node.core import Core, NodeKernel
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.storage.event_log import decode_event, encode_event
from polyloly.strategies.pair_arb import PairArbParams
from polyloly.strategies.temporal_arb import TemporalArbParams
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

START = 1_800_000_000 * NS_PER_S
MARKET, YES, NO = "0xm1", "111", "222"
DELAYED = "0xm2"


def mapping(
    market: str = MARKET, tokens: tuple[str, str] = (YES, NO), delay: int = 0, game: int = 1
) -> MarketMapping:
    return MarketMapping(
        match_id="lol-x", market_id=market, question=f"LoL: A vs B - Game {game} Winner",
        kind=MarketKind.GAME, game_number=game, team_a="a", team_b="b",
        token_a=tokens[0], token_b=tokens[1], seconds_delay=delay,
    )  # fmt: skip


@dataclass
class Rig:
    clock: VirtualClock
    kernel: NodeKernel
    sink: RecordingSink
    core: Core
    venue: FakeVenue

    def publish(self, event: Event) -> None:
        self.kernel.publish(event)

    def at(self, seconds: float) -> int:
        ts = START + int(seconds * NS_PER_S)
        self.clock.set_ns(ts)
        return ts

    def books(self, t: float, yes_ask: int, no_ask: int) -> None:
        ts = self.at(t)
        for token, ask in ((YES, yes_ask), (NO, no_ask)):
            self.publish(
                BookSnapshot(
                    ts_event=ts, ts_init=ts, market=MARKET, token_id=token,
                    bids=((ask - 20_000, 500 * SCALE),), asks=((ask, 500 * SCALE),), tick=10_000,
                )
            )  # fmt: skip

    def tick(self, t: float) -> None:
        ts = self.at(t)
        self.publish(TimerTick(ts_event=ts, ts_init=ts))


async def rig(params: NodeParams) -> Rig:
    clock = VirtualClock(START)
    sink = RecordingSink()
    kernel = NodeKernel(clock, sink)
    core = Core(kernel)
    venue = FakeVenue({MARKET: (YES, NO)}, collateral=1_000 * SCALE, now_ns=clock.now_ns)
    venue.publish = kernel.publish
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts(),
        cancel_all=venue, merger=venue,
    )  # fmt: skip
    engine = core.attach_engine(ports, sleep=VirtualSleep(clock))
    r = Rig(clock, kernel, sink, core, venue)
    kernel.publish(SessionStarted(ts_event=START, ts_init=START, mode="live", params=params))
    for m in (mapping(), mapping(DELAYED, ("333", "444"), delay=3, game=2)):
        kernel.publish(MarketDiscovered(ts_event=START, ts_init=START, mapping=m, game="lol"))
    engine.start()
    await engine.idle()
    assert engine.reconciler.last_ok is True
    return r


PAIR = NodeParams(pair_arb=PairArbParams(merge_min_pairs_shares=0))


def test_node_kernel_pins_time_to_the_dispatched_input() -> None:
    clock = VirtualClock(5 * NS_PER_S)
    kernel = NodeKernel(clock)
    seen: list[int] = []
    kernel.subscribe(TimerTick, lambda _e: seen.append(kernel.now_ns()))
    kernel.publish(TimerTick(ts_event=1, ts_init=42))
    assert seen == [42]
    assert kernel.now_ns() == 5 * NS_PER_S


def test_session_event_round_trips_through_the_log() -> None:
    event = SessionStarted(ts_event=1, ts_init=1, mode="demo", params=PAIR, address="0xabc")
    assert decode_event(encode_event(event)) == event


@pytest.mark.asyncio
async def test_session_configures_strategies_and_skips_delayed_markets_for_pairs() -> None:
    r = await rig(PAIR)
    assert r.core.pair is not None
    assert r.core.temporal is None
    assert r.core.pair.market_of(YES) == MARKET
    assert r.core.pair.market_of("333") is None  # taker delay: no pair arbitrage there
    assert len(r.core.registry) == 2
    assert r.core.tick_of(YES) == 10_000


@pytest.mark.asyncio
async def test_a_pair_leg_is_done_only_once_its_fill_arrived() -> None:
    r = await rig(PAIR)
    engine = r.core.engine
    assert engine is not None
    r.books(1, yes_ask=400_000, no_ask=500_000)  # 0.90 + fees: under the 0.975 cap
    await engine.idle()
    (first,) = r.sink.of(OrderSubmitted)
    assert first.strategy == "pair_arb"
    pair = r.core.pair
    assert pair is not None
    assert pair.pending(MARKET) == first.client_id
    record = engine.state.orders[first.order_hash]
    # The venue says MATCHED before the trade message arrives: still in flight.
    venue_view = r.venue.orders[first.order_hash]
    now = r.at(2)
    r.publish(
        OrderUpdate(
            ts_event=now, ts_init=now, source=UpdateSource.WS,
            order=msgspec.structs.replace(
                venue_view, status=VenueOrderStatus.MATCHED, size_matched=record.size
            ),
        )
    )  # fmt: skip
    assert pair.pending(MARKET) == first.client_id
    r.at(3)
    trade = r.venue.fill(first.order_hash, record.size, taker=True, send_order_update=False)
    assert pair.pending(MARKET) == ""
    held = pair.position(MARKET)
    assert (held.q_yes, held.q_no) == (
        (record.size, 0) if record.token_id == YES else (0, record.size)
    )
    # The next evaluation buys the lagging leg.
    r.tick(4)
    await engine.idle()
    second = r.sink.of(OrderSubmitted)[1]
    assert second.order.spec.token_id == (NO if record.token_id == YES else YES)
    # The first leg's trade fails on-chain: the position forgets it.
    r.at(5)
    r.venue.settle(trade, TradeStatus.FAILED)
    assert pair.position(MARKET).gap == 0


@pytest.mark.asyncio
async def test_a_canceled_leg_frees_the_strategy_at_once() -> None:
    r = await rig(PAIR)
    engine = r.core.engine
    assert engine is not None
    r.books(1, yes_ask=400_000, no_ask=500_000)
    await engine.idle()
    (first,) = r.sink.of(OrderSubmitted)
    r.at(2)
    r.venue._cancel([first.order_hash])  # the venue kills it, no trade
    assert r.core.pair is not None
    assert r.core.pair.pending(MARKET) == ""


@pytest.mark.asyncio
async def test_a_matched_order_whose_trade_never_comes_is_done_after_the_grace() -> None:
    r = await rig(PAIR)
    engine = r.core.engine
    assert engine is not None
    r.books(1, yes_ask=400_000, no_ask=500_000)
    await engine.idle()
    (first,) = r.sink.of(OrderSubmitted)
    size = engine.state.orders[first.order_hash].size
    now = r.at(2)
    venue_view = msgspec.structs.replace(
        r.venue.orders[first.order_hash], status=VenueOrderStatus.MATCHED, size_matched=size
    )
    r.publish(OrderUpdate(ts_event=now, ts_init=now, order=venue_view, source=UpdateSource.WS))
    pair = r.core.pair
    assert pair is not None
    r.tick(7)
    assert pair.pending(MARKET) == first.client_id  # the trade may still be on its way
    r.tick(12.5)
    assert pair.pending(MARKET) != first.client_id  # grace (10 s) over: done


@pytest.mark.asyncio
async def test_a_refused_intent_frees_the_strategy() -> None:
    r = await rig(NodeParams(pair_arb=PairArbParams(merge_min_pairs_shares=0)))
    engine = r.core.engine
    assert engine is not None
    r.publish(OperatorCommand(ts_event=START, ts_init=START, command="halt"))
    assert engine.state.halted is not None  # every new intent is refused now
    r.books(1, yes_ask=400_000, no_ask=500_000)
    refused = [d for d in r.sink.of(RiskDecision) if not d.approved]
    assert refused
    assert r.core.pair is not None
    assert r.core.pair.pending(MARKET) == ""
    assert r.sink.of(PlaceOrderIntent)


def test_settings_translate_into_component_configuration() -> None:
    settings = load_settings(
        env="demo", environ={}, env_file=False,
        overrides={"adapters.polymarket.private_key": "0x" + "11" * 32},
    )  # fmt: skip
    params = node_params(settings, merges=False)
    assert params.pair_arb is not None
    assert params.pair_arb.merge_min_pairs_shares == 0
    assert params.temporal_arb is not None
    assert params.pair_arb.pair_cost_cap == settings.strategies.pair_arb.pair_cost_cap_micros
    assert params.risk.max_daily_loss == settings.risk.max_daily_loss_micros
    pm = polymarket_config(settings, trading=True)
    assert pm.wallet is not None
    assert pm.clob_url == settings.adapters.polymarket.host
    assert polymarket_config(settings, trading=False).wallet is None
    feeds = feed_settings(settings)
    assert feeds.provider("grid").base_url == "http://127.0.0.1:8090/grid"
    assert feeds.provider("lolesports").feed_url == "http://127.0.0.1:8090/lolesports"
    assert feeds.provider("liquipedia").base_url == "http://127.0.0.1:8090/liquipedia"


def test_one_book_set_is_shared_by_the_market_client_core_and_gate() -> None:
    """The market client applies each frame once; the core and the gate read the same books."""
    from polyloly.adapters.polymarket.ws_market import MarketWsClient
    from polyloly.domain.orderbook import BookSet

    clock = VirtualClock(START)
    kernel = NodeKernel(clock, RecordingSink())
    client = MarketWsClient("ws://127.0.0.1:9/ws/market", kernel.publish, clock)
    core = Core(kernel, books=client.books)
    venue = FakeVenue({MARKET: (YES, NO)}, collateral=1_000 * SCALE, now_ns=clock.now_ns)
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts()
    )
    engine = core.attach_engine(ports, sleep=VirtualSleep(clock))
    kernel.publish(SessionStarted(ts_event=START, ts_init=START, mode="live", params=PAIR))
    kernel.publish(MarketDiscovered(ts_event=START, ts_init=START, mapping=mapping(), game="lol"))
    shared = client.books
    assert isinstance(shared, BookSet)
    assert core.books is shared  # a new session clears the set, it does not replace it
    assert engine.gate.books is shared
    book = msgspec.json.encode(
        [
            {"event_type": "book", "market": MARKET, "asset_id": token, "timestamp": "1",
             "bids": [{"price": "0.4", "size": "10"}], "asks": [{"price": "0.6", "size": "10"}]}
            for token in (YES, NO)
        ]
    )  # fmt: skip
    asyncio.run(client.subscribe([YES, NO]))
    client.handle_frame(book)
    yes = core.books.get(YES)
    assert yes is not None
    assert yes.in_sync
    assert yes.best_ask == (600_000, 10 * SCALE)
    assert engine.gate.trading_state().quotes[NO].best_bid == 400_000
    assert client.in_sync(NO)


@pytest.mark.asyncio
async def test_strategies_read_the_gates_minimum_and_propose_nothing_it_refuses_for_size() -> None:
    risk = RiskParams(min_order_size=12 * SCALE)
    r = await rig(msgspec.structs.replace(PAIR, risk=risk, temporal_arb=TemporalArbParams()))
    assert r.core.pair is not None
    assert r.core.temporal is not None
    gate = r.core.engine.gate if r.core.engine is not None else None
    assert gate is not None
    assert r.core.pair.min_usdc == r.core.temporal.min_usdc == gate.params.min_order_size
    for k in range(20):  # edges of every size come and go
        r.books(1 + k, 420_000 + 10_000 * (k % 4), 500_000 + 10_000 * (k % 3))
        r.tick(1.5 + k)
        await r.core.engine.idle()
    intents = r.sink.of(PlaceOrderIntent)
    assert intents
    assert all(i.notional >= 12 * SCALE for i in intents)
    refused = [d.reason for d in r.sink.of(RiskDecision) if not d.approved]
    assert not [x for x in refused if "min order size" in x]
