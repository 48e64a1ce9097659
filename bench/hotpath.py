"""Benchmarks 1 and 2: the decode floor against the real hot path, and the NautilusTrader peer.

Variants run round-robin in every repeat (so machine noise hits them alike) over the same
frames; the report gives the median ns/msg, msgs/s, ratios taken within each repeat, the
cost of each stage of the path, and per-frame latency percentiles by message type:

* ``floor`` — :data:`bench.floor.FLOOR_DECODER` over every frame (typed structs, used fields);
* ``array_calibration`` — decode + tick-array books + pair check (the reference design);
* ``hot_path`` — the real path: ``MarketWsClient.handle_frame`` (decode, parse to micros,
  the client's book set and sync checks) → ``NodeKernel.publish`` → the node's ``Core``
  (books, pair arbitrage, temporal arbitrage, the execution engine's risk gate);
* ``hot_path_logged`` — the same with the event log (``EventLogWriter``, flushed as the node
  flushes it: every ``storage.flush_every`` inputs, at once after a decision);
* ``nautilus`` — :mod:`bench.nautilus_peer`, in-process or in its own interpreter.
"""

from __future__ import annotations

import array
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.floor import ArrayPipeline, decode_floor
from bench.nautilus_peer import available as nautilus_in_process
from bench.nautilus_peer import run_peer
from bench.report import Section, Target, fmt_ns, fmt_rate
from bench.stats import (
    Latency,
    Timer,
    load_now,
    median,
    median_latency,
    per_kind_latencies,
    quiet_gc,
    time_each,
    timer_overhead_ns,
)
from bench.stream import KIND_BOOK, KIND_NAMES, KIND_PRICE_CHANGE, Stream, StreamSpec, cached_stream
from bench.wiring import Bot, build_bot, market_mappings, subscribe_all_tokens
from polyloly.adapters.polymarket.ws_market import MarketWsClient, decode_market_frame
from polyloly.bot.settings import StorageSettings
from polyloly.execution.engine import ExecutionPorts
from polyloly.node.core import NodeKernel
from polyloly.runtime.clock import LiveClock
from polyloly.storage.event_log import EventLogWriter
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts

__all__ = ["make_hot_bot", "run"]

REPO = Path(__file__).resolve().parent.parent
_STAGE_FRAMES = 300_000
_BOOK_LEVELS = (45, 55)  # "a 50-level book snapshot": both sides together


def make_hot_bot(stream: Stream, sink: EventLogWriter | None = None) -> Bot:
    """The full bot on the stream's markets, every token subscribed (no socket)."""
    meta = stream.meta
    pairs = {
        c: (meta.tokens[2 * i], meta.tokens[2 * i + 1]) for i, c in enumerate(meta.condition_ids)
    }
    # The venue is reached only if an intent is approved: never, on a consistent stream.
    venue = FakeVenue(pairs)
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts()
    )
    mappings = market_mappings(meta.condition_ids, meta.tokens)
    # The node's own log batching (``storage.flush_every``; decisions are flushed at once).
    flush_every = StorageSettings().flush_every
    bot = build_bot(mappings, LiveClock(), ports=ports, sink=sink, flush_every=flush_every)
    assert bot.market_ws is not None
    subscribe_all_tokens(bot.market_ws, meta.tokens)
    return bot


def _timed_loop(handle: Callable[[bytes], object], frames: list[bytes]) -> float:
    with quiet_gc(), Timer() as t:
        for frame in frames:
            handle(frame)
    return t.elapsed


def _pass_floor(stream: Stream, _ctx: dict[str, Any]) -> float:
    with quiet_gc(), Timer() as t:
        decode_floor(stream.frames)
    return t.elapsed


def _pass_array(stream: Stream, ctx: dict[str, Any]) -> float:
    pipe = ArrayPipeline(stream.meta.tokens, [10_000] * stream.meta.markets)
    elapsed = _timed_loop(pipe.handle, stream.frames)
    ctx["array_mismatches"] = sum(
        1
        for i, top in enumerate(stream.meta.final_tops)
        if (pipe.bid_micros(i), pipe.ask_micros(i)) != tuple(top)
    )
    return elapsed


def _check_bot(bot: Bot, stream: Stream) -> dict[str, Any]:
    books = bot.core.books
    mism = 0
    for i, token in enumerate(stream.meta.tokens):
        b = books.get(token)
        top = (
            (0, 1_000_000) if b is None else (b.best_bid_price or 0, b.best_ask_price or 1_000_000)
        )
        if b is None or not b.in_sync or top != tuple(stream.meta.final_tops[i]):
            mism += 1
    client = bot.market_ws
    return {
        "top_mismatches": mism,
        "handler_errors": bot.kernel.handler_errors,
        "malformed": dict(client.malformed) if client else {},
        "invalidations": dict(client.invalidations) if client else {},
        "published": bot.kernel.published,
        "intents": len(bot.intents),
    }


def _pass_hot(stream: Stream, ctx: dict[str, Any]) -> float:
    bot = make_hot_bot(stream)
    bot.record_decisions()
    assert bot.market_ws is not None
    elapsed = _timed_loop(bot.market_ws.handle_frame, stream.frames)
    ctx["hot_checks"] = _check_bot(bot, stream)
    return elapsed


def _pass_logged(stream: Stream, _ctx: dict[str, Any]) -> float:
    with tempfile.TemporaryDirectory(prefix="polyloly-bench-log-") as tmp:
        writer = EventLogWriter(tmp)
        bot = make_hot_bot(stream, sink=writer)
        assert bot.market_ws is not None
        elapsed = _timed_loop(bot.market_ws.handle_frame, stream.frames)
        writer.close()
    return elapsed


def _pass_nautilus(stream: Stream, ctx: dict[str, Any]) -> float:
    """One peer pass; returns seconds (the peer's own floor goes to ``ctx``)."""
    if nautilus_in_process():
        res = run_peer(stream, 1)
    else:
        cmd = [ctx["nt_python"], "-m", "bench.nautilus_peer", "--stream", str(ctx["path"])]
        proc = subprocess.run(  # noqa: S603 - our own module in a configured interpreter
            [*cmd, "--limit", str(len(stream))],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"nautilus peer failed: {proc.stdout[-500:]} {proc.stderr[-2000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    ctx.setdefault("nt_floor", []).append(res["floor_ns_per_msg"][0])
    ctx["nt_info"] = {k: res[k] for k in ("nautilus_trader", "python", "top_mismatches", "signals")}
    return float(res["peer_ns_per_msg"][0]) * len(stream) / 1e9


# -- stage breakdown ---------------------------------------------------------------------------


def _stages(stream: Stream) -> dict[str, float]:
    """Cumulative cost of each stage (seconds over the stage frames)."""
    frames = stream.frames
    out: dict[str, float] = {}
    out["project decode (decode_market_frame)"] = _timed_loop(decode_market_frame, frames)

    def client(publish: Callable[[Any], None]) -> MarketWsClient:
        c = MarketWsClient("ws://127.0.0.1:9/ws/market", publish, LiveClock())
        subscribe_all_tokens(c, stream.meta.tokens)
        return c

    out["+ parse, client books, sync checks"] = _timed_loop(
        client(lambda _e: None).handle_frame, frames
    )
    kernel = NodeKernel(LiveClock())
    out["+ kernel publish (no handlers)"] = _timed_loop(client(kernel.publish).handle_frame, frames)
    full = make_hot_bot(stream)
    assert full.market_ws is not None
    out["+ node core: strategies, risk gate on the shared books (= hot path)"] = _timed_loop(
        full.market_ws.handle_frame, frames
    )
    return out


# -- latency -----------------------------------------------------------------------------------


def _book_levels(stream: Stream) -> array.array[int]:
    levels = array.array("I", bytes(4 * len(stream)))
    for i, (frame, kind) in enumerate(zip(stream.frames, stream.kinds, strict=True)):
        if kind == KIND_BOOK:
            levels[i] = frame.count(b'"price"')
    return levels


def _latency(stream: Stream) -> tuple[dict[str, Latency], dict[str, Latency], Latency]:
    from bench.floor import FLOOR_DECODER

    with quiet_gc():
        floor = time_each(FLOOR_DECODER.decode, stream.frames)
    bot = make_hot_bot(stream)
    assert bot.market_ws is not None
    with quiet_gc():
        hot = time_each(bot.market_ws.handle_frame, stream.frames)
    levels = _book_levels(stream)
    lo, hi = _BOOK_LEVELS
    from bench.stats import summarize

    sized = summarize(v for v, n in zip(hot, levels, strict=True) if lo <= n <= hi)
    return (
        per_kind_latencies(floor, stream.kinds, KIND_NAMES),
        per_kind_latencies(hot, stream.kinds, KIND_NAMES),
        sized,
    )


# -- the benchmark -----------------------------------------------------------------------------


def run(cfg: RunConfig, *, nautilus: bool) -> tuple[Section, Section]:
    """Run benchmark 1 (and 2 when ``nautilus``); return both sections."""
    spec = StreamSpec(markets=cfg.markets, messages=cfg.messages, seed=cfg.seed)
    stream, path = cached_stream(spec)
    n = len(stream)
    ctx: dict[str, Any] = {"path": path, "nt_python": cfg.nt_python or ""}
    passes: list[tuple[str, Callable[[Stream, dict[str, Any]], float]]] = [
        ("floor", _pass_floor),
        ("array_calibration", _pass_array),
        ("hot_path", _pass_hot),
        ("hot_path_logged", _pass_logged),
    ]
    nt_section = Section("nautilus", "2. NautilusTrader peer (same stream, same run)")
    if nautilus:
        if nautilus_in_process() or cfg.nt_python:
            passes.append(("nautilus", _pass_nautilus))
        else:
            nt_section.skipped = (
                "nautilus_trader is not installed (pip install nautilus-trader==1.221.0 into "
                "a separate venv and pass --nt-python, or set POLYLOLY_BENCH_NT_PYTHON)"
            )
    runs: dict[str, list[float]] = {name: [] for name, _ in passes}
    stage_runs: dict[str, list[float]] = {}
    stage_stream = stream.head(min(n, _STAGE_FRAMES))
    lat_runs: list[tuple[dict[str, Latency], dict[str, Latency], Latency]] = []
    for _ in range(cfg.repeats):
        for name, fn in passes:
            runs[name].append(fn(stream, ctx) / n * 1e9)
        for stage, secs in _stages(stage_stream).items():
            stage_runs.setdefault(stage, []).append(secs / len(stage_stream) * 1e9)
        lat_runs.append(_latency(stream))
    section = Section("hotpath", "1. Decode floor vs the real hot path")
    _fill_hot(section, stream=stream, runs=runs, stage_runs=stage_runs, lat_runs=lat_runs, ctx=ctx)
    if "nautilus" in runs:
        _fill_nautilus(nt_section, runs, ctx)
    return section, nt_section


def _ratio(runs: dict[str, list[float]], a: str, b: str) -> float:
    """Median over repeats of ``a / b`` measured in the same repeat."""
    return median(x / y for x, y in zip(runs[a], runs[b], strict=True))


def _fill_hot(
    s: Section,
    *,
    stream: Stream,
    runs: dict[str, list[float]],
    stage_runs: dict[str, list[float]],
    lat_runs: list[tuple[dict[str, Latency], dict[str, Latency], Latency]],
    ctx: dict[str, Any],
) -> None:
    meta = stream.meta
    s.notes.append(
        f"stream: {len(stream):,} frames, {meta.markets} markets ({len(meta.tokens)} tokens), "
        f"{meta.bytes_total / len(stream):.0f} B/frame, counts {meta.counts}, "
        f"{meta.price_change_entries:,} level changes, seed {meta.spec['seed']}"
    )
    t = s.table(
        "Throughput (median of repeats)", "variant", "ns/msg", "msgs/s", "× floor", "runs ns/msg"
    )
    for name, vals in runs.items():
        if name == "nautilus":
            continue
        med = median(vals)
        t.add(
            name,
            f"{med:,.0f}",
            fmt_rate(1e9 / med),
            f"{_ratio(runs, name, 'floor'):.2f}",
            " ".join(f"{v:,.0f}" for v in vals),
        )
    staged = min(len(stream), _STAGE_FRAMES)
    st = s.table(f"Stage costs, cumulative (first {staged:,} frames)", "stage", "ns/msg", "added")
    prev = 0.0
    for stage, vals in stage_runs.items():
        med = median(vals)
        st.add(stage, f"{med:,.0f}", f"+{med - prev:,.0f}")
        prev = med
    floor_lat = median_latency_map([r[0] for r in lat_runs])
    hot_lat = median_latency_map([r[1] for r in lat_runs])
    sized = median_latency([r[2] for r in lat_runs])
    lt = s.table(
        "Per-frame latency (median of repeats)", "path", "type", "n", "p50", "p99", "p99.9", "max"
    )
    for label, table in (("floor", floor_lat), ("hot_path", hot_lat)):
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
        "hot_path",
        f"book, {lo}–{hi} levels",
        f"{sized.n:,}",
        fmt_ns(sized.p50),
        fmt_ns(sized.p99),
        fmt_ns(sized.p999),
        fmt_ns(sized.max),
    )
    hot = median(runs["hot_path"])
    pc = hot_lat.get(KIND_NAMES[KIND_PRICE_CHANGE])
    s.targets += [
        Target("hot path / decode floor", _ratio(runs, "hot_path", "floor"), 2.0, "×"),
        Target("hot path throughput", 1e9 / hot, 1_000_000, "msgs/s", higher_is_better=True),
        Target("p99 per price_change", pc.p99 if pc else float("nan"), 2_000, "ns"),
        Target(f"p99 per ~50-level book ({lo}–{hi} levels)", sized.p99, 25_000, "ns"),
    ]
    s.notes.append(f"timer overhead (back-to-back perf_counter_ns): {timer_overhead_ns():.0f} ns")
    s.notes.append(f"hot path checks (last repeat): {ctx.get('hot_checks')}")
    s.notes.append(f"array calibration top mismatches: {ctx.get('array_mismatches')}")
    s.notes.append(f"load average after the benchmark: {load_now()}")
    s.data = {
        "runs_ns_per_msg": runs,
        "stages_ns_per_msg": stage_runs,
        "latency_floor": {k: v.as_dict() for k, v in floor_lat.items()},
        "latency_hot": {k: v.as_dict() for k, v in hot_lat.items()},
        "latency_book_50": sized.as_dict(),
        "checks": ctx.get("hot_checks"),
        "stream": {"frames": len(stream), "markets": meta.markets, "counts": meta.counts},
    }


def median_latency_map(runs: list[dict[str, Latency]]) -> dict[str, Latency]:
    """Per-key median of per-repeat latency tables."""
    return {k: median_latency([r[k] for r in runs if k in r]) for k in runs[0]}


def _fill_nautilus(s: Section, runs: dict[str, list[float]], ctx: dict[str, Any]) -> None:
    nt, hot = median(runs["nautilus"]), median(runs["hot_path"])
    speedup = median(a / b for a, b in zip(runs["nautilus"], runs["hot_path"], strict=True))
    nt_floor = median(ctx.get("nt_floor", [float("nan")]))
    t = s.table("Same stream, same repeats", "variant", "ns/msg", "msgs/s", "runs ns/msg")
    t.add(
        "nautilus (decode + deltas + OrderBook + pair check)",
        f"{nt:,.0f}",
        fmt_rate(1e9 / nt),
        " ".join(f"{v:,.0f}" for v in runs["nautilus"]),
    )
    t.add(
        "hot_path (polyloly)",
        f"{hot:,.0f}",
        fmt_rate(1e9 / hot),
        " ".join(f"{v:,.0f}" for v in runs["hot_path"]),
    )
    s.targets.append(
        Target("hot path throughput / NautilusTrader's", speedup, 3.0, "×", higher_is_better=True)
    )
    s.notes.append(
        f"peer: {ctx.get('nt_info')}; decode floor in the peer's interpreter {nt_floor:,.0f} ns/msg"
    )
    s.notes.append(
        "in-process"
        if nautilus_in_process()
        else f"peer interpreter: {ctx.get('nt_python')} (subprocess per repeat)"
    )
    s.data = {
        "runs_ns_per_msg": runs["nautilus"],
        "peer_floor": ctx.get("nt_floor"),
        "info": ctx.get("nt_info"),
    }


def main_stream_path(cfg: RunConfig) -> Path:
    """The cached stream file of a configuration (generated if missing)."""
    return cached_stream(StreamSpec(markets=cfg.markets, messages=cfg.messages, seed=cfg.seed))[1]


if __name__ == "__main__":  # pragma: no cover - use python -m bench run --only hotpath
    sys.exit("run: python -m bench run --only hotpath")
