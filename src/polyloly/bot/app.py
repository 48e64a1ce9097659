"""The trading node: builds every component from :class:`Settings`, runs them under one owner.

:class:`TradingNode` owns the event log, the kernel, the Polymarket adapter (REST, market
and user sockets, heartbeat, Gamma), the esports feeds, the execution engine with its
venue ports, the strategies (:class:`~polyloly.node.core.Core`), metrics, alerts, the
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
import gc
import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
import structlog

from polyloly import __version__
from polyloly.adapters.esports import (
    EsportsFeed,
    FeedStats,
    MatchBindingSettings,
    MatchDirectory,
    build_directory,
    build_feeds,
)
from polyloly.adapters.esports.grid import GridFeed
from polyloly.adapters.esports.liquipedia import LiquipediaFeed
from polyloly.adapters.esports.resolver import Binder, WantedMatch
from polyloly.adapters.polymarket import events as pm
from polyloly.adapters.polymarket.config import validate_wallet
from polyloly.adapters.polymarket.ctf import OnChainCtf
from polyloly.adapters.polymarket.execution import PolymarketVenue, execution_ports
from polyloly.adapters.polymarket.factory import PolymarketAdapter, create_adapter
from polyloly.adapters.polymarket.gamma import DiscoveredMarket, discover_esports
from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.adapters.redis.budget import RedisBudget
from polyloly.backtest.replay_ports import DigestSigner
from polyloly.bot.alerts import AlertRules, AppriseAlerts
from polyloly.bot.chain import ChainBalancesAccount, live_onchain, recycle_config
from polyloly.bot.config_map import (
    execution_config,
    feed_settings,
    node_params,
    polymarket_config,
)
from polyloly.bot.console.state import ConsoleFeed, console_state
from polyloly.bot.control import ControlServer
from polyloly.bot.crashpoints import CrashPoints
from polyloly.bot.datadir import data_folder
from polyloly.bot.heap import freeze_heap
from polyloly.bot.metrics import Metrics, MetricsServer
from polyloly.bot.node_options import PM_TRANSLATORS, NodeMode, NodeOptions
from polyloly.bot.node_report import (
    FeedUse,
    RunTally,
    few_sources,
    refusal_message,
    summary_lines,
    unbound_feeds,
)
from polyloly.bot.node_servers import start_servers
from polyloly.bot.settings import Settings
from polyloly.domain.events import Event, MatchBound, OperatorCommand, TimerTick
from polyloly.domain.markets import MarketMapping, MarketRegistry, TeamAliases
from polyloly.domain.money import fmt
from polyloly.execution.budget import BudgetLimits, KeeperConfig
from polyloly.execution.engine import ExecutionEngine, ExecutionPorts, Translate
from polyloly.execution.events import VenueSnapshot
from polyloly.execution.instances import NO_METADATA, instance_metadata
from polyloly.execution.paper import PaperConfig, PaperVenue
from polyloly.execution.presign import OrderTarget
from polyloly.execution.presigner import Presigner
from polyloly.node.core import Core, NodeKernel
from polyloly.node.predecide import recover_written
from polyloly.node.session import MarketDiscovered, SessionStarted
from polyloly.runtime.clock import NS_PER_S, Clock, LiveClock
from polyloly.runtime.errors import ConfigError, HaltError
from polyloly.runtime.sleep import AsyncioSleeper, asyncio_sleep
from polyloly.storage.db import Database
from polyloly.storage.event_log import EventLogReader, EventLogWriter
from polyloly.storage.projection import Projection

if TYPE_CHECKING:
    from polyloly.bot.telegram import TelegramCommands

__all__ = [
    "TradingNode",
]

_log = structlog.get_logger(__name__)

_PROJECTION_QUEUE: Final = 100_000
_BINDING_CHECK_S: Final = 60.0
"""How long after start-up a feed that answers but binds no market is reported."""


def _feed_counters(stats: FeedStats) -> dict[str, int]:
    return {
        "messages": stats.events,
        "malformed": stats.malformed,
        "reconnects": stats.reconnects,
        "throttled": stats.throttled,
    }


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
        self.folder = data_folder(settings, options.mode.value)
        self.log_dir = options.event_log_dir or self.folder.events
        self.writer: EventLogWriter | None = None
        self.onchain: OnChainCtf | None = None  # polymarket.chain: merges and redemptions
        self.kernel: NodeKernel | None = None
        self.core: Core | None = None
        self.adapter: PolymarketAdapter | None = None
        self.paper: PaperVenue | None = None
        self.presigner: Presigner | None = None
        self.shared: RedisBudget | None = None
        """The risk budget, kill switch and heartbeats shared with other instances (Redis)."""
        self.feeds: list[EsportsFeed] = []
        self.directory: MatchDirectory | None = None
        self.binder: Binder | None = None
        self.metrics: Metrics | None = None
        self.metrics_server: MetricsServer | None = None
        self.control: ControlServer | None = None
        self.telegram: TelegramCommands | None = None
        self.alerts: AppriseAlerts | None = None
        self.projection: Projection | None = None
        self.discovered: list[DiscoveredMarket] = []
        self.address = ""
        self.started_ns = 0
        self.started = False
        self.equity_start = 0
        self.tally = RunTally()
        self.console_feed = ConsoleFeed()
        self.on_progress: Callable[[str], None] = _quiet
        """Told each set-up step as it starts (the command line prints them)."""
        self._snapshot: VenueSnapshot | None = None
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
    def tick_interval_s(self) -> float:
        """The timer tick's period: the command line's, else ``bot.tick_interval_s``."""
        given = self.options.tick_interval_s
        return self.settings.bot.tick_interval_s if given is None else given

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
        """Bring every component up; raise if the venue cannot be reconciled.

        The control and metrics ports are bound first: a port that cannot be bound raises
        :class:`~polyloly.runtime.errors.PortInUseError` before anything is logged or sent.
        """
        opts, clock, say = self.options, self.clock, self.on_progress
        self.started_ns = clock.now_ns()
        self.metrics = Metrics(clock)
        self.metrics_server, self.control = await start_servers(
            self.settings, opts, self.metrics, self, say, console=self.console_state
        )
        self.metrics.watch_refusals(self._refusals)
        recorded: list[Event] = []
        if self._has_log():
            say(f"reading the event log {self.log_dir}")
            recorded = list(EventLogReader([self.log_dir]))  # a corrupt line stops start-up
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
        say(f"connecting to {pm_config.clob_url}")
        self.adapter = await create_adapter(
            pm_config, self.publish, clock, heartbeat=opts.mode is NodeMode.LIVE
        )
        self._start_observability(translators)
        if self.adapter.heartbeat is not None and self.metrics is not None:
            self.metrics.watch_heartbeat(self.adapter.heartbeat.stats.as_dict)
        if self.trading:
            self._build_core(translators)
            await self._recover(recorded)
            assert self.metrics is not None  # noqa: S101  (observability starts first)
            self._watch_engine(self.metrics)
            self.kernel.subscribe(VenueSnapshot, self._keep_snapshot)
        self.tally.attach(self.kernel)
        self.console_feed.attach(self.kernel)
        await self._start_projection(translators, recorded)
        self._arm_crash_point()
        self._publish_session()  # the strategies start from the orders the log left in flight
        await self._discover()
        if self.trading:
            # The venue's account is read before any book or result reaches a strategy: what
            # was in flight at a crash is resent or settled, and counted, before anything
            # new is decided (see docs/execution.md, "Restarts").
            say("reconciling with the venue")
            await self._reconcile()
            self.equity_start = self.engine.state.equity()
        self.adapter.start()
        if self.presigner is not None:
            self.presigner.start()
        self._watch_market_ws()
        self._start_feeds()
        say(f"feeds: {', '.join(f.source for f in self.feeds) or 'none enabled'}")
        await self._start_loops()
        self.started = True
        freeze_heap()
        _log.info("node.started", mode=opts.mode.value, markets=len(self.discovered))

    async def _recover(self, recorded: list[Event]) -> None:
        """The ledger from the log, and any order written just before a crash whose
        ``OrderSubmitted`` never reached it (pre-decided orders are written first)."""
        self.engine.recover(recorded)
        if self.core is not None and self.core.predecide is not None:
            await recover_written(self.engine, recorded)

    async def _start_loops(self) -> None:
        """The timer, the binding check and, when ``telegram.enabled``, Telegram commands
        (imported only then)."""
        self.spawn("timer", self._timer())
        self.spawn("binding-check", self._check_binding())
        if not self.settings.telegram.enabled:
            return
        from polyloly.bot.telegram import start_telegram  # noqa: PLC0415 - only when enabled

        self.telegram = await start_telegram(
            self.settings, self, self.console_state, self.on_progress
        )

    def _arm_crash_point(self) -> None:
        """Tests only: ``POLYLOLY_CRASH_AT`` kills the process at a point of an order's life.

        Attached after every other subscriber (see :mod:`polyloly.bot.crashpoints`).
        """
        crash = CrashPoints.from_env(os.environ)
        if crash is None or self.kernel is None or not self.trading:
            return
        _log.warning("node.crash_point_armed", point=crash.point.value, nth=crash.nth)
        crash.attach(self.kernel, self.engine.orders)

    def _has_log(self) -> bool:
        return Path(self.log_dir).is_dir() and any(Path(self.log_dir).glob("events-*.jsonl*"))

    def _build_core(self, translators: Mapping[type[Event], Translate]) -> None:
        assert self.kernel is not None  # noqa: S101  (start order)
        assert self.adapter is not None  # noqa: S101
        core = self.core = Core(self.kernel, books=self.adapter.market_ws.books)
        alerts = self.alerts
        assert alerts is not None  # noqa: S101  (observability starts first)
        if self.options.mode is NodeMode.LIVE:
            merger = None
            # on-chain merge and redeem when polymarket.chain is configured (bot/chain.py)
            onchain = self.onchain = live_onchain(self.settings, core)
            if self.options.merger is not None:
                merger = self.options.merger(self.adapter, self._funder())
            elif onchain is not None:
                merger = onchain
            instance = self.settings.instances.id
            ports = execution_ports(
                self.adapter,
                self.clock,
                tick_of=core.tick_of,
                alerts=alerts,
                neg_risk_of=core.neg_risk_of,
                merger=merger,
                metadata=instance_metadata(instance) if instance else NO_METADATA,
            )
            config = execution_config(self.settings)
            if onchain is not None:
                ports = replace(ports, redeemer=onchain)
                if self.settings.adapters.polymarket.chain.balances_from_chain:
                    ports = replace(ports, account=ChainBalancesAccount(ports.account, onchain))
                config = replace(config, recycle=recycle_config(self.settings))
            self.address = self._funder()
            engine = core.attach_engine(
                ports,
                sleep=asyncio_sleep,
                config=config,
                translators=translators,
                resync_types=(pm.UserResync,),
            )
            self._share_budget(engine)
            self._build_presigner(core, engine)
            return
        paper = self.paper = PaperVenue(
            self.clock,
            PaperConfig(starting_collateral=self.options.paper_collateral),
            books=core.books,  # the node's one book set (fills against the books it trades on)
        )
        ports = ExecutionPorts(
            signer=DigestSigner(),
            venue=paper,
            account=paper,
            alerts=alerts,
            cancel_all=paper,
            merger=paper,
        )
        engine = core.attach_engine(
            ports, sleep=asyncio_sleep, config=execution_config(self.settings)
        )
        self._build_presigner(core, engine)
        paper.attach(self.kernel)
        paper.publish = self._defer  # venue updates arrive as their own inputs, like a socket
        core.market_listeners.append(self._paper_market)

    def _watch_engine(self, metrics: Metrics) -> None:
        """Export the ledger's PnL, the presign pool and (several instances) their figures."""
        metrics.watch_pnl(self.engine.state)
        metrics.watch_presign(self.engine.presign.stats.as_dict)
        if self.engine.state.instance_id is not None:
            metrics.watch_instances(partial(instance_figures, self.engine))

    def _share_budget(self, engine: ExecutionEngine) -> None:
        """With ``REDIS_URL`` and an instance id: reserve every order in the shared budget."""
        url, inst = self.settings.storage.redis_url, self.settings.instances
        if url is None or inst.id is None:
            return
        risk = self.settings.risk
        limits = BudgetLimits(
            max_total=risk.max_total_exposure_micros,
            max_market=risk.max_position_per_market_micros,
            max_daily_loss=risk.max_daily_loss_micros,
            lease_ms=int(inst.lease_s * 1000),
        )
        shared = self.shared = RedisBudget(
            url.get_secret_value(),
            instance=inst.id,
            limits=limits,
            prefix=inst.key_prefix,
            timeout_s=inst.redis_timeout_s,
        )
        keeper = engine.use_budget(
            shared,
            shared,
            KeeperConfig(instance=inst.id, limits=limits, on_down=inst.on_redis_down),
        )
        keeper.attach()

    def _build_presigner(self, core: Core, engine: ExecutionEngine) -> None:
        """Live and paper only: a replay re-feeds the ``PresignReady`` events it publishes."""
        ta = self.settings.strategies.temporal_arb
        if not (ta.enabled and ta.presign_orders):
            return
        assert self.kernel is not None  # noqa: S101  (start order)
        presigner = self.presigner = Presigner(
            self.kernel, engine.presign, engine.signer, self._presign_targets, tick_of=core.tick_of
        )
        presigner.attach()
        core.on_configure.append(lambda _params: self._presign_reconfigured())
        venue = engine.ports.venue
        if isinstance(venue, PolymarketVenue):  # live: each result's order decided ahead
            core.enable_predecide(venue, asyncio.get_running_loop().call_soon)

    def _presign_reconfigured(self) -> None:
        """A session configured the core: new strategy, maybe new ages; sign its targets."""
        if self.presigner is not None and self.core is not None and self.core.engine is not None:
            self.presigner.config = self.core.engine.presign.config
            self.presigner.wake()

    def _presign_targets(self) -> list[OrderTarget]:
        temporal = self.core.temporal if self.core is not None else None
        return list(temporal.presign_targets()) if temporal is not None else []

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
                seconds_delay=mapping.seconds_delay,
                match_id=mapping.match_id,
                game_number=mapping.game_number,
            )

    def _start_observability(self, translators: Mapping[type[Event], Translate]) -> None:
        assert self.kernel is not None  # noqa: S101
        assert self.metrics is not None  # noqa: S101  (start creates it first)
        metrics = self.metrics
        metrics.attach(self.kernel, translators)
        alerts = self.alerts = AppriseAlerts.from_settings(
            self.settings.alerts, on_outcome=metrics.alert_outcome
        )
        alerts.start()
        AlertRules(alerts, self.clock).attach(self.kernel, translators)
        metrics.watch_queue("alerts", lambda: alerts.queued)
        metrics.watch_queue("projection", lambda: len(self._projection_buffer))
        if self.adapter is not None:  # market messages refused by reason (book_rules)
            metrics.watch_refused_frames(self.adapter.market_ws.refused.copy)

    async def _start_projection(
        self, translators: Mapping[type[Event], Translate], recorded: list[Event]
    ) -> None:
        if not self.options.projection or self.kernel is None:
            return
        db = Database(self.folder.database_url)
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
        ta = self.settings.strategies.temporal_arb
        if ta.enabled and ta.allow_single_source_final:
            warning = (
                "strategies.temporal_arb.allow_single_source_final is ON: a match result one "
                "source reported and nobody confirmed will be traded after the truth timeout"
            )
            _log.warning("temporal_arb.single_source_final_allowed", detail=warning)
            self.on_progress(f"WARNING: {warning}")
        now = self.clock.now_ns()
        merges = self.options.mode is NodeMode.PAPER or self.options.merger is not None
        merges = merges or self.onchain is not None
        params = node_params(self.settings, merges=merges)
        if self.onchain is not None:  # logged: a replay recycles exactly as this run did
            params = msgspec.structs.replace(params, recycle=recycle_config(self.settings))
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
        self.on_progress(f"discovering esports markets on {self.adapter.config.gamma_url}")
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
        directory = self.directory = build_directory(settings)
        overrides = self.settings.adapters.esports.bindings
        bound = {b.match_id for b in settings.matches}
        for binding in self.options.bindings:
            directory.bind(binding)
            bound.add(binding.match_id)
        wanted: list[WantedMatch] = []
        pinned: list[tuple[str, str, str]] = []
        for found in self.discovered:
            mapping = found.mapping
            for key in (mapping.match_id, mapping.market_id):
                pinned += [(mapping.match_id, s, pid) for s, pid in overrides.get(key, {}).items()]
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
            wanted.append(
                WantedMatch(
                    mapping.match_id, found.game, mapping.team_a, mapping.team_b, start_ns,
                    found.best_of,
                )
            )  # fmt: skip
        self.feeds = build_feeds(
            settings,
            clock=self.clock,
            sleeper=AsyncioSleeper(),
            publish=self.publish,
            directory=directory,
        )
        finders = [f for f in self.feeds if isinstance(f, (GridFeed, LiquipediaFeed))]
        binder = self.binder = Binder(
            finders, directory, publish=self.publish, clock=self.clock, sleeper=AsyncioSleeper()
        )
        for match_id, source, pid in pinned:
            binder.bound(match_id, source, pid, "config")  # overrides win over every search
        directory.on_learn = self._learned
        for want in wanted:
            binder.want(want)
        if binder.pending():
            self.spawn("binder", binder.run())
        for feed in self.feeds:
            self.spawn(f"feed:{feed.source}", feed.run())
            stats = getattr(getattr(feed, "core", None), "stats", None)
            if self.metrics is not None and stats is not None:
                self.metrics.watch_feed(feed.source, partial(_feed_counters, stats))

    def _learned(self, match_id: str, source: str, provider_id: str) -> None:
        now = self.clock.now_ns()
        self.publish(
            MatchBound(
                ts_event=now, ts_init=now, match_id=match_id, source=source,
                provider_match_id=provider_id, how="names",
            )
        )  # fmt: skip

    def _watch_market_ws(self) -> None:
        if self.metrics is not None and self.adapter is not None:
            self.metrics.watch_feed(
                "polymarket.market_ws", partial(_ws_counters, self.adapter.market_ws)
            )

    async def _timer(self) -> None:
        interval = self.tick_interval_s
        while True:
            await asyncio.sleep(interval)
            now = self.clock.now_ns()
            self.publish(TimerTick(ts_event=now, ts_init=now))
            if self.kernel is not None:
                self.kernel.flush()  # batched market data reaches the disk within one tick

    async def _reconcile(self) -> None:
        engine = self.engine
        reconciler = engine.reconciler
        engine.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.options.reconcile_timeout_s
        errors = 0
        while reconciler.last_ok is None or reconciler.running:
            if loop.time() > deadline:
                # The venue has not let a pass finish (hung or failing reads): nothing is
                # traded until one does, so keep trying rather than exit — a bad minute at the
                # venue must not turn a restart into a failed start. Say so each period.
                _log.warning(
                    "node.reconcile_waiting",
                    waited_s=round(loop.time() - started, 1),
                    failed_passes=errors,
                    detail="start-up reconciliation not done: the venue's reads keep failing; "
                    "nothing is traded until a pass completes",
                )
                deadline = loop.time() + self.options.reconcile_timeout_s
            if not reconciler.running and reconciler.last_ok is None:
                # The pass could not read the venue (its own retries ran out): try again,
                # backing off; a bad minute must not stop a restart.
                errors += 1
                await asyncio.sleep(min(0.25 * 2**errors, 5.0))
                reconciler.request(startup=True)
                continue
            await asyncio.sleep(0.05)
        if not engine.reconciler.last_ok:
            raise HaltError(
                refusal_message(
                    engine.state,
                    self._snapshot,
                    registry=self.core.registry if self.core is not None else None,
                    log_dir=Path(self.log_dir),
                    mode=self.options.mode.value,
                )
            )

    def _keep_snapshot(self, snapshot: VenueSnapshot) -> None:
        self._snapshot = snapshot

    async def _check_binding(self) -> None:
        await asyncio.sleep(_BINDING_CHECK_S)
        for warning in binding_warnings(self):
            _log.warning("node.unbound", detail=warning)
        for warning in source_warnings(self):
            _log.warning("node.few_sources", detail=warning)

    def summary(self) -> list[str]:
        """The end-of-run summary: duration, events by source, orders, fills, PnL, the log."""
        return node_summary(self)

    # -- stop -------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Cancel our orders (live), stop every component, flush and close the log.

        A node whose start failed cancels nothing: it never traded, and the account may
        be another bot's.
        """
        if self._stopping:
            return
        if self.kernel is None:
            self._stopping = True
            await self._stop_sinks()  # start failed early: release the ports it bound
            return
        if self.started and self.options.cancel_on_stop and self.core is not None:
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
        if self.onchain is not None:
            await self.onchain.aclose()
        await self._stop_sinks()
        self.kernel.flush()
        if self.writer is not None:
            self.writer.close()
        gc.unfreeze()  # the node's objects may be collected again (a process running several)
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
        if self.shared is not None:
            await self.shared.aclose()

    async def _stop_sinks(self) -> None:
        """Deliver queued alerts, close the servers, write the last projection batch."""
        if self.telegram is not None:
            await self.telegram.stop()
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
        return node_status(self)

    # -- several instances on one account (control API ``all_instances``) ------------------

    def halt_all_instances(self, reason: str) -> None:
        """Halt every instance sharing the account (the shared switch; this one at once)."""
        self._command("halt_all", reason or "operator halt --all-instances")

    def resume_all_instances(self) -> None:
        """Resume every instance sharing the account."""
        self._command("resume_all", "operator resume --all-instances")

    def cancel_all_instances(self) -> None:
        """Cancel every open order of the account, every instance's (the venue's cancel-all)."""
        self._command("cancel_all_instances", "operator cancel-all --all-instances")

    def _refusals(self) -> dict[str, int]:
        """Operator requests refused, by channel (the metrics read it)."""
        out = {"control": self.control.rejected if self.control is not None else 0}
        if self.telegram is not None:
            out["telegram"] = self.telegram.ignored
        return out

    def console_state(self) -> dict[str, Any]:
        """What the web console shows (:func:`~polyloly.bot.console.state.console_state`)."""
        return console_state(self, self.console_feed)


def _quiet(_text: str) -> None:
    """The default progress sink: says nothing."""


# -- reading a node (the summary and /status; the formatting is bot/node_report.py) -----


def feed_uses(node: TradingNode) -> list[FeedUse]:
    """Each esports feed's answered requests (or socket frames) and failures so far."""
    out: list[FeedUse] = []
    for feed in node.feeds:
        stats = getattr(getattr(feed, "core", None), "stats", None)
        if stats is not None:
            answered = max(stats.requests - stats.failures, 0) + stats.frames
            out.append(FeedUse(feed.source, answered, stats.failures))
    return out


def binding_warnings(node: TradingNode) -> list[str]:
    """No market discovered, or feeds that answer but bind no market (:func:`unbound_feeds`)."""
    if not node.options.discover:
        return []
    if not node.discovered:
        return [f"no LoL or Dota 2 market found on {node.settings.adapters.polymarket.gamma_url}"]
    return unbound_feeds(node.tally, feed_uses(node), len(node.discovered))


def source_warnings(node: TradingNode) -> list[str]:
    """Live markets (started by Gamma's clock) with fewer than two sources that can reach FINAL."""
    directory = node.directory
    if directory is None or not node.discovered or not node.trading:
        return []  # ``record`` trades nothing: its feeds need no second source
    now = node.clock.now_ns()
    live = {
        d.mapping.match_id
        for d in node.discovered
        if d.game_start_ns is None or d.game_start_ns <= now
    }
    bound = {m: directory.sources(m) for m in sorted(live)}
    minimum = node.settings.strategies.temporal_arb.min_sources
    return few_sources(bound, node.settings.truth.confirm_only, max(minimum, 2))


def node_summary(node: TradingNode) -> list[str]:
    """The end-of-run summary of ``node`` (see :func:`summary_lines`)."""
    core = node.core
    engine = core.engine if core is not None else None
    fills: dict[str, int] | None = None
    if engine is not None and core is not None:
        fills = dict(core.feedback.fills_by_strategy) if core.feedback is not None else {}
    pnl = (node.equity_start, engine.state.equity()) if engine and node.started else None
    return summary_lines(
        mode=node.options.mode.value,
        duration_s=(node.clock.now_ns() - node.started_ns) / NS_PER_S,
        logged=node.writer.count if node.writer is not None else 0,
        log_dir=Path(node.log_dir),
        market_frames=node.adapter.market_ws.frames if node.adapter is not None else None,
        feeds={use.source: use.answered for use in feed_uses(node)},
        tally=node.tally,
        fills=fills,
        pnl=pnl,
        warnings=[*binding_warnings(node), *source_warnings(node)] if node.started else (),
    )


def instance_figures(engine: ExecutionEngine) -> dict[str, int]:
    """Several instances on one account: what this one saw of the others, and its budget."""
    state, keeper = engine.state, engine.budget
    out = {
        "foreign_orders": len(state.foreign_orders),
        "foreign_trades": len(state.foreign_trades),
    }
    if keeper is not None:
        out["budget_up"] = int(bool(keeper.available))
        out["budget_unavailable_orders"] = keeper.stats.unavailable
        for reason, count in keeper.stats.refused.items():
            out[f"budget_refused_{reason}"] = count
    return out


def node_status(node: TradingNode) -> dict[str, Any]:
    """A JSON-ready snapshot of ``node`` (what the control API's ``/status`` serves)."""
    out: dict[str, Any] = {
        "mode": node.options.mode.value,
        "version": __version__,
        "uptime_s": (node.clock.now_ns() - node.started_ns) // NS_PER_S,
        "markets": len(node.discovered),
        "events": node.kernel.published if node.kernel is not None else 0,
    }
    core = node.core
    if core is None or core.engine is None:
        return out
    engine = core.engine
    state = engine.state
    out.update(
        halted=state.halted,
        halt_reason=state.halted.partition(": ")[2] if state.halted else None,
        reconciled=engine.reconciler.last_ok,
        account=node.address or None,
        equity=fmt(state.equity(), 2),
        pnl=fmt(state.equity() - node.equity_start, 2),
        daily_pnl=fmt(state.daily_pnl(), 2),
        collateral=fmt(state.collateral(), 2),
        open_orders=len(state.open_orders()),
        positions={
            token: fmt(view.expected, 2)
            for token, view in sorted(state.positions.items())
            if view.expected
        },
        feeds={name: feed.value for name, feed in sorted(engine.gate.c.feeds.items())},
        intents=dict(core.intents),
        fills=dict(core.feedback.fills_by_strategy) if core.feedback else {},
    )
    if state.instance_id is not None:
        keeper = engine.budget
        out["instance"] = {
            "id": state.instance_id,
            "foreign_orders": len(state.foreign_orders),
            "foreign_trades": len(state.foreign_trades),
            "shared_budget": keeper is not None,
            "budget_available": keeper.available if keeper is not None else None,
            "budget_refused": dict(keeper.stats.refused) if keeper is not None else {},
        }
    return out
