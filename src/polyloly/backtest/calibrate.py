"""Fit ``simulate-pnl``'s inputs from recorded or simulated event logs.

:func:`calibrate` reads one or more event logs (a live session, a paper session, a demo or
suite run) and estimates what it can of :mod:`polyloly.backtest.pnl_sim`'s inputs, each
with the size of its sample:

================================  ==============================================================
input (``simulate-pnl`` key)      estimate
================================  ==============================================================
``temporal_fill_bps``             share of temporal orders that filled at all
``pair_fill_bps``                 share of pair-arbitrage orders that filled at all
``pair_latency_ms`` and           median order round trip (sent → the venue's answer)
``temporal_latency_ms``
``temporal_taker_delay_ms``       the largest ``secondsDelay`` of the markets traded
``temporal_market_lag_mean_ms``   mean time from the truth the bot acted on to the winner's mid
                                  reaching the report's catch-up price (0.90)
``temporal_wrong_truth_bps``      temporal fills on the token that lost / temporal fills on
                                  resolved markets
``temporal_max_slippage_ticks``   twice the mean ticks paid over the ask seen at the decision
                                  (the model draws 0..max uniformly)
``temporal_entry_min`` / ``_max`` range of the winner's ask when the bot decided
``temporal_signals``,             decisions per log (a log = a session)
``pair_opportunities``
================================  ==============================================================

An input without a sample stays the model's assumption, and :meth:`Calibration.lines` says
which is which. The observed fill rates include the market's catch-up and the taker delay
that the model applies again on top: a pessimistic estimate. A log from a time-compressed
world (the demo, the suite) measures that world: its lags are scaled by its speed, and its
latencies are loopback ones.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from polyloly.backtest.pnl_sim import BPS
from polyloly.backtest.report_data import build_report_data
from polyloly.backtest.report_model import ReportData
from polyloly.domain.events import Event, MarketResolved
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.execution.engine import Translate
from polyloly.node.session import MarketDiscovered
from polyloly.runtime.clock import NS_PER_MS
from polyloly.storage.event_log import EventLogReader

__all__ = ["Calibration", "calibrate"]

_TICK = 10_000


@dataclass(slots=True)
class Calibration:
    """Fitted inputs ``{key: (value, sample size)}`` and the keys left to assumption."""

    fitted: dict[str, tuple[int, int]] = field(default_factory=dict)
    logs: int = 0

    KEYS: ClassVar[tuple[str, ...]] = (
        "temporal_fill_bps",
        "pair_fill_bps",
        "pair_latency_ms",
        "temporal_latency_ms",
        "temporal_taker_delay_ms",
        "temporal_market_lag_mean_ms",
        "temporal_wrong_truth_bps",
        "temporal_max_slippage_ticks",
        "temporal_entry_min",
        "temporal_entry_max",
        "temporal_signals",
        "pair_opportunities",
    )

    def overrides(self) -> dict[str, int]:
        """The fitted values as ``simulate-pnl`` overrides."""
        return {k: v for k, (v, _) in self.fitted.items()}

    def assumed(self) -> list[str]:
        """The inputs with no sample (they keep the model's defaults)."""
        return [k for k in self.KEYS if k not in self.fitted]

    def lines(self) -> list[str]:
        """What was fitted from how much, and what stays assumed."""
        out = [f"calibrated from {self.logs} log(s):"]
        for key in self.KEYS:
            if key in self.fitted:
                value, n = self.fitted[key]
                out.append(f"  {key:<30} {value:>10}  fitted (n={n})")
            else:
                out.append(f"  {key:<30} {'-':>10}  assumed (no sample)")
        return out


def _fit(cal: Calibration, key: str, value: float, n: int) -> None:
    if n > 0 and math.isfinite(value):
        cal.fitted[key] = (round(value), n)


@dataclass(slots=True)
class _Samples:
    temporal_sent: int = 0
    temporal_filled: int = 0
    pair_sent: int = 0
    pair_filled: int = 0
    wrong: int = 0
    judged: int = 0
    latencies: list[int] = field(default_factory=list)
    delays: list[int] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)
    slips: list[float] = field(default_factory=list)
    asks: list[int] = field(default_factory=list)
    intents: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, data: ReportData, events: list[Event]) -> None:
        winners = {e.market: e.winning_token_id for e in events if isinstance(e, MarketResolved)}
        placed = [e for e in events if isinstance(e, PlaceOrderIntent)]
        pair_intents = {e.intent_id for e in placed if e.strategy == "pair_arb"}
        self.intents["pair_arb"] += len(pair_intents)
        self.intents["temporal_arb"] += sum(1 for e in placed if e.strategy == "temporal_arb")
        self.delays += [
            e.mapping.seconds_delay * 1_000
            for e in events
            if isinstance(e, MarketDiscovered) and e.mapping.seconds_delay
        ]
        self.latencies += [ns // NS_PER_MS for ns in data.order_latencies_ns]
        for edge in data.edges:
            if edge.strategy == "temporal_arb":
                self.temporal_sent += 1
                self.temporal_filled += edge.filled_size > 0
                if edge.ask is not None:
                    self.asks.append(edge.ask)
                if edge.ask is not None and edge.avg_price is not None:
                    self.slips.append((edge.avg_price - edge.ask) / _TICK)
        pair_orders = {f.order_hash for f in data.fills if f.strategy == "pair_arb"}
        self.pair_sent += len(pair_intents)
        self.pair_filled += min(len(pair_orders), len(pair_intents))
        self.lags += [
            (t.caught_up_ns - t.trigger_ns) // NS_PER_MS
            for t in data.timelines
            if t.caught_up_ns is not None and t.trigger_ns is not None
        ]
        for fill in data.fills:
            if fill.strategy == "temporal_arb" and fill.market in winners:
                self.judged += 1
                won = fill.token_id == winners[fill.market]
                self.wrong += won != (fill.side == "BUY")

    def fit(self, cal: Calibration, logs: int) -> None:
        rate = self.temporal_filled / max(self.temporal_sent, 1)
        _fit(cal, "temporal_fill_bps", BPS * rate, self.temporal_sent)
        _fit(cal, "pair_fill_bps", BPS * self.pair_filled / max(self.pair_sent, 1), self.pair_sent)
        if self.latencies:
            median = statistics.median(self.latencies)
            _fit(cal, "pair_latency_ms", median, len(self.latencies))
            _fit(cal, "temporal_latency_ms", median, len(self.latencies))
        if self.delays:
            _fit(cal, "temporal_taker_delay_ms", max(self.delays), len(self.delays))
        if self.lags:
            lag = max(1.0, statistics.fmean(self.lags))
            _fit(cal, "temporal_market_lag_mean_ms", lag, len(self.lags))
        _fit(cal, "temporal_wrong_truth_bps", BPS * self.wrong / max(self.judged, 1), self.judged)
        if self.slips:
            ticks = math.ceil(max(0.0, 2 * statistics.fmean(self.slips)))
            _fit(cal, "temporal_max_slippage_ticks", ticks, len(self.slips))
        if len(self.asks) >= 2 and min(self.asks) < max(self.asks):
            _fit(cal, "temporal_entry_min", min(self.asks), len(self.asks))
            _fit(cal, "temporal_entry_max", max(self.asks), len(self.asks))
        if logs:
            _fit(cal, "temporal_signals", self.intents["temporal_arb"] / logs, logs)
            _fit(cal, "pair_opportunities", self.intents["pair_arb"] / logs, logs)


def calibrate(
    logs: Sequence[Path], translators: Mapping[type[Event], Translate] | None = None
) -> Calibration:
    """Fit what the logs support (see the module docstring)."""
    cal = Calibration(logs=len(logs))
    samples = _Samples()
    for log in logs:
        data = build_report_data(EventLogReader([log], strict=False), translators=translators)
        samples.add(data, list(_scan(EventLogReader([log], strict=False))))
    samples.fit(cal, len(logs))
    return cal


def _scan(reader: Iterable[Event]) -> Iterable[Event]:
    yield from reader
