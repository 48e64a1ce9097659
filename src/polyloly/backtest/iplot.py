"""Interactive building blocks for the trading report: plotly charts, sortable tables.

A chart is a :class:`plotly.graph_objects.Figure` written as a ``<div>`` plus the call
that draws it; plotly.js itself is embedded once in the page's ``<head>``
(:func:`interactive_document`), so the report opens from disk with no network: zoom, pan
and hover work offline. Every table of the page sorts by a click on its header (numbers
numerically) and, when it is long, has a filter box; the page's small script is
hand-written here. Money arrives as integer micro-units and becomes a float only for
drawing (:func:`~polyloly.backtest.plot_kit.usd`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from polyloly.backtest.plot_kit import _CSS, NEGATIVE, PALETTE, POSITIVE, esc

__all__ = [
    "IBand",
    "IMarker",
    "ISeries",
    "IVLine",
    "bar_figure",
    "figure_html",
    "histogram_figure",
    "interactive_document",
    "line_figure",
]

_CONFIG: Final = {"displaylogo": False, "responsive": True}
_LAYOUT: Final[dict[str, Any]] = {
    "template": "plotly_white",
    "height": 360,
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
    "hovermode": "closest",
    "font": {"size": 12},
}
_EXTRA_CSS: Final = """
figure .chart{width:100%}
input.filter{margin:4px 0;padding:4px 8px;width:320px;border:1px solid #cbd5e0;border-radius:4px}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}
table.sortable th[aria-sort=descending]::after{content:" ▼"}
p.export a{margin-right:12px}
"""
_TABLE_JS: Final = """
(function () {
  "use strict";
  function value(cell) {
    var text = (cell.getAttribute("data-v") || cell.textContent || "").trim();
    var n = Number(text.replace(/[,\\s%]/g, ""));
    return text !== "" && !isNaN(n) ? n : text.toLowerCase();
  }
  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var down = th.getAttribute("aria-sort") === "ascending";
    Array.prototype.forEach.call(th.parentNode.cells, function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", down ? "descending" : "ascending");
    rows.sort(function (a, b) {
      var x = value(a.cells[index]), y = value(b.cells[index]);
      var order = typeof x !== typeof y ? (typeof x === "number" ? -1 : 1)
        : x < y ? -1 : x > y ? 1 : 0;
      return down ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  function filterable(table) {
    var box = document.createElement("input");
    box.type = "search";
    box.className = "filter";
    box.placeholder = "filter these rows…";
    box.setAttribute("aria-label", "filter " + table.id);
    box.addEventListener("input", function () {
      var needle = box.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
    table.parentNode.insertBefore(box, table);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    if (!table.tHead) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener("click", function () { sortBy(table, i, th); });
    });
    if (table.hasAttribute("data-filter")) filterable(table);
  });
})();
"""


@functools.cache
def _plotly_js() -> str:
    return str(get_plotlyjs())


@dataclass(frozen=True, slots=True)
class ISeries:
    """A line (``step``: held until the next point)."""

    name: str
    x: Sequence[float]
    y: Sequence[float]
    dash: str = "solid"
    step: bool = False
    color: str | None = None
    fill: str | None = None


@dataclass(frozen=True, slots=True)
class IMarker:
    """Scattered points with one label and a hover text each."""

    name: str
    x: Sequence[float]
    y: Sequence[float]
    symbol: str = "circle"
    color: str = "#dd6b20"
    text: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class IVLine:
    """A vertical line with a label (a truth output, the market catching up)."""

    x: float
    label: str
    color: str = "#4a5568"
    dash: str = "dash"


@dataclass(frozen=True, slots=True)
class IBand:
    """A shaded horizontal band ``[low, high]``."""

    low: float
    high: float
    label: str
    color: str = "rgba(236, 201, 75, 0.2)"


def _layout(fig: go.Figure, title: str, xlabel: str, ylabel: str) -> None:
    fig.update_layout(title={"text": esc(title), "x": 0.01}, **_LAYOUT)
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(title_text=ylabel)


def _empty(fig: go.Figure, message: str) -> None:
    fig.add_annotation(text=esc(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


def line_figure(
    title: str,
    series: Sequence[ISeries],
    *,
    xlabel: str = "",
    ylabel: str = "",
    markers: Sequence[IMarker] = (),
    vlines: Sequence[IVLine] = (),
    bands: Sequence[IBand] = (),
    zero_line: bool = False,
    empty_message: str = "no data",
) -> go.Figure:
    """Lines, markers, vertical lines and bands; a labelled empty frame without data."""
    fig = go.Figure()
    _layout(fig, title, xlabel, ylabel)
    drawn = [s for s in series if len(s.x)] + [m for m in markers if len(m.x)]
    if not drawn:
        _empty(fig, empty_message)
        return fig
    for i, s in enumerate(series):
        if not len(s.x):
            continue
        fig.add_trace(
            go.Scatter(
                x=list(s.x),
                y=list(s.y),
                name=esc(s.name),
                mode="lines",
                line={
                    "dash": s.dash,
                    "shape": "hv" if s.step else "linear",
                    "color": s.color or PALETTE[i % len(PALETTE)],
                },
                fill=s.fill,
            )
        )
    for m in markers:
        if not len(m.x):
            continue
        fig.add_trace(
            go.Scatter(
                x=list(m.x),
                y=list(m.y),
                name=esc(m.name),
                mode="markers",
                marker={"symbol": m.symbol, "color": m.color, "size": 9},
                text=[esc(t) for t in m.text] or None,
                hovertemplate="%{text}<extra></extra>" if m.text else None,
            )
        )
    for v in vlines:
        fig.add_vline(x=v.x, line_dash=v.dash, line_color=v.color, opacity=0.8)
        fig.add_annotation(
            x=v.x, y=1, yref="paper", text=esc(v.label[:40]), showarrow=False,
            textangle=-90, xanchor="right", yanchor="top", font={"size": 10, "color": v.color},
        )  # fmt: skip
    for b in bands:
        fig.add_hrect(y0=b.low, y1=b.high, fillcolor=b.color, line_width=0)
    if zero_line:
        fig.add_hline(y=0, line_color="#a0aec0", line_width=1)
    return fig


def bar_figure(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    unit: str = "",
    hover: Sequence[str] = (),
    empty_message: str = "no data",
) -> go.Figure:
    """Horizontal bars, green when positive and red when negative."""
    fig = go.Figure()
    _layout(fig, title, unit, "")
    if not labels:
        _empty(fig, empty_message)
        return fig
    fig.add_trace(
        go.Bar(
            x=list(values),
            y=[esc(label) for label in labels],
            orientation="h",
            marker_color=[POSITIVE if v >= 0 else NEGATIVE for v in values],
            hovertext=[esc(h) for h in hover] or None,
        )
    )
    fig.update_layout(height=max(260, 40 + 28 * len(labels)), showlegend=False)
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def histogram_figure(
    title: str,
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    xlabel: str = "",
    ylabel: str = "count",
    vlines: Sequence[IVLine] = (),
    empty_message: str = "no data",
) -> go.Figure:
    """One histogram per named group, overlaid."""
    fig = go.Figure()
    _layout(fig, title, xlabel, ylabel)
    if not any(len(values) for _, values in groups):
        _empty(fig, empty_message)
        return fig
    for i, (name, values) in enumerate(groups):
        if len(values):
            fig.add_trace(
                go.Histogram(
                    x=list(values), name=esc(name), opacity=0.75,
                    marker_color=PALETTE[i % len(PALETTE)],
                )
            )  # fmt: skip
    fig.update_layout(barmode="overlay")
    for v in vlines:
        fig.add_vline(x=v.x, line_dash=v.dash, line_color=v.color)
        fig.add_annotation(
            x=v.x, y=1, yref="paper", text=esc(v.label), showarrow=False, xanchor="left",
            font={"size": 10, "color": v.color},
        )  # fmt: skip
    return fig


def figure_html(figure_id: str, fig: go.Figure, caption: str) -> str:
    """An ``<figure id=…>`` with the chart's ``<div>``, the call that draws it, a caption."""
    chart = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"{figure_id}-chart", config=_CONFIG
    )
    return (
        f'<figure id="{esc(figure_id)}"><div class="chart">{chart}</div>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def interactive_document(title: str, subtitle: str, sections: Iterable[str]) -> str:
    """A complete page: inline CSS, plotly.js and the table script embedded, nothing
    fetched from the network."""
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}{_EXTRA_CSS}</style>"
        f'<script type="text/javascript">{_plotly_js()}</script></head><body><main>'
        f'<h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>\n{body}\n'
        f"</main><script>{_TABLE_JS}</script></body></html>\n"
    )
