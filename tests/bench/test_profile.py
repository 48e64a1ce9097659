"""``python -m bench profile`` writes the hot path's call tree, naming the project's code."""

from __future__ import annotations

import os
from pathlib import Path

from tests.bench.cli import bench_cli


def test_profile_writes_the_hot_paths_call_tree(tmp_path: Path) -> None:
    out = tmp_path / "profile.txt"
    proc = bench_cli(
        *("profile", "--messages", "20000", "--markets", "8", "--out", str(out)),
        env={**os.environ, "POLYLOLY_BENCH_CACHE": str(tmp_path / "cache")},
    )
    # 20,001 frames (never ending on half a mirrored pair), less the initial dump (16
    # snapshots) and a tenth of the rest (warm-up)
    assert "profiled 17,987 frames" in proc.stdout
    report = out.read_text()
    assert report.startswith("# hot path with the event log, busy node: 17,987 frames")
    # The tree descends from the client's frame handler into the kernel and the node's core.
    assert "handle_frame" in report
    assert "publish" in report
