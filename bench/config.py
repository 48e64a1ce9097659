"""Run configuration of the suite: full, ``--smoke`` (CI) and the scale run's modes."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["BENCHMARKS", "RunConfig", "default_nt_python"]

BENCHMARKS = ("hotpath", "nautilus", "replay", "wire", "scale")
"""Every benchmark, in the order a full run executes them."""


def default_nt_python() -> str | None:
    """A NautilusTrader interpreter: ``POLYLOLY_BENCH_NT_PYTHON``, else ``/tmp/nt-venv``."""
    env = os.environ.get("POLYLOLY_BENCH_NT_PYTHON")
    if env:
        return env
    candidate = Path(tempfile.gettempdir()) / "nt-venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else None


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Sizes and repeats of one run.

    Attributes
    ----------
    repeats
        Timed passes per variant; medians are reported, variants run round-robin.
    markets, messages, seed
        The hot-path stream (``bench.stream.StreamSpec``).
    hot_decided, hot_held, hot_results
        The busy node of the hot path (``bench.hotpath.Scenario``): decided markets in the
        stream (temporal arbitrage armed on each), positions held before the stream, results
        arriving during it.
    replay_messages, replay_matches
        The recorded log for the replay: market frames and esports matches in it.
    wire_samples, wire_warmup
        ``TruthFinal`` → POST samples per signing mode, after the warm-up ones.
    wire_stream_rate, wire_stream_markets
        The market stream on the wire run's event loop: frames per second (0: none) and
        markets (two tokens each).
    scale_markets, scale_rate, scale_duration_s
        The scale run: markets (two tokens each), frames per second, duration.
    scale_pin
        Pin the scale run's feeder to its own CPU, apart from the bot (the default; off for
        an A/B on a machine whose cores other work shares).
    """

    smoke: bool = False
    repeats: int = 5
    markets: int = 100
    messages: int = 1_000_000
    seed: int = 7
    hot_decided: int = 6
    hot_held: int = 6
    hot_results: int = 20
    replay_messages: int = 500_000
    replay_matches: int = 40
    wire_samples: int = 1_000  # its p99 is then the 10th-largest sample, not the 2nd
    wire_warmup: int = 20
    wire_markets: int = 250
    wire_stream_rate: int = 5_000
    wire_stream_markets: int = 100
    scale_markets: int = 500
    scale_rate: int = 20_000
    scale_duration_s: float = 600.0
    scale_pin: bool = True
    nt_python: str | None = None
    workdir: Path | None = None

    @classmethod
    def smoke_config(cls) -> RunConfig:
        """Tiny sizes: every benchmark runs end to end in seconds (CI)."""
        return cls(
            smoke=True,
            repeats=1,
            markets=10,
            messages=3_000,
            hot_decided=2,
            hot_held=2,
            hot_results=2,
            replay_messages=3_000,
            replay_matches=3,
            wire_samples=3,
            wire_warmup=1,
            wire_markets=6,
            wire_stream_rate=500,
            wire_stream_markets=10,
            scale_markets=10,
            scale_rate=2_000,
            scale_duration_s=2.0,
        )

    def with_scale(self, *, quick: bool, duration_s: float | None) -> RunConfig:
        """The scale run's mode: ``--quick`` (30 s) or an explicit duration."""
        if duration_s is not None:
            return replace(self, scale_duration_s=duration_s)
        if quick and not self.smoke:
            return replace(self, scale_duration_s=30.0)
        return self
