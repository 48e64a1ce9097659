"""The trading node: builds every component from :class:`Settings`, runs them under one owner.

:class:`TradingNode` owns the event log, the kernel, the Polymarket adapter (REST, market
and user sockets, heartbeat, Gamma), the esports feeds, the execution engine with its
venue ports, the strategies (:class:`~polyloly.bot.wiring.Core`), metrics, alerts, the
control API and the SQL projection. :meth:`TradingNode.start` brings them up in order and
:meth:`TradingNode.stop` takes them down in reverse; every task it starts is its own.

Modes (:class:`NodeMode`):

* ``live`` — signed orders to the configured venue (real or the local simulator);
* ``paper`` — live market data, fills by :class:`~polyloly.execution.paper.PaperVenue`;
* ``record`` — market data and esports feeds into the event log, no trading.

The node implements the control API's ``ControlTarget`` (``status``, ``halt``, ``resume``,
``cancel_all``): operator commands become ``OperatorCommand`` input events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, Final

from polyloly import __version__
from polyloly.adapters.esports import (
    AsyncioSleeper,
    EsportsFeed,
    FeedStats,
    MatchBindingSettings,
    build_directory,
    build_feeds,
)
from polyloly.adapters.esports import EsportsSettings as FeedSettings
from polyloly.adapters.polymarket import events as pm
from polyloly.adapters.polymarket.config import (
    ApiCredentials,
    PolymarketConfig,
    Secret,
    SignatureType,
    WalletConfig,
    WsConfig,
    validate_wallet,
)
from polyloly.adapters.polymarket.execution import execution_ports, translate
from polyloly.adapters.polymarket.factory import PolymarketAdapter, create_adapter
from polyloly.adapters.polymarket.gamma import DiscoveredMarket, discover_esports
from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.backtest.replay import DigestSigner
from polyloly.bot.alerts import AlertRules, AppriseAlerts
from polyloly.bot.clock import NS_PER_S, Clock, LiveClock
from polyloly.bot.control import ControlServer, ensure_token_file, token_file_for
from polyloly.bot.errors import ConfigError, HaltError
from polyloly.bot.logging import get_logger
from polyloly.bot.metrics import Metrics, MetricsServer
from polyloly.bot.settings import Settings
from polyloly.bot.wiring import Core, MarketDiscovered, NodeKernel, NodeParams, SessionStarted
from polyloly.domain.events import Event, OperatorCommand, TimerTick
from polyloly.domain.markets import MarketMapping, MarketRegistry, TeamAliases
from polyloly.domain.money import SCALE, fmt
from polyloly.domain.risk import RiskParams
from polyloly.domain.truth_engine import TruthParams
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts, Translate
from polyloly.execution.paper import PaperConfig, PaperVenue
from polyloly.execution.ports import Merger
from polyloly.execution.presign import OrderTarget, Presigner
from polyloly.execution.retry import asyncio_sleep
from polyloly.execution.risk_gate import GateConfig
from polyloly.storage.db import Database
from polyloly.storage.event_log import EventLogReader, EventLogWriter
from polyloly.storage.projection import Projection
from polyloly.strategies.pair_arb import PairArbParams
from polyloly.strategies.temporal_arb import TemporalArbParams

__all__ = [
    "PM_TRANSLATORS",
    "NodeMode",
    "NodeOptions",
    "TradingNode",
    "feed_settings",
    "node_params",
    "polymarket_config",
]

_log = get_logger("polyloly.node")

PM_TRANSLATORS: Final[Mapping[type[Event], Translate]] = {
    pm.OrderUpdate: translate,
    pm.TradeUpdate: translate,
}
"""The Polymarket user channel's events as execution events (ledger, metrics, report)."""

_PROJECTION_QUEUE: Final = 100_000


class NodeMode(StrEnum):
    """How the node trades."""

    LIVE = "live"
    PAPER = "paper"
    RECORD = "record"


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What the command line decides on top of the settings.

    ``event_log_dir`` defaults to ``storage.event_log_dir``; ``metrics_port`` /
    ``control_port`` override the settings (0 = a free port); ``esports`` replaces the
    feeds derived from the settings (the demo passes its local feeds); ``merger`` builds
    the merge port from the adapter (``None``: merges are off in live mode).
    """

    mode: NodeMode = NodeMode.PAPER
    event_log_dir: Path | None = None
    tick_interval_s: float = 1.0
    discover: bool = True
    games: tuple[str, ...] = ("lol", "dota2")
    paper_collateral: int = 1_000 * SCALE
    metrics_port: int | None = None
    control_port: int | None = None
    control_token: str | None = None
    projection: bool = True
    reconcile_timeout_s: float = 30.0
    cancel_on_stop: bool = True
    esports: FeedSettings | None = None
    merger: Callable[[PolymarketAdapter, str], Merger] | None = None
    bindings: tuple[MatchBindingSettings, ...] = field(default=())


# ---------------------------------------------------------------------------------------------
# Settings -> component configuration
# ---------------------------------------------------------------------------------------------


def node_params(
    settings: Settings, *, merges: bool = True, aliases: Mapping[str, list[str]] | None = None
) -> NodeParams:
    """The decision parameters of ``settings`` (merging pairs only when ``merges``)."""
    st, risk = settings.strategies, settings.risk
    pair: PairArbParams | None = None
    if st.pair_arb.enabled:
        pa = st.pair_arb
        pair = PairArbParams(
            pair_cost_cap=pa.pair_cost_cap_micros,
            max_total_cost_usdc=pa.max_total_cost_micros,
            step_usdc=pa.step_micros,
            max_unpaired_usdc=pa.max_unpaired_micros,
            merge_min_pairs_shares=(
                PairArbParams().merge_min_pairs_shares if pa.merge_enabled and merges else 0
            ),
            stuck_leg_timeout_ns=int(pa.stuck_leg_timeout_s * NS_PER_S),
        )
    temporal: TemporalArbParams | None = None
    if st.temporal_arb.enabled:
        ta = st.temporal_arb
        temporal = TemporalArbParams(
            min_confidence=ta.min_confidence_bps,
            max_entry_price=ta.max_entry_price_micros,
            fixed_size_usdc=ta.fixed_size_micros,
            max_exposure_usdc=ta.max_exposure_micros,
            max_slippage_bps=risk.max_slippage_bps,
            presign=ta.presign_orders,
        )
    truth = settings.truth
    table = {**{k: list(v) for k, v in settings.teams.aliases.items()}, **dict(aliases or {})}
    return NodeParams(
        pair_arb=pair,
        temporal_arb=temporal,
        risk=RiskParams(
            max_position_per_market=risk.max_position_per_market_micros,
            max_open_orders_per_market=risk.max_open_orders_per_market,
            max_total_exposure=risk.max_total_exposure_micros,
            max_daily_loss=risk.max_daily_loss_micros,
            max_single_order=risk.max_single_order_micros,
            min_order_size=risk.min_order_size_micros,
            max_slippage_bps=risk.max_slippage_bps,
            max_consecutive_exec_errors=risk.max_consecutive_exec_errors,
        ),
        gate=GateConfig(),
        truth=TruthParams(
            source_weights={k: min(v, 9_999) for k, v in truth.source_weights_bps.items()},
            pending_confidence=truth.pending_confidence_bps,
            final_confidence=truth.final_confidence_bps,
            final_timeout_ns=int(truth.final_timeout_s * NS_PER_S),
        ),
        aliases=table,
        fee_model=settings.fees.model,
        fee_rate=settings.fees.rate_micros,
        fee_exponent=settings.fees.exponent,
    )


def polymarket_config(settings: Settings, *, trading: bool) -> PolymarketConfig:
    """The adapter's configuration (with the wallet only when ``trading``)."""
    pm_cfg = settings.adapters.polymarket
    wallet = None
    if trading and pm_cfg.private_key is not None:
        wallet = WalletConfig(
            private_key=Secret(pm_cfg.private_key.get_secret_value()),
            signature_type=SignatureType(pm_cfg.signature_type),
            funder=pm_cfg.funder,
            chain_id=pm_cfg.chain_id,
        )
    creds = None
    if trading and pm_cfg.api_key and pm_cfg.api_secret and pm_cfg.api_passphrase:
        creds = ApiCredentials.of(
            pm_cfg.api_key.get_secret_value(),
            pm_cfg.api_secret.get_secret_value(),
            pm_cfg.api_passphrase.get_secret_value(),
        )
    return PolymarketConfig(
        clob_url=pm_cfg.host,
        market_ws_url=pm_cfg.ws_market_url,
        user_ws_url=pm_cfg.ws_user_url,
        gamma_url=pm_cfg.gamma_url,
        wallet=wallet,
        creds=creds,
        ws=WsConfig(
            ping_interval_s=pm_cfg.ws_ping_interval_s,
            pong_timeout_s=pm_cfg.ws_stale_after_s,
            max_assets_per_connection=pm_cfg.max_assets_per_connection,
        ),
        heartbeat_interval_s=pm_cfg.heartbeat_interval_s,
        http_timeout_s=pm_cfg.request_timeout_s,
    )


# The bot settings name full endpoint URLs; the adapters append their own paths to a host.
_URL_SUFFIXES: Final = {
    "grid": ("/live-data-feed/series-state/graphql", "/live-data-feed/series"),
    "liquipedia": ("/api/v3",),
    "lolesports": ("/persisted/gw", "/livestats/v1"),
}


def _host_of(provider: str, url: str) -> str:
    for suffix in _URL_SUFFIXES.get(provider, ()):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def feed_settings(settings: Settings) -> FeedSettings:
    """The esports adapters' settings from the ``adapters.esports`` section."""
    from polyloly.adapters.esports import load_esports_settings  # noqa: PLC0415 - small helper

    providers: dict[str, dict[str, Any]] = {}
    weights = settings.truth.source_weights_bps
    for name, cfg in settings.adapters.esports.providers().items():
        if not cfg.enabled:
            continue
        row: dict[str, Any] = {
            "base_url": _host_of(name, cfg.base_url),
            "poll_interval_ms": cfg.poll_interval_ms,
            "rate_limit_requests": cfg.rate_limit_per_min,
            "rate_limit_window_ms": 60_000,
            "request_timeout_ms": int(cfg.request_timeout_s * 1000),
            "weight_bp": weights.get(name, 5_000),
        }
        for key in ("ws_url", "feed_url", "user_agent"):
            value = getattr(cfg, key, None)
            if isinstance(value, str) and value:
                row[key] = _host_of(name, value)
        if cfg.api_key is not None:
            row["api_key"] = cfg.api_key.get_secret_value()
        providers[name] = row
    return load_esports_settings(
        {"providers": providers, "team_aliases": dict(settings.teams.aliases)}
    )


def _feed_counters(stats: FeedStats) -> dict[str, int]:
    return {"messages": stats.events, "malformed": stats.malformed, "reconnects": stats.reconnects}


def _ws_counters(ws: MarketWsClient) -> dict[str, int]:
    reconnects = sum(max(sock.stats.connects - 1, 0) for sock in ws.sockets)
    return {
        "messages": ws.frames,
        "malformed": sum(ws.malformed.values()),
        "reconnects": reconnects,
    }


# ---------------------------------------------------------------------------------------------
# The node
# ---------------------------------------------------------------------------------------------


class TradingNode:
    """One running polyloly: every component, one owner (see the module docstring)."""

    def __init__(
        self, settings: Settings, options: NodeOptions, *, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.options = options
        self.clock: Clock = clock or LiveClock()
        self.log_dir = options.event_log_dir or settings.storage.event_log_dir
        self.writer: EventLogWriter | None = None
        self.kernel: NodeKernel | None = None
        self.core: Core | None = None
        self.adapter: PolymarketAdapter | None = None
        self.paper: PaperVenue | None = None
        self.presigner: Presigner | None = None
        self.feeds: list[EsportsFeed] = []
        self.metrics: Metrics | None = None
        self.metrics_server: MetricsServer | None = None
        self.control: ControlServer | None = None
        self.alerts: AppriseAlerts | None = None
        self.projection: Projection | None = None
        self.discovered: list[DiscoveredMarket] = []
        self.address = ""
        self.started_ns = 0
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._pending: list[Event] = []
        self._paper_markets: set[str] = set()
        self._projection_buffer: list[Event] = []
        self._stopping = False

    # -- accessors --------------------------------------------------------------------------

    @property
    def trading(self) -> bool:
        """Whether the node places orders (live or paper)."""
        return self.options.mode is not NodeMode.RECORD

    @property
    def engine(self) -> ExecutionEngine:
        """The execution engine (trading modes, once started)."""
        if self.core is None or self.core.engine is None:
            raise RuntimeError("the node has no execution engine")
        return self.core.engine

    def publish(self, event: Event) -> None:
        """Hand an input event to the kernel (what adapters call)."""
        if self.kernel is not None and not self._stopping:
            self.kernel.publish(event)

    def spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Start an owned task; a crash is logged and the task forgotten."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks[task] = name
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        name = self._tasks.pop(task, "?")
        if not task.cancelled() and task.exception() is not None:
            _log.error("node.task_crashed", task=name, error=repr(task.exception()))

    # -- start ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bring every component up; raise if the venue cannot be reconciled."""
        opts, clock = self.options, self.clock
        self.started_ns = clock.now_ns()
        recorded = list(EventLogReader([self.log_dir], strict=False)) if self._has_log() else []
        self.writer = EventLogWriter(
            self.log_dir,
            compress=self.settings.storage.event_log_compress,
            fsync=self.settings.storage.event_log_fsync,
        )
        self.kernel = NodeKernel(clock, self.writer, self.settings.storage.flush_every)
        translators: Mapping[type[Event], Translate] = {}
        if opts.mode is NodeMode.LIVE:
            translators = PM_TRANSLATORS
        pm_config = polymarket_config(self.settings, trading=opts.mode is NodeMode.LIVE)
        if opts.mode is NodeMode.LIVE and pm_config.wallet is None:
            raise ConfigError("live trading needs adapters.polymarket.private_key")
        self.adapter = await create_adapter(
            pm_config, self.publish, clock, heartbeat=opts.mode is NodeMode.LIVE
        )
        self._start_observability(translators)
        if self.trading:
            self._build_core(translators)
            self.engine.recover(recorded)
            assert self.metrics is not None  # noqa: S101  (observability starts first)
            self.metrics.watch_pnl(self.engine.state)
        self._start_control()
        await self._start_projection(translators, recorded)
        self._publish_session()
        await self._discover()
        self.adapter.start()
        if self.presigner is not None:
            self.presigner.start()
        self._watch_market_ws()
        self._start_feeds()
        self.spawn("timer", self._timer())
        if self.trading:
            await self._reconcile()
        _log.info("node.started", mode=opts.mode.value, markets=len(self.discovered))

    def _has_log(self) -> bool:
        return Path(self.log_dir).is_dir() and any(Path(self.log_dir).glob("events-*.jsonl*"))

    def _build_core(self, translators: Mapping[type[Event], Translate]) -> None:
        assert self.kernel is not None  # noqa: S101  (start order)
        assert self.adapter is not None  # noqa: S101
        core = self.core = Core(self.kernel)
        alerts = self.alerts
        assert alerts is not None  # noqa: S101  (observability starts first)
        if self.options.mode is NodeMode.LIVE:
            merger = None
            if self.options.merger is not None:
                merger = self.options.merger(self.adapter, self._funder())
            ports = execution_ports(
                self.adapter,
                self.clock,
                tick_of=core.tick_of,
                alerts=alerts,
                neg_risk_of=core.neg_risk_of,
                merger=merger,
            )
            self.address = self._funder()
            engine = core.attach_engine(
                ports,
                sleep=asyncio_sleep,
                config=self._execution_config(),
                translators=translators,
                resync_types=(pm.UserResync,),
            )
            ta = self.settings.strategies.temporal_arb
            if ta.enabled and ta.presign_orders:
                # Live only: a replay re-feeds the PresignReady events this publishes.
                self.presigner = Presigner(
                    self.kernel,
                    engine.presign,
                    engine.signer,
                    self._presign_targets,
                    tick_of=core.tick_of,
                )
                self.presigner.attach()
            return
        paper = self.paper = PaperVenue(
            self.clock, PaperConfig(starting_collateral=self.options.paper_collateral)
        )
        ports = ExecutionPorts(
            signer=DigestSigner(),
            venue=paper,
            account=paper,
            alerts=alerts,
            cancel_all=paper,
            merger=paper,
        )
        core.attach_engine(ports, sleep=asyncio_sleep, config=self._execution_config())
        paper.attach(self.kernel)
        paper.publish = self._defer  # venue updates arrive as their own inputs, like a socket
        core.market_listeners.append(self._paper_market)

    def _presign_targets(self) -> list[OrderTarget]:
        temporal = self.core.temporal if self.core is not None else None
        return list(temporal.presign_targets()) if temporal is not None else []

    def _execution_config(self) -> ExecutionConfig:
        return ExecutionConfig(risk=node_params(self.settings).risk)

    def _funder(self) -> str:
        wallet = self.adapter.config.wallet if self.adapter is not None else None
        return validate_wallet(wallet) if wallet is not None else ""

    def _defer(self, event: Event) -> None:
        self._pending.append(event)
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._flush_pending)

    def _flush_pending(self) -> None:
        pending, self._pending = self._pending, []
        for event in pending:
            self.publish(event)

    def _paper_market(self, mapping: MarketMapping) -> None:
        if self.paper is not None and mapping.market_id not in self._paper_markets:
            self._paper_markets.add(mapping.market_id)
            self.paper.add_market(
                mapping.market_id,
                (mapping.token_a, mapping.token_b),
                tick=mapping.tick,
                min_size=mapping.min_size,
                fee_rate=mapping.fee_rate,
            )

    def _start_observability(self, translators: Mapping[type[Event], Translate]) -> None:
        assert self.kernel is not None  # noqa: S101
        metrics = self.metrics = Metrics(self.clock)
        metrics.attach(self.kernel, translators)
        alerts = self.alerts = AppriseAlerts.from_settings(
            self.settings.alerts, on_outcome=metrics.alert_outcome
        )
        alerts.start()
        AlertRules(alerts, self.clock).attach(self.kernel, translators)
        metrics.watch_queue("alerts", lambda: alerts.queued)
        metrics.watch_queue("projection", lambda: len(self._projection_buffer))
        cfg = self.settings.metrics
        if cfg.enabled or self.options.metrics_port is not None:
            port = cfg.port if self.options.metrics_port is None else self.options.metrics_port
            self.metrics_server = MetricsServer(metrics, cfg.host, port)
            self.spawn("metrics-server", self.metrics_server.start())

    def _start_control(self) -> None:
        cfg = self.settings.control
        if not cfg.enabled and self.options.control_port is None:
            return
        token = self.options.control_token
        if token is None:
            token = cfg.token.get_secret_value() if cfg.token is not None else None
        if token is None:
            token = ensure_token_file(token_file_for(self.settings))
        port = cfg.port if self.options.control_port is None else self.options.control_port
        self.control = ControlServer(self, token, cfg.host, port)
        self.spawn("control-server", self.control.start())

    async def _start_projection(
        self, translators: Mapping[type[Event], Translate], recorded: list[Event]
    ) -> None:
        if not self.options.projection or self.kernel is None:
            return
        db = Database(self.settings.storage.database_url.get_secret_value())
        await db.migrate()
        self.projection = Projection(db, dict(translators))
        await self.projection.rebuild(recorded)
        buffer = self._projection_buffer

        def keep(event: Event) -> None:
            if len(buffer) < _PROJECTION_QUEUE:
                buffer.append(event)

        self.kernel.subscribe_all(keep)
        self.spawn("projection", self._project_loop())

    async def _project_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await self._project()

    async def _project(self) -> None:
        if self.projection is None or not self._projection_buffer:
            return
        batch = self._projection_buffer[:]
        del self._projection_buffer[: len(batch)]
        await self.projection.apply(batch)

    def _publish_session(self) -> None:
        now = self.clock.now_ns()
        merges = self.options.mode is NodeMode.PAPER or self.options.merger is not None
        params = node_params(self.settings, merges=merges)
        self.publish(
            SessionStarted(
                ts_event=now,
                ts_init=now,
                mode=self.options.mode.value,
                params=params,
                version=__version__,
                address=self.address,
            )
        )

    async def _discover(self) -> None:
        assert self.adapter is not None  # noqa: S101
        if not self.options.discover:
            return
        registry = MarketRegistry()
        aliases = TeamAliases(node_params(self.settings).aliases)
        report = await discover_esports(self.adapter.gamma, registry, aliases, self.options.games)
        self.discovered = list(report.added)
        tokens: list[str] = []
        for found in self.discovered:
            now = self.clock.now_ns()
            mapping = found.mapping
            self.publish(
                MarketDiscovered(
                    ts_event=now,
                    ts_init=now,
                    mapping=mapping,
                    game=found.game,
                    best_of=found.best_of,
                )
            )
            tokens += [mapping.token_a, mapping.token_b]
        await self.adapter.market_ws.subscribe(tokens)

    def _start_feeds(self) -> None:
        settings = self.options.esports or feed_settings(self.settings)
        directory = build_directory(settings)
        bound = {b.match_id for b in settings.matches}
        for binding in self.options.bindings:
            directory.bind(binding)
            bound.add(binding.match_id)
        for found in self.discovered:
            mapping = found.mapping
            if mapping.match_id in bound:
                continue
            bound.add(mapping.match_id)
            start_ns = found.game_start_ns
            directory.bind(
                MatchBindingSettings(
                    match_id=mapping.match_id,
                    game=found.game,
                    team_a=mapping.team_a,
                    team_b=mapping.team_b,
                    best_of=found.best_of,
                    scheduled_at_s=None if start_ns is None else start_ns // NS_PER_S,
                )
            )
        self.feeds = build_feeds(
            settings,
            clock=self.clock,
            sleeper=AsyncioSleeper(),
            publish=self.publish,
            directory=directory,
        )
        for feed in self.feeds:
            self.spawn(f"feed:{feed.source}", feed.run())
            stats = getattr(getattr(feed, "core", None), "stats", None)
            if self.metrics is not None and stats is not None:
                self.metrics.watch_feed(feed.source, partial(_feed_counters, stats))

    def _watch_market_ws(self) -> None:
        if self.metrics is not None and self.adapter is not None:
            self.metrics.watch_feed(
                "polymarket.market_ws", partial(_ws_counters, self.adapter.market_ws)
            )

    async def _timer(self) -> None:
        interval = self.options.tick_interval_s
        while True:
            await asyncio.sleep(interval)
            now = self.clock.now_ns()
            self.publish(TimerTick(ts_event=now, ts_init=now))

    async def _reconcile(self) -> None:
        engine = self.engine
        engine.start()
        deadline = asyncio.get_running_loop().time() + self.options.reconcile_timeout_s
        while engine.reconciler.last_ok is None or engine.reconciler.running:
            if asyncio.get_running_loop().time() > deadline:
                raise HaltError("start-up reconciliation did not finish in time")
            await asyncio.sleep(0.05)
        if not engine.reconciler.last_ok:
            raise HaltError("start-up reconciliation failed: local state differs from the venue")

    # -- stop -------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Cancel our orders (live), stop every component, flush and close the log."""
        if self.kernel is None or self._stopping:
            return
        if self.trading and self.options.cancel_on_stop and self.core is not None:
            self.cancel_all()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self.engine.idle()
        self._stopping = True
        await self._stop_sources()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._stop_sinks()
        self.kernel.flush()
        if self.writer is not None:
            self.writer.close()
        _log.info("node.stopped")

    async def _stop_sources(self) -> None:
        """Stop everything that produces events: feeds, presigner, adapter, engine tasks."""
        for feed in self.feeds:
            with contextlib.suppress(Exception):
                await feed.aclose()
        if self.presigner is not None:
            await self.presigner.stop()
        if self.adapter is not None:
            await self.adapter.stop()
        if self.core is not None and self.core.engine is not None:
            await self.core.engine.stop()

    async def _stop_sinks(self) -> None:
        """Deliver queued alerts, close the servers, write the last projection batch."""
        if self.alerts is not None:
            await self.alerts.aclose()
        for server in (self.control, self.metrics_server):
            if server is not None:
                await server.stop()
        if self.projection is not None:
            await self._project()
            await self.projection.db.close()

    # -- ControlTarget ----------------------------------------------------------------------

    def _command(self, command: str, reason: str) -> None:
        now = self.clock.now_ns()
        self.publish(OperatorCommand(ts_event=now, ts_init=now, command=command, reason=reason))

    def halt(self, reason: str) -> None:
        """Latch the kill switch: cancel everything and refuse new intents."""
        self._command("halt", reason or "operator halt")

    def resume(self) -> None:
        """Clear the kill-switch latch."""
        self._command("resume", "operator resume")

    def cancel_all(self) -> None:
        """Cancel every open order of the account."""
        self._command("cancel_all", "operator cancel-all")

    def status(self) -> dict[str, Any]:
        """A JSON-ready snapshot of the node."""
        out: dict[str, Any] = {
            "mode": self.options.mode.value,
            "version": __version__,
            "uptime_s": (self.clock.now_ns() - self.started_ns) // NS_PER_S,
            "markets": len(self.discovered),
            "events": self.kernel.published if self.kernel is not None else 0,
        }
        if self.core is None or self.core.engine is None:
            return out
        engine = self.core.engine
        state = engine.state
        out.update(
            halted=state.halted,
            reconciled=engine.reconciler.last_ok,
            equity=fmt(state.equity(), 2),
            daily_pnl=fmt(state.daily_pnl(), 2),
            collateral=fmt(state.collateral(), 2),
            open_orders=len(state.open_orders()),
            positions={
                token: fmt(view.expected, 2)
                for token, view in sorted(state.positions.items())
                if view.expected
            },
            feeds={name: feed.value for name, feed in sorted(engine.gate.c.feeds.items())},
            intents=dict(self.core.intents),
            fills=dict(self.core.feedback.fills_by_strategy) if self.core.feedback else {},
        )
        return out
