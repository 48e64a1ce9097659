"""The trading report's data model: plain frozen rows and points (micros, nanoseconds).

:class:`ReportData` is what :func:`~polyloly.backtest.report_data.build_report_data`
derives from an event log and what :func:`~polyloly.backtest.plots.render_report` draws;
see :mod:`polyloly.backtest.report` for the accounting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from polyloly.domain.money import SCALE

__all__ = [
    "PLOT_IDS",
    "EdgeRow",
    "EquityPoint",
    "FillRow",
    "MatchTimeline",
    "OrderMark",
    "PnlRow",
    "PricePoint",
    "ReportData",
    "Summary",
    "TruthMark",
]

PLOT_IDS: Final = (
    "table-summary",
    "plot-equity",
    "plot-pnl-market",
    "plot-pnl-strategy",
    "truth-timeline",
    "table-edge",
    "plot-latency",
    "table-fills",
)
"""Element ids every rendered report contains (sections with their chart or table)."""

# -- the data model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FillRow:
    """One fill of one of our orders (``status`` is the trade's last known status)."""

    ts_ns: int
    trade_id: str
    order_hash: str
    strategy: str
    market: str
    token_id: str
    side: str
    price: int
    size: int
    fee: int
    liquidity: str
    status: str

    @property
    def notional(self) -> int:
        """``size × price`` in pUSD micros (rounded down)."""
        return self.size * self.price // SCALE


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """Total mark-to-market PnL (micros) after the event at ``ts_ns``."""

    ts_ns: int
    pnl: int


@dataclass(frozen=True, slots=True)
class PnlRow:
    """PnL of one market or one strategy, with its activity."""

    name: str
    pnl: int
    fills: int
    volume: int
    fees: int


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A token's book at ``ts_ns``: mid and best ask (micros, ``None`` when unknown)."""

    ts_ns: int
    mid: int | None
    ask: int | None


@dataclass(frozen=True, slots=True)
class TruthMark:
    """A truth-engine output on a match: a change (map result, pause…) or the final."""

    ts_ns: int
    label: str
    confidence: int
    final: bool = False


@dataclass(frozen=True, slots=True)
class OrderMark:
    """An intent (limit price) or a fill (fill price) on the plotted token, by strategy."""

    ts_ns: int
    price: int
    label: str


@dataclass(frozen=True, slots=True)
class MatchTimeline:
    """One match: what the truth engine said and when, against one token's price.

    ``acted_ns`` is the bot's first intent on the token, ``trigger_ns`` the truth output
    it acted on (the last one before it), ``caught_up_ns`` the first time after the trigger
    that the token's mid reached the report's catch-up price.
    """

    match_id: str
    title: str
    token_id: str
    prices: tuple[PricePoint, ...]
    truth: tuple[TruthMark, ...]
    intents: tuple[OrderMark, ...]
    fills: tuple[OrderMark, ...]
    trigger_ns: int | None = None
    acted_ns: int | None = None
    caught_up_ns: int | None = None

    @property
    def lead_ns(self) -> int | None:
        """How long before the market caught up the bot acted (negative: it was late)."""
        if self.acted_ns is None or self.caught_up_ns is None:
            return None
        return self.caught_up_ns - self.acted_ns


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """Expected edge of one intent at decision time against what its fills realized."""

    intent_id: str
    strategy: str
    market: str
    token_id: str
    ts_ns: int
    ask: int | None
    size: int
    expected_edge: int
    filled_size: int
    avg_price: int | None
    realized_edge: int
    delay_ns: int | None
    delayed: bool = False


@dataclass(frozen=True, slots=True)
class Summary:
    """Headline numbers of a run (money in micros, times in ns)."""

    start_ns: int = 0
    end_ns: int = 0
    events: int = 0
    orders_submitted: int = 0
    orders_accepted: int = 0
    orders_rejected: int = 0
    orders_delayed: int = 0
    fills: int = 0
    volume: int = 0
    fees: int = 0
    pnl: int = 0
    max_drawdown: int = 0
    kill_switches: int = 0
    anomalies: int = 0


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the report shows; build it by hand or with :func:`build_report_data`."""

    title: str = "polyloly report"
    summary: Summary = field(default_factory=Summary)
    fills: tuple[FillRow, ...] = ()
    equity: tuple[EquityPoint, ...] = ()
    per_market: tuple[PnlRow, ...] = ()
    per_strategy: tuple[PnlRow, ...] = ()
    timelines: tuple[MatchTimeline, ...] = ()
    order_latencies_ns: tuple[int, ...] = ()
    edges: tuple[EdgeRow, ...] = ()
    catch_up_price: int = 900_000

    @property
    def edge_survival(self) -> Fraction | None:
        """Σ realized / Σ expected edge over the edge strategy's intents (None: no edge)."""
        expected = sum(e.expected_edge for e in self.edges if e.expected_edge > 0)
        if expected <= 0:
            return None
        return Fraction(sum(e.realized_edge for e in self.edges if e.expected_edge > 0), expected)
