"""A market-channel WebSocket server that streams a generated market at a fixed rate.

``python -m bench.feeder --markets 500 --rate 20000 --duration 600`` listens on a free
loopback port and prints ``{"url": …, "tokens": […], "condition_ids": […]}``. Clients speak
the market channel's protocol (``docs/reference/polymarket.md`` §2): the first message
subscribes ``assets_ids`` and is answered with a ``book`` per asset; text ``PING`` is
answered ``PONG``. Once ``--connections`` clients have subscribed, frames of an endless
:class:`bench.stream.LiveStream` go out as text frames to the connection that carries their
market, paced to ``--rate`` frames per second for ``--duration`` seconds. Each frame carries
one extra field, ``"bench_sent_ns"`` (``perf_counter_ns`` just before the send; the clock is
system-wide, so the receiver can age it); decoders ignore unknown fields.

When done it prints ``{"sent": …, "seconds": …, "behind_max_ms": …, "cpus": […]}`` (the
latest any frame was sent against its schedule; the CPUs it was allowed to run on — the
scale benchmark pins it apart from the bot, :func:`bench.scale.pin_apart`) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bench.stream import LiveStream, StreamSpec

__all__ = ["main"]

_SLICE_S = 0.001  # pacing granularity
_BATCH = 16  # frames generated at a time (~0.2 ms of work)


class _Feeder:
    def __init__(self, spec: StreamSpec, rate: int, duration_s: float, connections: int) -> None:
        self.live = LiveStream(spec)
        self.snapshots, _ = self.live.initial()
        self.index = {t: i for i, t in enumerate(self.live.tokens)}
        self.rate = rate
        self.duration_s = duration_s
        self.expected = connections
        self.conn_of_market: dict[int, ServerConnection] = {}
        self.ready = asyncio.Event()
        self.subscribed = 0
        self.sent = 0
        self.behind_max_s = 0.0
        self.elapsed = 0.0

    async def handler(self, ws: ServerConnection) -> None:
        try:
            async for message in ws:
                if message == "PING":
                    await ws.send("PONG")
                    continue
                tokens = json.loads(message).get("assets_ids", [])
                for token in tokens:
                    self.conn_of_market[self.index[token] // 2] = ws
                for token in tokens:
                    await ws.send(self.snapshots[self.index[token]].decode())
                self.subscribed += 1
                if self.subscribed >= self.expected:
                    self.ready.set()
        except ConnectionClosed:
            return

    async def stream(self) -> None:
        """Send frames on schedule, generating them a few at a time (no long pauses)."""
        await self.ready.wait()
        pcn = time.perf_counter_ns
        clock = time.perf_counter
        start = clock()
        frames: list[bytes] = []
        markets: Sequence[int] = []
        k = 0
        index = 0  # frames due so far (sent, or skipped for an unsubscribed market)
        while True:
            now = clock() - start
            if now >= self.duration_s:
                break
            due = int(now * self.rate)
            while index < due:
                if k >= len(frames):
                    frames, markets = self.live.next_batch(_BATCH)
                    k = 0
                ws = self.conn_of_market.get(markets[k])
                frame = frames[k]
                k += 1
                index += 1
                if ws is None:
                    continue
                late = clock() - start - index / self.rate
                self.behind_max_s = max(self.behind_max_s, late)
                stamped = frame[:-1] + b',"bench_sent_ns":' + str(pcn()).encode() + b"}"
                try:
                    await ws.send(stamped.decode())
                except ConnectionClosed:
                    continue
                self.sent += 1
            await asyncio.sleep(_SLICE_S)
        self.elapsed = time.perf_counter() - start


async def _main(args: argparse.Namespace) -> None:
    spec = StreamSpec(markets=args.markets, messages=0, seed=args.seed)
    feeder = _Feeder(spec, args.rate, args.duration, args.connections)
    async with serve(feeder.handler, "127.0.0.1", 0, max_size=16 * 1024 * 1024) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        head = {
            "url": f"ws://127.0.0.1:{port}/ws/market",
            "tokens": feeder.live.tokens,
            "condition_ids": feeder.live.condition_ids,
        }
        sys.stdout.write(json.dumps(head) + "\n")
        sys.stdout.flush()
        await feeder.stream()
        done = {
            "sent": feeder.sent,
            "seconds": feeder.elapsed,
            "behind_max_ms": feeder.behind_max_s * 1e3,
            "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [],
        }
        sys.stdout.write(json.dumps(done) + "\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # serve until the parent lets go


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(prog="python -m bench.feeder")
    ap.add_argument("--markets", type=int, default=500)
    ap.add_argument("--rate", type=int, default=20_000)
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--connections", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
