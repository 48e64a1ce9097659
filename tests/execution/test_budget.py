"""The shared risk budget: its arithmetic (property tests) and the keeper in the order path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.execution.conftest import MARKET, START_NS

from polyloly.domain.events import FeedState, FeedStatus, OperatorCommand
from polyloly.domain.money import SCALE
from polyloly.execution.budget import BudgetLimits, InstanceReport, KeeperConfig
from polyloly.execution.engine import ExecutionConfig
from polyloly.execution.events import KillSwitchFired, OrderRejected
from polyloly.execution.ports import RejectCode
from polyloly.testing.budget import MemoryBudget, MemoryStore

LIMITS = BudgetLimits(max_total=100, max_market=60, max_daily_loss=50, lease_ms=1_000)
MARKETS = ("m1", "m2", "m3")

_reserve = st.tuples(
    st.just("reserve"),
    st.sampled_from(("a", "b", "c")),
    st.integers(0, 40),  # order number (a repeat is a retried call)
    st.sampled_from(MARKETS),
    st.integers(0, 45),
)
_sync = st.tuples(
    st.just("sync"),
    st.sampled_from(("a", "b", "c")),
    st.dictionaries(st.sampled_from(MARKETS), st.integers(0, 30), max_size=2),
    st.dictionaries(st.sampled_from(MARKETS), st.integers(0, 30), max_size=2),
    st.integers(-60, 10),
)
_wait = st.tuples(st.just("wait"), st.integers(0, 1_500))


def _counted(store: MemoryStore, market: str) -> tuple[int, int]:
    """Reserved + published in all and in ``market``, computed without ``decide``."""
    now = store.now_ms()
    total = in_market = 0
    for expires, _inst, m, amount in store.reservations.values():
        if expires > now:
            total += amount
            in_market += amount if m == market else 0
    for inst, figures in store.positions.items():
        for row in (figures, store.open_orders.get(inst, {})):
            for m, amount in row.items():
                total += amount
                in_market += amount if m == market else 0
    return total, in_market


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_reserve, _sync, _wait), max_size=40))
def test_a_grant_never_takes_the_account_past_a_cap_and_a_refusal_always_would(
    ops: list[tuple[Any, ...]],
) -> None:
    clock = [0]
    store = MemoryStore(now_ms=lambda: clock[0])
    handles = {i: MemoryBudget(store, instance=i, limits=LIMITS) for i in ("a", "b", "c")}

    async def run() -> None:
        for op in ops:
            if op[0] == "wait":
                clock[0] += op[1]
            elif op[0] == "sync":
                _, inst, pos, opened, pnl = op
                report = InstanceReport(
                    instance=inst, day="d", daily_pnl=pnl, positions=pos, open_orders=opened
                )
                await handles[inst].sync(report)
            else:
                _, inst, n, market, amount = op
                order = f"{inst}:{n}"
                known = order in store.reservations and store.reservations[order][0] > clock[0]
                before_total, before_market = _counted(store, market)
                loss = sum(store.pnl.get("d", {}).values()) <= -LIMITS.max_daily_loss
                grant = await handles[inst].reserve(order, market, amount, "d")
                after_total, after_market = _counted(store, market)
                if known:
                    assert grant.ok == (not loss)
                    assert (after_total, after_market) == (before_total, before_market)
                    continue
                fits = (
                    before_total + amount <= LIMITS.max_total
                    and before_market + amount <= LIMITS.max_market
                )
                assert grant.ok == (fits and not loss), (grant, before_total, before_market)
                if grant.ok:
                    assert after_total == before_total + amount
                    assert after_market == before_market + amount
                else:
                    assert (after_total, after_market) == (before_total, before_market)
                    assert grant.reason in ("total", "market", "daily_loss")

    asyncio.run(run())


@given(st.lists(st.integers(1, 30), max_size=30))
def test_reservations_alone_never_sum_past_the_caps(amounts: list[int]) -> None:
    store = MemoryStore(now_ms=lambda: 0)
    budget = MemoryBudget(store, instance="a", limits=LIMITS)

    async def run() -> None:
        for n, amount in enumerate(amounts):
            await budget.reserve(str(n), MARKETS[n % 2], amount, "d")
            total = sum(a for *_x, a in store.reservations.values())
            assert total <= LIMITS.max_total
            for market in MARKETS:
                held = sum(a for _e, _i, m, a in store.reservations.values() if m == market)
                assert held <= LIMITS.max_market

    asyncio.run(run())


def test_a_lease_lapses_unless_its_instance_syncs() -> None:
    clock = [0]
    store = MemoryStore(now_ms=lambda: clock[0])
    alive = MemoryBudget(store, instance="alive", limits=LIMITS)
    dead = MemoryBudget(store, instance="dead", limits=LIMITS)

    async def run() -> None:
        assert (await dead.reserve("d1", "m1", 50, "d")).ok
        assert (await alive.reserve("a1", "m2", 40, "d")).ok
        assert not (await alive.reserve("a2", "m3", 20, "d")).ok  # 90 + 20 > 100
        clock[0] = 900
        await alive.sync(InstanceReport(instance="alive", day="d", daily_pnl=0))
        clock[0] = 1_500  # dead's lease lapsed, alive's was renewed at 900
        assert (await alive.reserve("a2", "m3", 20, "d")).ok
        assert "d1" not in store.reservations
        assert "a1" in store.reservations

    asyncio.run(run())


# -- the keeper in the order path --------------------------------------------------------------


async def _harness(make_harness: Any, store: MemoryStore, limits: BudgetLimits) -> Any:
    h = await make_harness(
        config=ExecutionConfig(instance_id="alpha"), reconcile=False, books=False
    )
    budget = MemoryBudget(store, instance="alpha", limits=limits)
    keeper = h.engine.use_budget(budget, budget, KeeperConfig(instance="alpha", limits=limits))
    keeper.attach()
    h.books()
    h.engine.start()
    await h.settle()
    return h


def _store(h_clock: Any = None) -> MemoryStore:
    return MemoryStore(now_ms=lambda: START_NS // 1_000_000)


@pytest.mark.asyncio
async def test_an_order_past_the_shared_cap_is_refused_and_never_sent(make_harness: Any) -> None:
    store = _store()
    limits = BudgetLimits(max_total=20 * SCALE, max_market=20 * SCALE, max_daily_loss=100 * SCALE)
    # another instance already holds 15 pUSD in the market
    other = MemoryBudget(store, instance="beta", limits=limits)
    await other.sync(
        InstanceReport(instance="beta", day="d", daily_pnl=0, positions={MARKET: 12 * SCALE})
    )
    h = await _harness(make_harness, store, limits)
    sent_before = len(h.venue.orders)
    h.publish(h.intent(size=25 * SCALE, price=400_000))  # 10 pUSD: 12 + 10 > 20
    await h.settle()
    rejected = h.sink.of(OrderRejected)
    assert [r.code for r in rejected] == [RejectCode.BUDGET]
    assert "shared" in rejected[0].reason
    assert len(h.venue.orders) == sent_before
    assert not h.sink.of(KillSwitchFired)  # a cap reached is no execution error
    await h.place(size=15 * SCALE, price=400_000)  # 6 pUSD fits
    assert len(h.venue.orders) == sent_before + 1
    await h.engine.stop()
    # the sync published the order as open and dropped its reservation
    assert store.open_orders["alpha"] == {MARKET: 6 * SCALE}
    assert not [r for r in store.reservations.values() if r[1] == "alpha"]


@pytest.mark.asyncio
async def test_a_shared_halt_stops_the_instance_and_a_resume_releases_it(
    make_harness: Any,
) -> None:
    store = _store()
    limits = BudgetLimits(max_total=100 * SCALE, max_market=100 * SCALE, max_daily_loss=SCALE)
    h = await _harness(make_harness, store, limits)
    await h.place()
    operator = MemoryBudget(store, instance="operator", limits=limits)
    await operator.set_halt("operator: stop everything")
    await h.settle()
    fired = h.sink.of(KillSwitchFired)
    assert fired
    assert "stop everything" in fired[-1].reason or fired[-1].condition == "manual_halt"
    assert h.state.halted is not None
    await operator.set_halt("")
    await h.settle()
    assert h.state.halted is None
    await h.engine.stop()


@pytest.mark.asyncio
async def test_a_halt_all_command_on_one_instance_reaches_the_store(make_harness: Any) -> None:
    store = _store()
    limits = BudgetLimits(max_total=100 * SCALE, max_market=100 * SCALE, max_daily_loss=SCALE)
    h = await _harness(make_harness, store, limits)
    h.publish(OperatorCommand(ts_event=h.now(), ts_init=h.now(), command="halt_all"))
    await h.settle()
    assert store.halt
    assert h.state.halted is not None
    await h.engine.stop()


@pytest.mark.asyncio
async def test_the_store_down_fails_closed_then_recovers(make_harness: Any) -> None:
    store = _store()
    limits = BudgetLimits(max_total=100 * SCALE, max_market=100 * SCALE, max_daily_loss=SCALE)
    h = await _harness(make_harness, store, limits)
    sent = len(h.venue.orders)
    store.down = True
    h.publish(h.intent())
    await h.settle()
    assert len(h.venue.orders) == sent  # no order without a reservation
    assert [r.code for r in h.sink.of(OrderRejected)] == [RejectCode.BUDGET]
    downs = [f for f in h.sink.of(FeedStatus) if f.source == "risk_budget"]
    assert [f.state for f in downs] == [FeedState.DOWN]
    assert any("unreachable" in a.title for a in h.alerts.sent)
    store.down = False
    h.engine.budget.request_sync()
    await h.settle()
    ups = [f for f in h.sink.of(FeedStatus) if f.source == "risk_budget"]
    assert [f.state for f in ups] == [FeedState.DOWN, FeedState.OK]
    await h.place()
    assert len(h.venue.orders) == sent + 1
    await h.engine.stop()


@pytest.mark.asyncio
async def test_an_order_matched_before_its_trade_arrives_stays_counted(make_harness: Any) -> None:
    # The venue can report an order MATCHED before the trade that filled it: until the fill
    # reaches the ledger, neither its open orders nor its positions hold the order, and a
    # sync must not publish it as gone (the three-instance test's 316.68 of 300).
    import msgspec

    from polyloly.execution.events import OrderUpdate, UpdateSource
    from polyloly.execution.ports import VenueOrderStatus

    store = _store()
    limits = BudgetLimits(max_total=100 * SCALE, max_market=100 * SCALE, max_daily_loss=SCALE)
    h = await _harness(make_harness, store, limits)
    order_hash = await h.place(size=15 * SCALE, price=400_000)  # 6 pUSD
    keeper = h.engine.budget
    assert keeper.report().open_orders == {MARKET: 6 * SCALE}
    venue_order = msgspec.structs.replace(
        h.venue.orders[order_hash], status=VenueOrderStatus.MATCHED, size_matched=15 * SCALE
    )
    h.publish(
        OrderUpdate(ts_event=h.now(), ts_init=h.now(), order=venue_order, source=UpdateSource.WS)
    )
    await h.settle()
    assert not h.state.order_for_client(h.intents[-1].intent_id).is_open
    report = keeper.report()
    assert report.open_orders.get(MARKET, 0) + report.positions.get(MARKET, 0) >= 6 * SCALE
    h.venue.fill(order_hash, 15 * SCALE)  # the trade arrives
    await h.settle()
    report = keeper.report()
    assert report.positions.get(MARKET, 0) >= 6 * SCALE
    assert report.open_orders.get(MARKET, 0) == 0  # counted once, as a position now
    await h.engine.stop()


@pytest.mark.asyncio
async def test_keep_on_down_leaves_resting_orders_but_still_sends_nothing_new(
    make_harness: Any,
) -> None:
    store = _store()
    limits = BudgetLimits(max_total=100 * SCALE, max_market=100 * SCALE, max_daily_loss=SCALE)
    h = await make_harness(
        config=ExecutionConfig(instance_id="alpha"), reconcile=False, books=False
    )
    budget = MemoryBudget(store, instance="alpha", limits=limits)
    keeper = h.engine.use_budget(
        budget, budget, KeeperConfig(instance="alpha", limits=limits, on_down="keep")
    )
    keeper.attach()
    h.books()
    h.engine.start()
    await h.settle()
    resting = await h.place()
    store.down = True
    h.publish(h.intent())
    await h.settle()
    assert [r.code for r in h.sink.of(OrderRejected)] == [RejectCode.BUDGET]
    assert not [f for f in h.sink.of(FeedStatus) if f.state is FeedState.DOWN]
    assert not h.sink.of(KillSwitchFired)
    assert h.venue.orders[resting].status.value == "LIVE"  # kept
    assert any("unreachable" in a.title for a in h.alerts.sent)
    await h.engine.stop()
