"""The trading report: a plain data model, a builder from the event log, and an HTML page.

:class:`ReportData` holds everything the page shows — fills, the PnL curve, PnL per market
and per strategy, the truth timeline of each match against its market price, order
latencies, summary numbers and how much temporal edge survived the sports taker delay — as
plain integers (micro-units, nanoseconds). :func:`build_report_data` derives it from events
(:func:`report_from_log` reads them from an event log) by applying the ledger events to the
same :class:`~polyloly.execution.state.ExecutionState` the live engine uses, so the report's
fills are exactly the bot's. :func:`render_report` turns it into one self-contained HTML
file: inline CSS, charts as inline PNGs, no external URL.

Accounting
----------
PnL is mark-to-market per token: the cash flows of its counted fills (fees included), plus
merge proceeds, plus the shares still held at the token's mark (the mid of a tradable book,
else the last trade, else the last fill price; a resolved market marks its winner at 1 and
the other outcomes at 0). A fill whose trade later FAILED drops out. PnL per strategy and
per market are the same sums over that strategy's orders (a merge belongs to the strategy
whose intent asked for it) or that market's tokens.

Edge survival
-------------
The share of the temporal edge seen at decision time that survived latency and the
venue's sports taker delay (``docs/04_PNL_SIMULATION_SAFETY_MARGINS.md`` §5). For each
intent of an edge strategy (temporal arbitrage by default) the builder walks the book as it
stood when the decision was taken, exactly as the venue would fill the order then: a
marketable (FAK/FOK) BUY spends its pUSD amount ``size × limit`` on every ask under the
limit — so at asks below the limit it buys *more* than ``size`` shares — and any other BUY
takes at most ``size`` shares. The *expected edge* is ``Σ shares × (1 − price) − taker
fee`` over that walk, the profit if the truth holds; the *realized edge* the same sum over
what actually filled, at the fill prices. ``edge survival = Σ realized / Σ expected`` over
the intents with a positive expected edge: 100 % when the book did not move, less when the
market repriced or emptied first (a killed order realizes 0), above 100 % only if the book
got cheaper during the delay. Both sides count shares the same way; comparing the
intent's ``size`` (shares at the limit) with the shares a pUSD-denominated BUY receives
would inflate it by ``limit / ask``.

Names and anomalies
-------------------
Markets are named by the question of their mapping (the log's ``MarketDiscovered``
events, or the ``registry`` given), tokens by the team they pay on; the ids stay in the
data. Execution anomalies are grouped by kind with their count, time span, the markets
they concern and a first example.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from polyloly.backtest.plots import render_report
from polyloly.backtest.report_data import build_report_data
from polyloly.backtest.report_model import (
    ReportData,
)
from polyloly.domain.events import Event
from polyloly.domain.fees import FeeModel
from polyloly.domain.markets import MarketRegistry
from polyloly.execution.engine import Translate
from polyloly.node.session import MarketDiscovered, SessionStarted
from polyloly.storage.event_log import EventLogReader

__all__ = [
    "NODE_EVENTS",
    "report_from_log",
    "write_report",
]

NODE_EVENTS: Final = (MarketDiscovered, SessionStarted)
"""The node's input events a report reads (importing them registers them for decoding)."""


def report_from_log(
    paths: Iterable[Path | str],
    *,
    title: str = "polyloly report",
    translators: Mapping[type[Event], Translate] | None = None,
    registry: MarketRegistry | None = None,
    fee_model: FeeModel | None = None,
) -> ReportData:
    """Read an event log (files or folders) and build its :class:`ReportData`.

    Undecodable lines are counted and skipped: a report should not fail on one torn line.
    The node's own events (:data:`NODE_EVENTS`) are registered with the log's decoder by
    this module's import, so ``MarketDiscovered`` lines decode and name the markets.
    """
    reader = EventLogReader(paths, strict=False)
    return build_report_data(
        reader, title=title, translators=translators, registry=registry, fee_model=fee_model
    )


def write_report(data: ReportData, path: Path | str) -> Path:
    """Render ``data`` (:func:`render_report`) and write it to ``path``; return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    return out
