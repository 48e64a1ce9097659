"""The market-frame fuzz run, delegated to ``python -m bench.fuzz_market`` when it exists.

The fuzzer (frames that are well-formed JSON but wrong in meaning — crossed snapshots, bad
sizes, resolutions naming a foreign token — fed to the real market-data path, counting the
bad frames it accepted) is its own tool (``bench/fuzz_market``); the soak only runs it with
``--frames N --seed S`` and reads its verdict: exit status 0 means no accepted-bad frame.
Until that tool is on the branch the soak says so in its table instead of a figure.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["FUZZ_MODULE", "FuzzResult", "fuzz_available", "parse_accepted_bad", "run_fuzz"]

FUZZ_MODULE: Final = "bench.fuzz_market"
_REPO: Final = Path(__file__).resolve().parents[2]
_ACCEPTED_BAD = re.compile(rb"accepted[-_ ]bad[^0-9\n]{0,40}?([0-9][0-9,_]*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FuzzResult:
    """What the fuzz run said (``available`` False: the tool is not on this branch)."""

    available: bool
    frames: int = 0
    seed: int = 0
    exit_code: int | None = None
    accepted_bad: int | None = None  # as the tool printed it, when it did
    duration_s: float = 0.0
    tail: str = ""

    @property
    def failed(self) -> bool:
        """Whether the run found accepted-bad frames (or did not finish)."""
        if not self.available:
            return False
        return self.exit_code != 0 or bool(self.accepted_bad)


def fuzz_available() -> bool:
    """Whether ``bench.fuzz_market`` can be imported from the repository."""
    if str(_REPO) not in sys.path:
        sys.path.insert(0, str(_REPO))
    try:
        return importlib.util.find_spec(FUZZ_MODULE) is not None
    except ModuleNotFoundError:
        return False


def parse_accepted_bad(output: bytes) -> int | None:
    """The last accepted-bad count the fuzzer printed (``None`` if it printed none)."""
    found = _ACCEPTED_BAD.findall(output)
    return int(found[-1].replace(b",", b"").replace(b"_", b"")) if found else None


def run_fuzz(frames: int, seed: int, *, timeout_s: float, log: Path | None = None) -> FuzzResult:
    """Run the fuzzer in its own process and read its verdict."""
    if not fuzz_available():
        return FuzzResult(available=False, frames=frames, seed=seed)
    from polyloly.runtime.clock import LiveClock

    clock = LiveClock()
    t0 = clock.monotonic_ns()
    cmd = [sys.executable, "-m", FUZZ_MODULE, "--frames", str(frames), "--seed", str(seed)]
    try:
        proc = subprocess.run(  # noqa: S603 - the repository's own tool, same interpreter
            cmd, cwd=_REPO, capture_output=True, timeout=timeout_s, check=False
        )
        code: int | None = proc.returncode
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        output = (exc.stdout or b"") + (exc.stderr or b"") + b"\n(timed out)"
    if log is not None:
        log.write_bytes(output)
    accepted = parse_accepted_bad(output)
    lines = [ln for ln in output.decode(errors="replace").splitlines() if ln.strip()]
    return FuzzResult(
        available=True,
        frames=frames,
        seed=seed,
        exit_code=code,
        accepted_bad=accepted,
        duration_s=(clock.monotonic_ns() - t0) / 1e9,
        tail=lines[-1] if lines else "",
    )
