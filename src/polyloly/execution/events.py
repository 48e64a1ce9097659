"""Kernel events owned by the execution layer.

Two kinds, following :mod:`polyloly.domain.events`:

* **inputs** — what a venue told us (a submit reply, an order or trade update from the user
  WebSocket or REST, a reconciliation snapshot, a merge receipt). Adapters publish them;
  replay re-feeds them.
* **derived** — what the execution layer decided (an order signed and about to be sent, a
  cancel request, a position change, a kill-switch decision, a correction). They are logged
  for audit and crash recovery; replay regenerates them.

:class:`OrderSubmitted` carries the signed order and its locally computed hash and is logged
(and flushed) *before* the submit leaves the process, so a crash between submit and reply
is recoverable: the restarted process knows the hash and looks the order up.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from polyloly.domain.events import Event, register_event
from polyloly.execution.chain_ports import RedeemResult
from polyloly.execution.ports import (
    Balances,
    CancelResult,
    MergeResult,
    SignedOrder,
    TradeReport,
    VenueOrder,
    VenueOrderStatus,
)

__all__ = [
    "BalanceBaseline",
    "CancelCompleted",
    "CancelFailed",
    "CancelRequested",
    "DayStarted",
    "ExecutionAnomaly",
    "KillSwitchFired",
    "KillSwitchResumed",
    "MergeCompleted",
    "MergeFailed",
    "MergeRequested",
    "OrderAccepted",
    "OrderClosed",
    "OrderLookup",
    "OrderRejected",
    "OrderResubmitted",
    "OrderSubmitUnknown",
    "OrderSubmitted",
    "OrderUpdate",
    "PositionChanged",
    "ReconciliationCompleted",
    "ReconciliationCorrection",
    "ReconciliationError",
    "RedeemCompleted",
    "RedeemFailed",
    "RedeemRequested",
    "TradeUpdate",
    "UpdateSource",
    "VenueSnapshot",
]


class UpdateSource:
    """Where an order or trade update came from (``source`` field values)."""

    WS = "ws"
    REST = "rest"
    PAPER = "paper"
    RECONCILE = "reconcile"  # venue truth found by reconciliation: overrides local state


# ---------------------------------------------------------------------------------------------
# Order submission
# ---------------------------------------------------------------------------------------------


@register_event
class OrderSubmitted(Event, frozen=True, tag="order_submitted"):
    """An approved intent was signed; the submit leaves only after this is logged."""

    strategy: str
    order: SignedOrder

    derived: ClassVar[bool] = True

    @property
    def order_hash(self) -> str:
        """The order's venue id (V2 order hash), computed locally."""
        return self.order.order_hash

    @property
    def client_id(self) -> str:
        """The intent id the order was created for."""
        return self.order.spec.client_id


@register_event
class OrderResubmitted(Event, frozen=True, tag="order_resubmitted"):
    """The same signed order is sent again after a lookup found the venue never received it."""

    order_hash: str
    reason: str

    derived: ClassVar[bool] = True


@register_event
class OrderAccepted(Event, frozen=True, tag="order_accepted"):
    """The venue accepted the order (directly, or a lookup after a lost reply found it)."""

    client_id: str
    order_hash: str
    status: VenueOrderStatus
    making_amount: int = 0
    taking_amount: int = 0
    trade_ids: tuple[str, ...] = ()
    attempts: int = 1
    found_by_lookup: bool = False
    size_matched: int = 0


@register_event
class OrderRejected(Event, frozen=True, tag="order_rejected"):
    """The venue refused the order, or every attempt was refused (429/503) without effect."""

    client_id: str
    order_hash: str
    reason: str
    code: str = ""
    attempts: int = 1


@register_event
class OrderSubmitUnknown(Event, frozen=True, tag="order_submit_unknown"):
    """Retries ran out while the outcome was still unknown; reconciliation will find out."""

    client_id: str
    order_hash: str
    error: str
    attempts: int


# ---------------------------------------------------------------------------------------------
# Venue updates (user WebSocket, REST, paper venue, reconciliation)
# ---------------------------------------------------------------------------------------------


@register_event
class OrderUpdate(Event, frozen=True, tag="order_update"):
    """The venue's view of one of our orders changed (``order`` event, lookup, open orders)."""

    order: VenueOrder
    source: str = UpdateSource.WS


@register_event
class TradeUpdate(Event, frozen=True, tag="trade_update"):
    """A trade involving one of our orders was matched or changed settlement status."""

    report: TradeReport
    source: str = UpdateSource.WS


# ---------------------------------------------------------------------------------------------
# Cancels
# ---------------------------------------------------------------------------------------------


@register_event
class CancelRequested(Event, frozen=True, tag="cancel_requested"):
    """The execution layer asked the venue to cancel orders (``all_orders``: everything)."""

    order_hashes: tuple[str, ...]
    reason: str
    all_orders: bool = False

    derived: ClassVar[bool] = True


@register_event
class CancelCompleted(Event, frozen=True, tag="cancel_completed"):
    """The venue answered a cancel request."""

    result: CancelResult
    all_orders: bool = False


@register_event
class CancelFailed(Event, frozen=True, tag="cancel_failed"):
    """A cancel request failed after its retries (an execution error)."""

    order_hashes: tuple[str, ...]
    error: str
    all_orders: bool = False


# ---------------------------------------------------------------------------------------------
# Positions and anomalies (derived)
# ---------------------------------------------------------------------------------------------


@register_event
class PositionChanged(Event, frozen=True, tag="position_changed"):
    """A token position after a fill, a status change or a merge (absolute values).

    ``confirmed`` counts shares whose trades are CONFIRMED on-chain; ``pending`` the signed
    quantity of trades still MATCHED / MINED / RETRYING. ``cost`` is the pUSD-micro cost
    basis of ``confirmed + pending`` shares; ``realized`` the realized PnL of this token so
    far (sells), fees included.
    """

    market: str
    token_id: str
    confirmed: int
    pending: int
    cost: int
    realized: int

    derived: ClassVar[bool] = True


@register_event
class ExecutionAnomaly(Event, frozen=True, tag="execution_anomaly"):
    """An update that did not fit local state (illegal transition, unknown order, mismatch)."""

    kind: str
    subject: str
    detail: str

    derived: ClassVar[bool] = True


# ---------------------------------------------------------------------------------------------
# Reconciliation
# ---------------------------------------------------------------------------------------------


class OrderLookup(msgspec.Struct, frozen=True, kw_only=True):
    """The result of looking up one order at the venue (``None``: the venue never saw it)."""

    order_hash: str
    found: VenueOrder | None


@register_event
class VenueSnapshot(Event, frozen=True, tag="venue_snapshot"):
    """What reconciliation read from the venue: open orders, lookups, trades, balances."""

    open_orders: tuple[VenueOrder, ...]
    lookups: tuple[OrderLookup, ...]
    trades: tuple[TradeReport, ...]
    balances: Balances
    trades_after_ns: int
    balances_settled: bool = True  # no trade landed between reading trades and balances
    startup: bool = False
    balance_tolerance: int = 0  # collateral micros a rounding difference may reach (adopted)
    started_ns: int = 0  # when the pass began reading (0 in logs written before this field)


@register_event
class OrderClosed(Event, frozen=True, tag="order_closed"):
    """Reconciliation closed an order the venue does not have open.

    ``state`` is the final local state: ``REJECTED`` for an order that never reached the
    venue and is too old to send again (abandoned), ``CANCELED`` or ``MATCHED`` for one that
    left the book while we were not listening.
    """

    order_hash: str
    state: str
    reason: str

    derived: ClassVar[bool] = True


@register_event
class ReconciliationError(Event, frozen=True, tag="reconciliation_error"):
    """Reconciliation could not read the venue (after retries)."""

    error: str


@register_event
class ReconciliationCorrection(Event, frozen=True, tag="reconciliation_correction"):
    """One repair reconciliation made (adopted, closed or corrected), for the audit trail."""

    kind: str
    subject: str
    detail: str

    derived: ClassVar[bool] = True


@register_event
class BalanceBaseline(Event, frozen=True, tag="balance_baseline"):
    """Balances adopted from the venue as the starting point local positions build on."""

    balances: Balances
    reason: str

    derived: ClassVar[bool] = True


@register_event
class ReconciliationCompleted(Event, frozen=True, tag="reconciliation_completed"):
    """A reconciliation pass finished: ``ok`` False means local state cannot be trusted."""

    ok: bool
    corrections: int
    reason: str = ""
    balances_checked: bool = False

    derived: ClassVar[bool] = True


# ---------------------------------------------------------------------------------------------
# Kill switch
# ---------------------------------------------------------------------------------------------


@register_event
class KillSwitchFired(Event, frozen=True, tag="kill_switch_fired"):
    """Trading halted: everything is canceled and new intents refused until resumed."""

    condition: str
    reason: str

    derived: ClassVar[bool] = True


@register_event
class KillSwitchResumed(Event, frozen=True, tag="kill_switch_resumed"):
    """Trading resumed after a halt: an operator's ``resume``, or by itself once the feed
    fault that halted it healed and a reconciliation pass begun after that succeeded
    (``reason`` starts with ``auto:``)."""

    reason: str

    derived: ClassVar[bool] = True


# ---------------------------------------------------------------------------------------------
# Merge
# ---------------------------------------------------------------------------------------------


@register_event
class MergeRequested(Event, frozen=True, tag="merge_requested"):
    """A merge of ``size`` complete pairs of ``market`` was sent to the merger."""

    intent_id: str
    market: str
    token_ids: tuple[str, str]
    size: int

    derived: ClassVar[bool] = True


@register_event
class MergeCompleted(Event, frozen=True, tag="merge_completed"):
    """The merge went through: ``size`` of each token became ``size`` pUSD."""

    intent_id: str
    token_ids: tuple[str, str]
    result: MergeResult


@register_event
class MergeFailed(Event, frozen=True, tag="merge_failed"):
    """The merge failed after its retries; ``unknown``: it may have happened (reply lost).

    An unknown one is kept by the ledger until a reconciliation pass's balances show it
    happened (it is then booked) or did not.
    """

    intent_id: str
    market: str
    size: int
    error: str
    unknown: bool = False


# ---------------------------------------------------------------------------------------------
# Redeem (capital recycling)
# ---------------------------------------------------------------------------------------------


@register_event
class RedeemRequested(Event, frozen=True, tag="redeem_requested"):
    """A redemption of every position of resolved ``market`` was sent to the redeemer."""

    intent_id: str
    market: str
    token_ids: tuple[str, str]
    winning_token_id: str

    derived: ClassVar[bool] = True


@register_event
class RedeemCompleted(Event, frozen=True, tag="redeem_completed"):
    """The redemption went through: ``result.burned`` tokens became ``result.payout`` pUSD."""

    intent_id: str
    token_ids: tuple[str, str]
    winning_token_id: str
    result: RedeemResult


@register_event
class RedeemFailed(Event, frozen=True, tag="redeem_failed"):
    """The redemption failed (or its outcome is unknown: reconciliation settles it)."""

    intent_id: str
    market: str
    error: str
    unknown: bool = False  # it may have happened: the ledger keeps it for reconciliation
    winning_token_id: str = ""


@register_event
class DayStarted(Event, frozen=True, tag="day_started"):
    """A new UTC day began: ``equity`` is the baseline today's PnL is measured from."""

    day: int
    equity: int

    derived: ClassVar[bool] = True
