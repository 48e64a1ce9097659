"""Several bot processes on one simulated wallet, sharing the risk budget on the real Redis.

Real processes over loopback: ``polyloly sim exchange --scenario pair_edge`` (static deep
asks that leave a pair edge: pair arbitrage wants to buy on every run) and two or three
``polyloly run --live-money`` with the same key, each its own instance id, all with
``REDIS_URL``. Each bot alone would spend up to ``pair_arb.max_total_cost_usdc`` (250 pUSD);
the account's caps (``risk.max_position_per_market_usdc`` = ``max_total_exposure_usdc`` =
300) are shared, so together they must stop at 300. The judge is the exchange's own record
of the account's orders (``GET /sim/orders``), polled while they trade: the combined BUY
notional never passes the cap; every order carries the instance id that signed it; no bot
adopted or canceled another's orders (their event logs); a halt on one stops every one within
a second. Then the faults: an instance killed with SIGKILL right after its reservation (before
the post) — its lease lapses, nothing is sent twice, the survivor trades on within the caps;
and the Redis server stopped mid-run — no order is sent until it is back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from tests.adapters.redis.conftest import REDIS_ENV
from tests.bot.cli_process import PROVIDERS

from polyloly.adapters.polymarket.config import Secret, signer_address
from polyloly.execution.events import (
    CancelRequested,
    KillSwitchFired,
    OrderSubmitted,
    ReconciliationCorrection,
)
from polyloly.execution.instances import instance_of
from polyloly.storage.event_log import EventLogReader

KEY = "0x" + "5c" * 32  # a throwaway test key for the local exchange
LAUNCH = "from polyloly.bot.cli import main; main()"
TOKEN = "several-instances-token-0123"
CAP = Decimal(300)  # pUSD: the account's caps, per market and in total
ALONE = Decimal(250)  # pUSD: what pair arbitrage spends when alone
RUN_LIMIT_S = 90.0
STABLE_S = 3.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set (several-instance tests need a Redis server)")
    redis.Redis.from_url(url).ping()  # set and unreachable: fail, never skip
    return url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sim:
    proc: subprocess.Popen[str]
    urls: dict[str, str]

    def orders(self) -> list[dict[str, Any]]:
        address = signer_address(Secret(KEY)).lower()
        reply = httpx.get(f"{self.urls['clob']}/sim/orders", params={"address": address}, timeout=5)
        reply.raise_for_status()
        orders: list[dict[str, Any]] = reply.json()
        return orders


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


@pytest.fixture
def sim() -> Iterator[Sim]:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-c", LAUNCH, "sim", "exchange", "--port", "0", "--scenario", "pair_edge"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    urls = dict(re.findall(r"(\w+)=(\S+)", proc.stdout.readline()))
    assert "clob" in urls, urls
    try:
        yield Sim(proc, urls)
    finally:
        _stop(proc)


@dataclass
class Bot:
    name: str
    proc: subprocess.Popen[str]
    data: Path
    log: Path
    control: str

    def started(self) -> bool:
        return "node.started" in self.log.read_text(errors="replace")

    def status(self) -> dict[str, Any]:
        reply = httpx.get(
            f"{self.control}/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
        )
        reply.raise_for_status()
        status: dict[str, Any] = reply.json()["status"]
        return status

    def post(self, path: str, body: dict[str, Any]) -> None:
        reply = httpx.post(
            f"{self.control}{path}",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        reply.raise_for_status()

    def events(self) -> list[Any]:
        return list(EventLogReader([self.data / "events"], strict=False))


def _bot(
    sim: Sim,
    root: Path,
    name: str,
    redis_url: str,
    prefix: str,
    *,
    env_extra: dict[str, str] | None = None,
    sets: dict[str, str] | None = None,
) -> Bot:
    data = root / name
    data.mkdir(exist_ok=True)
    port = _free_port()
    sets = {
        "adapters.polymarket.host": sim.urls["clob"],
        "adapters.polymarket.ws_market_url": sim.urls["market_ws"],
        "adapters.polymarket.ws_user_url": sim.urls["user_ws"],
        "adapters.polymarket.gamma_url": sim.urls["gamma"],
        "storage.event_log_dir": str(data / "events"),
        "storage.database_url": f"sqlite+aiosqlite:///{data / 'db.sqlite'}",
        "strategies.temporal_arb.enabled": "false",
        "strategies.pair_arb.max_total_cost_usdc": str(ALONE),
        "strategies.pair_arb.merge_enabled": "false",  # the exchange's orders are the exposure
        "risk.max_position_per_market_usdc": str(CAP),
        "risk.max_total_exposure_usdc": str(CAP),
        "instances.key_prefix": prefix,
        "instances.lease_s": "3",
        "metrics.enabled": "false",
        "control.port": str(port),
        "bot.tick_interval_s": "0.2",
        "bot.log_format": "json",
        **{f"adapters.esports.{p}.enabled": "false" for p in PROVIDERS},
        **(sets or {}),
    }
    args = [sys.executable, "-c", LAUNCH, "run", "--live-money", "--env", "demo"]
    args += ["--duration", str(RUN_LIMIT_S)]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYLOLY_", "POLYMARKET_"))}
    env.update(
        POLYMARKET_PRIVATE_KEY=KEY,
        REDIS_URL=redis_url,
        POLYLOLY_INSTANCE_ID=name,
        POLYLOLY_CONTROL_TOKEN=TOKEN,
    )
    env.update(env_extra or {})
    log = data / f"bot-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            args, cwd=data, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    return Bot(name, proc, data, log, f"http://127.0.0.1:{port}")


def _cli(args: list[str], redis_url: str, prefix: str, cwd: Path) -> str:
    """Run one operator command against the shared store; its standard output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYLOLY_", "POLYMARKET_"))}
    env.update(REDIS_URL=redis_url, COLUMNS="200", NO_COLOR="1")
    done = subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-c", LAUNCH, *args, "--set", f"instances.key_prefix={prefix}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _cli_json(args: list[str], redis_url: str, prefix: str, cwd: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_cli(args, redis_url, prefix, cwd))
    return result


def _usd(text: str) -> Decimal:
    return Decimal(text)


def exposure(orders: list[dict[str, Any]]) -> Decimal:
    """pUSD at risk by the exchange's records: every BUY's matched notional plus what an open
    one can still spend (no merges and no sells in these runs)."""
    total = Decimal(0)
    for o in orders:
        if o["side"] != "BUY":
            continue
        price, size, matched = _usd(o["price"]), _usd(o["original_size"]), _usd(o["size_matched"])
        total += matched * price
        if o["status"] in ("LIVE", "DELAYED"):
            total += (size - matched) * price
    return total


@dataclass
class Watch:
    """The exchange's records polled while the bots trade."""

    highest: Decimal = Decimal(0)
    polls: int = 0
    orders: list[dict[str, Any]] | None = None

    def poll(self, sim: Sim) -> list[dict[str, Any]]:
        orders = sim.orders()
        self.polls += 1
        self.highest = max(self.highest, exposure(orders))
        self.orders = orders
        return orders


def _until_started(bots: list[Bot], watch: Watch, sim: Sim, limit_s: float = RUN_LIMIT_S) -> None:
    """Poll the exchange until every bot logged its start (none may exit meanwhile)."""
    deadline = time.monotonic() + limit_s
    while not all(b.started() for b in bots):
        assert time.monotonic() < deadline, "not every bot started"
        for b in bots:
            assert b.proc.poll() is None, f"{b.name} exited: {b.log.read_text()[-3000:]}"
        watch.poll(sim)
        time.sleep(0.1)


def _until_quiet(sim: Sim, bots: list[Bot], watch: Watch, limit_s: float = RUN_LIMIT_S) -> None:
    """Poll until every bot started and the account's orders stop changing for a while."""
    deadline = time.monotonic() + limit_s
    _until_started(bots, watch, sim, limit_s)
    seen = watch.poll(sim)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = watch.poll(sim)
        if now != seen:
            seen, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= STABLE_S:
            return


def _eventually(check: Callable[[], bool], limit_s: float = 10.0) -> bool:
    """Whether ``check`` holds within ``limit_s`` (the bots learn of each other's orders
    asynchronously: the user channel, else the next reconciliation pass)."""
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _check_ownership(bots: list[Bot], orders: list[dict[str, Any]]) -> dict[str, int]:
    """Each order names the instance whose log signed it; no bot adopted or canceled another's."""
    names = {b.name for b in bots}
    by_instance: dict[str, int] = {}
    for o in orders:
        owner = instance_of(o["metadata"])
        assert owner in names, o
        by_instance[owner] = by_instance.get(owner, 0) + 1
    for b in bots:
        events = b.events()
        signed = {e.order_hash for e in events if isinstance(e, OrderSubmitted)}
        theirs = {o["id"] for o in orders if instance_of(o["metadata"]) != b.name}
        mine = {o["id"] for o in orders if instance_of(o["metadata"]) == b.name}
        assert mine <= signed, b.name  # the venue holds none of its orders its log did not sign
        assert not (signed & theirs), b.name
        adopted = [
            e.subject
            for e in events
            if isinstance(e, ReconciliationCorrection) and e.kind == "adopt_order"
        ]
        assert not set(adopted) & theirs, b.name
        canceled = {h for e in events if isinstance(e, CancelRequested) for h in e.order_hashes}
        assert not canceled & theirs, b.name
    return by_instance


@pytest.fixture
def prefix() -> Iterator[str]:
    url = _redis_url()
    name = f"polyloly:{{e2e-{uuid.uuid4().hex[:12]}}}:"
    yield name
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=name + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.parametrize("count", [2, 3])
def test_instances_on_one_wallet_share_the_caps_own_their_orders_and_halt_together(
    sim: Sim, tmp_path: Path, prefix: str, count: int
) -> None:
    url = _redis_url()
    names = ["east", "west", "north"][:count]
    # The fleet starts halted and is resumed once every instance is up, the way an operator
    # starts several bots on one wallet: otherwise the first to start could spend the caps
    # before the last one reconciled, and that one would count those trades in the balances
    # it starts from instead of seeing them as the others' orders.
    _cli(["halt", "--all-instances", "--reason", "fleet start"], url, prefix, tmp_path)
    bots = [_bot(sim, tmp_path, name, url, prefix) for name in names]
    watch = Watch()
    try:
        _until_started(bots, watch, sim)
        assert exposure(watch.poll(sim)) == 0  # halted from the start: nothing was sent
        _cli(["resume", "--all-instances"], url, prefix, tmp_path)
        _until_quiet(sim, bots, watch)
        orders = watch.poll(sim)
        # the caps are the account's: together they stop at 300, alone one would spend 250
        assert watch.highest <= CAP, watch.highest
        assert exposure(orders) > ALONE, exposure(orders)  # more than one instance traded
        by_instance = _check_ownership(bots, orders)
        assert len(by_instance) >= 2, by_instance
        for b in bots:
            status = b.status()
            assert status["instance"]["id"] == b.name
            assert status["instance"]["budget_available"] is True
            # it saw the others' orders on the shared account (user channel, reconciliation)
            # and reported them, never adopted
            assert _eventually(lambda b=b: b.status()["instance"]["foreign_orders"] > 0), b.name
        # the operator's view of every instance, from the shared store
        listed = _cli_json(["status", "--all-instances"], url, prefix, tmp_path)
        assert {i["id"] for i in listed["instances"]} == set(names)
        assert all(i["alive"] for i in listed["instances"])
        assert listed["halted"] is None
        shown = sum(Decimal(i["exposure"]) for i in listed["instances"])
        assert ALONE < shown <= CAP + 10  # published at cost, fees included
        # a halt on one reaches every one within a second
        sent = time.monotonic()
        bots[0].post("/halt", {"reason": "e2e halt", "all_instances": True})
        pending = {b.name: b for b in bots}
        halted_after: dict[str, float] = {}
        while pending and time.monotonic() - sent < 5:
            for name, b in list(pending.items()):
                if b.status().get("halted"):
                    del pending[name]
                    halted_after[name] = time.monotonic() - sent
            time.sleep(0.02)
        elapsed = time.monotonic() - sent
        assert not pending, f"not halted after {elapsed:.2f} s: {sorted(pending)}"
        assert elapsed < 1.0, elapsed
        for b in bots:
            assert _stop(b.proc) == 0, b.log.read_text()[-3000:]
        for b in bots:
            fired = [
                e for e in b.events() if isinstance(e, KillSwitchFired) and "e2e halt" in e.reason
            ]
            assert fired, b.name
    finally:
        for b in bots:
            _stop(b.proc)
    sys.stderr.write(
        f"{count} instances: highest {watch.highest} pUSD over {watch.polls} polls, "
        f"orders {by_instance}, halted after {halted_after}\n"
    )


def test_a_killed_instance_loses_its_reservation_and_the_survivor_trades_within_the_caps(
    sim: Sim, tmp_path: Path, prefix: str
) -> None:
    url = _redis_url()
    # both start together; the test-only crash point kills one with SIGKILL at its second
    # order, reserved in the shared budget but not posted
    crashed = _bot(
        sim, tmp_path, "doomed", url, prefix, env_extra={"POLYLOLY_CRASH_AT": "before_post:2"}
    )
    survivor = _bot(sim, tmp_path, "survivor", url, prefix)
    client = redis.Redis.from_url(url, decode_responses=True)
    watch = Watch()
    try:
        deadline = time.monotonic() + RUN_LIMIT_S
        while crashed.proc.poll() is None and time.monotonic() < deadline:
            watch.poll(sim)
            time.sleep(0.02)
        killed_at = time.monotonic()
        held = client.hgetall(prefix + "res")
        assert crashed.proc.returncode == -signal.SIGKILL, crashed.log.read_text()[-3000:]
        assert any("|doomed|" in v for v in held.values()), held  # reserved, then killed
        _until_quiet(sim, [survivor], watch)
        assert time.monotonic() - killed_at > 3.0  # the lease (instances.lease_s) has passed
        orders = watch.poll(sim)
        assert watch.highest <= CAP, watch.highest
        ids = [o["id"] for o in orders]
        assert len(ids) == len(set(ids))  # nothing sent twice
        doomed = [o for o in orders if instance_of(o["metadata"]) == "doomed"]
        assert len(doomed) == 1  # its second order was never posted (the survivor alone
        # takes at most 250 of the 300: the doomed one always has room for two orders)
        assert [o for o in orders if instance_of(o["metadata"]) == "survivor"]
        now_s, now_us = client.time()
        live = [
            v
            for v in client.hgetall(prefix + "res").values()
            if "|doomed|" in v and int(v.split("|")[0]) > now_s * 1000 + now_us // 1000
        ]
        assert not live  # its lease lapsed (a lapsed entry is dropped by the next check)
        _check_ownership([crashed, survivor], orders)
        assert _stop(survivor.proc) == 0
    finally:
        _stop(survivor.proc)
        _stop(crashed.proc, signal.SIGKILL)
        client.close()


def test_redis_stopped_mid_run_stops_new_orders_until_it_returns(sim: Sim, tmp_path: Path) -> None:
    _redis_url()  # this test runs its own server (the shared one is never stopped)
    server = shutil.which("redis-server")
    assert server, "redis-server is needed for this test"
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def start_redis() -> subprocess.Popen[str]:
        proc = subprocess.Popen(  # noqa: S603 - the system's redis-server, loopback only
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(url).ping()
                return proc
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    store = start_redis()
    prefix = "polyloly:{down}:"
    # a slow bot: one small step at a time, so that it is mid-run when the server stops
    bot = _bot(
        sim,
        tmp_path,
        "lonely",
        url,
        prefix,
        sets={"strategies.pair_arb.step_usdc": "12"},
    )
    try:
        deadline = time.monotonic() + RUN_LIMIT_S
        while not sim.orders() and time.monotonic() < deadline:
            assert bot.proc.poll() is None, bot.log.read_text()[-3000:]
            time.sleep(0.05)
        _stop(store, signal.SIGKILL)  # the server dies mid-run
        time.sleep(1.0)  # orders in flight when it died are answered by now
        frozen = len(sim.orders())
        time.sleep(3.0)
        assert len(sim.orders()) == frozen  # no order without a reservation
        status = bot.status()
        assert status["instance"]["budget_available"] is False
        store = start_redis()  # back, empty: the budget is rebuilt from the ledger
        watch = Watch()
        _until_quiet(sim, [bot], watch)
        orders = watch.poll(sim)
        assert len(orders) > frozen  # trading resumed
        assert watch.highest <= CAP
        assert bot.status()["instance"]["budget_available"] is True
        client = redis.Redis.from_url(url, decode_responses=True)
        published = client.hgetall(prefix + "pos:lonely")
        client.close()
        assert published  # the positions were published again after the restart
        assert _stop(bot.proc) == 0
    finally:
        _stop(bot.proc)
        _stop(store)
