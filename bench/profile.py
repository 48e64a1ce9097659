"""Where the hot path's time goes: the real path under pyinstrument's sampling profiler.

``python -m bench profile`` drives the benchmark's hot path (``bench.hotpath.make_hot_bot``:
``MarketWsClient.handle_frame`` → kernel → the node's core, optionally with the event log)
over a cached stream and writes pyinstrument's call tree as text. The first tenth of the
frames warm the books and caches and are not profiled. A sampling profiler (every 100 µs)
adds little per call, so the tree's shares are the path's own, unlike a tracing profiler's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.hotpath import make_hot_bot
from bench.stats import quiet_gc
from bench.stream import StreamSpec, cached_stream
from polyloly.storage.event_log import EventLogWriter

__all__ = ["profile_hot_path"]

_INTERVAL_S = 0.0001


def profile_hot_path(spec: StreamSpec, *, logged: bool = False) -> tuple[str, int]:
    """Profile the hot path over ``spec``'s stream; return the text report and frames profiled.

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
    frames = stream.frames
    warm = len(frames) // 10
    with tempfile.TemporaryDirectory(prefix="polyloly-bench-profile-") as tmp:
        sink = EventLogWriter(tmp) if logged else None
        bot = make_hot_bot(stream, sink=sink)
        assert bot.market_ws is not None
        handle = bot.market_ws.handle_frame
        for frame in frames[:warm]:
            handle(frame)
        profiler = Profiler(interval=_INTERVAL_S)
        with quiet_gc():
            profiler.start()
            for frame in frames[warm:]:
                handle(frame)
            profiler.stop()
        if sink is not None:
            sink.close()
    text: str = profiler.output_text(unicode=True, color=False, show_all=False)
    return text, len(frames) - warm


def write_profile(spec: StreamSpec, out: Path, *, logged: bool = False) -> int:
    """Profile and write the report to ``out``; return the number of frames profiled."""
    text, n = profile_hot_path(spec, logged=logged)
    out.parent.mkdir(parents=True, exist_ok=True)
    what = "hot path with the event log" if logged else "hot path"
    out.write_text(f"# {what}: {n:,} frames of {spec}\n\n{text}")
    return n
