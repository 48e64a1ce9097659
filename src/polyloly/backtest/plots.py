"""Charts and HTML pieces for the reports: matplotlib's Agg renderer, inline PNGs, inline CSS.

Every chart function takes plain numbers and returns a ``data:image/png;base64,…`` URI that
an ``<img>`` tag embeds, so a report is one self-contained file with no external reference
(no CDN, no font, no script). Figures are :class:`matplotlib.figure.Figure` objects drawn on
their own :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` — never through
``pyplot`` — so nothing touches a global backend or a display, and no state is shared
between charts. :func:`html_document`, :func:`html_table` and friends assemble the page;
:func:`render_report` lays out the trading report
(:class:`~polyloly.backtest.report.ReportData`).

Money arrives here as integer micro-units and is turned into floats only for drawing
(:func:`usd`); no arithmetic on those floats feeds back into any result. A chart with no
data still renders (a labelled empty frame), so a report always shows every section.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from polyloly.domain.money import fmt, to_decimal

if TYPE_CHECKING:
    from polyloly.backtest.report import MatchTimeline, PnlRow, ReportData

__all__ = [
    "NEGATIVE",
    "POSITIVE",
    "Band",
    "Cell",
    "Marker",
    "Series",
    "VLine",
    "bar_chart",
    "esc",
    "histogram",
    "html_cards",
    "html_document",
    "html_figure",
    "html_table",
    "line_chart",
    "png_uri",
    "render_report",
    "time_axis",
    "usd",
]

POSITIVE: Final = "#2f855a"
NEGATIVE: Final = "#c53030"
_PALETTE: Final = ("#2b6cb0", "#dd6b20", "#2f855a", "#805ad5", "#c53030", "#319795", "#718096")
_DPI: Final = 110
_SIZE: Final = (9.0, 3.6)
_MICROS: Final = 1_000_000
_NS_PER_S: Final = 1_000_000_000
_UNITS: Final = ((600, 1, "seconds"), (36_000, 60, "minutes"), (None, 3_600, "hours"))


def usd(micros: int) -> float:
    """Micro-units as a float, for drawing only."""
    return micros / _MICROS


def time_axis(ns: Sequence[int], origin_ns: int) -> tuple[list[float], str]:
    """Integer-ns timestamps as elapsed time since ``origin_ns`` in a readable unit.

    Returns the x values and the unit's name: seconds for spans under 10 minutes, minutes
    under 10 hours, hours beyond.
    """
    span_s = (max(ns) - origin_ns) // _NS_PER_S if ns else 0
    # the last unit has no limit, so next() always finds one
    seconds, name = next((s, n) for limit, s, n in _UNITS if limit is None or span_s < limit)
    scale = seconds * _NS_PER_S
    return [(t - origin_ns) / scale for t in ns], name


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: ``x`` and ``y`` values."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    style: str = "-"
    step: bool = False
    color: str | None = None


@dataclass(frozen=True, slots=True)
class VLine:
    """A labelled vertical line (an event on a timeline)."""

    x: float
    label: str
    color: str = "#4a5568"
    style: str = "--"


@dataclass(frozen=True, slots=True)
class Marker:
    """Scattered points with one label (orders, fills)."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    symbol: str = "o"
    color: str = "#dd6b20"


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded horizontal band ``[low, high]`` (e.g. the region above the entry cap)."""

    low: float
    high: float
    label: str
    color: str = "#fefcbf"


@dataclass(slots=True)
class _Chart:
    title: str
    xlabel: str = ""
    ylabel: str = ""
    size: tuple[float, float] = _SIZE
    fig: Figure = field(init=False)

    def __post_init__(self) -> None:
        self.fig = Figure(figsize=self.size, dpi=_DPI, layout="constrained")
        FigureCanvasAgg(self.fig)  # attaches itself: savefig renders with Agg

    def axes(self) -> Axes:
        ax = self.fig.add_subplot()
        ax.set_title(self.title, fontsize=11, loc="left")
        ax.set_xlabel(self.xlabel, fontsize=9)
        ax.set_ylabel(self.ylabel, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(visible=True, alpha=0.3)
        return ax


def png_uri(fig: Figure) -> str:
    """Render ``fig`` to a PNG and return it as a ``data:`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#718096")
    ax.set_xticks([])
    ax.set_yticks([])


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    xlabel: str = "",
    ylabel: str = "",
    vlines: Sequence[VLine] = (),
    markers: Sequence[Marker] = (),
    bands: Sequence[Band] = (),
    zero_line: bool = False,
    empty_message: str = "no data",
) -> str:
    """Draw lines (plus event lines, point markers, shaded bands); return a PNG URI."""
    chart = _Chart(title, xlabel, ylabel)
    ax = chart.axes()
    drawn = [s for s in series if len(s.x) > 0]
    if not drawn and not any(len(m.x) for m in markers):
        _empty(ax, empty_message)
        return png_uri(chart.fig)
    for band in bands:
        ax.axhspan(band.low, band.high, color=band.color, alpha=0.5, label=band.label)
    for i, s in enumerate(drawn):
        color = s.color or _PALETTE[i % len(_PALETTE)]
        if s.step:
            ax.step(s.x, s.y, s.style, where="post", label=s.label, color=color, lw=1.4)
        else:
            ax.plot(s.x, s.y, s.style, label=s.label, color=color, lw=1.4)
    for m in markers:
        if len(m.x):
            ax.scatter(m.x, m.y, marker=m.symbol, color=m.color, label=m.label, zorder=5, s=36)
    for v in vlines:
        ax.axvline(v.x, color=v.color, ls=v.style, lw=1.0, label=v.label)
    if zero_line:
        ax.axhline(0.0, color="#a0aec0", lw=0.8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return png_uri(chart.fig)


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    unit: str = "",
    empty_message: str = "no data",
) -> str:
    """Horizontal bars (``unit`` on the value axis), green for gains and red for losses."""
    height = max(_SIZE[1], 0.35 * len(labels) + 1.2)
    chart = _Chart(title, unit, "", size=(_SIZE[0], min(height, 12.0)))
    ax = chart.axes()
    if not labels:
        _empty(ax, empty_message)
        return png_uri(chart.fig)
    colors = [POSITIVE if v >= 0 else NEGATIVE for v in values]
    positions = list(range(len(labels)))
    ax.barh(positions, values, color=colors)
    ax.set_yticks(positions, [_short(label) for label in labels])
    ax.invert_yaxis()
    ax.axvline(0.0, color="#4a5568", lw=0.8)
    return png_uri(chart.fig)


def histogram(
    title: str,
    values: Sequence[float],
    *,
    bins: int = 40,
    xlabel: str = "",
    ylabel: str = "runs",
    vlines: Sequence[VLine] = (),
    empty_message: str = "no data",
) -> str:
    """Histogram of ``values`` with optional marker lines (mean, percentiles)."""
    chart = _Chart(title, xlabel, ylabel)
    ax = chart.axes()
    if not values:
        _empty(ax, empty_message)
        return png_uri(chart.fig)
    low, high = min(values), max(values)
    if low == high:  # one distinct value: give it a visible bin
        low, high = low - 0.5, high + 0.5
    ax.hist(values, bins=bins, range=(low, high), color=_PALETTE[0], alpha=0.85)
    for v in vlines:
        ax.axvline(v.x, color=v.color, ls=v.style, lw=1.2, label=v.label)
    ax.axvline(0.0, color="#a0aec0", lw=0.8)
    if vlines:
        ax.legend(fontsize=7, loc="best")
    return png_uri(chart.fig)


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width // 2 - 1] + "…" + label[-width // 2 :]


# -- HTML pieces shared by the reports ------------------------------------------------------

_CSS: Final = """
body{font-family:-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;margin:0;
color:#1a202c;background:#f7fafc}
main{max-width:1080px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;
border-bottom:1px solid #e2e8f0;padding-bottom:4px}
p.sub{color:#4a5568;margin:0 0 16px}p.note{color:#4a5568;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{border:1px solid #e2e8f0;padding:4px 8px;text-align:left}
th{background:#edf2f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.pos{color:#2f855a}td.neg{color:#c53030}
figure{margin:8px 0 16px;background:#fff;border:1px solid #e2e8f0;padding:8px}
figure img{width:100%;height:auto;display:block}figcaption{font-size:12px;color:#4a5568}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.card{background:#fff;border:1px solid #e2e8f0;padding:8px 12px;min-width:140px}
.card b{display:block;font-size:18px}.card span{font-size:12px;color:#4a5568}
"""

Cell = str | int | tuple[str, str]
"""A table cell: text, a number, or ``(text, css class)`` (``"num pos"``, ``"num neg"``)."""


def esc(text: object) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


def html_table(table_id: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """A ``<table id=…>``; numbers are right-aligned, ``(text, class)`` cells styled."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body: list[str] = []
    for row in rows:
        cells: list[str] = []
        for cell in row:
            if isinstance(cell, tuple):
                cells.append(f'<td class="{esc(cell[1])}">{esc(cell[0])}</td>')
            elif isinstance(cell, int):
                cells.append(f'<td class="num">{cell}</td>')
            else:
                cells.append(f"<td>{esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">none</td></tr>')
    return f'<table id="{esc(table_id)}"><tr>{head}</tr>{"".join(body)}</table>'


def html_figure(figure_id: str, uri: str, caption: str) -> str:
    """An ``<figure id=…>`` holding one chart (a ``data:`` URI) and its caption."""
    return (
        f'<figure id="{esc(figure_id)}"><img alt="{esc(caption)}" src="{uri}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def html_cards(cards: Iterable[tuple[str, str]]) -> str:
    """A row of headline numbers: ``(value, label)`` pairs."""
    inner = "".join(
        f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for v, k in cards
    )
    return f'<div class="cards">{inner}</div>'


def html_document(title: str, subtitle: str, sections: Iterable[str]) -> str:
    """A complete HTML page: inline CSS, no script, no external reference."""
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>\n{body}\n'
        "</main></body></html>\n"
    )


# -- the trading report (polyloly.backtest.report.ReportData) -------------------------------

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_WINDOW_BEFORE_S: Final = 120
_MAX_FILL_ROWS: Final = 500
_WINDOW_AFTER_S: Final = 240


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


def _leads(data: ReportData) -> list[int]:
    return [t.lead_ns for t in data.timelines if t.lead_ns is not None]


def _summary_section(data: ReportData) -> str:
    s = data.summary
    survival = data.edge_survival
    lat50 = _percentile(data.order_latencies_ns, 50)
    lead50 = _percentile(_leads(data), 50)
    cards = [
        (_money(s.pnl), "PnL (pUSD, marked)"),
        (str(s.fills), "fills"),
        (_money(s.volume), "volume (pUSD)"),
        (_money(s.fees), "taker fees (pUSD)"),
        (_money(s.max_drawdown), "max drawdown (pUSD)"),
        ("—" if survival is None else f"{float(survival) * 100:.1f} %", "temporal edge survival"),
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
        ("max drawdown (pUSD)", (_money(s.max_drawdown), "num")),
        ("kill-switch firings", s.kill_switches),
        ("execution anomalies", s.anomalies),
    ]
    return (
        "<h2>Summary</h2>"
        + html_cards(cards)
        + html_table("table-summary", ("metric", "value"), rows)
    )


def _equity_section(data: ReportData) -> str:
    points = data.equity
    ts = [p.ts_ns for p in points]
    xs, unit = time_axis(ts, data.summary.start_ns or (ts[0] if ts else 0))
    uri = line_chart(
        "PnL over time (mark-to-market)",
        [Series("PnL", xs, [usd(p.pnl) for p in points], step=True)],
        xlabel=f"{unit} since start",
        ylabel="pUSD",
        zero_line=True,
        empty_message="no fills yet",
    )
    return "<h2>Equity curve</h2>" + html_figure(
        "plot-equity", uri, "Fills' cash flows plus positions at their marks, fees included."
    )


def _pnl_section(kind: str, rows: Sequence[PnlRow]) -> str:
    uri = bar_chart(
        f"PnL per {kind}",
        [r.name for r in rows],
        [usd(r.pnl) for r in rows],
        unit="pUSD",
        empty_message="no fills",
    )
    table = html_table(
        f"table-pnl-{kind}",
        (kind, "PnL", "fills", "volume", "fees"),
        [
            (r.name, _signed(r.pnl), r.fills, (_money(r.volume), "num"), (_money(r.fees), "num"))
            for r in rows
        ],
    )
    return (
        f"<h2>PnL per {kind}</h2>" + html_figure(f"plot-pnl-{kind}", uri, f"PnL per {kind}") + table
    )


def _timeline_chart(t: MatchTimeline, catch_up: int) -> tuple[str, str]:
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
        Series(
            name,
            [sec(p[0]) for p in window if p[column] is not None],
            [usd(p[column] or 0) for p in window if p[column] is not None],
            style,
            step=True,
        )
        for name, column, style in (("mid", 1, "-"), ("best ask", 2, "--"))
    ]
    vlines = [
        VLine(sec(m.ts_ns), m.label, NEGATIVE if m.final else "#4a5568")
        for m in t.truth
        if low <= m.ts_ns <= high
    ]
    if t.caught_up_ns is not None and low <= t.caught_up_ns <= high:
        vlines.append(VLine(sec(t.caught_up_ns), "market caught up", POSITIVE, ":"))
    markers = [
        Marker(
            f"{kind} {label}",
            [sec(m.ts_ns) for m in marks if m.label == label],
            [usd(m.price) for m in marks if m.label == label],
            symbol,
            color,
        )
        for kind, marks, symbol in (("intent", t.intents, "^"), ("fill", t.fills, "o"))
        for label, color in zip(
            sorted({m.label for m in marks}), _PALETTE[1 if kind == "intent" else 2 :], strict=False
        )
    ]
    uri = line_chart(
        t.title,
        series,
        xlabel="seconds from the truth signal the bot acted on",
        ylabel="price of the token",
        vlines=vlines[-10:],
        markers=markers,
        bands=[Band(usd(catch_up), 1.0, f"≥ {_price(catch_up)}: caught up")],
        empty_message="no price data for this match",
    )
    lead = t.lead_ns
    caption = f"match {t.match_id}, token {t.token_id or '—'}: " + (
        "no action, or the market never reached the catch-up price"
        if lead is None
        else f"the bot acted {lead / 1e9:.2f} s before the mid reached {_price(catch_up)}"
    )
    return uri, caption


def _timeline_section(data: ReportData) -> str:
    parts = ['<section id="truth-timeline"><h2>Truth timeline against the market</h2>']
    if not data.timelines:
        uri = line_chart("truth timeline", [], empty_message="no match in this log")
        parts.append(html_figure("plot-truth-timeline-0", uri, "no match in this log"))
    for i, t in enumerate(data.timelines):
        uri, caption = _timeline_chart(t, data.catch_up_price)
        parts.append(html_figure(f"plot-truth-timeline-{i}", uri, caption))
    return "".join(parts) + "</section>"


def _edge_section(data: ReportData) -> str:
    survival = data.edge_survival
    note = (
        "no temporal-arbitrage intent with a known ask"
        if survival is None
        else f"{float(survival) * 100:.1f} % of the edge seen at decision time was realized "
        "after latency and the taker delay (edge = size × (1 − price) − taker fee, if the "
        "truth holds)."
    )
    rows = [
        (
            e.intent_id,
            _price(e.ask),
            (fmt(e.size, 2), "num"),
            _signed(e.expected_edge),
            (fmt(e.filled_size, 2), "num"),
            _price(e.avg_price),
            _signed(e.realized_edge),
            (_ms(e.delay_ns), "num"),
            "yes" if e.delayed else "no",
        )
        for e in data.edges
    ]
    headers = (
        "intent",
        "ask at decision",
        "size",
        "expected edge",
        "filled",
        "avg fill",
        "realized edge",
        "submit→fill (ms)",
        "delayed",
    )
    return f'<h2>Taker delay: edge survival</h2><p class="note">{esc(note)}</p>' + html_table(
        "table-edge", headers, rows
    )


def _latency_section(data: ReportData) -> str:
    values = [ns / 1_000_000 for ns in data.order_latencies_ns]
    lines = []
    for pct, color in ((50, "#2b6cb0"), (95, NEGATIVE)):
        v = _percentile(data.order_latencies_ns, pct)
        if v is not None:
            lines.append(VLine(v / 1_000_000, f"p{pct} {v / 1_000_000:.1f} ms", color))
    uri = histogram(
        "Order latency (submit → venue answer)",
        values,
        xlabel="ms",
        ylabel="orders",
        vlines=lines,
        empty_message="no order answered",
    )
    return "<h2>Order latency</h2>" + html_figure("plot-latency", uri, "submit → accept/reject")


def _fills_section(data: ReportData) -> str:
    shown = data.fills[-_MAX_FILL_ROWS:]
    rows = [
        (
            _iso(f.ts_ns),
            f.strategy,
            f.market[:18],
            f.token_id[:14],
            f.side,
            (_price(f.price), "num"),
            (fmt(f.size, 2), "num"),
            (fmt(f.fee, 5), "num"),
            f.liquidity,
            f.status,
        )
        for f in shown
    ]
    note = f"showing the last {len(shown)} of {len(data.fills)} fills" if data.fills else ""
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
        "table-fills", headers, rows
    )


def render_report(data: ReportData) -> str:
    """Render a :class:`~polyloly.backtest.report.ReportData` as one self-contained page."""
    s = data.summary
    subtitle = f"{s.events} events, {s.fills} fills, PnL {_money(s.pnl)} pUSD"
    sections = [
        _summary_section(data),
        _equity_section(data),
        _pnl_section("market", data.per_market),
        _pnl_section("strategy", data.per_strategy),
        _timeline_section(data),
        _edge_section(data),
        _latency_section(data),
        _fills_section(data),
    ]
    return html_document(data.title, subtitle, sections)
