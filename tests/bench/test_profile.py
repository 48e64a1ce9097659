"""``python -m bench profile`` writes the hot path's call tree, naming the project's code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_profile_writes_the_hot_paths_call_tree(tmp_path: Path) -> None:
    out = tmp_path / "profile.txt"
    argv = [sys.executable, "-m", "bench", "profile", "--messages", "20000", "--markets", "8"]
    proc = subprocess.run(  # noqa: S603 - our own suite, same interpreter
        [*argv, "--logged", "--out", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, "POLYLOLY_BENCH_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "profiled 18,000 frames" in proc.stdout
    report = out.read_text()
    assert report.startswith("# hot path with the event log: 18,000 frames")
    # The tree descends from the client's frame handler into the kernel and the log.
    assert "handle_frame" in report
    assert "publish" in report
