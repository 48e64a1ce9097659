"""Small measuring helpers: percentiles, medians, timer overhead, memory, machine facts."""

from __future__ import annotations

import array
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PERCENTILES",
    "Latency",
    "Timer",
    "machine_info",
    "median",
    "percentile",
    "quiet_gc",
    "rss_bytes",
    "summarize",
    "timer_overhead_ns",
]

PERCENTILES = (50.0, 99.0, 99.9)
"""What every latency row reports (plus the sample count and the maximum)."""


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (``nan`` when empty)."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100.0 * (len(sorted_values) - 1))))
    return float(sorted_values[k])


def median(values: Iterable[float]) -> float:
    """Median (``nan`` when empty)."""
    vals = list(values)
    return float(statistics.median(vals)) if vals else float("nan")


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles of one sample set, in ns."""

    n: int
    p50: float
    p99: float
    p999: float
    max: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict for the JSON report."""
        return {"n": self.n, "p50": self.p50, "p99": self.p99, "p99.9": self.p999, "max": self.max}


def summarize(values: Iterable[float]) -> Latency:
    """Percentiles of ``values`` (ns)."""
    s = sorted(values)
    if not s:
        nan = float("nan")
        return Latency(0, nan, nan, nan, nan)
    return Latency(
        len(s), percentile(s, 50.0), percentile(s, 99.0), percentile(s, 99.9), float(s[-1])
    )


def median_latency(runs: Sequence[Latency]) -> Latency:
    """Field-wise median of the per-repeat percentiles."""
    return Latency(
        runs[0].n,
        median(r.p50 for r in runs),
        median(r.p99 for r in runs),
        median(r.p999 for r in runs),
        median(r.max for r in runs),
    )


def timer_overhead_ns(reps: int = 100_000) -> float:
    """Median cost of two back-to-back ``perf_counter_ns`` calls (what a timed sample adds)."""
    pcn = time.perf_counter_ns
    vals = array.array("q", bytes(8 * reps))
    for k in range(reps):
        t0 = pcn()
        vals[k] = pcn() - t0
    return median(vals)


class Timer:
    """Wall time of one timed loop, in seconds (``perf_counter``)."""

    __slots__ = ("elapsed", "t0")

    def __init__(self) -> None:
        self.t0 = 0.0
        self.elapsed = 0.0

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.elapsed = time.perf_counter() - self.t0


@contextmanager
def quiet_gc() -> Any:
    """Collect, then freeze long-lived objects out of the collector's way during a timed run.

    A long-running service does the same after start-up (``gc.freeze``); collections still
    run for garbage made inside the timed loop.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine_info(extra: dict[str, str] | None = None) -> dict[str, str]:
    """What the report records about the machine and the interpreter."""
    import msgspec

    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "msgspec": msgspec.__version__,
        "platform": platform.platform(),
        "load_avg_at_start": _load(),
    }
    info.update(extra or {})
    return info


def load_now() -> str:
    """The 1/5/15-minute load averages now (other work on the machine skews timings)."""
    return _load()


def per_kind_latencies(
    samples: array.array[int], kinds: Sequence[int], names: Sequence[str]
) -> dict[str, Latency]:
    """Split per-frame samples by frame kind; ``all`` covers every frame."""
    out = {"all": summarize(samples)}
    buckets: dict[int, list[int]] = {}
    for value, kind in zip(samples, kinds, strict=False):
        buckets.setdefault(kind, []).append(value)
    for kind, vals in sorted(buckets.items()):
        out[names[kind]] = summarize(vals)
    return out


def time_each(handle: Callable[[bytes], object], frames: Sequence[bytes]) -> array.array[int]:
    """Run ``handle`` on every frame, timing each call with ``perf_counter_ns``."""
    pcn = time.perf_counter_ns
    out = array.array("q", bytes(8 * len(frames)))
    for k, frame in enumerate(frames):
        t0 = pcn()
        handle(frame)
        out[k] = pcn() - t0
    return out
