"""Pre-signed orders: a result costs one HTTP request, not a signature.

Signing a V2 order takes ≈ 0.1 ms with libsecp256k1 (≈ 1.5 ms on eth-keys' pure-Python
backend), still a sizeable part of the budget from a result to the order on the wire;
temporal arbitrage races the market to the book, so the orders a result may trigger are
signed *before* the result:

* :class:`Presigner` (live only) asks the strategy which orders it may send next (its
  *targets*, e.g. :meth:`~polyloly.strategies.temporal_arb.engine.TemporalArbEngine.
  presign_targets`: both outcomes of a live match's markets, at the entry cap and the
  standard size), signs the missing or ageing ones one at a time **off the event loop**
  (``asyncio.to_thread`` by default), and publishes each as a :class:`PresignReady` input
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
``OrderSubmitted`` (the :class:`Presigner` itself must not run in a replay).

Threads and the GIL: signing in a worker thread keeps the loop free between bytecodes, but
the thread holds the GIL while it runs Python code, so an event arriving during one of the
rare signatures (a few per refresh period) may wait up to the interpreter's switch interval
(5 ms by default) for the loop thread to run. :class:`SerialSigner` makes any port signer
safe from two threads (the port does not promise thread safety) and counts every signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from polyloly.bot.clock import NS_PER_MS, NS_PER_S
from polyloly.bot.errors import PolylolyError
from polyloly.bot.kernel import Kernel
from polyloly.domain.events import (
    Event,
    MarketResolved,
    Side,
    TickSizeChange,
    TimerTick,
    TruthAlert,
    TruthDelta,
    TruthFinal,
    register_event,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.money import is_on_tick
from polyloly.execution.ports import OrderSigner, OrderSpec, SignedOrder, deterministic_salt
from polyloly.execution.state import ExecutionState

__all__ = [
    "OrderTarget",
    "PresignConfig",
    "PresignDiscarded",
    "PresignFailed",
    "PresignKey",
    "PresignPool",
    "PresignReady",
    "PresignStats",
    "Presigner",
    "ReadyOrder",
    "SerialSigner",
    "SignRunner",
    "intent_key",
    "spec_key",
    "target_key",
    "thread_runner",
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


SignRunner = Callable[[OrderSigner, OrderSpec], Awaitable[SignedOrder]]
"""Runs one signature away from the event loop."""


async def thread_runner(signer: OrderSigner, spec: OrderSpec) -> SignedOrder:
    """Sign in the default executor's worker thread (``asyncio.to_thread``)."""
    return await asyncio.to_thread(signer.sign, spec)


class Presigner:
    """Keeps the pool stocked with fresh signatures of the strategy's targets (live only).

    Parameters
    ----------
    kernel
        Where :class:`PresignReady` / :class:`PresignDiscarded` are published.
    pool
        The order manager's pool (its config gives the ages).
    signer
        The signer the order manager uses too (a :class:`SerialSigner`).
    targets
        Returns the orders the strategy may send next; called after the kernel's dispatch.
    run_sign
        Runs a signature off the loop (default: a worker thread).
    tick_of
        The token's current tick (micros); orders priced off it are discarded.
    """

    def __init__(
        self,
        kernel: Kernel,
        pool: PresignPool,
        signer: OrderSigner,
        targets: Callable[[], Iterable[OrderTarget]],
        *,
        run_sign: SignRunner = thread_runner,
        tick_of: Callable[[str], int] | None = None,
    ) -> None:
        self.kernel = kernel
        self.pool = pool
        self.signer = signer
        self.config = pool.config
        self._targets = targets
        self._run_sign = run_sign
        self._tick_of = tick_of
        self._wake = asyncio.Event()
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._task: asyncio.Task[None] | None = None
        self._failed: dict[str, tuple[PresignKey, int]] = {}  # token -> (key, retry at ns)
        self._tick_gen: dict[str, int] = {}  # token -> tick changes seen
        self._tick_done: dict[str, int] = {}  # token -> tick changes its ready order reflects
        self._seq = 0
        self.passes = 0
        self.errors = 0

    # -- wiring -----------------------------------------------------------------------------

    def attach(self) -> None:
        """Wake on every event that may change the targets or the tick, and on timer ticks."""
        k = self.kernel
        for cls in (TruthDelta, TruthFinal, TruthAlert, MarketResolved, TimerTick):
            k.subscribe(cls, self._poke)
        k.subscribe(PlaceOrderIntent, self._poke)
        k.subscribe(TickSizeChange, self._on_tick_size)

    def start(self) -> None:
        """Start the signing task (from a running event loop) and run a first pass."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="presigner")
            self.wake()

    async def stop(self) -> None:
        """Stop the signing task (a signature in flight finishes in its thread, unused)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._quiet.set()

    def wake(self) -> None:
        """Ask for a pass (e.g. after the strategy's parameters changed)."""
        self._quiet.clear()
        self._wake.set()

    async def idle(self) -> None:
        """Wait until every requested pass has finished (tests, benchmarks)."""
        if self._task is not None:
            await self._quiet.wait()

    def _poke(self, _event: Event) -> None:
        self.wake()

    def _on_tick_size(self, event: TickSizeChange) -> None:
        self._tick_gen[event.token_id] = self._tick_gen.get(event.token_id, 0) + 1
        self.wake()

    # -- the task -----------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                if not self._wake.is_set():
                    self._quiet.set()
                await self._wake.wait()
                # The event that woke us may have sent an order in the same dispatch: its
                # submit task was scheduled after our wake-up. Step behind it, so the order
                # is written to the socket before this pass takes the loop.
                await asyncio.sleep(0)
                self._wake.clear()
                try:
                    await self._pass()
                except Exception as exc:  # a bad pass must not end presigning; it is reported
                    self.errors += 1
                    self._failed_event("", f"presign pass: {type(exc).__name__}: {exc}")
        finally:
            self._quiet.set()

    def _wanted(self) -> dict[str, OrderTarget]:
        return {t.token_id: t for t in self._targets()}

    async def _pass(self) -> None:
        self.passes += 1
        wanted = self._wanted()
        self._discard(wanted, self.kernel.now_ns())
        for token in self._due(wanted, self.kernel.now_ns()):
            target = self._wanted().get(token)  # the world may have moved during a signature
            if target is not None:
                await self._sign(target)

    def _discard(self, wanted: dict[str, OrderTarget], now: int) -> None:
        groups: dict[str, list[str]] = {}
        for entry in self.pool.ready():
            reason = self._unfit(entry, wanted.get(entry.token_id), now)
            if reason:
                groups.setdefault(reason, []).append(entry.order.order_hash)
        for reason, hashes in sorted(groups.items()):
            now_ns = self.kernel.now_ns()
            self.kernel.publish(
                PresignDiscarded(
                    ts_event=now_ns, ts_init=now_ns, order_hashes=tuple(hashes), reason=reason
                )
            )

    def _unfit(self, entry: ReadyOrder, target: OrderTarget | None, now: int) -> str:
        if target is None:
            return "not wanted"
        if target_key(target) != entry.key:
            return "target changed"
        tick = self._tick_of(entry.token_id) if self._tick_of is not None else 0
        if tick > 0 and not is_on_tick(entry.order.spec.price, tick):
            return "off tick"
        if now - entry.signed_ns > self.config.max_age_ns:
            return "stale"
        return ""

    def _due(self, wanted: dict[str, OrderTarget], now: int) -> list[str]:
        """Tokens to sign: nothing ready first, then the oldest refreshes."""
        due: list[tuple[int, int, str]] = []
        for token, target in wanted.items():
            key = target_key(target)
            failed = self._failed.get(token)
            if failed is not None and failed[0] == key and now < failed[1]:
                continue
            tick = self._tick_of(token) if self._tick_of is not None else 0
            if tick > 0 and not is_on_tick(target.price, tick):
                continue  # the venue would refuse it; the strategy's intent fails the gate too
            entry = self.pool.get(token)
            if entry is None or entry.key != key:
                due.append((0, 0, token))
            elif now - entry.signed_ns >= self.config.refresh_after_ns or self._tick_gen.get(
                token, 0
            ) != self._tick_done.get(token, 0):
                due.append((1, entry.signed_ns, token))
        return [token for _, _, token in sorted(due)]

    async def _sign(self, target: OrderTarget) -> None:
        now = self.kernel.now_ns()
        token, key = target.token_id, target_key(target)
        tick_gen = self._tick_gen.get(token, 0)
        timestamp_ms = now // NS_PER_MS
        self._seq += 1
        client_id = f"presign:{token}:{timestamp_ms}:{self._seq}"
        spec = OrderSpec(
            client_id=client_id,
            market=target.market_id,
            token_id=token,
            side=target.side,
            price=target.price,
            size=target.size,
            order_type=target.order_type,
            salt=deterministic_salt(client_id),
            timestamp_ms=timestamp_ms,
        )
        try:
            signed = await self._run_sign(self.signer, spec)
        except (PolylolyError, ValueError) as exc:
            self.pool.stats.sign_failures += 1
            self._failed[token] = (key, now + self.config.failure_backoff_s * NS_PER_S)
            self._failed_event(token, str(exc))
            return
        self._failed.pop(token, None)
        self.pool.stats.signed += 1
        current = self._wanted().get(token)
        if current is None or target_key(current) != key:
            self.pool.stats.discarded += 1  # the target moved on while it was being signed
            return
        self._tick_done[token] = tick_gen
        self.kernel.publish(
            PresignReady(
                ts_event=timestamp_ms * NS_PER_MS,
                ts_init=self.kernel.now_ns(),
                match_id=target.match_id,
                order=signed,
            )
        )

    def _failed_event(self, token: str, error: str) -> None:
        now = self.kernel.now_ns()
        self.kernel.publish(PresignFailed(ts_event=now, ts_init=now, token_id=token, error=error))
