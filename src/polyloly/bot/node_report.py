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
from typing import TYPE_CHECKING, Any, Final

from polyloly import __version__
from polyloly.bot.clock import NS_PER_S
from polyloly.bot.kernel import Kernel
from polyloly.bot.wiring import MarketDiscovered
from polyloly.domain.events import MatchEvent
from polyloly.domain.markets import MarketRegistry
from polyloly.domain.money import fmt
from polyloly.execution.events import OrderRejected, OrderSubmitted, VenueSnapshot
from polyloly.execution.state import ExecutionState

if TYPE_CHECKING:
    from polyloly.bot.app import TradingNode

__all__ = [
    "BINDING_HINT",
    "FeedUse",
    "RunTally",
    "binding_warnings",
    "feed_uses",
    "node_status",
    "node_summary",
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


# -- reading a node -------------------------------------------------------------------------


def feed_uses(node: TradingNode) -> list[FeedUse]:
    """Each esports feed's answered requests (or socket frames) and failures so far."""
    out: list[FeedUse] = []
    for feed in node.feeds:
        stats = getattr(getattr(feed, "core", None), "stats", None)
        if stats is not None:
            answered = max(stats.requests - stats.failures, 0) + stats.frames
            out.append(FeedUse(feed.source, answered, stats.failures))
    return out


def binding_warnings(node: TradingNode) -> list[str]:
    """No market discovered, or feeds that answer but bind no market (:func:`unbound_feeds`)."""
    if not node.options.discover:
        return []
    if not node.discovered:
        return [f"no LoL or Dota 2 market found on {node.settings.adapters.polymarket.gamma_url}"]
    return unbound_feeds(node.tally, feed_uses(node), len(node.discovered))


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


def source_warnings(node: TradingNode) -> list[str]:
    """Live markets (started by Gamma's clock) with fewer than two sources that can reach FINAL."""
    directory = node.directory
    if directory is None or not node.discovered or not node.trading:
        return []  # ``record`` trades nothing: its feeds need no second source
    now = node.clock.now_ns()
    live = {
        d.mapping.match_id
        for d in node.discovered
        if d.game_start_ns is None or d.game_start_ns <= now
    }
    bound = {m: directory.sources(m) for m in sorted(live)}
    minimum = node.settings.strategies.temporal_arb.min_sources
    return few_sources(bound, node.settings.truth.confirm_only, max(minimum, 2))


def node_summary(node: TradingNode) -> list[str]:
    """The end-of-run summary of ``node`` (see :func:`summary_lines`)."""
    core = node.core
    engine = core.engine if core is not None else None
    fills: dict[str, int] | None = None
    if engine is not None and core is not None:
        fills = dict(core.feedback.fills_by_strategy) if core.feedback is not None else {}
    pnl = (node.equity_start, engine.state.equity()) if engine and node.started else None
    return summary_lines(
        mode=node.options.mode.value,
        duration_s=(node.clock.now_ns() - node.started_ns) / NS_PER_S,
        logged=node.writer.count if node.writer is not None else 0,
        log_dir=Path(node.log_dir),
        market_frames=node.adapter.market_ws.frames if node.adapter is not None else None,
        feeds={use.source: use.answered for use in feed_uses(node)},
        tally=node.tally,
        fills=fills,
        pnl=pnl,
        warnings=[*binding_warnings(node), *source_warnings(node)] if node.started else (),
    )


def node_status(node: TradingNode) -> dict[str, Any]:
    """A JSON-ready snapshot of ``node`` (what the control API's ``/status`` serves)."""
    out: dict[str, Any] = {
        "mode": node.options.mode.value,
        "version": __version__,
        "uptime_s": (node.clock.now_ns() - node.started_ns) // NS_PER_S,
        "markets": len(node.discovered),
        "events": node.kernel.published if node.kernel is not None else 0,
    }
    core = node.core
    if core is None or core.engine is None:
        return out
    engine = core.engine
    state = engine.state
    out.update(
        halted=state.halted,
        reconciled=engine.reconciler.last_ok,
        equity=fmt(state.equity(), 2),
        daily_pnl=fmt(state.daily_pnl(), 2),
        collateral=fmt(state.collateral(), 2),
        open_orders=len(state.open_orders()),
        positions={
            token: fmt(view.expected, 2)
            for token, view in sorted(state.positions.items())
            if view.expected
        },
        feeds={name: feed.value for name, feed in sorted(engine.gate.c.feeds.items())},
        intents=dict(core.intents),
        fills=dict(core.feedback.fills_by_strategy) if core.feedback else {},
    )
    return out
