"""What the web console shows, as one JSON-ready snapshot of a running node.

:class:`ConsoleFeed` subscribes to the kernel's low-rate events (provider reports, kill
switch, truth alerts, execution anomalies, operator commands) and keeps what the node's
state does not: which sources reported each match, and the recent alerts. It also writes
the kill switch's firing and clearing, with the reason, to the log.

:func:`console_state` reads the node (truth engine, books, execution state) and the feed
into a plain dict: per match the truth state, score, sources and confidence; per market
the top of book of both outcomes, our open orders, positions (confirmed and pending,
in shares) with their PnL; the kill switch's state and reason; each feed's health (as
the risk gate sees it); elapsed time; PnL since
start split into realized, unrealized and fees. Money is formatted from integer
micro-units (never a float).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

import structlog

from polyloly.domain.events import MatchEvent, OperatorCommand, TruthAlert
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import fmt
from polyloly.execution.events import ExecutionAnomaly, KillSwitchFired, KillSwitchResumed
from polyloly.execution.pnl import unrealized

if TYPE_CHECKING:
    from polyloly.bot.node_options import NodeOptions
    from polyloly.domain.orderbook import OrderBook
    from polyloly.execution.state import ExecutionState
    from polyloly.node.core import Core
    from polyloly.runtime.clock import Clock
    from polyloly.runtime.kernel import Kernel

__all__ = ["ConsoleFeed", "ConsoleNode", "console_state", "market_name"]

_NS_PER_S: Final = 1_000_000_000
_NS_PER_MS: Final = 1_000_000
_MAX_ALERTS: Final = 50
_MAX_FILLS: Final = 20
_MAX_ORDERS: Final = 20

_log = structlog.get_logger(__name__)


class ConsoleNode(Protocol):
    """What the console reads of a running node (``bot.app.TradingNode`` is one)."""

    core: Core | None
    clock: Clock
    options: NodeOptions
    started: bool
    started_ns: int
    equity_start: int


@dataclass(slots=True)
class ConsoleFeed:
    """Recent alerts and each match's reporting sources, fed by low-rate kernel events."""

    alerts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_MAX_ALERTS))
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    """match id → source → when it last reported (ns)."""
    alert_count: int = 0

    def attach(self, kernel: Kernel) -> None:
        """Subscribe to the events the console shows."""
        kernel.subscribe(MatchEvent, self._on_report)
        kernel.subscribe(KillSwitchFired, self._on_fired)
        kernel.subscribe(KillSwitchResumed, self._on_resumed)
        kernel.subscribe(TruthAlert, self._on_truth_alert)
        kernel.subscribe(ExecutionAnomaly, self._on_anomaly)
        kernel.subscribe(OperatorCommand, self._on_operator)

    def add(self, ts_ns: int, level: str, title: str, detail: str) -> None:
        """Remember one alert (the newest first in :func:`console_state`)."""
        self.alert_count += 1
        self.alerts.append(
            {"ts_ms": ts_ns // _NS_PER_MS, "level": level, "title": title, "detail": detail}
        )

    def _on_report(self, event: MatchEvent) -> None:
        self.sources.setdefault(event.match_id, {})[event.source] = event.ts_init

    def _on_fired(self, event: KillSwitchFired) -> None:
        _log.warning("kill_switch.fired", condition=event.condition, reason=event.reason)
        self.add(event.ts_init, "critical", f"kill switch: {event.condition}", event.reason)

    def _on_resumed(self, event: KillSwitchResumed) -> None:
        _log.info("kill_switch.resumed", reason=event.reason)
        self.add(event.ts_init, "info", "trading resumed", event.reason)

    def _on_truth_alert(self, event: TruthAlert) -> None:
        level = "warning" if event.blocked else "info"
        self.add(event.ts_init, level, f"truth: {event.match_id}", event.reason)

    def _on_anomaly(self, event: ExecutionAnomaly) -> None:
        self.add(event.ts_init, "warning", f"anomaly: {event.kind}", event.detail)

    def _on_operator(self, event: OperatorCommand) -> None:
        self.add(event.ts_init, "info", f"operator: {event.command}", event.reason)


def market_name(mapping: MarketMapping) -> str:
    """``<match> match`` or ``<match> game N``."""
    if mapping.kind is MarketKind.GAME:
        return f"{mapping.match_id} game {mapping.game_number}"
    return f"{mapping.match_id} match"


def _level(book: OrderBook | None, ask: bool) -> dict[str, str] | None:
    if book is None or not book.in_sync:
        return None
    level = book.best_ask if ask else book.best_bid
    return None if level is None else {"price": fmt(level[0], 3), "size": fmt(level[1], 2)}


def _position(state: ExecutionState, token: str) -> dict[str, Any]:
    view = state.position(token)
    mark = state.marks.get(token)
    pnl = view.realized + (unrealized(view, mark) if view.expected else 0)
    return {
        "confirmed": fmt(view.confirmed, 2),
        "pending": fmt(view.pending, 2),
        "shares": fmt(view.expected, 2),
        "avg_cost": fmt(view.avg_cost(), 3) if view.expected else None,
        "mark": fmt(mark, 3) if mark is not None else None,
        "pnl": fmt(pnl, 2),
        "held": view.expected != 0 or view.realized != 0,
    }


def _matches(node: ConsoleNode, feed: ConsoleFeed) -> list[dict[str, Any]]:
    core = node.core
    if core is None:
        return []
    out: list[dict[str, Any]] = []
    now = node.clock.now_ns()
    for match_id in core.registry.match_ids():
        seen = feed.sources.get(match_id, {})
        sources = [
            {"name": name, "age_s": max(now - ts, 0) // _NS_PER_S}
            for name, ts in sorted(seen.items())
        ]
        view = core.truth.view(match_id) if core.truth is not None else None
        if view is None:
            out.append({"match_id": match_id, "state": "WAITING", "sources": sources})
            continue
        out.append(
            {
                "match_id": match_id,
                "state": view.state.value,
                "team_a": view.team_a,
                "team_b": view.team_b,
                "score_a": view.score_a,
                "score_b": view.score_b,
                "best_of": view.best_of,
                "winner": view.winner,
                "confidence": f"{view.confidence / 100:.0f}%",
                "blocked": view.blocked,
                "sources": sources,
            }
        )
    return out


def _order_row(state: ExecutionState, order: Any, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": order.order_hash[-10:],
        "strategy": order.strategy,
        "market": names.get(order.market, order.market[:12]),
        "side": order.side.value,
        "price": fmt(order.price, 3),
        "size": fmt(order.size, 2),
        "filled": fmt(order.size_matched, 2),
        "state": order.state.value,
        "type": order.order_type.value,
        "open": order.is_open,
        "created_ms": order.created_ns // _NS_PER_MS,
    }


def _markets(node: ConsoleNode, state: ExecutionState | None) -> list[dict[str, Any]]:
    core = node.core
    if core is None:
        return []
    out: list[dict[str, Any]] = []
    for mapping in sorted(core.registry, key=market_name):
        outcomes = []
        for team, token in ((mapping.team_a, mapping.token_a), (mapping.team_b, mapping.token_b)):
            book = core.books.get(token)
            row: dict[str, Any] = {
                "team": team,
                "bid": _level(book, ask=False),
                "ask": _level(book, ask=True),
            }
            if state is not None:
                row["position"] = _position(state, token)
            outcomes.append(row)
        open_orders = (
            sum(1 for o in state.open_orders() if o.market == mapping.market_id) if state else 0
        )
        out.append(
            {
                "name": market_name(mapping),
                "match_id": mapping.match_id,
                "question": mapping.question,
                "resolved": state is not None and mapping.market_id in state.resolved_markets,
                "outcomes": outcomes,
                "open_orders": open_orders,
            }
        )
    return out


def _fills(state: ExecutionState, names: dict[str, str]) -> list[dict[str, Any]]:
    fills = sorted((f for f in state.fills.values() if f.counts), key=lambda f: -f.seq)
    out = []
    for fill in fills[:_MAX_FILLS]:
        order = state.orders.get(fill.order_hash)
        out.append(
            {
                "trade": fill.trade_id[-10:],
                "strategy": order.strategy if order is not None else "?",
                "market": names.get(fill.market, fill.market[:12]),
                "side": fill.side.value,
                "price": fmt(fill.price, 3),
                "size": fmt(fill.size, 2),
                "fee": fmt(fill.fee, 4),
                "status": fill.status.value,
                "ts_ms": fill.match_time_ns // _NS_PER_MS,
            }
        )
    return out


def _trading(node: ConsoleNode, state: ExecutionState) -> dict[str, Any]:
    core = node.core
    assert core is not None  # noqa: S101  (a trading node has a core)
    names = {m.market_id: market_name(m) for m in core.registry}
    pnl = state.pnl()
    equity = state.equity()
    orders = sorted(state.orders.values(), key=lambda o: -o.created_ns)
    open_orders = [o for o in orders if o.is_open]
    recent = [o for o in orders if not o.is_open][: max(_MAX_ORDERS - len(open_orders), 0)]
    resolved = sum(1 for m in core.registry if m.market_id in state.resolved_markets)
    return {
        "equity": fmt(equity, 2),
        "equity_start": fmt(node.equity_start, 2),
        "pnl": fmt(equity - node.equity_start, 2),
        "realized": fmt(pnl.realized, 2),
        "unrealized": fmt(pnl.unrealized, 2),
        "fees": fmt(pnl.fees, 2),
        "collateral": fmt(state.collateral(), 2),
        "markets_resolved": resolved,
        "orders": [_order_row(state, o, names) for o in [*open_orders, *recent]],
        "open_orders": len(open_orders),
        "fills": _fills(state, names),
        "intents": dict(core.intents),
        "fills_by_strategy": dict(core.feedback.fills_by_strategy) if core.feedback else {},
    }


def console_state(node: ConsoleNode, feed: ConsoleFeed) -> dict[str, Any]:
    """Everything the console shows, JSON-ready (see the module docstring)."""
    now = node.clock.now_ns()
    core = node.core
    state = core.engine.state if core is not None and core.engine is not None else None
    halted = state.halted if state is not None else None
    engine = core.engine if core is not None else None
    feeds = {name: f.value for name, f in sorted(engine.gate.c.feeds.items())} if engine else {}
    out: dict[str, Any] = {
        "mode": node.options.mode.value,
        "now_ms": now // _NS_PER_MS,
        "elapsed_s": max(now - node.started_ns, 0) // _NS_PER_S if node.started_ns else 0,
        "started": node.started,
        "halted": halted is not None,
        "halt_reason": halted,
        "feeds": feeds,
        "matches": _matches(node, feed),
        "markets": _markets(node, state),
        "alerts": list(reversed(feed.alerts)),
        "trading": _trading(node, state) if state is not None else None,
    }
    return out
