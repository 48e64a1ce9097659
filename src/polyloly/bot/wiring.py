"""The kernel's subscriptions: books → strategies → risk gate → order manager, and back.

:class:`Core` is the part of a trading node that decides: the market registry, the books
the strategies read, the truth engine, both strategies, the execution engine and the
:class:`StrategyFeedback` that tells the strategies what their orders became. The live
node (:mod:`polyloly.bot.app`) and the replay (:mod:`polyloly.backtest.replay`) build the
very same :class:`Core`; only the venue ports differ.

Everything a decision depends on travels through the event log, so that a replay makes the
same decisions:

* :class:`SessionStarted` (an input event, first of every run) carries the decision
  parameters (:class:`NodeParams`): a replay configures itself from the log, not from
  today's configuration;
* :class:`MarketDiscovered` (input) carries each market's mapping to its match and teams;
* :class:`NodeKernel` pins ``now_ns()`` to the ``ts_init`` of the input being dispatched,
  so every derived event carries the same timestamps live and in replay.

Subscription order (the kernel runs handlers in subscription order, most specific class
first): the execution engine (ledger, risk gate, order manager) subscribes first, so every
handler here sees the ledger already updated; then the strategies' book set, the truth
engine, the strategies, and last the feedback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Final

import msgspec

from polyloly.bot.clock import NS_PER_S, Clock
from polyloly.bot.kernel import EventSink, Kernel
from polyloly.bot.logging import get_logger
from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    MarketResolved,
    MatchEvent,
    PriceChanges,
    Side,
    TickSizeChange,
    TimerTick,
    TruthAlert,
    TruthDelta,
    TruthFinal,
    register_event,
)
from polyloly.domain.fees import FeeModel, fee_model_from_config
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent, RiskDecision
from polyloly.domain.markets import (
    DEFAULT_TICK,
    MarketMapping,
    MarketMappingError,
    MarketRegistry,
    TeamAliases,
)
from polyloly.domain.money import Rounding, cost_of
from polyloly.domain.orderbook import BookSet
from polyloly.domain.risk import RiskParams
from polyloly.domain.truth_engine import TruthEngine, TruthParams
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts, Translate
from polyloly.execution.events import (
    CancelCompleted,
    ExecutionAnomaly,
    MergeCompleted,
    MergeFailed,
    OrderAccepted,
    OrderClosed,
    OrderRejected,
    OrderSubmitUnknown,
    OrderUpdate,
    TradeUpdate,
    VenueSnapshot,
)
from polyloly.execution.retry import Sleep
from polyloly.execution.risk_gate import GateConfig
from polyloly.execution.state import ExecutionState
from polyloly.strategies.pair_arb import Leg, PairArbEngine, PairArbParams, PairPosition
from polyloly.strategies.temporal_arb import TemporalArbEngine, TemporalArbParams

__all__ = [
    "FEEDBACK_EVENTS",
    "Core",
    "MarketDiscovered",
    "NodeKernel",
    "NodeParams",
    "SessionStarted",
    "StrategyFeedback",
]

_log = get_logger("polyloly.wiring")

PAIR_ARB: Final = "pair_arb"
TEMPORAL_ARB: Final = "temporal_arb"
_BOOK_EVENTS: Final = (BookSnapshot, PriceChanges, TickSizeChange, BookInvalidated)
FEEDBACK_EVENTS: Final[tuple[type[Event], ...]] = (
    OrderAccepted,
    OrderRejected,
    OrderSubmitUnknown,
    OrderUpdate,
    OrderClosed,
    CancelCompleted,
    TradeUpdate,
    VenueSnapshot,
)
"""Execution events after which the feedback looks for new fills and finished orders."""


# ---------------------------------------------------------------------------------------------
# Session events and parameters
# ---------------------------------------------------------------------------------------------


class NodeParams(msgspec.Struct, frozen=True, kw_only=True):
    """Every parameter a decision depends on (logged in :class:`SessionStarted`).

    ``pair_arb`` / ``temporal_arb`` are ``None`` when the strategy is disabled.
    ``pair_arb_delayed_markets``: whether pair arbitrage trades markets with a taker delay
    (off by default: both legs must fill at the quoted prices, which a delayed, re-priced
    FAK cannot promise). ``aliases`` is the team alias table (canonical → spellings).
    """

    pair_arb: PairArbParams | None = None
    pair_arb_delayed_markets: bool = False
    temporal_arb: TemporalArbParams | None = None
    risk: RiskParams = msgspec.field(default_factory=RiskParams)
    gate: GateConfig = msgspec.field(default_factory=GateConfig)
    truth: TruthParams = msgspec.field(default_factory=TruthParams)
    aliases: dict[str, list[str]] = msgspec.field(default_factory=dict)
    fee_model: str = "polymarket"
    fee_rate: int = 30_000
    fee_exponent: int = 1
    order_grace_s: int = 10

    def fees(self) -> FeeModel:
        """The configured fee model."""
        return fee_model_from_config(self.fee_model, self.fee_rate, self.fee_exponent)


@register_event
class SessionStarted(Event, frozen=True, tag="session_started"):
    """A node started: how it runs and with which decision parameters (an input event)."""

    mode: str
    params: NodeParams
    version: str = ""
    address: str = ""  # the funder address orders are signed for (public)


@register_event
class MarketDiscovered(Event, frozen=True, tag="market_discovered"):
    """A market joined the registry (Gamma discovery or configuration; an input event)."""

    mapping: MarketMapping
    game: str = ""
    best_of: int | None = None


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
        self._pinned: int | None = None
        self.last_handler_error = ""
        self.on_handler_error = self._handler_failed

    def _handler_failed(self, event: Event, exc: BaseException) -> None:
        # One broken handler must not stop the stream (nor kill the socket that published).
        self.last_handler_error = f"{type(event).__name__}: {type(exc).__name__}: {exc}"
        _log.error("kernel.handler_failed", event=type(event).__name__, error=repr(exc))

    def now_ns(self) -> int:
        """The dispatched input's ``ts_init``, or the clock's time outside a dispatch."""
        pinned = self._pinned
        return self.clock.now_ns() if pinned is None else pinned

    def publish(self, event: Event) -> None:
        """Log and dispatch ``event`` with the time pinned to its ``ts_init``."""
        if self._pinned is not None:
            super().publish(event)  # emitted while dispatching: queued behind the current one
            return
        self._pinned = event.ts_init
        try:
            super().publish(event)
        finally:
            self._pinned = None


# ---------------------------------------------------------------------------------------------
# Feedback: what the strategies' orders became
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Watch:
    intent_id: str
    strategy: str
    market: str
    merge: bool = False
    expected: int | None = None  # shares the venue said it matched (FAK/FOK reply)
    final_since: int | None = None  # ts when the order was first seen final
    hold_until: int | None = None  # a refused merge is retried only after this ts


@dataclass(slots=True)
class _PairJournal:
    """What the pair engine was told about one market, in order (rebuilt on a failed trade)."""

    entries: list[tuple[str, tuple[str, str] | int]] = field(default_factory=list)


class StrategyFeedback:
    """Tells the strategies about their fills, merges and finished orders.

    A strategy's order is *done* when it is final at the venue and every share the venue
    reported matched has arrived as a fill (the submit reply often beats the trade
    message); after ``grace_ns`` of event time a final order is done anyway (late fills
    still reach the position when they come). Fills are read from the execution ledger
    once each, in ledger order; a fill whose trade later FAILED makes the pair position
    be rebuilt from what still counts.
    """

    def __init__(
        self,
        state: ExecutionState,
        pair: PairArbEngine | None,
        temporal: TemporalArbEngine | None,
        *,
        leg_of: Callable[[str], Leg | None] = lambda _token: None,
        grace_ns: int = 10 * NS_PER_S,
        merge_backoff_ns: int = 5 * NS_PER_S,
    ) -> None:
        self.state = state
        self.leg_of = leg_of
        self.pair = pair
        self.temporal = temporal
        self.grace_ns = grace_ns
        self.merge_backoff_ns = merge_backoff_ns
        self.watched: dict[str, _Watch] = {}
        self._seen = len(state.fills)
        self._reported: dict[tuple[str, str], str] = {}
        self._journals: dict[str, _PairJournal] = {}
        self.fills_by_strategy: dict[str, int] = {}

    # -- inputs ---------------------------------------------------------------------------

    def on_intent(self, intent: PlaceOrderIntent | MergeIntent) -> None:
        """Watch an intent of one of our strategies."""
        if intent.strategy not in (PAIR_ARB, TEMPORAL_ARB):
            return
        self.watched[intent.intent_id] = _Watch(
            intent.intent_id, intent.strategy, intent.market, merge=isinstance(intent, MergeIntent)
        )

    def on_decision(self, decision: RiskDecision) -> None:
        """A refused intent is finished at once."""
        watch = self.watched.get(decision.intent_id)
        if watch is not None and not decision.approved:
            self._finish(watch)

    def on_accepted(self, event: OrderAccepted) -> None:
        """Note how many shares a marketable order's reply says matched."""
        watch = self.watched.get(event.client_id)
        record = self.state.orders.get(event.order_hash)
        if watch is None or record is None or not (event.making_amount or event.taking_amount):
            return
        watch.expected = event.taking_amount if record.side is Side.BUY else event.making_amount

    def on_anomaly(self, event: ExecutionAnomaly, ts_ns: int) -> None:
        """An approved intent that produced no order (duplicate, signing or merge refusal)."""
        watch = self.watched.get(event.subject)
        if watch is None:
            return
        if watch.merge and event.kind == "merge_insufficient":
            watch.hold_until = ts_ns + self.merge_backoff_ns  # pairs not confirmed yet
            return
        self._finish(watch)

    def on_merge_completed(self, event: MergeCompleted) -> None:
        """A merge went through: the pair position loses ``size`` pairs."""
        watch = self.watched.get(event.intent_id)
        market = watch.market if watch is not None else ""
        if self.pair is not None and market:
            self.pair.on_merged(market, event.result.size)
            self._journal(market).entries.append(("merge", event.result.size))
        if watch is not None:
            self._finish(watch)

    def on_merge_failed(self, event: MergeFailed) -> None:
        """A merge failed: the engine may try again."""
        watch = self.watched.get(event.intent_id)
        if watch is not None:
            self._finish(watch)

    def check(self, ts_ns: int) -> None:
        """Feed new fills, rebuild positions after failed trades, finish done orders."""
        self._new_fills()
        self._failed_fills()
        for watch in list(self.watched.values()):
            self._check_watch(watch, ts_ns)

    # -- seeding (restart) -------------------------------------------------------------------

    def seed_market(self, market: str) -> None:
        """Give the pair engine the position its earlier orders in ``market`` built."""
        if self.pair is None:
            return
        journal = self._journal(market)
        for key, fill in self.state.fills.items():
            record = self.state.orders.get(fill.order_hash)
            if record is not None and record.strategy == PAIR_ARB and fill.market == market:
                journal.entries.append(("fill", key))
                self._reported[key] = market
        if journal.entries:
            self.pair.set_position(market, self._fold(journal))

    # -- internals --------------------------------------------------------------------------

    def _journal(self, market: str) -> _PairJournal:
        journal = self._journals.get(market)
        if journal is None:
            journal = self._journals[market] = _PairJournal()
        return journal

    def _new_fills(self) -> None:
        fills = self.state.fills
        if len(fills) <= self._seen:
            return
        fresh = list(islice(fills.items(), self._seen, None))
        self._seen = len(fills)
        for key, fill in fresh:
            record = self.state.orders.get(fill.order_hash)
            if record is None or not fill.counts:
                continue
            strategy = record.strategy
            self.fills_by_strategy[strategy] = self.fills_by_strategy.get(strategy, 0) + 1
            pair = self.pair
            market = pair.market_of(fill.token_id) if pair is not None else None
            if strategy == PAIR_ARB and pair is not None and market is not None:
                cost = cost_of(fill.size, fill.price, _rounding(fill.side))
                pair.on_fill(market, fill.token_id, fill.size, cost, fill.fee, side=fill.side)
                self._journal(market).entries.append(("fill", key))
                self._reported[key] = market

    def _failed_fills(self) -> None:
        broken = {
            market
            for key, market in self._reported.items()
            if (fill := self.state.fills.get(key)) is not None and not fill.counts
        }
        for market in sorted(broken):
            if self.pair is not None:
                self.pair.set_position(market, self._fold(self._journal(market)))
            for key in [k for k, m in self._reported.items() if m == market]:
                fill = self.state.fills.get(key)
                if fill is not None and not fill.counts:
                    del self._reported[key]

    def _fold(self, journal: _PairJournal) -> PairPosition:
        position = PairPosition()
        for kind, value in journal.entries:
            if kind == "merge" and isinstance(value, int):
                position = position.merged(min(value, position.q_min))
                continue
            fill = self.state.fills.get(value) if isinstance(value, tuple) else None
            if fill is None or not fill.counts:
                continue
            leg = self.leg_of(fill.token_id)
            if leg is None:
                continue
            cost = cost_of(fill.size, fill.price, _rounding(fill.side))
            if fill.side is Side.BUY:
                position = position.hypo_buy(leg, fill.size, cost, fill.fee)
            else:
                position = position.hypo_sell(leg, fill.size, cost, fill.fee)
        return position

    def _check_watch(self, watch: _Watch, ts_ns: int) -> None:
        if watch.merge:
            if watch.hold_until is not None and ts_ns >= watch.hold_until:
                self._finish(watch)
            return
        record = self.state.order_for_client(watch.intent_id)
        if record is None or record.is_open:
            return
        if watch.final_since is None:
            watch.final_since = ts_ns
        mine = [
            f
            for f in self.state.fills_by_token[record.token_id]
            if f.order_hash == record.order_hash
        ]
        filled = sum(f.size for f in mine)
        expected = record.size_matched if watch.expected is None else watch.expected
        if filled >= expected or ts_ns - watch.final_since >= self.grace_ns:
            spent = sum(cost_of(f.size, f.price, Rounding.UP) for f in mine if f.counts)
            self._finish(watch, spent=spent)

    def _finish(self, watch: _Watch, spent: int = 0) -> None:
        self.watched.pop(watch.intent_id, None)
        if watch.strategy == PAIR_ARB and self.pair is not None:
            if self.pair.pending(watch.market) == watch.intent_id:
                self.pair.on_order_done(watch.market)
        elif watch.strategy == TEMPORAL_ARB and self.temporal is not None:
            self.temporal.settle_fill(watch.intent_id, spent)


def _rounding(side: Side) -> Rounding:
    return Rounding.UP if side is Side.BUY else Rounding.DOWN


# ---------------------------------------------------------------------------------------------
# The core
# ---------------------------------------------------------------------------------------------

MarketListener = Callable[[MarketMapping], None]


class Core:
    """Registry, books, truth, strategies, execution and feedback on one kernel.

    Build it with :meth:`attach_engine` (venue ports in) and feed it events; it configures
    its strategies from the :class:`SessionStarted` event it receives.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.registry = MarketRegistry()
        self.books = BookSet()
        self.params: NodeParams | None = None
        self.truth: TruthEngine | None = None
        self.pair: PairArbEngine | None = None
        self.temporal: TemporalArbEngine | None = None
        self.engine: ExecutionEngine | None = None
        self.feedback: StrategyFeedback | None = None
        self.market_listeners: list[MarketListener] = []
        self.session: SessionStarted | None = None
        self.intents: dict[str, int] = {}
        self.rejected_markets = 0

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
            self.kernel, ports, sleep=sleep, config=config, tokens_of=self.tokens_of
        )
        engine.attach()
        for event_type, translate in (translators or {}).items():
            engine.add_venue_events(event_type, translate)

        def resync(_event: Event) -> None:
            engine.reconciler.request()

        for event_type in resync_types:
            self.kernel.subscribe(event_type, resync)
        self.engine = engine
        self._subscribe(tuple((translators or {}).keys()))
        return engine

    def _subscribe(self, foreign: tuple[type[Event], ...]) -> None:
        k = self.kernel
        k.subscribe(SessionStarted, self._on_session)
        k.subscribe(MarketDiscovered, self._on_market)
        for book_event in _BOOK_EVENTS:
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
        """Start fresh strategies and truth engine with ``params`` (a new session)."""
        engine = self.engine
        if engine is None:
            raise RuntimeError("attach_engine first")
        self.params = params
        for mapping in list(self.registry):
            self.registry.remove(mapping.market_id)
        self.books = BookSet()
        self.truth = TruthEngine(params.truth, TeamAliases(params.aliases))
        self.pair = None
        if params.pair_arb is not None:
            self.pair = PairArbEngine(params.pair_arb, params.fees())
        self.temporal = None
        if params.temporal_arb is not None:
            self.temporal = TemporalArbEngine(params.temporal_arb, self.registry, self.books.get)
        engine.gate.params = params.risk
        engine.gate.config = params.gate
        self.feedback = StrategyFeedback(
            engine.state,
            self.pair,
            self.temporal,
            leg_of=self.leg_of,
            grace_ns=params.order_grace_s * NS_PER_S,
        )

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
                mapping.market_id, mapping.token_a, mapping.token_b, mapping.match_id
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

    def _on_book(self, event: Event) -> None:
        touched = self.books.apply(event)
        if not touched:
            return
        if self.pair is not None:
            self._emit_all(self.pair.on_book_change(touched, self.books, event.ts_init))
        if self.temporal is not None and type(event) in (BookSnapshot, PriceChanges):
            self._emit_all(self.temporal.on_event(event))

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
        if self.pair is not None:
            if isinstance(event, TruthFinal):
                self.pair.on_truth_final(event)
            elif isinstance(event, TruthAlert):
                self.pair.on_truth_alert(event)
        if self.temporal is not None:
            self._emit_all(self.temporal.on_event(event))

    def _on_resolved(self, event: MarketResolved) -> None:
        if self.pair is not None and self.pair.market_of(event.winning_token_id) is not None:
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
