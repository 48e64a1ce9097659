"""Reconciliation: compare local state with the venue, adopt, close or correct, or refuse.

A pass runs at start-up, periodically (on ``TimerTick``), after the user channel
reconnects, and on an operator's ``reconcile`` / ``resync`` command. It has two halves:

1. **Read** (a task): open orders; a lookup of every order we believe open that the venue
   does not list (and of orders named by trades we could not place); trades since the last
   checkpoint (less an overlap); balances; and trades once more, to know whether a trade
   landed while the balances were read. The result is one :class:`VenueSnapshot` event.
2. **Apply** (in the kernel): the ledger applies the snapshot — adopting unknown open
   orders, correcting states, adding missed trades and settlement changes, and on the very
   first pass adopting the venue's balances as the baseline. The reconciler then decides
   what only it can: an order the venue never received is sent again (same signed order)
   if it is fresh, otherwise closed; an order gone from the book is closed. Every repair is
   logged as a :class:`ReconciliationCorrection`; balances that still differ once nothing
   is pending make the pass fail (:class:`ReconciliationCompleted` ``ok=False``), and the
   risk gate refuses new intents until a pass succeeds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from polyloly.domain.events import OperatorCommand, TimerTick
from polyloly.execution.events import (
    BalanceBaseline,
    OrderClosed,
    OrderLookup,
    OrderResubmitted,
    ReconciliationCompleted,
    ReconciliationCorrection,
    ReconciliationError,
    VenueSnapshot,
)
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.order_manager import OrderManager
from polyloly.execution.ports import AccountReader, OrderVenue, TradeReport
from polyloly.execution.retry import RetryPolicy, call_with_retry
from polyloly.execution.state import Anomaly, Effects, ExecutionState
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import PolylolyError
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import Sleep
from polyloly.runtime.tasks import TaskOwner

__all__ = ["ReconcileConfig", "Reconciler"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ReconcileConfig:
    """How often and how far back reconciliation looks.

    Parameters
    ----------
    interval_s
        Seconds between periodic passes (0 disables them).
    trades_overlap_s
        Trades are re-read from this long before the last checkpoint (late status changes).
    balance_tolerance
        Largest collateral difference (pUSD micros) taken for a rounding difference: the
        ledger rounds each fill as the exchange does, so it should be 0; a venue that rounds
        a fill or a fee a micro differently is absorbed instead of failing every pass for
        good. A difference within it is adopted (the ledger takes the venue's collateral,
        logged as a ``collateral_rounding`` correction), so it never accumulates; a larger
        one fails the pass. Token balances are exact (no rounding): compared with no
        tolerance. Default 0.01 pUSD: below any real fill (the smallest order is 5 shares
        at one tick), above many fills' rounding (1 micro of notional and 10 of fee each).
    """

    interval_s: int = 30
    trades_overlap_s: int = 600
    balance_tolerance: int = 10_000
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=4))


def _trade_keys(trades: list[TradeReport]) -> set[tuple[str, str]]:
    return {(t.trade_id, t.status.value) for t in trades}


class Reconciler:
    """Runs reconciliation passes and acts on their results."""

    def __init__(
        self,
        kernel: Kernel,
        state: ExecutionState,
        *,
        account: AccountReader,
        venue: OrderVenue,
        orders: OrderManager,
        tasks: TaskOwner,
        sleep: Sleep,
        config: ReconcileConfig | None = None,
    ) -> None:
        self.kernel = kernel
        self.state = state
        self.account = account
        self.venue = venue
        self.orders = orders
        self.tasks = tasks
        self.sleep = sleep
        self.config = config or ReconcileConfig()
        self.running = False
        self.passes = 0
        self.last_ok: bool | None = None
        self.last_started_ns: int | None = None
        self._again = False
        self._resync = False

    def attach(self) -> None:
        """Subscribe to timer ticks and operator commands."""
        self.kernel.subscribe(TimerTick, self._on_tick)
        self.kernel.subscribe(OperatorCommand, self._on_operator)

    # -- triggering -------------------------------------------------------------------------

    def request(self, *, startup: bool = False) -> bool:
        """Start a pass now (or right after the running one); return whether it started."""
        if self.running:
            self._again = True
            return False
        self.running = True
        self.last_started_ns = self.kernel.now_ns()
        self.tasks.spawn("reconcile", self._run(startup))
        return True

    def _on_tick(self, tick: TimerTick) -> None:
        interval = self.config.interval_s * NS_PER_S
        if not interval or self.last_started_ns is None:
            return
        if tick.ts_init - self.last_started_ns >= interval:
            self.request()

    def _on_operator(self, command: OperatorCommand) -> None:
        if command.command == "resync":
            self._resync = True
            self.request()
        elif command.command == "reconcile":
            self.request()

    # -- reading ----------------------------------------------------------------------------

    async def _run(self, startup: bool) -> None:
        try:
            snapshot = await self._read(startup)
        except PolylolyError as exc:
            self.running = False
            now = self.kernel.now_ns()
            self.kernel.publish(ReconciliationError(ts_event=now, ts_init=now, error=str(exc)))
            return
        self.running = False
        self.kernel.publish(snapshot)
        if self._again:
            self._again = False
            self.request()

    async def _retry(self, call: Callable[[], Awaitable[_T]]) -> _T:
        return await call_with_retry(call, self.config.retry, self.sleep)

    async def _read(self, startup: bool) -> VenueSnapshot:
        state = self.state
        open_orders = await self._retry(self.account.open_orders)
        listed = {o.order_hash for o in open_orders}
        wanted = {
            o.order_hash
            for o in state.open_orders()
            if o.order_hash not in listed and o.order_hash not in self.orders.inflight
        }
        for report in state.orphans.values():
            wanted.add(report.taker_order_id)
            wanted.update(leg.order_id for leg in report.maker_legs)
        wanted -= {h for h in wanted if h in state.orders and not state.orders[h].is_open}
        lookups: list[OrderLookup] = []
        for order_hash in sorted(wanted):
            found = await self._retry(lambda h=order_hash: self.venue.lookup(h))  # type: ignore[misc]
            lookups.append(OrderLookup(order_hash=order_hash, found=found))
        overlap = self.config.trades_overlap_s * NS_PER_S
        after = max(state.trades_checkpoint_ns - overlap, 0)
        first = await self._retry(lambda: self.account.trades(after))
        tokens = set(state.positions) | {o.token_id for o in open_orders}
        tokens |= {o.token_id for o in state.orders.values()}
        balances = await self._retry(lambda: self.account.balances(sorted(tokens)))
        second = await self._retry(lambda: self.account.trades(after))
        now = self.kernel.now_ns()
        return VenueSnapshot(
            ts_event=now,
            ts_init=now,
            open_orders=tuple(open_orders),
            lookups=tuple(lookups),
            trades=tuple(second),
            balances=balances,
            trades_after_ns=after,
            balances_settled=_trade_keys(first) == _trade_keys(second),
            startup=startup,
            balance_tolerance=self.config.balance_tolerance,
            started_ns=self.last_started_ns or now,
        )

    # -- acting (called by the engine after the ledger applied the snapshot) ---------------

    def on_applied(self, snapshot: VenueSnapshot, fx: Effects) -> None:
        """Decide what the ledger could not, log every correction, report the pass."""
        self.passes += 1
        corrections = list(fx.corrections)
        corrections += self._close_or_resend(snapshot)
        for item in corrections:
            self._emit_correction(item)
        mismatches = fx.mismatches
        now = self.kernel.now_ns()
        if mismatches and self._resync:
            self._resync = False
            self.kernel.emit(
                BalanceBaseline(
                    ts_event=now, ts_init=now, balances=snapshot.balances, reason="operator resync"
                )
            )
            for item in mismatches:
                self._emit_correction(Anomaly("resync_balance", item.subject, item.detail))
            mismatches = []
        for item in mismatches:
            self._emit_correction(item)
        ok = not mismatches
        self.last_ok = ok
        reason = "; ".join(f"{m.subject}: {m.detail}" for m in mismatches)
        self.kernel.emit(
            ReconciliationCompleted(
                ts_event=now,
                ts_init=now,
                ok=ok,
                corrections=len(corrections),
                reason=reason,
                balances_checked=fx.balances_checked,
            )
        )
        if self.state.halted is not None:
            pending = [o.order_hash for o in self.state.open_orders()]
            if pending:
                self.orders.request_cancel(pending, f"halted: {self.state.halted}")
        if self.state.orphans and any(lk.found is not None for lk in snapshot.lookups):
            self._again = True  # newly adopted orders may explain the remaining orphans

    def _close_or_resend(self, snapshot: VenueSnapshot) -> list[Anomaly]:
        out: list[Anomaly] = []
        now = self.kernel.now_ns()
        for lookup in snapshot.lookups:
            if lookup.found is not None:
                continue
            record = self.state.orders.get(lookup.order_hash)
            if record is None or not record.is_open or record.order_hash in self.orders.inflight:
                continue
            if record.state in (OrderState.SUBMITTING, OrderState.UNKNOWN):
                fresh = self.orders.resubmit_allowed(record.created_ns)
                if record.signed is not None and fresh and self.state.halted is None:
                    self.kernel.emit(
                        OrderResubmitted(
                            ts_event=now,
                            ts_init=now,
                            order_hash=record.order_hash,
                            reason="the venue never received it",
                        )
                    )
                    out.append(Anomaly("resend_order", record.order_hash, "never received"))
                    continue
                final, why = OrderState.REJECTED, "never reached the venue; not sent again"
            else:
                done = record.size_matched >= record.size
                final = OrderState.MATCHED if done else OrderState.CANCELED
                why = "no longer open at the venue"
            self.kernel.emit(
                OrderClosed(
                    ts_event=now,
                    ts_init=now,
                    order_hash=record.order_hash,
                    state=final.value,
                    reason=why,
                )
            )
            out.append(Anomaly("close_order", record.order_hash, f"{final.value}: {why}"))
        return out

    def _emit_correction(self, item: Anomaly) -> None:
        now = self.kernel.now_ns()
        self.kernel.emit(
            ReconciliationCorrection(
                ts_event=now, ts_init=now, kind=item.kind, subject=item.subject, detail=item.detail
            )
        )
