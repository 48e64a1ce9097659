"""The trading report: a plain data model, a builder from the event log, and an HTML page.

:class:`ReportData` holds everything the page shows — fills, the PnL curve, PnL per market
and per strategy, the truth timeline of each match against its market price, order
latencies, summary numbers and how much temporal edge survived the sports taker delay — as
plain integers (micro-units, nanoseconds). :func:`build_report_data` derives it from events
(:func:`report_from_log` reads them from an event log) by applying the ledger events to the
same :class:`~polyloly.execution.state.ExecutionState` the live engine uses, so the report's
fills are exactly the bot's. :func:`render_report` turns it into one self-contained HTML
file: inline CSS, interactive plotly charts with plotly.js embedded, sortable and filterable
tables, no external URL; :func:`write_report` also writes the fills and orders as CSV.

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

import csv
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
from polyloly.domain.money import to_decimal
from polyloly.execution.engine import Translate
from polyloly.node.session import MarketDiscovered, SessionStarted
from polyloly.storage.event_log import EventLogReader

__all__ = [
    "NODE_EVENTS",
    "report_from_log",
    "write_csv",
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
    """Render ``data`` (:func:`render_report`) and write it to ``path``, with its fills and
    orders as ``fills.csv`` and ``orders.csv`` beside it (:func:`write_csv`); return the
    report's path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    write_csv(data, out.parent)
    return out


def _decimal(micros: int | None) -> str:
    return "" if micros is None else str(to_decimal(micros))


def write_csv(data: ReportData, folder: Path) -> tuple[Path, Path]:
    """``fills.csv`` and ``orders.csv`` in ``folder``: every fill and order, prices and
    amounts as exact decimals (pUSD, shares), times as nanoseconds since the epoch."""
    names = data.names
    fills = folder / "fills.csv"
    with fills.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            ("ts_ns", "trade_id", "order_hash", "strategy", "market_id", "market", "token_id",
             "outcome", "side", "price", "size", "fee", "liquidity", "status")
        )  # fmt: skip
        out.writerows(
            (f.ts_ns, f.trade_id, f.order_hash, f.strategy, f.market, names.market(f.market),
             f.token_id, names.token(f.token_id), f.side, _decimal(f.price), _decimal(f.size),
             _decimal(f.fee), f.liquidity, f.status)
            for f in data.fills
        )  # fmt: skip
    orders = folder / "orders.csv"
    with orders.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            ("ts_ns", "order_hash", "intent_id", "strategy", "market_id", "market", "token_id",
             "outcome", "side", "type", "intended_price", "limit_price", "avg_fill_price",
             "size", "filled", "fees", "slippage", "state", "delayed", "refusal")
        )  # fmt: skip
        out.writerows(
            (o.ts_ns, o.order_hash, o.intent_id, o.strategy, o.market, names.market(o.market),
             o.token_id, names.token(o.token_id), o.side, o.order_type, _decimal(o.intended),
             _decimal(o.price), _decimal(o.avg_fill), _decimal(o.size), _decimal(o.filled),
             _decimal(o.fees), _decimal(o.slippage), o.state, o.delayed, o.reason)
            for o in data.orders
        )  # fmt: skip
    return fills, orders
