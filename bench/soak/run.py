"""One seed of the soak: the world, the bot process, the faults and kills, the final audit.

Timeline of :func:`run_seed`:

1. the harness serves the simulators (:class:`~bench.soak.world.SoakWorld`) and starts the
   bot (``polyloly run --live-money``, :class:`~bench.soak.botproc.BotProcess`);
2. over the scenarios' games it injects the planned faults, SIGKILLs the bot at the planned
   moments (half timed on an order) and restarts it after a short pause (a start that
   fails is retried), and acts as the operator (:mod:`bench.soak.operator`): a halted bot
   is resumed over its control API, a bot whose feed stays down is restarted;
3. once every market is resolved it clears the faults, waits until every trade of the bot
   is final on the exchange, stops the bot with SIGTERM, starts it once more — its start-up
   reconciliation is the final reconcile — and stops it again;
4. the exchange's records are compared with the bot's event log
   (:mod:`bench.soak.audit`), and every file the run left is scanned for the bot's secrets.

Everything random comes from the seed (faults, kills, the bot's key); the world and the
bot run on the wall clock, so two runs of a seed share their plan, not their interleaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import secrets
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account

from bench.soak.audit import (
    BalanceAudit,
    DuplicateAudit,
    FillAudit,
    HaltAudit,
    audit_balances,
    audit_duplicates,
    audit_fills,
    audit_halts,
    same_params_baseline,
)
from bench.soak.botproc import BotProcess, Session, bot_command
from bench.soak.chaos import FaultInjector, KillSpec, plan_faults, plan_kills
from bench.soak.config import SoakConfig
from bench.soak.leaks import Leak, scan_for_secrets
from bench.soak.operator import Operator, can_halt
from bench.soak.records import read_bot_log
from polyloly.bot.control import ControlClient
from polyloly.runtime.clock import NS_PER_S, LiveClock
from polyloly.storage.event_log import EventLogReader

__all__ = ["SeedResult", "run_seed"]

_ORDER_SUBMITTED = b'"order_submitted"'


@dataclass(slots=True)
class SeedResult:
    """Everything one seed measured (the audit's inputs are in ``out_dir``)."""

    seed: int
    out_dir: Path
    duration_s: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)
    operator: Operator | None = None
    orders: int = 0
    fills: int = 0
    final_reconcile: str = "not run"
    duplicates: DuplicateAudit = field(default_factory=DuplicateAudit)
    baseline_repeats: int = 0
    fill_audit: FillAudit = field(default_factory=FillAudit)
    balances: BalanceAudit = field(default_factory=BalanceAudit)
    halts: HaltAudit = field(default_factory=HaltAudit)
    leaks: list[Leak] = field(default_factory=list)
    files_scanned: int = 0
    aborted: str = ""

    @property
    def failed_starts(self) -> list[Session]:
        """Starts that never became ready."""
        return [s for s in self.sessions if not s.ready]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bot_key(seed: int) -> str:
    """The bot's throwaway key, from the seed (the same seed, the same address)."""
    return "0x" + hashlib.sha256(f"polyloly-soak:{seed}".encode()).hexdigest()


class _Run:
    def __init__(self, cfg: SoakConfig, seed: int, out: Path) -> None:
        self.cfg = cfg
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = LiveClock()
        self.out = out
        self.data = (out / "data").resolve()  # the bot's cwd: its paths must not be relative
        self.data.mkdir(parents=True, exist_ok=True)
        self.journal = (out / "journal.jsonl").open("a", encoding="utf-8")
        self.result = SeedResult(seed=seed, out_dir=out)
        self.stopping = asyncio.Event()
        self.injector: FaultInjector | None = None
        self.lifecycle = asyncio.Lock()  # one kill, restart or operator restart at a time

    def note(self, what: str, **fields: Any) -> None:
        row = {"ts_ns": self.clock.now_ns(), "what": what, **fields}
        self.journal.write(json.dumps(row, default=str) + "\n")
        self.journal.flush()

    # -- starting -------------------------------------------------------------------------

    def http_disturbed_ns(self) -> int:
        """When the venue's HTTP API was last disturbed: now while an injected error or hang
        is still armed, else the onset of the last one (0: never)."""
        injector = self.injector
        if injector is None:
            return 0
        if injector.faults.state()["http"]:
            return int(injector.clock.now_ns())
        records = injector.records
        return max((r.onset_ns for r in records if r.kind.startswith("http_")), default=0)

    async def start_bot(self, bot: BotProcess, attempts: int | None = None) -> bool:
        """Start the bot, retrying a start that fails; whether it is up."""
        for attempt in range(attempts or self.cfg.start_attempts):
            if attempt:
                await asyncio.sleep(1.0)
            session = await bot.start(self.cfg.ready_timeout_s, self.http_disturbed_ns)
            self.note(
                "start",
                session=session.index,
                ready=session.ready,
                exit_code=session.exit_code,
                log=session.log.name,
            )
            if session.ready:
                return True
        return False

    # -- kills ----------------------------------------------------------------------------

    async def kill_loop(self, bot: BotProcess, world: Any, plan: list[KillSpec]) -> None:
        loop = asyncio.get_running_loop()
        t0 = up = loop.time()
        for spec in plan:
            delay = max(t0 + spec.at_s, up + self.cfg.min_uptime_s) - loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), max(delay, 0.0))
            if self.stopping.is_set():
                return
            if not bot.running:
                continue  # being restarted by the operator, or a failed restart
            mode, victim = await self.kill(bot, world, spec.mode)
            if victim is None:
                up = loop.time()
                continue  # the operator restarted it meanwhile: no kill this time
            self.result.kills[mode] = self.result.kills.get(mode, 0) + 1
            async with self.lifecycle:
                if bot.current is not victim:
                    up = loop.time()
                    continue  # the operator restarted it in between: it is up again
                await bot.reap()
                await asyncio.sleep(self.rng.uniform(*self.cfg.restart_delay_s))
                started = await self.start_bot(bot)
            up = loop.time()
            if not started:
                self.result.aborted = "the bot did not restart"
                self.stopping.set()
                return

    async def kill(self, bot: BotProcess, world: Any, mode: str) -> tuple[str, Session | None]:
        """SIGKILL the bot as ``mode`` says: the mode it was killed by, and the session.

        A kill timed on an order waits for one (the operator keeps resuming a halted bot
        meanwhile). It never strikes while the operator is restarting the bot, and if the
        operator restarted it during the wait there is no kill (``None``): the new process
        gets its uptime first.
        """
        armed = bot.current
        killed: list[Session] = []
        loop = asyncio.get_running_loop()

        def now(_order_id: str = "") -> None:
            session = bot.current
            if killed or self.lifecycle.locked() or session is not armed:
                return
            if bot.kill(mode) and session is not None:
                killed.append(session)
                done.set()

        def later(_order_id: str) -> None:
            loop.call_later(self.rng.uniform(0.002, 0.05), now)

        done = asyncio.Event()
        if mode != "random":
            hook = {"post": now, "reply": later}.get(mode)
            tail: asyncio.Task[None] | None = None
            if hook is not None:
                world.watch.on_order.append(hook)
            else:
                tail = loop.create_task(self.tail_submitted(now))
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), self.cfg.order_kill_wait_s)
            finally:
                if hook is not None:
                    world.watch.on_order.remove(hook)
                if tail is not None:
                    tail.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await tail
            if not killed:
                mode = f"{mode}-no-order"  # no order came in time: a random kill after all
        if not killed:
            async with self.lifecycle:
                if bot.current is armed and armed is not None and bot.kill(mode):
                    killed.append(armed)
        self.note("kill", mode=mode, killed=bool(killed))
        return mode, (killed[0] if killed else None)

    async def tail_submitted(self, kill: Any) -> None:
        """Call ``kill`` as soon as the bot's event log gains an ``order_submitted`` line."""
        events = self.data / "events"
        sizes = {p: p.stat().st_size for p in events.glob("events-*.jsonl")}
        while True:
            for path in events.glob("events-*.jsonl"):
                start, size = sizes.get(path, 0), path.stat().st_size
                if size > start:
                    with path.open("rb") as fh:
                        fh.seek(start)
                        chunk = fh.read(size - start)
                    sizes[path] = size
                    if _ORDER_SUBMITTED in chunk:
                        kill()
                        return
            await asyncio.sleep(0.002)

    # -- faults and the operator ------------------------------------------------------------

    async def fault_loop(self, injector: FaultInjector, span_s: float) -> None:
        t0 = asyncio.get_running_loop().time()
        for spec in plan_faults(self.rng, self.cfg.faults, span_s):
            delay = t0 + spec.at_s - asyncio.get_running_loop().time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), max(delay, 0.0))
            if self.stopping.is_set():
                return
            record = injector.inject(spec)
            self.note("fault", kind=record.kind, args=record.args)
            self.result.faults[spec.kind] = self.result.faults.get(spec.kind, 0) + 1

    async def operator_loop(self, bot: BotProcess, op: Operator) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(0.5)
            if self.lifecycle.locked() or not bot.running:
                op.reset()
                continue
            stuck = await op.poll()
            if stuck is None:
                continue
            async with self.lifecycle:
                self.note(
                    "operator restart", feed=stuck.feed, state=stuck.state, down_s=stuck.down_s
                )
                await bot.terminate()
                if not await self.start_bot(bot):
                    self.result.aborted = "the bot did not restart"
                    self.stopping.set()
            op.reset()


async def run_seed(cfg: SoakConfig, seed: int, out: Path) -> SeedResult:
    """Run one seed of the soak (see module docstring); never raises on a bad bot."""
    from bench.soak.world import SoakWorld

    run = _Run(cfg, seed, out)
    result, clock = run.result, run.clock
    t_start = clock.monotonic_ns()
    world = SoakWorld(seed=seed, scenario_s=cfg.scenario_s, warmup_s=cfg.warmup_s, clock=clock)
    world.exchange.faults.hang_s = cfg.hang_s
    key = _bot_key(seed)
    world.address = Account.from_key(key).address
    token = secrets.token_urlsafe(24)
    port = _free_port()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    await world.start()
    bot = BotProcess(
        bot_command(world.bot_overrides(run.data, port)),
        {"POLYMARKET_PRIVATE_KEY": key, "POLYLOLY_CONTROL_TOKEN": token},
        cwd=run.data,
        log_dir=logs,
        clock=clock,
    )
    run.note("seed", seed=seed, address=world.address, command=bot.cmd, config=asdict(cfg))
    injector = run.injector = FaultInjector(world.exchange.faults, world.watch, clock)
    try:
        if not await run.start_bot(bot):
            result.aborted = "the bot did not start"
        else:
            span_s = max((world.demo.end_ns - clock.now_ns()) / NS_PER_S - 3.0, 5.0)
            # orders come while the games are played: kills timed on one need them
            kills = plan_kills(run.rng, run.rng.randint(*cfg.kills), span_s * 0.8)
            client = ControlClient(f"http://127.0.0.1:{port}", token, timeout_s=3.0)
            op = Operator(client, clock, injector.records, cfg.hold_s, cfg.stuck_s)
            tasks = [
                asyncio.create_task(run.fault_loop(injector, span_s)),
                asyncio.create_task(run.kill_loop(bot, world, kills)),
                asyncio.create_task(run.operator_loop(bot, op)),
            ]
            deadline = world.demo.end_ns + 30 * NS_PER_S
            while True:  # polled: "done" is the scenario's clock, not an event
                if world.done or run.stopping.is_set() or clock.now_ns() > deadline:
                    break
                await asyncio.sleep(0.2)
            run.stopping.set()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, Exception):  # a harness bug: say so, never hide it
                    result.aborted = f"harness error: {type(outcome).__name__}: {outcome}"
                    run.note("harness error", error=repr(outcome))
            result.operator = op
            injector.clear()
            run.note("faults cleared")
            await _final(run, bot, world)
    finally:
        await bot.terminate()
        result.sessions = list(bot.sessions)
        records = world.records()
        leak_secrets = {"private key": key, "control token": token, **world.secrets()}
        await world.stop()
        run.journal.close()
    (out / "exchange.json").write_text(
        json.dumps(asdict(records), indent=1, sort_keys=True), encoding="utf-8"
    )
    _audit(run, records, injector, leak_secrets)
    result.duration_s = (clock.monotonic_ns() - t_start) / NS_PER_S
    return result


async def _final(run: _Run, bot: BotProcess, world: Any) -> None:
    """Settle, stop, start once more (the final reconcile), stop."""
    cfg, result = run.cfg, run.result
    if not bot.running and not result.aborted and not await run.start_bot(bot):
        result.aborted = "the bot did not restart"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + cfg.settle_s
    while True:
        if world.trades_settled() or loop.time() >= deadline:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # the bot hears the last confirmations
    await bot.terminate()
    run.note("stopped", session=bot.current.index if bot.current else 0)
    if result.aborted:
        return
    up = await run.start_bot(bot, attempts=1)
    result.final_reconcile = "started" if up else "refused to start"
    if up:
        await asyncio.sleep(2.0)
    await bot.terminate()


def _audit(run: _Run, records: Any, injector: FaultInjector, leak_secrets: dict[str, str]) -> None:
    result = run.result
    kills = sorted(s.ended_ns for s in result.sessions if s.killed and s.ended_ns is not None)
    events = run.data / "events"
    log = EventLogReader([events], strict=False) if events.is_dir() else []
    view = read_bot_log(log, kills)
    result.orders = len(records.orders)
    result.fills = sum(1 for f in records.fills if f.counts)
    result.duplicates = audit_duplicates(view, records, kills)
    result.baseline_repeats = same_params_baseline(view, records, kills)
    result.fill_audit = audit_fills(view, records)
    result.balances = audit_balances(view, records)
    result.halts = audit_halts(view, injector.records, can_halt)
    last = [r for r in view.reconciliations if view.sessions and r[0] >= view.sessions[-1]]
    if result.final_reconcile == "started" and last:
        ok = all(r[1] for r in last)
        checked = any(r[2] for r in last)
        result.final_reconcile = (
            "ok" if ok and checked else ("ok, balances unchecked" if ok else "failed")
        )
    files = [p for p in run.out.rglob("*") if p.is_file()]
    result.files_scanned = len(files)
    result.leaks = scan_for_secrets(files, leak_secrets)
