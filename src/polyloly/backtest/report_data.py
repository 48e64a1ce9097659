"""Building the report's data from events: the ledger replayed, marks, timelines, edges.

:func:`build_report_data` feeds events in log order to a builder that applies the ledger
events to the same :class:`~polyloly.execution.state.ExecutionState` the live engine uses
(so the report's fills are exactly the bot's), follows the books for marks and price
timelines, measures the edge of each edge-strategy intent, names every market by the
mapping the log carries (an event with a ``mapping`` field, the node's
``MarketDiscovered``) and groups execution anomalies by kind; see
:mod:`polyloly.backtest.report` for the accounting.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Final, TypeVar

from polyloly.backtest.lead import LeadBuilder
from polyloly.backtest.report_model import (
    AnomalyRow,
    EdgeRow,
    EquityPoint,
    FillRow,
    MarketName,
    MatchTimeline,
    OrderMark,
    OrderRow,
    PnlRow,
    PricePoint,
    RecycleRow,
    Rejection,
    ReportData,
    SourceLead,
    Summary,
    TruthMark,
)
from polyloly.domain.book_rules import resolution_fault
from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    LastTrade,
    MarketResolved,
    MatchEvent,
    MatchEventKind,
    PriceChanges,
    Side,
    TickSizeChange,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.fees import FeeModel, PolymarketFeeModel
from polyloly.domain.intents import (
    MergeIntent,
    OrderType,
    PlaceOrderIntent,
    RedeemIntent,
    RiskDecision,
)
from polyloly.domain.markets import (
    MarketKind,
    MarketMapping,
    MarketMappingError,
    MarketRegistry,
    normalize_team,
)
from polyloly.domain.money import ONE, SCALE, Rounding, cost_of
from polyloly.domain.orderbook import BookSet, OrderBook
from polyloly.execution.engine import LEDGER_EVENTS, Translate
from polyloly.execution.events import (
    ExecutionAnomaly,
    KillSwitchFired,
    MergeCompleted,
    MergeFailed,
    OrderAccepted,
    OrderRejected,
    OrderSubmitted,
    RedeemCompleted,
    RedeemFailed,
    TradeUpdate,
)
from polyloly.execution.lifecycle import Fill
from polyloly.execution.ports import VenueOrderStatus
from polyloly.execution.state import ExecutionState

__all__ = ["build_report_data"]

_BOOK_EVENTS: Final = (BookSnapshot, PriceChanges, TickSizeChange, BookInvalidated)
_MAX_POINTS: Final = 1_500
_MARKETABLE: Final = frozenset({OrderType.FOK, OrderType.FAK})
_T = TypeVar("_T")
_NUMBER: Final = re.compile(r"-?\d[\d.,]*")


# -- building it from events ----------------------------------------------------------------


@dataclass(slots=True)
class _Merge:
    strategy: str
    token_ids: tuple[str, str]
    size: int


@dataclass(slots=True)
class _Anomalies:
    count: int
    first_ns: int
    last_ns: int
    subject: str
    detail: str
    markets: dict[str, None]  # insertion-ordered set


class _Builder:
    """Consumes events in log order; :meth:`finish` produces the :class:`ReportData`."""

    def __init__(
        self,
        translators: Mapping[type[Event], Translate],
        registry: MarketRegistry | None,
        fee_model: FeeModel,
        edge_strategies: frozenset[str],
    ) -> None:
        self.translators = dict(translators)
        # Without a registry the log's own market mappings make one (the backtest's case).
        self.registry = registry if registry is not None else MarketRegistry()
        self.learn_markets = registry is None
        self.mappings: dict[str, MarketMapping] = {}
        self.fee_model = fee_model
        self.edge_strategies = edge_strategies
        self.state = ExecutionState()
        self.books = BookSet()
        self.ledger = frozenset(LEDGER_EVENTS)
        self.marks: dict[str, int] = {}
        self.last_fill_price: dict[str, int] = {}
        self.prices: defaultdict[str, list[PricePoint]] = defaultdict(list)
        self.truth: defaultdict[str, list[TruthMark]] = defaultdict(list)
        self.intents: dict[str, PlaceOrderIntent] = {}
        self.intent_ask: dict[str, int | None] = {}
        self.intent_bid: dict[str, int | None] = {}
        self.rejections: Counter[tuple[str, str, str]] = Counter()
        self.results: defaultdict[tuple[str, int | None], dict[str, tuple[int, str]]] = defaultdict(
            dict
        )  # (match, game or None for the match) -> source -> (first report ns, winner)
        self.settlement = 0
        self.resolved_ns: dict[str, int] = {}  # winning token -> when its market resolved
        self.intent_walk: dict[str, tuple[int, int]] = {}  # shares, edge at decision time
        self.intent_market: dict[str, str] = {}
        self.anomalies: dict[str, _Anomalies] = {}
        self.merge_strategy: dict[str, str] = {}
        self.merges: list[_Merge] = []
        self.recycled: list[RecycleRow] = []
        self.merged_by_token: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        self.submitted: dict[str, int] = {}
        self.acked: set[str] = set()
        self.delayed: set[str] = set()
        self.latencies: list[int] = []
        self.fill_ts: dict[tuple[str, str], int] = {}
        self.holdings: dict[str, tuple[int, int]] = {}  # token -> (cash, shares)
        self.token_value: dict[str, int] = {}
        self.total = 0
        self.equity: list[EquityPoint] = []
        self.counts: defaultdict[str, int] = defaultdict(int)
        self.start_ns: int | None = None
        self.end_ns = 0

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        self.counts["events"] += 1
        if self.start_ns is None:
            self.start_ns = event.ts_init
        self.end_ns = max(self.end_ns, event.ts_init)
        dirty: set[str] = set()
        if isinstance(event, _BOOK_EVENTS):
            dirty |= self._on_book(event)
        elif isinstance(event, LastTrade):
            dirty |= self._on_last_trade(event)
        elif isinstance(event, MarketResolved):
            self._settle(event)
        elif isinstance(event, TruthDelta | TruthFinal):
            self._on_truth(event)
        elif isinstance(event, PlaceOrderIntent):
            self._on_intent(event)
        elif isinstance(event, MergeIntent | RedeemIntent):
            self.merge_strategy[event.intent_id] = event.strategy
            self.intent_market.setdefault(event.intent_id, event.market)
        elif isinstance(event, ExecutionAnomaly):
            self._on_anomaly(event)
        elif isinstance(event, RiskDecision | MatchEvent):
            self._on_risk_or_report(event)
        elif isinstance(mapping := getattr(event, "mapping", None), MarketMapping):
            self._on_mapping(mapping)
        else:
            dirty |= self._on_ledger(event)
        if dirty:
            self._revalue(dirty, event.ts_init)

    def _settle(self, event: MarketResolved) -> None:
        """Mark the market's outcomes at 1 and 0; the value that moved is settlement PnL."""
        self.resolved_ns.setdefault(event.winning_token_id, event.ts_init)
        before = self.total
        self._revalue(self._on_resolved(event), event.ts_init)
        self.settlement += self.total - before

    def _on_risk(self, event: RiskDecision) -> None:
        if not event.approved:
            self.rejections[
                (self._strategy_of(event.intent_id), "risk", _reason(event.reason))
            ] += 1

    def _on_risk_or_report(self, event: RiskDecision | MatchEvent) -> None:
        if isinstance(event, RiskDecision):
            self._on_risk(event)
        else:
            self._on_report(event)

    def _on_report(self, event: MatchEvent) -> None:
        key: tuple[str, int | None]
        if event.winner is None:
            return
        if event.kind is MatchEventKind.GAME_ENDED and event.game_number is not None:
            key = (event.match_id, event.game_number)
        elif event.kind is MatchEventKind.MATCH_ENDED:
            key = (event.match_id, None)
        else:
            return
        self.results[key].setdefault(event.source, (event.ts_init, event.winner))

    def _result_token(self, match_id: str, game: int | None, winner: str) -> str | None:
        won = normalize_team(winner)
        for mapping in self.registry.markets_for_match(match_id):
            if mapping.game_number == game:
                for team, token in (
                    (mapping.team_a, mapping.token_a),
                    (mapping.team_b, mapping.token_b),
                ):
                    if normalize_team(team) == won:
                        return token
        return None

    def _source_leads(self, catch_up: int) -> list[SourceLead]:
        leads: defaultdict[str, list[int]] = defaultdict(list)
        behind: defaultdict[str, list[int]] = defaultdict(list)
        results: Counter[str] = Counter()
        first: Counter[str] = Counter()
        for (match_id, game), reports in self.results.items():
            first_ns = min(ts for ts, _ in reports.values())
            winner = min(reports.values())[1]
            token = self._result_token(match_id, game, winner) or ""
            prices = self.prices.get(token, [])
            caught = _first_at_or_above(prices, first_ns, catch_up) if prices else None
            settled = self.resolved_ns.get(token)
            if settled is not None and settled >= first_ns:
                caught = settled if caught is None else min(caught, settled)
            for source, (ts, _) in reports.items():
                results[source] += 1
                first[source] += ts == first_ns
                behind[source].append(ts - first_ns)
                if caught is not None:
                    leads[source].append(caught - ts)
        return [
            SourceLead(
                source=source,
                results=results[source],
                first=first[source],
                priced=len(leads[source]),
                median_lead_ns=_median(leads[source]),
                min_lead_ns=min(leads[source], default=None),
                median_behind_first_ns=_median(behind[source]),
            )
            for source in sorted(results)
        ]

    def _strategy_of(self, intent_id: str) -> str:
        """The strategy of an intent (its id starts with it when the intent is not logged)."""
        intent = self.intents.get(intent_id)
        return intent.strategy if intent is not None else intent_id.partition(":")[0] or "unknown"

    def _on_intent(self, event: PlaceOrderIntent) -> None:
        if event.intent_id in self.intents:
            return
        self.intents[event.intent_id] = event
        self.intent_market[event.intent_id] = event.market
        book = self.books.get(event.token_id)
        self.intent_ask[event.intent_id] = book.best_ask_price if book else None
        self.intent_bid[event.intent_id] = book.best_bid_price if book else None
        if event.strategy in self.edge_strategies:
            self.intent_walk[event.intent_id] = _decision_walk(book, event, self.fee_model)

    def _on_anomaly(self, event: ExecutionAnomaly) -> None:
        self.counts["anomalies"] += 1
        group = self.anomalies.get(event.kind)
        if group is None:
            group = self.anomalies[event.kind] = _Anomalies(
                0, event.ts_init, event.ts_init, event.subject, event.detail, {}
            )
        group.count += 1
        group.last_ns = event.ts_init
        market = self._market_of_subject(event.subject)
        if market:
            group.markets[market] = None

    def _market_of_subject(self, subject: str) -> str:
        """The market an anomaly is about: its subject is an intent, order or token id."""
        if subject in self.intent_market:
            return self.intent_market[subject]
        record = self.state.orders.get(subject)
        if record is not None:
            return record.market
        return self.state.token_market.get(subject, "")

    def _on_mapping(self, mapping: MarketMapping) -> None:
        self.mappings[mapping.market_id] = mapping
        if self.learn_markets:
            # A conflicting mapping still names its market; it just maps nothing.
            with suppress(MarketMappingError):
                self.registry.add(mapping)

    def _on_book(self, event: Event) -> set[str]:
        held: set[str] = set()
        for token in self.books.apply(event):
            book = self.books.book(token)
            bid, ask = book.best_bid_price, book.best_ask_price
            mid = (bid + ask) // 2 if bid is not None and ask is not None else None
            if book.tradable and mid is not None:
                self.marks[token] = mid
                held.add(token)
            series = self.prices[token]
            if not series or (series[-1].mid, series[-1].ask) != (mid, ask):
                series.append(PricePoint(event.ts_init, mid, ask))
        return held

    def _on_last_trade(self, event: LastTrade) -> set[str]:
        book = self.books.get(event.token_id)
        if book is not None and book.tradable:
            return set()  # the book's mid is the better mark
        self.marks[event.token_id] = event.price
        self.prices[event.token_id].append(PricePoint(event.ts_init, event.price, None))
        return {event.token_id}

    def _on_resolved(self, event: MarketResolved) -> set[str]:
        tokens = {t for t, m in self.state.token_market.items() if m == event.market}
        mapping = self.registry.by_market(event.market)
        if mapping is not None:
            tokens |= {mapping.token_a, mapping.token_b}
        tokens |= {i.token_id for i in self.intents.values() if i.market == event.market}
        if resolution_fault(event.winning_token_id, tokens) is not None:
            self.counts["resolutions_refused"] += 1  # names no token of its market: no mark
            return set()
        for token in tokens:
            self.marks[token] = ONE if token == event.winning_token_id else 0
        return tokens

    def _on_truth(self, event: TruthDelta | TruthFinal) -> None:
        if isinstance(event, TruthFinal):
            label = f"final: {event.winner} {event.score_a}-{event.score_b}"
            mark = TruthMark(event.ts_init, label, event.confidence, final=True)
        else:
            label = event.change
            if event.game_winner:
                label = f"{event.change}: {event.game_winner} ({event.score_a}-{event.score_b})"
            mark = TruthMark(event.ts_init, label, event.game_confidence or event.confidence)
        self.truth[event.match_id].append(mark)

    def _on_ledger(self, event: Event) -> set[str]:
        translate = self.translators.get(type(event))
        if translate is not None:
            translated = translate(event)
            if translated is None:
                return set()
            event = translated
        elif type(event) not in self.ledger:
            return set()
        self._note_order_event(event)
        before = len(self.state.fills)
        fx = self.state.apply(event)
        if len(self.state.fills) != before:
            self._note_new_fills(event)
        if isinstance(event, MergeCompleted):
            self._note_merge(event)
        elif isinstance(event, RedeemCompleted):
            self._note_redeem(event)
        elif isinstance(event, MergeFailed | RedeemFailed):
            self._note_recycle_failed(event)
        for token in fx.tokens:
            self._restate(token)
        return set(fx.tokens)

    def _note_order_event(self, event: Event) -> None:
        if isinstance(event, OrderSubmitted):
            self.counts["submitted"] += 1
            self.submitted.setdefault(event.order_hash, event.ts_init)
        elif isinstance(event, OrderAccepted | OrderRejected):
            self.counts["accepted" if isinstance(event, OrderAccepted) else "rejected"] += 1
            if isinstance(event, OrderRejected):
                why = f"[{event.code}] {event.reason}" if event.code else event.reason
                self.rejections[(self._strategy_of(event.client_id), "venue", _reason(why))] += 1
            sent = self.submitted.get(event.order_hash)
            if sent is not None and event.order_hash not in self.acked:
                self.acked.add(event.order_hash)
                self.latencies.append(max(event.ts_init - sent, 0))
            if isinstance(event, OrderAccepted) and event.status is VenueOrderStatus.DELAYED:
                self.delayed.add(event.order_hash)
        elif isinstance(event, KillSwitchFired):
            self.counts["kill_switches"] += 1

    def _note_new_fills(self, event: Event) -> None:
        keys: list[tuple[str, str]] = []
        if isinstance(event, TradeUpdate):
            report = event.report
            keys = [(report.trade_id, report.taker_order_id)]
            keys += [(report.trade_id, leg.order_id) for leg in report.maker_legs]
        found = [k for k in keys if k in self.state.fills and k not in self.fill_ts]
        if len(self.fill_ts) + len(found) != len(self.state.fills):  # orphans adopted later
            found = [k for k in self.state.fills if k not in self.fill_ts]
        for key in found:
            self.fill_ts[key] = event.ts_init
            fill = self.state.fills[key]
            self.last_fill_price[fill.token_id] = fill.price

    def _note_merge(self, event: MergeCompleted) -> None:
        strategy = self.merge_strategy.get(event.intent_id) or event.intent_id.split(":")[0]
        size = event.result.size
        self.merges.append(_Merge(strategy, event.token_ids, size))
        self.recycled.append(
            RecycleRow(
                ts_ns=event.ts_init,
                kind="merge",
                strategy=strategy,
                market=event.result.condition_id,
                shares=size,
                freed=size,
                transaction_hash=event.result.transaction_hash,
            )
        )
        for token in event.token_ids:
            share = _merge_share(size, token, event.token_ids)
            self.merged_by_token[token].append((size, share))

    def _note_redeem(self, event: RedeemCompleted) -> None:
        result = event.result
        for token, burned in result.burned.items():
            proceeds = result.payout if token == event.winning_token_id else 0
            self.merged_by_token[token].append((burned, proceeds))
        self.recycled.append(
            RecycleRow(
                ts_ns=event.ts_init,
                kind="redeem",
                strategy=self.merge_strategy.get(event.intent_id, event.intent_id.split(":")[0]),
                market=result.condition_id,
                shares=sum(result.burned.values()),
                freed=result.payout,
                transaction_hash=result.transaction_hash,
            )
        )

    def _note_recycle_failed(self, event: MergeFailed | RedeemFailed) -> None:
        self.recycled.append(
            RecycleRow(
                ts_ns=event.ts_init,
                kind="merge" if isinstance(event, MergeFailed) else "redeem",
                strategy=self.merge_strategy.get(event.intent_id, event.intent_id.split(":")[0]),
                market=event.market,
                shares=event.size if isinstance(event, MergeFailed) else 0,
                freed=0,
                error=event.error,
            )
        )

    # -- valuation --------------------------------------------------------------------------

    def _mark(self, token: str) -> int:
        return self.marks.get(token, self.last_fill_price.get(token, 0))

    def _restate(self, token: str) -> None:
        """Recompute a token's cash and shares from its fills and merges (they changed)."""
        fills = [f for f in self.state.fills_by_token.get(token, ()) if f.counts]
        merged = self.merged_by_token.get(token, ())
        cash = sum(f.cash_flow() for f in fills) + sum(share for _, share in merged)
        qty = sum(f.signed_qty() for f in fills) - sum(size for size, _ in merged)
        self.holdings[token] = (cash, qty)

    def _revalue(self, tokens: set[str], ts_ns: int) -> None:
        changed = False
        for token in tokens:
            held = self.holdings.get(token)
            if held is None:
                continue  # never traded: its price moves nothing
            value = held[0] + held[1] * self._mark(token) // SCALE
            old = self.token_value.get(token)
            if value != old:
                self.token_value[token] = value
                self.total += value - (old or 0)
                changed = True
        if changed:
            self.equity.append(EquityPoint(ts_ns, self.total))

    # -- finishing --------------------------------------------------------------------------

    def _counted_fills(self) -> list[tuple[Fill, str]]:
        out: list[tuple[Fill, str]] = []
        for fill in self.state.fills.values():
            record = self.state.orders.get(fill.order_hash)
            out.append((fill, record.strategy if record and record.strategy else "unknown"))
        return out

    def _pnl_rows(self, key_of: str) -> list[PnlRow]:
        cash: defaultdict[str, int] = defaultdict(int)
        qty: defaultdict[tuple[str, str], int] = defaultdict(int)
        activity: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for fill, strategy in self._counted_fills():
            if not fill.counts:
                continue
            name = strategy if key_of == "strategy" else fill.market or "?"
            cash[name] += fill.cash_flow()
            qty[(name, fill.token_id)] += fill.signed_qty()
            act = activity[name]
            act[0] += 1
            act[1] += fill.size * fill.price // SCALE
            act[2] += fill.fee
        for merge in self.merges:
            for token in merge.token_ids:
                market = self.state.token_market.get(token, "?")
                name = merge.strategy if key_of == "strategy" else market
                cash[name] += _merge_share(merge.size, token, merge.token_ids)
                qty[(name, token)] -= merge.size
        for (name, token), shares in qty.items():
            cash[name] += shares * self._mark(token) // SCALE
        rows = [PnlRow(n, cash[n], *activity[n]) for n in set(cash) | set(activity)]
        return sorted(rows, key=lambda r: (-abs(r.pnl), r.name))

    def _fill_rows(self) -> list[FillRow]:
        rows = [
            FillRow(
                ts_ns=self.fill_ts.get(fill.key, 0),
                trade_id=fill.trade_id,
                order_hash=fill.order_hash,
                strategy=strategy,
                market=fill.market,
                token_id=fill.token_id,
                side=fill.side.value,
                price=fill.price,
                size=fill.size,
                fee=fill.fee,
                liquidity=fill.liquidity.value,
                status=fill.status.value,
            )
            for fill, strategy in self._counted_fills()
        ]
        return sorted(rows, key=lambda r: (r.ts_ns, r.trade_id, r.order_hash))

    def _edges(self, fills: list[FillRow]) -> list[EdgeRow]:
        by_client: defaultdict[str, list[FillRow]] = defaultdict(list)
        first_sent: dict[str, int] = {}
        for fill in fills:
            record = self.state.orders.get(fill.order_hash)
            if record is not None and fill.status != "FAILED":
                by_client[record.client_id].append(fill)
        for order_hash, record in self.state.orders.items():
            if order_hash in self.submitted:
                first_sent.setdefault(record.client_id, self.submitted[order_hash])
        rows: list[EdgeRow] = []
        for intent in self.intents.values():
            if intent.strategy not in self.edge_strategies:
                continue
            rows.append(self._edge_row(intent, by_client[intent.intent_id], first_sent))
        return rows

    def _edge_row(
        self, intent: PlaceOrderIntent, fills: list[FillRow], first_sent: dict[str, int]
    ) -> EdgeRow:
        ask = self.intent_ask.get(intent.intent_id)
        expected_size, expected = self.intent_walk.get(intent.intent_id, (0, 0))
        filled = sum(f.size for f in fills)
        realized = sum(_edge(f.size, f.price, f.fee) for f in fills)
        avg = sum(f.size * f.price for f in fills) // filled if filled else None
        sent = first_sent.get(intent.intent_id)
        delay = min(f.ts_ns for f in fills) - sent if fills and sent is not None else None
        record = self.state.order_for_client(intent.intent_id)
        return EdgeRow(
            intent_id=intent.intent_id,
            strategy=intent.strategy,
            market=intent.market,
            token_id=intent.token_id,
            ts_ns=intent.ts_init,
            ask=ask,
            size=intent.size,
            expected_edge=expected,
            filled_size=filled,
            avg_price=avg,
            realized_edge=realized,
            delay_ns=delay,
            delayed=record is not None and record.order_hash in self.delayed,
            expected_size=expected_size,
        )

    def finish(self, title: str, catch_up_price: int, max_timelines: int) -> ReportData:
        fills = self._fill_rows()
        counted = [f for f in fills if f.status != "FAILED"]
        summary = Summary(
            start_ns=self.start_ns or 0,
            end_ns=self.end_ns,
            events=self.counts["events"],
            orders_submitted=self.counts["submitted"],
            orders_accepted=self.counts["accepted"],
            orders_rejected=self.counts["rejected"],
            orders_delayed=len(self.delayed),
            fills=len(counted),
            volume=sum(f.notional for f in counted),
            fees=sum(f.fee for f in counted),
            pnl=self.total,
            max_drawdown=_max_drawdown(self.equity),
            kill_switches=self.counts["kill_switches"],
            anomalies=self.counts["anomalies"],
            settlement_pnl=self.settlement,
        )
        return ReportData(
            title=title,
            summary=summary,
            fills=tuple(fills),
            equity=tuple(_thin(self.equity)),
            per_market=tuple(self._pnl_rows("market")),
            per_strategy=tuple(self._pnl_rows("strategy")),
            timelines=tuple(self._timelines(fills, catch_up_price)[:max_timelines]),
            order_latencies_ns=tuple(self.latencies),
            edges=tuple(self._edges(fills)),
            catch_up_price=catch_up_price,
            markets=tuple(self._market_names()),
            anomalies=tuple(self._anomaly_rows()),
            recycled=tuple(self.recycled),
            orders=tuple(self._order_rows(fills)),
            rejections=tuple(self._rejection_rows()),
            source_leads=tuple(self._source_leads(catch_up_price)),
        )

    def _order_rows(self, fills: list[FillRow]) -> list[OrderRow]:
        by_order: defaultdict[str, list[FillRow]] = defaultdict(list)
        for fill in fills:
            if fill.status != "FAILED":
                by_order[fill.order_hash].append(fill)
        rows: list[OrderRow] = []
        for order_hash, record in self.state.orders.items():
            got = by_order.get(order_hash, [])
            filled = sum(f.size for f in got)
            intended = (
                self.intent_ask.get(record.client_id)
                if record.side is Side.BUY
                else self.intent_bid.get(record.client_id)
            )
            rows.append(
                OrderRow(
                    ts_ns=self.submitted.get(order_hash, record.created_ns),
                    order_hash=order_hash,
                    intent_id=record.client_id,
                    strategy=record.strategy or "unknown",
                    market=record.market,
                    token_id=record.token_id,
                    side=record.side.value,
                    order_type=record.order_type.value,
                    price=record.price,
                    size=record.size,
                    filled=filled,
                    state=record.state.value,
                    reason=record.reason if record.state.value == "REJECTED" else "",
                    delayed=order_hash in self.delayed,
                    intended=intended,
                    avg_fill=sum(f.size * f.price for f in got) // filled if filled else None,
                    fees=sum(f.fee for f in got),
                )
            )
        return sorted(rows, key=lambda r: (r.ts_ns, r.order_hash))

    def _rejection_rows(self) -> list[Rejection]:
        rows = [Rejection(st, stage, why, n) for (st, stage, why), n in self.rejections.items()]
        return sorted(rows, key=lambda r: (r.strategy, -r.count, r.stage, r.reason))

    def _market_names(self) -> list[MarketName]:
        mappings = {m.market_id: m for m in self.registry}
        mappings.update(self.mappings)
        ordered = sorted(mappings.values(), key=lambda m: m.market_id)
        return [MarketName.from_mapping(m) for m in ordered]

    def _anomaly_rows(self) -> list[AnomalyRow]:
        rows = [
            AnomalyRow(
                kind=kind,
                count=g.count,
                first_ns=g.first_ns,
                last_ns=g.last_ns,
                markets=tuple(g.markets),
                subject=g.subject,
                detail=g.detail,
            )
            for kind, g in self.anomalies.items()
        ]
        return sorted(rows, key=lambda r: (-r.count, r.kind))

    # -- timelines --------------------------------------------------------------------------

    def _token_for_match(self, match_id: str) -> str | None:
        intents = [i for i in self.intents.values() if i.match_id == match_id]
        for intent in intents:
            if intent.strategy in self.edge_strategies:
                return intent.token_id
        mapping = self.registry.match_market(match_id)
        if mapping is not None and mapping.kind is MarketKind.MATCH:
            finals = [m for m in self.truth.get(match_id, ()) if m.final]
            winner = finals[-1].label.split(": ", 1)[1].rsplit(" ", 1)[0] if finals else ""
            return mapping.token_for(winner) if mapping.has_team(winner) else mapping.token_a
        return intents[0].token_id if intents else None

    def _timelines(self, fills: list[FillRow], catch_up: int) -> list[MatchTimeline]:
        matches = set(self.truth) | {i.match_id for i in self.intents.values() if i.match_id}
        out: list[MatchTimeline] = []
        for match_id in sorted(matches):
            token = self._token_for_match(match_id)
            truth = tuple(self.truth.get(match_id, ()))
            intents = tuple(
                OrderMark(i.ts_init, i.price, i.strategy)
                for i in self.intents.values()
                if i.match_id == match_id and i.token_id == token
            )
            fill_marks = tuple(
                OrderMark(f.ts_ns, f.price, f.strategy)
                for f in fills
                if f.token_id == token and f.status != "FAILED"
            )
            prices = self.prices.get(token or "", [])
            acted = min((m.ts_ns for m in intents), default=None)
            trigger = max(
                (m.ts_ns for m in truth if acted is None or m.ts_ns <= acted), default=None
            )
            caught = _first_at_or_above(prices, trigger, catch_up) if trigger is not None else None
            out.append(
                MatchTimeline(
                    match_id=match_id,
                    title=self._match_title(match_id, token),
                    token_id=token or "",
                    prices=tuple(_thin(prices)),
                    truth=truth,
                    intents=intents,
                    fills=fill_marks,
                    trigger_ns=trigger,
                    acted_ns=acted,
                    caught_up_ns=caught,
                )
            )
        out.sort(key=lambda t: (-len(t.fills), -len(t.intents), t.match_id))
        return out

    def _match_title(self, match_id: str, token: str | None) -> str:
        mapping = self._mapping_of_token(token) if token else None
        if mapping is None or not token:
            return match_id
        name = MarketName.from_mapping(mapping)
        return f"{name.label} — {name.team_of(token) or token} token"

    def _mapping_of_token(self, token: str) -> MarketMapping | None:
        found = self.registry.by_token(token)
        if found is not None:
            return found
        return next((m for m in self.mappings.values() if token in (m.token_a, m.token_b)), None)


def _median(values: list[int]) -> int | None:
    """The lower median (``None`` when empty)."""
    return sorted(values)[(len(values) - 1) // 2] if values else None


def _reason(text: str) -> str:
    """A refusal's reason with its numbers blanked, so that refusals group by cause."""
    return _NUMBER.sub("#", text.strip())[:120] or "(no reason given)"


def _merge_share(size: int, token: str, token_ids: tuple[str, str]) -> int:
    # the same split as the ledger's positions (execution.positions.merge_proceeds_share)
    half = size // 2
    return size - half if token == min(token_ids) else half


def _edge(size: int, price: int, fee: int) -> int:
    return size * (ONE - price) // SCALE - fee


def _decision_walk(
    book: OrderBook | None, intent: PlaceOrderIntent, fee_model: FeeModel
) -> tuple[int, int]:
    """``(shares, edge)`` the intent's order would have got from ``book`` as it stands.

    A marketable (FOK/FAK) BUY spends its pUSD amount, ``size × limit``, and buys as many
    shares as that buys under the limit — more than ``size`` when the asks are lower, as
    the venue fills it; any other BUY takes at most ``size`` shares. The edge of each
    piece is ``shares × (1 − price) − taker fee``: what it earns if the truth holds.
    """
    if book is None or intent.side is not Side.BUY:
        return 0, 0
    budget = cost_of(intent.size, intent.price, Rounding.DOWN)
    marketable = intent.order_type in _MARKETABLE
    remaining = intent.size
    shares = edge = 0
    for price, depth in book.asks():
        if price > intent.price or price <= 0:
            break
        take = min(depth, budget * SCALE // price if marketable else remaining)
        if take <= 0:
            break
        shares += take
        edge += _edge(take, price, fee_model.taker_fee(take, price))
        budget -= cost_of(take, price, Rounding.HALF_UP)  # as the venue charges a fill
        remaining -= take
    return shares, edge


def _first_at_or_above(prices: list[PricePoint], start_ns: int, level: int) -> int | None:
    index = bisect_left([p.ts_ns for p in prices], start_ns)
    for point in prices[index:]:
        if point.mid is not None and point.mid >= level:
            return point.ts_ns
    return None


def _max_drawdown(points: list[EquityPoint]) -> int:
    peak, worst = 0, 0
    for point in points:
        peak = max(peak, point.pnl)
        worst = max(worst, peak - point.pnl)
    return worst


def _thin(points: list[_T]) -> list[_T]:
    """At most ``_MAX_POINTS`` evenly spaced points, always keeping the last one."""
    if len(points) <= _MAX_POINTS:
        return list(points)
    step = len(points) / _MAX_POINTS
    picked = [points[int(i * step)] for i in range(_MAX_POINTS - 1)]
    return [*picked, points[-1]]


def build_report_data(
    events: Iterable[Event],
    *,
    title: str = "polyloly report",
    translators: Mapping[type[Event], Translate] | None = None,
    registry: MarketRegistry | None = None,
    fee_model: FeeModel | None = None,
    edge_strategies: Iterable[str] = ("temporal_arb",),
    catch_up_price: int = 900_000,
    max_timelines: int = 12,
) -> ReportData:
    """Derive a :class:`ReportData` from events in log order.

    Parameters
    ----------
    events
        Recorded events (input and derived), e.g. an :class:`EventLogReader`.
    title
        The report's heading.
    translators
        Adapter venue-update event types and their translation into execution events (the
        same mapping given to ``ExecutionEngine.add_venue_events``).
    registry
        Which market and token belong to which match (titles, timelines of untraded
        matches, resolution marks); optional.
    fee_model
        Fee model used to price the expected edge (default: Polymarket's esports fee).
    edge_strategies
        Strategies whose intents are measured for edge survival.
    catch_up_price
        Mid price (micros) at which the market counts as having caught up with the truth.
    max_timelines
        Most matches shown (those with the most fills and intents first).
    """
    builder = _Builder(
        translators or {},
        registry,
        fee_model or PolymarketFeeModel(),
        frozenset(edge_strategies),
    )
    leads = LeadBuilder(reprice_at=catch_up_price)
    for event in events:
        builder.feed(event)
        leads.feed(event)
    data = builder.finish(title, catch_up_price, max_timelines)
    lead = leads.finish()
    return dataclasses.replace(data, leads=lead) if lead.results else data
