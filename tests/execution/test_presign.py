"""Pre-signed orders with the fakes under a virtual clock: presign, refresh, discard, use.

The world: kernel + execution engine (fake venue, fake signer) + the temporal-arbitrage
engine in presign mode + the live :class:`Presigner`, wired like the bot does it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from tests.conftest import RecordingSink
from tests.execution.m1_markets import GAME1, MATCH, START_NS

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    MarketResolved,
    Side,
    TickSizeChange,
    TimerTick,
    TruthAlert,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.markets import MarketRegistry
from polyloly.domain.money import SCALE
from polyloly.domain.orderbook import BookSet
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts
from polyloly.execution.events import OrderAccepted, OrderSubmitted
from polyloly.execution.ports import OrderSigner, OrderSpec, SignedOrder
from polyloly.execution.presign import (
    PresignConfig,
    PresignDiscarded,
    PresignFailed,
    PresignReady,
    ReadyOrder,
    SerialSigner,
)
from polyloly.execution.presigner import Presigner
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import RejectError
from polyloly.runtime.kernel import Kernel
from polyloly.strategies.temporal_arb import TemporalArbEngine, TemporalArbParams
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

PRESIGN = TemporalArbParams(presign=True)
STANDARD_PRICE = 950_000
STANDARD_SIZE = 52_600_000  # $50 / 0.95 = 52.63 -> 52.6 (lot 0.2 share: × 0.95 = whole cents)


class FlakySigner:
    """A fake signer that refuses the next ``fail`` signatures."""

    def __init__(self, fail: int = 0) -> None:
        self.inner = FakeSigner()
        self.fail = fail

    def sign(self, spec: OrderSpec) -> SignedOrder:
        if self.fail > 0:
            self.fail -= 1
            raise RejectError("price breaks tick", code="tick_size")
        return self.inner.sign(spec)


@dataclass
class World:
    clock: VirtualClock
    kernel: Kernel
    sink: RecordingSink
    venue: FakeVenue
    engine: ExecutionEngine
    books: BookSet
    temporal: TemporalArbEngine
    presigner: Presigner
    ticks: dict[str, int] = field(default_factory=dict)
    holder: dict[str, TemporalArbEngine] = field(default_factory=dict)

    @property
    def signer(self) -> SerialSigner:
        return self.engine.signer

    def now(self) -> int:
        return self.clock.now_ns()

    async def publish(self, event: Event) -> None:
        self.kernel.publish(event)
        await self.settle()

    async def settle(self) -> None:
        await self.presigner.idle()
        await self.engine.idle()

    async def advance(self, seconds: int) -> None:
        self.clock.advance_ns(seconds * NS_PER_S)
        await self.publish(TimerTick(ts_event=self.now(), ts_init=self.now()))

    def book(self, token: str, ask: int, depth: int = 1_000 * SCALE) -> BookSnapshot:
        now = self.now()
        return BookSnapshot(
            ts_event=now, ts_init=now, market="x", token_id=token,
            bids=((ask - 50_000, depth),), asks=((ask, depth),), tick=10_000,
        )  # fmt: skip

    async def books_at(self, asks: dict[str, int]) -> None:
        for token, ask in asks.items():
            await self.publish(self.book(token, ask))

    def delta(
        self,
        change: str,
        state: TruthState = TruthState.LIVE,
        game: int | None = None,
        winner: str | None = None,
        confidence: int = 0,
    ) -> TruthDelta:
        now = self.now()
        return TruthDelta(
            ts_event=now, ts_init=now, match_id="m1", state=state, change=change, score_a=0,
            score_b=0, team_a="t1", team_b="geng", confidence=confidence, game_number=game,
            game_winner=winner, game_confidence=confidence, game_sources=("grid", "pandascore"),
        )  # fmt: skip

    def final(self, winner: str = "t1") -> TruthFinal:
        now = self.now()
        return TruthFinal(
            ts_event=now, ts_init=now, match_id="m1", winner=winner, score_a=2, score_b=0,
            team_a="t1", team_b="geng", confidence=9_900, sources=("grid", "pandascore"),
        )  # fmt: skip

    def ready(self) -> dict[str, ReadyOrder]:
        return {r.token_id: r for r in self.engine.presign.ready()}

    def submitted(self) -> list[OrderSubmitted]:
        return self.sink.of(OrderSubmitted)


async def build(
    params: TemporalArbParams = PRESIGN,
    *,
    signer: OrderSigner | None = None,
    presign: PresignConfig | None = None,
    start: bool = True,
) -> World:
    clock = VirtualClock(START_NS)
    sink = RecordingSink()
    kernel = Kernel(clock, sink)
    venue = FakeVenue(
        {"0xM": ("ma", "mb"), "0xG1": ("g1a", "g1b")}, collateral=1_000 * SCALE, now_ns=clock.now_ns
    )
    venue.publish = kernel.publish
    ports = ExecutionPorts(
        signer=signer or FakeSigner(),
        venue=venue,
        account=venue,
        alerts=RecordingAlerts(),
        cancel_all=venue,
    )
    config = ExecutionConfig(presign=presign or PresignConfig())
    engine = ExecutionEngine(kernel, ports, sleep=VirtualSleep(clock), config=config)
    engine.attach()
    registry = MarketRegistry([MATCH, GAME1])
    books = BookSet()
    temporal = TemporalArbEngine(params, registry, books.get)
    ticks: dict[str, int] = {}
    holder: dict[str, TemporalArbEngine] = {"engine": temporal}

    def emit_all(events: list[PlaceOrderIntent]) -> None:
        for e in events:
            kernel.emit(e)

    def on_book(e: Event) -> None:
        books.apply(e)
        emit_all(holder["engine"].on_event(e))

    def on_truth(e: Event) -> None:
        emit_all(holder["engine"].on_event(e))

    kernel.subscribe(BookSnapshot, on_book)
    for cls in (TruthDelta, TruthFinal, TruthAlert, MarketResolved):
        kernel.subscribe(cls, on_truth)

    def targets() -> list[Any]:  # the engine in the holder may be replaced (new parameters)
        return list(holder["engine"].presign_targets())

    presigner = Presigner(
        kernel,
        engine.presign,
        engine.signer,
        targets,
        tick_of=lambda token: ticks.get(token, 10_000),
    )
    presigner.attach()
    world = World(clock, kernel, sink, venue, engine, books, temporal, presigner, ticks, holder)
    engine.start()
    await engine.idle()
    if start:
        presigner.start()
        await presigner.idle()
    return world


# ---------------------------------------------------------------------------------------------
# Presign while live
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_nothing_is_signed_before_the_match_is_live() -> None:
    w = await build()
    await w.publish(w.delta("scheduled", state=TruthState.PRE_MATCH))
    assert w.ready() == {}
    assert w.signer.calls == 0


@pytest.mark.asyncio
async def test_presigns_both_outcomes_of_a_live_match_and_of_a_game_in_progress() -> None:
    w = await build()
    await w.publish(w.delta("match_started"))
    ready = w.ready()
    assert sorted(ready) == ["ma", "mb"]
    for token, entry in ready.items():
        spec = entry.order.spec
        assert (spec.token_id, spec.side, spec.price, spec.size, spec.order_type) == (
            token, Side.BUY, STANDARD_PRICE, STANDARD_SIZE, OrderType.FAK,
        )  # fmt: skip
        assert spec.market == "0xM"
        assert spec.timestamp_ms * 1_000_000 == entry.signed_ns <= w.now()
    assert w.signer.calls == 2
    await w.publish(w.delta("game_started", game=1))
    assert sorted(w.ready()) == ["g1a", "g1b", "ma", "mb"]
    assert w.signer.calls == 4
    assert len(w.sink.of(PresignReady)) == 4  # every pre-signed order is in the log


@pytest.mark.asyncio
async def test_fok_is_configurable() -> None:
    w = await build(TemporalArbParams(presign=True, order_type=OrderType.FOK))
    await w.publish(w.delta("match_started"))
    assert {r.order.spec.order_type for r in w.ready().values()} == {OrderType.FOK}


@pytest.mark.asyncio
async def test_not_in_presign_mode_nothing_is_signed_ahead() -> None:
    w = await build(TemporalArbParams())
    await w.publish(w.delta("match_started"))
    await w.books_at({"ma": 600_000, "mb": 450_000})
    await w.publish(w.final("t1"))
    assert w.ready() == {}
    assert w.signer.calls == 1  # signed on demand, as before
    assert w.engine.presign.stats.misses == 0  # presigning never started: no miss counted


# ---------------------------------------------------------------------------------------------
# The hit path
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_result_takes_the_presigned_order_without_signing() -> None:
    w = await build()
    await w.publish(w.delta("match_started"))
    await w.books_at({"ma": 600_000, "mb": 450_000})
    presigned = w.ready()["ma"].order
    calls = w.signer.calls
    await w.publish(w.final("t1"))
    assert w.signer.calls == calls  # the hit path makes no signature
    [sub] = w.submitted()
    assert sub.order_hash == presigned.order_hash
    assert sub.order.payload == presigned.payload  # sent exactly as signed
    intent = w.sink.of(PlaceOrderIntent)[-1]
    assert sub.client_id == intent.intent_id
    assert (intent.price, intent.size, intent.order_type) == (
        STANDARD_PRICE, STANDARD_SIZE, OrderType.FAK,
    )  # fmt: skip
    # logged (and flushed) before the venue saw it; the ledger knows it by its hash
    assert w.sink.events.index(sub) < w.sink.durable
    record = w.engine.state.order_for_client(intent.intent_id)
    assert record is not None
    assert record.order_hash == presigned.order_hash
    assert list(w.venue.orders) == [presigned.order_hash]
    assert w.sink.of(OrderAccepted)[-1].order_hash == presigned.order_hash
    stats = w.engine.presign.stats
    assert (stats.hits, stats.misses) == (1, 0)
    assert w.ready() == {}  # the loser's order went with the match; the winner's was used
    assert [d.reason for d in w.sink.of(PresignDiscarded)] == ["not wanted"]


@pytest.mark.asyncio
async def test_a_game_result_takes_its_presigned_order() -> None:
    w = await build()
    await w.publish(w.delta("game_started", game=1))
    await w.books_at({"g1a": 300_000, "g1b": 650_000})
    presigned = w.ready()["g1b"].order.order_hash
    calls = w.signer.calls
    await w.publish(w.delta("game_result", game=1, winner="geng", confidence=9_500))
    assert w.signer.calls == calls
    assert [s.order_hash for s in w.submitted()] == [presigned]


@pytest.mark.asyncio
async def test_the_order_goes_out_before_the_presigner_runs_its_pass() -> None:
    """A result wakes the presigner and sends an order in the same dispatch: the order's
    submit takes the loop first (signing ahead is background work)."""
    w = await build()
    await w.publish(w.delta("match_started"))
    await w.books_at({"ma": 600_000, "mb": 450_000})
    steps: list[str] = []
    targets = w.temporal.presign_targets
    submit = w.venue.submit

    def recording_targets() -> list[Any]:
        steps.append("presign pass")
        return list(targets())

    async def recording_submit(order: SignedOrder) -> Any:
        steps.append("submit")
        return await submit(order)

    w.temporal.presign_targets = recording_targets  # type: ignore[method-assign]
    w.venue.submit = recording_submit  # type: ignore[method-assign]
    w.kernel.publish(w.final("t1"))
    await w.settle()
    assert steps[:2] == ["submit", "presign pass"]


@pytest.mark.asyncio
async def test_each_presigned_order_is_used_once() -> None:
    w = await build()
    await w.publish(w.delta("match_started"))
    await w.books_at({"ma": 600_000, "mb": 450_000})
    await w.publish(w.final("t1"))
    first = w.submitted()[0].order_hash
    assert w.engine.presign.stats.hits == 1
    # The same order handed in again (a duplicate frame, a replayed log) is refused...
    w.kernel.publish(
        PresignReady(ts_event=w.now(), ts_init=w.now(), match_id="m1", order=w.submitted()[0].order)
    )
    assert w.engine.presign.get("ma") is None
    # ...so a second identical intent is signed on demand, under a new hash.
    now = w.now()
    intent = msgspec.structs.replace(
        w.sink.of(PlaceOrderIntent)[-1], intent_id="other", ts_event=now, ts_init=now
    )
    calls = w.signer.calls
    await w.publish(intent)
    assert w.signer.calls == calls + 1
    second = w.submitted()[-1].order_hash
    assert second != first
    assert w.engine.presign.stats.misses == 1


@pytest.mark.asyncio
async def test_fallback_signs_on_demand_when_nothing_matches() -> None:
    w = await build()
    await w.publish(w.delta("match_started"))
    # A ladder: the standard size would average far above the best ask, so the engine sends
    # the walked (smaller) size instead, which no pre-signed order matches.
    now = w.now()
    ladder = BookSnapshot(
        ts_event=now, ts_init=now, market="x", token_id="ma", bids=((500_000, SCALE),),
        asks=((600_000, 10 * SCALE), (900_000, 1_000 * SCALE)), tick=10_000,
    )  # fmt: skip
    await w.publish(ladder)
    await w.books_at({"mb": 450_000})
    calls = w.signer.calls
    await w.publish(w.final("t1"))
    [sub] = w.submitted()
    assert sub.order.spec.size == 10 * SCALE
    assert w.signer.calls == calls + 1
    stats = w.engine.presign.stats
    assert (stats.hits, stats.misses, stats.miss_reasons) == (0, 1, {"mismatch": 1})
    assert w.ready() == {}  # the unused order is discarded once the entry is sent


# ---------------------------------------------------------------------------------------------
# Refresh and staleness
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_orders_are_refreshed_before_they_go_stale() -> None:
    cfg = PresignConfig(refresh_after_s=20, max_age_s=45)
    w = await build(presign=cfg)
    await w.publish(w.delta("match_started"))
    first = {t: r.order.order_hash for t, r in w.ready().items()}
    await w.advance(19)
    assert {t: r.order.order_hash for t, r in w.ready().items()} == first
    await w.advance(1)
    second = w.ready()
    assert all(second[t].order.order_hash != first[t] for t in first)
    assert all(r.signed_ns == w.now() for r in second.values())
    assert w.engine.presign.stats.refreshes == 2
    for _ in range(120):  # two minutes of one-second timer ticks
        await w.advance(1)
        ages = [w.now() - r.signed_ns for r in w.ready().values()]
        assert len(ages) == 2
        assert max(ages) < cfg.refresh_after_ns + NS_PER_S <= cfg.max_age_ns


@pytest.mark.asyncio
async def test_a_stale_order_is_never_sent() -> None:
    w = await build(presign=PresignConfig(refresh_after_s=20, max_age_s=45))
    await w.publish(w.delta("match_started"))
    await w.presigner.stop()  # nothing refreshes any more
    presigned = w.ready()["ma"].order.order_hash
    w.clock.advance_ns(46 * NS_PER_S)
    await w.books_at({"ma": 600_000, "mb": 450_000})
    await w.publish(w.final("t1"))
    [sub] = w.submitted()
    assert sub.order_hash != presigned
    assert w.engine.presign.stats.miss_reasons == {"stale": 1}


@pytest.mark.asyncio
async def test_a_tick_change_refreshes_and_an_off_tick_order_is_discarded() -> None:
    w = await build()
    await w.publish(w.delta("match_started"))
    before = {t: r.order.order_hash for t, r in w.ready().items()}
    now = w.now()
    w.ticks["ma"] = 1_000  # 0.95 is still on the 0.001 grid: refreshed
    await w.publish(
        TickSizeChange(
            ts_event=now, ts_init=now, market="0xM", token_id="ma", old_tick=10_000, new_tick=1_000
        )
    )
    after = {t: r.order.order_hash for t, r in w.ready().items()}
    assert after["ma"] != before["ma"]
    assert after["mb"] == before["mb"]
    w.ticks["mb"] = 100_000  # 0.95 is off the 0.1 grid: the venue would refuse it
    await w.publish(
        TickSizeChange(
            ts_event=now, ts_init=now, market="0xM", token_id="mb", old_tick=10_000,
            new_tick=100_000,
        )
    )  # fmt: skip
    assert "mb" not in w.ready()
    assert w.sink.of(PresignDiscarded)[-1].reason == "off tick"


@pytest.mark.asyncio
async def test_a_parameter_change_replaces_the_orders() -> None:
    w = await build()
    await w.publish(w.delta("match_started"))
    old = {t: r.order.order_hash for t, r in w.ready().items()}
    holder = w.holder
    fresh = TemporalArbEngine(
        TemporalArbParams(presign=True, fixed_size_usdc=20 * SCALE), holder["engine"].registry,
        w.books.get,
    )  # fmt: skip
    fresh.on_event(w.delta("match_started"))
    holder["engine"] = fresh
    w.presigner.wake()
    await w.settle()
    ready = w.ready()
    assert sorted(ready) == ["ma", "mb"]
    assert {r.order.spec.size for r in ready.values()} == {21 * SCALE}  # $20 / 0.95, lot 0.2
    assert not set(old.values()) & {r.order.order_hash for r in ready.values()}
    assert w.sink.of(PresignDiscarded)[-1].reason == "target changed"


# ---------------------------------------------------------------------------------------------
# Discarding
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_final_keeps_only_the_armed_winner_and_resolution_discards_it() -> None:
    w = await build()
    await w.publish(w.delta("game_started", game=1))
    await w.books_at({"ma": 990_000, "mb": 50_000})  # the winner's ask is above the cap
    assert sorted(w.ready()) == ["g1a", "g1b", "ma", "mb"]
    await w.publish(w.final("t1"))
    assert w.submitted() == []
    assert sorted(w.ready()) == ["ma"]  # armed: it fires if a seller comes under the cap
    now = w.now()
    await w.publish(MarketResolved(ts_event=now, ts_init=now, market="0xM", winning_token_id="ma"))
    assert w.ready() == {}
    assert w.engine.presign.stats.discarded == 4


@pytest.mark.asyncio
async def test_a_blocked_match_discards_and_unblocking_presigns_again() -> None:
    w = await build()
    await w.publish(w.delta("match_started"))
    now = w.now()
    await w.publish(TruthAlert(ts_event=now, ts_init=now, match_id="m1", reason="dispute"))
    assert w.ready() == {}
    await w.publish(
        TruthAlert(ts_event=now, ts_init=now, match_id="m1", reason="ok", blocked=False)
    )
    assert sorted(w.ready()) == ["ma", "mb"]


@pytest.mark.asyncio
async def test_a_failed_signature_is_reported_and_retried_after_the_backoff() -> None:
    w = await build(signer=FlakySigner(fail=1), presign=PresignConfig(failure_backoff_s=5))
    await w.publish(w.delta("match_started"))
    assert sorted(w.ready()) == ["mb"]  # "ma" (signed first) failed
    [failed] = w.sink.of(PresignFailed)
    assert failed.token_id == "ma"
    assert w.engine.presign.stats.sign_failures == 1
    await w.advance(4)
    assert sorted(w.ready()) == ["mb"]
    await w.advance(1)
    assert sorted(w.ready()) == ["ma", "mb"]


@pytest.mark.asyncio
async def test_a_lost_reply_on_a_presigned_order_still_gives_one_order() -> None:
    w = await build()
    await w.publish(w.delta("match_started"))
    await w.books_at({"ma": 600_000, "mb": 450_000})
    presigned = w.ready()["ma"].order.order_hash
    w.venue.lose_next_reply("submit")
    await w.publish(w.final("t1"))
    assert list(w.venue.orders) == [presigned]  # looked up by its hash, never resent blindly
    accepted = w.sink.of(OrderAccepted)[-1]
    assert accepted.order_hash == presigned
    assert accepted.found_by_lookup
    recovered = ExecutionEngine(
        Kernel(w.clock), w.engine.ports, sleep=VirtualSleep(w.clock)
    )  # a restarted process rebuilds the order from the log
    recovered.recover(w.sink.events[: w.sink.durable])
    record = recovered.state.orders[presigned]
    assert record.signed is not None
    assert record.signed.payload == w.submitted()[0].order.payload


# ---------------------------------------------------------------------------------------------
# Surface
# ---------------------------------------------------------------------------------------------


def test_config_rejects_a_refresh_after_the_max_age() -> None:
    with pytest.raises(ValueError, match="refresh_after_s"):
        PresignConfig(refresh_after_s=60, max_age_s=45)


def test_exports() -> None:
    """(Layering, and that replay never imports the presigner task: import-linter.)"""
    for name in ("polyloly.execution.presign", "polyloly.execution.presigner"):
        module = importlib.import_module(name)
        assert sorted(module.__all__) == sorted(set(module.__all__))
        for export in module.__all__:
            assert hasattr(module, export), export


def test_serial_signer_counts_and_delegates() -> None:
    inner = FakeSigner()
    signer = SerialSigner(inner)
    spec = OrderSpec(
        client_id="c", market="m", token_id="t", side=Side.BUY, price=500_000, size=SCALE,
        order_type=OrderType.FAK, salt=1, timestamp_ms=1,
    )  # fmt: skip
    assert signer.sign(spec) == inner.sign(spec)
    assert signer.calls == 1
