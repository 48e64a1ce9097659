"""The risk gate in front of the order manager, and the kill switch.

Every ``PlaceOrderIntent`` / ``CancelIntent`` / ``MergeIntent`` is answered with a
``RiskDecision`` from :func:`polyloly.domain.risk.check`, over a
:class:`~polyloly.domain.risk.TradingState` built from the execution ledger, the books and
the feeds. On top of the domain rules the gate refuses to trade until reconciliation has
succeeded (start-up, or after a failed pass).

Building that state must not cost time proportional to the session: the ledger keeps its
totals current (:meth:`~polyloly.execution.state.ExecutionState.exposure`), and the gate
refreshes a token's quote only after its book changed. Each snapshot's mappings are its own
(copied when something changed since the previous snapshot).

The kill switch evaluates :func:`polyloly.domain.risk.kill_switch_reasons` whenever one of
its inputs moves — a ``FeedStatus``, a fill or position change, an execution error, an
operator command, a ``TimerTick`` — so a condition fires within one event of becoming
true. Firing emits :class:`KillSwitchFired` (the order manager cancels everything), sends
an alert, and latches: new intents are refused, and the latch survives a restart (it is
rebuilt from the log).

Who clears it depends on what fired it. A halt caused by a feed fault (``exchange_feed``,
``esports_feed``: a socket down, the venue heartbeat's window missed, a silent provider)
clears by itself: once every feed is OK again the gate asks for a reconciliation pass, and
when a pass *begun after that* succeeds with no kill-switch condition left, it emits
:class:`KillSwitchResumed` (reason ``auto: …``). Every other halt — daily loss, execution
errors, an operator's ``halt`` — waits for an operator's ``resume`` (``OperatorCommand``).
Both decisions read only logged events (``FeedStatus``, ``TimerTick``, ``VenueSnapshot``'s
``started_ns``, ``ReconciliationCompleted``), so a replay takes them again identically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    FeedState,
    FeedStatus,
    LastTrade,
    OperatorCommand,
    PriceChanges,
    TickSizeChange,
    TimerTick,
)
from polyloly.domain.intents import (
    CancelIntent,
    MergeIntent,
    PlaceOrderIntent,
    RedeemIntent,
    RiskDecision,
)
from polyloly.domain.orderbook import BookSet
from polyloly.domain.risk import Quote, RiskParams, TradingState, check, kill_switch_reasons
from polyloly.execution.events import (
    CancelFailed,
    ExecutionAnomaly,
    KillSwitchFired,
    KillSwitchResumed,
    OrderAccepted,
    OrderRejected,
    OrderSubmitUnknown,
    ReconciliationCompleted,
    ReconciliationError,
    VenueSnapshot,
)
from polyloly.execution.ports import Alert, AlertLevel, AlertPort, RejectCode
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.tasks import TaskOwner

__all__ = ["BENIGN_REJECT_CODES", "FEED_CONDITIONS", "GateConfig", "RiskGate"]

BENIGN_REJECT_CODES: Final = frozenset(
    {
        RejectCode.POST_ONLY_CROSSES,
        RejectCode.FOK_KILLED,
        RejectCode.FAK_NO_MATCH,
        RejectCode.UNMATCHED,
        RejectCode.DUPLICATE,
    }
)
"""Reject codes that are a normal market outcome, not an execution error."""

FEED_CONDITIONS = frozenset({"exchange_feed", "esports_feed"})
"""Kill-switch conditions that clear by themselves once the feeds heal and a pass succeeds."""

_ERROR_ANOMALIES = frozenset({"signing_failed", "task_crashed"})
_NO_QUOTES: Final = MappingProxyType[str, Quote]({})


@dataclass(frozen=True, slots=True)
class GateConfig:
    """How the gate classifies feeds and watches for silence.

    Parameters
    ----------
    exchange_source_prefixes
        ``FeedStatus.source`` values starting with one of these are exchange feeds; every
        other source is an esports feed.
    exchange_silence_s
        If positive, no market data for this long while something is live counts as a
        stale exchange feed even without a ``FeedStatus`` (0 disables it).
    require_reconciliation
        Refuse new intents until a reconciliation pass has succeeded.
    auto_resume_feed_halts
        Clear a halt caused by a feed fault once every feed is OK and a reconciliation
        pass begun after that succeeded (off: every halt waits for an operator).
    """

    exchange_source_prefixes: tuple[str, ...] = ("polymarket", "exchange", "clob", "paper")
    exchange_silence_s: int = 0
    require_reconciliation: bool = True
    auto_resume_feed_halts: bool = True


@dataclass(slots=True)
class _Counters:
    consecutive_errors: int = 0
    manual_halt: bool = False
    manual_reason: str = ""  # the operator's words, carried into the kill switch's reason
    feeds: dict[str, FeedState] = field(default_factory=dict)
    bad_feeds: set[str] = field(default_factory=set)  # the sources in feeds not OK
    last_market_data_ns: int | None = None
    reconciled: bool = False
    passes: int = 0  # reconciliation passes completed, ok or not
    pass_started_ns: int = 0  # when the pass whose snapshot was applied last began
    healed_ns: int | None = None  # feeds all OK again while halted by a feed fault
    heal_asked: bool = False  # a pass was asked for since


class RiskGate:
    """Answers intents with risk decisions and owns the kill switch."""

    def __init__(
        self,
        kernel: Kernel,
        state: ExecutionState,
        alerts: AlertPort,
        tasks: TaskOwner,
        *,
        params: RiskParams | None = None,
        config: GateConfig | None = None,
        books: BookSet | None = None,
    ) -> None:
        self.kernel = kernel
        self.state = state
        self.alerts = alerts
        self.tasks = tasks
        self.params = params or RiskParams()
        self.config = config or GateConfig()
        self.books = books if books is not None else BookSet()
        """The books the quotes come from: the core's own set when shared (each book event
        is then applied once, by whichever layer sees it first)."""
        self._quotes_now: dict[str, Quote] = {}
        self._quotes_stale: set[str] = set()  # tokens whose book changed since their quote
        self._quotes_shared = False  # _quotes_now was handed out in a snapshot
        # What today's PnL was last found within the limit at: (ledger changes, mark writes,
        # the parameters); while nothing of it moved, the loss check holds (see evaluate).
        self._loss_ok_at: tuple[int, int, RiskParams] | None = None
        self.c = _Counters()
        self.fired = 0
        self.enabled = True
        self.request_reconcile: Callable[[], object] | None = None
        """Starts a reconciliation pass (the engine plugs its reconciler in)."""
        self.subscribe_levels = True
        """Subscribe to ``BookSnapshot`` and ``PriceChanges`` at :meth:`attach`; a node that
        hands them to :meth:`on_book_event` itself, first thing in its own handler (one kernel
        handler per book event instead of two), sets this false before attaching."""
        self.full_check = False
        """Re-read every book event's top and re-run every kill-switch condition on every
        evaluation (the behaviour before the incremental check; tests compare the two)."""

    def attach(self) -> None:
        """Subscribe to intents, market data, feeds, execution outcomes and operator input."""
        k = self.kernel
        k.subscribe(PlaceOrderIntent, self._on_place)
        k.subscribe(CancelIntent, self._on_other_intent)
        k.subscribe(MergeIntent, self._on_other_intent)
        k.subscribe(RedeemIntent, self._on_other_intent)
        levels = (BookSnapshot, PriceChanges) if self.subscribe_levels else ()
        for cls in (*levels, TickSizeChange, BookInvalidated):
            k.subscribe(cls, self._on_book)
        k.subscribe(LastTrade, self._on_last_trade)
        k.subscribe(FeedStatus, self._on_feed)
        k.subscribe(TimerTick, self._on_tick)
        k.subscribe(OperatorCommand, self._on_operator)
        k.subscribe(OrderAccepted, self._on_accepted)
        for err in (OrderRejected, OrderSubmitUnknown, CancelFailed, ReconciliationError):
            k.subscribe(err, self._on_exec_error)
        k.subscribe(ExecutionAnomaly, self._on_anomaly)
        k.subscribe(VenueSnapshot, self._on_snapshot)
        k.subscribe(ReconciliationCompleted, self._on_reconciled)

    # -- the state the rules see ------------------------------------------------------------

    def trading_state(self) -> TradingState:
        """Snapshot of exposure, PnL, errors, feeds and quotes for the domain rules."""
        return self._trading_state(self._quotes())

    def _trading_state(self, quotes: Mapping[str, Quote]) -> TradingState:
        exposure = self.state.exposure()
        exchange, esports = self._feed_states()
        return TradingState(
            market_exposure=exposure.exposure,
            open_orders=exposure.open_orders,
            total_exposure=exposure.total,
            daily_pnl=self.state.daily_pnl(),
            consecutive_exec_errors=self.c.consecutive_errors,
            manual_halt=self.c.manual_halt,
            halted=self.state.halted is not None,
            exchange_feed=exchange,
            esports_feeds=esports,
            quotes=quotes,
        )

    def _feed_states(self) -> tuple[FeedState, dict[str, FeedState]]:
        exchange = FeedState.OK
        esports: dict[str, FeedState] = {}
        rank = {FeedState.OK: 0, FeedState.STALE: 1, FeedState.DOWN: 2}
        for source, feed in self.c.feeds.items():
            is_exchange = source.startswith(self.config.exchange_source_prefixes)
            if is_exchange and rank[feed] > rank[exchange]:
                exchange = feed
            elif not is_exchange:
                esports[source] = feed
        silence = self.config.exchange_silence_s * NS_PER_S
        last = self.c.last_market_data_ns
        quiet = last is not None and self.kernel.now_ns() - last > silence
        if silence and quiet and exchange is FeedState.OK:
            exchange = FeedState.STALE
        return exchange, esports

    def _quotes(self) -> Mapping[str, Quote]:
        """The top of every book, refreshed for the tokens whose book changed."""
        quotes, stale = self._quotes_now, self._quotes_stale
        books = self.books
        if len(quotes) != len(books):  # a book created by a read, not by an event
            stale.update(t for t in books.token_ids() if t not in quotes)
        if stale:
            if self._quotes_shared:  # an earlier snapshot holds this dict: copy on write
                quotes = self._quotes_now = dict(quotes)
                self._quotes_shared = False
            for token in stale:
                book = books.book(token)
                quotes[token] = Quote(
                    best_bid=book.best_bid_price,
                    best_ask=book.best_ask_price,
                    tick=book.tick,
                    in_sync=book.tradable,
                )
            stale.clear()
        self._quotes_shared = True
        return quotes

    # -- intents ----------------------------------------------------------------------------

    def _on_place(self, intent: PlaceOrderIntent) -> None:
        decision = check(intent, self.trading_state(), self.params)
        if decision.approved and self.config.require_reconciliation and not self.c.reconciled:
            decision = RiskDecision(
                ts_event=intent.ts_event,
                ts_init=intent.ts_init,
                intent_id=intent.intent_id,
                approved=False,
                reason="not reconciled with the venue",
            )
        self.kernel.emit(decision)

    def _on_other_intent(self, intent: CancelIntent | MergeIntent | RedeemIntent) -> None:
        self.kernel.emit(check(intent, self.trading_state(), self.params))

    # -- inputs that move kill-switch conditions --------------------------------------------

    def _on_book(self, event: Event) -> None:
        books = self.books
        self.on_book_event(
            event, books.last_touched if books.last_event is event else books.apply(event)
        )

    def on_book_event(self, event: Event, touched: tuple[str, ...]) -> None:
        """A book event the shared book set applied (it touched ``touched``): market data
        seen now, quotes to refresh, held tokens marked, the kill switch checked."""
        books = self.books
        self.c.last_market_data_ns = event.ts_init
        if not touched:
            return
        # ``moved``: the event changed a touched book's best bid or ask, its sync or its
        # tick (see BookSet); if not, the quotes are what they were. A held token is marked
        # at its mid on every change of its book all the same: it may have become held, or
        # been marked by a trade print, since its top last moved.
        if books.moved or self.full_check:
            self._quotes_stale.update(touched)
        positions = self.state.positions
        if not positions:
            return
        held = False
        for token in touched:
            if token in positions:
                held = True
                self._mark_from_book(token)
        if held:
            self.evaluate()

    def _mark_from_book(self, token: str) -> None:
        """Mark a held token at its book's mid, if the book is tradable (in sync, uncrossed)."""
        book = self.books.book(token)
        if not book.in_sync:
            return
        bid, ask = book.best_bid_price, book.best_ask_price
        if bid is not None and ask is not None and bid < ask:
            marks = self.state.marks
            mid = (bid + ask) // 2
            if marks.get(token) != mid:  # an unchanged mark moves no total: not rewritten
                marks[token] = mid

    def _on_last_trade(self, event: LastTrade) -> None:
        self.c.last_market_data_ns = event.ts_init
        if event.token_id in self.state.positions:
            self.state.marks[event.token_id] = event.price
            self.evaluate()

    def _on_feed(self, event: FeedStatus) -> None:
        self.c.feeds[event.source] = event.state
        if event.state is FeedState.OK:
            self.c.bad_feeds.discard(event.source)
        else:
            self.c.bad_feeds.add(event.source)
        if event.state is FeedState.OK:
            self._feeds_healed(event.ts_init)
        else:
            self.c.healed_ns = None
        self.evaluate()

    def _on_tick(self, tick: TimerTick) -> None:
        self._feeds_healed(tick.ts_init)  # e.g. market data back after a silence
        self.evaluate()

    def _on_accepted(self, _event: OrderAccepted) -> None:
        self.c.consecutive_errors = 0

    def _on_exec_error(self, event: Event) -> None:
        if isinstance(event, OrderRejected) and (
            event.code in BENIGN_REJECT_CODES
            # refused by the shared budget before sending: a cap reached is a normal outcome,
            # its store down is a fault of its own (a ``risk_budget`` feed status)
            or event.code == RejectCode.BUDGET
        ):
            return
        self.c.consecutive_errors += 1
        self.evaluate()

    def _on_anomaly(self, event: ExecutionAnomaly) -> None:
        if event.kind in _ERROR_ANOMALIES:
            self.c.consecutive_errors += 1
            self.evaluate()

    def _on_snapshot(self, event: VenueSnapshot) -> None:
        self.c.pass_started_ns = event.started_ns

    def _on_reconciled(self, event: ReconciliationCompleted) -> None:
        was = self.c.reconciled
        self.c.reconciled = event.ok
        self.c.passes += 1
        if was and not event.ok:
            self._alert(AlertLevel.CRITICAL, "reconciliation failed", event.reason)
        if event.ok:
            self._auto_resume()

    def _on_operator(self, command: OperatorCommand) -> None:
        if command.command == "halt":
            self.c.manual_halt = True
            self.c.manual_reason = command.reason
            self.evaluate()
        elif command.command == "resume":
            self.resume(command.reason or "operator resume")

    # -- the switch -------------------------------------------------------------------------

    def on_exposure_change(self) -> None:
        """Called by the engine after orders, fills or merges changed what is live."""
        self.evaluate()

    def evaluate(self) -> list[str]:
        """Fire the kill switch if any condition holds; return the reasons found.

        Incremental: the conditions other than the daily loss read counters kept by the
        events that move them (execution errors, the operator's halt, each feed's last
        state, the time of the last market data); while none of them can hold, only
        today's PnL is computed — from the ledger's running totals — and compared with
        the limit, and not even that while neither the ledger nor a mark changed (nor the
        limit) since it was last found within it: today's PnL reads nothing else. The full
        check (:func:`~polyloly.domain.risk.kill_switch_reasons`) runs only when one of
        them might hold or the loss is beyond the limit, so the reasons, and what fires,
        are exactly the full check's.
        """
        state = self.state
        if state.halted is not None or not self.enabled:
            return []
        if not self.full_check and self._only_loss_can_fire():
            seen = (state.changes, state.marks.writes, self.params)
            if seen == self._loss_ok_at:
                return []
            if state.daily_pnl() >= -self.params.max_daily_loss:
                self._loss_ok_at = seen
                return []
        # The kill-switch conditions never look at quotes: skip refreshing them.
        reasons = kill_switch_reasons(self._trading_state(_NO_QUOTES), self.params)
        if self.c.manual_reason:
            reasons = [
                f"manual halt ({self.c.manual_reason})" if r == "manual halt" else r
                for r in reasons
            ]
        if reasons:
            self.fire(_condition_of(reasons[0]), "; ".join(reasons))
        return reasons

    def _only_loss_can_fire(self) -> bool:
        """Whether every kill-switch condition but the daily loss is false now.

        Errors within the limit, no operator halt, every feed's last status OK and market
        data not silent: then no feed condition holds whatever is live (see
        :func:`~polyloly.domain.risk.kill_switch_reasons`).
        """
        c = self.c
        if (
            c.manual_halt
            or c.bad_feeds
            or c.consecutive_errors > self.params.max_consecutive_exec_errors
        ):
            return False
        silence = self.config.exchange_silence_s
        if silence:
            last = c.last_market_data_ns
            if last is not None and self.kernel.now_ns() - last > silence * NS_PER_S:
                return False
        return True

    def fire(self, condition: str, reason: str) -> None:
        """Halt trading: emit :class:`KillSwitchFired` and alert the operator."""
        if self.state.halted is not None:
            return
        self.fired += 1
        now = self.kernel.now_ns()
        self.kernel.emit(
            KillSwitchFired(ts_event=now, ts_init=now, condition=condition, reason=reason)
        )
        # The ledger applies the event only when it is dispatched; latch now so that the
        # rest of this dispatch already sees trading halted.
        self.state.halted = f"{condition}: {reason}"
        self._alert(AlertLevel.CRITICAL, f"kill switch: {condition}", reason)

    def resume(self, reason: str) -> bool:
        """Clear the latch (an operator's decision); return whether trading was halted."""
        self.c.manual_halt = False
        self.c.manual_reason = ""
        if self.state.halted is None:
            return False
        self.c.consecutive_errors = 0
        self._clear(reason)
        return True

    def _clear(self, reason: str) -> None:
        self.c.healed_ns = None
        now = self.kernel.now_ns()
        self.kernel.emit(KillSwitchResumed(ts_event=now, ts_init=now, reason=reason))
        self.state.halted = None
        self._alert(AlertLevel.INFO, "trading resumed", reason)

    # -- clearing a feed halt by itself -----------------------------------------------------

    def _feed_halt(self) -> str | None:
        """The condition of the latched halt if a feed fault caused it (else ``None``)."""
        halted = self.state.halted
        if halted is None or not self.config.auto_resume_feed_halts:
            return None
        condition = halted.partition(":")[0]  # the ledger keeps "condition: reason"
        return condition if condition in FEED_CONDITIONS else None

    def _feeds_healed(self, ts_ns: int) -> None:
        """While halted by a feed fault: once every feed is OK, ask for a fresh pass."""
        if self.c.healed_ns is not None or self._feed_halt() is None:
            return
        exchange, esports = self._feed_states()
        if exchange is not FeedState.OK or any(f is not FeedState.OK for f in esports.values()):
            return
        self.c.healed_ns = ts_ns
        # Before the start-up pass has finished, that pass (or, if it began before the
        # heal, one asked for when it ends) does; after it, a pass starts now or right
        # after the one running.
        self.c.heal_asked = bool(self.c.passes) and self._ask_reconcile()

    def _ask_reconcile(self) -> bool:
        if self.request_reconcile is None:
            return False
        self.request_reconcile()
        return True

    def _auto_resume(self) -> None:
        """A pass succeeded: clear a healed feed halt if the pass began after the heal."""
        healed = self.c.healed_ns
        condition = self._feed_halt()
        if healed is None or condition is None:
            return
        if self.c.pass_started_ns < healed:  # it read the venue before the feeds healed
            if not self.c.heal_asked:
                self.c.heal_asked = self._ask_reconcile()
            return
        reasons = kill_switch_reasons(self._trading_state(_NO_QUOTES), self.params)
        if self.c.manual_reason:
            reasons = [
                f"manual halt ({self.c.manual_reason})" if r == "manual halt" else r
                for r in reasons
            ]
        if reasons:  # something else is wrong now: an operator decides
            self.c.healed_ns = None
            self._alert(AlertLevel.WARNING, "kill switch held", "; ".join(reasons))
            return
        self._clear(f"auto: {condition.replace('_', ' ')} healthy again, venue reconciled")

    # -- pre-decisions (issue 20, orderpath): checks made before the intent exists ------------
    # Kept in one block, apart from the kill-switch bookkeeping, to ease merging.

    def precheck(self, intent: PlaceOrderIntent) -> bool:
        """Whether :meth:`_on_place` would approve ``intent`` if it arrived now.

        The very rules, on the very state; nothing is emitted. A pre-decision made with it
        stands while nothing the rules read changes (the caller tracks that; see
        :mod:`polyloly.node.predecide`) and :meth:`unhalted` holds.
        """
        if self.config.require_reconciliation and not self.c.reconciled:
            return False
        return check(intent, self.trading_state(), self.params).approved

    def unhalted(self, now_ns: int) -> bool:
        """The halt check of a result's instant: not latched, no silence-stale exchange feed.

        Every other kill-switch input reaches the gate as an event (and so changes the
        pre-decision's inputs); only the market data's silence grows with time alone.
        """
        if self.state.halted is not None or not self.enabled:
            return False
        silence = self.config.exchange_silence_s * NS_PER_S
        last = self.c.last_market_data_ns
        return not (silence and last is not None and now_ns - last > silence)

    # -- end of the pre-decision block ---------------------------------------------------------

    def _alert(self, level: AlertLevel, title: str, body: str) -> None:
        alert = Alert(level=level, title=title, body=body, ts_ns=self.kernel.now_ns())
        self.tasks.spawn(f"alert:{title}", self.alerts.send(alert))


_CONDITIONS: tuple[tuple[str, str], ...] = (
    ("daily loss", "daily_loss"),
    ("consecutive execution errors", "execution_errors"),
    ("manual halt", "manual_halt"),
    ("exchange feed", "exchange_feed"),
    ("esports feed", "esports_feed"),
)


def _condition_of(reason: str) -> str:
    for needle, name in _CONDITIONS:
        if needle in reason:
            return name
    return "risk"
