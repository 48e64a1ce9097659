"""One risk budget for several instances on one account, and the kill switch they share.

Each instance enforces the risk rules on its own ledger (:mod:`~polyloly.execution.
risk_gate`); alone, that is the whole story. With several instances on one wallet the caps
the operator set — exposure per market and in total, the day's loss — are the account's,
so every order also **reserves** its notional in a shared budget before it is sent:

* :meth:`RiskBudget.reserve` checks and reserves in one atomic step (on Redis, one server
  script): two instances can never both pass a cap that one alone would hit. It also reads
  the shared halt key, so a halt from anywhere refuses the very next order.
* A reservation is a **lease**: it expires unless its instance renews it. An instance that
  dies loses its reservations after ``lease_ms``.
* :meth:`RiskBudget.sync` publishes what the instance's ledger (reconciled against the
  exchange) holds — positions at cost and open BUY orders' remaining notional per market,
  today's PnL — and drops the reservations that ledger now covers. It is the heartbeat: it
  renews the instance's leases. Published figures count until the instance publishes again,
  whether or not it runs: its positions are the account's, and its resting orders stay on
  the book (the venue's heartbeat is the account's API key's, which the other instances keep
  alive). What lapses with a dead instance is what it reserved and never published.

The arithmetic is :func:`decide` (pure): the in-memory budget in :mod:`polyloly.testing`
and the Redis script implement it, and a property test holds both to it.

:class:`BudgetKeeper` is the kernel component: it reserves for the order manager, syncs on
every exposure change and on the clock, turns the shared switch's messages into operator
commands, and treats the budget's store being unreachable as a fault — no order is sent
(fail closed), an alert goes out, and (``on_down="cancel"``) a ``FeedStatus`` of source
``risk_budget`` makes the kill switch cancel this instance's orders until it is back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import msgspec

from polyloly.domain.events import FeedState, FeedStatus, OperatorCommand, Side, TimerTick
from polyloly.execution.aggregates import order_exposure
from polyloly.execution.events import KillSwitchFired
from polyloly.execution.pnl import day_of
from polyloly.execution.ports import Alert, AlertLevel, AlertPort, SignedOrder
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_MS
from polyloly.runtime.errors import PolylolyError
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.tasks import TaskOwner

__all__ = [
    "BUDGET_SOURCE",
    "SHARED_PREFIX",
    "BudgetKeeper",
    "BudgetLimits",
    "BudgetView",
    "Grant",
    "InstanceDirectory",
    "InstanceInfo",
    "InstanceReport",
    "KeeperConfig",
    "RiskBudget",
    "SharedSwitch",
    "decide",
]

_SETTLE_NS = 60 * 1_000_000_000
"""How long a closed order's matched size waits for its fills before it stops counting."""

BUDGET_SOURCE = "risk_budget"
"""``FeedStatus.source`` of the shared budget's store (an esports-class feed to the gate)."""
SHARED_PREFIX = "all instances: "
"""Reason prefix of operator commands that came from the shared switch (never re-published)."""


class BudgetLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The account's caps (micros) and the lease of a reservation."""

    max_total: int
    max_market: int
    max_daily_loss: int
    lease_ms: int = 15_000


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    """A reservation's answer: ``ok``, else ``reason`` (``halted``, ``total``, ``market``,
    ``daily_loss``); ``total`` / ``market`` are the reserved sums after (or at) the check."""

    ok: bool
    reason: str = ""
    detail: str = ""
    total: int = 0
    market: int = 0


class InstanceReport(msgspec.Struct, frozen=True, kw_only=True):
    """What one instance publishes on each sync (its heartbeat)."""

    instance: str
    day: str
    daily_pnl: int
    positions: dict[str, int] = msgspec.field(default_factory=dict)
    open_orders: dict[str, int] = msgspec.field(default_factory=dict)
    covered: tuple[str, ...] = ()
    """Reservations the published figures now include (dropped)."""
    halted: str = ""


class InstanceInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One instance as the shared store knows it (``polyloly status --all-instances``)."""

    instance: str
    alive: bool
    last_heartbeat_ms: int
    daily_pnl: int = 0
    positions: dict[str, int] = msgspec.field(default_factory=dict)
    open_orders: dict[str, int] = msgspec.field(default_factory=dict)
    reserved: int = 0
    halted: str = ""

    @property
    def exposure(self) -> int:
        """Positions at cost plus open BUY notional plus live reservations."""
        return sum(self.positions.values()) + sum(self.open_orders.values()) + self.reserved

    @property
    def markets(self) -> list[str]:
        """Markets where the instance holds something or has an order open."""
        return sorted(set(self.positions) | set(self.open_orders))


class RiskBudget(Protocol):
    """Reserves before an order, publishes the ledger after (raises ``RetryableError``
    when the store is unreachable)."""

    async def reserve(self, order_hash: str, market: str, amount: int, day: str) -> Grant:
        """Check the caps and the halt key; reserve ``amount`` for ``order_hash`` if they allow."""
        ...

    async def sync(self, report: InstanceReport) -> None:
        """Publish the instance's figures, drop covered reservations, renew its leases."""
        ...


class SharedSwitch(Protocol):
    """The kill switch every instance obeys: a persistent key and a broadcast."""

    async def set_halt(self, reason: str) -> None:
        """Halt every instance (``reason`` ``""`` resumes them)."""
        ...

    async def halted(self) -> str:
        """The shared halt's reason, ``""`` when not halted."""
        ...

    async def watch(self, on_message: Callable[[str, str], None]) -> None:
        """Call ``on_message(command, reason)`` for each halt/resume broadcast (runs until
        cancelled; raises ``RetryableError`` when the connection is lost)."""
        ...


class InstanceDirectory(Protocol):
    """Every instance the shared store has heard of."""

    async def instances(self) -> list[InstanceInfo]:
        """Each instance's last published figures and heartbeat."""
        ...


# ---------------------------------------------------------------------------------------------
# The arithmetic
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetView:
    """What a reservation is checked against (every figure in micros).

    ``reservations``: live (unexpired) reservations, order hash -> (market, amount);
    ``positions`` / ``open_orders``: per instance, market -> amount, as last published;
    ``daily_pnl``: per instance, today.
    """

    reservations: Mapping[str, tuple[str, int]]
    positions: Mapping[str, Mapping[str, int]]
    open_orders: Mapping[str, Mapping[str, int]]
    daily_pnl: Mapping[str, int]
    halted: str = ""


def decide(
    view: BudgetView, order_hash: str, market: str, amount: int, limits: BudgetLimits
) -> Grant:
    """Whether reserving ``amount`` in ``market`` keeps the account within ``limits``.

    A hash already reserved is granted again without counting twice (a retried call).
    A zero amount (a SELL) only checks the halt and the day's loss.
    """
    if view.halted:
        return Grant(ok=False, reason="halted", detail=view.halted)
    pnl = sum(view.daily_pnl.values())
    if pnl <= -limits.max_daily_loss:
        return Grant(ok=False, reason="daily_loss", detail=str(pnl))
    total = in_market = 0
    for res_market, res_amount in view.reservations.values():
        total += res_amount
        if res_market == market:
            in_market += res_amount
    for figures in (*view.positions.values(), *view.open_orders.values()):
        for fig_market, fig_amount in figures.items():
            total += fig_amount
            if fig_market == market:
                in_market += fig_amount
    if order_hash in view.reservations:
        return Grant(ok=True, total=total, market=in_market)
    if total + amount > limits.max_total:
        return Grant(ok=False, reason="total", total=total, market=in_market)
    if in_market + amount > limits.max_market:
        return Grant(ok=False, reason="market", total=total, market=in_market)
    return Grant(ok=True, total=total + amount, market=in_market + amount)


def reserve_amount(order: SignedOrder) -> int:
    """What an order can add to exposure: a BUY's notional (rounded up), 0 for a SELL."""
    spec = order.spec
    if spec.side is not Side.BUY:
        return 0
    return -(-spec.size * spec.price // 1_000_000)


# ---------------------------------------------------------------------------------------------
# The kernel component
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeeperConfig:
    """The instance and what to do while the store is unreachable.

    ``on_down``: ``cancel`` — the kill switch cancels this instance's resting orders (they
    are no longer reserved once the leases lapse) and clears itself once the store is back
    and a reconciliation pass succeeded; ``keep`` — resting orders stay, only new orders
    wait. ``sync_every_ms``: the heartbeat period (a third of the lease by default).
    """

    instance: str
    limits: BudgetLimits
    on_down: Literal["cancel", "keep"] = "cancel"
    sync_every_ms: int = 0


@dataclass(slots=True)
class _KeeperStats:
    reserves: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    unavailable: int = 0
    syncs: int = 0
    sync_failures: int = 0
    shared_halts: int = 0


class BudgetKeeper:
    """Reserves every order, publishes the ledger, and relays the shared kill switch."""

    def __init__(
        self,
        kernel: Kernel,
        state: ExecutionState,
        *,
        budget: RiskBudget,
        switch: SharedSwitch,
        alerts: AlertPort,
        tasks: TaskOwner,
        config: KeeperConfig,
    ) -> None:
        self.kernel = kernel
        self.state = state
        self.budget = budget
        self.switch = switch
        self.alerts = alerts
        self.tasks = tasks
        self.config = config
        self.stats = _KeeperStats()
        self.available: bool | None = None  # None until the first call answers
        self._granted: set[str] = set()
        self._tracked: dict[str, int] = {}
        """Granted BUY orders whose fills the ledger has not all seen yet -> when they closed
        (0 while open): the venue can report an order MATCHED before its trade arrives, and
        until then neither the open orders nor the positions hold it."""
        self._held: dict[str, bool] = {}
        """Pre-decided orders reserved while armed, not sent: hash -> granted (False while
        the reservation is on its way). Never ``covered`` until sent or released."""
        self._release: set[str] = set()  # held reservations to drop at the next sync
        self._awaiting: set[str] = set()
        self._deferred = False
        """Orders logged but not reserved yet: never sent so far, so not published either
        (their reservation counts them once granted)."""
        self._syncing = False
        self._dirty = False
        self._last_sync_ns = 0
        self._watching = False
        self._watcher = TaskOwner()  # long-running: outside ``tasks``, which tests drain

    @property
    def sync_every_ns(self) -> int:
        """The heartbeat period in nanoseconds."""
        every = self.config.sync_every_ms or max(self.config.limits.lease_ms // 3, 100)
        return every * NS_PER_MS

    def attach(self) -> None:
        """Subscribe to the clock, operator commands and the kill switch."""
        self.kernel.subscribe(TimerTick, self._on_tick)
        self.kernel.subscribe(OperatorCommand, self._on_operator)
        self.kernel.subscribe(KillSwitchFired, self._on_fired)

    def on_signed(self, order_hash: str) -> None:
        """The order manager is about to log this order: it waits for its reservation (a
        sync now would publish without it and run ahead of it)."""
        self._awaiting.add(order_hash)

    def start(self) -> None:
        """Read the shared halt, start the broadcast watch and the first sync."""
        self._start_watch()
        self.request_sync()

    async def stop(self) -> None:
        """Stop watching the shared switch."""
        await self._watcher.stop()

    # -- reserving (the order manager's hook) ----------------------------------------------

    async def reserve(self, order: SignedOrder) -> str | None:
        """Reserve ``order`` in the shared budget; ``None`` if granted, else why not."""
        try:
            return await self._reserve(order)
        finally:
            self._awaiting.discard(order.order_hash)
            if self._deferred and not self._awaiting:
                self._deferred = False
                self.request_sync()

    async def _reserve(self, order: SignedOrder) -> str | None:
        amount = reserve_amount(order)
        self.stats.reserves += 1
        if self._held.get(order.order_hash):  # reserved while armed: granted already
            del self._held[order.order_hash]
            self._granted.add(order.order_hash)
            if amount:
                self._tracked[order.order_hash] = 0
            return None
        self._held.pop(order.order_hash, None)  # a hold still on its way: this one counts
        try:
            day = _day(self.kernel.now_ns())
            grant = await self.budget.reserve(order.order_hash, order.spec.market, amount, day)
        except PolylolyError as exc:
            self.stats.unavailable += 1
            self._set_available(False, str(exc))
            return f"risk budget unavailable: {exc}"
        self._set_available(True, "")
        if grant.ok:
            self._granted.add(order.order_hash)
            if amount:
                self._tracked[order.order_hash] = 0
            return None
        self.stats.refused[grant.reason] = self.stats.refused.get(grant.reason, 0) + 1
        if grant.reason == "halted":
            self._inject("halt", grant.detail)
            return f"halted on every instance: {grant.detail}"
        return (
            f"shared {grant.reason} cap: {grant.total} reserved in all, {grant.market} in "
            f"{order.spec.market}, {amount} asked"
            if grant.reason in ("total", "market")
            else f"shared daily loss reached ({grant.detail})"
        )

    # -- pre-decisions (issue 20): reservations held while a result is awaited -------------

    def hold(self, order: SignedOrder) -> None:
        """Reserve a pre-decided order ahead of its result (once; the answer comes later).

        The reservation is renewed by every sync like any other and dropped by
        :meth:`release`; if the order is sent, :meth:`reserve` finds it granted at once.
        """
        if order.order_hash in self._held:
            return
        self._held[order.order_hash] = False
        self.tasks.spawn(f"budget:hold:{order.order_hash}", self._hold(order))

    def held(self, order_hash: str) -> bool:
        """Whether a held reservation of ``order_hash`` was granted (and not yet used)."""
        return self._held.get(order_hash, False)

    def release(self, order_hash: str) -> None:
        """Drop a held reservation (the plan was dropped, the market closed)."""
        granted = self._held.pop(order_hash, None)
        if granted:
            self._release.add(order_hash)
            self.request_sync()

    async def _hold(self, order: SignedOrder) -> None:
        amount = reserve_amount(order)
        try:
            day = _day(self.kernel.now_ns())
            grant = await self.budget.reserve(order.order_hash, order.spec.market, amount, day)
        except PolylolyError as exc:
            self._held.pop(order.order_hash, None)
            self._set_available(False, str(exc))
            return
        self._set_available(True, "")
        if order.order_hash not in self._held:  # released while on its way
            if grant.ok:
                self._release.add(order.order_hash)
                self.request_sync()
            return
        if grant.ok:
            self._held[order.order_hash] = True
        else:
            del self._held[order.order_hash]  # refused: that order is decided at its result

    # -- publishing the ledger -------------------------------------------------------------

    def request_sync(self) -> None:
        """Publish the ledger now, or right after the sync in flight (or, while an order
        waits for its reservation, right after it: the two would queue at the server)."""
        if self._awaiting:
            self._deferred = True
            return
        if self._syncing:
            self._dirty = True
            return
        self._syncing = True
        self.tasks.spawn("budget:sync", self._sync())

    def report(self) -> InstanceReport:
        """This instance's figures from its ledger (positions at cost, open BUY remaining)."""
        exposure = self.state.exposure()
        open_orders = self._in_flight()
        all_open: dict[str, int] = {}
        for order in self.state.open_orders():
            amount = order_exposure(order)
            if not amount:
                continue
            all_open[order.market] = all_open.get(order.market, 0) + amount
            skip = order.order_hash in self._awaiting or order.order_hash in self._tracked
            if not skip:
                open_orders[order.market] = open_orders.get(order.market, 0) + amount
        positions = {
            market: amount - all_open.get(market, 0)
            for market, amount in exposure.exposure.items()
            if amount - all_open.get(market, 0) > 0
        }
        return InstanceReport(
            instance=self.config.instance,
            day=_day(self.kernel.now_ns()),
            daily_pnl=self.state.daily_pnl(),
            positions=positions,
            open_orders=open_orders,
            covered=tuple(sorted(self._granted | self._release)),
            halted=self.state.halted or "",
        )

    def _in_flight(self) -> dict[str, int]:
        """Per market, what granted orders can still cost beyond the positions' fills: an
        open order's size less its fills, a closed one's matched size less its fills."""
        out: dict[str, int] = {}
        now = self.kernel.now_ns()
        state = self.state
        for order_hash, closed_at in list(self._tracked.items()):
            record = state.orders.get(order_hash)
            if record is None:
                del self._tracked[order_hash]
                continue
            filled = sum(
                f.size
                for f in state.fills_by_token.get(record.token_id, ())
                if f.order_hash == order_hash and f.counts
            )
            if record.is_open:
                gap = record.size - filled
            else:
                gap = record.size_matched - filled
                closed_ns = closed_at or now
                self._tracked[order_hash] = closed_ns
                # a trade that FAILED never fills: stop counting it after a while
                if gap <= 0 or now - closed_ns > _SETTLE_NS:
                    del self._tracked[order_hash]
                    continue
            if gap > 0:
                amount = -(-gap * record.price // 1_000_000)
                out[record.market] = out.get(record.market, 0) + amount
        return out

    async def _sync(self) -> None:
        try:
            while True:
                self._dirty = False
                report = self.report()  # every granted order is in the ledger already
                try:
                    await self.budget.sync(report)
                except PolylolyError as exc:
                    self.stats.sync_failures += 1
                    self._set_available(False, str(exc))
                    return
                self.stats.syncs += 1
                self._granted.difference_update(report.covered)
                self._release.difference_update(report.covered)
                self._last_sync_ns = self.kernel.now_ns()
                self._set_available(True, "")
                if not self._dirty:
                    return
        finally:
            self._syncing = False

    def _on_tick(self, tick: TimerTick) -> None:
        if tick.ts_init - self._last_sync_ns >= self.sync_every_ns:
            self.request_sync()
        if not self._watching:
            self._start_watch()

    # -- the shared kill switch -----------------------------------------------------------

    def _on_operator(self, command: OperatorCommand) -> None:
        if command.command == "halt_all":
            reason = command.reason or "operator halt --all-instances"
            self._inject("halt", reason)
            self.tasks.spawn("budget:halt", self._broadcast(reason))
        elif command.command == "resume_all":
            self._inject("resume", "operator resume --all-instances")
            self.tasks.spawn("budget:resume", self._broadcast(""))

    def _on_fired(self, event: KillSwitchFired) -> None:
        self.request_sync()  # the halt shows in status at once
        del event

    async def _broadcast(self, reason: str) -> None:
        try:
            await self.switch.set_halt(reason)
        except PolylolyError as exc:
            self._set_available(False, str(exc))

    def _start_watch(self) -> None:
        self._watching = True
        self._watcher.spawn("budget:watch", self._watch())

    async def _watch(self) -> None:
        try:
            halted = await self.switch.halted()
            if halted:
                self._inject("halt", halted)
            await self.switch.watch(self._on_message)
        except PolylolyError as exc:
            self._set_available(False, str(exc))
        finally:
            self._watching = False  # the next tick starts it again (and re-reads the key)

    def _on_message(self, command: str, reason: str) -> None:
        if command == "halt":
            self.stats.shared_halts += 1
            self._inject("halt", reason)
        elif command == "resume":
            self._inject("resume", reason or "resumed on every instance")

    def _inject(self, command: str, reason: str) -> None:
        # A halt is injected even while halted: it turns a halt that would clear by itself
        # (a feed fault) into one that waits for a resume.
        now = self.kernel.now_ns()
        self.kernel.publish(
            OperatorCommand(
                ts_event=now, ts_init=now, command=command, reason=SHARED_PREFIX + reason
            )
        )

    # -- the store as a feed ---------------------------------------------------------------

    def _set_available(self, ok: bool, why: str) -> None:
        if self.available is ok:
            return
        first = self.available is None
        self.available = ok
        if ok and first:
            return
        now = self.kernel.now_ns()
        if self.config.on_down == "cancel" or ok:
            self.kernel.publish(
                FeedStatus(
                    ts_event=now,
                    ts_init=now,
                    source=BUDGET_SOURCE,
                    state=FeedState.OK if ok else FeedState.DOWN,
                    detail=why,
                )
            )
        level = AlertLevel.INFO if ok else AlertLevel.CRITICAL
        title = "risk budget back" if ok else "risk budget unreachable: no new orders"
        alert = Alert(level=level, title=title, body=why, ts_ns=now)
        self.tasks.spawn(f"alert:{title}", self.alerts.send(alert))
        if ok:
            self.request_sync()  # rebuild the shared figures from the ledger at once


def _day(ts_ns: int) -> str:
    """The UTC day number of a timestamp, as the daily-loss key."""
    return str(day_of(ts_ns))
