"""Chart and HTML building blocks for the reports: Agg-rendered inline PNGs, inline CSS.

Every chart function takes plain numbers and returns a ``data:image/png;base64,…`` URI that
an ``<img>`` tag embeds, so a report is one self-contained file with no external reference
(no CDN, no font, no script). Figures are :class:`matplotlib.figure.Figure` objects drawn on
their own :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` — never through
``pyplot`` — so nothing touches a global backend or a display, and no state is shared
between charts. :func:`html_document`, :func:`html_table` and friends assemble a page.

Money arrives here as integer micro-units and is turned into floats only for drawing
(:func:`usd`); no arithmetic on those floats feeds back into any result. A chart with no
data still renders (a labelled empty frame), so a report always shows every section.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "NEGATIVE",
    "PALETTE",
    "POSITIVE",
    "Cell",
    "Label",
    "Series",
    "VLine",
    "esc",
    "histogram",
    "html_cards",
    "html_document",
    "html_figure",
    "html_table",
    "line_chart",
    "png_uri",
    "time_axis",
    "usd",
]

POSITIVE: Final = "#2f855a"
NEGATIVE: Final = "#c53030"
PALETTE: Final = ("#2b6cb0", "#dd6b20", "#2f855a", "#805ad5", "#c53030", "#319795", "#718096")
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
    zero_line: bool = False,
    empty_message: str = "no data",
) -> str:
    """Draw lines (plus labelled event lines); return a PNG URI."""
    chart = _Chart(title, xlabel, ylabel)
    ax = chart.axes()
    drawn = [s for s in series if len(s.x) > 0]
    if not drawn:
        _empty(ax, empty_message)
        return png_uri(chart.fig)
    for i, s in enumerate(drawn):
        color = s.color or PALETTE[i % len(PALETTE)]
        if s.step:
            ax.step(s.x, s.y, s.style, where="post", label=s.label, color=color, lw=1.4)
        else:
            ax.plot(s.x, s.y, s.style, label=s.label, color=color, lw=1.4)
    for v in vlines:
        ax.axvline(v.x, color=v.color, ls=v.style, lw=1.0, label=v.label)
    if zero_line:
        ax.axhline(0.0, color="#a0aec0", lw=0.8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
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
    ax.hist(values, bins=bins, range=(low, high), color=PALETTE[0], alpha=0.85)
    for v in vlines:
        ax.axvline(v.x, color=v.color, ls=v.style, lw=1.2, label=v.label)
    ax.axvline(0.0, color="#a0aec0", lw=0.8)
    if vlines:
        ax.legend(fontsize=7, loc="best")
    return png_uri(chart.fig)


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
td small{display:block;color:#718096;font-size:11px;font-family:monospace}
figure{margin:8px 0 16px;background:#fff;border:1px solid #e2e8f0;padding:8px}
figure img{width:100%;height:auto;display:block}figcaption{font-size:12px;color:#4a5568}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.card{background:#fff;border:1px solid #e2e8f0;padding:8px 12px;min-width:140px}
.card b{display:block;font-size:18px}.card span{font-size:12px;color:#4a5568}
"""


@dataclass(frozen=True, slots=True)
class Label:
    """A table cell naming something: readable ``text``, the raw id as its tooltip (``title``)
    and, if given, a small second line (``sub``, e.g. a shortened condition id)."""

    text: str
    title: str = ""
    sub: str = ""


Cell = str | int | tuple[str, str] | Label
"""A table cell: text, a number, ``(text, css class)`` (``"num pos"``, ``"num neg"``) or a
:class:`Label`."""


def esc(text: object) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


def html_table(
    table_id: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    sortable: bool = False,
    filterable: bool = False,
) -> str:
    """A ``<table id=…>``; numbers are right-aligned, ``(text, class)`` cells styled.

    ``sortable`` gives it a head and a body and the class the interactive report's script
    sorts by (a click on a header); ``filterable`` asks that script for a filter box.
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body: list[str] = []
    for row in rows:
        cells: list[str] = []
        for cell in row:
            if isinstance(cell, Label):
                title = f' title="{esc(cell.title)}"' if cell.title else ""
                sub = f"<small>{esc(cell.sub)}</small>" if cell.sub else ""
                cells.append(f"<td{title}>{esc(cell.text)}{sub}</td>")
            elif isinstance(cell, tuple):
                cells.append(f'<td class="{esc(cell[1])}">{esc(cell[0])}</td>')
            elif isinstance(cell, int):
                cells.append(f'<td class="num">{cell}</td>')
            else:
                cells.append(f"<td>{esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">none</td></tr>')
    if not sortable:
        return f'<table id="{esc(table_id)}"><tr>{head}</tr>{"".join(body)}</table>'
    extra = " data-filter" if filterable else ""
    return (
        f'<table id="{esc(table_id)}" class="sortable"{extra}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


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
