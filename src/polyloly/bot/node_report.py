"""What a node tells its operator: why it refused to trade, whether its feeds bind, what it did.

* :func:`refusal_message` — a failed start-up reconciliation as one line per difference
  (what, local value, venue value) and what to do about it;
* :class:`RunTally` — counts, off the hot path, what the end-of-run summary and the
  binding warning need: esports reports per source (and how many concern a discovered
  market), orders placed and rejected;
* :func:`unbound_feeds` — the feeds that answer but whose matches bind to no market
  (``record`` and the trading modes warn once, and the summary repeats it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from polyloly.domain.events import MatchEvent
from polyloly.domain.markets import MarketRegistry
from polyloly.domain.money import fmt
from polyloly.execution.events import OrderRejected, OrderSubmitted, VenueSnapshot
from polyloly.execution.state import ExecutionState
from polyloly.node.session import MarketDiscovered
from polyloly.runtime.kernel import Kernel

__all__ = [
    "BINDING_HINT",
    "FeedUse",
    "RunTally",
    "refusal_message",
    "summary_lines",
    "unbound_feeds",
]

BINDING_HINT: Final = (
    "a report binds when its game and both teams (through teams.aliases) match a market's "
    "and its start lies within 6 h of the market's"
)


@dataclass(slots=True)
class RunTally:
    """Counters a run's summary needs, fed by low-rate events only."""

    reports: Counter[str] = field(default_factory=Counter)
    bound: Counter[str] = field(default_factory=Counter)
    match_ids: set[str] = field(default_factory=set)
    orders: int = 0
    rejected: int = 0

    def attach(self, kernel: Kernel) -> None:
        """Subscribe to market discovery, provider reports and order submissions."""
        kernel.subscribe(MarketDiscovered, self._on_market)
        kernel.subscribe(MatchEvent, self._on_report)
        kernel.subscribe(OrderSubmitted, self._on_order)
        kernel.subscribe(OrderRejected, self._on_rejected)

    def _on_market(self, event: MarketDiscovered) -> None:
        self.match_ids.add(event.mapping.match_id)

    def _on_report(self, event: MatchEvent) -> None:
        self.reports[event.source] += 1
        if event.match_id in self.match_ids:
            self.bound[event.source] += 1

    def _on_order(self, _event: OrderSubmitted) -> None:
        self.orders += 1

    def _on_rejected(self, _event: OrderRejected) -> None:
        self.rejected += 1


@dataclass(frozen=True, slots=True)
class FeedUse:
    """One esports feed's traffic: answered requests (or socket frames) and failures."""

    source: str
    answered: int
    failures: int


def unbound_feeds(tally: RunTally, feeds: Iterable[FeedUse], markets: int) -> list[str]:
    """One warning per feed that answers but whose reports reach no discovered market."""
    out: list[str] = []
    for feed in feeds:
        if feed.answered <= 0 or tally.bound[feed.source]:
            continue
        reports = tally.reports[feed.source]
        seen = (
            f"none of its {reports} reports concerns"
            if reports
            else "none of its matches (if any is live) binds to"
        )
        out.append(
            f"{feed.source} answers ({feed.answered} replies) but {seen} any of the "
            f"{markets} markets discovered; {BINDING_HINT}"
        )
    return out


# -- reconciliation refused -----------------------------------------------------------------


def _differences(
    state: ExecutionState, snapshot: VenueSnapshot, registry: MarketRegistry | None
) -> list[str]:
    venue = snapshot.balances
    lines: list[str] = []
    local = state.collateral()
    if local != venue.collateral:
        lines.append(
            f"collateral: local {fmt(local, 2)} pUSD, venue {fmt(venue.collateral, 2)} pUSD"
        )
    for token in sorted(set(state.positions) | set(venue.tokens)):
        mine, theirs = state.position(token).expected, venue.tokens.get(token, 0)
        if mine != theirs:
            lines.append(
                f"{_token_name(token, registry)}: local {fmt(mine, 2)} shares, "
                f"venue {fmt(theirs, 2)} shares"
            )
    return lines


def _token_name(token: str, registry: MarketRegistry | None) -> str:
    mapping = registry.by_token(token) if registry is not None else None
    short = f"token …{token[-10:]}" if len(token) > 12 else f"token {token}"
    if mapping is None:
        return short
    return f"{short} ({mapping.team_for(token)}, {mapping.question})"


def refusal_message(
    state: ExecutionState,
    snapshot: VenueSnapshot | None,
    *,
    registry: MarketRegistry | None,
    log_dir: Path,
    mode: str,
) -> str:
    """Why start-up reconciliation refused, one difference a line, then what to do."""
    head = f"start-up reconciliation failed: the state recorded in {log_dir} differs from the venue"
    lines = _differences(state, snapshot, registry) if snapshot is not None else []
    if not lines:
        lines = ["(no balance differs: an order or trade could not be matched; see the log)"]
    folder = log_dir.parent if log_dir.name == "events" else log_dir
    if mode == "paper":
        todo = (
            f"a paper account starts afresh each run (--collateral), so {folder} cannot "
            f"continue: move it aside (its log stays replayable) or start with "
            f"--set storage.data_dir=DIR"
        )
    else:
        todo = (
            f"if {folder} was used with another account or venue, give this one its own "
            f"folder (--set storage.data_dir=DIR); otherwise funds or trades moved outside "
            f"polyloly: check the account on the venue, then move {folder} aside and start again"
        )
    return "\n".join([head, *(f"  {line}" for line in lines), f"what to do: {todo}"])


def summary_lines(
    *,
    mode: str,
    duration_s: float,
    logged: int,
    log_dir: Path,
    market_frames: int | None,
    feeds: Mapping[str, int],
    tally: RunTally,
    fills: Mapping[str, int] | None,
    pnl: tuple[int, int] | None,
    warnings: Iterable[str] = (),
) -> list[str]:
    """The end-of-run summary (one fact a line)."""
    sources = [] if market_frames is None else [f"polymarket market {market_frames:,} frames"]
    for source, answered in sorted(feeds.items()):
        reports, bound = tally.reports[source], tally.bound[source]
        sources.append(f"{source} {answered:,} replies, {reports:,} reports ({bound:,} bound)")
    lines = [
        f"{mode} finished after {duration_s:.1f} s: {logged:,} events logged",
        f"  sources  {'; '.join(sources) or 'none'}",
        f"  markets  {len(tally.match_ids)} matches with markets",
    ]
    if fills is not None:
        lines.append(f"  orders   {tally.orders} placed, {tally.rejected} rejected")
        lines.append(
            "  fills    " + (", ".join(f"{k} {v}" for k, v in sorted(fills.items())) or "none")
        )
    if pnl is not None:
        start, end = pnl
        lines.append(
            f"  PnL      {fmt(end - start, 2)} pUSD (equity {fmt(start, 2)} -> {fmt(end, 2)})"
        )
    lines.append(f"  log      {log_dir}  (replay: polyloly backtest {log_dir})")
    lines += [f"warning: {w}" for w in warnings]
    return lines


def few_sources(
    bound: Mapping[str, Iterable[str]], confirm_only: Iterable[str], minimum: int = 2
) -> list[str]:
    """One warning per match with fewer than ``minimum`` independent sources that can reach
    FINAL (bound and not confirm-only): such a match can never be traded by default."""
    skip = set(confirm_only)
    out = []
    for match_id, sources in sorted(bound.items()):
        primary = sorted(set(sources) - skip)
        if len(primary) < minimum:
            named = ", ".join(primary) or "none"
            out.append(
                f"{match_id}: {len(primary)} independent source(s) can reach FINAL ({named}); "
                f"temporal arbitrage needs {minimum} to trade it"
            )
    return out
