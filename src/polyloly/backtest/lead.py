"""The lead, per source and per result: how far ahead of Polymarket we knew (``polyloly latency``).

For every map result and match result in an event log:

* when each source reported it — the receive time (``ts_init``) of its first
  ``GAME_ENDED`` (that map, that winner) or ``MATCH_ENDED`` (that winner);
* when our truth was *confirmed* — the first truth output that temporal arbitrage may act on
  (a map result at ``min_confidence`` from two sources; a FINAL not reached by a one-source
  timeout);
* when we sent the temporal order — the first temporal-arbitrage intent on the winner's
  token of that result's market (pair-arbitrage intents never count);
* when Polymarket's Sports WebSocket announced it (source ``polymarket_sports``);
* when the book repriced — the first trade at or above ``reprice_at`` on the winner's token,
  or its mid reaching ``reprice_at`` (0.90 by default), or at the latest the market's
  resolution, after the map (the deciding map, for a match) started. (A trade of our own
  at or above ``reprice_at`` counts too: the log does not say whose a trade was.)

The lead of a time ``t`` over a baseline ``b`` is ``b − t``: positive when we were first.
:class:`LeadReport` keeps every result and summarises per source (each provider, "truth
confirmed", "temporal order"): how many results it reported, and the p50/p90 lead over the
sports feed and over the repricing. It also counts results seen, confirmed and acted on.

Pure over the events: replaying a log gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    LastTrade,
    MarketResolved,
    MatchEvent,
    MatchEventKind,
    PriceChanges,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.orderbook import BookSet
from polyloly.node.session import MarketDiscovered, SessionStarted

__all__ = [
    "CONFIRMED",
    "ORDER",
    "SPORTS",
    "LeadBuilder",
    "LeadReport",
    "ResultLead",
    "SourceLead",
    "format_lead_report",
    "measure_leads",
    "percentile",
]

SPORTS: Final = "polymarket_sports"
CONFIRMED: Final = "truth confirmed"
ORDER: Final = "temporal order"
_TEMPORAL: Final = "temporal_arb"
_NS_PER_S: Final = 1_000_000_000

ResultKey = tuple[str, int | None, str]
"""``(match id, map number or None for the match, winner)``."""


def percentile(values: Iterable[int], pct: int) -> int | None:
    """Nearest-rank percentile (``None`` for no values)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-pct * len(ordered) // 100))
    return ordered[rank - 1]


@dataclass(slots=True)
class ResultLead:
    """One map or match result and when everyone knew it (ns; None = never in this log)."""

    match_id: str
    game_number: int | None
    winner: str
    reported_ns: dict[str, int] = field(default_factory=dict)  # source -> first receive
    confirmed_ns: int | None = None
    order_ns: int | None = None
    sports_ns: int | None = None
    repriced_ns: int | None = None

    @property
    def label(self) -> str:
        """``match-id map 2`` / ``match-id match``."""
        what = "match" if self.game_number is None else f"map {self.game_number}"
        return f"{self.match_id} {what}"

    def times(self) -> dict[str, int]:
        """Every source's receive time, plus the confirmation and the temporal order."""
        out = {s: t for s, t in self.reported_ns.items() if s != SPORTS}
        if self.confirmed_ns is not None:
            out[CONFIRMED] = self.confirmed_ns
        if self.order_ns is not None:
            out[ORDER] = self.order_ns
        return out


@dataclass(frozen=True, slots=True)
class SourceLead:
    """One source's leads over the sports feed and over the repricing (ns)."""

    source: str
    results: int
    over_sports: tuple[int, ...]
    over_reprice: tuple[int, ...]

    def p(self, which: str, pct: int) -> int | None:
        """Percentile of ``over_sports`` or ``over_reprice``."""
        return percentile(self.over_sports if which == "sports" else self.over_reprice, pct)


@dataclass(frozen=True, slots=True)
class LeadReport:
    """Every result, the per-source summary, and the counts."""

    results: tuple[ResultLead, ...]
    sources: tuple[SourceLead, ...]
    seen: int
    confirmed: int
    acted: int
    reprice_at: int


_MARKET_EVENTS: Final = (BookSnapshot, PriceChanges)
_RESULT_KINDS: Final = (MatchEventKind.GAME_ENDED, MatchEventKind.MATCH_ENDED)


class LeadBuilder:
    """Feed events in log order, then :meth:`finish`.

    Parameters
    ----------
    reprice_at
        Price (micros) at which the winner's token counts as repriced (trade or mid).
    min_confidence
        The confirmation floor (bps) when the log's session does not say it.
    """

    def __init__(self, reprice_at: int = 900_000, min_confidence: int = 9_000) -> None:
        self.reprice_at = reprice_at
        self.min_confidence = min_confidence
        self._results: dict[ResultKey, ResultLead] = {}
        self._markets: dict[str, MarketMapping] = {}
        self._books = BookSet()
        self._started: dict[tuple[str, int], int] = {}  # (match, map) -> first start seen
        self._crossings: dict[str, list[int]] = {}  # token -> times it reached reprice_at
        self._above: dict[str, bool] = {}  # token -> its mid is at or above reprice_at
        self._pending_orders: list[PlaceOrderIntent] = []

    # -- feeding -------------------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        """Take one event (any type; the ones that matter are picked out)."""
        if isinstance(event, MarketDiscovered):
            self._markets[event.mapping.market_id] = event.mapping
        elif isinstance(event, SessionStarted):
            if event.params.temporal_arb is not None:
                self.min_confidence = event.params.temporal_arb.min_confidence
        elif isinstance(event, MatchEvent):
            self._on_report(event)
        elif isinstance(event, TruthDelta):
            self._on_delta(event)
        elif isinstance(event, TruthFinal):
            self._on_final(event)
        elif isinstance(event, PlaceOrderIntent):
            self._on_intent(event)
        elif isinstance(event, _MARKET_EVENTS):
            self._books.apply(event)
            tokens = (
                [event.token_id]
                if isinstance(event, BookSnapshot)
                else sorted({c.token_id for c in event.changes})
            )
            for token in tokens:
                self._check_mid(token, event.ts_init)
        elif isinstance(event, LastTrade) and event.price >= self.reprice_at:
            self._crossed(event.token_id, event.ts_init)
        elif isinstance(event, MarketResolved) and event.winning_token_id:
            self._crossed(event.winning_token_id, event.ts_init)  # repriced to 1 at the latest

    def _result(self, match_id: str, game: int | None, winner: str) -> ResultLead:
        key = (match_id, game, winner)
        found = self._results.get(key)
        if found is None:
            found = self._results[key] = ResultLead(match_id, game, winner)
        return found

    def _on_report(self, e: MatchEvent) -> None:
        if e.kind is MatchEventKind.GAME_STARTED and e.game_number is not None:
            self._started.setdefault((e.match_id, e.game_number), e.ts_init)
            return
        if e.winner is None or e.kind not in (
            MatchEventKind.GAME_ENDED,
            MatchEventKind.MATCH_ENDED,
        ):
            return
        game = e.game_number if e.kind is MatchEventKind.GAME_ENDED else None
        if e.kind is MatchEventKind.GAME_ENDED and game is None:
            return
        result = self._result(e.match_id, game, e.winner)
        result.reported_ns.setdefault(e.source, e.ts_init)
        if e.source == SPORTS and result.sports_ns is None:
            result.sports_ns = e.ts_init

    def _on_delta(self, e: TruthDelta) -> None:
        if e.change != "game_result" or e.game_number is None or e.game_winner is None:
            return
        qualifies = e.game_confidence >= self.min_confidence and len(set(e.game_sources)) >= 2
        result = self._result(e.match_id, e.game_number, e.game_winner)
        if qualifies and result.confirmed_ns is None:
            result.confirmed_ns = e.ts_init
        self._flush_orders()

    def _on_final(self, e: TruthFinal) -> None:
        result = self._result(e.match_id, None, e.winner)
        one_source_timeout = e.timed_out and len(set(e.sources)) < 2
        if not one_source_timeout and result.confirmed_ns is None:
            result.confirmed_ns = e.ts_init
        self._flush_orders()

    def _on_intent(self, e: PlaceOrderIntent) -> None:
        if e.strategy != _TEMPORAL:
            return
        self._pending_orders.append(e)
        self._flush_orders()

    def _flush_orders(self) -> None:
        kept = []
        for intent in self._pending_orders:
            mapping = self._markets.get(intent.market)
            if mapping is None or intent.token_id not in (mapping.token_a, mapping.token_b):
                kept.append(intent)
                continue
            team = mapping.team_for(intent.token_id)
            game = mapping.game_number if mapping.kind is MarketKind.GAME else None
            result = self._results.get((mapping.match_id, game, team))
            if result is None:
                kept.append(intent)  # the result's report comes later in this log
                continue
            if result.order_ns is None:
                result.order_ns = intent.ts_init
        self._pending_orders = kept

    # -- repricing ---------------------------------------------------------------------------

    def _token_of(self, result: ResultLead) -> str | None:
        for mapping in self._markets.values():
            if mapping.match_id != result.match_id:
                continue
            game = mapping.game_number if mapping.kind is MarketKind.GAME else None
            if game == result.game_number and mapping.has_team(result.winner):
                return mapping.token_for(result.winner)
        return None

    def _check_mid(self, token: str, ts: int) -> None:
        book = self._books.get(token)
        if book is None or not book.in_sync:
            return
        bid, ask = book.best_bid, book.best_ask
        above = bid is not None and ask is not None and (bid[0] + ask[0]) // 2 >= self.reprice_at
        if above and not self._above.get(token, False):
            self._crossed(token, ts)
        self._above[token] = above

    def _crossed(self, token: str, ts: int) -> None:
        self._crossings.setdefault(token, []).append(ts)

    def _since(self, result: ResultLead) -> int:
        if result.game_number is not None:
            return self._started.get((result.match_id, result.game_number), 0)
        games = [n for (m, n) in self._started if m == result.match_id]
        return self._started.get((result.match_id, max(games)), 0) if games else 0

    def _reprice_times(self) -> None:
        for result in self._results.values():
            token = self._token_of(result)
            if token is None:
                continue
            since = self._since(result)
            result.repriced_ns = next(
                (t for t in self._crossings.get(token, ()) if t >= since), None
            )

    # -- summary -------------------------------------------------------------------------------

    def finish(self) -> LeadReport:
        """Summarise what was fed."""
        self._reprice_times()
        results = tuple(
            self._results[k]
            for k in sorted(self._results, key=lambda k: (k[0], k[1] is None, k[1] or 0, k[2]))
            if self._results[k].reported_ns
        )
        per: dict[str, tuple[list[int], list[int], set[int]]] = {}
        for i, r in enumerate(results):
            for source, t in r.times().items():
                sports, reprice, seen = per.setdefault(source, ([], [], set()))
                seen.add(i)
                if r.sports_ns is not None:
                    sports.append(r.sports_ns - t)
                if r.repriced_ns is not None:
                    reprice.append(r.repriced_ns - t)
        order = {CONFIRMED: 1, ORDER: 2}
        sources = tuple(
            SourceLead(name, len(seen), tuple(sports), tuple(reprice))
            for name, (sports, reprice, seen) in sorted(
                per.items(), key=lambda kv: (order.get(kv[0], 0), kv[0])
            )
        )
        return LeadReport(
            results=results,
            sources=sources,
            seen=len(results),
            confirmed=sum(1 for r in results if r.confirmed_ns is not None),
            acted=sum(1 for r in results if r.order_ns is not None),
            reprice_at=self.reprice_at,
        )


def measure_leads(
    events: Iterable[Event], *, reprice_at: int = 900_000, min_confidence: int = 9_000
) -> LeadReport:
    """Measure every result's lead in ``events`` (log order)."""
    builder = LeadBuilder(reprice_at, min_confidence)
    for event in events:
        builder.feed(event)
    return builder.finish()


def _s(ns: int | None) -> str:
    return "—" if ns is None else f"{ns / _NS_PER_S:+.2f} s"


def format_lead_report(report: LeadReport) -> list[str]:
    """The report as text lines (``polyloly latency``)."""
    lines = [
        f"results: {report.seen} seen, {report.confirmed} confirmed, {report.acted} acted on "
        f"(temporal orders); repriced = winner's token at {report.reprice_at / 1e6:.2f}",
        "",
        f"{'source':<18}{'results':>8}  {'lead over sports feed p50/p90':>30}  "
        f"{'lead over repricing p50/p90':>28}",
    ]
    for s in report.sources:
        sports = f"{_s(s.p('sports', 50))} / {_s(s.p('sports', 90))}  (n={len(s.over_sports)})"
        reprice = f"{_s(s.p('reprice', 50))} / {_s(s.p('reprice', 90))}  (n={len(s.over_reprice)})"
        lines.append(f"{s.source:<18}{s.results:>8}  {sports:>30}  {reprice:>28}")
    lines += ["", "per result (receive times relative to the sports feed; + = before it):"]
    for r in report.results:
        base = r.sports_ns
        parts = []
        for name, t in sorted(r.times().items(), key=lambda kv: kv[1]):
            parts.append(f"{name} {_s(None if base is None else base - t)}")
        reprice = "—" if r.repriced_ns is None or base is None else _s(base - r.repriced_ns)
        lines.append(
            f"  {r.label} won by {r.winner}: {', '.join(parts)}; repriced {reprice}"
            + ("" if base is not None else " (no sports-feed report)")
        )
    return lines
