"""A minimal trading process for the crash test: kernel + execution engine + real adapter.

Each run recovers from the event log in ``--log-dir``, reconciles with the venue, then
places the intents ``crash:0`` … ``crash:N-1`` that do not have an order yet (intent ids
are deterministic, like a strategy's), waits for settlement and prints one JSON summary
line prefixed ``DONE``. The test kills it with SIGKILL at random points and restarts it.

``--die-after-submit K`` kills the process itself (SIGKILL) right after the K-th submit
reached the venue and before its reply is handled: the crash "between submit and reply".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyloly.adapters.polymarket.config import PolymarketConfig, Secret, WalletConfig
from polyloly.adapters.polymarket.execution import attach_user_channel, execution_ports
from polyloly.adapters.polymarket.factory import create_adapter
from polyloly.domain.events import Event, Side, TimerTick
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine
from polyloly.execution.order_manager import OrderManagerConfig
from polyloly.execution.ports import SignedOrder, SubmitResult
from polyloly.execution.reconciliation import ReconcileConfig
from polyloly.execution.retry import RetryPolicy
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import asyncio_sleep
from polyloly.storage.event_log import EventLogReader, EventLogWriter
from polyloly.testing.fakes import RecordingAlerts

FAST = RetryPolicy(base_delay_ms=10, max_delay_ms=100, max_attempts=6)


def _intent(i: int, market: str, yes: str, now: int) -> PlaceOrderIntent:
    # Even intents rest below the ask; odd ones take the house ask (fills and settlement).
    price = 400_000 if i % 2 == 0 else 450_000
    size = 20 * SCALE
    return PlaceOrderIntent(
        ts_event=now,
        ts_init=now,
        intent_id=f"crash:{i}",
        strategy="crash",
        market=market,
        token_id=yes,
        side=Side.BUY,
        price=price,
        size=size,
        order_type=OrderType.GTC,
        notional=size * price // SCALE,
    )


async def _until(cond: Callable[[], bool], limit_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not cond():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.005)


async def run(args: argparse.Namespace, history: list[Event]) -> dict[str, Any]:
    info = json.loads(args.sim)
    clock = LiveClock()
    writer = EventLogWriter(Path(args.log_dir))
    kernel = Kernel(clock, writer)
    config = PolymarketConfig(
        clob_url=info["http_url"],
        market_ws_url=info["market_ws_url"],
        user_ws_url=info["user_ws_url"],
        gamma_url=info["gamma_url"],
        wallet=WalletConfig(private_key=Secret(args.key)),
    )
    adapter = await create_adapter(config, kernel.publish, clock, heartbeat=False)
    ports = execution_ports(adapter, clock, tick_of=lambda _t: 10_000, alerts=RecordingAlerts())
    submits = 0
    real_submit = ports.venue.submit

    async def submit(order: SignedOrder) -> SubmitResult:
        nonlocal submits
        result = await real_submit(order)
        submits += 1
        if args.die_after_submit and submits >= args.die_after_submit:
            os.kill(os.getpid(), signal.SIGKILL)  # the venue has it; we never hear back
        return result

    ports.venue.submit = submit  # type: ignore[method-assign]
    engine = ExecutionEngine(
        kernel,
        ports,
        sleep=asyncio_sleep,
        config=ExecutionConfig(
            orders=OrderManagerConfig(submit_retry=FAST, cancel_retry=FAST),
            reconcile=ReconcileConfig(interval_s=0, retry=FAST),
        ),
    )
    attach_user_channel(engine)  # registers the user-channel translation recovery needs
    recovered = engine.recover(history)
    engine.attach()
    yes = info["yes"]
    adapter.start()
    await adapter.market_ws.subscribe([yes, info["no"]])
    await _until(lambda: adapter.market_ws.in_sync(yes), 10)
    engine.start()
    await _until(
        lambda: engine.reconciler.last_ok is not None and not engine.reconciler.running, 10
    )
    await engine.idle()
    for i in range(args.intents):
        if engine.state.order_for_client(f"crash:{i}") is None:
            kernel.publish(_intent(i, info["market"], yes, clock.now_ns()))
            await engine.idle()
        now = clock.now_ns()
        kernel.publish(TimerTick(ts_event=now, ts_init=now))
    await _until(lambda: not engine.state.pending_fills(), 10)
    engine.reconciler.request()
    await _until(lambda: not engine.reconciler.running, 10)
    await engine.idle()
    state = engine.state
    venue = ports.venue
    hashes = {f"crash:{i}": state.by_client.get(f"crash:{i}") for i in range(args.intents)}
    lookups = {}
    for order_hash in hashes.values():
        found = await venue.lookup(order_hash) if order_hash else None
        lookups[str(order_hash)] = found.status.value if found is not None else None
    trades = [
        {
            "trader_side": r.trader_side.value,
            "taker": r.taker_order_id,
            "makers": [leg.order_id for leg in r.maker_legs],
            "status": r.status.value,
        }
        for r in await ports.account.trades(0)
    ]
    summary = {
        "recovered": recovered,
        "funder": ports.signer.funder,  # type: ignore[attr-defined]
        "intents": hashes,
        "states": {h: state.orders[h].state.value for h in hashes.values() if h},
        "lookups": lookups,
        "venue_open": sorted(o.order_hash for o in await ports.account.open_orders()),
        "trades": trades,
        "collateral": state.collateral(),
        "positions": {t: state.position(t).expected for t in (yes, info["no"])},
        "reconciled": engine.reconciler.last_ok,
    }
    await engine.stop()  # before the sockets go down on purpose
    writer.close()
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sim", required=True, help="the simulator's JSON info line")
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--intents", type=int, default=6)
    parser.add_argument("--die-after-submit", type=int, default=0)
    args = parser.parse_args()
    log_dir = Path(args.log_dir)
    history = list(EventLogReader([log_dir], strict=False)) if log_dir.exists() else []
    summary = asyncio.run(run(args, history))
    sys.stdout.write("DONE " + json.dumps(summary) + "\n")
    sys.stdout.flush()
    # Skip interpreter teardown (open sockets close with the process).
    os._exit(0)


if __name__ == "__main__":
    main()
