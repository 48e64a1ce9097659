"""The trading report's data model: plain frozen rows and points (micros, nanoseconds).

:class:`ReportData` is what :func:`~polyloly.backtest.report_data.build_report_data`
derives from an event log and what :func:`~polyloly.backtest.plots.render_report` draws;
see :mod:`polyloly.backtest.report` for the accounting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from polyloly.backtest.lead import LeadReport
from polyloly.domain.markets import MarketMapping, normalize_team
from polyloly.domain.money import SCALE

__all__ = [
    "PLOT_IDS",
    "AnomalyRow",
    "EdgeRow",
    "EquityPoint",
    "FillRow",
    "MarketName",
    "MarketNames",
    "MatchTimeline",
    "OrderMark",
    "OrderRow",
    "PnlRow",
    "PricePoint",
    "RecycleRow",
    "Rejection",
    "ReportData",
    "SourceLead",
    "Summary",
    "TruthMark",
    "short_id",
]

PLOT_IDS: Final = (
    "table-summary",
    "plot-equity",
    "plot-drawdown",
    "table-pnl-split",
    "plot-pnl-market",
    "plot-pnl-strategy",
    "table-execution",
    "table-rejections",
    "plot-slippage",
    "truth-timeline",
    "table-edge",
    "table-source-lead",
    "plot-latency",
    "table-anomalies",
    "table-recycled",
    "table-fills",
    "table-orders",
)
"""Element ids every rendered report contains (sections with their chart or table)."""

# "LoL: T1 vs Gen.G (BO3) - LCK", "Dota 2: Team Spirit vs Tundra Esports - Game 1 Winner"
_VERSUS: Final = re.compile(r"(?:^|:\s*)([^:]+?)\s+vs\.?\s+(.+?)(?:\s+\(|\s+-\s+|\?|$)")

# -- names ----------------------------------------------------------------------------------


def short_id(value: str, head: int = 6, tail: int = 4) -> str:
    """A long id (condition id, token id, order hash) cut to ``head…tail`` for display."""
    if len(value) <= head + tail + 1:
        return value
    return f"{value[:head]}…{value[-tail:]}"


@dataclass(frozen=True, slots=True)
class MarketName:
    """How the report names one market: its question and the team each of its tokens pays.

    Built from the market mappings the event log carries (``MarketDiscovered``) or from a
    :class:`~polyloly.domain.markets.MarketRegistry`; ``team_a`` / ``team_b`` are the names
    as the question spells them when it does (``Gen.G``), else the mapping's canonical ones.
    """

    market_id: str
    question: str = ""
    match_id: str = ""
    team_a: str = ""
    team_b: str = ""
    token_a: str = ""
    token_b: str = ""
    game_number: int | None = None

    @classmethod
    def from_mapping(cls, mapping: MarketMapping) -> MarketName:
        """Name a market from its mapping, with the teams spelled as its question does."""
        shown: dict[str, str] = {}
        found = _VERSUS.search(mapping.question)
        if found is not None:
            shown = {normalize_team(name): name.strip() for name in found.groups()}
        return cls(
            market_id=mapping.market_id,
            question=mapping.question,
            match_id=mapping.match_id,
            team_a=shown.get(mapping.team_a, mapping.team_a),
            team_b=shown.get(mapping.team_b, mapping.team_b),
            token_a=mapping.token_a,
            token_b=mapping.token_b,
            game_number=mapping.game_number,
        )

    @property
    def label(self) -> str:
        """The question (``LoL: T1 vs Gen.G - Game 1 Winner``), else teams and game, else id."""
        if self.question:
            return self.question
        if self.team_a and self.team_b:
            what = "match" if self.game_number is None else f"Game {self.game_number}"
            return f"{self.team_a} vs {self.team_b} — {what} winner"
        return short_id(self.market_id)

    def team_of(self, token_id: str) -> str | None:
        """The team ``token_id`` pays out on, if it is one of this market's tokens."""
        if token_id and token_id == self.token_a:
            return self.team_a or None
        if token_id and token_id == self.token_b:
            return self.team_b or None
        return None


class MarketNames:
    """Looks up readable names of markets and tokens; unknown ids show shortened."""

    __slots__ = ("_by_market", "_by_token")

    def __init__(self, markets: Iterable[MarketName] = ()) -> None:
        self._by_market = {m.market_id: m for m in markets}
        self._by_token = {t: m for m in self._by_market.values() for t in (m.token_a, m.token_b)}
        self._by_token.pop("", None)

    def get(self, market_id: str) -> MarketName | None:
        """The name record of a market, if known."""
        return self._by_market.get(market_id)

    def market(self, market_id: str) -> str:
        """A market's label (its question), else its shortened condition id (``?``: none)."""
        found = self._by_market.get(market_id)
        if found is not None:
            return found.label
        return short_id(market_id) if market_id else "?"

    def token(self, token_id: str) -> str:
        """The team a token pays on (``T1``), else its shortened id."""
        found = self._by_token.get(token_id)
        team = found.team_of(token_id) if found is not None else None
        return team or (short_id(token_id) if token_id else "?")

    def token_market(self, token_id: str) -> MarketName | None:
        """The market a token belongs to, if known."""
        return self._by_token.get(token_id)


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
class OrderRow:
    """One order of ours, from intent to its last state.

    ``intended`` is the price the strategy saw when it decided: the best ask for a BUY, the
    best bid for a SELL (``None`` when the book was unknown). ``avg_fill`` is the
    size-weighted price of its fills that count; ``slippage`` what those fills cost beyond
    the intended price, in pUSD micros (positive: worse than intended; a FAK BUY that
    walks up the book pays it, one that finds a cheaper ask earns it back).
    """

    ts_ns: int
    order_hash: str
    intent_id: str
    strategy: str
    market: str
    token_id: str
    side: str
    order_type: str
    price: int
    size: int
    filled: int
    state: str
    reason: str = ""
    delayed: bool = False
    intended: int | None = None
    avg_fill: int | None = None
    fees: int = 0

    @property
    def slippage(self) -> int | None:
        """pUSD micros paid beyond the intended price over the filled shares."""
        if self.intended is None or self.avg_fill is None or not self.filled:
            return None
        per_share = self.avg_fill - self.intended
        if self.side == "SELL":
            per_share = -per_share
        return per_share * self.filled // SCALE


@dataclass(frozen=True, slots=True)
class Rejection:
    """Intents or orders of one strategy refused for one reason, at one stage
    (``risk``: the risk gate; ``venue``: the exchange)."""

    strategy: str
    stage: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class SourceLead:
    """How early one esports source reported results, against the market and the others.

    A result is a game's or a match's end with its winner. ``lead`` is how long before the
    market priced the result this source reported it: the winner's token first at or above
    the report's catch-up price, or its market resolved, whichever came first after the
    first report of the result by any source; ``behind_first`` how long after the first
    source it reported. Nanoseconds; medians over the results concerned.
    """

    source: str
    results: int
    first: int
    priced: int
    median_lead_ns: int | None
    min_lead_ns: int | None
    median_behind_first_ns: int | None


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
    """Expected edge of one intent at decision time against what its fills realized.

    ``size`` is the intent's size (shares at its limit price); ``expected_size`` the shares
    the order would have bought from the book as it stood at decision time — for a
    marketable BUY that spends its pUSD amount (``size × limit``) this is more than
    ``size`` whenever the asks are under the limit. ``expected_edge`` and
    ``realized_edge`` are ``Σ shares × (1 − price) − taker fee`` over those shares and over
    what actually filled.
    """

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
    expected_size: int = 0

    @property
    def survival(self) -> Fraction | None:
        """``realized / expected`` edge of this intent (None when nothing was expected)."""
        if self.expected_edge <= 0:
            return None
        return Fraction(self.realized_edge, self.expected_edge)


@dataclass(frozen=True, slots=True)
class AnomalyRow:
    """The execution anomalies of one kind: how many, when, on which markets, an example."""

    kind: str
    count: int
    first_ns: int
    last_ns: int
    markets: tuple[str, ...] = ()
    subject: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RecycleRow:
    """One merge or redemption: pUSD back from the chain (``freed``), or why not."""

    ts_ns: int
    kind: str  # "merge" | "redeem"
    strategy: str
    market: str
    shares: int  # pairs merged, or tokens burned
    freed: int  # pUSD-micros received
    transaction_hash: str = ""
    error: str = ""


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
    settlement_pnl: int = 0
    """The part of ``pnl`` that markets resolving made: the change in value of the shares
    held at each resolution (marked at 1 or 0 from then on)."""

    @property
    def trading_pnl(self) -> int:
        """PnL made by trading: everything but settlement (fees included)."""
        return self.pnl - self.settlement_pnl


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
    markets: tuple[MarketName, ...] = ()
    anomalies: tuple[AnomalyRow, ...] = ()
    recycled: tuple[RecycleRow, ...] = ()
    orders: tuple[OrderRow, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    source_leads: tuple[SourceLead, ...] = ()
    leads: LeadReport | None = None  # the lead per source and per result (polyloly latency)

    @property
    def names(self) -> MarketNames:
        """Readable names of this report's markets and tokens."""
        return MarketNames(self.markets)

    @property
    def edge_survival(self) -> Fraction | None:
        """Σ realized / Σ expected edge over the edge strategy's intents (None: no edge)."""
        expected = sum(e.expected_edge for e in self.edges if e.expected_edge > 0)
        if expected <= 0:
            return None
        return Fraction(sum(e.realized_edge for e in self.edges if e.expected_edge > 0), expected)
