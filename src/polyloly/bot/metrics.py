"""Prometheus metrics: a registry of typed instruments, a kernel subscriber, an HTTP endpoint.

:class:`Metrics` owns its own :class:`~prometheus_client.CollectorRegistry` (never the
process-global one, so tests and several bots in one process do not collide) and exposes
typed methods the wiring calls (``feed_message``, ``malformed_frame``, ``reconnect``,
``observe_decision_latency``…). :meth:`Metrics.attach` subscribes it to a kernel so that
most instruments follow the event stream by themselves: market data and provider reports
(messages per feed, book and feed latency), intents (decision latency), risk decisions,
orders (placed, rejected, submit→answer latency), trades (status counts, fills), positions
(exposure, realized PnL), the kill switch and feed health.

Values that live elsewhere are read when Prometheus scrapes: an adapter's own counters
(:meth:`Metrics.watch_feed`), a queue's depth (:meth:`Metrics.watch_queue`), the
ledger's equity and daily PnL (:meth:`Metrics.watch_pnl`), the pre-signed order pool's
counters (:meth:`Metrics.watch_presign`) and the venue heartbeat's outcomes
(:meth:`Metrics.watch_heartbeat`). Feed staleness is the time since the feed's last
message, by the injected clock.

:class:`MetricsServer` serves ``GET /metrics`` (and ``GET /healthz``) with aiohttp on
127.0.0.1 by default (``metrics.host`` / ``metrics.port`` in the settings).

Money is exported in pUSD (micro-units divided by 1e6 at this edge: Prometheus samples are
floats); latencies in seconds.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final, Protocol, TypeVar

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from polyloly import __version__
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    FeedState,
    FeedStatus,
    LastTrade,
    MatchEvent,
    PriceChanges,
    TickSizeChange,
    TruthAlert,
    TruthFinal,
)
from polyloly.domain.intents import PlaceOrderIntent, RiskDecision
from polyloly.domain.money import SCALE
from polyloly.execution.engine import Translate
from polyloly.execution.events import (
    CancelFailed,
    ExecutionAnomaly,
    KillSwitchFired,
    KillSwitchResumed,
    MergeFailed,
    OrderAccepted,
    OrderRejected,
    OrderSubmitted,
    OrderSubmitUnknown,
    OrderUpdate,
    PositionChanged,
    ReconciliationError,
    TradeUpdate,
)
from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.runtime.kernel import Kernel

__all__ = [
    "HEARTBEAT_OUTCOMES",
    "METRIC_NAMES",
    "SHUTDOWN_TIMEOUT_S",
    "FeedCounters",
    "HeartbeatCounters",
    "Metrics",
    "MetricsServer",
    "PnlSource",
    "PresignCounters",
]

_NS = "polyloly"
_V = TypeVar("_V")
_log = structlog.get_logger(__name__)
_BOOK_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_DECISION_BUCKETS: Final = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1)
_ORDER_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SHUTDOWN_TIMEOUT_S: Final = 1.0
"""Longest wait for requests in progress when the server stops (a scrape is instant)."""
_MARKET_DATA: Final = (BookSnapshot, PriceChanges, LastTrade, TickSizeChange)
_REMEMBERED: Final = 100_000  # orders / trades remembered for attribution (LRU)
_ERRORS: Final[dict[type[Event], str]] = {
    OrderSubmitUnknown: "submit_unknown",
    CancelFailed: "cancel_failed",
    MergeFailed: "merge_failed",
    ReconciliationError: "reconciliation_error",
}

METRIC_NAMES: Final = frozenset(
    {
        "polyloly_info",
        "polyloly_feed_messages_total",
        "polyloly_malformed_frames_total",
        "polyloly_frames_refused_total",
        "polyloly_reconnects_total",
        "polyloly_feed_throttled_total",
        "polyloly_feed_staleness_seconds",
        "polyloly_feed_state",
        "polyloly_book_latency_seconds",
        "polyloly_feed_latency_seconds",
        "polyloly_decision_latency_seconds",
        "polyloly_order_latency_seconds",
        "polyloly_intents_total",
        "polyloly_risk_decisions_total",
        "polyloly_orders_placed_total",
        "polyloly_orders_rejected_total",
        "polyloly_orders_filled_total",
        "polyloly_trade_status_total",
        "polyloly_execution_errors_total",
        "polyloly_execution_anomalies_total",
        "polyloly_truth_finals_total",
        "polyloly_truth_alerts_total",
        "polyloly_exposure_usd",
        "polyloly_market_exposure_usd",
        "polyloly_realized_pnl_usd",
        "polyloly_daily_pnl_usd",
        "polyloly_equity_usd",
        "polyloly_kill_switch",
        "polyloly_kill_switch_fired_total",
        "polyloly_queue_depth",
        "polyloly_alerts_total",
        "polyloly_presign_hits_total",
        "polyloly_presign_misses_total",
        "polyloly_presign_refreshes_total",
        "polyloly_presign_discarded_total",
        "polyloly_presign_signed_total",
        "polyloly_presign_sign_failures_total",
        "polyloly_heartbeats_total",
        "polyloly_operator_refused_total",
        "polyloly_instances",
    }
)
"""Every metric family this module exports (histograms add ``_bucket``/``_sum``/``_count``)."""


FeedCounters = Mapping[str, int]
"""An adapter's monotonic counters: ``messages``, ``malformed``, ``reconnects``, ``throttled``
(rounds refused by a daily request budget), any subset."""

PresignCounters = Mapping[str, int]
"""The pool's counters as ``PresignStats.as_dict()`` gives them: ``hits``, ``misses``,
``miss_<reason>`` per reason, ``refreshes``, ``discarded``, ``signed``, ``sign_failures``."""

_PRESIGN: Final = (
    ("hits", "Intents sent with a pre-signed order (no signature on the hot path)."),
    ("refreshes", "Ready pre-signed orders replaced by a newer signature."),
    ("discarded", "Pre-signed orders thrown away unused."),
    ("signed", "Orders signed ahead by the presigner."),
    ("sign_failures", "Signatures ahead that failed (signed on demand instead)."),
)
_MISS_PREFIX: Final = "miss_"
HeartbeatCounters = Mapping[str, int]
"""The venue heartbeat's counters (``HeartbeatStats.as_dict()``)."""
HEARTBEAT_OUTCOMES: Final = ("ok", "retried", "id_adopted", "window_missed", "chains_started")
"""``polyloly_heartbeats_total{outcome}``: valid beats; lost attempts retried (timeout, 5xx,
425, 429, dropped connection); refused ids adopted; windows missed (the venue cancelled every
order); chains started (the first, and one after each miss)."""


class PnlSource(Protocol):
    """Where equity and today's PnL come from (``ExecutionState`` has both), in micros."""

    def equity(self) -> int:
        """Collateral plus positions at their marks."""
        ...

    def daily_pnl(self) -> int:
        """PnL since the start of the UTC day."""
        ...


def _usd(micros: int) -> float:
    return micros / SCALE


class _Lru(OrderedDict[str, _V]):
    """A map that forgets its oldest entries beyond ``_REMEMBERED`` (bounded memory)."""

    def remember(self, key: str, value: _V) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > _REMEMBERED:
            self.popitem(last=False)


def _read(read: Callable[[], _V] | None, default: _V, what: str) -> _V:
    """Call a watched source (if any); a broken one must not break the whole scrape."""
    if read is None:
        return default
    try:
        return read()
    except Exception as exc:  # any failure of someone else's callback
        _log.warning("metrics.source_failed", source=what, error=f"{type(exc).__name__}: {exc}")
        return default


class _Scraped:
    """Collector for values read at scrape time (and counters shared with adapters)."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def describe(self) -> Iterable[Metric]:
        yield CounterMetricFamily(f"{_NS}_feed_messages", "", labels=["feed"])
        yield CounterMetricFamily(f"{_NS}_malformed_frames", "", labels=["feed"])
        yield CounterMetricFamily(f"{_NS}_reconnects", "", labels=["feed"])
        yield CounterMetricFamily(f"{_NS}_feed_throttled", "", labels=["feed"])
        yield GaugeMetricFamily(f"{_NS}_feed_staleness_seconds", "", labels=["feed"])
        yield GaugeMetricFamily(f"{_NS}_queue_depth", "", labels=["queue"])
        yield GaugeMetricFamily(f"{_NS}_equity_usd", "")
        yield GaugeMetricFamily(f"{_NS}_daily_pnl_usd", "")
        yield from self._presign_families(None)
        yield self._heartbeat_family(None)
        yield self._instances_family(None)
        yield self._refused_family(None)
        yield self._frames_refused_family(None)

    def _frames_refused_family(self, counters: Mapping[str, int] | None) -> Metric:
        family = CounterMetricFamily(
            f"{_NS}_frames_refused",
            "Market messages refused before they touched a book, by reason (book_rules).",
            labels=["reason"],
        )
        for reason, value in sorted((counters or {}).items()):
            family.add_metric([reason], value)
        return family

    def _instances_family(self, values: dict[str, int] | None) -> Metric:
        family = GaugeMetricFamily(
            f"{_NS}_instances",
            "Several instances on one account: other instances' orders and trades seen (never "
            "adopted), shared-budget refusals by reason, the budget's store up (1) or down (0).",
            labels=["what"],
        )
        for what, value in sorted((values or {}).items()):
            family.add_metric([what], value)
        return family

    def _refused_family(self, counters: Mapping[str, int] | None) -> Metric:
        family = CounterMetricFamily(
            f"{_NS}_operator_refused",
            "Operator requests refused: a missing or wrong control token (control), a "
            "Telegram message from a chat not allowed (telegram).",
            labels=["channel"],
        )
        for channel, count in sorted((counters or {}).items()):
            family.add_metric([channel], count)
        return family

    def _heartbeat_family(self, counters: HeartbeatCounters | None) -> Metric:
        family = CounterMetricFamily(f"{_NS}_heartbeats", "Heartbeat outcomes.", labels=["outcome"])
        if counters is not None:
            for outcome in HEARTBEAT_OUTCOMES:
                family.add_metric([outcome], counters.get(outcome, 0))
        return family

    def _presign_families(self, counters: PresignCounters | None) -> Iterator[Metric]:
        """The pool's counters (families without samples when nothing is watched)."""
        values = counters or {}
        for name, doc in _PRESIGN:
            family = CounterMetricFamily(f"{_NS}_presign_{name}", doc)
            if counters is not None:
                family.add_metric([], values.get(name, 0))
            yield family
        misses = CounterMetricFamily(
            f"{_NS}_presign_misses",
            "Intents the pool could serve that were signed on demand, by reason.",
            labels=["reason"],
        )
        for key, value in sorted(values.items()):
            if key.startswith(_MISS_PREFIX):
                misses.add_metric([key.removeprefix(_MISS_PREFIX)], value)
        yield misses

    def collect(self) -> Iterator[Metric]:
        m = self.m
        families = {
            "messages": CounterMetricFamily(
                f"{_NS}_feed_messages", "Messages received per feed.", labels=["feed"]
            ),
            "malformed": CounterMetricFamily(
                f"{_NS}_malformed_frames", "Malformed frames counted and skipped.", labels=["feed"]
            ),
            "reconnects": CounterMetricFamily(
                f"{_NS}_reconnects", "Reconnects per feed.", labels=["feed"]
            ),
            "throttled": CounterMetricFamily(
                f"{_NS}_feed_throttled",
                "Polling rounds refused by the provider's daily request budget.",
                labels=["feed"],
            ),
        }
        totals: defaultdict[tuple[str, str], int] = defaultdict(int)
        for key, value in m._counts.items():
            totals[key] += value
        none: FeedCounters = {}
        for feed, read in m._feeds.items():
            for kind, value in _read(read, none, f"feed {feed}").items():
                totals[(kind, feed)] += value
        for (kind, feed), value in sorted(totals.items()):
            family = families.get(kind)
            if family is not None:
                family.add_metric([feed], value)
        yield from families.values()
        now = m.clock.now_ns()
        stale = GaugeMetricFamily(
            f"{_NS}_feed_staleness_seconds",
            "Seconds since the feed's last message.",
            labels=["feed"],
        )
        for feed, last in sorted(m._last_seen.items()):
            stale.add_metric([feed], max(now - last, 0) / NS_PER_S)
        yield stale
        depth = GaugeMetricFamily(
            f"{_NS}_queue_depth", "Items waiting per queue.", labels=["queue"]
        )
        for name, read_depth in sorted(m._queues.items()):
            depth.add_metric([name], _read(read_depth, 0, f"queue {name}"))
        yield depth
        pnl = m._pnl
        if pnl is not None:
            equity = _read(pnl.equity, None, "equity")
            daily = _read(pnl.daily_pnl, None, "daily pnl")
            if equity is not None:
                yield GaugeMetricFamily(
                    f"{_NS}_equity_usd", "Collateral plus positions at marks (pUSD).", _usd(equity)
                )
            if daily is not None:
                yield GaugeMetricFamily(
                    f"{_NS}_daily_pnl_usd", "PnL since the UTC day began (pUSD).", _usd(daily)
                )
        # A broken or missing source exports no samples (not zeros).
        yield from self._presign_families(_read(m._presign, None, "presign"))
        yield self._heartbeat_family(_read(m._heartbeat, None, "heartbeat"))
        yield self._instances_family(_read(m._instances, None, "instances"))
        yield self._refused_family(_read(m._refused, None, "refused"))
        yield self._frames_refused_family(_read(m._frames_refused, None, "refused frames"))


class Metrics:
    """Every polyloly metric, in its own registry.

    Parameters
    ----------
    clock
        Time source for feed staleness and decision latency.
    registry
        Registry to use (default: a new one, never the global registry).
    exchange_feed
        Feed name that market-data events are counted under.
    """

    def __init__(
        self,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        exchange_feed: str = "polymarket",
    ) -> None:
        self.clock = clock
        self.registry = registry if registry is not None else CollectorRegistry()
        self.exchange_feed = exchange_feed
        self._counts: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._last_seen: dict[str, int] = {}
        self._feeds: dict[str, Callable[[], FeedCounters]] = {}
        self._queues: dict[str, Callable[[], int]] = {}
        self._pnl: PnlSource | None = None
        self._presign: Callable[[], PresignCounters] | None = None
        self._heartbeat: Callable[[], HeartbeatCounters] | None = None
        self._instances: Callable[[], dict[str, int]] | None = None
        self._refused: Callable[[], Mapping[str, int]] | None = None
        self._frames_refused: Callable[[], Mapping[str, int]] | None = None
        self._order_strategy: _Lru[str] = _Lru()
        self._order_sent: _Lru[int] = _Lru()
        self._trades_seen: _Lru[str] = _Lru()
        self._exposure: dict[str, tuple[str, int]] = {}  # token -> (market, cost)
        self._realized: dict[str, int] = {}
        r = self.registry

        def counter(name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
            return Counter(f"{_NS}_{name}", doc, list(labels), registry=r)

        def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> Gauge:
            return Gauge(f"{_NS}_{name}", doc, list(labels), registry=r)

        def histogram(
            name: str, doc: str, labels: list[str], buckets: tuple[float, ...]
        ) -> Histogram:
            return Histogram(f"{_NS}_{name}", doc, labels, registry=r, buckets=buckets)

        gauge("info", "Build information.", ["version"]).labels(__version__).set(1)
        self.feed_state_gauge = gauge(
            "feed_state", "1 for the feed's current state.", ["feed", "state"]
        )
        self.book_latency = histogram(
            "book_latency_seconds",
            "Venue timestamp to local receipt of market data.",
            ["feed"],
            _BOOK_BUCKETS,
        )
        self.feed_latency = histogram(
            "feed_latency_seconds",
            "Provider timestamp to local receipt of a report.",
            ["feed"],
            _BOOK_BUCKETS,
        )
        self.decision_latency = histogram(
            "decision_latency_seconds",
            "Receipt of the triggering input to the intent.",
            ["strategy"],
            _DECISION_BUCKETS,
        )
        self.order_latency = histogram(
            "order_latency_seconds",
            "Order submit to the venue's answer.",
            ["outcome"],
            _ORDER_BUCKETS,
        )
        self.intents = counter("intents", "Order intents proposed.", ["strategy"])
        self.risk_decisions = counter("risk_decisions", "Risk gate verdicts.", ["approved"])
        self.orders_placed = counter("orders_placed", "Orders signed and sent.", ["strategy"])
        self.orders_rejected = counter(
            "orders_rejected", "Orders the venue refused.", ["strategy", "code"]
        )
        self.orders_filled = counter("orders_filled", "Fills of our orders.", ["strategy"])
        self.trade_status = counter("trade_status", "Trade updates by status.", ["status"])
        self.execution_errors = counter("execution_errors", "Execution errors.", ["kind"])
        self.anomalies = counter(
            "execution_anomalies", "Updates that did not fit local state.", ["kind"]
        )
        self.truth_finals = counter("truth_finals", "Confirmed match results.")
        self.truth_alerts = counter("truth_alerts", "Truth contradictions.", ["blocked"])
        self.exposure = gauge("exposure_usd", "Cost basis of every open position (pUSD).")
        self.market_exposure = gauge(
            "market_exposure_usd", "Cost basis per market (pUSD).", ["market"]
        )
        self.realized = gauge("realized_pnl_usd", "Realized PnL of every token so far (pUSD).")
        self.kill_switch = gauge("kill_switch", "1 while trading is halted.")
        self.kill_switch_fired = counter("kill_switch_fired", "Kill-switch firings.", ["condition"])
        self.alerts = counter("alerts", "Operator alerts by outcome.", ["outcome"])
        r.register(_Scraped(self))

    # -- typed methods the wiring calls -------------------------------------------------------

    def feed_message(self, feed: str, ts_ns: int | None = None, n: int = 1) -> None:
        """Count ``n`` messages from ``feed``; the feed is fresh as of ``ts_ns`` (or now)."""
        self._counts[("messages", feed)] += n
        self._last_seen[feed] = self.clock.now_ns() if ts_ns is None else ts_ns

    def malformed_frame(self, feed: str, n: int = 1) -> None:
        """Count ``n`` malformed frames skipped on ``feed``."""
        self._counts[("malformed", feed)] += n

    def reconnect(self, feed: str) -> None:
        """Count one reconnect of ``feed``."""
        self._counts[("reconnects", feed)] += 1

    def set_feed_state(self, feed: str, state: FeedState) -> None:
        """Record ``feed``'s health (one-hot over ok / stale / down)."""
        for each in FeedState:
            self.feed_state_gauge.labels(feed, each.value).set(1 if each is state else 0)

    def observe_book_latency(self, feed: str, seconds: float) -> None:
        """Venue-to-receipt latency of one market-data message."""
        self.book_latency.labels(feed).observe(max(seconds, 0.0))

    def observe_decision_latency(self, strategy: str, seconds: float) -> None:
        """Input-to-intent latency of one decision."""
        self.decision_latency.labels(strategy).observe(max(seconds, 0.0))

    def observe_order_latency(self, outcome: str, seconds: float) -> None:
        """Submit-to-answer latency of one order (``accepted`` / ``rejected``)."""
        self.order_latency.labels(outcome).observe(max(seconds, 0.0))

    def set_kill_switch(self, halted: bool) -> None:
        """1 while trading is halted."""
        self.kill_switch.set(1 if halted else 0)

    def alert_outcome(self, outcome: str) -> None:
        """Count an alert ``sent``, ``failed`` or ``dropped`` (the alerter's callback)."""
        self.alerts.labels(outcome).inc()

    def watch_feed(self, feed: str, read: Callable[[], FeedCounters]) -> None:
        """Export an adapter's own monotonic counters, read at each scrape."""
        self._feeds[feed] = read

    def watch_queue(self, name: str, depth: Callable[[], int]) -> None:
        """Export a queue's depth, read at each scrape."""
        self._queues[name] = depth

    def watch_pnl(self, source: PnlSource) -> None:
        """Export equity and daily PnL from ``source``, read at each scrape."""
        self._pnl = source

    def watch_presign(self, read: Callable[[], PresignCounters]) -> None:
        """Export the pre-signed order pool's counters, read at each scrape.

        ``read`` is e.g. ``engine.presign.stats.as_dict`` (an ``ExecutionEngine``'s pool).
        """
        self._presign = read

    def watch_heartbeat(self, read: Callable[[], HeartbeatCounters]) -> None:
        """Export the venue heartbeat's outcome counters, read at each scrape.

        ``read`` is e.g. ``adapter.heartbeat.stats.as_dict`` (a ``HeartbeatLoop``'s).
        """
        self._heartbeat = read

    def watch_instances(self, read: Callable[[], dict[str, int]]) -> None:
        """Export the several-instances figures (``foreign_orders``, ``budget_up``…), read at
        each scrape."""
        self._instances = read

    def watch_refusals(self, read: Callable[[], Mapping[str, int]]) -> None:
        """Export the operator channels' refusals (channel → count), read at each scrape."""
        self._refused = read

    def watch_refused_frames(self, read: Callable[[], Mapping[str, int]]) -> None:
        """Export ``polyloly_frames_refused_total{reason}``, read at each scrape.

        ``read`` returns the market-data client's refusals by reason (e.g. a copy of
        ``MarketWsClient.refused``): malformed frames and frames wrong in meaning.
        """
        self._frames_refused = read

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    # -- the kernel subscriber ----------------------------------------------------------------

    def attach(
        self, kernel: Kernel, translators: Mapping[type[Event], Translate] | None = None
    ) -> None:
        """Follow the kernel's events; ``translators`` map an adapter's venue-update events
        (e.g. ``pm_trade_update``) to execution events, as for the execution engine."""
        for data in _MARKET_DATA:
            kernel.subscribe(data, self._on_market_data)
        kernel.subscribe(MatchEvent, self._on_match_event)
        kernel.subscribe(FeedStatus, self._on_feed_status)
        kernel.subscribe(PlaceOrderIntent, self._on_intent)
        kernel.subscribe(RiskDecision, self._on_risk)
        kernel.subscribe(OrderSubmitted, self._on_submitted)
        kernel.subscribe(OrderAccepted, self._on_answered)
        kernel.subscribe(OrderRejected, self._on_answered)
        kernel.subscribe(TradeUpdate, self._on_trade)
        kernel.subscribe(OrderUpdate, self._on_user_update)
        kernel.subscribe(PositionChanged, self._on_position)
        kernel.subscribe(KillSwitchFired, self._on_kill_switch)
        kernel.subscribe(KillSwitchResumed, self._on_kill_switch)
        kernel.subscribe(ExecutionAnomaly, self._on_anomaly)
        kernel.subscribe(TruthFinal, self._on_truth)
        kernel.subscribe(TruthAlert, self._on_truth)
        for error in _ERRORS:
            kernel.subscribe(error, self._on_error)
        for venue_event, translate in (translators or {}).items():
            kernel.subscribe(venue_event, self._translated(translate))

    def _translated(self, translate: Translate) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            out = translate(event)
            if isinstance(out, TradeUpdate):
                self._on_trade(out)
            elif out is not None:
                self._on_user_update(out)

        return handle

    def _on_market_data(self, event: Event) -> None:
        feed = self.exchange_feed
        self.feed_message(feed, event.ts_init)
        if 0 < event.ts_event <= event.ts_init:
            self.book_latency.labels(feed).observe((event.ts_init - event.ts_event) / NS_PER_S)

    def _on_match_event(self, event: MatchEvent) -> None:
        self.feed_message(event.source, event.ts_init)
        if 0 < event.ts_event <= event.ts_init:
            self.feed_latency.labels(event.source).observe(
                (event.ts_init - event.ts_event) / NS_PER_S
            )

    def _on_feed_status(self, event: FeedStatus) -> None:
        self.set_feed_state(event.source, event.state)

    def _on_intent(self, event: PlaceOrderIntent) -> None:
        self.intents.labels(event.strategy).inc()
        self.observe_decision_latency(
            event.strategy, (self.clock.now_ns() - event.ts_init) / NS_PER_S
        )

    def _on_risk(self, event: RiskDecision) -> None:
        self.risk_decisions.labels("true" if event.approved else "false").inc()

    def _on_submitted(self, event: OrderSubmitted) -> None:
        self.orders_placed.labels(event.strategy).inc()
        self._order_strategy.remember(event.order_hash, event.strategy)
        self._order_sent.remember(event.order_hash, event.ts_init)

    def _on_answered(self, event: OrderAccepted | OrderRejected) -> None:
        sent = self._order_sent.pop(event.order_hash, None)
        outcome = "accepted" if isinstance(event, OrderAccepted) else "rejected"
        if sent is not None:
            self.observe_order_latency(outcome, (event.ts_init - sent) / NS_PER_S)
        if isinstance(event, OrderRejected):
            strategy = self._order_strategy.get(event.order_hash, "unknown")
            self.orders_rejected.labels(strategy, event.code or "error").inc()

    def _on_user_update(self, event: Event) -> None:
        self.feed_message(f"{self.exchange_feed}_user", event.ts_init)

    def _on_trade(self, event: TradeUpdate) -> None:
        report = event.report
        self._on_user_update(event)
        self.trade_status.labels(report.status.value).inc()
        for order_id in (report.taker_order_id, *(leg.order_id for leg in report.maker_legs)):
            strategy = self._order_strategy.get(order_id)
            key = f"{report.trade_id}/{order_id}"
            if strategy is not None and key not in self._trades_seen:
                self._trades_seen.remember(key, strategy)
                self.orders_filled.labels(strategy).inc()

    def _on_position(self, event: PositionChanged) -> None:
        cost = event.cost if event.confirmed + event.pending > 0 else 0
        self._exposure[event.token_id] = (event.market, max(cost, 0))
        self._realized[event.token_id] = event.realized
        per_market: defaultdict[str, int] = defaultdict(int)
        for market, amount in self._exposure.values():
            per_market[market] += amount
        for market, amount in per_market.items():
            self.market_exposure.labels(market).set(_usd(amount))
        self.exposure.set(_usd(sum(per_market.values())))
        self.realized.set(_usd(sum(self._realized.values())))

    def _on_kill_switch(self, event: KillSwitchFired | KillSwitchResumed) -> None:
        self.set_kill_switch(isinstance(event, KillSwitchFired))
        if isinstance(event, KillSwitchFired):
            self.kill_switch_fired.labels(event.condition).inc()

    def _on_anomaly(self, event: ExecutionAnomaly) -> None:
        self.anomalies.labels(event.kind).inc()

    def _on_error(self, event: Event) -> None:
        self.execution_errors.labels(_ERRORS[type(event)]).inc()

    def _on_truth(self, event: TruthFinal | TruthAlert) -> None:
        if isinstance(event, TruthAlert):
            self.truth_alerts.labels("true" if event.blocked else "false").inc()
        else:
            self.truth_finals.inc()


class MetricsServer:
    """Serves ``GET /metrics`` (Prometheus text format) and ``GET /healthz`` with aiohttp.

    Parameters
    ----------
    metrics
        What to serve.
    host, port
        Where to listen (``127.0.0.1`` by default; port 0 picks a free port, see :attr:`port`).
    shutdown_timeout_s
        How long :meth:`stop` lets a request still in progress finish (aiohttp's default is
        60 s, e.g. for a scraper's keep-alive connection that left a request body unsent).
    """

    def __init__(
        self,
        metrics: Metrics,
        host: str = "127.0.0.1",
        port: int = 9108,
        *,
        shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S,
    ) -> None:
        self.metrics = metrics
        self.host = host
        self._port = port
        self.shutdown_timeout_s = shutdown_timeout_s
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one after :meth:`start` when 0 was asked)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port/metrics``."""
        return f"http://{self.host}:{self.port}/metrics"

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def start(self) -> None:
        """Bind and serve (returns once listening)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._health)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.shutdown_timeout_s)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except BaseException:
            await runner.cleanup()  # a port that cannot be bound leaves nothing behind
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])  # the real port when 0 was asked

    async def stop(self) -> None:
        """Stop serving and release the port."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
