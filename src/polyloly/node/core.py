"""The kernel's subscriptions: books → strategies → risk gate → order manager, and back.

:class:`Core` is the part of a trading node that decides: the market registry, the books
the strategies read, the truth engine, both strategies, the execution engine and the
:class:`StrategyFeedback` that tells the strategies what their orders became. The live
node (:mod:`polyloly.bot.app`) and the replay (:mod:`polyloly.backtest.replay`) build the
very same :class:`Core`; only the venue ports differ.

Everything a decision depends on travels through the event log, so that a replay makes the
same decisions:

* :class:`~polyloly.node.session.SessionStarted` (an input event, first of every run)
  carries the decision parameters (:class:`~polyloly.node.session.NodeParams`): a replay
  configures itself from the log, not from today's configuration;
* :class:`~polyloly.node.session.MarketDiscovered` (input) carries each market's mapping to
  its match and teams;
* :class:`NodeKernel` pins ``now_ns()`` to the ``ts_init`` of the input being dispatched,
  so every derived event carries the same timestamps live and in replay.

Subscription order (the kernel runs handlers in subscription order, most specific class
first): the execution engine (ledger, risk gate, order manager) subscribes first, so every
handler here sees the ledger already updated; then the strategies' book set, the truth
engine, the strategies, and last the feedback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

import structlog

from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    MarketResolved,
    MatchEvent,
    PriceChanges,
    TickSizeChange,
    TimerTick,
    TruthAlert,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent, RiskDecision
from polyloly.domain.markets import (
    DEFAULT_TICK,
    MarketMapping,
    MarketMappingError,
    MarketRegistry,
    TeamAliases,
)
from polyloly.domain.orderbook import BookSet
from polyloly.domain.pairs import Leg
from polyloly.domain.truth_engine import TruthEngine
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts, Translate
from polyloly.execution.events import (
    ExecutionAnomaly,
    MergeCompleted,
    MergeFailed,
    OrderAccepted,
)
from polyloly.execution.presign import PostNowVenue, PresignConfig
from polyloly.execution.risk_gate import RiskGate
from polyloly.node.feedback import FEEDBACK_EVENTS, StrategyFeedback
from polyloly.node.predecide import Predecider, Schedule
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.runtime.kernel import EventSink, Kernel
from polyloly.runtime.sleep import Sleep
from polyloly.strategies.pair_arb import PairArbEngine
from polyloly.strategies.temporal_arb import TemporalArbEngine

__all__ = [
    "Core",
    "NodeKernel",
]

_log = structlog.get_logger(__name__)

_BOOK_EVENTS: Final = (BookSnapshot, PriceChanges, TickSizeChange, BookInvalidated)
_LEVEL_EVENTS: Final = (BookSnapshot, PriceChanges)  # the ones temporal arbitrage re-checks on
_NOTHING_ARMED: Final[Mapping[str, object]] = MappingProxyType({})


# ---------------------------------------------------------------------------------------------
# The kernel with a pinned clock
# ---------------------------------------------------------------------------------------------


class NodeKernel(Kernel):
    """A :class:`Kernel` whose ``now_ns()`` is the dispatched input's ``ts_init``.

    While an input event and everything it causes are dispatched, handlers that stamp
    derived events (``OrderSubmitted``, ``PositionChanged``…) read the input's own time,
    not the wall clock a few microseconds later; a replay, which sets a virtual clock to
    each input's ``ts_init``, therefore regenerates byte-identical events. Outside a
    dispatch (an adapter stamping a new input) it reads the injected clock.
    """

    def __init__(self, clock: Clock, sink: EventSink | None = None, flush_every: int = 1) -> None:
        super().__init__(clock, sink, flush_every)
        self._pin_time = True  # Kernel.publish pins _pinned to each input's ts_init
        self.last_handler_error = ""
        self.on_handler_error = self._handler_failed

    def _handler_failed(self, event: Event, exc: BaseException) -> None:
        # One broken handler must not stop the stream (nor kill the socket that published).
        self.last_handler_error = f"{type(event).__name__}: {type(exc).__name__}: {exc}"
        _log.error("kernel.handler_failed", event_type=type(event).__name__, error=repr(exc))

    def now_ns(self) -> int:
        """The dispatched input's ``ts_init``, or the clock's time outside a dispatch."""
        pinned = self._pinned
        return self.clock.now_ns() if pinned is None else pinned


# ---------------------------------------------------------------------------------------------
# The core
# ---------------------------------------------------------------------------------------------

MarketListener = Callable[[MarketMapping], None]


class Core:
    """Registry, books, truth, strategies, execution and feedback on one kernel.

    Build it with :meth:`attach_engine` (venue ports in) and feed it events; it configures
    its strategies from the :class:`SessionStarted` event it receives.
    """

    def __init__(self, kernel: Kernel, books: BookSet | None = None) -> None:
        self.kernel = kernel
        self.registry = MarketRegistry()
        self.books = books if books is not None else BookSet()
        """The books strategies and the risk gate read; pass the market-data client's set to
        share one (the client applies each event before publishing it, the core's apply of
        the same event object is then a no-op: see :class:`~polyloly.domain.orderbook.BookSet`)."""
        self.params: NodeParams | None = None
        self.truth: TruthEngine | None = None
        self.pair: PairArbEngine | None = None
        self.temporal: TemporalArbEngine | None = None
        self.engine: ExecutionEngine | None = None
        self.feedback: StrategyFeedback | None = None
        self.market_listeners: list[MarketListener] = []
        self.on_configure: list[Callable[[NodeParams], None]] = []
        self.session: SessionStarted | None = None
        self.predecide: Predecider | None = None
        """Pre-decided orders (:meth:`enable_predecide`; live only)."""
        self.intents: dict[str, int] = {}
        self.rejected_markets = 0
        self.refused_resolutions = 0
        self._armed: Mapping[str, object] = _NOTHING_ARMED  # temporal's armed tokens
        self._gate: RiskGate | None = None  # handed every level event by _on_levels
        self.route_all = False
        """Hand every book event to the strategies, as before the routing by what changed
        (``_on_book``); tests and benchmarks compare the two."""

    # -- lookups used by the venue ports ----------------------------------------------------

    def tick_of(self, token_id: str) -> int:
        """The token's tick: the book's current one, else the registry's, else 0.01."""
        book = self.books.get(token_id)
        if book is not None and book.tick:
            return book.tick
        mapping = self.registry.by_token(token_id)
        return mapping.tick if mapping is not None else DEFAULT_TICK

    def neg_risk_of(self, token_id: str) -> bool:
        """Whether the token's market is neg-risk (selects the exchange contract)."""
        mapping = self.registry.by_token(token_id)
        return mapping is not None and mapping.neg_risk

    def leg_of(self, token_id: str) -> Leg | None:
        """The pair-arbitrage leg of a token: team a's token is YES, team b's is NO."""
        mapping = self.registry.by_token(token_id)
        if mapping is None:
            return None
        return Leg.YES if token_id == mapping.token_a else Leg.NO

    def tokens_of(self, market: str) -> tuple[str, str] | None:
        """A market's two tokens (team a's first)."""
        mapping = self.registry.by_market(market)
        return None if mapping is None else (mapping.token_a, mapping.token_b)

    # -- wiring -----------------------------------------------------------------------------

    def attach_engine(
        self,
        ports: ExecutionPorts,
        *,
        sleep: Sleep,
        config: ExecutionConfig | None = None,
        translators: Mapping[type[Event], Translate] | None = None,
        resync_types: Iterable[type[Event]] = (),
    ) -> ExecutionEngine:
        """Build the execution engine on these ports and subscribe everything, in order."""
        if self.engine is not None:
            raise RuntimeError("the core already has an execution engine")
        engine = ExecutionEngine(
            self.kernel,
            ports,
            sleep=sleep,
            config=config,
            tokens_of=self.tokens_of,
            books=self.books,
        )
        engine.gate.subscribe_levels = False  # _on_levels hands it every level event
        engine.attach()
        for event_type, translate in (translators or {}).items():
            engine.add_venue_events(event_type, translate)

        def resync(_event: Event) -> None:
            engine.reconciler.request()

        for event_type in resync_types:
            self.kernel.subscribe(event_type, resync)
        self.engine = engine
        self._gate = engine.gate
        self._subscribe(tuple((translators or {}).keys()))
        return engine

    def enable_predecide(self, venue: PostNowVenue, schedule: Schedule) -> Predecider:
        """Decide each possible result's order ahead (:mod:`polyloly.node.predecide`).

        Live only (a replay never pre-decides: it needs a venue that writes requests
        synchronously); call after :meth:`attach_engine`. ``schedule`` is the event loop's
        ``call_soon``.
        """
        if self.predecide is not None:
            raise RuntimeError("pre-decisions are already enabled")
        predecide = self.predecide = Predecider(self, venue, schedule)
        predecide.attach()
        return predecide

    def _subscribe(self, foreign: tuple[type[Event], ...]) -> None:
        k = self.kernel
        k.subscribe(SessionStarted, self._on_session)
        k.subscribe(MarketDiscovered, self._on_market)
        for level_event in _LEVEL_EVENTS:
            k.subscribe(level_event, self._on_levels)
        for book_event in _BOOK_EVENTS:
            if book_event not in _LEVEL_EVENTS:
                k.subscribe(book_event, self._on_book)
        k.subscribe(MatchEvent, self._on_truth_input)
        k.subscribe(TimerTick, self._on_tick)
        k.subscribe(TruthDelta, self._on_truth_output)
        k.subscribe(TruthFinal, self._on_truth_output)
        k.subscribe(TruthAlert, self._on_truth_output)
        k.subscribe(MarketResolved, self._on_resolved)
        k.subscribe(PlaceOrderIntent, self._on_intent)
        k.subscribe(MergeIntent, self._on_intent)
        k.subscribe(RiskDecision, self._on_decision)
        k.subscribe(OrderAccepted, self._on_accepted)
        k.subscribe(ExecutionAnomaly, self._on_anomaly)
        k.subscribe(MergeCompleted, self._on_merge_completed)
        k.subscribe(MergeFailed, self._on_merge_failed)
        for cls in (*FEEDBACK_EVENTS, *foreign):
            k.subscribe(cls, self._on_execution)

    def configure(self, params: NodeParams) -> None:
        """Start fresh strategies and truth engine with ``params`` (a new session).

        The strategies carry on from the orders the execution ledger holds (a restarted
        node has recovered it from the log): results already entered, the pair step and
        the intent still in flight of each market, what those orders commit
        (:meth:`StrategyFeedback.recover`; a market's pair state when it is discovered).
        Every callable in :attr:`on_configure` runs last.
        """
        engine = self.engine
        if engine is None:
            raise RuntimeError("attach_engine first")
        self.params = params
        pool = engine.presign
        pool.config = PresignConfig(
            refresh_after_s=params.presign_refresh_s,
            max_age_s=params.presign_max_age_s,
            failure_backoff_s=pool.config.failure_backoff_s,
            strategies=pool.config.strategies,
        )
        for mapping in list(self.registry):
            self.registry.remove(mapping.market_id)
        self.books.clear()
        self.truth = TruthEngine(params.truth, TeamAliases(params.aliases))
        self.pair = None
        if params.pair_arb is not None:
            self.pair = PairArbEngine(
                params.pair_arb,
                params.fees(),
                min_notional=params.risk.min_order_size,  # the gate's own limit
            )
        self.temporal = None
        self._armed = _NOTHING_ARMED
        if params.temporal_arb is not None:
            self.temporal = TemporalArbEngine(
                params.temporal_arb,
                self.registry,
                self.books.get,
                min_notional=params.risk.min_order_size,  # the gate's own limit
            )
            self._armed = self.temporal.armed_tokens
        engine.gate.params = params.risk
        engine.gate.config = params.gate
        if params.recycle is not None:
            engine.configure_recycle(params.recycle)
        self.feedback = StrategyFeedback(
            engine.state,
            self.pair,
            self.temporal,
            leg_of=self.leg_of,
            grace_ns=params.order_grace_s * NS_PER_S,
        )
        self.feedback.recover()
        for listener in self.on_configure:
            listener(params)

    # -- handlers ---------------------------------------------------------------------------

    def _emit_all(self, events: Iterable[Event]) -> None:
        emit = self.kernel.emit
        for event in events:
            emit(event)

    def _on_session(self, event: SessionStarted) -> None:
        self.session = event
        self.configure(event.params)

    def _on_market(self, event: MarketDiscovered) -> None:
        mapping = event.mapping
        try:
            self.registry.add(mapping)
        except MarketMappingError:
            self.rejected_markets += 1  # its tokens or slot belong to another market: skip it
            return
        if self._pair_trades(mapping):
            assert self.pair is not None  # noqa: S101  (checked by _pair_trades)
            self.pair.add_market(
                mapping.market_id,
                mapping.token_a,
                mapping.token_b,
                mapping.match_id,
                min_size=mapping.min_size,
            )
            if self.feedback is not None:
                self.feedback.seed_market(mapping.market_id)
        for listener in self.market_listeners:
            listener(mapping)

    def _pair_trades(self, mapping: MarketMapping) -> bool:
        pair, params = self.pair, self.params
        if pair is None or params is None or pair.market_of(mapping.token_a) is not None:
            return False
        return mapping.seconds_delay == 0 or params.pair_arb_delayed_markets

    def _on_levels(self, event: Event) -> None:
        """``BookSnapshot`` / ``PriceChanges``: the risk gate's work, then the strategies'.

        The gate is handed the event first (as its own handler, subscribed before this one,
        was), its exception isolated as the kernel isolates handlers. Then work only where
        something changed: an event that moved no top of book (``BookSet.moved``) reaches
        a strategy only if it touches what the strategy reads deeper than the top — a pair
        market that is not quiet (``PairArbEngine.hot``) or whose wake time came (a stuck
        leg's timeout, ``PairArbEngine.due``), an armed temporal signal whose plan walks
        the changed asks (``replans``); pair arbitrage's quiet markets read best asks and
        sync only, so a best bid's move alone does not reach them (``BookSet.asks_moved``).
        Any other call would decide exactly what the previous one did: nothing.
        """
        books = self.books
        touched = books.last_touched if books.last_event is event else books.apply(event)
        gate = self._gate
        if gate is not None:
            try:
                gate.on_book_event(event, touched)
            except Exception as exc:  # one failing component must not stop the others
                self.kernel.handler_raised(event, exc)
        if not touched:
            return
        predecide = self.predecide
        if predecide is not None and predecide.tokens:
            predecide.on_book(touched)
        moved = books.moved or self.route_all
        pair = self.pair
        if pair is not None and (
            books.asks_moved  # (a quiet market reads no bid)
            or self.route_all
            or not pair.hot.isdisjoint(touched)
            or (pair.wake and pair.due(touched, event.ts_init))
        ):
            intents = pair.on_book_change(touched, books, event.ts_init)
            if intents:
                self._emit_all(intents)
        armed = self._armed
        if armed:
            temporal = self.temporal
            assert temporal is not None  # noqa: S101  (armed is its index)
            if not moved:
                for token in touched:
                    if token in armed and temporal.replans(token, event):
                        break
                else:
                    return
            self._emit_all(temporal.on_book(touched, event))

    def _on_book(self, event: Event) -> None:
        """``TickSizeChange`` / ``BookInvalidated`` (the gate has its own handler): every
        one moves its book, and only pair arbitrage reads them."""
        books = self.books
        touched = books.last_touched if books.last_event is event else books.apply(event)
        predecide = self.predecide
        if touched and predecide is not None and predecide.tokens:
            predecide.on_book(touched)
        if touched and self.pair is not None:
            intents = self.pair.on_book_change(touched, books, event.ts_init)
            if intents:
                self._emit_all(intents)

    def _on_truth_input(self, event: Event) -> None:
        if self.truth is not None:
            self._emit_all(self.truth.apply(event))

    def _on_tick(self, tick: TimerTick) -> None:
        self._on_truth_input(tick)
        if self.feedback is not None:
            self.feedback.check(tick.ts_init)
        if self.pair is not None:
            self._emit_all(self.pair.on_timer(self.books, tick.ts_init))

    def _on_truth_output(self, event: Event) -> None:
        predecide = self.predecide
        if predecide is not None:
            # The order a pre-decision holds for this result leaves first; the rest of this
            # handler decides (and logs) exactly as without it.
            predecide.on_result(event)
        if self.pair is not None:
            if isinstance(event, TruthFinal):
                self.pair.on_truth_final(event)
            elif isinstance(event, TruthAlert):
                self.pair.on_truth_alert(event)
        if self.temporal is not None:
            self._emit_all(self.temporal.on_event(event))

    def _on_resolved(self, event: MarketResolved) -> None:
        tokens = self.tokens_of(event.market)
        if tokens is None or event.winning_token_id not in tokens:
            # not a market of ours, or its winner is no token of it (book_rules): ignored
            self.refused_resolutions += 1
            return
        if self.pair is not None and self.pair.market_of(event.winning_token_id) == event.market:
            self.pair.stop_market(event.market, "market_resolved")
        if self.temporal is not None:
            self.temporal.on_event(event)

    def _on_intent(self, intent: PlaceOrderIntent | MergeIntent) -> None:
        self.intents[intent.strategy] = self.intents.get(intent.strategy, 0) + 1
        if self.feedback is not None:
            self.feedback.on_intent(intent)

    def _on_decision(self, decision: RiskDecision) -> None:
        if self.feedback is not None:
            self.feedback.on_decision(decision)

    def _on_accepted(self, event: OrderAccepted) -> None:
        if self.feedback is not None:
            self.feedback.on_accepted(event)

    def _on_anomaly(self, event: ExecutionAnomaly) -> None:
        if self.feedback is not None:
            self.feedback.on_anomaly(event, event.ts_init)

    def _on_merge_completed(self, event: MergeCompleted) -> None:
        if self.feedback is not None:
            self.feedback.on_merge_completed(event)

    def _on_merge_failed(self, event: MergeFailed) -> None:
        if self.feedback is not None:
            self.feedback.on_merge_failed(event)

    def _on_execution(self, event: Event) -> None:
        if self.feedback is not None:
            self.feedback.check(event.ts_init)
