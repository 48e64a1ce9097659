"""Strategy feedback: what the strategies' orders became (fills, merges, finished orders).

:class:`StrategyFeedback` reads the execution ledger after every execution event and on
every timer tick, and tells the pair-arbitrage engine about its fills and merges (in
ledger order, once each; a fill whose trade later FAILED makes the pair position be
rebuilt from what still counts) and both strategies about their finished orders.

After a restart it also carries the strategies on from the ledger the node recovered from
its log (:meth:`StrategyFeedback.recover`, :meth:`StrategyFeedback.seed_market`): every
order still in flight is watched as if this process had sent it, the pair engine of its
market waits for it, temporal arbitrage counts what its entries commit and never enters
the same result twice, and decision steps carry on after the log's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Final

from polyloly.domain.events import Event, Side
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent, RiskDecision
from polyloly.domain.money import Rounding, cost_of
from polyloly.domain.pairs import Leg, PairPosition
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
from polyloly.execution.lifecycle import OrderRecord
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_S
from polyloly.strategies.pair_arb import PairArbEngine
from polyloly.strategies.temporal_arb import TemporalArbEngine

__all__ = ["FEEDBACK_EVENTS", "PAIR_ARB", "TEMPORAL_ARB", "StrategyFeedback"]

PAIR_ARB: Final = "pair_arb"
TEMPORAL_ARB: Final = "temporal_arb"
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
        self._counting_changes = state.counting_changes
        self._reported: dict[tuple[str, str], str] = {}
        self._journals: dict[str, _PairJournal] = {}
        self._pair_in_flight: dict[str, str] = {}  # market -> a recovered order's intent id
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

    def recover(self) -> None:
        """Carry the strategies on from the orders in the ledger (a new session).

        Every strategy order still in flight — open, or final while the venue reported
        more matched than has arrived as fills — is watched as if this session had sent it
        (its end frees the strategy, as always). Temporal arbitrage learns every result it
        entered and what each still commits (the worst case of one in flight, the cost of
        what a finished one bought); pair arbitrage gets its share per market in
        :meth:`seed_market`, when the market is followed.
        """
        entries: list[tuple[str, str, str, int]] = []
        for record in self.state.orders.values():
            if record.strategy not in (PAIR_ARB, TEMPORAL_ARB) or not record.client_id:
                continue
            in_flight = self._in_flight(record)
            if in_flight and record.client_id not in self.watched:
                self.watched[record.client_id] = _Watch(
                    record.client_id, record.strategy, record.market
                )
                if record.strategy == PAIR_ARB:
                    self._pair_in_flight[record.market] = record.client_id
            if record.strategy == TEMPORAL_ARB:
                committed = cost_of(record.size, record.price) if in_flight else self._spent(record)
                entries.append((record.client_id, record.market, record.token_id, committed))
        if self.temporal is not None:
            self.temporal.restore(entries, self.state.resolved_markets)

    def seed_market(self, market: str) -> None:
        """Give the pair engine the position, the step and the intent in flight its
        earlier orders in ``market`` left."""
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
        last_step = self.state.last_step.get(self.pair.decision_key(market), 0)
        self.pair.restore(market, last_step=last_step, pending=self._pair_in_flight.get(market, ""))

    def _in_flight(self, record: OrderRecord) -> bool:
        """Whether an order may still change: open, or matched shares not all arrived."""
        if record.is_open:
            return True
        arrived = sum(
            f.size
            for f in self.state.fills_by_token.get(record.token_id, ())
            if f.order_hash == record.order_hash
        )
        return arrived < record.size_matched

    def _spent(self, record: OrderRecord) -> int:
        """What an order's counted fills cost (limit price math, rounded up)."""
        return sum(
            cost_of(f.size, f.price, Rounding.UP)
            for f in self.state.fills_by_token.get(record.token_id, ())
            if f.order_hash == record.order_hash and f.counts
        )

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
        # A fill reported to the pair engine counts (new fills are reported only then) until
        # it stops counting (its trade FAILED): look again only after a fill's counting changed.
        changes = self.state.counting_changes
        if changes == self._counting_changes:
            return
        self._counting_changes = changes
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
            self._finish(watch, spent=self._spent(record))

    def _finish(self, watch: _Watch, spent: int = 0) -> None:
        self.watched.pop(watch.intent_id, None)
        if watch.strategy == PAIR_ARB and self.pair is not None:
            if (
                self.pair.follows(watch.market)
                and self.pair.pending(watch.market) == watch.intent_id
            ):
                self.pair.on_order_done(watch.market)
        elif watch.strategy == TEMPORAL_ARB and self.temporal is not None:
            self.temporal.settle_fill(watch.intent_id, spent)


def _rounding(side: Side) -> Rounding:
    return Rounding.UP if side is Side.BUY else Rounding.DOWN
