"""The Redis budget against the real server: the Lua scripts agree with the model
(:func:`~polyloly.execution.budget.decide`), hold under concurrency, lease, halt and fail."""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.adapters.redis.conftest import redis_url

from polyloly.adapters.redis.budget import RedisBudget
from polyloly.execution.budget import BudgetLimits, InstanceReport
from polyloly.runtime.errors import RetryableError
from polyloly.testing.budget import MemoryBudget, MemoryStore

LIMITS = BudgetLimits(max_total=100, max_market=60, max_daily_loss=50, lease_ms=60_000)
MARKETS = ("m1", "m2", "m3")
INSTANCES = ("a", "b", "c")

_reserve = st.tuples(
    st.just("reserve"),
    st.sampled_from(INSTANCES),
    st.integers(0, 30),
    st.sampled_from(MARKETS),
    st.integers(0, 45),
)
_sync = st.tuples(
    st.just("sync"),
    st.sampled_from(INSTANCES),
    st.dictionaries(st.sampled_from(MARKETS), st.integers(1, 30), max_size=2),
    st.dictionaries(st.sampled_from(MARKETS), st.integers(1, 30), max_size=2),
    st.integers(-60, 10),
    st.lists(st.integers(0, 30), max_size=3),
)


async def _drop(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(_reserve, _sync), min_size=1, max_size=25))
def test_the_server_script_decides_as_the_model(ops: list[tuple[object, ...]]) -> None:
    url = redis_url()
    prefix = f"polyloly:{{prop-{uuid.uuid4().hex[:12]}}}:"

    async def run() -> None:
        store = MemoryStore(now_ms=lambda: 0)
        model = {i: MemoryBudget(store, instance=i, limits=LIMITS) for i in INSTANCES}
        real = {i: RedisBudget(url, instance=i, limits=LIMITS, prefix=prefix) for i in INSTANCES}
        try:
            for op in ops:
                if op[0] == "sync":
                    _, inst, pos, opened, pnl, covered = op
                    report = InstanceReport(
                        instance=str(inst),
                        day="d",
                        daily_pnl=int(pnl),  # type: ignore[call-overload]
                        positions=pos,  # type: ignore[arg-type]
                        open_orders=opened,  # type: ignore[arg-type]
                        covered=tuple(f"o{n}" for n in covered),  # type: ignore[attr-defined]
                    )
                    await model[str(inst)].sync(report)
                    await real[str(inst)].sync(report)
                    continue
                _, inst, n, market, amount = op
                args = (f"o{n}", str(market), int(amount), "d")  # type: ignore[call-overload]
                expected = await model[str(inst)].reserve(*args)
                got = await real[str(inst)].reserve(*args)
                assert (got.ok, got.reason, got.total, got.market) == (
                    expected.ok,
                    expected.reason,
                    expected.total,
                    expected.market,
                ), op
        finally:
            for budget in real.values():
                await budget.aclose()
            await _drop(url, prefix)

    asyncio.run(run())


@pytest.mark.asyncio
async def test_two_instances_racing_never_pass_the_cap_together(prefix: str) -> None:
    url = redis_url()
    limits = BudgetLimits(max_total=1_000, max_market=700, max_daily_loss=10, lease_ms=60_000)
    # two instances, four connections each: eight streams of calls interleaved at the server
    handles = [
        RedisBudget(url, instance=name, limits=limits, prefix=prefix)
        for name in ("a", "b")
        for _ in range(4)
    ]
    rng = random.Random(7)
    plans = [
        [(f"{h.instance}{k}:{n}", rng.choice(MARKETS), rng.randint(1, 60)) for n in range(40)]
        for k, h in enumerate(handles)
    ]
    granted: list[tuple[str, int]] = []

    async def stream(budget: RedisBudget, plan: list[tuple[str, str, int]]) -> None:
        for order, market, amount in plan:
            if (await budget.reserve(order, market, amount, "d")).ok:
                granted.append((market, amount))

    try:
        await asyncio.gather(*(stream(h, p) for h, p in zip(handles, plans, strict=True)))
        total = sum(amount for _m, amount in granted)
        assert total <= limits.max_total
        for market in MARKETS:
            assert sum(x for m, x in granted if m == market) <= limits.max_market
        assert total > limits.max_total - 60  # it filled up: the refusals were real
        held = await handles[0].client.hgetall(prefix + "res")
        assert sum(int(v.split("|")[3]) for v in held.values()) == total
    finally:
        for h in handles:
            await h.aclose()


@pytest.mark.asyncio
async def test_a_dead_instances_lease_lapses_and_a_live_ones_is_renewed(prefix: str) -> None:
    url = redis_url()
    limits = BudgetLimits(max_total=100, max_market=100, max_daily_loss=10, lease_ms=300)
    dead = RedisBudget(url, instance="dead", limits=limits, prefix=prefix)
    alive = RedisBudget(url, instance="alive", limits=limits, prefix=prefix)
    try:
        assert (await dead.reserve("d1", "m1", 60, "d")).ok
        assert (await alive.reserve("a1", "m2", 30, "d")).ok
        assert not (await alive.reserve("a2", "m3", 20, "d")).ok
        for _ in range(4):  # alive heartbeats; dead does not
            await asyncio.sleep(0.12)
            await alive.sync(InstanceReport(instance="alive", day="d", daily_pnl=0))
        grant = await alive.reserve("a2", "m3", 20, "d")
        assert grant.ok, grant
        assert grant.total == 50  # a1 (renewed) + a2; d1 lapsed
        infos = {i.instance: i for i in await alive.instances()}
        assert infos["alive"].alive
        assert infos["alive"].reserved == 50
    finally:
        await dead.aclose()
        await alive.aclose()


@pytest.mark.asyncio
async def test_a_dead_instances_published_figures_stay_counted_its_reservations_lapse(
    prefix: str,
) -> None:
    url = redis_url()
    limits = BudgetLimits(max_total=100, max_market=100, max_daily_loss=10, lease_ms=300)
    gone = RedisBudget(url, instance="gone", limits=limits, prefix=prefix)
    other = RedisBudget(url, instance="other", limits=limits, prefix=prefix)
    try:
        await gone.sync(
            InstanceReport(
                instance="gone",
                day="d",
                daily_pnl=-4,
                positions={"m1": 30},
                open_orders={"m1": 40},
            )
        )
        assert (await gone.reserve("g", "m1", 10, "d")).ok  # reserved, never published
        assert (await other.reserve("x", "m2", 20, "d")).ok  # 30 + 40 + 10 + 20
        assert not (await other.reserve("y", "m2", 1, "d")).ok
        await asyncio.sleep(0.45)  # gone died: its heartbeat and its reservation lapsed
        infos = {i.instance: i for i in await other.instances()}
        assert not infos["gone"].alive
        grant = await other.reserve("y", "m2", 30, "d")
        assert grant.ok, grant
        # gone's positions and resting orders stay (they are on the account) + y;
        # g and x lapsed (other never synced either)
        assert grant.total == 100
        await other.sync(InstanceReport(instance="other", day="d", daily_pnl=-6))
        loss = await other.reserve("z", "m3", 0, "d")
        assert (loss.ok, loss.reason) == (False, "daily_loss")  # -4 + -6 reaches 10
    finally:
        await gone.aclose()
        await other.aclose()


@pytest.mark.asyncio
async def test_a_halt_reaches_a_watcher_within_a_second_and_refuses_orders(prefix: str) -> None:
    url = redis_url()
    limits = BudgetLimits(max_total=100, max_market=100, max_daily_loss=10)
    watcher = RedisBudget(url, instance="w", limits=limits, prefix=prefix)
    operator = RedisBudget(url, instance="op", limits=limits, prefix=prefix)
    got: list[tuple[str, str, float]] = []
    arrived = asyncio.Event()

    def on_message(command: str, reason: str) -> None:
        got.append((command, reason, time.monotonic()))
        arrived.set()

    task = asyncio.create_task(watcher.watch(on_message))
    try:
        await asyncio.sleep(0.2)  # subscribed
        sent = time.monotonic()
        await operator.set_halt("operator says stop")
        await asyncio.wait_for(arrived.wait(), 1.0)
        assert got[0][:2] == ("halt", "operator says stop")
        assert got[0][2] - sent < 1.0
        assert await watcher.halted() == "operator says stop"
        refused = await watcher.reserve("o1", "m1", 1, "d")
        assert (refused.ok, refused.reason, refused.detail) == (
            False,
            "halted",
            "operator says stop",
        )
        arrived.clear()
        await operator.set_halt("")
        await asyncio.wait_for(arrived.wait(), 1.0)
        assert got[-1][0] == "resume"
        assert (await watcher.reserve("o1", "m1", 1, "d")).ok
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await watcher.aclose()
        await operator.aclose()


@pytest.mark.asyncio
async def test_an_unreachable_server_is_a_retryable_error_not_a_hang() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    budget = RedisBudget(
        f"redis://127.0.0.1:{port}/0",
        instance="a",
        limits=BudgetLimits(max_total=1, max_market=1, max_daily_loss=1),
        timeout_s=0.3,
    )
    started = time.monotonic()
    try:
        with pytest.raises(RetryableError, match="redis reserve"):
            await budget.reserve("o", "m", 1, "d")
        with pytest.raises(RetryableError, match="redis sync"):
            await budget.sync(InstanceReport(instance="a", day="d", daily_pnl=0))
    finally:
        await budget.aclose()
    assert time.monotonic() - started < 3.0
