"""The trading report's page: :func:`render_report` lays out a :class:`ReportData`.

The sections (summary cards, equity curve, PnL per market and per strategy, each match's
truth timeline against its market price, edge survival, order latencies, execution
anomalies by kind, fills) are interactive figures of :mod:`polyloly.backtest.iplot`; the
tables, cards and number formats come from :mod:`polyloly.backtest.plot_kit`. Markets are named by
their question (``LoL: T1 vs Gen.G - Game 1 Winner``) and tokens by the team they pay on;
the condition or token id stays in the cell's tooltip and, for markets, on a small second
line. Money arrives as integer micro-units; floats exist only for drawing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from polyloly.backtest.iplot import (
    IBand,
    IMarker,
    ISeries,
    IVLine,
    bar_figure,
    figure_html,
    histogram_figure,
    interactive_document,
    line_figure,
)
from polyloly.backtest.plot_kit import (
    NEGATIVE,
    PALETTE,
    POSITIVE,
    Cell,
    Label,
    esc,
    html_cards,
    html_table,
    time_axis,
    usd,
)
from polyloly.backtest.report_model import short_id
from polyloly.domain.money import SCALE, fmt, to_decimal

if TYPE_CHECKING:
    from polyloly.backtest.report_model import (
        MarketNames,
        MatchTimeline,
        OrderRow,
        PnlRow,
        ReportData,
    )

__all__ = [
    "render_report",
]

# -- the trading report (polyloly.backtest.report.ReportData) -------------------------------

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_WINDOW_BEFORE_S: Final = 120
_MAX_FILL_ROWS: Final = 5_000
_MAX_ORDER_ROWS: Final = 5_000
_WINDOW_AFTER_S: Final = 240
_ANOMALY_MEANING: Final = {
    "merge_insufficient": "a merge asked for more YES+NO pairs than the ledger holds "
    "confirmed (the last fills still MATCHED or MINED); it is retried after a back-off",
    "merge_unknown_market": "a merge for a market whose two tokens are unknown",
    "duplicate_intent": "an approved intent that already has an order: not sent again",
    "signing_failed": "an approved intent whose order could not be signed",
    "client_id_reused": "one intent id signed into two different orders",
    "unknown_order": "a venue update about an order the ledger does not know",
    "illegal_order_transition": "an order status that cannot follow the current one",
    "illegal_trade_transition": "a trade status that cannot follow the current one",
    "orphan_trade": "a trade naming none of our known orders (parked until adopted)",
    "balance_mismatch": "a local balance that differs from the venue's",
    "task_crashed": "a background task raised",
}


def _money(micros: int) -> str:
    return fmt(micros, 2)


def _signed(micros: int) -> tuple[str, str]:
    return (fmt(micros, 2), "num pos" if micros >= 0 else "num neg")


def _price(micros: int | None) -> str:
    return "—" if micros is None else str(to_decimal(micros))


def _iso(ns: int) -> str:
    if ns <= 0:
        return "—"
    moment = _EPOCH + dt.timedelta(microseconds=ns // 1_000)  # integer math, no float
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _ms(ns: int | None) -> str:
    return "—" if ns is None else f"{ns / 1_000_000:.1f}"


def _percentile(values: Sequence[int], pct: int) -> int | None:
    """Nearest-rank percentile of integers (``None`` when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-pct * len(ordered) // 100))
    return ordered[rank - 1]


def _market_cell(names: MarketNames, market_id: str) -> Label:
    return Label(names.market(market_id), market_id, short_id(market_id, 10, 6))


def _token_cell(names: MarketNames, token_id: str) -> Label:
    return Label(names.token(token_id), token_id)


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def _leads(data: ReportData) -> list[int]:
    return [t.lead_ns for t in data.timelines if t.lead_ns is not None]


def _summary_section(data: ReportData) -> str:
    s = data.summary
    survival = data.edge_survival
    lat50 = _percentile(data.order_latencies_ns, 50)
    lead50 = _percentile(_leads(data), 50)
    cards = [
        (_money(s.pnl), "PnL (pUSD, marked)"),
        (_money(s.trading_pnl), "of which trading (pUSD)"),
        (_money(s.settlement_pnl), "of which settlement (pUSD)"),
        (_fill_ratio(data.orders), "fill ratio (pUSD filled / ordered)"),
        (str(s.fills), "fills"),
        (_money(s.volume), "volume (pUSD)"),
        (_money(s.fees), "taker fees (pUSD)"),
        (_money(s.max_drawdown), "max drawdown (pUSD)"),
        ("—" if survival is None else _percent(float(survival)), "temporal edge survival"),
        (_ms(lat50), "median order latency (ms)"),
        ("—" if lead50 is None else f"{lead50 / 1e9:.2f} s", "median lead on the market"),
    ]
    rows: list[Sequence[Cell]] = [
        ("period (UTC)", f"{_iso(s.start_ns)} → {_iso(s.end_ns)}"),
        ("duration", f"{(s.end_ns - s.start_ns) / 1e9 / 3600:.2f} h"),
        ("events read", s.events),
        (
            "orders submitted / accepted / rejected",
            f"{s.orders_submitted} / {s.orders_accepted} / {s.orders_rejected}",
        ),
        ("orders held by the taker delay", s.orders_delayed),
        ("fills", s.fills),
        ("volume (pUSD)", (_money(s.volume), "num")),
        ("taker fees (pUSD)", (_money(s.fees), "num")),
        ("PnL (pUSD)", _signed(s.pnl)),
        ("  trading (fills at their marks, fees included)", _signed(s.trading_pnl)),
        ("  settlement (markets resolving)", _signed(s.settlement_pnl)),
        ("max drawdown (pUSD)", (_money(s.max_drawdown), "num")),
        ("kill-switch firings", s.kill_switches),
        ("execution anomalies", _anomaly_summary(data)),
    ]
    return (
        "<h2>Summary</h2>"
        + html_cards(cards)
        + html_table("table-summary", ("metric", "value"), rows, sortable=True)
    )


def _anomaly_summary(data: ReportData) -> Cell:
    if not data.anomalies:
        return data.summary.anomalies
    kinds = ", ".join(f"{a.kind} {a.count}" for a in data.anomalies)
    return f"{data.summary.anomalies} ({kinds})"


def _equity_section(data: ReportData) -> str:
    points = data.equity
    ts = [p.ts_ns for p in points]
    xs, unit = time_axis(ts, data.summary.start_ns or (ts[0] if ts else 0))
    equity = line_figure(
        "PnL over time (mark-to-market)",
        [ISeries("PnL", xs, [usd(p.pnl) for p in points], step=True)],
        xlabel=f"{unit} since start",
        ylabel="pUSD",
        zero_line=True,
        empty_message="no fills yet",
    )
    peak = 0
    drawdown: list[float] = []
    for p in points:
        peak = max(peak, p.pnl)
        drawdown.append(-usd(peak - p.pnl))
    down = line_figure(
        "Drawdown (below the running peak of PnL)",
        [ISeries("drawdown", xs, drawdown, step=True, color=NEGATIVE, fill="tozeroy")],
        xlabel=f"{unit} since start",
        ylabel="pUSD",
        empty_message="no fills yet",
    )
    return (
        "<h2>Equity curve and drawdown</h2>"
        + figure_html(
            "plot-equity",
            equity,
            "Fills' cash flows plus positions at their marks, fees included (drag to zoom, "
            "double-click to reset).",
        )
        + figure_html(
            "plot-drawdown",
            down,
            f"Largest drawdown {_money(data.summary.max_drawdown)} pUSD.",
        )
    )


def _pnl_split_section(data: ReportData) -> str:
    s = data.summary
    rows: list[Sequence[Cell]] = [
        ("trading before fees", _signed(s.trading_pnl + s.fees)),
        ("fees paid", _signed(-s.fees)),
        ("trading", _signed(s.trading_pnl)),
        ("settlement", _signed(s.settlement_pnl)),
        ("total", _signed(s.pnl)),
    ]
    note = (
        "Trading PnL: the fills' cash flows and the shares held valued at their marks until "
        "a market resolves; settlement: what resolution changed, the held shares marked at "
        "1 (winner) or 0 from then on. A live view that stops before the markets resolve "
        "shows the trading part only."
    )
    return f'<h2>Trading vs settlement PnL</h2><p class="note">{esc(note)}</p>' + html_table(
        "table-pnl-split", ("part", "pUSD"), rows, sortable=True
    )


def _pnl_section(kind: str, rows: Sequence[PnlRow], names: MarketNames) -> str:
    def name(row: PnlRow) -> Cell:
        return _market_cell(names, row.name) if kind == "market" else row.name

    fig = bar_figure(
        f"PnL per {kind}",
        [names.market(r.name) if kind == "market" else r.name for r in rows],
        [usd(r.pnl) for r in rows],
        unit="pUSD",
        hover=[f"{r.fills} fills, volume {_money(r.volume)}, fees {_money(r.fees)}" for r in rows],
        empty_message="no fills",
    )
    table = html_table(
        f"table-pnl-{kind}",
        (kind, "PnL", "fills", "volume", "fees"),
        [
            (name(r), _signed(r.pnl), r.fills, (_money(r.volume), "num"), (_money(r.fees), "num"))
            for r in rows
        ],
        sortable=True,
        filterable=len(rows) > 10,
    )
    return (
        f"<h2>PnL per {kind}</h2>" + figure_html(f"plot-pnl-{kind}", fig, f"PnL per {kind}") + table
    )


def _timeline_chart(t: MatchTimeline, catch_up: int, names: MarketNames) -> tuple[Any, str]:
    origin = t.trigger_ns or t.acted_ns or (t.prices[0].ts_ns if t.prices else 0)
    low = origin - _WINDOW_BEFORE_S * 1_000_000_000
    high = origin + _WINDOW_AFTER_S * 1_000_000_000

    def sec(ns: int) -> float:
        return (ns - origin) / 1e9

    seen = [m.ts_ns for m in t.truth] + [m.ts_ns for m in (*t.intents, *t.fills)]
    seen += [p.ts_ns for p in t.prices]
    end = min(high, max((x for x in seen if x <= high), default=origin))
    window = [(p.ts_ns, p.mid, p.ask) for p in t.prices if low <= p.ts_ns <= high]
    if window:  # a step line holds its last value until the end of what is shown
        window.append((end, window[-1][1], window[-1][2]))
    series = [
        ISeries(
            name,
            [sec(p[0]) for p in window if p[column] is not None],
            [usd(p[column] or 0) for p in window if p[column] is not None],
            dash,
            step=True,
        )
        for name, column, dash in (("mid", 1, "solid"), ("best ask", 2, "dash"))
    ]
    vlines = [
        IVLine(sec(m.ts_ns), m.label, NEGATIVE if m.final else "#4a5568")
        for m in t.truth
        if low <= m.ts_ns <= high
    ]
    if t.caught_up_ns is not None and low <= t.caught_up_ns <= high:
        vlines.append(IVLine(sec(t.caught_up_ns), "market caught up", POSITIVE, "dot"))
    markers = [
        IMarker(
            f"{kind} {label}",
            [sec(m.ts_ns) for m in marks if m.label == label],
            [usd(m.price) for m in marks if m.label == label],
            symbol,
            color,
            [f"{kind} {label} at {_price(m.price)}" for m in marks if m.label == label],
        )
        for kind, marks, symbol in (
            ("intent", t.intents, "triangle-up"),
            ("fill", t.fills, "circle"),
        )
        for label, color in zip(
            sorted({m.label for m in marks}), PALETTE[1 if kind == "intent" else 2 :], strict=False
        )
    ]
    fig = line_figure(
        t.title,
        series,
        xlabel="seconds from the truth signal the bot acted on",
        ylabel="price of the token",
        vlines=vlines[-10:],
        markers=markers,
        bands=[IBand(usd(catch_up), 1.0, f"≥ {_price(catch_up)}: caught up")],
        empty_message="no price data for this match",
    )
    lead = t.lead_ns
    market = names.token_market(t.token_id)
    where = f"market {short_id(market.market_id, 10, 6)}, " if market is not None else ""
    token = f"{names.token(t.token_id)} token" if t.token_id else "no token"
    caption = f"match {t.match_id}, {where}{token}: " + (
        "no action, or the market never reached the catch-up price"
        if lead is None
        else f"the bot acted {lead / 1e9:.2f} s before the mid reached {_price(catch_up)}"
    )
    return fig, caption


def _timeline_section(data: ReportData) -> str:
    names = data.names
    parts = ['<section id="truth-timeline"><h2>Truth timeline against the market</h2>']
    if not data.timelines:
        fig = line_figure("truth timeline", [], empty_message="no match in this log")
        parts.append(figure_html("plot-truth-timeline-0", fig, "no match in this log"))
    for i, t in enumerate(data.timelines):
        fig, caption = _timeline_chart(t, data.catch_up_price, names)
        parts.append(figure_html(f"plot-truth-timeline-{i}", fig, caption))
    return "".join(parts) + "</section>"


def _edge_section(data: ReportData) -> str:
    survival = data.edge_survival
    note = (
        "no temporal-arbitrage intent with a known ask"
        if survival is None
        else f"{_percent(float(survival))} of the edge seen at decision time was realized "
        "after latency and the taker delay. Edge = shares × (1 − price) − taker fee, the "
        "profit if the truth holds; expected: the shares the order would have bought from "
        "the book at decision time (a FAK/FOK BUY spends size × limit in pUSD, so it gets "
        "more shares than its size when the asks are under the limit); realized: the shares "
        "it did buy, at the fill prices. Above 100 % the book got cheaper during the delay."
    )
    names = data.names
    rows = [
        (
            Label(names.market(e.market), e.intent_id, short_id(e.market, 10, 6)),
            _token_cell(names, e.token_id),
            _price(e.ask),
            (fmt(e.expected_size, 2), "num"),
            _signed(e.expected_edge),
            (fmt(e.filled_size, 2), "num"),
            _price(e.avg_price),
            _signed(e.realized_edge),
            ("—" if e.survival is None else _percent(float(e.survival)), "num"),
            (_ms(e.delay_ns), "num"),
            "yes" if e.delayed else "no",
        )
        for e in data.edges
    ]
    headers = (
        "market",
        "token",
        "ask at decision",
        "expected shares",
        "expected edge",
        "filled shares",
        "avg fill",
        "realized edge",
        "realized / expected",
        "submit→fill (ms)",
        "delayed",
    )
    return f'<h2>Taker delay: edge survival</h2><p class="note">{esc(note)}</p>' + html_table(
        "table-edge", headers, rows, sortable=True, filterable=len(rows) > 10
    )


def _latency_section(data: ReportData) -> str:
    values = [ns / 1_000_000 for ns in data.order_latencies_ns]
    lines = []
    for pct, color in ((50, "#2b6cb0"), (95, NEGATIVE)):
        v = _percentile(data.order_latencies_ns, pct)
        if v is not None:
            lines.append(IVLine(v / 1_000_000, f"p{pct} {v / 1_000_000:.1f} ms", color))
    fig = histogram_figure(
        "Order latency (submit → venue answer)",
        [("orders", values)],
        xlabel="ms",
        ylabel="orders",
        vlines=lines,
        empty_message="no order answered",
    )
    return "<h2>Order latency</h2>" + figure_html("plot-latency", fig, "submit → accept/reject")


def _lead_s(ns: int | None) -> str:
    return "—" if ns is None else f"{ns / 1e9:+.2f} s"


_SPORTS_LEAD: Final = "Lead over Polymarket's sports feed and the repricing"


def _lead_section(data: ReportData) -> str:
    leads = data.leads
    if leads is None or not leads.results:
        return f"<h2>{_SPORTS_LEAD}</h2><p>No map or match result in this log.</p>"
    intro = (
        f"<p>{leads.seen} results seen, {leads.confirmed} confirmed, {leads.acted} acted on "
        f"by temporal arbitrage. Lead = how long before Polymarket's sports feed announced a "
        f"result, or before the winner's token repriced (a trade or the mid at "
        f"{leads.reprice_at / 1e6:.2f}, or its resolution), each source's report arrived; "
        f"positive = we were first. Same numbers: <code>polyloly latency LOG</code>.</p>"
    )
    rows: list[Sequence[Cell]] = [
        (
            s.source,
            s.results,
            (_lead_s(s.p("sports", 50)), "num"),
            (_lead_s(s.p("sports", 90)), "num"),
            (_lead_s(s.p("reprice", 50)), "num"),
            (_lead_s(s.p("reprice", 90)), "num"),
        )
        for s in leads.sources
    ]
    headers = (
        "source",
        "results",
        "lead over sports feed p50",
        "p90",
        "lead over repricing p50",
        "p90",
    )
    return f"<h2>{_SPORTS_LEAD}</h2>" + intro + html_table("table-leads", headers, rows)


def _anomaly_section(data: ReportData) -> str:
    names = data.names
    rows: list[Sequence[Cell]] = []
    for a in data.anomalies:
        shown = a.markets[:3]
        markets = "; ".join(names.market(m) for m in shown)
        if len(a.markets) > len(shown):
            markets += f" and {len(a.markets) - len(shown)} more"
        rows.append(
            (
                a.kind,
                a.count,
                _ANOMALY_MEANING.get(a.kind, ""),
                f"{_iso(a.first_ns)} → {_iso(a.last_ns)}",
                Label(markets or "—", " ".join(a.markets)),
                Label(a.detail, a.subject, short_id(a.subject, 24, 8)),
            )
        )
    total = data.summary.anomalies
    note = (
        f"{total} updates or requests that did not fit the local state, by kind."
        if total
        else "none: every update fitted the local state."
    )
    headers = ("kind", "count", "what it means", "first → last (UTC)", "markets", "first example")
    return f'<h2>Execution anomalies</h2><p class="note">{esc(note)}</p>' + html_table(
        "table-anomalies", headers, rows, sortable=True
    )


def _fills_section(data: ReportData) -> str:
    shown = data.fills[-_MAX_FILL_ROWS:]
    names = data.names
    rows = [
        (
            _iso(f.ts_ns),
            f.strategy,
            _market_cell(names, f.market),
            _token_cell(names, f.token_id),
            f.side,
            (_price(f.price), "num"),
            (fmt(f.size, 2), "num"),
            (fmt(f.fee, 5), "num"),
            f.liquidity,
            f.status,
        )
        for f in shown
    ]
    note = (
        f"{len(data.fills)} fills; showing the last {len(shown)}. Click a header to sort, "
        "type in the box to filter; every fill is in fills.csv beside this report."
        if data.fills
        else ""
    )
    headers = (
        "time (UTC)",
        "strategy",
        "market",
        "token",
        "side",
        "price",
        "size",
        "fee",
        "liquidity",
        "status",
    )
    return f'<h2>Fills</h2><p class="note">{esc(note)}</p>' + html_table(
        "table-fills", headers, rows, sortable=True, filterable=True
    )


def _fill_ratio(orders: Sequence[OrderRow]) -> str:
    """pUSD filled / pUSD ordered (a marketable BUY spends size × limit: at asks under the
    limit it gets more shares than its size, never more pUSD)."""
    ordered = sum(o.size * o.price for o in orders)
    filled = sum(o.filled * o.avg_fill for o in orders if o.avg_fill is not None)
    return "—" if not ordered else _percent(filled / ordered)


def _cost(micros: int) -> tuple[str, str]:
    return (fmt(micros, 2), "num neg" if micros > 0 else "num pos")


def _execution_rows(data: ReportData) -> list[Sequence[Cell]]:
    by_strategy: dict[str, list[OrderRow]] = {}
    for order in data.orders:
        by_strategy.setdefault(order.strategy, []).append(order)
    refused: dict[tuple[str, str], int] = {}
    for r in data.rejections:
        refused[(r.strategy, r.stage)] = refused.get((r.strategy, r.stage), 0) + r.count
    rows: list[Sequence[Cell]] = []
    for strategy in sorted(set(by_strategy) | {r.strategy for r in data.rejections}):
        orders = by_strategy.get(strategy, [])
        filled = [o for o in orders if o.filled]
        slips = [o.slippage for o in filled if o.slippage is not None]
        shares = sum(o.filled for o in filled if o.slippage is not None)
        per_share = sum(slips) * SCALE // shares if shares else None
        rows.append(
            (
                strategy,
                len(orders),
                len(filled),
                (_fill_ratio(orders), "num"),
                refused.get((strategy, "risk"), 0),
                refused.get((strategy, "venue"), 0),
                sum(1 for o in filled if o.delayed),
                sum(1 for o in filled if not o.delayed),
                _cost(sum(slips)) if slips else ("—", "num"),
                ("—" if per_share is None else fmt(per_share, 4), "num"),
                (_money(sum(o.fees for o in orders)), "num"),
            )
        )
    return rows


def _execution_section(data: ReportData) -> str:
    headers = (
        "strategy",
        "orders",
        "orders filled",
        "fill ratio (pUSD)",
        "refused by risk",
        "refused by venue",
        "delayed fills",
        "immediate fills",
        "slippage cost (pUSD)",
        "per share (pUSD)",
        "fees (pUSD)",
    )
    note = (
        "Per strategy: orders sent and how many got a fill; fill ratio = pUSD filled / pUSD "
        "ordered (size × limit). Delayed: the venue held the order for the sports taker "
        "delay before matching it. Slippage: what the fills cost beyond the price the "
        "strategy saw when it decided (best ask for a BUY, best bid for a SELL), over the "
        "filled shares; negative: the fills were cheaper than that."
    )
    reasons = [(r.strategy, r.stage, r.reason, r.count) for r in data.rejections]
    slippage = histogram_figure(
        "Slippage against the intended price, per order",
        [
            (
                strategy,
                [
                    usd(o.slippage * SCALE // o.filled) * 100
                    for o in data.orders
                    if o.strategy == strategy and o.slippage is not None and o.filled
                ],
            )
            for strategy in sorted({o.strategy for o in data.orders})
        ],
        xlabel="cents per share beyond the intended price (+ = paid more)",
        ylabel="orders",
        empty_message="no filled order with a known intended price",
    )
    return (
        f'<h2>Execution per strategy</h2><p class="note">{esc(note)}</p>'
        + html_table("table-execution", headers, _execution_rows(data), sortable=True)
        + "<h3>Refusals by reason</h3>"
        + html_table(
            "table-rejections",
            ("strategy", "stage", "reason (numbers as #)", "count"),
            reasons,
            sortable=True,
            filterable=len(reasons) > 10,
        )
        + figure_html("plot-slippage", slippage, "Per filled order, size-weighted over its fills.")
    )


def _seconds(ns: int | None) -> tuple[str, str]:
    return ("—" if ns is None else f"{ns / 1e9:.2f}", "num")


def _source_lead_section(data: ReportData) -> str:
    rows = [
        (
            lead.source,
            lead.results,
            lead.first,
            _seconds(lead.median_behind_first_ns),
            lead.priced,
            _seconds(lead.median_lead_ns),
            _seconds(lead.min_lead_ns),
        )
        for lead in data.source_leads
    ]
    note = (
        "Each source's reports of game and match results (the end with its winner): how "
        "often it was the first to report one, how long after the first source it did, and "
        "how long before the market priced the result (the winner's token first at or above "
        f"{_price(data.catch_up_price)}, or its market resolved, after the first report). "
        "Seconds; medians."
    )
    headers = (
        "source",
        "results reported",
        "first to report",
        "behind the first (s)",
        "results priced or resolved",
        "lead on the market (s)",
        "shortest lead (s)",
    )
    return f'<h2>Lead per source</h2><p class="note">{esc(note)}</p>' + html_table(
        "table-source-lead", headers, rows, sortable=True
    )


def _export_section() -> str:
    return (
        '<p class="export">Data beside this report: <a href="fills.csv">fills.csv</a>'
        '<a href="orders.csv">orders.csv</a></p>'
    )


def _orders_section(data: ReportData) -> str:
    shown = data.orders[-_MAX_ORDER_ROWS:]
    names = data.names
    rows = [
        (
            _iso(o.ts_ns),
            o.strategy,
            _market_cell(names, o.market),
            _token_cell(names, o.token_id),
            o.side,
            o.order_type,
            (_price(o.intended), "num"),
            (_price(o.price), "num"),
            (_price(o.avg_fill), "num"),
            (fmt(o.size, 2), "num"),
            (fmt(o.filled, 2), "num"),
            o.state,
            "yes" if o.delayed else "no",
            o.reason,
        )
        for o in shown
    ]
    headers = (
        "time (UTC)",
        "strategy",
        "market",
        "token",
        "side",
        "type",
        "intended",
        "limit",
        "avg fill",
        "size",
        "filled",
        "state",
        "delayed",
        "refusal",
    )
    note = f"{len(data.orders)} orders; every one is in orders.csv beside this report."
    return f'<h2>Orders</h2><p class="note">{esc(note)}</p>' + html_table(
        "table-orders", headers, rows, sortable=True, filterable=True
    )


def _recycle_section(data: ReportData) -> str:
    """Capital recycled: merges and redemptions, the pUSD each freed, its transaction."""
    rows = data.recycled
    merges = [r for r in rows if r.kind == "merge" and not r.error]
    redeems = [r for r in rows if r.kind == "redeem" and not r.error]
    failed = [r for r in rows if r.error]
    note = (
        f"{len(merges)} merges freed {fmt(sum(r.freed for r in merges), 2)} pUSD; "
        f"{len(redeems)} redemptions paid {fmt(sum(r.freed for r in redeems), 2)} pUSD; "
        f"{len(failed)} failed"
    )
    names = data.names
    table = [
        (
            _iso(r.ts_ns),
            r.kind,
            r.strategy,
            _market_cell(names, r.market),
            (fmt(r.shares, 2), "num"),
            (fmt(r.freed, 2), "num"),
            short_id(r.transaction_hash) if r.transaction_hash else "",
            r.error[:120],
        )
        for r in rows
    ]
    headers = ("time (UTC)", "kind", "strategy", "market", "shares", "pUSD", "transaction", "error")
    return f'<h2>Capital recycled</h2><p class="note">{esc(note)}</p>' + html_table(
        "table-recycled", headers, table
    )


def render_report(data: ReportData) -> str:
    """Render a :class:`~polyloly.backtest.report.ReportData` as one self-contained page."""
    s = data.summary
    subtitle = f"{s.events} events, {s.fills} fills, PnL {_money(s.pnl)} pUSD"
    sections = [
        _summary_section(data),
        _export_section(),
        _equity_section(data),
        _pnl_split_section(data),
        _pnl_section("market", data.per_market, data.names),
        _pnl_section("strategy", data.per_strategy, data.names),
        _execution_section(data),
        _timeline_section(data),
        _edge_section(data),
        _source_lead_section(data),
        _lead_section(data),
        _latency_section(data),
        _anomaly_section(data),
        _recycle_section(data),
        _fills_section(data),
        _orders_section(data),
    ]
    return interactive_document(data.title, subtitle, sections)
