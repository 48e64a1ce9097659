"""Pre-signed orders: a result costs one HTTP request, not a signature.

Signing a V2 order takes ≈ 0.1 ms with libsecp256k1 (≈ 1.5 ms on eth-keys' pure-Python
backend), still a sizeable part of the budget from a result to the order on the wire;
temporal arbitrage races the market to the book, so the orders a result may trigger are
signed *before* the result:

* :class:`~polyloly.execution.presigner.Presigner` (live only, its own module) asks the
  strategy which orders it may send next (its *targets*, e.g.
  :meth:`~polyloly.strategies.temporal_arb.engine.TemporalArbEngine.presign_targets`: both
  outcomes of a live match's markets, at the entry cap and the standard size), signs the
  missing or ageing ones one at a time **off the event loop** (``asyncio.to_thread`` by
  default), and publishes each as a :class:`PresignReady` input
  event. What is no longer wanted — the match ended, the market resolved, the parameters or
  the tick changed, the order got too old — goes out as :class:`PresignDiscarded`. It works
  after the kernel's dispatch, never inside it, so an intent queued in the same cascade as
  the result that made its order unwanted still finds it.
* :class:`PresignPool` (inside the order manager) is a fold of those events. Given an
  approved intent, :meth:`PresignPool.take` returns the ready order with the same token,
  side, price, size and order type (and no post-only or expiration), relabelled with the
  intent id as its client id, and forgets it: each pre-signed order is used at most once,
  never when its hash is already in the ledger, never when older than ``max_age_s``. On a
  miss the order manager signs on demand, as before. The order hash stays the order's
  identity: ``OrderSubmitted`` carries the pre-signed order and is logged and flushed before
  the POST, so idempotency and crash recovery work as for any order.

Refreshing: an order whose V2 ``timestamp`` (ms) is ``refresh_after_s`` old is signed again
and replaces the old one (which stays usable until then); a ``TickSizeChange`` forces a
re-sign (an order priced off the new tick is discarded at once); a changed target (new
parameters) discards the old order and signs the new one. A failed signature is retried
after ``failure_backoff_s`` (or as soon as the target changes) and reported as
:class:`PresignFailed`; it never counts as an execution error.

Replay: the pool is driven only by logged events and the pinned kernel time, so an exact
replay that re-feeds ``PresignReady`` / ``PresignDiscarded`` regenerates the same
``OrderSubmitted`` (the :class:`~polyloly.execution.presigner.Presigner` itself must not run
in a replay, and the replay never imports its module).

Threads and the GIL: signing in a worker thread keeps the loop free between bytecodes, but
the thread holds the GIL while it runs Python code, so an event arriving during one of the
rare signatures (a few per refresh period) may wait up to the interpreter's switch interval
(5 ms by default) for the loop thread to run. :class:`SerialSigner` makes any port signer
safe from two threads (the port does not promise thread safety) and counts every signature.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from polyloly.domain.events import (
    Event,
    Side,
    register_event,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.execution.ports import OrderSigner, OrderSpec, SignedOrder, SubmitResult
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.kernel import Kernel

__all__ = [
    "OrderTarget",
    "PendingSubmit",
    "PostNowVenue",
    "PresignConfig",
    "PresignDiscarded",
    "PresignFailed",
    "PresignKey",
    "PresignPool",
    "PresignReady",
    "PresignStats",
    "ReadyOrder",
    "SerialSigner",
    "intent_key",
    "spec_key",
    "target_key",
]

_MARKETABLE: Final = frozenset({OrderType.FAK, OrderType.FOK})

PresignKey = tuple[str, Side, int, int, OrderType, bool, int]
"""``(token_id, side, price, size, order_type, post_only, expiration_s)``: what must match."""


class OrderTarget(Protocol):
    """An order a strategy may send next (``temporal_arb``'s ``PresignTarget`` is one).

    Read-only attributes: ``match_id``, ``market_id``, ``token_id``, ``side``, ``price``
    (micros), ``size`` (share micros) and ``order_type`` (FAK or FOK).
    """

    @property
    def match_id(self) -> str: ...
    @property
    def market_id(self) -> str: ...
    @property
    def token_id(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def price(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def order_type(self) -> OrderType: ...


class PendingSubmit(Protocol):
    """An order post already written to the venue; its reply is still to come."""

    async def result(self) -> SubmitResult:
        """The venue's answer, as ``OrderVenue.submit`` returns or raises it."""
        ...


class PostNowVenue(Protocol):
    """A venue that can make an order's whole request ahead and write it synchronously.

    Pre-decided orders (:mod:`polyloly.node.predecide`) use it: the request is made while
    the match is live, and a result costs one synchronous write, before any event-loop
    iteration. ``PolymarketVenue`` implements it.
    """

    def prepare_post(self, order: SignedOrder) -> Any:
        """The order's ready request (opaque), or ``None`` if it cannot be made ahead."""
        ...

    def post_now(self, prepared: Any) -> PendingSubmit | None:
        """Write the prepared request now; ``None`` if nothing was written (send it the
        ordinary way)."""
        ...


def spec_key(spec: OrderSpec) -> PresignKey:
    """The matching key of a signed order's spec."""
    s = spec
    return (s.token_id, s.side, s.price, s.size, s.order_type, s.post_only, s.expiration_s)


def intent_key(intent: PlaceOrderIntent) -> PresignKey:
    """The matching key of an intent."""
    i = intent
    return (i.token_id, i.side, i.price, i.size, i.order_type, i.post_only, i.expiration_s)


def target_key(target: OrderTarget) -> PresignKey:
    """The matching key of a target (marketable: never post-only, never an expiration)."""
    return (target.token_id, target.side, target.price, target.size, target.order_type, False, 0)


@dataclass(frozen=True, slots=True)
class PresignConfig:
    """Ages, retry delay and which strategies' intents may take pre-signed orders.

    ``refresh_after_s``: re-sign an order whose timestamp is this old; ``max_age_s``: never
    send one older than this (a miss instead); ``failure_backoff_s``: wait before retrying a
    target whose signature failed.
    """

    refresh_after_s: int = 20
    max_age_s: int = 45
    failure_backoff_s: int = 5
    strategies: tuple[str, ...] = ("temporal_arb",)

    def __post_init__(self) -> None:
        if not 0 < self.refresh_after_s < self.max_age_s:
            raise ValueError("presign: need 0 < refresh_after_s < max_age_s")
        if self.failure_backoff_s < 0:
            raise ValueError("presign: failure_backoff_s must be >= 0")

    @property
    def refresh_after_ns(self) -> int:
        """``refresh_after_s`` in ns."""
        return self.refresh_after_s * NS_PER_S

    @property
    def max_age_ns(self) -> int:
        """``max_age_s`` in ns."""
        return self.max_age_s * NS_PER_S


# ---------------------------------------------------------------------------------------------
# Events (inputs: they come from signatures made outside the kernel's dispatch)
# ---------------------------------------------------------------------------------------------


@register_event
class PresignReady(Event, frozen=True, tag="presign_ready"):
    """A signed order is ready to be sent as is; it replaces the token's previous one.

    ``ts_event`` is the order's own timestamp (when it was signed), in ns.
    """

    match_id: str
    order: SignedOrder


@register_event
class PresignDiscarded(Event, frozen=True, tag="presign_discarded"):
    """Pre-signed orders that must not be sent any more (unwanted, changed, off tick, old)."""

    order_hashes: tuple[str, ...]
    reason: str


@register_event
class PresignFailed(Event, frozen=True, tag="presign_failed"):
    """Signing an order ahead failed (it is signed on demand if it is needed)."""

    token_id: str
    error: str


# ---------------------------------------------------------------------------------------------
# The pool (a fold of the events above; used by the order manager)
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PresignStats:
    """Counters: ``hits`` (sent pre-signed), ``misses`` (signed on demand, by reason),
    ``refreshes`` (a newer signature replaced a ready order), ``discarded`` (thrown away
    unused), ``signed`` and ``sign_failures`` (the presigner's signatures)."""

    hits: int = 0
    misses: int = 0
    refreshes: int = 0
    discarded: int = 0
    signed: int = 0
    sign_failures: int = 0
    miss_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        """Flat counters (``miss_<reason>`` per miss reason), for metrics."""
        out = {
            "hits": self.hits,
            "misses": self.misses,
            "refreshes": self.refreshes,
            "discarded": self.discarded,
            "signed": self.signed,
            "sign_failures": self.sign_failures,
        }
        out.update({f"miss_{k}": v for k, v in sorted(self.miss_reasons.items())})
        return out


@dataclass(frozen=True, slots=True)
class ReadyOrder:
    """One ready pre-signed order."""

    order: SignedOrder
    key: PresignKey
    signed_ns: int
    match_id: str

    @property
    def token_id(self) -> str:
        """The order's token."""
        return self.order.spec.token_id


class PresignPool:
    """Ready pre-signed orders, one per token; :meth:`take` hands each out once.

    Parameters
    ----------
    kernel
        For the current (pinned) time and the subscriptions.
    state
        The execution ledger: an order whose hash it knows is never handed out.
    config
        Ages and the strategies served.
    """

    def __init__(
        self, kernel: Kernel, state: ExecutionState, config: PresignConfig | None = None
    ) -> None:
        self.kernel = kernel
        self.state = state
        self.config = config or PresignConfig()
        self.stats = PresignStats()
        self.active = False  # set by the first PresignReady: misses count from then on
        self._ready: dict[str, ReadyOrder] = {}
        self._used: set[str] = set()
        self._strategies = frozenset(self.config.strategies)

    def attach(self) -> None:
        """Subscribe to the pool's events."""
        self.kernel.subscribe(PresignReady, self._on_ready)
        self.kernel.subscribe(PresignDiscarded, self._on_discarded)

    def get(self, token_id: str) -> ReadyOrder | None:
        """The token's ready order, if any."""
        return self._ready.get(token_id)

    def ready(self) -> list[ReadyOrder]:
        """Every ready order, by token id."""
        return [self._ready[k] for k in sorted(self._ready)]

    def serves(self, intent: PlaceOrderIntent) -> bool:
        """Whether ``intent`` is of the kind the pool holds orders for."""
        return (
            intent.strategy in self._strategies
            and intent.side is Side.BUY
            and intent.order_type in _MARKETABLE
        )

    def peek(self, intent: PlaceOrderIntent, now_ns: int) -> ReadyOrder | None:
        """The ready order :meth:`take` would hand out for ``intent`` at ``now_ns`` (kept)."""
        if not self.active or not self.serves(intent):
            return None
        entry = self._ready.get(intent.token_id)
        if entry is None or entry.key != intent_key(intent):
            return None
        order_hash = entry.order.order_hash
        if now_ns - entry.signed_ns > self.config.max_age_ns:
            return None
        if order_hash in self._used or order_hash in self.state.orders:
            return None
        return entry

    def take(self, intent: PlaceOrderIntent) -> SignedOrder | None:
        """The ready order matching ``intent``, relabelled with its id; None on a miss."""
        if not self.active or not self.serves(intent):
            return None
        entry = self._ready.get(intent.token_id)
        if entry is None:
            return self._miss("none_ready")
        if entry.key != intent_key(intent):
            return self._miss("mismatch")
        order_hash = entry.order.order_hash
        if self.kernel.now_ns() - entry.signed_ns > self.config.max_age_ns:
            self._drop(intent.token_id)
            return self._miss("stale")
        if order_hash in self._used or order_hash in self.state.orders:
            self._drop(intent.token_id)
            return self._miss("used")
        del self._ready[intent.token_id]
        self._used.add(order_hash)
        self.stats.hits += 1
        spec = entry.order.spec
        relabelled = OrderSpec(
            client_id=intent.intent_id,
            market=intent.market,
            token_id=spec.token_id,
            side=spec.side,
            price=spec.price,
            size=spec.size,
            order_type=spec.order_type,
            salt=spec.salt,
            timestamp_ms=spec.timestamp_ms,
            post_only=spec.post_only,
            expiration_s=spec.expiration_s,
        )
        return SignedOrder(order_hash=order_hash, spec=relabelled, payload=entry.order.payload)

    def _miss(self, reason: str) -> SignedOrder | None:
        self.stats.misses += 1
        self.stats.miss_reasons[reason] = self.stats.miss_reasons.get(reason, 0) + 1
        return None

    def _drop(self, token_id: str) -> None:
        if self._ready.pop(token_id, None) is not None:
            self.stats.discarded += 1

    def _on_ready(self, event: PresignReady) -> None:
        order = event.order
        if order.order_hash in self._used or order.order_hash in self.state.orders:
            return  # never hand out an order that may have been sent
        self.active = True
        token = order.spec.token_id
        old = self._ready.get(token)
        if old is not None and old.order.order_hash != order.order_hash:
            self.stats.refreshes += 1
        self._ready[token] = ReadyOrder(
            order=order, key=spec_key(order.spec), signed_ns=event.ts_event, match_id=event.match_id
        )

    def _on_discarded(self, event: PresignDiscarded) -> None:
        hashes = set(event.order_hashes)
        for token in [t for t, r in self._ready.items() if r.order.order_hash in hashes]:
            self._drop(token)


# ---------------------------------------------------------------------------------------------
# Signing off the loop
# ---------------------------------------------------------------------------------------------


class SerialSigner:
    """An ``OrderSigner`` that signs one order at a time, from any thread, and counts.

    The ``OrderSigner`` port does not require thread safety (the Polymarket signer is
    thread-safe; the in-memory fakes are not), so the presigner's thread and an on-demand
    signature on the loop take turns here. With the GIL two signatures cannot run in
    parallel anyway; taking turns only orders them.
    """

    def __init__(self, inner: OrderSigner) -> None:
        self.inner = inner
        self.calls = 0
        self._lock = threading.Lock()

    def sign(self, spec: OrderSpec) -> SignedOrder:
        """Sign ``spec`` with the wrapped signer, holding the lock."""
        with self._lock:
            self.calls += 1
            return self.inner.sign(spec)
