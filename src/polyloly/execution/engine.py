"""The execution layer assembled: ledger, risk gate, order manager, reconciliation, merges.

:class:`ExecutionEngine` is what the bot shell (and the crash-test runner, the paper
trader, the backtester) wires into a kernel. It subscribes the **ledger** first — every
execution event updates :class:`~polyloly.execution.state.ExecutionState` before any other
component sees it — then the risk gate, the order manager, its pool of pre-signed orders
(:mod:`polyloly.execution.presign`), the reconciler and the merge manager.

Every signature goes through :attr:`ExecutionEngine.signer` (a
:class:`~polyloly.execution.presign.SerialSigner` around the port's signer), so the live
:class:`~polyloly.execution.presigner.Presigner` can sign in a worker thread while the order
manager signs on demand.

Venue updates published by an adapter in its own event types (the Polymarket user channel
has ``pm_order_update`` / ``pm_trade_update``) are plugged in with
:meth:`ExecutionEngine.add_venue_events` and a translation function into
:class:`OrderUpdate` / :class:`TradeUpdate`; the same translation serves crash recovery.

Start-up: :meth:`ExecutionEngine.recover` applies the event log to the ledger (no venue
call, no handler), then :meth:`ExecutionEngine.start` runs a reconciliation pass; the risk
gate refuses intents until it succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from polyloly.domain.events import Event, MarketResolved, TimerTick
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent, RedeemIntent
from polyloly.domain.orderbook import BookSet
from polyloly.domain.risk import RiskParams
from polyloly.execution.budget import BudgetKeeper, KeeperConfig, RiskBudget, SharedSwitch
from polyloly.execution.chain_ports import Redeemer
from polyloly.execution.events import (
    BalanceBaseline,
    CancelCompleted,
    CancelRequested,
    DayStarted,
    ExecutionAnomaly,
    KillSwitchFired,
    KillSwitchResumed,
    MergeCompleted,
    MergeFailed,
    OrderAccepted,
    OrderClosed,
    OrderRejected,
    OrderSubmitted,
    OrderSubmitUnknown,
    OrderUpdate,
    PositionChanged,
    RedeemCompleted,
    RedeemFailed,
    TradeUpdate,
    VenueSnapshot,
)
from polyloly.execution.merge import MergeManager, TokensOf
from polyloly.execution.order_manager import OrderManager, OrderManagerConfig
from polyloly.execution.pnl import day_of
from polyloly.execution.ports import (
    AccountReader,
    AlertPort,
    CancelAllVenue,
    Merger,
    OrderSigner,
    OrderVenue,
)
from polyloly.execution.presign import PresignConfig, PresignPool, SerialSigner
from polyloly.execution.reconciliation import ReconcileConfig, Reconciler
from polyloly.execution.recycle import RecycleConfig, Recycler, RedeemManager
from polyloly.execution.risk_gate import GateConfig, RiskGate
from polyloly.execution.state import Effects, ExecutionState
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import Sleep
from polyloly.runtime.tasks import TaskOwner

__all__ = ["LEDGER_EVENTS", "ExecutionConfig", "ExecutionEngine", "ExecutionPorts", "Translate"]

LEDGER_EVENTS: tuple[type[Event], ...] = (
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderSubmitUnknown,
    OrderUpdate,
    OrderClosed,
    TradeUpdate,
    CancelRequested,
    CancelCompleted,
    MergeCompleted,
    MergeFailed,
    RedeemCompleted,
    RedeemFailed,
    VenueSnapshot,
    BalanceBaseline,
    KillSwitchFired,
    KillSwitchResumed,
    DayStarted,
    MarketResolved,
    PlaceOrderIntent,
    MergeIntent,
    RedeemIntent,
)
"""Event types the ledger applies (live, on recovery and in the SQL projection); the
intents only for their decision steps (:attr:`ExecutionState.last_step`)."""

Translate = Callable[[Event], OrderUpdate | TradeUpdate | None]
"""Turns an adapter's own venue-update event into the execution layer's (or ``None``)."""


@dataclass(slots=True)
class ExecutionPorts:
    """The venue-facing ports the engine needs (one object may implement several)."""

    signer: OrderSigner
    venue: OrderVenue
    account: AccountReader
    alerts: AlertPort
    cancel_all: CancelAllVenue | None = None
    merger: Merger | None = None
    redeemer: Redeemer | None = None


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """Configuration of every execution component."""

    orders: OrderManagerConfig = field(default_factory=OrderManagerConfig)
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    risk: RiskParams = field(default_factory=RiskParams)
    presign: PresignConfig = field(default_factory=PresignConfig)
    instance_id: str | None = None
    """Set when several instances share the account (:mod:`~polyloly.execution.instances`)."""
    recycle: RecycleConfig | None = None  # capital recycling (on-chain merge / redeem)


class ExecutionEngine:
    """Wires the execution components into one kernel."""

    def __init__(
        self,
        kernel: Kernel,
        ports: ExecutionPorts,
        *,
        sleep: Sleep,
        config: ExecutionConfig | None = None,
        tokens_of: TokensOf | None = None,
        rand: Callable[[int], int] | None = None,
        books: BookSet | None = None,
    ) -> None:
        cfg = config or ExecutionConfig()
        self.kernel = kernel
        self.ports = ports
        self.config = cfg
        self.state = ExecutionState(cfg.instance_id)
        self.state.tokens_of = tokens_of
        self.tasks = TaskOwner(on_crash=self._on_crash)
        self.signer = SerialSigner(ports.signer)
        self.presign = PresignPool(kernel, self.state, cfg.presign)
        self.orders = OrderManager(
            kernel,
            self.state,
            self.signer,
            ports.venue,
            self.tasks,
            sleep=sleep,
            config=cfg.orders,
            cancel_all_venue=ports.cancel_all,
            rand=rand,
            presign=self.presign,
        )
        self.gate = RiskGate(
            kernel,
            self.state,
            ports.alerts,
            self.tasks,
            params=cfg.risk,
            config=cfg.gate,
            books=books,
        )
        self.reconciler = Reconciler(
            kernel,
            self.state,
            account=ports.account,
            venue=ports.venue,
            orders=self.orders,
            tasks=self.tasks,
            sleep=sleep,
            config=cfg.reconcile,
        )
        self.gate.request_reconcile = self.reconciler.request  # a healed feed halt's pass
        self.merges: MergeManager | None = None
        if ports.merger is not None:
            self.merges = MergeManager(
                kernel,
                self.state,
                ports.merger,
                self.tasks,
                sleep=sleep,
                tokens_of=tokens_of,
                on_unknown=self.reconciler.request,
            )
        self.redeems: RedeemManager | None = None
        if ports.redeemer is not None:
            self.redeems = RedeemManager(
                kernel,
                self.state,
                ports.redeemer,
                self.tasks,
                sleep=sleep,
                tokens_of=tokens_of,
                on_unknown=self.reconciler.request,
            )
        self.recycler: Recycler | None = None
        if self.merges is not None or self.redeems is not None:
            # off until configured (here, or by the session's logged parameters)
            off = RecycleConfig(merge=False, redeem=False)
            self.recycler = Recycler(kernel, self.state, off, tokens_of=tokens_of)
            if cfg.recycle is not None:
                self.configure_recycle(cfg.recycle)
        self.budget: BudgetKeeper | None = None
        self._translators: dict[type[Event], Translate] = {}
        self._attached = False

    def configure_recycle(self, config: RecycleConfig) -> None:
        """Turn capital recycling on as ``config`` says, for the ports this engine has."""
        if self.recycler is not None:
            self.recycler.config = replace(
                config,
                merge=config.merge and self.merges is not None,
                redeem=config.redeem and self.redeems is not None,
            )

    def use_budget(
        self,
        budget: RiskBudget,
        switch: SharedSwitch,
        config: KeeperConfig,
    ) -> BudgetKeeper:
        """Reserve every order in a budget shared with other instances (before :meth:`attach`)."""
        keeper = BudgetKeeper(
            self.kernel,
            self.state,
            budget=budget,
            switch=switch,
            alerts=self.ports.alerts,
            tasks=self.tasks,
            config=config,
        )
        self.budget = keeper
        self.orders.reserve = keeper.reserve
        self.orders.on_signed = keeper.on_signed
        return keeper

    # -- wiring -----------------------------------------------------------------------------

    def attach(self) -> None:
        """Subscribe every component (the ledger first)."""
        if self._attached:
            return
        self._attached = True
        for cls in LEDGER_EVENTS:
            self.kernel.subscribe(cls, self._on_ledger_event)
        for event_type in self._translators:
            self.kernel.subscribe(event_type, self._on_foreign)
        self.kernel.subscribe(TimerTick, self._on_tick)
        self.gate.attach()
        self.orders.attach()
        self.presign.attach()
        self.reconciler.attach()
        if self.merges is not None:
            self.merges.attach()
        if self.budget is not None:
            self.budget.attach()
        if self.redeems is not None:
            self.redeems.attach()
        if self.recycler is not None:
            self.recycler.attach()

    def add_venue_events(self, event_type: type[Event], translate: Translate) -> None:
        """Feed an adapter's own venue-update events into the ledger through ``translate``.

        The translation also serves :meth:`recover`; register before or after
        :meth:`attach`, either works.
        """
        known = event_type in self._translators
        self._translators[event_type] = translate
        if self._attached and not known:
            self.kernel.subscribe(event_type, self._on_foreign)

    # -- lifecycle --------------------------------------------------------------------------

    def recover(self, events: Iterable[Event]) -> int:
        """Rebuild the ledger from a recorded log (no handlers run, nothing is sent).

        Returns the number of events applied.
        """
        applied = 0
        ledger = set(LEDGER_EVENTS)
        for event in events:
            translate = self._translators.get(type(event))
            if translate is not None:
                translated = translate(event)
                if translated is None:
                    continue
                event = translated  # noqa: PLW2901 - the translation stands for the original
            elif type(event) not in ledger:
                continue
            self.state.apply(event)
            applied += 1
        return applied

    def start(self) -> None:
        """Start the start-up reconciliation (call from a running event loop)."""
        self.reconciler.request(startup=True)
        if self.budget is not None:
            self.budget.start()

    async def stop(self) -> None:
        """Stop: no more venue calls, no kill-switch decisions, cancel every task.

        Call it before closing the adapter, so that the feeds going down on purpose are not
        taken for an outage (the exchange heartbeat remains the dead-man switch).
        """
        self.gate.enabled = False
        if self.budget is not None:
            await self.budget.stop()
        await self.tasks.stop()

    async def idle(self) -> None:
        """Wait until every venue call in flight has finished (tests, orderly shutdown)."""
        await self.tasks.drain()

    # -- the ledger -------------------------------------------------------------------------

    def _on_ledger_event(self, event: Event) -> None:
        fx = self.state.apply(event)
        self._after(event, fx)

    def _on_foreign(self, event: Event) -> None:
        translate = self._translators.get(type(event))
        translated = translate(event) if translate is not None else None
        if translated is None:
            return
        fx = self.state.apply(translated)
        self._after(translated, fx)
        if isinstance(translated, OrderUpdate):
            self.orders.on_venue_update(translated)

    def _after(self, event: Event, fx: Effects) -> None:
        now = self.kernel.now_ns()
        if fx.late_rejects:
            self.reconciler.request()  # the venue's own account settles the contradiction
        for item in (*fx.anomalies, *fx.late_rejects):
            self.kernel.emit(
                ExecutionAnomaly(
                    ts_event=now,
                    ts_init=now,
                    kind=item.kind,
                    subject=item.subject,
                    detail=item.detail,
                )
            )
        for token in sorted(fx.tokens):
            view = self.state.position(token)
            self.kernel.emit(
                PositionChanged(
                    ts_event=now,
                    ts_init=now,
                    market=view.market,
                    token_id=token,
                    confirmed=view.confirmed,
                    pending=view.pending,
                    cost=view.cost,
                    realized=view.realized,
                )
            )
        if isinstance(event, VenueSnapshot):
            self.reconciler.on_applied(event, fx)
        if fx.tokens or fx.orders:
            self.gate.on_exposure_change()
            if self.budget is not None:
                self.budget.request_sync()

    def _on_tick(self, tick: TimerTick) -> None:
        today = day_of(tick.ts_init)
        if today != self.state.daily.day:
            self.kernel.emit(
                DayStarted(
                    ts_event=tick.ts_init,
                    ts_init=tick.ts_init,
                    day=today,
                    equity=self.state.equity(),
                )
            )

    def _on_crash(self, name: str, exc: BaseException) -> None:
        now = self.kernel.now_ns()
        self.kernel.publish(
            ExecutionAnomaly(
                ts_event=now,
                ts_init=now,
                kind="task_crashed",
                subject=name,
                detail=f"{type(exc).__name__}: {exc}",
            )
        )
