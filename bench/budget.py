"""The shared risk budget's cost: ``python -m bench.budget [--redis-url URL] [--n N]``.

Two measurements against a real Redis server (default ``redis://127.0.0.1:6379/0``, or
``POLYLOLY_BENCH_REDIS_URL``), under a key prefix of its own that it deletes afterwards:

1. **Round trip** of the check-and-reserve script (:data:`~polyloly.adapters.redis.budget.
   RESERVE`) and of the sync script, one call at a time, with a realistic shared state: other
   instances' published figures (3 instances × 4 markets) and ``--live`` live reservations
   that every check sums.
2. **What it adds to the order path**: the execution engine in-process (kernel, risk gate,
   order manager, an in-memory venue) timed from ``publish(intent)`` to the venue's
   ``submit`` being entered, without and with the Redis budget, alternating. The difference
   is what a reservation costs an order before it can leave.

Synthetic: loopback Redis on the same 2-core machine as the bench; a real deployment's Redis
sits one network hop away, and that hop is added to every order (see README "Several bots").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from bench.stats import percentile
from polyloly.adapters.redis.budget import RedisBudget
from polyloly.domain.events import BookSnapshot, Side
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.money import SCALE
from polyloly.execution.budget import BudgetLimits, InstanceReport, KeeperConfig
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts
from polyloly.execution.ports import SignedOrder, SubmitResult
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.kernel import Kernel
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

MARKET, YES, NO = "0xbench", "111", "222"
LIMITS = BudgetLimits(max_total=10**15, max_market=10**15, max_daily_loss=10**12, lease_ms=60_000)


class _NullSink:
    def append(self, _event: Any) -> None:
        return None

    def flush(self) -> None:
        return None


def _row(name: str, samples_ns: list[int]) -> str:
    s = sorted(samples_ns)
    us = [percentile(s, p) / 1_000 for p in (50.0, 99.0, 99.9)]
    return (
        f"| {name} | {len(s)} | {us[0]:.1f} µs | {us[1]:.1f} µs | {us[2]:.1f} µs | "
        f"{s[-1] / 1_000:.1f} µs |"
    )


async def _state(url: str, prefix: str, live: int) -> None:
    for n in range(3):
        other = RedisBudget(url, instance=f"other{n}", limits=LIMITS, prefix=prefix)
        await other.sync(
            InstanceReport(
                instance=f"other{n}",
                day="20000",
                daily_pnl=-SCALE,
                positions={f"0xm{m}": 50 * SCALE for m in range(4)},
                open_orders={f"0xm{m}": 10 * SCALE for m in range(4)},
            )
        )
        for r in range(live // 3):
            await other.reserve(f"live-{n}-{r}", f"0xm{r % 4}", SCALE, "20000")
        await other.aclose()


async def round_trips(url: str, prefix: str, n: int) -> list[str]:
    budget = RedisBudget(url, instance="bench", limits=LIMITS, prefix=prefix)
    reserve: list[int] = []
    sync: list[int] = []
    try:
        for i in range(50):  # warm-up: connection, script cache
            await budget.reserve(f"warm-{i}", MARKET, 1, "20000")
        report = InstanceReport(
            instance="bench",
            day="20000",
            daily_pnl=0,
            positions={MARKET: 100 * SCALE},
            open_orders={MARKET: 20 * SCALE},
        )
        for i in range(n):
            t0 = time.perf_counter_ns()
            grant = await budget.reserve(f"o-{i}", MARKET, 1, "20000")
            reserve.append(time.perf_counter_ns() - t0)
            assert grant.ok
            if i % 10 == 0:  # the keeper drops what a sync covers: keep the hash from growing
                covered = tuple(f"o-{j}" for j in range(max(0, i - 10), i + 1))
                t0 = time.perf_counter_ns()
                await budget.sync(
                    InstanceReport(
                        instance="bench",
                        day="20000",
                        daily_pnl=0,
                        positions=report.positions,
                        open_orders=report.open_orders,
                        covered=covered,
                    )
                )
                sync.append(time.perf_counter_ns() - t0)
    finally:
        await budget.aclose()
    return [_row("reserve (check-and-reserve script)", reserve), _row("sync (heartbeat)", sync)]


class _TimedVenue(FakeVenue):
    """The in-memory venue, noting when ``submit`` is entered."""

    entered: int = 0

    async def submit(self, order: SignedOrder) -> SubmitResult:
        self.entered = time.perf_counter_ns()
        return await super().submit(order)


async def order_path(url: str | None, prefix: str, n: int) -> list[int]:
    clock = LiveClock()
    kernel = Kernel(clock, _NullSink())
    venue = _TimedVenue({MARKET: (YES, NO)}, collateral=10**15, now_ns=clock.now_ns)
    venue.publish = kernel.publish
    alerts = RecordingAlerts()
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=alerts, cancel_all=venue
    )
    from polyloly.domain.risk import RiskParams

    risk = RiskParams(
        max_position_per_market=10**15,
        max_total_exposure=10**15,
        max_open_orders_per_market=10**6,
        max_slippage_bps=10_000,
    )
    engine = ExecutionEngine(
        kernel,
        ports,
        sleep=VirtualSleep(clock),  # type: ignore[arg-type]
        config=ExecutionConfig(instance_id="bench" if url else None, risk=risk),
    )
    engine.attach()
    budget = None
    if url is not None:
        budget = RedisBudget(url, instance="bench", limits=LIMITS, prefix=prefix)
        keeper = engine.use_budget(budget, budget, KeeperConfig(instance="bench", limits=LIMITS))
        keeper.attach()
    now = clock.now_ns()
    for token, bid, ask in ((YES, 400_000, 420_000), (NO, 580_000, 600_000)):
        kernel.publish(
            BookSnapshot(
                ts_event=now,
                ts_init=now,
                market=MARKET,
                token_id=token,
                bids=((bid, 10**9 * SCALE),),
                asks=((ask, 10**9 * SCALE),),
                tick=10_000,
            )
        )
    engine.start()
    await engine.idle()
    out: list[int] = []
    try:
        for i in range(n):
            now = clock.now_ns()
            intent = PlaceOrderIntent(
                ts_event=now,
                ts_init=now,
                intent_id=f"bench:{url is not None}:{i}",
                strategy="bench",
                market=MARKET,
                token_id=YES,
                side=Side.BUY,
                price=400_000,
                size=20 * SCALE,
                order_type=OrderType.GTC,
                notional=8 * SCALE,
            )
            t0 = time.perf_counter_ns()
            kernel.publish(intent)
            await engine.idle()
            if venue.entered > t0:
                out.append(venue.entered - t0)
    finally:
        await engine.stop()
        if budget is not None:
            await budget.aclose()
    return out


async def main_async(url: str, n: int, live: int) -> None:
    prefix = f"polyloly:{{bench-{uuid.uuid4().hex[:10]}}}:"
    try:
        await _state(url, prefix, live)
        rows = await round_trips(url, prefix, n)
        without: list[int] = []
        with_budget: list[int] = []
        for _ in range(5):  # alternate, so that drift hits both alike
            without += await order_path(None, prefix, n // 5)
            with_budget += await order_path(url, prefix, n // 5)
        print(f"Redis {url}; {live} live reservations and 3 instances' figures present\n")
        print("| call | n | p50 | p99 | p99.9 | max |\n|---|---|---|---|---|---|")
        for row in rows:
            print(row)
        print()
        print("**publish(intent) → venue.submit entered, in-process engine**\n")
        print("| order path | n | p50 | p99 | p99.9 | max |\n|---|---|---|---|---|---|")
        print(_row("alone (no budget)", without))
        print(_row("with the shared budget", with_budget))
        added50 = percentile(sorted(with_budget), 50) - percentile(sorted(without), 50)
        added99 = percentile(sorted(with_budget), 99) - percentile(sorted(without), 99)
        print(
            f"\nadded by the reservation: p50 {added50 / 1000:.1f} µs, p99 {added99 / 1000:.1f} µs"
        )
    finally:
        client = aioredis.Redis.from_url(url)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.budget", description=__doc__)
    default = os.environ.get("POLYLOLY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    parser.add_argument("--redis-url", default=default)
    parser.add_argument("--n", type=int, default=2_000, help="calls per measurement")
    parser.add_argument("--live", type=int, default=30, help="live reservations present")
    args = parser.parse_args()
    asyncio.run(main_async(args.redis_url, args.n, args.live))


if __name__ == "__main__":
    main()
