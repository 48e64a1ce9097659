"""The whole bot, killed at each point of an order's life and restarted: one order per decision.

Real processes over loopback: ``polyloly sim exchange --scenario pair_edge`` (a market whose
static asks leave a pair edge, so pair arbitrage makes the same decisions every run) and
``polyloly run --live-money`` against it. A reference run trades undisturbed until the
strategy is done. Then one history on one exchange: a process is killed with SIGKILL by a
test-only crash point (``POLYLOLY_CRASH_AT``, :mod:`polyloly.bot.crashpoints`) at its second
order before the post; the next one, restarted on the same event log, after the post (the
venue has it, no reply handled); the next after the reply (handled, the log not flushed); a
last one runs to the end. After every crash the exchange's own records (``GET /sim/orders``)
hold a prefix of the reference's orders, and at the end exactly the reference's: every
decision placed once, none placed twice, none lost, each order one the bot's log signed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.bot.cli_process import PROVIDERS

from polyloly.adapters.polymarket.config import Secret, signer_address
from polyloly.execution.events import ExecutionAnomaly, OrderSubmitted
from polyloly.storage.event_log import EventLogReader

KEY = "0x" + "7e" * 32  # a throwaway test key for the local exchange
LAUNCH = "from polyloly.bot.cli import main; main()"
STABLE_S = 3.0  # the exchange's records unchanged this long: the strategy is done
RUN_LIMIT_S = 60.0
CHAIN = ("before_post", "after_post", "after_reply")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@dataclass
class Sim:
    proc: subprocess.Popen[str]
    urls: dict[str, str]

    def orders(self, address: str) -> list[dict[str, Any]]:
        reply = httpx.get(
            f"{self.urls['clob']}/sim/orders", params={"address": address.lower()}, timeout=5
        )
        reply.raise_for_status()
        orders: list[dict[str, Any]] = reply.json()
        return orders


def _start_sim() -> Sim:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-c", LAUNCH, "sim", "exchange", "--port", "0", "--scenario", "pair_edge"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    urls = dict(re.findall(r"(\w+)=(\S+)", line))
    assert "clob" in urls, line
    return Sim(proc, urls)


def _stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


@pytest.fixture
def sim() -> Iterator[Sim]:
    started = _start_sim()
    try:
        yield started
    finally:
        _stop(started.proc)


@dataclass
class Bot:
    proc: subprocess.Popen[str]
    stderr: Path

    def started(self) -> bool:
        """Whether the node reported itself started (reconciled, feeds on)."""
        return "node.started" in self.stderr.read_text(errors="replace")


def _bot(sim: Sim, data: Path, crash_at: str = "") -> Bot:
    sets = {
        "adapters.polymarket.host": sim.urls["clob"],
        "adapters.polymarket.ws_market_url": sim.urls["market_ws"],
        "adapters.polymarket.ws_user_url": sim.urls["user_ws"],
        "adapters.polymarket.gamma_url": sim.urls["gamma"],
        "storage.event_log_dir": str(data / "events"),
        "storage.database_url": f"sqlite+aiosqlite:///{data / 'db.sqlite'}",
        "strategies.temporal_arb.enabled": "false",
        "strategies.pair_arb.max_total_cost_usdc": "250",
        "metrics.enabled": "false",
        "control.enabled": "false",
        "bot.tick_interval_s": "0.2",
        "bot.log_format": "json",
        **{f"adapters.esports.{p}.enabled": "false" for p in PROVIDERS},
    }
    args = [sys.executable, "-c", LAUNCH, "run", "--live-money", "--env", "demo"]
    args += ["--duration", str(RUN_LIMIT_S)]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYLOLY_", "POLYMARKET_"))}
    env["POLYMARKET_PRIVATE_KEY"] = KEY
    if crash_at:
        env["POLYLOLY_CRASH_AT"] = crash_at
    stderr = data / f"bot-{time.monotonic_ns()}.log"
    with stderr.open("w") as err:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            args, cwd=data, env=env, stdout=err, stderr=subprocess.STDOUT, text=True
        )
    return Bot(proc, stderr)


def _until_done(sim: Sim, bot: Bot, address: str) -> list[dict[str, Any]]:
    """Once the bot started, wait until the exchange's records of our orders stop changing
    for a while (the strategy is done); then stop the bot as an operator would."""
    deadline = time.monotonic() + RUN_LIMIT_S
    while not bot.started() and bot.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    seen = sim.orders(address)
    stable_since = time.monotonic()
    while time.monotonic() < deadline and bot.proc.poll() is None:
        time.sleep(0.2)
        now = sim.orders(address)
        if now != seen:
            seen, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= STABLE_S:
            break
    assert bot.proc.poll() is None, f"the bot exited early ({bot.proc.returncode})"
    assert _stop(bot.proc) == 0
    return sim.orders(address)


def _decisions(orders: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(o["asset_id"], o["side"], o["price"], o["original_size"]) for o in orders]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str, str]]:
    """What the strategy places on this market when nothing goes wrong."""
    started = _start_sim()
    try:
        data = tmp_path_factory.mktemp("reference")
        orders = _until_done(started, _bot(started, data), signer_address(Secret(KEY)))
    finally:
        _stop(started.proc)
    assert len(orders) >= 8  # enough decisions for three crashes at a process's second order
    assert all(o["status"] == "MATCHED" for o in orders)
    return _decisions(orders)


def test_a_bot_killed_at_every_point_of_an_orders_life_places_one_order_per_decision(
    sim: Sim, tmp_path: Path, reference: list[tuple[str, str, str, str]]
) -> None:
    address = signer_address(Secret(KEY))
    for point in CHAIN:  # one history, three crashes: each process dies at its second order
        crashed = _bot(sim, tmp_path, crash_at=f"{point}:2")
        try:
            crashed.proc.wait(timeout=RUN_LIMIT_S)
        finally:
            if crashed.proc.poll() is None:
                crashed.proc.kill()
        assert crashed.proc.returncode == -signal.SIGKILL, f"{point}: the crash point did not fire"
        assert f"crash point {point} #2" in crashed.stderr.read_text()
        placed = _decisions(sim.orders(address))
        # Every time: what the exchange holds is the reference's first decisions, each once.
        assert placed == reference[: len(placed)], point

    orders = _until_done(sim, _bot(sim, tmp_path), address)

    # The exchange's own records: every decision exactly once, nothing else.
    assert _decisions(orders) == reference
    assert all(o["status"] == "MATCHED" for o in orders)
    signed: dict[str, set[str]] = {}
    anomalies: list[str] = []
    for event in EventLogReader([tmp_path / "events"], strict=False):
        if isinstance(event, OrderSubmitted):
            signed.setdefault(event.client_id, set()).add(event.order_hash)
        elif isinstance(event, ExecutionAnomaly):
            anomalies.append(event.kind)
    assert all(len(hashes) == 1 for hashes in signed.values()), signed  # one order per id
    ours = {h for hashes in signed.values() for h in hashes}
    assert {o["id"] for o in orders} <= ours  # the venue holds no order the log never signed
    assert "illegal_order_transition" not in anomalies, anomalies
    assert "duplicate_intent" not in anomalies, anomalies
