"""Benchmarks 1 and 2: the node's hot path as it runs, and the NautilusTrader peer.

**The headline** is ``hot_path_logged``: every frame of the stream through the node as it runs
live — ``MarketWsClient.handle_frame`` (decode, parse to micros, the client's book set and
sync checks) → ``NodeKernel.publish`` with the event log on (``EventLogWriter``, flushed as
the node flushes it: every ``storage.flush_every`` inputs, at once after a decision) → the
node's ``Core`` (books, pair arbitrage, temporal arbitrage, the execution engine's ledger and
risk gate) — while the node is *busy* (:class:`Scenario`):

* **held positions**: before the stream, ``held`` markets' series end (provider reports:
  start, two map results, the result from two providers); temporal arbitrage enters each
  winner's token, the risk gate approves, the order manager submits it to the in-memory
  venue and the venue fills it (``TradeUpdate``), so the ledger holds a position on each of
  those tokens and the risk gate marks it on every book change of the token;
* **armed temporal arbitrage**: the stream's *decided* markets (``StreamSpec.decided_markets``:
  the YES token trades at 0.96 or more) get their result too, for team a: the signal arms and,
  the ask being over the entry cap (0.95), stays armed — every book change of the token
  re-plans the entry, as after a result the market has already priced in;
* **results during the stream**: ``results`` more series go live and end at points spread
  over the stream; each result's intent reaches the risk gate, its order the venue, its fill
  the ledger (one more held position).

The node reaches that state only through its own inputs: ``SessionStarted``,
``MarketDiscovered``, the venue's start-up reconciliation, ``TimerTick``, ``MatchEvent`` and
the venue's order and trade updates. Temporal arbitrage's exposure cap and the risk gate's
caps are lifted (``HOT_TEMPORAL``, ``HOT_RISK``) so that every result is traded. How many
intents, risk decisions, orders, fills and armed re-plans a run made is reported with it.

Variants (round-robin in every repeat, over the same frames after the subscription's initial
dump, which stateful variants apply untimed first):

* ``floor`` — :data:`bench.floor.FLOOR_DECODER` (typed structs, used fields): calibration;
* ``array_calibration`` — decode + tick-array books + pair check (the reference design);
* ``market_layer`` — the market-data client alone (decode, parse, books, sync checks; its
  events go nowhere): polyloly's layer doing NautilusTrader's bare work;
* ``hot_path`` — the busy node without the event log;
* ``hot_path_logged`` — the busy node with the event log: the headline;
* ``nautilus`` / ``nautilus_scope`` — :mod:`bench.nautilus_peer`'s bare and same-scope peers,
  in-process or in their own interpreter.
"""

from __future__ import annotations

import array
import asyncio
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.config import RunConfig
from bench.floor import FLOOR_DECODER, ArrayPipeline, decode_floor
from bench.nautilus_peer import SCOPE, run_peer
from bench.nautilus_peer import available as nautilus_in_process
from bench.report import Section, Target, fmt_ns, fmt_rate
from bench.stats import (
    Latency,
    Timer,
    load_now,
    median,
    median_latency,
    per_kind_latencies,
    quiet_gc,
    summarize,
    time_each,
    timer_overhead_ns,
)
from bench.stream import KIND_BOOK, KIND_NAMES, KIND_PRICE_CHANGE, Stream, StreamSpec, cached_stream
from bench.wiring import Bot, bench_params, build_bot, market_mappings, subscribe_all_tokens
from polyloly.adapters.polymarket.ws_market import MarketWsClient, decode_market_frame
from polyloly.bot.settings import StorageSettings
from polyloly.domain.events import Event, MatchEvent, MatchEventKind, TimerTick
from polyloly.domain.money import SCALE
from polyloly.domain.risk import RiskParams
from polyloly.execution.engine import ExecutionPorts
from polyloly.node.core import NodeKernel
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.kernel import EventSink
from polyloly.storage.event_log import EventLogWriter
from polyloly.strategies.temporal_arb import TemporalArbParams
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts

__all__ = ["HOT_RISK", "HOT_TEMPORAL", "HotRun", "Scenario", "make_hot_bot", "run"]

REPO = Path(__file__).resolve().parent.parent
_STAGE_FRAMES = 300_000
_BOOK_LEVELS = (45, 55)  # "a 50-level book snapshot": both sides together
_LIFTED: Final = 10**15

HOT_RISK = RiskParams(
    max_position_per_market=_LIFTED, max_total_exposure=_LIFTED, max_daily_loss=_LIFTED
)
"""The seed's per-order limits, with exposure and loss caps lifted: a long run keeps trading."""

HOT_TEMPORAL = TemporalArbParams(max_exposure_usdc=_LIFTED)
"""Temporal arbitrage at its defaults (cap 0.95, $50 an entry), its exposure cap lifted."""

K = MatchEventKind


# -- the busy node's scenario --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """What the node holds and watches while the stream runs (see the module docstring).

    ``held``: markets entered (and filled) before the stream; ``armed``: decided markets whose
    result arms temporal arbitrage before the stream; ``results``: ``(frame, market)`` — the
    market's series ends just before the stream's ``frame``-th frame after the initial dump
    (it went live half a gap earlier).
    """

    held: tuple[int, ...] = ()
    armed: tuple[int, ...] = ()
    results: tuple[tuple[int, int], ...] = ()

    @classmethod
    def for_stream(cls, stream: Stream, *, held: int, results: int) -> Scenario:
        """Held positions on the most active undecided markets, every decided market armed,
        ``results`` results spread evenly over the stream on other markets."""
        meta = stream.meta
        decided = meta.decided
        undecided = [m for m in meta.activity if m not in decided]
        chosen = tuple(undecided[:held])
        pool = undecided[held:] or undecided
        body = max(1, len(stream) - meta.initial)
        n = min(results, len(pool))
        late = tuple(((k + 1) * body // (n + 1), pool[k * len(pool) // n]) for k in range(n))
        return cls(held=chosen, armed=tuple(decided), results=late)


def series_events(
    market: int, *, winner_a: bool, ts_ns: int, seq0: int = 0
) -> tuple[list[MatchEvent], list[MatchEvent]]:
    """A Bo3 on ``market`` (``bench-<m>``) won 2-0: (going live, the result).

    Going live: ``MATCH_STARTED`` from one provider. The result: two map results and the
    series' end from that provider, then the end from a second one (so the truth engine
    confirms a FINAL with two sources, as temporal arbitrage's policy requires).
    """
    winner = f"alpha {market}" if winner_a else f"beta {market}"
    base: dict[str, Any] = {
        "match_id": f"bench-{market}",
        "provider_match_id": f"p{market}",
        "team_a": f"alpha {market}",
        "team_b": f"beta {market}",
        "best_of": 3,
        "game": "lol",
    }
    script: list[tuple[str, MatchEventKind, dict[str, Any]]] = [
        ("grid", K.MATCH_STARTED, {}),
        ("grid", K.GAME_ENDED, {"game_number": 1, "score_a": 1, "score_b": 0}),
        ("grid", K.GAME_ENDED, {"game_number": 2, "score_a": 2, "score_b": 0}),
        ("grid", K.MATCH_ENDED, {}),
        ("pandascore", K.MATCH_ENDED, {}),
    ]
    events = [
        MatchEvent(
            ts_event=ts_ns,
            ts_init=ts_ns,
            source=source,
            kind=kind,
            seq=seq0 + seq,
            winner=None if kind is K.MATCH_STARTED else winner,
            **base,
            **extra,
        )
        for seq, (source, kind, extra) in enumerate(script, start=1)
    ]
    return events[:1], events[1:]


# -- the bot -----------------------------------------------------------------------------------


def make_hot_bot(
    stream: Stream, sink: EventSink | None = None, *, venue: FakeVenue | None = None
) -> Bot:
    """The full node core on the stream's markets, every token subscribed (no socket)."""
    meta = stream.meta
    pairs = {
        c: (meta.tokens[2 * i], meta.tokens[2 * i + 1]) for i, c in enumerate(meta.condition_ids)
    }
    venue = venue or FakeVenue(pairs, collateral=10**7 * SCALE)
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts()
    )
    mappings = market_mappings(meta.condition_ids, meta.tokens)
    # The node's own log batching (``storage.flush_every``; decisions are flushed at once).
    flush_every = StorageSettings().flush_every
    params = bench_params(temporal=HOT_TEMPORAL, risk=HOT_RISK)
    bot = build_bot(
        mappings, LiveClock(), ports=ports, params=params, sink=sink, flush_every=flush_every
    )
    venue.publish = bot.kernel.publish
    venue.now_ns = bot.clock.now_ns
    assert bot.market_ws is not None
    subscribe_all_tokens(bot.market_ws, meta.tokens)
    bot.record_decisions()
    return bot


@dataclass(slots=True)
class _Counts:
    """What the node did in the timed part of a run."""

    results: int = 0
    intents: int = 0
    approved: int = 0
    refused: int = 0
    orders: int = 0
    fills: int = 0
    replans: int = 0
    replan_reasons: dict[str, int] = field(default_factory=dict)


class HotRun:
    """One bot on one stream: set up untimed, then run frames timed (see the module docstring).

    ``scenario=None`` leaves the node idle: nothing held, nothing armed, no results.
    """

    def __init__(
        self, stream: Stream, scenario: Scenario | None, *, sink: EventSink | None = None
    ) -> None:
        self.stream = stream
        self.scenario = scenario
        self.venue = FakeVenue(
            {
                c: (stream.meta.tokens[2 * i], stream.meta.tokens[2 * i + 1])
                for i, c in enumerate(stream.meta.condition_ids)
            },
            collateral=10**7 * SCALE,
        )
        self.bot = make_hot_bot(stream, sink, venue=self.venue)
        self.seq = 100
        self.before: dict[str, Any] = {}
        self.counts = _Counts()

    # -- set-up ----------------------------------------------------------------------------

    async def settle(self) -> None:
        """Let the venue calls run, and the venue fill every order sent (a FAK taker BUY)."""
        engine, venue = self.bot.engine, self.venue
        while True:
            await engine.idle()
            live = venue.live_orders()
            if not live:
                return
            for order in live:
                book = self.bot.core.books.get(order.token_id)
                ask = book.best_ask_price if book is not None else None
                venue.fill(
                    order.order_hash,
                    order.original_size - order.size_matched,
                    price=min(order.price, ask) if ask is not None else order.price,
                    taker=True,
                )

    def _result(self, market: int, *, winner_a: bool) -> tuple[list[Event], list[Event]]:
        self.seq += 10
        live, result = series_events(
            market, winner_a=winner_a, ts_ns=self.bot.clock.now_ns(), seq0=self.seq
        )
        return list(live), list(result)

    def _esports(self, inputs: list[tuple[int, bool, bool]]) -> None:
        """Publish provider reports now: ``(market, team a won, the result or going live)``."""
        publish, now = self.bot.kernel.publish, self.bot.clock.now_ns()
        for market, winner_a, result in inputs:
            live, ended = series_events(market, winner_a=winner_a, ts_ns=now, seq0=1_000)
            for event in ended if result else live:
                publish(event)

    async def setup(self) -> None:
        """Reconcile, start the day, apply the initial dump, seed positions and armed signals."""
        bot = self.bot
        publish = bot.kernel.publish
        bot.engine.start()  # the start-up reconciliation: the gate trades only after it
        await self.settle()
        now = bot.clock.now_ns()
        publish(TimerTick(ts_event=now, ts_init=now))  # the trading day starts (DayStarted)
        assert bot.market_ws is not None
        for frame in self.stream.frames[: self.stream.meta.initial]:
            bot.market_ws.handle_frame(frame)
        sc = self.scenario
        if sc is not None:
            for k, m in enumerate(sc.held):
                live, result = self._result(m, winner_a=k % 2 == 0)
                for e in (*live, *result):
                    publish(e)
                await self.settle()
            for m in sc.armed:
                live, result = self._result(m, winner_a=True)
                for e in (*live, *result):
                    publish(e)
            await self.settle()
        self.before = self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        core, engine = self.bot.core, self.bot.engine
        temporal = core.temporal
        return {
            "intents": len(self.bot.intents),
            "approved": sum(1 for d in self.bot.decisions if d.approved),
            "refused": sum(1 for d in self.bot.decisions if not d.approved),
            "orders": self.venue.submissions,
            "fills": len(self.venue.trade_log),
            "positions": len(engine.state.positions),
            "armed": len(temporal.armed()) if temporal is not None else 0,
            "skipped": dict(temporal.skipped) if temporal is not None else {},
        }

    # -- timed runs -------------------------------------------------------------------------

    def segments(
        self, n: int, start: int = 0
    ) -> list[tuple[list[bytes], list[tuple[int, bool, bool]]]]:
        """Frames ``start`` to ``n`` after the dump, cut where inputs from the esports side land.

        Each segment's inputs (``(market, winner is team a, the result or going live)``) are
        published after its frames.
        """
        body = self.stream.frames[self.stream.meta.initial :][:n]
        points: dict[int, list[tuple[int, bool, bool]]] = {}
        sc = self.scenario
        self.counts.results = 0
        if sc is not None:
            gap = max(2, len(body) // (2 * (len(sc.results) + 1)))
            for k, (at, market) in enumerate(sc.results):
                if not start <= at < n:
                    continue
                self.counts.results += 1
                points.setdefault(max(start, at - gap), []).append((market, k % 2 == 1, False))
                points.setdefault(at, []).append((market, k % 2 == 1, True))
        out: list[tuple[list[bytes], list[tuple[int, bool, bool]]]] = []
        cut = start
        for at in sorted(points):
            out.append((body[cut:at], points[at]))
            cut = at
        out.append((body[cut:], []))
        return out

    async def run(self, n: int, start: int = 0) -> float:
        """Time frames ``start`` to ``n`` after the dump (and the inputs landing among them)."""
        segments = self.segments(n, start)
        bot = self.bot
        assert bot.market_ws is not None
        handle, tasks = bot.market_ws.handle_frame, bot.engine.tasks
        with quiet_gc(), Timer() as t:
            for frames, inputs in segments:
                for frame in frames:
                    handle(frame)
                    if tasks.pending:
                        await self.settle()
                self._esports(inputs)
                if tasks.pending:
                    await self.settle()
        self._count()
        return t.elapsed

    async def run_each(self, n: int) -> array.array[int]:
        """Per-frame handling times of the first ``n`` frames after the dump (ns)."""
        bot = self.bot
        assert bot.market_ws is not None
        handle, tasks = bot.market_ws.handle_frame, bot.engine.tasks
        out = array.array("q")
        with quiet_gc():
            for frames, inputs in self.segments(n):
                samples = time_each(handle, frames)  # a frame's work never awaits
                out.extend(samples)
                if tasks.pending:
                    await self.settle()
                self._esports(inputs)
                if tasks.pending:
                    await self.settle()
        self._count()
        return out

    def _count(self) -> None:
        now, before = self._snapshot(), self.before
        c = self.counts
        c.intents = now["intents"] - before["intents"]
        c.approved = now["approved"] - before["approved"]
        c.refused = now["refused"] - before["refused"]
        c.orders = now["orders"] - before["orders"]
        c.fills = now["fills"] - before["fills"]
        reasons = {
            k: v - before["skipped"].get(k, 0)
            for k, v in now["skipped"].items()
            if v - before["skipped"].get(k, 0)
        }
        c.replans = sum(reasons.values())
        c.replan_reasons = reasons

    def checks(self) -> dict[str, Any]:
        """Consistency and activity of the run: books, errors, what the node decided."""
        bot, meta = self.bot, self.stream.meta
        books = bot.core.books
        mism = 0
        for i, token in enumerate(meta.tokens):
            b = books.get(token)
            top = (
                (0, 1_000_000)
                if b is None
                else (b.best_bid_price or 0, b.best_ask_price or 1_000_000)
            )
            if b is None or not b.in_sync or top != tuple(meta.final_tops[i]):
                mism += 1
        client = bot.market_ws
        now = self._snapshot()
        c = self.counts
        return {
            "top_mismatches": mism,
            "handler_errors": bot.kernel.handler_errors,
            "malformed": dict(client.malformed) if client else {},
            "invalidations": dict(client.invalidations) if client else {},
            "published": bot.kernel.published,
            "positions_start": self.before.get("positions", 0),
            "positions_end": now["positions"],
            "armed_start": self.before.get("armed", 0),
            "armed_end": now["armed"],
            "results": c.results,
            "intents": c.intents,
            "risk_decisions": c.approved + c.refused,
            "approved": c.approved,
            "refused": c.refused,
            "orders": c.orders,
            "fills": c.fills,
            "armed_replans": c.replans,
            "replan_outcomes": c.replan_reasons,
            "kill_switch_fired": bot.engine.gate.fired,
        }


def _hot(
    stream: Stream,
    scenario: Scenario | None,
    *,
    logged: bool,
    n: int | None = None,
    each: bool = False,
) -> tuple[float | array.array[int], dict[str, Any]]:
    """Set up a :class:`HotRun` and time it; return the timing and its checks."""
    n = len(stream) - stream.meta.initial if n is None else n

    async def main(hot: HotRun) -> tuple[float | array.array[int], dict[str, Any]]:
        await hot.setup()
        timing: float | array.array[int] = await (hot.run_each(n) if each else hot.run(n))
        await hot.bot.engine.stop()
        return timing, hot.checks()

    if not logged:
        return asyncio.run(main(HotRun(stream, scenario)))
    with tempfile.TemporaryDirectory(prefix="polyloly-bench-log-") as tmp:
        writer = EventLogWriter(tmp)
        try:
            return asyncio.run(main(HotRun(stream, scenario, sink=writer)))
        finally:
            writer.close()


# -- variants ----------------------------------------------------------------------------------


def _timed_loop(handle: Callable[[bytes], object], frames: Sequence[bytes]) -> float:
    with quiet_gc(), Timer() as t:
        for frame in frames:
            handle(frame)
    return t.elapsed


def _body(stream: Stream) -> list[bytes]:
    return stream.frames[stream.meta.initial :]


def _client(stream: Stream, publish: Callable[[Any], None]) -> MarketWsClient:
    c = MarketWsClient("ws://127.0.0.1:9/ws/market", publish, LiveClock())
    subscribe_all_tokens(c, stream.meta.tokens)
    return c


def _pass_floor(stream: Stream, _ctx: dict[str, Any]) -> dict[str, float]:
    body = _body(stream)
    with quiet_gc(), Timer() as t:
        decode_floor(body)
    return {"floor": t.elapsed}


def _pass_array(stream: Stream, ctx: dict[str, Any]) -> dict[str, float]:
    pipe = ArrayPipeline(stream.meta.tokens, [10_000] * stream.meta.markets)
    for frame in stream.frames[: stream.meta.initial]:
        pipe.handle(frame)
    elapsed = _timed_loop(pipe.handle, _body(stream))
    ctx["array_mismatches"] = sum(
        1
        for i, top in enumerate(stream.meta.final_tops)
        if (pipe.bid_micros(i), pipe.ask_micros(i)) != tuple(top)
    )
    return {"array_calibration": elapsed}


def _pass_market(stream: Stream, _ctx: dict[str, Any]) -> dict[str, float]:
    client = _client(stream, lambda _e: None)
    for frame in stream.frames[: stream.meta.initial]:
        client.handle_frame(frame)
    return {"market_layer": _timed_loop(client.handle_frame, _body(stream))}


def _pass_hot(stream: Stream, ctx: dict[str, Any]) -> dict[str, float]:
    elapsed, checks = _hot(stream, ctx["scenario"], logged=False)
    ctx["hot_checks"] = checks
    assert isinstance(elapsed, float)
    return {"hot_path": elapsed}


def _pass_logged(stream: Stream, ctx: dict[str, Any]) -> dict[str, float]:
    elapsed, checks = _hot(stream, ctx["scenario"], logged=True)
    ctx["logged_checks"] = checks
    assert isinstance(elapsed, float)
    return {"hot_path_logged": elapsed}


def _pass_nautilus(stream: Stream, ctx: dict[str, Any]) -> dict[str, float]:
    """One pass of both peers; returns seconds over the body (the peer's floor to ``ctx``)."""
    warm = stream.meta.initial
    if nautilus_in_process():
        res = run_peer(stream, 1, warm=warm)
    else:
        cmd = [ctx["nt_python"], "-m", "bench.nautilus_peer", "--stream", str(ctx["path"])]
        proc = subprocess.run(  # noqa: S603 - our own module in a configured interpreter
            [*cmd, "--limit", str(len(stream)), "--warm", str(warm)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"nautilus peer failed: {proc.stdout[-500:]} {proc.stderr[-2000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    ctx.setdefault("nt_floor", []).append(res["floor_ns_per_msg"][0])
    ctx["nt_info"] = {
        k: res[k]
        for k in (
            "nautilus_trader",
            "python",
            "msgspec",
            "top_mismatches",
            "signals",
            "scope_top_mismatches",
            "scope_sync_mismatches",
            "scope_signals",
        )
        if k in res
    }
    n = len(stream) - warm
    return {
        "nautilus": float(res["peer_ns_per_msg"][0]) * n / 1e9,
        "nautilus_scope": float(res["scope_ns_per_msg"][0]) * n / 1e9,
    }


# -- stage breakdown ---------------------------------------------------------------------------


def _stages(stream: Stream, scenario: Scenario) -> dict[str, float]:
    """Cumulative cost of each stage (seconds over the stage frames after the dump)."""
    n = min(_STAGE_FRAMES, len(stream) - stream.meta.initial)
    dump, body = stream.frames[: stream.meta.initial], _body(stream)[:n]
    out: dict[str, float] = {}
    out["project decode (decode_market_frame)"] = _timed_loop(decode_market_frame, body)

    def warmed(publish: Callable[[Any], None]) -> MarketWsClient:
        client = _client(stream, publish)
        for frame in dump:
            client.handle_frame(frame)
        return client

    out["+ parse, client books, sync checks (= market_layer)"] = _timed_loop(
        warmed(lambda _e: None).handle_frame, body
    )
    kernel = NodeKernel(LiveClock())
    out["+ kernel publish (no handlers)"] = _timed_loop(warmed(kernel.publish).handle_frame, body)
    for label, sc, logged in (
        ("+ node core, idle: strategies, risk gate (nothing held or armed)", None, False),
        ("+ held positions, armed temporal arbitrage, results (= hot_path)", scenario, False),
        ("+ event log (= hot_path_logged)", scenario, True),
    ):
        elapsed, _ = _hot(stream, sc, logged=logged, n=n)
        assert isinstance(elapsed, float)
        out[label] = elapsed
    return out


# -- latency -----------------------------------------------------------------------------------


def _book_levels(frames: Sequence[bytes], kinds: Sequence[int]) -> array.array[int]:
    levels = array.array("I", bytes(4 * len(frames)))
    for i, (frame, kind) in enumerate(zip(frames, kinds, strict=True)):
        if kind == KIND_BOOK:
            levels[i] = frame.count(b'"price"')
    return levels


@dataclass(slots=True)
class _LatencyRun:
    floor: dict[str, Latency]
    logged: dict[str, Latency]
    hot: dict[str, Latency]
    logged_book50: Latency


def _latency(stream: Stream, scenario: Scenario) -> _LatencyRun:
    body = _body(stream)
    kinds = stream.kinds[stream.meta.initial :]
    with quiet_gc():
        floor = time_each(FLOOR_DECODER.decode, body)
    logged, _ = _hot(stream, scenario, logged=True, each=True)
    hot, _ = _hot(stream, scenario, logged=False, each=True)
    assert isinstance(logged, array.array)
    assert isinstance(hot, array.array)
    levels = _book_levels(body, kinds)
    lo, hi = _BOOK_LEVELS
    sized = summarize(v for v, n in zip(logged, levels, strict=True) if lo <= n <= hi)
    return _LatencyRun(
        per_kind_latencies(floor, kinds, KIND_NAMES),
        per_kind_latencies(logged, kinds, KIND_NAMES),
        per_kind_latencies(hot, kinds, KIND_NAMES),
        sized,
    )


# -- the benchmark -----------------------------------------------------------------------------


def hot_spec(cfg: RunConfig) -> StreamSpec:
    """The hot path's stream: ``cfg.markets`` markets, ``cfg.hot_decided`` of them decided."""
    return StreamSpec(
        markets=cfg.markets,
        messages=cfg.messages,
        seed=cfg.seed,
        decided_markets=cfg.hot_decided,
    )


def run(cfg: RunConfig, *, nautilus: bool) -> tuple[Section, Section]:
    """Run benchmark 1 (and 2 when ``nautilus``); return both sections."""
    stream, path = cached_stream(hot_spec(cfg))
    n = len(stream) - stream.meta.initial
    scenario = Scenario.for_stream(stream, held=cfg.hot_held, results=cfg.hot_results)
    ctx: dict[str, Any] = {"path": path, "nt_python": cfg.nt_python or "", "scenario": scenario}
    passes: list[Callable[[Stream, dict[str, Any]], dict[str, float]]] = [
        _pass_floor,
        _pass_array,
        _pass_market,
        _pass_hot,
        _pass_logged,
    ]
    nt_section = Section("nautilus", "2. NautilusTrader peer (same stream, same run)")
    if nautilus:
        if nautilus_in_process() or cfg.nt_python:
            passes.append(_pass_nautilus)
        else:
            nt_section.skipped = (
                "nautilus_trader is not installed (pip install nautilus-trader==1.221.0 into "
                "a separate venv and pass --nt-python, or set POLYLOLY_BENCH_NT_PYTHON)"
            )
    runs: dict[str, list[float]] = {}
    stage_runs: dict[str, list[float]] = {}
    lat_runs: list[_LatencyRun] = []
    stage_n = min(n, _STAGE_FRAMES)
    for _ in range(cfg.repeats):
        for fn in passes:
            for name, secs in fn(stream, ctx).items():
                runs.setdefault(name, []).append(secs / n * 1e9)
        for stage, secs in _stages(stream, scenario).items():
            stage_runs.setdefault(stage, []).append(secs / stage_n * 1e9)
        lat_runs.append(_latency(stream, scenario))
    section = Section("hotpath", "1. The node's hot path as it runs (event log on)")
    _fill_hot(
        section,
        stream=stream,
        scenario=scenario,
        runs=runs,
        stage_runs=stage_runs,
        lat_runs=lat_runs,
        ctx=ctx,
    )
    if "nautilus" in runs:
        _fill_nautilus(nt_section, runs, ctx)
    return section, nt_section


def _ratio(runs: dict[str, list[float]], a: str, b: str) -> float:
    """Median over repeats of ``a / b`` measured in the same repeat."""
    return median(x / y for x, y in zip(runs[a], runs[b], strict=True))


def _share(stream: Stream, markets: set[int]) -> float:
    body = stream.market_of[stream.meta.initial :]
    return sum(1 for m in body if m in markets) / max(1, len(body))


def _fill_hot(
    s: Section,
    *,
    stream: Stream,
    scenario: Scenario,
    runs: dict[str, list[float]],
    stage_runs: dict[str, list[float]],
    lat_runs: list[_LatencyRun],
    ctx: dict[str, Any],
) -> None:
    meta = stream.meta
    body = len(stream) - meta.initial
    s.notes.append(
        f"stream: {len(stream):,} frames ({meta.initial} of them the initial dump, applied "
        f"untimed; {body:,} timed), {meta.markets} markets ({len(meta.tokens)} tokens; "
        f"{len(meta.decided)} decided, YES ask ≥ 0.96), "
        f"{meta.bytes_total / len(stream):.0f} B/frame, counts {meta.counts}, "
        f"{meta.price_change_entries:,} level changes, seed {meta.spec['seed']}, generator v3"
    )
    checks = ctx.get("logged_checks") or {}
    held_markets = set(scenario.held) | {m for _, m in scenario.results}
    s.notes.append(
        "the busy node (hot_path_logged, last repeat): positions held "
        f"{checks.get('positions_start')} "
        f"at the start → {checks.get('positions_end')} at the end; temporal arbitrage armed on "
        f"{checks.get('armed_start')} markets ({checks.get('armed_end')} at the end); "
        f"{checks.get('results')} results during the stream → {checks.get('intents')} intents, "
        f"{checks.get('risk_decisions')} risk decisions ({checks.get('approved')} approved), "
        f"{checks.get('orders')} orders, {checks.get('fills')} fills; "
        f"{checks.get('armed_replans'):,} armed re-plans {checks.get('replan_outcomes')}; "
        f"kill switch fired {checks.get('kill_switch_fired')}×; "
        f"{_share(stream, held_markets):.1%} of the frames are on a market with a position "
        f"(by the end), {_share(stream, set(scenario.armed)):.1%} on an armed one"
    )
    t = s.table(
        "Throughput (median of repeats)", "variant", "ns/frame", "frames/s", "× floor", "runs ns"
    )
    order = ["hot_path_logged", "hot_path", "market_layer", "array_calibration", "floor"]
    labels = {
        "hot_path_logged": "**hot_path_logged** (headline: busy node, event log on)",
        "hot_path": "hot_path (busy node, no event log)",
        "market_layer": "market_layer (client: decode, books, sync checks)",
        "array_calibration": "array_calibration (calibration)",
        "floor": "floor (decode only; calibration)",
    }
    for name in order:
        if name not in runs:
            continue
        vals = runs[name]
        med = median(vals)
        t.add(
            labels[name],
            f"{med:,.0f}",
            fmt_rate(1e9 / med),
            f"{_ratio(runs, name, 'floor'):.2f}",
            " ".join(f"{v:,.0f}" for v in vals),
        )
    staged = min(body, _STAGE_FRAMES)
    st = s.table(
        f"Stage costs, cumulative (first {staged:,} frames after the dump)",
        "stage",
        "ns/frame",
        "added",
    )
    prev = 0.0
    for stage, vals in stage_runs.items():
        med = median(vals)
        st.add(stage, f"{med:,.0f}", f"+{med - prev:,.0f}")
        prev = med
    floor_lat = median_latency_map([r.floor for r in lat_runs])
    logged_lat = median_latency_map([r.logged for r in lat_runs])
    hot_lat = median_latency_map([r.hot for r in lat_runs])
    sized = median_latency([r.logged_book50 for r in lat_runs])
    lt = s.table(
        "Per-frame latency (median of repeats)", "path", "type", "n", "p50", "p99", "p99.9", "max"
    )
    for label, table in (
        ("hot_path_logged", logged_lat),
        ("hot_path", hot_lat),
        ("floor", floor_lat),
    ):
        for kind, lat in table.items():
            lt.add(
                label,
                kind,
                f"{lat.n:,}",
                fmt_ns(lat.p50),
                fmt_ns(lat.p99),
                fmt_ns(lat.p999),
                fmt_ns(lat.max),
            )
    lo, hi = _BOOK_LEVELS
    lt.add(
        "hot_path_logged",
        f"book, {lo}–{hi} levels",
        f"{sized.n:,}",
        fmt_ns(sized.p50),
        fmt_ns(sized.p99),
        fmt_ns(sized.p999),
        fmt_ns(sized.max),
    )
    logged = median(runs["hot_path_logged"])
    pc = logged_lat.get(KIND_NAMES[KIND_PRICE_CHANGE])
    s.targets += [
        Target(
            "logged frame, held positions + armed temporal arbitrage: p99 per price_change",
            pc.p99 if pc else float("nan"),
            50_000,
            "ns",
        ),
        Target(
            "logged frame, held positions + armed temporal arbitrage: capacity on one core",
            1e9 / logged,
            20_000,
            "frames/s",
            higher_is_better=True,
        ),
    ]
    s.notes.append(
        "calibration (not targets): hot_path_logged is "
        f"{_ratio(runs, 'hot_path_logged', 'floor'):.1f}× "
        f"the decode floor; the event log adds {logged - median(runs['hot_path']):,.0f} ns/frame "
        f"(hot_path_logged − hot_path, medians)"
    )
    s.notes.append(f"timer overhead (back-to-back perf_counter_ns): {timer_overhead_ns():.0f} ns")
    s.notes.append(f"hot_path checks (last repeat): {ctx.get('hot_checks')}")
    s.notes.append(f"hot_path_logged checks (last repeat): {checks}")
    s.notes.append(f"array calibration top mismatches: {ctx.get('array_mismatches')}")
    s.notes.append(f"load average after the benchmark: {load_now()}")
    s.data = {
        "runs_ns_per_msg": runs,
        "stages_ns_per_msg": stage_runs,
        "latency_floor": {k: v.as_dict() for k, v in floor_lat.items()},
        "latency_logged": {k: v.as_dict() for k, v in logged_lat.items()},
        "latency_hot": {k: v.as_dict() for k, v in hot_lat.items()},
        "latency_book_50": sized.as_dict(),
        "checks": ctx.get("hot_checks"),
        "checks_logged": checks,
        "scenario": {
            "held": list(scenario.held),
            "armed": list(scenario.armed),
            "results": [list(r) for r in scenario.results],
        },
        "stream": {
            "frames": len(stream),
            "timed": body,
            "markets": meta.markets,
            "counts": meta.counts,
            "decided": meta.decided,
        },
    }


def median_latency_map(runs: list[dict[str, Latency]]) -> dict[str, Latency]:
    """Per-key median of per-repeat latency tables."""
    return {k: median_latency([r[k] for r in runs if k in r]) for k in runs[0]}


def _fill_nautilus(s: Section, runs: dict[str, list[float]], ctx: dict[str, Any]) -> None:
    nt_floor = median(ctx.get("nt_floor", [float("nan")]))

    def cells(name: str) -> tuple[str, str]:
        med = median(runs[name])
        return f"{med:,.0f}", fmt_rate(1e9 / med)

    bare = _ratio(runs, "nautilus", "market_layer")
    scope = _ratio(runs, "nautilus_scope", "hot_path_logged")
    t = s.table(
        "Bare and same-scope, side by side (same stream, same repeats)",
        "comparison",
        "polyloly",
        "ns/frame",
        "NautilusTrader 1.221 (Python API)",
        "ns/frame",
        "polyloly faster by",
    )
    t.add(
        "bare: decode + books (+ sync checks / + pair check)",
        "market_layer",
        cells("market_layer")[0],
        "nautilus: decode, deltas, OrderBook, pair check",
        cells("nautilus")[0],
        f"{bare:.2f}×",
    )
    t.add(
        "same scope: books + sync checks + events + handlers",
        "**hot_path_logged** (+ log, risk gate, positions, armed)",
        cells("hot_path_logged")[0],
        "nautilus_scope: adapter path → DataEngine → MessageBus → Actor",
        cells("nautilus_scope")[0],
        f"**{scope:.2f}×**",
    )
    r = s.table("Runs (ns/frame)", "variant", "median", "frames/s", "runs")
    for name in ("nautilus", "nautilus_scope", "market_layer", "hot_path_logged", "hot_path"):
        med, rate = cells(name)
        r.add(name, med, rate, " ".join(f"{v:,.0f}" for v in runs[name]))
    s.targets.append(
        Target(
            "same-scope throughput: hot_path_logged / NautilusTrader's Python API",
            scope,
            2.0,
            "×",
            higher_is_better=True,
        )
    )
    s.notes.append(
        f"bare comparison (recorded, not a target): polyloly's market-data layer is {bare:.2f}× "
        "NautilusTrader's bare book API's throughput"
    )
    s.notes.append(f"nautilus_scope: {SCOPE}")
    s.notes.append(
        f"peer: {ctx.get('nt_info')}; decode floor in the peer's interpreter {nt_floor:,.0f} ns/msg"
    )
    s.notes.append(
        "in-process"
        if nautilus_in_process()
        else f"peer interpreter: {ctx.get('nt_python')} (subprocess per repeat, both peers)"
    )
    s.data = {
        "runs_ns_per_msg": runs["nautilus"],
        "scope_runs_ns_per_msg": runs["nautilus_scope"],
        "bare_speedup": bare,
        "scope_speedup": scope,
        "peer_floor": ctx.get("nt_floor"),
        "info": ctx.get("nt_info"),
    }


def main_stream_path(cfg: RunConfig) -> Path:
    """The cached stream file of a configuration (generated if missing)."""
    return cached_stream(hot_spec(cfg))[1]


if __name__ == "__main__":  # pragma: no cover - use python -m bench run --only hotpath
    sys.exit("run: python -m bench run --only hotpath")
