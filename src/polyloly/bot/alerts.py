"""Operator alerts through apprise: kill switch, fills, errors and a daily summary.

:class:`AppriseAlerts` implements the execution layer's
:class:`~polyloly.execution.ports.AlertPort` (``await send(alert)``: the risk gate alerts
on the kill switch through it) and adds :meth:`AppriseAlerts.notify`, a non-blocking
enqueue for synchronous kernel handlers, drained by one owned sender task. Destinations
are apprise URLs (``alerts.urls`` plus the seed's Telegram and Discord settings, see
:meth:`~polyloly.bot.settings.AlertsSettings.apprise_urls`).

Delivery never raises: a failure (unreachable service, timeout, a full queue) is counted
(:attr:`AppriseAlerts.stats`, and the ``on_outcome`` callback, e.g.
:meth:`polyloly.bot.metrics.Metrics.alert_outcome`) and logged without the URL. Every
title and body passes :func:`polyloly.bot.logging.redact_text` first, so a secret that
slipped into an error message never leaves the process.

:class:`AlertRules` subscribes to a kernel and turns events into alerts: our fills,
execution errors and anomalies, blocking truth contradictions, the kill switch (off by
default: the risk gate already alerts when it fires) and, when a new UTC day starts
(``DayStarted``), a summary of the day that ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

import apprise
import structlog

from polyloly.bot.logging import redact_text
from polyloly.bot.settings import AlertsSettings
from polyloly.domain.events import Event, TruthAlert
from polyloly.domain.money import SCALE, fmt, to_decimal
from polyloly.execution.engine import Translate
from polyloly.execution.events import (
    CancelFailed,
    DayStarted,
    ExecutionAnomaly,
    KillSwitchFired,
    MergeFailed,
    OrderSubmitted,
    OrderSubmitUnknown,
    ReconciliationError,
    TradeUpdate,
)
from polyloly.execution.ports import Alert, AlertLevel, TradeStatus
from polyloly.runtime.clock import Clock
from polyloly.runtime.kernel import Kernel

__all__ = ["AlertQueue", "AlertRules", "AppriseAlerts", "DailySummary"]

_log = structlog.get_logger(__name__)
_MAX_BODY: Final = 2_000
_RANK: Final = {AlertLevel.INFO: 0, AlertLevel.WARNING: 1, AlertLevel.CRITICAL: 2}
_NOTIFY_TYPE: Final = {
    AlertLevel.INFO: apprise.NotifyType.INFO,
    AlertLevel.WARNING: apprise.NotifyType.WARNING,
    AlertLevel.CRITICAL: apprise.NotifyType.FAILURE,
}
_CRITICAL_ANOMALIES: Final = frozenset({"task_crashed", "signing_failed"})
_REMEMBERED: Final = 100_000
_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(store: OrderedDict[_K, _V], key: _K, value: _V) -> None:
    """Insert into a bounded map, forgetting the oldest entries beyond ``_REMEMBERED``."""
    store[key] = value
    store.move_to_end(key)
    while len(store) > _REMEMBERED:
        store.popitem(last=False)


class AlertQueue(Protocol):
    """Where synchronous code drops alerts without waiting (``AppriseAlerts.notify``)."""

    def notify(self, alert: Alert) -> None:
        """Queue one alert for delivery."""
        ...


@dataclass(slots=True)
class _Stats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    filtered: int = 0


class AppriseAlerts:
    """Delivers alerts to apprise URLs; an :class:`~polyloly.execution.ports.AlertPort`.

    Parameters
    ----------
    urls
        Apprise URLs (they may carry tokens: they are never logged).
    min_level
        Alerts below this level are counted as ``filtered`` and not sent.
    timeout_s
        Longest wait for one delivery (all destinations together).
    queue_size
        Capacity of the :meth:`notify` queue; alerts beyond it are dropped and counted.
    on_outcome
        Called with ``"sent"``, ``"failed"`` or ``"dropped"`` after each alert.
    name
        Prefix of every title.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        min_level: AlertLevel = AlertLevel.INFO,
        timeout_s: float = 10.0,
        queue_size: int = 256,
        on_outcome: Callable[[str], None] | None = None,
        name: str = "polyloly",
    ) -> None:
        self.min_level = min_level
        self.timeout_s = timeout_s
        self.name = name
        self.on_outcome = on_outcome
        self.stats = _Stats()
        self.invalid_urls = 0
        # apprise loads its plugins on first use, and one of them imports the deprecated
        # ``imghdr`` module: that warning is apprise's to fix, not an error of ours
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._apprise = apprise.Apprise(asset=apprise.AppriseAsset(app_id=name))
            for index, url in enumerate(urls):
                if not self._apprise.add(url):
                    self.invalid_urls += 1
                    scheme = url.split("://", 1)[0] if "://" in url else "?"
                    _log.warning("alerts.url_rejected", index=index, scheme=scheme)
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=queue_size)
        self._worker: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: AlertsSettings,
        *,
        min_level: AlertLevel = AlertLevel.INFO,
        on_outcome: Callable[[str], None] | None = None,
        name: str = "polyloly",
    ) -> AppriseAlerts:
        """Build from the ``alerts`` settings section (every configured destination)."""
        return cls(settings.apprise_urls(), min_level=min_level, on_outcome=on_outcome, name=name)

    @property
    def enabled(self) -> bool:
        """Whether any destination is configured."""
        return len(self._apprise) > 0

    @property
    def queued(self) -> int:
        """Alerts waiting in the :meth:`notify` queue (a queue-depth metric)."""
        return self._queue.qsize()

    # -- delivery -----------------------------------------------------------------------------

    def _count(self, outcome: str) -> None:
        setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    async def send(self, alert: Alert) -> None:
        """Deliver one alert now; failures are counted and logged, never raised."""
        if _RANK[alert.level] < _RANK[self.min_level]:
            self.stats.filtered += 1
            return
        if not self.enabled:
            self._count("dropped")
            return
        title = redact_text(f"[{self.name}] {alert.level.value.upper()}: {alert.title}")
        body = redact_text(alert.body or alert.title)[:_MAX_BODY]
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self._apprise.async_notify(
                    body=body, title=title, notify_type=_NOTIFY_TYPE[alert.level]
                )
            ok = bool(result)
        except TimeoutError:
            ok = False
            _log.warning("alerts.timeout", title=title, timeout_s=self.timeout_s)
        except Exception as exc:  # a notifier bug must not take the bot down
            ok = False
            _log.warning(
                "alerts.error", title=title, error=redact_text(f"{type(exc).__name__}: {exc}")
            )
        self._count("sent" if ok else "failed")
        if not ok:
            _log.warning("alerts.not_delivered", title=title)

    def notify(self, alert: Alert) -> None:
        """Queue ``alert`` for the sender task without waiting (drops it when full)."""
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self._count("dropped")

    async def kill_switch(self, condition: str, reason: str, ts_ns: int = 0) -> None:
        """Trading halted."""
        await self.send(
            Alert(
                level=AlertLevel.CRITICAL,
                title=f"kill switch: {condition}",
                body=reason,
                ts_ns=ts_ns,
            )
        )

    async def error(self, title: str, detail: str, ts_ns: int = 0) -> None:
        """Something failed that an operator should look at."""
        await self.send(Alert(level=AlertLevel.WARNING, title=title, body=detail, ts_ns=ts_ns))

    async def daily_summary(self, summary: DailySummary, ts_ns: int = 0) -> None:
        """The day's numbers."""
        await self.send(summary.alert(ts_ns))

    # -- the sender task ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the task that delivers queued alerts (call from a running event loop)."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="alerts")

    async def _run(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                await self.send(alert)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued alert has been delivered (or has failed)."""
        await self._queue.join()

    async def aclose(self, *, drain: bool = True) -> None:
        """Deliver what is queued (unless ``drain`` is False), then stop the sender task."""
        if self._worker is None:
            return
        if drain:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timeout_s):
                    await self.drain()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None


@dataclass(slots=True)
class DailySummary:
    """One UTC day of activity (money in micros)."""

    day: int = -1
    fills: int = 0
    volume: int = 0
    fees: int = 0
    pnl: int | None = None
    kill_switches: int = 0
    errors: int = 0

    def alert(self, ts_ns: int = 0) -> Alert:
        """The summary as an INFO alert."""
        pnl = "unknown" if self.pnl is None else f"{fmt(self.pnl, 2)} pUSD"
        body = (
            f"PnL {pnl}; {self.fills} fills, volume {fmt(self.volume, 2)} pUSD, "
            f"fees {fmt(self.fees, 2)} pUSD; kill switch fired {self.kill_switches}x; "
            f"{self.errors} execution errors"
        )
        return Alert(
            level=AlertLevel.INFO, title=f"daily summary (day {self.day})", body=body, ts_ns=ts_ns
        )


class AlertRules:
    """Turns kernel events into alerts.

    Parameters
    ----------
    alerts
        Where alerts go (an :class:`AppriseAlerts`, started).
    clock
        Stamps alerts.
    kill_switch
        Alert on ``KillSwitchFired`` too (off by default: the risk gate alerts through its
        ``AlertPort`` already; turn on when the gate is given another port).
    fills, errors, daily
        Which other rules are on.
    """

    def __init__(
        self,
        alerts: AlertQueue,
        clock: Clock,
        *,
        kill_switch: bool = False,
        fills: bool = True,
        errors: bool = True,
        daily: bool = True,
    ) -> None:
        self.alerts = alerts
        self.clock = clock
        self.rules = {"kill_switch": kill_switch, "fills": fills, "errors": errors, "daily": daily}
        self.day = DailySummary()
        self.day_start_equity: int | None = None
        self._strategy_of: OrderedDict[str, str] = OrderedDict()
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def attach(
        self, kernel: Kernel, translators: Mapping[type[Event], Translate] | None = None
    ) -> None:
        """Subscribe the enabled rules; ``translators`` as for the execution engine."""
        kernel.subscribe(OrderSubmitted, self._on_submitted)
        kernel.subscribe(TradeUpdate, self._on_trade)
        for venue_event, translate in (translators or {}).items():
            kernel.subscribe(venue_event, self._translated(translate))
        kernel.subscribe(KillSwitchFired, self._on_kill_switch)
        kernel.subscribe(OrderSubmitUnknown, self._on_error)
        kernel.subscribe(CancelFailed, self._on_error)
        kernel.subscribe(MergeFailed, self._on_error)
        kernel.subscribe(ReconciliationError, self._on_error)
        kernel.subscribe(ExecutionAnomaly, self._on_anomaly)
        kernel.subscribe(TruthAlert, self._on_truth_alert)
        kernel.subscribe(DayStarted, self._on_day)

    def _emit(self, level: AlertLevel, title: str, body: str) -> None:
        self.alerts.notify(Alert(level=level, title=title, body=body, ts_ns=self.clock.now_ns()))

    def _translated(self, translate: Translate) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            out = translate(event)
            if isinstance(out, TradeUpdate):
                self._on_trade(out)

        return handle

    def _on_submitted(self, event: OrderSubmitted) -> None:
        _remember(self._strategy_of, event.order_hash, event.strategy)

    def _on_trade(self, event: TradeUpdate) -> None:
        report = event.report
        if report.status is TradeStatus.FAILED:
            self.day.errors += 1
            if self.rules["errors"]:
                self._emit(
                    AlertLevel.WARNING, "trade failed", f"trade {report.trade_id} FAILED on-chain"
                )
            return
        legs = [(report.taker_order_id, report.price, report.size, report.fee or 0)]
        legs += [(leg.order_id, leg.price, leg.matched_amount, 0) for leg in report.maker_legs]
        for order_id, price, size, fee in legs:
            strategy = self._strategy_of.get(order_id)
            if strategy is None or (report.trade_id, order_id) in self._seen:
                continue
            _remember(self._seen, (report.trade_id, order_id), None)
            self.day.fills += 1
            self.day.volume += size * price // SCALE
            self.day.fees += fee
            if self.rules["fills"]:
                body = (
                    f"{strategy}: {fmt(size, 2)} shares at {to_decimal(price)} on {report.market}"
                )
                self._emit(AlertLevel.INFO, f"fill ({strategy})", body)

    def _on_kill_switch(self, event: KillSwitchFired) -> None:
        self.day.kill_switches += 1
        if self.rules["kill_switch"]:
            self._emit(AlertLevel.CRITICAL, f"kill switch: {event.condition}", event.reason)

    def _on_error(
        self, event: OrderSubmitUnknown | CancelFailed | MergeFailed | ReconciliationError
    ) -> None:
        self.day.errors += 1
        if self.rules["errors"]:
            name = type(event).__name__
            detail = event.error
            self._emit(AlertLevel.WARNING, f"execution error: {name}", detail)

    def _on_anomaly(self, event: ExecutionAnomaly) -> None:
        critical = event.kind in _CRITICAL_ANOMALIES
        if critical:
            self.day.errors += 1
        if self.rules["errors"]:
            level = AlertLevel.CRITICAL if critical else AlertLevel.WARNING
            self._emit(
                level, f"execution anomaly: {event.kind}", f"{event.subject}: {event.detail}"
            )

    def _on_truth_alert(self, event: TruthAlert) -> None:
        if event.blocked and self.rules["errors"]:
            self._emit(AlertLevel.WARNING, f"truth contradiction on {event.match_id}", event.reason)

    def _on_day(self, event: DayStarted) -> None:
        ended = self.day
        if self.day_start_equity is not None:
            ended.pnl = event.equity - self.day_start_equity
        if ended.day < 0:  # started mid-day: summarize what this process saw of it
            ended.day = event.day - 1
        active = ended.fills or ended.errors or ended.kill_switches or ended.pnl is not None
        if self.rules["daily"] and active:
            self.alerts.notify(ended.alert(self.clock.now_ns()))
        self.day = DailySummary(day=event.day)
        self.day_start_equity = event.equity
