"""CI's fault soak: ``python -m bench.soak --short`` end to end, seeded, in about a minute.

The live bot runs as its own process against the simulators with faults and SIGKILLs; the
run must really have happened (the bot started, was killed and restarted, traded, faults
were injected, every file was scanned) and its exit status must say what its table says.
The last test is that the bot came through clean: no duplicate, no lost fill, no mismatch,
no leak, every restart started, no feed stuck down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from tests.bench.cli import REPO_ROOT

pytestmark = pytest.mark.timeout(180)

SEED = 1


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("soak")
    proc = subprocess.run(  # noqa: S603 - the repository's own harness, same interpreter
        [sys.executable, "-m", "bench.soak", "--short", "--seed", str(SEED), "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    report = json.loads((out / "report.json").read_text())
    return {"proc": proc, "report": report, "out": out}


def test_the_short_soak_runs_the_live_bot_through_kills_and_faults(soak: dict[str, Any]) -> None:
    proc, report = soak["proc"], soak["report"]
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "| check" in proc.stdout
    assert "verdict: " in proc.stdout
    (seed,) = report["seeds"]
    assert seed["seed"] == SEED
    sessions = seed["sessions"]
    assert sessions[0]["ready"], "the bot never started"
    assert sum(seed["kills"].values()) == 2
    assert sum(s["end"] == "sigkill" for s in sessions) >= 2
    assert sum(seed["faults"].values()) == 15
    assert seed["orders"] > 0, "the bot placed no order: nothing was tested"
    bot_logs = [s["log"] for s in sessions]
    assert seed["files_scanned"] >= len(bot_logs) + 1  # every bot log and the event log
    assert (soak["out"] / f"seed-{SEED}" / "journal.jsonl").is_file()


def test_the_exit_status_is_the_tables_verdict(soak: dict[str, Any]) -> None:
    proc, report = soak["proc"], soak["report"]
    failing = [row["check"] for row in report["table"] if row["failing"]]
    assert (proc.returncode == 1) == bool(failing)
    assert (report["verdict"] == "fail") == bool(failing)
    if failing:
        assert "verdict: FAIL" in proc.stdout


def test_the_fuzz_run_is_in_the_table(soak: dict[str, Any]) -> None:
    fuzz_row = next(r for r in soak["report"]["table"] if "fuzz" in r["check"])
    if soak["report"]["fuzz"]["available"]:
        assert "of 20,000" in fuzz_row["total"]
    else:
        assert fuzz_row["total"] == "fuzz: not available on this branch"


def test_the_short_soak_finds_nothing(soak: dict[str, Any]) -> None:
    assert soak["report"]["failures"] == []
