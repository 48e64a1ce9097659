"""The order manager: each approved intent becomes exactly one exchange order.

Flow, all inside the synchronous kernel except the venue calls:

1. A strategy emits a ``PlaceOrderIntent``; the risk gate answers with a ``RiskDecision``.
2. On approval the order manager takes a matching pre-signed order from its
   :class:`~polyloly.execution.presign.PresignPool` (same token, side, price, size and order
   type; relabelled with the intent id as client id; used once) or, on a miss, builds a
   deterministic :class:`OrderSpec` (client id = the intent id; salt and timestamp derived
   from the intent) and signs it locally; either way it emits :class:`OrderSubmitted`
   carrying the signed order and its hash.
3. When :class:`OrderSubmitted` is dispatched it is already in the event log; the manager
   flushes the log, then starts the submit as a task. A crash from here on is recoverable:
   the restarted process knows the hash and looks the order up.
4. The task submits with :func:`~polyloly.execution.retry.submit_with_retry` (lookup before
   any resend) and publishes the outcome: :class:`OrderAccepted`, :class:`OrderRejected` or
   :class:`OrderSubmitUnknown`.

A second intent with an id that already has an order is dropped (idempotent). Cancels run
the same way (:class:`CancelRequested` → task → :class:`CancelCompleted` /
:class:`CancelFailed`); an order still on its way when its cancel (or the kill switch)
arrives is canceled as soon as the venue acknowledges it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace

from polyloly.domain.events import Event, OperatorCommand
from polyloly.domain.intents import CancelIntent, PlaceOrderIntent, RiskDecision
from polyloly.execution.events import (
    CancelCompleted,
    CancelFailed,
    CancelRequested,
    ExecutionAnomaly,
    KillSwitchFired,
    OrderAccepted,
    OrderRejected,
    OrderResubmitted,
    OrderSubmitted,
    OrderSubmitUnknown,
    OrderUpdate,
)
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.ports import (
    CancelAllVenue,
    CancelResult,
    OrderSigner,
    OrderSpec,
    OrderVenue,
    RejectCode,
    SignedOrder,
    VenueOrderStatus,
    deterministic_salt,
)
from polyloly.execution.presign import PendingSubmit, PresignPool
from polyloly.execution.retry import (
    RetryPolicy,
    SubmitKind,
    SubmitOutcome,
    call_with_retry,
    submit_with_retry,
)
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S
from polyloly.runtime.errors import PolylolyError, RejectError, RetryableError
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import Sleep
from polyloly.runtime.tasks import TaskOwner

__all__ = ["OrderManager", "OrderManagerConfig", "spec_for_intent"]


@dataclass(frozen=True, slots=True)
class OrderManagerConfig:
    """Retry schedules of order placement and cancels, and the recovery resend window.

    ``resubmit_window_s``: after a restart, an order the venue never received is sent
    again only if it was signed less than this long ago; older ones are abandoned (the
    market has moved on since the decision).
    """

    submit_retry: RetryPolicy = field(default_factory=RetryPolicy)
    cancel_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(base_delay_ms=100, max_delay_ms=2_000, max_attempts=8)
    )
    resubmit_window_s: int = 30


def spec_for_intent(intent: PlaceOrderIntent) -> OrderSpec:
    """Build the deterministic order spec of an intent (same intent, same order hash)."""
    return OrderSpec(
        client_id=intent.intent_id,
        market=intent.market,
        token_id=intent.token_id,
        side=intent.side,
        price=intent.price,
        size=intent.size,
        order_type=intent.order_type,
        salt=deterministic_salt(intent.intent_id),
        timestamp_ms=intent.ts_init // NS_PER_MS,
        post_only=intent.post_only,
        expiration_s=intent.expiration_s,
    )


class OrderManager:
    """Turns approved intents into orders and cancels, through the venue port."""

    def __init__(
        self,
        kernel: Kernel,
        state: ExecutionState,
        signer: OrderSigner,
        venue: OrderVenue,
        tasks: TaskOwner,
        *,
        sleep: Sleep,
        config: OrderManagerConfig | None = None,
        cancel_all_venue: CancelAllVenue | None = None,
        rand: Callable[[int], int] | None = None,
        presign: PresignPool | None = None,
    ) -> None:
        self.kernel = kernel
        self.state = state
        self.signer = signer
        self.venue = venue
        self.tasks = tasks
        self.sleep = sleep
        self.config = config or OrderManagerConfig()
        self.cancel_all_venue = cancel_all_venue
        self.presign = presign
        self._rand = rand
        self._intents: dict[str, PlaceOrderIntent] = {}
        self.inflight: set[str] = set()
        self.cancel_sent: set[str] = set()
        self.duplicates = 0
        self.prewritten: dict[str, PendingSubmit] = {}
        """Orders already written to the venue by a pre-decision (:mod:`polyloly.node.
        predecide`), by hash: when the decision path emits their ``OrderSubmitted``, the
        submit task reads the reply of that write instead of posting."""
        self.reserve: Callable[[SignedOrder], Awaitable[str | None]] | None = None
        self.on_signed: Callable[[str], None] | None = None
        """Told an order's hash just before its ``OrderSubmitted`` is emitted (the shared
        budget's keeper: that order is waiting for its reservation)."""
        """The shared risk budget's reservation (several instances on one account): called
        before an order is first sent; a reason means refused, and the order is never sent."""
        self.on_point: Callable[[str, str], None] | None = None
        """Test-only probe, ``(point, order hash)``: called as each submit task starts
        (``before_post``, the order is logged and flushed, and reserved in a shared budget)
        and once the venue answered (``after_post``, nothing of the answer handled);
        :mod:`polyloly.bot.crashpoints` uses it to kill the process there."""

    def attach(self) -> None:
        """Subscribe to the kernel (after the ledger, so state is current in handlers)."""
        k = self.kernel
        k.subscribe(PlaceOrderIntent, self._on_intent)
        k.subscribe(RiskDecision, self._on_decision)
        k.subscribe(CancelIntent, self._on_cancel_intent)
        k.subscribe(OrderSubmitted, self._on_submitted)
        k.subscribe(OrderResubmitted, self._on_resubmitted)
        k.subscribe(OrderAccepted, self.on_venue_update)
        k.subscribe(OrderUpdate, self.on_venue_update)
        k.subscribe(CancelFailed, self._on_cancel_failed)
        k.subscribe(CancelRequested, self._on_cancel_requested)
        k.subscribe(KillSwitchFired, self._on_kill)
        k.subscribe(OperatorCommand, self._on_operator)

    # -- placing ----------------------------------------------------------------------------

    def _on_intent(self, intent: PlaceOrderIntent) -> None:
        self._intents[intent.intent_id] = intent

    def _on_decision(self, decision: RiskDecision) -> None:
        intent = self._intents.pop(decision.intent_id, None)
        if intent is None or not decision.approved:
            return
        self.place(intent)

    def place(self, intent: PlaceOrderIntent) -> str | None:
        """Sign an approved intent and emit :class:`OrderSubmitted`; return the order hash.

        A matching pre-signed order is used when the pool has one (no signature on this
        path); otherwise the intent is signed now.
        """
        existing = self.state.order_for_client(intent.intent_id)
        if existing is not None:
            self.duplicates += 1
            self._anomaly("duplicate_intent", intent.intent_id, existing.order_hash)
            return None
        signed = self.presign.take(intent) if self.presign is not None else None
        if signed is None:
            try:
                signed = self.signer.sign(spec_for_intent(intent))
            except (PolylolyError, ValueError) as exc:
                self._anomaly("signing_failed", intent.intent_id, str(exc))
                return None
        if self.on_signed is not None:
            self.on_signed(signed.order_hash)
        now = self.kernel.now_ns()
        self.kernel.emit(
            OrderSubmitted(ts_event=now, ts_init=now, strategy=intent.strategy, order=signed)
        )
        return signed.order_hash

    def _on_submitted(self, event: OrderSubmitted) -> None:
        # The event is in the log already (the kernel appends before dispatching): make it
        # durable before the order can leave the process.
        self.kernel.flush()
        self._start_submit(event.order, uncertain=False)

    def _on_resubmitted(self, event: OrderResubmitted) -> None:
        # Reconciliation found no trace of an order we may have sent (a lost reply, or a
        # crash after it was logged): send the same signed order again, looking it up once
        # more first (it may have arrived since). The order keeps its state meanwhile.
        record = self.state.orders.get(event.order_hash)
        if record is None or record.signed is None or not record.is_open:
            return
        self.kernel.flush()
        self._start_submit(record.signed, uncertain=True)

    def resume_unknown(self, order_hash: str) -> None:
        """Resolve an order left UNKNOWN by looking it up, resending only if it is absent."""
        record = self.state.orders.get(order_hash)
        if record is None or record.signed is None or order_hash in self.inflight:
            return
        self._start_submit(record.signed, uncertain=True)

    def _start_submit(self, order: SignedOrder, *, uncertain: bool) -> None:
        if order.order_hash in self.inflight:
            return
        self.inflight.add(order.order_hash)
        written = self.prewritten.pop(order.order_hash, None)
        self.tasks.spawn(f"submit:{order.order_hash}", self._submit(order, uncertain, written))

    async def _submit(
        self, order: SignedOrder, uncertain: bool, written: PendingSubmit | None = None
    ) -> None:
        if self.reserve is not None and not uncertain:
            # An uncertain resend is already counted: the ledger holds it open. A written
            # pre-decided order was reserved while armed: the keeper answers at once.
            refused = await self.reserve(order)
            if refused is not None and written is None:
                self.inflight.discard(order.order_hash)
                self.kernel.publish(self._refused(order, refused))
                return
        probe = self.on_point
        if probe is not None and written is None:
            probe("before_post", order.order_hash)
        try:
            if written is not None:
                outcome = await self._written_outcome(order, written)
            else:
                outcome = await submit_with_retry(
                    self.venue,
                    order,
                    self.config.submit_retry,
                    self.sleep,
                    uncertain=uncertain,
                    rand=self._rand,
                )
        finally:
            self.inflight.discard(order.order_hash)
        if probe is not None:
            probe("after_post", order.order_hash)
        self.kernel.publish(self._outcome_event(order, outcome))

    async def _written_outcome(self, order: SignedOrder, written: PendingSubmit) -> SubmitOutcome:
        """The outcome of an order a pre-decision already wrote (its first attempt).

        Its reply is read here; a lost reply or a duplicate continues exactly as a later
        attempt of :func:`submit_with_retry` would (look it up first, never a blind resend).
        """
        try:
            result = await written.result()
        except RejectError as exc:
            if exc.code != RejectCode.DUPLICATE:
                return SubmitOutcome(SubmitKind.REJECTED, 1, reason=str(exc), code=exc.code)
        except RetryableError:
            pass  # timeout, lost reply, 5xx, 429: it may have gone through
        else:
            return SubmitOutcome(SubmitKind.ACCEPTED, 1, result=result)
        outcome = await submit_with_retry(
            self.venue,
            order,
            self.config.submit_retry,
            self.sleep,
            uncertain=True,
            rand=self._rand,
        )
        return replace(outcome, attempts=outcome.attempts + 1)

    def _outcome_event(self, order: SignedOrder, outcome: SubmitOutcome) -> Event:
        now = self.kernel.now_ns()
        client_id, order_hash = order.spec.client_id, order.order_hash
        if outcome.kind is SubmitKind.ACCEPTED and outcome.result is not None:
            r = outcome.result
            return OrderAccepted(
                ts_event=now,
                ts_init=now,
                client_id=client_id,
                order_hash=order_hash,
                status=r.status,
                making_amount=r.making_amount,
                taking_amount=r.taking_amount,
                trade_ids=r.trade_ids,
                attempts=outcome.attempts,
            )
        if outcome.kind is SubmitKind.FOUND and outcome.found is not None:
            return OrderAccepted(
                ts_event=now,
                ts_init=now,
                client_id=client_id,
                order_hash=order_hash,
                status=outcome.found.status,
                trade_ids=outcome.found.trade_ids,
                attempts=outcome.attempts,
                found_by_lookup=True,
                size_matched=outcome.found.size_matched,
            )
        if outcome.kind is SubmitKind.CLOSED:
            return OrderAccepted(
                ts_event=now,
                ts_init=now,
                client_id=client_id,
                order_hash=order_hash,
                status=VenueOrderStatus.CANCELED,
                attempts=outcome.attempts,
                found_by_lookup=True,
            )
        if outcome.kind is SubmitKind.REJECTED:
            return OrderRejected(
                ts_event=now,
                ts_init=now,
                client_id=client_id,
                order_hash=order_hash,
                reason=outcome.reason,
                code=outcome.code,
                attempts=outcome.attempts,
            )
        return OrderSubmitUnknown(
            ts_event=now,
            ts_init=now,
            client_id=client_id,
            order_hash=order_hash,
            error=outcome.reason,
            attempts=outcome.attempts,
        )

    def _refused(self, order: SignedOrder, reason: str) -> OrderRejected:
        now = self.kernel.now_ns()
        return OrderRejected(
            ts_event=now,
            ts_init=now,
            client_id=order.spec.client_id,
            order_hash=order.order_hash,
            reason=reason,
            code=RejectCode.BUDGET,
            attempts=0,
        )

    def resubmit_allowed(self, created_ns: int) -> bool:
        """Whether an order signed at ``created_ns`` is fresh enough to send after a restart."""
        age = self.kernel.now_ns() - created_ns
        return age <= self.config.resubmit_window_s * NS_PER_S

    # -- canceling --------------------------------------------------------------------------

    def _on_cancel_intent(self, intent: CancelIntent) -> None:
        if intent.target_intent_id:
            record = self.state.order_for_client(intent.target_intent_id)
            hashes = [record.order_hash] if record is not None and record.is_open else []
        else:
            hashes = [o.order_hash for o in self.state.open_orders() if o.market == intent.market]
        if hashes:
            self.request_cancel(hashes, intent.reason or f"cancel intent {intent.intent_id}")

    def request_cancel(self, order_hashes: Iterable[str], reason: str) -> None:
        """Emit a :class:`CancelRequested` for these orders (the venue call follows)."""
        now = self.kernel.now_ns()
        self.kernel.emit(
            CancelRequested(
                ts_event=now, ts_init=now, order_hashes=tuple(order_hashes), reason=reason
            )
        )

    def cancel_everything(self, reason: str, *, all_instances: bool = False) -> None:
        """Cancel every order of this instance (the kill switch's action).

        Alone on the account that is every order of the account (the venue's cancel-all).
        When several instances share it (``state.instance_id``), only this instance's own
        orders are canceled, by id; the account-wide cancel-all is the operator's
        ``cancel-all --all-instances`` (``all_instances``).
        """
        now = self.kernel.now_ns()
        hashes = tuple(o.order_hash for o in self.state.open_orders())
        account_wide = all_instances or self.state.instance_id is None
        self.kernel.emit(
            CancelRequested(
                ts_event=now,
                ts_init=now,
                order_hashes=hashes,
                reason=reason,
                all_orders=account_wide,
            )
        )

    def _on_cancel_requested(self, event: CancelRequested) -> None:
        # Orders still on their way are canceled when the venue acknowledges them.
        known = tuple(
            h
            for h in event.order_hashes
            if (r := self.state.orders.get(h)) is not None
            and r.is_open
            and r.state is not OrderState.SUBMITTING
        )
        self.cancel_sent.update(known)
        if event.all_orders and self.cancel_all_venue is not None:
            self.tasks.spawn("cancel_all", self._cancel_all(known))
        elif known:
            self.tasks.spawn(f"cancel:{known[0]}+{len(known) - 1}", self._cancel(known, False))

    async def _cancel(self, hashes: tuple[str, ...], all_orders: bool) -> None:
        venue = self.venue
        try:
            result = await call_with_retry(
                lambda: venue.cancel(hashes), self.config.cancel_retry, self.sleep, self._rand
            )
        except PolylolyError as exc:
            now = self.kernel.now_ns()
            self.kernel.publish(
                CancelFailed(
                    ts_event=now,
                    ts_init=now,
                    order_hashes=hashes,
                    error=str(exc),
                    all_orders=all_orders,
                )
            )
            return
        self._publish_cancel(result, all_orders)

    async def _cancel_all(self, known: tuple[str, ...]) -> None:
        venue = self.cancel_all_venue
        assert venue is not None  # noqa: S101  (only spawned when a cancel-all venue exists)
        try:
            result = await call_with_retry(
                venue.cancel_all, self.config.cancel_retry, self.sleep, self._rand
            )
        except PolylolyError:
            # Cancel-all failed: fall back to canceling what we know by id.
            if known:
                await self._cancel(known, True)
            else:
                now = self.kernel.now_ns()
                self.kernel.publish(
                    CancelFailed(
                        ts_event=now,
                        ts_init=now,
                        order_hashes=(),
                        error="cancel_all",
                        all_orders=True,
                    )
                )
            return
        self._publish_cancel(result, True)

    def _publish_cancel(self, result: CancelResult, all_orders: bool) -> None:
        now = self.kernel.now_ns()
        self.kernel.publish(
            CancelCompleted(ts_event=now, ts_init=now, result=result, all_orders=all_orders)
        )

    def on_venue_update(self, event: OrderAccepted | OrderUpdate) -> None:
        """Cancel an order the venue just acknowledged if it should not stand.

        It was on its way when the kill switch fired (or was adopted while halted), or a
        cancel for it arrived while it was still being submitted.
        """
        order_hash = (
            event.order_hash if isinstance(event, OrderAccepted) else event.order.order_hash
        )
        record = self.state.orders.get(order_hash)
        if record is None or not record.is_open or record.state is OrderState.SUBMITTING:
            return
        if order_hash in self.cancel_sent:
            return
        if self.state.halted is not None:
            self.request_cancel([order_hash], f"halted: {self.state.halted}")
        elif record.cancel_requested:
            self.request_cancel([order_hash], "cancel requested while submitting")

    def _on_cancel_failed(self, event: CancelFailed) -> None:
        self.cancel_sent.difference_update(event.order_hashes)

    def _on_kill(self, event: KillSwitchFired) -> None:
        self.cancel_everything(f"kill switch: {event.condition}")

    def _on_operator(self, command: OperatorCommand) -> None:
        if command.command == "cancel_all":
            self.cancel_everything(command.reason or "operator cancel_all")
        elif command.command == "cancel_all_instances":
            reason = command.reason or "operator cancel-all --all-instances"
            self.cancel_everything(reason, all_instances=True)

    def _anomaly(self, kind: str, subject: str, detail: str) -> None:
        now = self.kernel.now_ns()
        self.kernel.emit(
            ExecutionAnomaly(ts_event=now, ts_init=now, kind=kind, subject=subject, detail=detail)
        )
