"""The execution layer's venue ports: what it needs from any exchange, as small Protocols.

The order manager, reconciliation, merge and the kill switch talk to an exchange only
through these ports, so the real Polymarket adapter, the local exchange simulator (over
loopback, through the same adapter), the paper venue and the in-memory fakes used by unit
tests are interchangeable (no ``if paper:`` anywhere in the core).

Every value crossing a port is a frozen ``msgspec`` struct in integer micro-units
(:mod:`polyloly.domain.money`). Wire formats stay in the adapters: an adapter decodes its
payloads and hands back these venue-neutral types.

Error contract (every async method)
-----------------------------------
Implementations translate vendor failures into :mod:`polyloly.runtime.errors`:

* :class:`~polyloly.runtime.errors.RejectError` — the venue refused the request as sent
  (bad price, no balance). ``code`` is a :class:`RejectCode`: adapters map every venue
  error string onto one (a test checks each adapter's table), and the execution layer
  branches on the code, never on the text. A duplicate order must be
  :attr:`RejectCode.DUPLICATE` (the order already exists: look it up).
* :class:`~polyloly.runtime.errors.BackOffError` — 429 or a cancel-only 503: the request did not
  take effect; wait (``retry_after_s``) and retry.
* :class:`~polyloly.runtime.errors.UnknownOutcomeError` — timeout or lost reply on a write: it may
  have taken effect; look it up before retrying.
* :class:`~polyloly.runtime.errors.RetryableError` — other transient failures (5xx, dropped
  connection). On a write, treated like an unknown outcome.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

import msgspec

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType

__all__ = [
    "AccountReader",
    "Alert",
    "AlertLevel",
    "AlertPort",
    "Balances",
    "CancelAllVenue",
    "CancelResult",
    "MakerLeg",
    "MergeResult",
    "Merger",
    "OrderSigner",
    "OrderSpec",
    "OrderVenue",
    "RejectCode",
    "SignedOrder",
    "SubmitResult",
    "TradeReport",
    "TradeStatus",
    "TraderSide",
    "VenueOrder",
    "VenueOrderStatus",
    "deterministic_salt",
]


class RejectCode(StrEnum):
    """Why a venue refused a request: the stable ``RejectError.code`` values.

    One shared vocabulary for every venue implementation (the Polymarket adapter's error
    table, the paper venue, the fakes) and every reader (the submit retry, the risk gate's
    benign rejects, metrics). Compare with these members, never with literal strings.
    """

    # validity
    POST_ONLY_CROSSES = "post_only_crosses"  # "invalid post-only order: order crosses book"
    TICK_SIZE = "tick_size"  # "… breaks minimum tick size rule: …"
    MIN_SIZE = "min_size"  # "… lower than the minimum: …"
    DUPLICATE = "duplicate"  # "order … is invalid. Duplicated.": the venue has this order
    # funds / state
    NO_BALANCE = "no_balance"  # "not enough balance / allowance"
    NONCE = "nonce"
    EXPIRATION = "expiration"
    MARKET_NOT_READY = "market_not_ready"
    # marketable orders
    FOK_KILLED = "fok_killed"  # "… FOK orders are fully filled or killed."
    FAK_NO_MATCH = "fak_no_match"  # "no orders found to match with FAK order …"
    UNMATCHED = "unmatched"  # a reply with status "unmatched": a killed FOK/FAK
    PRECISION = "precision"  # "… max accuracy of N decimals …"
    MIN_MARKETABLE_AMOUNT = "min_marketable_amount"  # a marketable BUY under $1
    # payload
    INVALID_PAYLOAD = "invalid_payload"
    OWNER_MISMATCH = "owner_mismatch"
    CLOSED_ONLY = "closed_only"
    TOO_MANY_ORDERS = "too_many_orders"
    INVALID_HEARTBEAT_ID = "invalid_heartbeat_id"
    # other
    NOT_FOUND = "not_found"  # any 404
    CLIENT_VALIDATION = "client_validation"  # refused by the client library before sending
    MERGE_REFUSED = "merge_refused"
    BACKOFF_EXHAUSTED = "backoff_exhausted"  # every attempt was a 429 / cancel-only 503
    BUDGET = "budget"  # refused by the budget shared by several instances: never sent
    REJECTED = "rejected"  # any other refusal


def deterministic_salt(client_id: str) -> int:
    """Return the order salt derived from ``client_id`` (same id, same salt, same hash).

    Kept below 2**53 so JavaScript consumers of the JSON payload read it exactly.
    """
    digest = hashlib.sha256(client_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % (1 << 53)


# ---------------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------------


class OrderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to sign one limit order, chosen deterministically from its intent.

    ``client_id`` is the intent id; ``salt`` and ``timestamp_ms`` are derived from the intent
    so that signing the same intent twice gives the same order hash (a restart that re-signs
    an intent finds the order it may already have sent).
    """

    client_id: str
    market: str
    token_id: str
    side: Side
    price: int
    size: int
    order_type: OrderType
    salt: int
    timestamp_ms: int
    post_only: bool = False
    expiration_s: int = 0


class SignedOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A signed order: its locally computed venue id (the V2 order hash) and the wire body.

    ``payload`` is opaque to the execution layer: the signer produces it, the event log keeps
    it, and the same venue implementation sends it (possibly again after a crash).
    """

    order_hash: str
    spec: OrderSpec
    payload: dict[str, Any] = msgspec.field(default_factory=dict)


class VenueOrderStatus(StrEnum):
    """An order's status as the venue reports it (REST reply, WS ``order`` event, lookup)."""

    LIVE = "LIVE"
    DELAYED = "DELAYED"  # marketable order held by the sports taker delay
    MATCHED = "MATCHED"
    UNMATCHED = "UNMATCHED"  # marketable (FOK/FAK/delayed) order that found nothing: killed
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    INVALID = "INVALID"  # venue-side cancel (invalidated)


class SubmitResult(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted submit: ``status`` is LIVE, MATCHED, DELAYED or UNMATCHED."""

    order_hash: str
    status: VenueOrderStatus
    making_amount: int = 0
    taking_amount: int = 0
    trade_ids: tuple[str, ...] = ()


class VenueOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The venue's view of one of our orders (open-orders list or a lookup)."""

    order_hash: str
    market: str
    token_id: str
    side: Side
    price: int
    original_size: int
    size_matched: int
    status: VenueOrderStatus
    order_type: OrderType = OrderType.GTC
    created_ns: int = 0
    trade_ids: tuple[str, ...] = ()
    metadata: str = ""
    """The signed order's ``metadata`` bytes32 (``0x`` + 64 hex) when the venue reports it,
    ``""`` when it does not: with several instances on one account it names the instance
    that signed the order (:mod:`polyloly.execution.instances`)."""


class CancelResult(msgspec.Struct, frozen=True, kw_only=True):
    """Which orders a cancel request canceled, and why the others were not."""

    canceled: tuple[str, ...] = ()
    not_canceled: dict[str, str] = msgspec.field(default_factory=dict)


class OrderSigner(Protocol):
    """Signs orders locally and computes their venue id (the V2 order hash)."""

    def sign(self, spec: OrderSpec) -> SignedOrder:
        """Return the signed order; the same spec always gives the same ``order_hash``."""
        ...


class OrderVenue(Protocol):
    """Places, finds and cancels orders (see the module docstring for the error contract)."""

    async def submit(self, order: SignedOrder) -> SubmitResult:
        """Send one signed order; raise ``RejectError`` if the venue refused it."""
        ...

    async def lookup(self, order_hash: str) -> VenueOrder | None:
        """Return the venue's view of an order, or ``None`` if the venue never received it.

        An order that is no longer open (matched, canceled) must still be found: adapters
        whose order endpoint lists only active orders fall back to the trade history.
        """
        ...

    async def cancel(self, order_hashes: Sequence[str]) -> CancelResult:
        """Cancel these orders (unknown or already-final ones land in ``not_canceled``)."""
        ...


class CancelAllVenue(Protocol):
    """Cancels every open order of the account (the kill switch's first call)."""

    async def cancel_all(self) -> CancelResult:
        """Cancel everything open on the account."""
        ...


# ---------------------------------------------------------------------------------------------
# Trades and account state
# ---------------------------------------------------------------------------------------------


class TradeStatus(StrEnum):
    """Settlement status of a trade: MATCHED → MINED → CONFIRMED, or RETRYING / FAILED."""

    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


class TraderSide(StrEnum):
    """Whether the account took liquidity in this trade or provided it."""

    TAKER = "TAKER"
    MAKER = "MAKER"


class MakerLeg(msgspec.Struct, frozen=True, kw_only=True):
    """One resting order a trade matched (``maker_orders[]`` on the wire).

    ``asset_id`` may be the *other* outcome token than the trade's: a BUY of YES can match a
    BUY of NO (mint) and a SELL can match a SELL (merge). ``side`` is optional on the wire.
    """

    order_id: str
    asset_id: str
    price: int
    matched_amount: int
    side: Side | None = None
    fee_rate_bps: int = 0
    owner: str = ""


class TradeReport(msgspec.Struct, frozen=True, kw_only=True):
    """One trade as the venue reports it (WS ``trade`` event or ``/data/trades`` row).

    The top-level ``asset_id``/``side``/``price``/``size`` describe the taker order; the
    account's own legs are found by order id (taker and/or maker legs). ``fee`` is the
    taker's fee in micro-pUSD when the venue states it; otherwise it is computed from
    ``fee_rate_bps``.
    """

    trade_id: str
    market: str
    asset_id: str
    side: Side
    price: int
    size: int
    status: TradeStatus
    taker_order_id: str
    trader_side: TraderSide = TraderSide.TAKER
    fee_rate_bps: int = 0
    fee: int | None = None
    maker_legs: tuple[MakerLeg, ...] = ()
    match_time_ns: int = 0
    last_update_ns: int = 0
    transaction_hash: str = ""


class Balances(msgspec.Struct, frozen=True, kw_only=True):
    """The account's pUSD collateral and outcome-token balances (micro-units)."""

    collateral: int
    tokens: dict[str, int] = msgspec.field(default_factory=dict)


class AccountReader(Protocol):
    """Reads the account's state from the venue for reconciliation."""

    async def open_orders(self) -> list[VenueOrder]:
        """Return every open order of the account."""
        ...

    async def trades(self, after_ns: int) -> list[TradeReport]:
        """Return the account's trades matched or updated at or after ``after_ns``."""
        ...

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """Return collateral and the balances of ``token_ids`` (others may be included)."""
        ...


# ---------------------------------------------------------------------------------------------
# Merge and alerts
# ---------------------------------------------------------------------------------------------


class MergeResult(msgspec.Struct, frozen=True, kw_only=True):
    """A completed merge of ``size`` YES+NO pairs into ``size`` pUSD-micros."""

    condition_id: str
    size: int
    transaction_hash: str = ""


class Merger(Protocol):
    """Merges complete YES+NO pairs of a binary market back into pUSD."""

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        """Burn ``size`` of each outcome token of ``condition_id`` for ``size`` pUSD."""
        ...


class AlertLevel(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """A message for the operator (kill switch fired, reconciliation failed…)."""

    level: AlertLevel
    title: str
    body: str
    ts_ns: int = 0


class AlertPort(Protocol):
    """Delivers alerts to the operator (apprise in production, a list in tests)."""

    async def send(self, alert: Alert) -> None:
        """Deliver one alert; failures are the implementation's to log, never to raise."""
        ...
