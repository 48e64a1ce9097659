"""Crash test: a bot process is SIGKILLed mid-flight and restarted against a simulator
running in its own process; every intent ends as exactly one order, and the positions
the bot rebuilds equal the exchange's balances."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyloly.execution.events import OrderSubmitted
from polyloly.storage.event_log import EventLogReader

HERE = Path(__file__).resolve().parent
INTENTS = 6
RUN_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(HERE / "crash_sim.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the simulator did not start"
        info: dict[str, Any] = json.loads(line)
        info["raw"] = line.strip()
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bot(sim: dict[str, Any], log_dir: Path, key: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [
            sys.executable,
            str(HERE / "crash_bot.py"),
            "--sim",
            sim["raw"],
            "--log-dir",
            str(log_dir),
            "--key",
            key,
            "--intents",
            str(INTENTS),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _finish(sim: dict[str, Any], log_dir: Path, key: str) -> dict[str, Any]:
    proc = _bot(sim, log_dir, key)
    out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, out
    line = next(x for x in out.splitlines() if x.startswith("DONE "))
    summary: dict[str, Any] = json.loads(line.removeprefix("DONE "))
    return summary


def _check(sim: dict[str, Any], log_dir: Path, summary: dict[str, Any]) -> None:
    hashes = summary["intents"]
    assert all(hashes.values()), hashes  # every intent became an order
    assert len(set(hashes.values())) == INTENTS
    # Every order reached the venue exactly once under its one hash...
    assert all(status is not None for status in summary["lookups"].values()), json.dumps(summary)
    submitted: dict[str, set[str]] = {}
    for event in EventLogReader([log_dir], strict=False):
        if isinstance(event, OrderSubmitted):
            submitted.setdefault(event.client_id, set()).add(event.order_hash)
    assert all(len(v) == 1 for v in submitted.values()), submitted
    # ...and the venue knows no other order of ours, resting or traded.
    mine = set(hashes.values())
    assert set(summary["venue_open"]) <= mine
    for trade in summary["trades"]:
        if trade["trader_side"] == "TAKER":
            assert trade["taker"] in mine
        else:
            assert mine & set(trade["makers"])
    assert summary["reconciled"] is True
    balances = httpx.get(
        f"{sim['http_url']}/sim/balances", params={"address": summary["funder"]}, timeout=5
    ).json()
    flat = balances.get("balances", balances)
    assert summary["collateral"] == int(flat["collateral"])
    for token, qty in summary["positions"].items():
        assert qty == int(flat.get(token, 0)), token


@pytest.mark.slow
def test_sigkill_between_submit_and_reply(sim: dict[str, Any], tmp_path: Path) -> None:
    key = "0x" + "6b" * 32
    for k in (1, 2):
        proc = _bot(sim, tmp_path, key, "--die-after-submit", str(k))
        proc.communicate(timeout=RUN_TIMEOUT_S)
        assert proc.returncode == -signal.SIGKILL
    summary = _finish(sim, tmp_path, key)
    assert summary["recovered"] > 0
    _check(sim, tmp_path, summary)


@pytest.mark.slow
def test_sigkill_at_random_points(sim: dict[str, Any], tmp_path: Path) -> None:
    key = "0x" + "7c" * 32
    rng = random.Random(int(os.environ.get("POLYLOLY_CRASH_SEED", "20261125")))
    kills = 0
    for _ in range(20):
        proc = _bot(sim, tmp_path, key)
        deadline = time.monotonic() + rng.uniform(0.05, 1.0)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=RUN_TIMEOUT_S)
    assert kills >= 10
    summary = _finish(sim, tmp_path, key)
    _check(sim, tmp_path, summary)


@pytest.mark.slow
def test_restart_recovers_from_the_log_alone(sim: dict[str, Any], tmp_path: Path) -> None:
    key = "0x" + "3d" * 32
    first = _finish(sim, tmp_path, key)
    again = _finish(sim, tmp_path, key)
    assert again["recovered"] > first["recovered"]
    assert again["intents"] == first["intents"]  # nothing placed twice
    assert again["states"] == first["states"]
    _check(sim, tmp_path, again)
