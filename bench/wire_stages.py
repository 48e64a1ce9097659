"""Where a pre-decided result's microseconds go: a ``perf_counter_ns`` stage breakdown.

``python -m bench.wire_stages --samples 300`` runs the wire benchmark's ``predecided`` mode
(:mod:`bench.wire`: event log on, the market stream on the same loop) with a stamp at each
stage boundary of the path from ``publish(TruthFinal)`` to the POST's last byte written:

1. the kernel takes the event (``NodeKernel.publish``) → the event log's append begins;
2. the ``TruthFinal`` appended to the event log;
3. the kernel's dispatch reaches the core's truth handler (the pre-decider);
4. the confirmation policy and the lookup of the result's pre-decision;
5. the checks that it still stands (epoch, age, halt, strategy, reservation);
6. the venue picks the request's bytes for this second and takes the idle connection;
7. the socket write (one ``send``), to its return.

The stamps wrap the functions at those boundaries (instrumentation, adding a few hundred
nanoseconds per stage): read the shape, and the totals from ``python -m bench run --only
wire``. Prints one line per stage (p50, p90, p99, max), after the bare loopback ``send``
of a request-sized buffer (:func:`send_floor`): what stage 7 costs with no Python at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from bench import wire
from bench.config import RunConfig
from polyloly.adapters.polymarket.execution import PolymarketVenue
from polyloly.domain.events import Event, TruthFinal
from polyloly.node import predecide
from polyloly.node.core import NodeKernel
from polyloly.storage.event_log import EventLogWriter

__all__ = ["STAGES", "main"]

STAGES = (
    ("t0", "append0", "publish → the log append begins"),
    ("append0", "append1", "the TruthFinal appended to the event log"),
    ("append1", "handler", "dispatch → the core's truth handler"),
    ("handler", "found", "confirmation policy + lookup"),
    ("found", "checked", "still stands? (epoch, age, halt, strategy, reservation)"),
    ("checked", "write_call", "the request's bytes, the idle connection"),
    ("write_call", "wire", "socket write (send)"),
    ("t0", "wire", "total: publish → last byte written"),
)


def _instrument(stamps: dict[str, int], rows: list[dict[str, int]]) -> None:
    pcn = time.perf_counter_ns
    pre = predecide.Predecider
    on_result, send = pre.on_result, pre._send
    post_now = PolymarketVenue.post_now
    tsend = wire.TimingTransport._send
    append = EventLogWriter.append
    publish = NodeKernel.publish
    sample = wire._sample

    def on_result_(self: Any, event: Event) -> bool:
        stamps["handler"] = pcn()
        return on_result(self, event)

    def send_(self: Any, entry: Any, now: int) -> bool:
        stamps["found"] = pcn()
        return send(self, entry, now)

    def post_now_(self: Any, prepared: Any) -> Any:
        stamps["checked"] = pcn()
        return post_now(self, prepared)

    def tsend_(self: Any, conn: Any, data: bytes) -> None:
        stamps["write_call"] = pcn()
        tsend(self, conn, data)

    def append_(self: Any, event: Event) -> None:
        if type(event) is TruthFinal:
            stamps["append0"] = pcn()
            append(self, event)
            stamps["append1"] = pcn()
        else:
            append(self, event)

    def publish_(self: Any, event: Event) -> None:
        if type(event) is TruthFinal and self._pinned is None:
            stamps["t0"] = pcn()
        publish(self, event)

    async def sample_(run: Any, m: int, tokens: tuple[str, str], probe: Any) -> Any:
        stamps.clear()
        out = await sample(run, m, tokens, probe)
        if "write_call" in stamps and "handler" in stamps:
            rows.append(dict(stamps, wire=probe.last_write_ns))
        return out

    pre.on_result = on_result_  # type: ignore[method-assign]
    pre._send = send_  # type: ignore[method-assign]
    PolymarketVenue.post_now = post_now_  # type: ignore[method-assign]
    wire.TimingTransport._send = tsend_  # type: ignore[method-assign]
    EventLogWriter.append = append_  # type: ignore[method-assign]
    NodeKernel.publish = publish_  # type: ignore[method-assign]
    wire._sample = sample_


def _pct(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] / 1e3


def send_floor(samples: int = 2_000, size: int = 1_300) -> list[int]:
    """The bare loopback ``send`` of a POST-sized request, in ns (the floor of stage 7).

    A child process, pinned to the last CPU as the exchange is, reads a TCP connection; this
    process, pinned to the others, sends ``size`` bytes with one ``send`` every 2 ms (the
    receiver idle between, as the exchange is between orders) and times each call.
    """
    cpus = sorted(os.sched_getaffinity(0))
    server = socket.create_server(("127.0.0.1", 0))
    pid = os.fork()
    if pid == 0:  # the reader
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpus[-1]})
        conn, _ = server.accept()
        while conn.recv(65_536):
            pass
        os._exit(0)
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[:-1]))
    sock = socket.create_connection(server.getsockname())
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = b"x" * size
    out: list[int] = []
    try:
        for _ in range(samples + 100):
            time.sleep(0.002)
            t0 = time.perf_counter_ns()
            sock.send(data)
            out.append(time.perf_counter_ns() - t0)
    finally:
        sock.close()
        os.waitpid(pid, 0)
        os.sched_setaffinity(0, set(cpus))
        server.close()
    return out[100:]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(prog="python -m bench.wire_stages")
    ap.add_argument("--samples", type=int, default=300)
    args = ap.parse_args(argv)
    floor = send_floor()
    print(
        f"bare loopback send of 1,300 B (receiver on another CPU), {len(floor)} sends (µs): "
        f"p50 {_pct(floor, 50):.2f}  p90 {_pct(floor, 90):.2f}  p99 {_pct(floor, 99):.2f}  "
        f"max {max(floor) / 1e3:.2f}"
    )
    stamps: dict[str, int] = {}
    rows: list[dict[str, int]] = []
    _instrument(stamps, rows)
    cfg = dataclasses.replace(RunConfig(), wire_samples=args.samples)
    wire.MODES = ("predecided",)
    wire.run(cfg)
    rows = rows[cfg.wire_warmup :]
    print(f"predecided path, {len(rows)} samples (µs)")
    for a, b, name in STAGES:
        v = [r[b] - r[a] for r in rows if a in r and b in r]
        print(
            f"{name:58s} p50 {_pct(v, 50):7.2f}  p90 {_pct(v, 90):7.2f}  "
            f"p99 {_pct(v, 99):7.2f}  max {max(v) / 1e3:7.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
