"""The execution ledger: orders, fills, positions and balances, rebuilt from events.

:class:`ExecutionState` is a pure projection: :meth:`ExecutionState.apply` takes one event
(an execution event, or market data that moves marks) and updates the state; it performs
no I/O and reads no clock. The live engine applies events as the kernel dispatches them;
a restarted process applies the event log to get back exactly where it was; the SQL
projection applies the same events to fill its tables. One code path, three uses.

Totals the risk gate reads on every intent — collateral, equity, exposure and open orders
per market — are kept up to date as events are applied (:mod:`~polyloly.execution.
aggregates`), so reading them does not walk the session's history; each equals the full
recomputation exactly. Every write to an order record or a position view goes through this
class, which tells the totals what changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from polyloly.domain.book_rules import resolution_fault
from polyloly.domain.events import BookSnapshot, Event, LastTrade, MarketResolved
from polyloly.domain.fees import FeeModel
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent, RedeemIntent, split_intent_id
from polyloly.domain.money import ONE
from polyloly.execution.aggregates import ExposureSnapshot, ExposureTotals, Marks, ValueTotals
from polyloly.execution.chain_ports import RedeemResult
from polyloly.execution.events import (
    BalanceBaseline,
    CancelCompleted,
    CancelRequested,
    DayStarted,
    KillSwitchFired,
    KillSwitchResumed,
    MergeCompleted,
    MergeFailed,
    OrderAccepted,
    OrderClosed,
    OrderRejected,
    OrderSubmitted,
    OrderSubmitUnknown,
    OrderUpdate,
    RedeemCompleted,
    RedeemFailed,
    TradeUpdate,
    UpdateSource,
    VenueSnapshot,
)
from polyloly.execution.instances import Owner, instance_of, owner_of
from polyloly.execution.lifecycle import (
    Edge,
    Fill,
    IllegalTransitionError,
    OrderRecord,
    OrderState,
    fills_from_report,
    state_for_venue,
    trade_edge,
)
from polyloly.execution.pnl import DailyPnl, PnlSummary, pair_guaranteed_pnl, unrealized
from polyloly.execution.ports import (
    Balances,
    MergeResult,
    RejectCode,
    TradeReport,
    TradeStatus,
    VenueOrder,
    VenueOrderStatus,
)
from polyloly.execution.positions import (
    MergeEntry,
    PositionFold,
    PositionView,
    merge_proceeds_share,
)

UNKNOWN_GRACE_NS: Final = 600 * 1_000_000_000
"""How long a merge or redemption of unknown outcome may still show up in the balances (a
transaction can wait to be mined); past it, balances without it mean it never happened."""

__all__ = ["Anomaly", "Effects", "ExecutionState"]


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something in an update that did not fit (the engine logs it and reconciles)."""

    kind: str
    subject: str
    detail: str


@dataclass(slots=True)
class _Folding:
    """A token's position fold and how many of its fills and merges it has read."""

    fold: PositionFold
    fills: int = 0
    merges: int = 0


@dataclass(slots=True)
class Effects:
    """What one :meth:`ExecutionState.apply` changed."""

    tokens: set[str] = field(default_factory=set)
    orders: list[tuple[str, OrderState, OrderState]] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    """Orders of another instance on the account seen for the first time (not adopted)."""
    corrections: list[Anomaly] = field(default_factory=list)
    mismatches: list[Anomaly] = field(default_factory=list)
    late_rejects: list[Anomaly] = field(default_factory=list)
    balances_checked: bool = False


class ExecutionState:
    """Everything the execution layer knows, derived only from events.

    ``instance_id`` (several instances on one account, :mod:`~polyloly.execution.
    instances`): an order the ledger does not know is adopted only if the venue reports this
    instance's tag; every other one is kept apart in :attr:`foreign_orders` (and the trades
    that fill only such orders in :attr:`foreign_trades`), never adopted, never canceled.
    The account's balances are shared then: the first pass adopts the venue's collateral
    but no token balance (the instance's positions are its own fills), and balances are
    not compared (another instance's trades move them).
    """

    def __init__(self, instance_id: str | None = None) -> None:
        self.instance_id = instance_id
        self.foreign_orders: dict[str, VenueOrder] = {}
        self.foreign_trades: set[str] = set()
        self.orders: dict[str, OrderRecord] = {}
        self.by_client: dict[str, str] = {}
        self.fills: dict[tuple[str, str], Fill] = {}
        self.trade_status: dict[str, TradeStatus] = {}
        self.fills_by_token: defaultdict[str, list[Fill]] = defaultdict(list)
        self.merges_by_token: defaultdict[str, list[MergeEntry]] = defaultdict(list)
        self.orphans: dict[str, TradeReport] = {}
        self.token_market: dict[str, str] = {}
        self.positions: dict[str, PositionView] = {}
        self.marks = Marks()
        self.baseline: Balances | None = None
        self.baseline_seq = 0
        self.baseline_costs: dict[str, int] = {}
        self.baseline_trades: set[str] = set()
        self.halted: str | None = None
        self.last_step: dict[str, int] = {}
        # merges and redemptions whose outcome is unknown (reply lost), by intent id
        self.unknown_onchain: dict[str, MergeFailed | RedeemFailed] = {}
        """The highest step of every decision key logged (``<strategy>:<subject>``): a
        restarted strategy numbers its next decisions after them (:func:`~polyloly.domain.
        intents.intent_id_for`), so a new decision never reuses an old one's id."""
        self.resolved_markets: set[str] = set()
        self.tokens_of: Callable[[str], tuple[str, str] | None] | None = None
        """A market's two tokens (the registry's), to check a resolution's winner."""
        self.resolutions_refused = 0
        self.trades_checkpoint_ns = 0
        self.daily = DailyPnl()
        self.merged_collateral = 0
        self.rounding = 0  # collateral adopted from the venue as rounding differences
        self._seq = 0
        self.counting_changes = 0
        """How many times a known fill started or stopped counting (its trade FAILED, or a
        FAILED one was corrected): a reader that keeps what it saw of the fills' counting
        looks again only when this moved."""
        self.changes = 0
        """Updates applied so far (:meth:`apply`, :meth:`apply_trade`,
        :meth:`apply_venue_order`): with :attr:`Marks.writes
        <polyloly.execution.aggregates.Marks.writes>`, what a reader of equity or today's
        PnL needs to know that neither can have moved since it last read them."""
        self._trade_fills: dict[str, list[Fill]] = {}  # trade id -> its fills
        self._folds: dict[str, _Folding] = {}  # token -> its position, folded so far
        # Running totals (see the module docstring): the cash flows of counted fills after
        # the baseline (all / confirmed only), exposure per market, positions at marks.
        self._cash = 0
        self._cash_confirmed = 0
        self._exposure = ExposureTotals()
        self._values = ValueTotals()

    # -- reads ------------------------------------------------------------------------------

    def order_for_client(self, client_id: str) -> OrderRecord | None:
        """The order created for an intent id, if any."""
        order_hash = self.by_client.get(client_id)
        return self.orders.get(order_hash) if order_hash is not None else None

    def open_orders(self) -> list[OrderRecord]:
        """Orders that may still rest on (or be on their way to) the book."""
        return [o for o in self.orders.values() if o.is_open]

    def position(self, token_id: str) -> PositionView:
        """The position of one token (flat if never traded)."""
        view = self.positions.get(token_id)
        if view is None:
            return PositionView(market=self.token_market.get(token_id, ""), token_id=token_id)
        return view

    def pending_fills(self) -> list[Fill]:
        """Fills whose trades are not final yet."""
        return [f for f in self.fills.values() if f.counts and not f.confirmed]

    def collateral(self, *, confirmed_only: bool = False) -> int:
        """pUSD held: the baseline plus every counted fill's cash flow plus merge proceeds.

        Only fills after the baseline count (the baseline's balances include the earlier
        ones); ``confirmed_only`` leaves out fills whose trades are not final yet.
        """
        base = self.baseline.collateral if self.baseline is not None else 0
        cash = self._cash_confirmed if confirmed_only else self._cash
        return base + self.merged_collateral + self.rounding + cash

    def equity(self) -> int:
        """Collateral plus positions at their marks (:func:`~.pnl.equity`)."""
        return self.collateral() + self._values.total(self.positions, self.marks)

    def exposure(self) -> ExposureSnapshot:
        """pUSD at risk and open orders per market, as the risk rules count them.

        A market's exposure is the cost of its positions held (expected shares and cost
        both positive) plus the remaining notional of its open BUY orders (rounded up); the
        mappings are fresh copies when anything changed since the last call.
        """
        return self._exposure.snapshot(self.orders, self.positions)

    def open_sells(self, token_id: str) -> int:
        """Share-micros the token's open SELL orders still offer (what they reserve)."""
        return self._exposure.open_sells(token_id, self.orders)

    def daily_pnl(self) -> int:
        """PnL since the start of the UTC day (0 before the first ``DayStarted``)."""
        return self.daily.pnl(self.equity())

    def pnl(self) -> PnlSummary:
        """Realized, unrealized (at the current marks), fees, today's PnL and equity."""
        views = list(self.positions.values())
        return PnlSummary(
            realized=sum(v.realized for v in views),
            unrealized=sum(unrealized(v, self.marks.get(v.token_id)) for v in views),
            fees=sum(v.fees for v in views),
            daily=self.daily_pnl(),
            equity=self.equity(),
        )

    def pair_pnl(self, market: str, fee_model: FeeModel | None = None) -> int | None:
        """Guaranteed PnL of a binary market's YES+NO position (``None`` unless 2 tokens)."""
        tokens = self.market_tokens(market)
        if len(tokens) != 2:
            return None
        return pair_guaranteed_pnl(self.position(tokens[0]), self.position(tokens[1]), fee_model)

    def has_exposure(self) -> bool:
        """Whether an order is open or a position is held."""
        if any(o.is_open for o in self.orders.values()):
            return True
        return any(v.expected != 0 for v in self.positions.values())

    def market_tokens(self, market: str) -> list[str]:
        """Tokens seen for a market (from orders and fills)."""
        return sorted(t for t, m in self.token_market.items() if m == market)

    # -- apply ------------------------------------------------------------------------------

    def apply(self, event: Event) -> Effects:  # noqa: C901, PLR0912 - one branch per event type
        """Update the state with one event and report what changed."""
        self.changes += 1
        fx = Effects()
        if isinstance(event, OrderSubmitted):
            self._on_submitted(event, fx)
        elif isinstance(event, OrderAccepted):
            self._on_accepted(event, fx)
        elif isinstance(event, OrderRejected):
            self._on_rejected(event, fx)
        elif isinstance(event, OrderSubmitUnknown):
            self._move(event.order_hash, OrderState.UNKNOWN, event.ts_init, fx, event.error)
        elif isinstance(event, OrderUpdate):
            self.apply_venue_order(event.order, event.ts_init, event.source, fx)
        elif isinstance(event, TradeUpdate):
            self.apply_trade(event.report, event.ts_init, event.source, fx)
        elif isinstance(event, CancelRequested):
            for order_hash in event.order_hashes:
                record = self.orders.get(order_hash)
                if record is not None:
                    record.cancel_requested = True
        elif isinstance(event, CancelCompleted):
            for order_hash in event.result.canceled:
                self._move(order_hash, OrderState.CANCELED, event.ts_init, fx, "canceled")
        elif isinstance(event, MergeCompleted):
            self._on_merge(event, fx)
        elif isinstance(event, RedeemCompleted):
            self._on_redeem(event, fx)
        elif isinstance(event, MergeFailed | RedeemFailed):
            if event.unknown:  # it may have happened: the next balances will tell
                self.unknown_onchain[event.intent_id] = event
        elif isinstance(event, VenueSnapshot):
            self._on_snapshot(event, fx)
        elif isinstance(event, OrderClosed):
            self._on_closed(event, fx)
        elif isinstance(event, BalanceBaseline):
            self._on_baseline(event.balances, fx)
        elif isinstance(event, KillSwitchFired):
            self.halted = f"{event.condition}: {event.reason}"
        elif isinstance(event, KillSwitchResumed):
            self.halted = None
        elif isinstance(event, DayStarted):
            self.daily.day = event.day
            self.daily.start_equity = event.equity
        elif isinstance(event, PlaceOrderIntent | MergeIntent | RedeemIntent):
            self._on_decision(event.intent_id)
        else:
            self._on_market_data(event)
        for token in fx.tokens:
            self._refold(token)
        return fx

    # -- orders -----------------------------------------------------------------------------

    def _on_decision(self, intent_id: str) -> None:
        split = split_intent_id(intent_id)
        if split is not None:
            key, step = split
            if step > self.last_step.get(key, 0):
                self.last_step[key] = step

    def _on_submitted(self, event: OrderSubmitted, fx: Effects) -> None:
        signed = event.order
        spec = signed.spec
        known = self.by_client.get(spec.client_id)
        if known is not None and known != signed.order_hash:
            fx.anomalies.append(
                Anomaly("client_id_reused", spec.client_id, f"{known} vs {signed.order_hash}")
            )
            return
        if signed.order_hash in self.orders:
            return  # the same order logged again (a recovered process re-signing): one order
        self.orders[signed.order_hash] = OrderRecord(
            order_hash=signed.order_hash,
            client_id=spec.client_id,
            strategy=event.strategy,
            market=spec.market,
            token_id=spec.token_id,
            side=spec.side,
            price=spec.price,
            size=spec.size,
            order_type=spec.order_type,
            state=OrderState.SUBMITTING,
            created_ns=event.ts_init,
            signed=signed,
            updated_ns=event.ts_init,
        )
        self.by_client[spec.client_id] = signed.order_hash
        self._exposure.order_changed(signed.order_hash)
        self.token_market.setdefault(spec.token_id, spec.market)
        fx.orders.append((signed.order_hash, OrderState.SUBMITTING, OrderState.SUBMITTING))
        self._adopt_orphans(signed.order_hash, event.ts_init, fx)

    def _on_accepted(self, event: OrderAccepted, fx: Effects) -> None:
        record = self.orders.get(event.order_hash)
        if record is None:
            fx.anomalies.append(Anomaly("unknown_order", event.order_hash, "accepted"))
            return
        matched = record.size if event.status is VenueOrderStatus.MATCHED else event.size_matched
        venue = _venue_view(record, event.status, matched)
        self._apply_record(record, venue, event.ts_init, False, fx)

    def _on_rejected(self, event: OrderRejected, fx: Effects) -> None:
        """Apply a submit's refusal, unless the venue already reported the order.

        The user channel can beat the REST reply; a refusal arriving after the venue told us
        the order rests, matched or was canceled refused something else (a resend, or a
        kill that already happened). Only a kill's refusal after its CANCELED frame is the
        venue's normal sequence (a table edge); any other one is not applied but reported
        in :attr:`Effects.late_rejects`, for reconciliation to read the venue's account.
        """
        record = self.orders.get(event.order_hash)
        if record is not None and record.state in _VENUE_REPORTED:
            killed = record.state is OrderState.CANCELED and event.code in _KILL_CODES
            if not killed:
                detail = f"{record.state.value} then rejected [{event.code}]: {event.reason}"
                fx.late_rejects.append(Anomaly("late_reject", event.order_hash, detail))
                return
        self._move(event.order_hash, OrderState.REJECTED, event.ts_init, fx, event.reason)

    def _move(self, order_hash: str, dst: OrderState, ts_ns: int, fx: Effects, reason: str) -> None:
        record = self.orders.get(order_hash)
        if record is None:
            fx.anomalies.append(Anomaly("unknown_order", order_hash, dst.value))
            return
        before = record.state
        self._exposure.order_changed(order_hash)
        try:
            changed = record.move(dst, ts_ns)
        except IllegalTransitionError as exc:
            fx.anomalies.append(Anomaly("illegal_order_transition", order_hash, str(exc)))
            return
        if changed:
            if dst in (OrderState.REJECTED, OrderState.UNKNOWN):
                record.reason = reason
            fx.orders.append((order_hash, before, record.state))

    def apply_venue_order(
        self, venue: VenueOrder, ts_ns: int, source: str, fx: Effects | None = None
    ) -> Effects:
        """Merge the venue's view of an order; adopt it if it is unknown locally."""
        self.changes += 1
        fx = fx if fx is not None else Effects()
        record = self.orders.get(venue.order_hash)
        if record is None and self._foreign(venue):
            if venue.order_hash not in self.foreign_orders:
                fx.foreign.append(venue.order_hash)
            self.foreign_orders[venue.order_hash] = venue
            self._drop_foreign_orphans()
            return fx
        if record is None:
            record = _adopted(venue, ts_ns)
            self.orders[venue.order_hash] = record
            self._exposure.order_changed(venue.order_hash)
            self.token_market.setdefault(venue.token_id, venue.market)
            fx.adopted.append(venue.order_hash)
            fx.orders.append((venue.order_hash, record.state, record.state))
            self._adopt_orphans(venue.order_hash, ts_ns, fx)
            return fx
        self._apply_record(record, venue, ts_ns, source == UpdateSource.RECONCILE, fx)
        return fx

    def _foreign(self, venue: VenueOrder) -> bool:
        """Whether an order the ledger does not know belongs to another instance."""
        if self.instance_id is None:
            return False
        return owner_of(venue.metadata, self.instance_id) is Owner.FOREIGN

    def _drop_foreign_orphans(self) -> None:
        """Parked trades that name another instance's order and none of ours are theirs."""
        for trade_id, report in list(self.orphans.items()):
            if self._foreign_trade(report):
                del self.orphans[trade_id]
                self.foreign_trades.add(trade_id)

    def _foreign_trade(self, report: TradeReport) -> bool:
        ids = [report.taker_order_id, *(leg.order_id for leg in report.maker_legs)]
        return any(i in self.foreign_orders for i in ids)

    def _apply_record(
        self, record: OrderRecord, venue: VenueOrder, ts_ns: int, force: bool, fx: Effects
    ) -> None:
        before = record.state
        self._exposure.order_changed(record.order_hash)
        try:
            changed = record.apply_venue(venue, ts_ns, force=force)
        except IllegalTransitionError as exc:
            fx.anomalies.append(Anomaly("illegal_order_transition", record.order_hash, str(exc)))
            return
        if changed:
            fx.orders.append((record.order_hash, before, record.state))

    # -- trades -----------------------------------------------------------------------------

    def apply_trade(
        self, report: TradeReport, ts_ns: int, source: str, fx: Effects | None = None
    ) -> Effects:
        """Apply one trade report to the fills it concerns (parking it if no order is known)."""
        self.changes += 1
        fx = fx if fx is not None else Effects()
        self.trades_checkpoint_ns = max(
            self.trades_checkpoint_ns, report.match_time_ns, report.last_update_ns
        )
        if report.trade_id in self.baseline_trades:
            return fx  # already inside the balances adopted as the baseline
        fills, unknown = fills_from_report(report, self.orders, self._seq + 1)
        if unknown and self._foreign_trade(report):
            self.foreign_trades.add(report.trade_id)
            return fx
        if unknown:
            self.orphans[report.trade_id] = _newer(self.orphans.get(report.trade_id), report)
            fx.anomalies.append(Anomaly("orphan_trade", report.trade_id, ",".join(unknown)))
            return fx
        self.orphans.pop(report.trade_id, None)
        force = source == UpdateSource.RECONCILE
        for fill in fills:
            existing = self.fills.get(fill.key)
            if existing is None:
                self._seq += 1
                fill.seq = self._seq
                self.fills[fill.key] = fill
                self._trade_fills.setdefault(fill.trade_id, []).append(fill)
                self._count_cash(fill, 1)
                self.fills_by_token[fill.token_id].append(fill)
                self.token_market.setdefault(fill.token_id, fill.market)
                fx.tokens.add(fill.token_id)
                self._bump_matched(fill.order_hash)
                continue
            if self._advance_fill(existing, report, force, fx):
                fx.tokens.add(existing.token_id)
        self.trade_status[report.trade_id] = report.status
        return fx

    def _advance_fill(self, fill: Fill, report: TradeReport, force: bool, fx: Effects) -> bool:
        if fill.status is report.status:
            return False
        try:
            edge = trade_edge(fill.status, report.status)
        except IllegalTransitionError as exc:
            # Only the venue's own account of the trade, read by reconciliation, settles a
            # contradiction (FAILED after CONFIRMED); a stray frame does not.
            if not force:
                fx.anomalies.append(Anomaly("illegal_trade_transition", report.trade_id, str(exc)))
                return False
            edge = Edge.OK
        if edge is Edge.STALE:
            return False
        self._count_cash(fill, -1)
        counted, confirmed = fill.counts, fill.confirmed
        fill.status = report.status
        if fill.counts is not counted:
            self.counting_changes += 1
        self._fold_moved(fill, counted, confirmed)
        self._count_cash(fill, 1)
        self._bump_matched(fill.order_hash)
        return True

    def _count_cash(self, fill: Fill, sign: int) -> None:
        """Add (``sign`` 1) or take out (-1) a fill's cash flow from the running totals."""
        if fill.seq <= self.baseline_seq or not fill.counts:
            return
        flow = sign * fill.cash_flow()
        self._cash += flow
        if fill.confirmed:
            self._cash_confirmed += flow

    def _bump_matched(self, order_hash: str) -> None:
        record = self.orders.get(order_hash)
        if record is None:
            return
        filled = sum(
            f.size
            for f in self.fills_by_token.get(record.token_id, ())
            if f.order_hash == order_hash and f.counts
        )
        record.size_matched = max(record.size_matched, filled)
        self._exposure.order_changed(order_hash)

    def _adopt_orphans(self, order_hash: str, ts_ns: int, fx: Effects) -> None:
        waiting = [
            r
            for r in self.orphans.values()
            if r.taker_order_id == order_hash or any(m.order_id == order_hash for m in r.maker_legs)
        ]
        for report in waiting:
            self.orphans.pop(report.trade_id, None)
            self.apply_trade(report, ts_ns, UpdateSource.RECONCILE, fx)

    # -- reconciliation ---------------------------------------------------------------------

    def quiescent(self) -> bool:
        """No fill pending and no order on its way: local balances should equal the venue's."""
        if any(
            o.state in (OrderState.SUBMITTING, OrderState.UNKNOWN) for o in self.orders.values()
        ):
            return False
        return not self.pending_fills()

    def expected_balances(self, token_ids: list[str] | None = None) -> Balances:
        """Collateral and token quantities local state expects the venue to report."""
        tokens = token_ids if token_ids is not None else sorted(self.positions)
        return Balances(
            collateral=self.collateral(),
            tokens={t: self.position(t).expected for t in tokens},
        )

    def compare_balances(self, venue: Balances, tolerance: int = 0) -> list[Anomaly]:
        """Every asset whose local and venue balances differ: collateral by more than
        ``tolerance`` micros, a token by anything (share quantities are never rounded)."""
        out: list[Anomaly] = []
        local = self.collateral()
        if abs(local - venue.collateral) > tolerance:
            out.append(
                Anomaly("balance_mismatch", "collateral", f"local {local} venue {venue.collateral}")
            )
        for token in sorted(set(self.positions) | set(venue.tokens)):
            mine = self.position(token).expected
            theirs = venue.tokens.get(token, 0)
            if mine != theirs:
                out.append(Anomaly("balance_mismatch", token, f"local {mine} venue {theirs}"))
        return out

    def _snapshot_orders(self, snap: VenueSnapshot, fx: Effects) -> None:
        """Apply the open orders and lookups of a snapshot (adopting, correcting, or
        reporting another instance's)."""
        ts = snap.ts_init
        for venue in (*snap.open_orders, *(lk.found for lk in snap.lookups if lk.found)):
            before = self.orders.get(venue.order_hash)
            was = (before.state, before.size_matched) if before is not None else None
            self.apply_venue_order(venue, ts, UpdateSource.RECONCILE, fx)
            after = self.orders.get(venue.order_hash)
            if after is None:  # another instance's order: reported, not adopted
                if venue.order_hash in fx.foreign:
                    fx.corrections.append(
                        Anomaly("foreign_order", venue.order_hash, _instance_label(venue))
                    )
                continue
            if was is None:
                fx.corrections.append(Anomaly("adopt_order", venue.order_hash, after.state.value))
            elif was != (after.state, after.size_matched):
                detail = f"{was[0].value}/{was[1]} -> {after.state.value}/{after.size_matched}"
                fx.corrections.append(Anomaly("correct_order", venue.order_hash, detail))

    def _on_snapshot(self, snap: VenueSnapshot, fx: Effects) -> None:
        ts = snap.ts_init
        self._snapshot_orders(snap, fx)
        trade_fills = self._trade_fills
        for report in snap.trades:
            known = {f.key: f.status for f in trade_fills.get(report.trade_id, ())}
            self.apply_trade(report, ts, UpdateSource.RECONCILE, fx)
            now = {f.key: f.status for f in trade_fills.get(report.trade_id, ())}
            if now != known:
                fx.corrections.append(
                    Anomaly("correct_trade", report.trade_id, report.status.value)
                )
        for token in fx.tokens:
            self._refold(token)
        if self.baseline is None:
            self.baseline_trades.update(t.trade_id for t in snap.trades)
            balances = snap.balances
            if self.instance_id is not None:  # the tokens are every instance's: none is ours
                balances = Balances(collateral=balances.collateral)
            self._on_baseline(balances, fx)
            fx.corrections.append(Anomaly("baseline", "balances", "adopted from the venue"))
            return
        if self.instance_id is not None:
            return  # a shared account: another instance's trades move the balances
        if snap.balances_settled and self.quiescent():
            fx.balances_checked = True
            mismatches = self.compare_balances(snap.balances, snap.balance_tolerance)
            if self.unknown_onchain:
                mismatches = self._settle_unknown(snap, mismatches, fx)
            fx.mismatches.extend(mismatches)
            diff = snap.balances.collateral - self.collateral()
            if diff and not fx.mismatches:
                # Within the tolerance: a rounding difference. Take the venue's figure so
                # differences never add up to a failed pass.
                self.rounding += diff
                fx.corrections.append(
                    Anomaly("collateral_rounding", "collateral", f"{diff:+d} micros adopted")
                )

    def _settle_unknown(
        self, snap: VenueSnapshot, mismatches: list[Anomaly], fx: Effects
    ) -> list[Anomaly]:
        """Book each unknown merge / redemption the balances show happened; forget the rest.

        An unknown one that explains the difference exactly (tokens to the share, collateral
        within the tolerance) is booked as completed (``merge_adopted`` /
        ``redeem_adopted``); with balances that still match :data:`UNKNOWN_GRACE_NS` after
        the failure, it did not happen (``…_not_executed``).
        """
        for intent_id, failed in list(self.unknown_onchain.items()):
            if not mismatches:
                # A transaction still waiting to be mined looks the same as one never sent:
                # only after the grace is it taken as not executed.
                if snap.ts_init - failed.ts_init >= UNKNOWN_GRACE_NS:
                    del self.unknown_onchain[intent_id]
                    kind = "merge" if isinstance(failed, MergeFailed) else "redeem"
                    fx.corrections.append(Anomaly(f"{kind}_not_executed", intent_id, "balances"))
                continue
            tokens = self.market_tokens(failed.market)
            if len(tokens) != 2:
                continue
            pair = (tokens[0], tokens[1])
            if isinstance(failed, MergeFailed):
                moved = {t: -failed.size for t in pair}
                cash = failed.size
            else:
                moved = {t: -max(self.position(t).expected, 0) for t in pair}
                cash = -moved.get(failed.winning_token_id, 0)
            fits = all(
                snap.balances.tokens.get(t, 0) == self.position(t).expected + moved[t] for t in pair
            )
            fits = fits and abs(snap.balances.collateral - self.collateral() - cash) <= (
                snap.balance_tolerance
            )
            if not fits:
                continue
            del self.unknown_onchain[intent_id]
            self._book_unknown(failed, pair, moved, cash, fx)
            mismatches = self.compare_balances(snap.balances, snap.balance_tolerance)
        return mismatches

    def _book_unknown(
        self,
        failed: MergeFailed | RedeemFailed,
        pair: tuple[str, str],
        moved: dict[str, int],
        cash: int,
        fx: Effects,
    ) -> None:
        ts = failed.ts_init
        if isinstance(failed, MergeFailed):
            self._on_merge(
                MergeCompleted(
                    ts_event=ts,
                    ts_init=ts,
                    intent_id=failed.intent_id,
                    token_ids=pair,
                    result=MergeResult(condition_id=failed.market, size=failed.size),
                ),
                fx,
            )
            detail = f"{failed.size} pairs merged (seen in the balances)"
            fx.corrections.append(Anomaly("merge_adopted", failed.intent_id, detail))
        else:
            burned = {t: -n for t, n in moved.items() if n}
            self._on_redeem(
                RedeemCompleted(
                    ts_event=ts,
                    ts_init=ts,
                    intent_id=failed.intent_id,
                    token_ids=pair,
                    winning_token_id=failed.winning_token_id,
                    result=RedeemResult(condition_id=failed.market, payout=cash, burned=burned),
                ),
                fx,
            )
            detail = f"{cash} pUSD redeemed (seen in the balances)"
            fx.corrections.append(Anomaly("redeem_adopted", failed.intent_id, detail))
        for token in pair:
            self._refold(token)

    def _on_closed(self, event: OrderClosed, fx: Effects) -> None:
        record = self.orders.get(event.order_hash)
        if record is None:
            return
        before = record.state
        self._exposure.order_changed(event.order_hash)
        if record.move(OrderState(event.state), event.ts_init, force=True):
            record.reason = event.reason
            fx.orders.append((event.order_hash, before, record.state))

    # -- merges, baseline, market data -------------------------------------------------------

    def _on_merge(self, event: MergeCompleted, fx: Effects) -> None:
        size = event.result.size
        self._seq += 1
        for token in event.token_ids:
            share = merge_proceeds_share(size, token, event.token_ids)
            self.merges_by_token[token].append(MergeEntry(self._seq, size, share))
            self.token_market.setdefault(token, event.result.condition_id)
            fx.tokens.add(token)
        self.merged_collateral += size

    def _on_redeem(self, event: RedeemCompleted, fx: Effects) -> None:
        """Burned tokens leave the positions: the winner's for its share of the payout."""
        self._seq += 1
        result = event.result
        for token in event.token_ids:
            burned = result.burned.get(token, 0)
            if not burned:
                continue
            proceeds = result.payout if token == event.winning_token_id else 0
            self.merges_by_token[token].append(MergeEntry(self._seq, burned, proceeds))
            self.token_market.setdefault(token, result.condition_id)
            fx.tokens.add(token)
        self.merged_collateral += result.payout

    def _on_baseline(self, balances: Balances, fx: Effects) -> None:
        costs: dict[str, int] = {}
        for token, qty in balances.tokens.items():
            view = self.positions.get(token)
            avg = view.avg_cost() if view is not None else 0
            costs[token] = qty * avg // ONE if qty > 0 else 0
        self.baseline = balances
        self.baseline_seq = self._seq
        self._cash = self._cash_confirmed = 0  # every fill so far is inside the baseline
        self.baseline_trades.update(self.trade_status)
        self.baseline_trades.update(self.orphans)
        self.orphans.clear()
        self.baseline_costs = costs
        self.merged_collateral = 0
        self.rounding = 0
        self.merges_by_token.clear()
        self._folds.clear()  # every position starts again from the new baseline
        fx.tokens.update(balances.tokens)
        fx.tokens.update(self.positions)

    def _on_market_data(self, event: Event) -> None:
        if isinstance(event, BookSnapshot):
            if event.bids and event.asks:
                best_bid = max(p for p, _ in event.bids)
                best_ask = min(p for p, _ in event.asks)
                if best_bid < best_ask:  # a crossed snapshot is refused (book_rules): no mark
                    self.marks[event.token_id] = (best_bid + best_ask) // 2
        elif isinstance(event, LastTrade):
            self.marks[event.token_id] = event.price
        elif isinstance(event, MarketResolved):
            self._on_resolved(event)

    def _on_resolved(self, event: MarketResolved) -> None:
        """Mark the winner 1 and the market's other tokens 0, if the winner is one of them.

        A resolution whose winner is not a token of its market (as the registry, through
        :attr:`tokens_of`, and the ledger know it) sets no mark at all (``book_rules``).
        """
        tokens = {t for t, m in self.token_market.items() if m == event.market}
        pair = self.tokens_of(event.market) if self.tokens_of is not None else None
        if pair is not None:
            tokens.update(pair)
        if resolution_fault(event.winning_token_id, tokens) is not None:
            self.resolutions_refused += 1
            return
        self.resolved_markets.add(event.market)
        for token in tokens:
            self.marks[token] = ONE if token == event.winning_token_id else 0

    def _refold(self, token: str) -> None:
        """Bring the token's position up to date: fold its fills and merges not read yet.

        Equal to :func:`~polyloly.execution.positions.fold_position` over every fill after
        the baseline and every merge since, in ``seq`` order: entries arrive in that order
        (one counter numbers them all), and a change to a folded fill's history (counting
        or not) drops the fold, which then starts again from the baseline
        (:meth:`_fold_moved`).
        """
        folding = self._folds.get(token)
        if folding is None:
            baseline = self.baseline.tokens.get(token, 0) if self.baseline is not None else 0
            cost = self.baseline_costs.get(token, 0)
            folding = self._folds[token] = _Folding(PositionFold.start(baseline, cost))
        fold = folding.fold
        fills = self.fills_by_token.get(token, ())
        merges = self.merges_by_token.get(token, ())
        i, j, after = folding.fills, folding.merges, self.baseline_seq
        while i < len(fills) or j < len(merges):
            if j == len(merges) or (i < len(fills) and fills[i].seq < merges[j].seq):
                if fills[i].seq > after:  # earlier fills are inside the baseline's balances
                    fold.add_fill(fills[i])
                i += 1
            else:
                fold.add_merge(merges[j])
                j += 1
        folding.fills, folding.merges = i, j
        self._exposure.position_changed(token)
        self._values.position_changed(token)
        self.positions[token] = fold.view(self.token_market.get(token, ""), token)

    def _fold_moved(self, fill: Fill, counted: bool, confirmed: bool) -> None:
        """A fill's trade status changed (it counted and was confirmed as given before)."""
        folding = self._folds.get(fill.token_id)
        if folding is None or fill.seq > folding.fold.seen or fill.seq <= self.baseline_seq:
            return  # not folded yet (or never: inside the baseline)
        if fill.counts is not counted:
            del self._folds[fill.token_id]  # its history changed: fold it again
        elif counted and fill.confirmed is not confirmed:
            folding.fold.confirm(fill, fill.confirmed)


def _instance_label(venue: VenueOrder) -> str:
    """Which instance an order's tag names, for reports (``untagged`` when none)."""
    return f"instance {instance_of(venue.metadata) or 'untagged'}"


def _venue_view(record: OrderRecord, status: VenueOrderStatus, size_matched: int) -> VenueOrder:
    return VenueOrder(
        order_hash=record.order_hash,
        market=record.market,
        token_id=record.token_id,
        side=record.side,
        price=record.price,
        original_size=record.size,
        size_matched=size_matched,
        status=status,
        order_type=record.order_type,
    )


def _adopted(venue: VenueOrder, ts_ns: int) -> OrderRecord:
    return OrderRecord(
        order_hash=venue.order_hash,
        client_id="",
        strategy="",
        market=venue.market,
        token_id=venue.token_id,
        side=venue.side,
        price=venue.price,
        size=venue.original_size,
        order_type=venue.order_type,
        state=state_for_venue(venue.status, venue.size_matched),
        created_ns=venue.created_ns or ts_ns,
        size_matched=venue.size_matched,
        reason="adopted from the venue",
        updated_ns=ts_ns,
    )


_VENUE_REPORTED: Final = frozenset(
    {
        OrderState.LIVE,
        OrderState.DELAYED,
        OrderState.PARTIALLY_MATCHED,
        OrderState.MATCHED,
        OrderState.CANCELED,
        OrderState.EXPIRED,
    }
)
"""States only the venue's own reports put an order in."""

_KILL_CODES: Final = frozenset(
    {RejectCode.FAK_NO_MATCH, RejectCode.FOK_KILLED, RejectCode.UNMATCHED}
)
"""Refusals of a marketable order that found nothing: the venue also reports it CANCELED."""

_STATUS_RANK = {"MATCHED": 0, "RETRYING": 1, "MINED": 2, "CONFIRMED": 3, "FAILED": 3}


def _newer(old: TradeReport | None, new: TradeReport) -> TradeReport:
    if old is None:
        return new
    return new if _STATUS_RANK[new.status.value] >= _STATUS_RANK[old.status.value] else old
