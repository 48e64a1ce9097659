"""Benchmark 4: from a ``TruthFinal`` to the order's POST leaving the socket.

The local exchange (polyloly's simulator) runs in its own process
(:mod:`bench.exchange_proc`, at a lower CPU priority) with deep resting liquidity on every
market. In this process
the node's ``Core`` runs on the Polymarket adapter's ports, as the live node wires it:
``TruthFinal`` → temporal arbitrage → the execution engine's risk gate → order manager
(pre-signed pool, or the signer) → ``PolymarketVenue`` (the ``POST`` body made when the
order was signed) → ``ClobRest.post_order_body`` (L2 headers, then the adapter's keep-alive
``httpx.AsyncClient`` on the event loop) → loopback TCP to the exchange.

Each sample makes a fresh market's match live (a ``MATCH_STARTED`` report), then publishes
its ``TruthFinal`` and measures, with ``perf_counter_ns`` from just before ``publish``:

* ``in kernel`` — until ``publish`` returns: the intent, the risk decision, the order (taken
  from the pool, or signed), ``OrderSubmitted`` logged and the submit task spawned;
* ``on the wire`` — until the socket write of the POST's last bytes returns (the adapter's
  order transport, instrumented: :class:`TimingTransport`);
* ``acknowledged`` — until the venue's reply is back as ``OrderAccepted``.

Two modes: ``presigned`` — temporal arbitrage in pre-sign mode with the execution layer's
:class:`~polyloly.execution.presigner.Presigner` running (it signs both outcomes' standard
entries in a worker thread once the match is live; the sample waits until they are ready and
the presigner is idle), and ``on_demand`` — ``PolymarketSigner`` signs when the intent is
approved (EIP-712 in the kernel). Either way the signer hands the order to
``PolymarketVenue.prepare``, as :func:`~polyloly.adapters.polymarket.execution.
execution_ports` wires it.

The risk gate runs with ``require_reconciliation=False`` (a reconciliation pass would put
REST reads on the same connection); everything else is the production path.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.report import Section, Target, fmt_ns
from bench.stats import load_now, median, summarize
from bench.wiring import Bot, bench_params, build_bot
from polyloly.adapters.polymarket.config import PolymarketConfig, Secret, WalletConfig
from polyloly.adapters.polymarket.execution import PolymarketSigner, PolymarketVenue
from polyloly.adapters.polymarket.factory import build_clob_client, build_signer
from polyloly.adapters.polymarket.http import ORDER_KEEPALIVE_S, ClobRest
from polyloly.adapters.polymarket.transport import Http11Transport
from polyloly.bot.heap import freeze_heap
from polyloly.domain.events import Event, MatchEvent, MatchEventKind, TruthFinal
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.execution.engine import ExecutionPorts
from polyloly.execution.events import OrderAccepted, OrderRejected, OrderSubmitUnknown
from polyloly.execution.ports import SignedOrder, SubmitResult
from polyloly.execution.presign import PresignReady
from polyloly.execution.presigner import Presigner
from polyloly.execution.risk_gate import GateConfig
from polyloly.runtime.clock import LiveClock
from polyloly.strategies.temporal_arb import TemporalArbParams
from polyloly.testing.fakes import RecordingAlerts

__all__ = ["TimingTransport", "run"]

REPO = Path(__file__).resolve().parent.parent
BENCH_KEY = "0x" + "59" * 32
"""A throwaway key for the local simulator (the same one the adapter tests use)."""


# -- the socket probe --------------------------------------------------------------------------


class TimingTransport(Http11Transport):
    """The adapter's order transport, recording when each request's socket write returned.

    The request goes out in one ``transport.write``: on an idle connection asyncio sends it
    with one ``send`` call before returning (a loopback socket takes ~1.3 kB at once), so
    the stamp is the moment the POST's last bytes were handed to the kernel.
    """

    def __init__(self) -> None:
        super().__init__(keepalive_s=ORDER_KEEPALIVE_S)
        self.last_write_ns = 0

    def _send(self, conn: Any, data: bytes) -> None:
        super()._send(conn, data)
        self.last_write_ns = time.perf_counter_ns()


# -- the venue port, timed ---------------------------------------------------------------------


@dataclass(slots=True)
class TimedVenue:
    """``OrderVenue`` that records when each submit's last socket write returned."""

    inner: PolymarketVenue
    probe: TimingTransport
    wire_ns: dict[str, int] = field(default_factory=dict)

    async def submit(self, order: SignedOrder) -> SubmitResult:
        """Submit through the adapter; stamp the POST's last write."""
        try:
            return await self.inner.submit(order)
        finally:
            self.wire_ns[order.order_hash] = self.probe.last_write_ns

    async def lookup(self, order_hash: str) -> Any:
        """Delegate."""
        return await self.inner.lookup(order_hash)

    async def cancel(self, order_hashes: Sequence[str]) -> Any:
        """Delegate."""
        return await self.inner.cancel(order_hashes)


# -- the run -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Sample:
    kernel_ns: int
    wire_ns: int
    ack_ns: int
    status: str


def _mappings(markets: list[list[str]]) -> list[MarketMapping]:
    return [
        MarketMapping(
            match_id=f"wire-{m}",
            market_id=cond,
            question=f"LoL: alpha {m} vs beta {m} (BO3)",
            kind=MarketKind.MATCH,
            team_a=f"alpha {m}",
            team_b=f"beta {m}",
            token_a=ta,
            token_b=tb,
        )
        for m, (cond, ta, tb) in enumerate(markets)
    ]


def _started(m: int, now: int) -> MatchEvent:
    return MatchEvent(
        ts_event=now,
        ts_init=now,
        source="grid",
        match_id=f"wire-{m}",
        provider_match_id=f"g{m}",
        kind=MatchEventKind.MATCH_STARTED,
        team_a=f"alpha {m}",
        team_b=f"beta {m}",
        best_of=3,
        game="lol",
    )


def _final(m: int, now: int) -> TruthFinal:
    return TruthFinal(
        ts_event=now,
        ts_init=now,
        match_id=f"wire-{m}",
        winner=f"alpha {m}" if m % 2 == 0 else f"beta {m}",
        score_a=2,
        score_b=0,
        team_a=f"alpha {m}",
        team_b=f"beta {m}",
        confidence=9_500,
        sources=("grid", "pandascore"),
    )


async def _until(cond: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


@dataclass(slots=True)
class _Mode:
    bot: Bot
    venue: TimedVenue
    outcome: asyncio.Queue[Event]
    ready: set[str]
    presigner: Presigner | None


def _mode(
    mode: str,
    clock: LiveClock,
    rest: ClobRest,
    probe: TimingTransport,
    mappings: list[MarketMapping],
) -> _Mode:
    """The node's core with the adapter's ports; pre-signing on or off."""
    ticks: dict[str, Callable[[str], int]] = {}

    def tick_of(token: str) -> int:  # the core (built below) knows each token's tick
        return ticks["core"](token)

    venue = TimedVenue(PolymarketVenue(rest, clock), probe)
    signer = PolymarketSigner(BENCH_KEY, 137, tick_of=tick_of, prepare=venue.inner.prepare)
    ports = ExecutionPorts(
        signer=signer, venue=venue, account=venue.inner, alerts=RecordingAlerts()
    )
    temporal = TemporalArbParams(max_exposure_usdc=10**15, presign=mode == "presigned")
    params = bench_params(temporal=temporal, gate=GateConfig(require_reconciliation=False))
    bot = build_bot(mappings, clock, ports=ports, params=params, market_ws_url=None)
    ticks["core"] = bot.core.tick_of
    outcome: asyncio.Queue[Event] = asyncio.Queue()
    for cls in (OrderAccepted, OrderRejected, OrderSubmitUnknown):
        bot.kernel.subscribe(cls, outcome.put_nowait)
    ready: set[str] = set()
    bot.kernel.subscribe(PresignReady, lambda e: ready.add(e.order.spec.token_id))
    presigner = None
    if mode == "presigned":
        core = bot.core
        presigner = Presigner(
            bot.kernel,
            bot.engine.presign,
            bot.engine.signer,
            lambda: core.temporal.presign_targets() if core.temporal is not None else [],
            tick_of=core.tick_of,
        )
        presigner.attach()
        presigner.start()
    return _Mode(bot, venue, outcome, ready, presigner)


async def _sample(run: _Mode, m: int, tokens: tuple[str, str]) -> _Sample:
    bot = run.bot
    bot.kernel.publish(_started(m, bot.clock.now_ns()))  # the match goes live
    if run.presigner is not None:  # its entries get signed ahead, off the loop
        await _until(lambda: all(t in run.ready for t in tokens), f"pre-signed orders of {m}")
        await run.presigner.idle()
    await asyncio.sleep(0.005)  # the exchange settles the previous order
    pcn = time.perf_counter_ns
    final = _final(m, bot.clock.now_ns())
    t0 = pcn()
    bot.kernel.publish(final)
    t1 = pcn()
    event = await asyncio.wait_for(run.outcome.get(), timeout=10.0)
    t2 = pcn()
    order_hash = getattr(event, "order_hash", "")
    wire = run.venue.wire_ns.get(order_hash, 0)
    status = str(getattr(event, "status", type(event).__name__))
    return _Sample(t1 - t0, wire - t0 if wire else -1, t2 - t0, status)


async def _measure(cfg: RunConfig, url: str, markets: list[list[str]]) -> dict[str, Any]:
    probe = TimingTransport()
    clock = LiveClock()
    config = PolymarketConfig(clob_url=url, wallet=WalletConfig(private_key=Secret(BENCH_KEY)))
    rest = ClobRest(
        build_clob_client(config),
        build_signer(config, clock),
        clock,
        timeout_s=10.0,
        order_transport=probe,
    )
    try:
        out = await _measure_modes(cfg, rest, clock, probe, markets)
    finally:
        await rest.aclose()
    out["order_connection"] = {"connects": probe.connects, "requests": probe.requests}
    return out


async def _measure_modes(
    cfg: RunConfig,
    rest: ClobRest,
    clock: LiveClock,
    probe: TimingTransport,
    markets: list[list[str]],
) -> dict[str, Any]:
    await rest.derive_creds()
    mappings = _mappings(markets)
    snapshots = [await rest.book(t) for _, a, b in markets for t in (a, b)]
    results: dict[str, list[_Sample]] = {"presigned": [], "on_demand": []}
    stats: dict[str, Any] = {}
    per_mode = cfg.wire_warmup + cfg.wire_samples
    for index, mode in enumerate(("presigned", "on_demand")):
        run = _mode(mode, clock, rest, probe, mappings)
        for snap in snapshots:
            run.bot.kernel.publish(snap)
        freeze_heap()  # as the node does once it has started
        for k in range(per_mode):
            m = index * per_mode + k
            sample = await _sample(run, m, (mappings[m].token_a, mappings[m].token_b))
            if k >= cfg.wire_warmup:
                results[mode].append(sample)
        if run.presigner is not None:
            await run.presigner.stop()
        await run.bot.engine.idle()
        await run.bot.engine.stop()
        stats[mode] = run.bot.engine.presign.stats.as_dict()
    return {"samples": results, "presign": stats}


def _cpus() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def _pin_apart(exchange_pid: int, cpus: set[int]) -> str:
    """Keep the local exchange off the bot's cores, as a remote venue is.

    Sharing two cores, the scheduler now and then runs the exchange (woken by the POST)
    on the bot's core in the middle of the bot's socket write: measured, the submit task's
    write p99 went 1.43 ms -> 0.18 ms once the two were pinned apart.
    """
    if len(cpus) < 2:
        return "exchange and bot not pinned apart (one CPU)"
    last = max(cpus)
    os.sched_setaffinity(exchange_pid, {last})
    os.sched_setaffinity(0, cpus - {last})
    return f"exchange pinned to CPU {last}, bot to CPU(s) {sorted(cpus - {last})}"


def _start_exchange(markets: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(  # noqa: S603 - our own module, same interpreter
        [sys.executable, "-m", "bench.exchange_proc", "--markets", str(markets)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the exchange process did not start")
    return proc, json.loads(line)


def run(cfg: RunConfig) -> Section:
    """Start the exchange, measure both signing modes, stop the exchange."""
    s = Section("wire", "4. Result → order on the wire (local exchange over loopback)")
    needed = 2 * (cfg.wire_warmup + cfg.wire_samples)
    proc, info = _start_exchange(max(cfg.wire_markets, needed))
    own_cpus = _cpus()
    try:
        pinned = _pin_apart(proc.pid, own_cpus)
        out = asyncio.run(_measure(cfg, info["url"], info["markets"]))
    finally:
        if own_cpus:
            os.sched_setaffinity(0, own_cpus)
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    samples: dict[str, list[_Sample]] = out["samples"]
    t = s.table(
        "Latency from publish(TruthFinal)", "mode", "stage", "n", "p50", "p99", "p99.9", "max"
    )
    data: dict[str, Any] = {}
    for mode, rows in samples.items():
        for stage, values in (
            ("in kernel (decide + sign + submit task)", [r.kernel_ns for r in rows]),
            ("on the wire (POST's last write)", [r.wire_ns for r in rows if r.wire_ns > 0]),
            ("acknowledged (OrderAccepted)", [r.ack_ns for r in rows]),
        ):
            lat = summarize(values)
            t.add(
                mode,
                stage,
                lat.n,
                fmt_ns(lat.p50),
                fmt_ns(lat.p99),
                fmt_ns(lat.p999),
                fmt_ns(lat.max),
            )
            data[f"{mode}:{stage}"] = lat.as_dict()
        statuses: dict[str, int] = {}
        for r in rows:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        s.notes.append(f"{mode}: outcomes {statuses}")
    pre_wire = summarize(r.wire_ns for r in samples["presigned"] if r.wire_ns > 0)
    s.targets.append(
        Target("result → order on the wire, p99, pre-signed", pre_wire.p99, 1_000_000, "ns")
    )
    s.notes.append(
        f"pre-signed pool: {out['presign']['presigned']}; "
        f"{cfg.wire_warmup} warm-up samples per mode dropped; bot follows "
        f"{len(info['markets'])} markets ({2 * len(info['markets'])} tokens)"
    )
    gap = median(r.wire_ns for r in samples["on_demand"]) - median(
        r.wire_ns for r in samples["presigned"]
    )
    s.notes.append(f"signing on demand adds (median, on the wire): {fmt_ns(gap)}")
    conn = out["order_connection"]
    s.notes.append(
        f"order connection (keep-alive HTTP/1.1): {conn['connects']} connect(s) for "
        f"{conn['requests']} POSTs; exchange process at nice +10 (bench.exchange_proc); {pinned}"
    )
    s.notes.append(f"load average after the benchmark: {load_now()}")
    s.data = data
    return s
