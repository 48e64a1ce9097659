"""Runs the benchmark suite's command line the way ``make bench`` does, for the bench tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def bench_cli(
    *args: str, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bench ARGS`` from the repository root (as ``make bench`` does).

    With ``check`` (the default) the command must succeed.
    """
    proc = subprocess.run(  # noqa: S603 - our own suite, same interpreter
        [sys.executable, "-m", "bench", *args],
        cwd=REPO_ROOT,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
