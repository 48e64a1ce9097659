"""Benchmark 5: many markets at a fixed message rate for minutes — decision latency, memory.

A feeder process (:mod:`bench.feeder`) serves an endless generated stream for
``scale_markets`` markets (two tokens each) over the market channel's WebSocket protocol at
``scale_rate`` frames/s. This process runs the bot as in production: the real
``MarketWsClient`` (sharded connections, keepalive, sync checks) publishing into the kernel
with both strategies and the risk gate. Per frame it records:

* ``handling`` — from the client's ``on_frame`` to the end of the kernel's dispatch (the
  decision made);
* ``sent → decided`` — from the feeder's ``perf_counter_ns`` just before the send (stamped
  in the frame) to the decision: adds loopback, the WebSocket library and any backlog.

Percentiles come from log-linear histograms (~6 % resolution) per 10-second window and over
the whole run, so recording neither sorts in the event loop nor grows memory. RSS is sampled
at every window; the collector's pauses and this process's CPU share are reported too.

Two stall probes tell where a frame that waited long waited: a task on the event loop asks to
wake every millisecond and records how late it woke (*loop late*: the loop busy with frames
and other callbacks, or the process not running), and a thread does the same with
``time.sleep`` and keeps each window's longest overshoot (*thread stall*: the process or the
whole VM not running; the loop holding the GIL delays it by at most the 5 ms switch
interval). A window whose sent → decided p99 is far above both was lost before the frames
reached the loop (the feeder, the socket).

The feeder stands for the venue, which never shares the bot's CPU: with two or more CPUs the
feeder is pinned to the last one and the bot to the others (``os.sched_setaffinity``, as
:mod:`bench.wire` pins its local exchange), and the report says so.
"""

from __future__ import annotations

import array
import asyncio
import gc
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.report import Section, Target, fmt_ns
from bench.stats import load_now, median, rss_bytes
from bench.wiring import build_bot, market_mappings
from polyloly.adapters.polymarket.config import WsConfig
from polyloly.adapters.polymarket.ws_common import ReconnectingSocket
from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.bot.heap import freeze_heap
from polyloly.execution.engine import ExecutionPorts
from polyloly.runtime.clock import LiveClock
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts

__all__ = ["Histogram", "run"]

REPO = Path(__file__).resolve().parent.parent
_WINDOW_S = 10.0
_WARMUP_S = 60.0
_STAMP = '"bench_sent_ns":'
_SUB = 16  # histogram sub-buckets per power of two


class Histogram:
    """Log-linear histogram of non-negative ints (16 sub-buckets per power of two)."""

    def __init__(self) -> None:
        self.counts = array.array("q", bytes(8 * 64 * _SUB))
        self.n = 0

    def add(self, value: int) -> None:
        """Count one value."""
        v = max(value, 1)
        bits = v.bit_length()
        sub = (v >> (bits - 5)) & (_SUB - 1) if bits > 5 else v & (_SUB - 1)
        self.counts[bits * _SUB + sub] += 1
        self.n += 1

    def merge(self, other: Histogram) -> None:
        """Count every value ``other`` counted (a window into the whole run)."""
        counts = self.counts
        for index, count in enumerate(other.counts):
            if count:
                counts[index] += count
        self.n += other.n

    @staticmethod
    def _upper(index: int) -> float:
        bits, sub = divmod(index, _SUB)
        if bits <= 5:
            return float(sub + 1)
        return float((_SUB + sub + 1) << (bits - 5))

    def percentile(self, p: float) -> float:
        """Upper edge of the bucket holding the ``p``-th percentile."""
        if not self.n:
            return float("nan")
        rank = math.ceil(p / 100.0 * self.n)
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if count and seen >= rank:
                return self._upper(index)
        return float("nan")


class GcPauses:
    """Durations of the collector's runs per generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.total_ns = [0, 0, 0]
        self.max_ns = [0, 0, 0]
        self._t0 = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter_ns()
            return
        gen = info["generation"]
        took = time.perf_counter_ns() - self._t0
        self.count[gen] += 1
        self.total_ns[gen] += took
        self.max_ns[gen] = max(self.max_ns[gen], took)

    def as_dict(self) -> dict[str, list[int]]:
        """Counts, total and longest pause per generation."""
        return {"count": self.count, "total_ns": self.total_ns, "max_ns": self.max_ns}


def _window_row(h: Histogram) -> dict[str, float]:
    return {"n": h.n, **{f"p{p:g}": h.percentile(p) for p in (50.0, 99.0, 99.9, 100.0)}}


_PROBE_NS = 1_000_000  # both stall probes ask to wake every millisecond


async def _loop_probe(rec: _Recorder) -> None:
    """How late the event loop wakes a 1 ms sleep: time the loop spent on other callbacks
    (frames, timers, the node's work) or lost with the whole process."""
    pcn = time.perf_counter_ns
    while True:
        t0 = pcn()
        await asyncio.sleep(_PROBE_NS / 1e9)
        late = pcn() - t0 - _PROBE_NS
        rec.win_loop.add(late)


class _ThreadProbe(threading.Thread):
    """A thread sleeping 1 ms at a time, keeping the longest overshoot per window: large when
    the process (or the whole VM) was not run at all; the event loop holding the GIL delays
    it by at most the switch interval (5 ms)."""

    def __init__(self) -> None:
        super().__init__(name="stall-probe", daemon=True)
        self.window_max = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        pcn = time.perf_counter_ns
        while not self.stopped.is_set():
            t0 = pcn()
            time.sleep(_PROBE_NS / 1e9)
            late = pcn() - t0 - _PROBE_NS
            self.window_max = max(self.window_max, late)

    def take_window(self) -> int:
        """The window's longest overshoot, and start the next window."""
        value, self.window_max = self.window_max, 0
        return value


@dataclass(slots=True)
class _Recorder:
    """Histograms over the whole run and per window: recording never sorts in the loop."""

    hist_handle: Histogram = field(default_factory=Histogram)
    hist_e2e: Histogram = field(default_factory=Histogram)
    win_handle: Histogram = field(default_factory=Histogram)
    win_e2e: Histogram = field(default_factory=Histogram)
    hist_loop: Histogram = field(default_factory=Histogram)
    win_loop: Histogram = field(default_factory=Histogram)
    windows: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0

    def close_window(self, t: float, thread_stall_ns: int = 0) -> None:
        self.windows.append(
            {
                "t_s": round(t, 1),
                "frames": self.win_handle.n,
                "rss_mb": rss_bytes() / 1e6,
                "handle": _window_row(self.win_handle),
                "e2e": _window_row(self.win_e2e),
                "loop_late": _window_row(self.win_loop),
                "thread_stall_max_ns": thread_stall_ns,
            }
        )
        # The whole run's histograms are the windows' sums: a frame is counted once, in its
        # window (recording costs the bot's loop as little as it can).
        self.hist_handle.merge(self.win_handle)
        self.hist_e2e.merge(self.win_e2e)
        self.hist_loop.merge(self.win_loop)
        self.win_handle = Histogram()
        self.win_e2e = Histogram()
        self.win_loop = Histogram()


# polyloly has no py.typed marker: without ``mypy_path = src`` mypy sees this base as Any.
class TimedMarketClient(MarketWsClient):  # type: ignore[misc, unused-ignore]
    """The real client, timing each frame from arrival to the end of its dispatch."""

    def __init__(self, *args: Any, recorder: _Recorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = recorder

    def on_frame(self, sock: ReconnectingSocket, data: str | bytes) -> None:
        """Handle the frame, then record its latencies."""
        t0 = time.perf_counter_ns()
        super().on_frame(sock, data)
        t1 = time.perf_counter_ns()
        rec = self.recorder
        rec.frames += 1
        rec.win_handle.add(t1 - t0)
        text = data if isinstance(data, str) else data.decode()
        i = text.rfind(_STAMP)
        if i > 0:
            rec.win_e2e.add(t1 - int(text[i + len(_STAMP) : -1]))


def _start_feeder(cfg: RunConfig, connections: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    cmd = [
        sys.executable,
        "-m",
        "bench.feeder",
        "--markets",
        str(cfg.scale_markets),
        "--rate",
        str(cfg.scale_rate),
        "--duration",
        str(cfg.scale_duration_s),
        "--connections",
        str(connections),
        "--seed",
        str(cfg.seed),
    ]
    proc = subprocess.Popen(  # noqa: S603 - our own module, same interpreter
        cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the feeder did not start")
    return proc, json.loads(line)


async def _run(cfg: RunConfig, proc: subprocess.Popen[str], head: dict[str, Any]) -> dict[str, Any]:
    tokens, conds = head["tokens"], head["condition_ids"]
    rec = _Recorder()
    pairs = {c: (tokens[2 * i], tokens[2 * i + 1]) for i, c in enumerate(conds)}
    venue = FakeVenue(pairs)
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts()
    )
    bot = build_bot(market_mappings(conds, tokens), LiveClock(), ports=ports, market_ws_url=None)
    client = TimedMarketClient(
        head["url"], bot.kernel.publish, LiveClock(), WsConfig(), recorder=rec, books=bot.core.books
    )
    await client.subscribe(tokens)
    freeze_heap()  # as the node does once it has started
    rss0 = rss_bytes()
    cpu0 = os.times()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    client.start()
    loop = asyncio.get_running_loop()
    assert proc.stdout is not None
    done_line = loop.run_in_executor(None, proc.stdout.readline)
    probe = _ThreadProbe()
    probe.start()
    loop_probe = asyncio.create_task(_loop_probe(rec))
    start = time.monotonic()
    next_window = start + _WINDOW_S
    while not done_line.done():
        await asyncio.sleep(0.05)
        if time.monotonic() >= next_window:
            rec.close_window(time.monotonic() - start, probe.take_window())
            next_window += _WINDOW_S
    if rec.win_handle.n:
        rec.close_window(time.monotonic() - start, probe.take_window())
    cpu1 = os.times()
    gc.callbacks.remove(pauses)
    loop_probe.cancel()
    probe.stopped.set()
    wall = time.monotonic() - start
    cpu_share = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / max(wall, 1e-9)
    feeder = json.loads(await done_line)
    books = bot.core.books
    in_sync = sum(1 for t in tokens if (b := books.get(t)) is not None and b.in_sync)
    # Let the feeder go first: its sockets close and the client stops from its reconnect
    # back-off (the books' sync state above is read before that invalidates them).
    assert proc.stdin is not None
    proc.stdin.close()
    await loop.run_in_executor(None, proc.wait)
    await client.stop()
    return {
        "feeder": feeder,
        "frames": rec.frames,
        "windows": rec.windows,
        "rss_start_mb": rss0 / 1e6,
        "handle": {p: rec.hist_handle.percentile(p) for p in (50.0, 99.0, 99.9)},
        "e2e": {p: rec.hist_e2e.percentile(p) for p in (50.0, 99.0, 99.9)},
        "malformed": dict(client.malformed),
        "invalidations": dict(client.invalidations),
        "in_sync": in_sync,
        "cpu_share": cpu_share,
        "gc": pauses.as_dict(),
        "loop_late": {p: rec.hist_loop.percentile(p) for p in (50.0, 99.0, 99.9, 100.0)},
        "thread_stall_max_ns": max((w["thread_stall_max_ns"] for w in rec.windows), default=0),
        "tokens": len(tokens),
        "handler_errors": bot.kernel.handler_errors,
    }


def _cpus() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def pin_apart(feeder_pid: int, cpus: set[int]) -> str:
    """Keep the feeder (the venue's stand-in) off the bot's CPU(s); say what was done."""
    if len(cpus) < 2:
        return f"feeder and bot not pinned apart ({len(cpus) or 'unknown'} CPU)"
    last = max(cpus)
    os.sched_setaffinity(feeder_pid, {last})
    os.sched_setaffinity(0, cpus - {last})
    return f"feeder pinned to CPU {last}, bot to CPU(s) {sorted(cpus - {last})}"


def run(cfg: RunConfig) -> Section:
    """Start the feeder, follow its markets for the configured duration, report."""
    mode = f"{cfg.scale_duration_s:.0f} s at {cfg.scale_rate:,} frames/s"
    s = Section(
        "scale", f"5. Scale: {cfg.scale_markets} markets / {2 * cfg.scale_markets} tokens, {mode}"
    )
    connections = math.ceil(2 * cfg.scale_markets / WsConfig().max_assets_per_connection)
    proc, head = _start_feeder(cfg, connections)
    own_cpus = _cpus()
    try:
        pinned = (
            pin_apart(proc.pid, own_cpus)
            if cfg.scale_pin
            else "feeder and bot not pinned (--scale-no-pin)"
        )
        out = asyncio.run(_run(cfg, proc, head))
    finally:
        if own_cpus:
            os.sched_setaffinity(0, own_cpus)
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)
    out["pinning"] = pinned
    _fill(s, cfg, out)
    return s


def _fill(s: Section, cfg: RunConfig, out: dict[str, Any]) -> None:
    t = s.table("Over the whole run (histogram, ~6 % resolution)", "latency", "p50", "p99", "p99.9")
    for key, label in (("handle", "handling (on_frame → decided)"), ("e2e", "sent → decided")):
        q = out[key]
        t.add(label, fmt_ns(q[50.0]), fmt_ns(q[99.0]), fmt_ns(q[99.9]))
    w = s.table(
        "Per 10-second window (histograms)",
        "t (s)",
        "frames",
        "handling p99",
        "sent → decided p50",
        "sent → decided p99",
        "p99.9",
        "loop late p99",
        "loop late max",
        "thread stall max",
        "RSS (MB)",
    )
    for row in out["windows"]:
        e, late = row["e2e"], row.get("loop_late", {})
        w.add(
            row["t_s"],
            f"{row['frames']:,}",
            fmt_ns(row["handle"]["p99"]),
            fmt_ns(e["p50"]),
            fmt_ns(e["p99"]),
            fmt_ns(e["p99.9"]),
            fmt_ns(late.get("p99", float("nan"))),
            fmt_ns(late.get("p100", float("nan"))),
            fmt_ns(row.get("thread_stall_max_ns", 0)),
            f"{row['rss_mb']:.1f}",
        )
    rss = [row["rss_mb"] for row in out["windows"]]
    # Warm-up: the first minute (books fill to their depth, caches fill), at most half the run.
    windows = out["windows"]
    warm = min(_WARMUP_S, windows[-1]["t_s"] / 2) if windows else 0.0
    settled = [w["rss_mb"] for w in windows if w["t_s"] > warm] or rss
    growth = settled[-1] / settled[0] if settled and settled[0] else float("nan")
    feeder = out["feeder"]
    s.notes.append(
        f"feeder sent {feeder['sent']:,} frames in {feeder['seconds']:.1f} s "
        f"({feeder['sent'] / max(feeder['seconds'], 1e-9):,.0f}/s; at most "
        f"{feeder['behind_max_ms']:.1f} ms behind schedule); bot handled {out['frames']:,} "
        f"frames, using {out['cpu_share']:.0%} of one core; books in sync at the end "
        f"{out['in_sync']}/{out['tokens']}"
    )
    nan = float("nan")
    s.notes.append(
        f"malformed {out['malformed']}, invalidations {out['invalidations']}, handler errors "
        f"{out['handler_errors']}; RSS {out['rss_start_mb']:.1f} MB before connecting, "
        f"{settled[0] if settled else nan:.1f} MB after warm-up ({warm:.0f} s), "
        f"{rss[-1] if rss else nan:.1f} MB at the end"
    )
    g = out["gc"]
    s.notes.append(
        "collector pauses per generation (count, longest): "
        + ", ".join(f"gen{i} {g['count'][i]:,} / {fmt_ns(g['max_ns'][i])}" for i in range(3))
    )
    late = out["loop_late"]
    s.notes.append(
        "stall probes (each wakes every 1 ms): the event loop woke late by "
        f"{fmt_ns(late[50.0])} p50, {fmt_ns(late[99.0])} p99, {fmt_ns(late[100.0])} at most "
        "(time spent on frames and other callbacks, or the process not running); a thread "
        f"overslept by {fmt_ns(out['thread_stall_max_ns'])} at most (the process or the machine "
        "not running it; the loop holding the GIL delays it by at most 5 ms)"
    )
    window_p99 = median(r["e2e"]["p99"] for r in out["windows"] if r["e2e"]["n"])
    s.notes.append(f"median of the windows' p99 (sent → decided): {fmt_ns(window_p99)}")
    why = (
        " (a venue never shares the bot's CPU)" if "pinned to CPU" in out.get("pinning", "") else ""
    )
    s.notes.append(
        f"{out.get('pinning', 'not pinned')}{why}; the feeder reported running on CPU(s) "
        f"{out['feeder'].get('cpus')}; capacity estimate from the CPU share: "
        f"{cfg.scale_rate / max(out['cpu_share'], 1e-9):,.0f} frames/s on one core (the rate "
        "over the share of a core the bot used)"
    )
    s.notes.append(f"load average after the benchmark: {load_now()}")
    s.targets += [
        Target("p99 decision latency (sent → decided)", out["e2e"][99.0], 1_000_000, "ns"),
        Target("memory growth after warm-up (RSS end / start)", growth, 1.05, "×"),
    ]
    s.data = out
