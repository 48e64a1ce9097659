"""Pre-decided orders: a result costs a confidence check, a halt check, a lookup and a write.

Temporal arbitrage races the book: from a confirmed result to its order on the wire, every
microsecond counts. The ordinary path — the truth event → the strategy plans and sizes →
``PlaceOrderIntent`` → the risk gate → the order manager takes the pre-signed order →
``OrderSubmitted`` logged and flushed → a submit task → the request written — runs a few
hundred Python calls before the write. All of it can be decided *before* the result, for
each result the truth engine may still emit:

* for every standard entry temporal arbitrage keeps pre-signed (both outcomes of a live
  match's market, both of a game in progress: :meth:`~polyloly.strategies.temporal_arb.
  engine.TemporalArbEngine.presign_targets`), :class:`Predecider` asks the strategy what it
  would do if that outcome were confirmed now (:meth:`~polyloly.strategies.temporal_arb.
  engine.TemporalArbEngine.predict`: the book walk, the price cap, the exposure room, the
  market minimum), the risk gate whether it would approve it (:meth:`~polyloly.execution.
  risk_gate.RiskGate.precheck`: every rule, on the current state), the pool whether it
  would hand out its pre-signed order (:meth:`~polyloly.execution.presign.PresignPool.peek`)
  and, with a shared budget, holds its reservation (:meth:`~polyloly.execution.budget.
  BudgetKeeper.hold`); the venue makes the whole request, headers and all
  (:class:`~polyloly.execution.presign.PostNowVenue`);
* when a result arrives (:meth:`Predecider.on_result`, the first thing the core does with a
  ``TruthFinal`` or a game's ``TruthDelta``): the strategy's confirmation policy on the
  result, the halt check, one dict lookup, the checks that the decision still stands
  (cheap comparisons, below), and the socket write — inside the dispatch of the result;
* then the ordinary path runs exactly as without pre-decisions and logs exactly the same
  events (the intent, the decision, ``OrderSubmitted``…): the order manager finds the order
  already written (:attr:`~polyloly.execution.order_manager.OrderManager.prewritten`), and
  its submit task reads the reply of that write instead of posting. A replay, which never
  pre-decides, therefore makes the same decisions and the same log.

When a decision stands. A pre-decision is made from the strategy's state, the token's book,
the ledger, the gate's counters, the pool and the parameters. It is dropped as soon as any
of them may have changed:

* any kernel event other than market data, esports reports, truth updates and timer ticks
  (:data:`NEUTRAL`) moves an epoch that every pre-decision was made in: orders, fills,
  positions, feed states, operator commands, kill-switch changes, reconciliation, new
  sessions (parameters), markets, pre-signed orders ready or discarded…;
* a book event (snapshot, price change, tick change, invalidation) touching its token drops
  it (the core tells the pre-decider; other tokens' frames cost nothing here);
* the rest is checked at the result, in a few comparisons: the kill switch is not latched
  and the market data is not silent (:meth:`~polyloly.execution.risk_gate.RiskGate.
  unhalted`), the pre-signed order is within its maximum age, the strategy has not entered
  that result, not blocked the match, and its committed exposure is still at most the
  ceiling under which the same entry is chosen (results decided earlier in the same
  dispatch change it without an event), and the shared reservation was granted.

A stale pre-decision is never sent: the result then takes the ordinary path (counted in
:attr:`PredecideStats.fallbacks`). New ones are made by :meth:`Predecider.refresh`, run by
the injected ``schedule`` (the event loop's ``call_soon``) once the dispatch that changed
something is over — never inside a dispatch.

Should the ordinary path ever not send the very order that was written (a bug: the checks
above are meant to make it impossible), the order is logged all the same
(``OrderSubmitted``, so the ledger and reconciliation track it), an ``ExecutionAnomaly``
``predecision_mismatch`` is emitted and the kill switch fires.

Crash window: the order is written before its ``OrderSubmitted`` is logged (some hundred
microseconds later, in the same synchronous dispatch, then flushed). A process killed in
between has sent an order its log does not name — but the pre-signed order itself is in
the log (``PresignReady``, with its hash). At start-up, :func:`recover_written` looks up at
the venue every pre-signed order the log leaves ready and unsent; one the venue has is
logged as the temporal entry it was (``OrderSubmitted`` under the entry's deterministic
intent id, its reply resolved by a lookup, never a resend), so the ledger, the risk gate,
the order manager's idempotency and the strategy's restart all count it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import msgspec
import structlog

from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    LastTrade,
    MatchEvent,
    PriceChanges,
    TickSizeChange,
    TimerTick,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.intents import intent_id_for
from polyloly.domain.markets import MarketMappingError, MarketRegistry
from polyloly.execution.engine import ExecutionEngine
from polyloly.execution.events import ExecutionAnomaly, OrderSubmitted
from polyloly.execution.ports import SignedOrder
from polyloly.execution.presign import (
    PostNowVenue,
    PresignDiscarded,
    PresignFailed,
    PresignReady,
    target_key,
)
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import PolylolyError, UnknownOutcomeError
from polyloly.runtime.kernel import Kernel
from polyloly.strategies.temporal_arb import TemporalArbEngine
from polyloly.strategies.temporal_arb.engine import STRATEGY
from polyloly.strategies.temporal_arb.policy import refusal

__all__ = [
    "NEUTRAL",
    "CoreView",
    "PreDecision",
    "PredecideStats",
    "Predecider",
    "Schedule",
    "recover_written",
]

_log = structlog.get_logger(__name__)

NEUTRAL: Final[frozenset[type[Event]]] = frozenset(
    {
        BookSnapshot,  # book events: the core drops the touched tokens' pre-decisions
        PriceChanges,
        TickSizeChange,
        BookInvalidated,
        LastTrade,  # marks of held tokens: a loss past the cap latches the kill switch
        MatchEvent,  # the truth engine's input
        TruthDelta,  # what follows from them comes as events, or is checked at the result
        TruthFinal,
        TimerTick,  # a tick's consequences come as events (or latch the kill switch)
        PresignFailed,
    }
)
"""Event types that move no input of a pre-decision by themselves (see the module docs)."""

Schedule = Callable[[Callable[[], None]], object]
"""Runs a callable soon, outside the kernel's dispatch (``loop.call_soon``)."""


class CoreView(Protocol):
    """What the pre-decider reads of the node's core (:class:`~polyloly.node.core.Core`)."""

    @property
    def kernel(self) -> Kernel: ...
    @property
    def registry(self) -> MarketRegistry: ...
    @property
    def temporal(self) -> TemporalArbEngine | None: ...
    @property
    def engine(self) -> ExecutionEngine | None: ...


@dataclass(slots=True)
class PreDecision:
    """One result's order, decided and written ahead: what the result will send."""

    market_id: str
    token_id: str
    match_id: str
    intent_id: str
    order: SignedOrder
    prepared: Any  # the venue's ready request
    prepared_s: int  # the wall-clock second it was prepared in
    ceiling: int  # the strategy's committed exposure up to which the entry is the same
    expires_ns: int  # the pre-signed order's maximum age
    epoch: int


@dataclass(slots=True)
class PredecideStats:
    """Counters: pre-decisions made, results sent from one, fallbacks by reason."""

    made: int = 0
    sent: int = 0
    mismatches: int = 0
    refreshes: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        """Flat counters (``fallback_<reason>`` per reason)."""
        out = {
            "made": self.made,
            "sent": self.sent,
            "mismatches": self.mismatches,
            "refreshes": self.refreshes,
        }
        out.update({f"fallback_{k}": v for k, v in sorted(self.fallbacks.items())})
        return out


class Predecider:
    """Keeps each possible result's order decided and its request ready (live only).

    Parameters
    ----------
    core
        The node's core (strategies, books, registry, execution engine).
    venue
        Makes requests ahead and writes them synchronously.
    schedule
        Runs :meth:`refresh` / the after-write check outside the dispatch.
    """

    def __init__(self, core: CoreView, venue: PostNowVenue, schedule: Schedule) -> None:
        engine = core.engine
        if engine is None:
            raise RuntimeError("attach the execution engine first")
        self.core = core
        self.engine = engine
        self.kernel = core.kernel
        self.venue = venue
        self.schedule = schedule
        self.stats = PredecideStats()
        self.tokens: set[str] = set()
        """Tokens with a pre-decision (the core drops them on a book event of theirs)."""
        self._entries: dict[tuple[str, str], PreDecision] = {}
        self._results: dict[tuple[str, int | None, str], PreDecision] = {}
        """The same pre-decisions by ``(match, game number or None, winning team)``."""
        self._refusals: dict[tuple[object, ...], str] = {}
        self._refusals_of: object = None  # the policy those answers are of
        self._epoch = 0
        self._scheduled = False
        self._written: dict[str, PreDecision] = {}  # sent, its OrderSubmitted not yet seen
        self._held: set[str] = set()  # order hashes holding a shared reservation
        self._prepared: dict[str, tuple[int, Any]] = {}  # hash -> (second, request)

    def attach(self) -> None:
        """Watch every event (after its own handlers) and the orders submitted."""
        self.kernel.subscribe(OrderSubmitted, self._on_submitted)
        self.kernel.subscribe(Event, self._on_event)

    def entries(self) -> list[PreDecision]:
        """The pre-decisions that stand now, by market and token."""
        return [self._entries[k] for k in sorted(self._entries)]

    # -- invalidation ---------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if type(event) in NEUTRAL:
            if type(event) is TimerTick and self._entries:
                self._dirty()  # keep the requests' L2 timestamps and the ages current
            return
        self._epoch += 1
        self._dirty()

    def on_book(self, touched: object) -> None:
        """A book event touched these tokens: their pre-decisions no longer stand."""
        tokens = self.tokens
        dropped = False
        for token in touched:  # type: ignore[attr-defined]
            if token in tokens:
                dropped = True
                for key in [k for k in self._entries if k[1] == token]:
                    del self._entries[key]
                for rkey in [k for k, e in self._results.items() if e.token_id == token]:
                    del self._results[rkey]
                tokens.discard(token)
        if dropped:
            self._dirty()

    def _dirty(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule(self.refresh)

    # -- deciding ahead ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Decide every possible result's order again on the current state."""
        self._scheduled = False
        self.stats.refreshes += 1
        temporal = self.core.temporal
        entries: dict[tuple[str, str], PreDecision] = {}
        holds: dict[str, SignedOrder] = {}
        if temporal is not None:
            for target in temporal.presign_targets():
                entry = self._decide(target)
                if entry is not None:
                    entries[(entry.market_id, entry.token_id)] = entry
                ready = self.engine.presign.get(target.token_id)
                if ready is not None and ready.key == target_key(target):
                    holds[ready.order.order_hash] = ready.order
        self._entries = entries
        self._results = {}
        for entry in entries.values():
            mapping = self.core.registry.by_market(entry.market_id)
            if mapping is not None:
                team = mapping.team_for(entry.token_id)  # canonical: the truth engine's name
                self._results[(mapping.match_id, mapping.game_number, team)] = entry
        self.tokens = {k[1] for k in entries}
        self._prepared = {e.order.order_hash: (e.prepared_s, e.prepared) for e in entries.values()}
        # A reservation is held while its order may be sent (the plan stands or may stand
        # again as the book moves: not re-reserved on every move), released when its result
        # can no longer come (the target is gone) or while trading is halted.
        self._hold(holds if self.engine.gate.unhalted(self.kernel.now_ns()) else {})

    def _decide(self, target: Any) -> PreDecision | None:
        core, engine = self.core, self.engine
        pool = engine.presign
        ready = pool.get(target.token_id)
        mapping = core.registry.by_market(target.market_id)
        if ready is None or mapping is None or ready.key != target_key(target):
            return None
        now = self.kernel.now_ns()
        temporal = core.temporal
        predicted = temporal.predict(mapping, target.token_id, now) if temporal else None
        if predicted is None:
            return None
        intent, ceiling = predicted
        stands = (
            pool.peek(intent, now) is ready
            and engine.state.order_for_client(intent.intent_id) is None
            and engine.gate.precheck(intent)
        )
        if not stands:
            return None
        order = ready.order
        second = self.kernel.clock.now_ns() // NS_PER_S
        kept = self._prepared.get(order.order_hash)
        if kept is not None and kept[0] == second:
            prepared = kept[1]
        else:
            prepared = self.venue.prepare_post(order)
            if prepared is None:
                return None
        self.stats.made += 1
        return PreDecision(
            market_id=mapping.market_id,
            token_id=target.token_id,
            match_id=mapping.match_id,
            intent_id=intent.intent_id,
            order=order,
            prepared=prepared,
            prepared_s=second,
            ceiling=ceiling,
            expires_ns=ready.signed_ns + pool.config.max_age_ns,
            epoch=self._epoch,
        )

    def _hold(self, orders: dict[str, SignedOrder]) -> None:
        """Hold the shared reservation of every pre-decided order; release the others."""
        keeper = self.engine.budget
        if keeper is None:
            return
        for order_hash in sorted(self._held - orders.keys()):
            keeper.release(order_hash)
        for order in orders.values():
            keeper.hold(order)
        self._held = set(orders)

    # -- the result -------------------------------------------------------------------------------

    def on_result(self, event: Event) -> bool:
        """Send the pre-decided order of this result now, if one stands; return whether.

        The result is looked up by ``(match, game, winner)`` as the truth engine names it
        (a name in another spelling takes the registry's way), and the confirmation policy's
        answer for the same confidence and sources is remembered: on a hit this is a few
        dict reads, then :meth:`_send`.
        """
        results = self._results
        if not results:
            return False
        cls = type(event)
        if cls is TruthFinal:
            assert isinstance(event, TruthFinal)  # noqa: S101 - narrowed for the checker
            entry = results.get((event.match_id, None, event.winner))
            if entry is None:
                return self._by_registry(event)
            why = self._refusal(event.confidence, event.sources, event.timed_out, final=True)
        elif cls is TruthDelta:
            assert isinstance(event, TruthDelta)  # noqa: S101 - narrowed for the checker
            if event.change != "game_result" or event.game_winner is None:
                return False
            entry = results.get((event.match_id, event.game_number, event.game_winner))
            if entry is None:
                return self._by_registry(event)
            why = self._refusal(event.game_confidence, event.game_sources, False, final=False)
        else:
            return False
        # the kernel's pinned time: the one the pool and the gate judge age and silence by
        return not why and self._send(entry, self.kernel.now_ns())

    def _refusal(
        self, confidence: int, sources: tuple[str, ...], timed_out: bool, *, final: bool
    ) -> str:
        """The confirmation policy's :func:`refusal`, remembered per distinct question."""
        temporal = self.core.temporal
        if temporal is None:
            return "no strategy"
        policy = temporal.policy
        if policy is not self._refusals_of:  # new parameters: new answers
            self._refusals_of = policy
            self._refusals.clear()
        key = (confidence, sources, timed_out, final)
        why = self._refusals.get(key)
        if why is None:
            why = refusal(
                policy, confidence=confidence, sources=sources, timed_out=timed_out, final=final
            )
            if len(self._refusals) > 1_024:
                self._refusals.clear()
            self._refusals[key] = why
        return why

    def _by_registry(self, event: Event) -> bool:
        """The result's pre-decision found through the registry (any spelling of a team)."""
        found = self._result(event)
        if found is None:
            return False
        market_id, team = found
        mapping = self.core.registry.by_market(market_id)
        try:
            token = mapping.token_for(team) if mapping is not None else ""
        except MarketMappingError:
            return False
        entry = self._entries.get((market_id, token))
        return entry is not None and self._send(entry, self.kernel.now_ns())

    def _result(self, event: Event) -> tuple[str, str] | None:
        """``(market, winning team)`` of a result the confirmation policy lets through."""
        registry = self.core.registry
        if isinstance(event, TruthFinal):
            mapping = registry.match_market(event.match_id)
            team = event.winner
            why = self._refusal(event.confidence, event.sources, event.timed_out, final=True)
        elif isinstance(event, TruthDelta) and event.change == "game_result":
            number, winner = event.game_number, event.game_winner
            if number is None or winner is None:
                return None
            mapping = registry.game_market(event.match_id, number)
            team = winner
            why = self._refusal(event.game_confidence, event.game_sources, False, final=False)
        else:
            return None
        return None if mapping is None or why else (mapping.market_id, team)

    def _stale(self, entry: PreDecision, now: int) -> str:
        """Why ``entry`` no longer stands at ``now`` (``""``: it does)."""
        temporal = self.core.temporal
        keeper = self.engine.budget
        if entry.epoch != self._epoch:
            return "changed"
        if now > entry.expires_ns:
            return "expired"
        if not self.engine.gate.unhalted(now):
            return "halted"
        if temporal is None or not temporal.may_enter(
            entry.market_id, entry.token_id, entry.match_id, entry.ceiling
        ):
            return "strategy"
        if keeper is not None and not keeper.held(entry.order.order_hash):
            return "not_reserved"
        return ""

    def _send(self, entry: PreDecision, now: int) -> bool:
        engine = self.engine
        temporal = self.core.temporal
        keeper = engine.budget
        stands = (
            entry.epoch == self._epoch
            and now <= entry.expires_ns
            and engine.gate.unhalted(now)
            and temporal is not None
            and temporal.may_enter(entry.market_id, entry.token_id, entry.match_id, entry.ceiling)
            and (keeper is None or keeper.held(entry.order.order_hash))
        )
        if not stands:  # say why (the same checks, in order)
            return self._fallback(self._stale(entry, now))
        order_hash = entry.order.order_hash
        try:
            pending = self.venue.post_now(entry.prepared)
        except Exception as exc:  # the result must still be decided below
            # Some bytes may have left: the submit task of the ordinary path (if it sends
            # this order) looks it up first and posts only if the venue has not got it.
            _log.error("predecide.write_failed", order_hash=order_hash, error=repr(exc))
            pending = _LookupFirst()
            self._fallback("write_failed")
        if pending is None:
            return self._fallback("not_written")
        del self._entries[(entry.market_id, entry.token_id)]
        for rkey in [k for k, e in self._results.items() if e is entry]:
            del self._results[rkey]
        self.engine.orders.prewritten[order_hash] = pending
        self._written[order_hash] = entry
        self.schedule(self._verify)
        if isinstance(pending, _LookupFirst):
            return False
        self.stats.sent += 1
        return True

    def _fallback(self, reason: str) -> bool:
        self.stats.fallbacks[reason] = self.stats.fallbacks.get(reason, 0) + 1
        return False

    # -- after the write --------------------------------------------------------------------------

    def _on_submitted(self, event: OrderSubmitted) -> None:
        self._written.pop(event.order_hash, None)

    def _verify(self) -> None:
        """Every written order must have been submitted by the ordinary path by now."""
        for order_hash in sorted(self._written):
            entry = self._written.pop(order_hash)
            self._mismatch(entry)

    def _mismatch(self, entry: PreDecision) -> None:
        self.stats.mismatches += 1
        engine = self.engine
        spec = entry.order.spec
        client_id = entry.intent_id
        if engine.state.order_for_client(client_id) is not None:
            client_id = f"{client_id}:predecided"
        order = SignedOrder(
            order_hash=entry.order.order_hash,
            spec=msgspec.structs.replace(spec, client_id=client_id, market=entry.market_id),
            payload=entry.order.payload,
        )
        _log.error("predecide.mismatch", intent_id=entry.intent_id, order_hash=order.order_hash)
        now = self.kernel.now_ns()
        detail = "an order was written that the decision path did not submit"
        self.kernel.publish(
            ExecutionAnomaly(
                ts_event=now,
                ts_init=now,
                kind="predecision_mismatch",
                subject=entry.intent_id,
                detail=detail,
            )
        )
        # The order is out: the ledger must know it (reconciliation, positions, cancels).
        self.kernel.publish(
            OrderSubmitted(ts_event=now, ts_init=now, strategy="temporal_arb", order=order)
        )
        engine.gate.fire("predecision", f"{detail} ({entry.intent_id})")


# ---------------------------------------------------------------------------------------------
# Start-up: an order written just before a crash, its OrderSubmitted never logged
# ---------------------------------------------------------------------------------------------


class _LookupFirst:
    """A written order whose reply is lost: the submit task looks it up (never resends)."""

    async def result(self) -> Any:
        raise UnknownOutcomeError("written before a restart: look it up")


async def recover_written(engine: ExecutionEngine, recorded: Iterable[Event]) -> list[str]:
    """Log the pre-signed orders a crash left written but unlogged; return their hashes.

    Every ``PresignReady`` of the log that no ``PresignDiscarded`` dropped and the ledger
    (recovered from the same log) does not know, signed within the pool's maximum age of
    the log's last event, may have been written by a pre-decision just before the process
    stopped. Each is looked up at the venue; one it has is published as the temporal entry
    it was (``OrderSubmitted``, client id the entry's intent id), and its outcome is found by
    a lookup. Call it after :meth:`~polyloly.execution.engine.ExecutionEngine.recover`,
    before the session starts the strategies (they then count it as entered).
    """
    ready: dict[str, PresignReady] = {}
    last_ns = 0
    for event in recorded:
        last_ns = max(last_ns, event.ts_init)
        if isinstance(event, PresignReady):
            ready[event.order.order_hash] = event
        elif isinstance(event, PresignDiscarded):
            for order_hash in event.order_hashes:
                ready.pop(order_hash, None)
    oldest = last_ns - engine.presign.config.max_age_ns
    candidates = [
        e.order
        for h, e in sorted(ready.items())
        if h not in engine.state.orders and e.ts_event >= oldest
    ]
    found: list[str] = []
    for order in candidates:
        try:
            venue_order = await engine.ports.venue.lookup(order.order_hash)
        except PolylolyError as exc:
            _log.warning(
                "predecide.recover_lookup_failed", order_hash=order.order_hash, error=str(exc)
            )
            continue
        if venue_order is None:
            continue
        spec = order.spec
        intent_id = intent_id_for(STRATEGY, f"{spec.market}:{spec.token_id}", 1)
        if engine.state.order_for_client(intent_id) is not None:
            intent_id = f"{intent_id}:predecided"
        relabelled = SignedOrder(
            order_hash=order.order_hash,
            spec=msgspec.structs.replace(spec, client_id=intent_id),
            payload=order.payload,
        )
        engine.orders.prewritten[order.order_hash] = _LookupFirst()
        now = engine.kernel.now_ns()
        engine.kernel.publish(
            OrderSubmitted(ts_event=now, ts_init=now, strategy=STRATEGY, order=relabelled)
        )
        found.append(order.order_hash)
    return found
