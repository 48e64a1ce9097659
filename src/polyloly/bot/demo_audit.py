"""What a demo run's numbers are made of, judged against the simulated world's truth.

:func:`audit_demo` reads the run's report data (built from its event log) and the
world's scenarios, and decomposes the PnL per strategy: fills, orders held by the taker
delay, fills of delayed vs immediate orders, fees, slippage against the price each order
was sent at, and the edge that survived (realized over expected). It also counts what must
never happen: a *wrong-side* temporal trade (buying the token that lost, or selling the one
that won) and a temporal fill on a market whose result the simulated public already knew
and priced (after every maker on it had seen the result and could re-quote).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from polyloly.backtest.report_model import ReportData
from polyloly.domain.money import ONE, SCALE

__all__ = ["DemoAudit", "StrategyAudit", "audit_demo"]


@dataclass(slots=True)
class StrategyAudit:
    """One strategy's share of a run (money in micros)."""

    pnl: int = 0
    fills: int = 0
    orders_delayed: int = 0
    fills_delayed: int = 0
    fills_immediate: int = 0
    fees: int = 0
    slippage: int = 0
    expected_edge: int = 0
    realized_edge: int = 0
    wrong_side: int = 0
    after_public: int = 0

    @property
    def edge_survival(self) -> Fraction | None:
        """Realized over expected edge (None when no edge was expected)."""
        return Fraction(self.realized_edge, self.expected_edge) if self.expected_edge else None


@dataclass(slots=True)
class DemoAudit:
    """Per-strategy audits of one run."""

    strategies: dict[str, StrategyAudit] = field(default_factory=dict)

    def total(self, name: str) -> int:
        """Sum of one counter over the strategies."""
        return sum(int(getattr(s, name)) for s in self.strategies.values())

    def lines(self) -> list[str]:
        """The decomposition as printable lines."""
        out = []
        for name, s in sorted(self.strategies.items()):
            survival = s.edge_survival
            kept = "n/a" if survival is None else f"{float(survival) * 100:.0f} %"
            out.append(
                f"{name}: PnL {_usd(s.pnl)}, {s.fills} fills ({s.fills_delayed} of delayed "
                f"orders, {s.fills_immediate} immediate), {s.orders_delayed} orders delayed, "
                f"fees {_usd(s.fees)}, slippage {_usd(s.slippage)}, edge kept {kept}, "
                f"wrong-side {s.wrong_side}, after the public priced {s.after_public}"
            )
        return out


def _usd(micros: int) -> str:
    return f"{micros / ONE:+.2f}"


def audit_demo(
    data: ReportData,
    *,
    winning_token: Callable[[str], str | None],
    public_priced_ns: Callable[[str], int | None],
    matched_ns: Callable[[str], int | None] | None = None,
) -> DemoAudit:
    """Decompose a run (see the module docstring); the callables answer from the world:
    the winning token of a market, when the public had priced its result, and when the
    venue matched an order (else the time the bot learned of the fill is used)."""
    audit = DemoAudit()
    for row in data.per_strategy:
        audit.strategies.setdefault(row.name, StrategyAudit()).pnl = row.pnl
    delayed_orders: dict[str, int] = defaultdict(int)
    for edge in data.edges:
        s = audit.strategies.setdefault(edge.strategy, StrategyAudit())
        s.expected_edge += edge.expected_edge
        s.realized_edge += edge.realized_edge
        if edge.delayed:
            delayed_orders[edge.strategy] += 1
        if edge.avg_price is not None and edge.ask is not None:
            s.slippage -= (edge.avg_price - edge.ask) * edge.filled_size // SCALE
    for name, count in delayed_orders.items():
        audit.strategies[name].orders_delayed = count
    delayed_hashes = data.delayed_orders
    for fill in data.fills:
        if fill.status == "FAILED":
            continue
        s = audit.strategies.setdefault(fill.strategy, StrategyAudit())
        s.fills += 1
        s.fees += fill.fee
        if fill.order_hash in delayed_hashes:
            s.fills_delayed += 1
        else:
            s.fills_immediate += 1
        if fill.strategy != "temporal_arb":
            continue
        winner = winning_token(fill.market)
        if winner is not None and (fill.token_id == winner) != (fill.side == "BUY"):
            s.wrong_side += 1
        priced = public_priced_ns(fill.market)
        at = matched_ns(fill.order_hash) if matched_ns is not None else None
        if priced is not None and (fill.ts_ns if at is None else at) >= priced:
            s.after_public += 1
    return audit
