"""Where the hot path's time goes: the real path under pyinstrument's sampling profiler.

``python -m bench profile`` drives the benchmark's headline path (:class:`bench.hotpath.HotRun`:
``MarketWsClient.handle_frame`` → kernel with the event log → the node's core, holding
positions with temporal arbitrage armed and results arriving; ``--unlogged`` drops the log,
``--idle`` the positions, signals and results) over a cached stream and writes pyinstrument's
call tree as text. The first tenth of the frames after the initial dump warm the books and
caches and are not profiled. A sampling profiler (every 100 µs) adds little per call, so the
tree's shares are the path's own, unlike a tracing profiler's.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.hotpath import HotRun, Scenario
from bench.stream import StreamSpec, cached_stream
from polyloly.storage.event_log import EventLogWriter

__all__ = ["profile_hot_path", "write_profile"]

_INTERVAL_S = 0.0001


def profile_hot_path(
    spec: StreamSpec, *, logged: bool = True, held: int = 6, results: int = 20
) -> tuple[str, int]:
    """Profile the hot path over ``spec``'s stream; return the text report and frames profiled.

    ``held`` positions and ``results`` results (see :class:`bench.hotpath.Scenario`; both 0 and
    no decided markets in ``spec``: the idle node).

    Raises
    ------
    SystemExit
        When pyinstrument is not installed (it comes with the ``dev`` extra).
    """
    try:
        from pyinstrument import Profiler
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise SystemExit("bench profile needs pyinstrument: pip install -e '.[dev]'") from exc
    stream, _ = cached_stream(spec)
    body = len(stream) - stream.meta.initial
    warm = body // 10
    busy = held or results or spec.decided_markets
    scenario = Scenario.for_stream(stream, held=held, results=results) if busy else None
    profiler = Profiler(interval=_INTERVAL_S)

    async def main(hot: HotRun) -> None:
        await hot.setup()
        await hot.run(warm)  # warm-up, not profiled
        profiler.start()
        await hot.run(body, start=warm)
        profiler.stop()
        await hot.bot.engine.stop()

    with tempfile.TemporaryDirectory(prefix="polyloly-bench-profile-") as tmp:
        sink = EventLogWriter(tmp) if logged else None
        asyncio.run(main(HotRun(stream, scenario, sink=sink)))
        if sink is not None:
            sink.close()
    text: str = profiler.output_text(unicode=True, color=False, show_all=False)
    return text, body - warm


def write_profile(
    spec: StreamSpec, out: Path, *, logged: bool = True, held: int = 6, results: int = 20
) -> int:
    """Profile and write the report to ``out``; return the number of frames profiled."""
    text, n = profile_hot_path(spec, logged=logged, held=held, results=results)
    out.parent.mkdir(parents=True, exist_ok=True)
    busy = held or results or spec.decided_markets
    what = "hot path" + (" with the event log" if logged else "") + (", busy node" if busy else "")
    out.write_text(f"# {what}: {n:,} frames of {spec}\n\n{text}")
    return n
