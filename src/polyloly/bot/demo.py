"""``polyloly demo``: the whole bot, live, against the local simulators, in about a minute.

The demo starts, in this process, on free loopback ports:

* the esports provider feeds (:class:`~polyloly.sim.esports.EsportsFeedServer`) playing a
  LoL and a Dota 2 best-of-3 scenario, time-compressed;
* the exchange simulator (:class:`~polyloly.sim.exchange.ExchangeSimulator`) listing each
  match's market and its "Game N Winner" markets, with synthetic makers quoting around
  the scenario's fair value as a market *lagging the truth* prices it, and takers;
* the full bot (:class:`~polyloly.bot.app.TradingNode`) in **live** mode: py-clob-client-v2,
  local signing with a throwaway key, both WebSocket channels, heartbeats, Gamma
  discovery, both strategies.

A driver follows the scenario truth: it marks a market live while its game is played (the
sports taker delay applies) and resolves each market once the lagging market has caught
up. At the end the demo prints a summary, writes the HTML report and keeps the event log
(replayable with ``polyloly backtest``) in the output folder it prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import httpx
from eth_account import Account

from polyloly.adapters.esports import EsportsSettings as FeedSettings
from polyloly.adapters.esports import MatchBindingSettings, load_esports_settings
from polyloly.adapters.polymarket.execution import SimControlMerger
from polyloly.backtest.report import write_report
from polyloly.backtest.report_data import build_report_data
from polyloly.bot.app import TradingNode
from polyloly.bot.config_loader import load_settings
from polyloly.bot.control import ensure_token_file
from polyloly.bot.datadir import FolderLock
from polyloly.bot.demo_chain import DemoChain
from polyloly.bot.logging import register_secret
from polyloly.bot.node_options import PM_TRANSLATORS, NodeMode, NodeOptions
from polyloly.bot.settings import DemoSettings, Settings
from polyloly.domain.money import ONE
from polyloly.runtime.clock import NS_PER_S, Clock, LiveClock
from polyloly.runtime.sleep import AsyncioSleeper
from polyloly.sim.esports import EsportsFeedServer, ScenarioFairValue, ScenarioRuntime
from polyloly.sim.exchange import ExchangeSimulator, Listing, SimConfig
from polyloly.sim.exchange.scenarios import bo3_markets
from polyloly.sim.scenarios import Scenario, load_scenario
from polyloly.sim.scenarios.model import StepKind
from polyloly.storage.event_log import EventLogReader

__all__ = [
    "DEMO_SCENARIOS",
    "DemoOptions",
    "DemoResult",
    "DemoWorld",
    "demo_options",
    "run_demo",
]

DEMO_SCENARIOS: Final = ("lol_bo3_pause", "dota2_bo3_2_0")
"""A LoL and a Dota 2 best-of-3 (see ``polyloly/sim/scenarios/``)."""

DEMO_KEYS: Final = {
    "pandascore": "demo-pandascore-key",
    "grid": "demo-grid-key",
    "liquipedia": "demo-liquipedia-key",
    "lolesports": "demo-lolesports-key",
}
_TITLES: Final = {"lol": ("LoL", "LCK"), "dota2": ("Dota 2", "DreamLeague")}
_TICK: Final = 10_000  # 0.01: the makers' gaps are whole ticks
_GAP_TICKS: Final = 5  # 0.05 under $1 beats the 0.03 taker fee (at most 0.015 a pair)
_SETTLE_TIMEOUT_S: Final = 8.0


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How the demo runs.

    ``scenario_s`` is how long (real seconds) the scenarios' games take; the speed
    follows from it unless ``speed`` (scenario seconds per real second) is given;
    ``realtime`` plays at true speed. ``market_lag_s`` is how far (real seconds) the
    exchange's makers lag the truth. ``view`` is ``auto`` (live table on a terminal,
    plain lines otherwise), ``live``, ``plain`` or ``none``. :func:`demo_options` fills
    the defaults from the ``demo`` settings section.
    """

    out_dir: Path | None = None
    scenarios: tuple[str, ...] = DEMO_SCENARIOS
    scenario_s: float = 60.0
    speed: Fraction | None = None
    realtime: bool = False
    market_lag_s: float = 4.0
    warmup_s: float = 3.0
    seed: int = 7
    view: str = "auto"
    config_dir: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    chain: bool = False  # settle on a local chain (anvil): merges and redemptions on-chain


@dataclass(slots=True)
class DemoResult:
    """What a demo run produced (``ok`` False lists the ``problems``)."""

    out_dir: Path
    events_dir: Path
    report_path: Path | None = None
    metrics_path: Path | None = None
    intents: dict[str, int] = field(default_factory=dict)
    fills: dict[str, int] = field(default_factory=dict)
    pnl: int = 0
    equity_start: int = 0
    equity_end: int = 0
    duration_s: float = 0.0
    speed: Fraction = Fraction(1)
    kill_switch: str | None = None
    presign: dict[str, int] = field(default_factory=dict)
    chain_txs: list[str] | None = None  # --chain: the merges and redemptions on-chain
    chain_reconciled: bool = False  # --chain: the last pass matched the chain's balances
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the demo did what it promises."""
        return not self.problems


def demo_options(settings: DemoSettings, **overrides: Any) -> DemoOptions:
    """Demo options from the ``demo`` settings; ``overrides`` (the command line) win.

    An override of ``None`` is ignored (an option the user did not give).
    """
    base: dict[str, Any] = {
        "scenarios": tuple(settings.scenarios),
        "scenario_s": settings.scenario_s,
        "market_lag_s": settings.market_lag_s,
        "warmup_s": settings.warmup_s,
        "seed": settings.seed,
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    return DemoOptions(**base)


# ---------------------------------------------------------------------------------------------
# The simulated world
# ---------------------------------------------------------------------------------------------


def demo_speed(scenarios: list[Scenario], scenario_s: float) -> Fraction:
    """Scenario seconds per real second so that every game is over in ``scenario_s``."""
    last = max(
        (s.at_ms for scn in scenarios for s in scn.steps if s.kind is StepKind.GAME_END),
        default=60_000,
    )
    return max(Fraction(1), Fraction(last, 1000) / Fraction(str(scenario_s)))


@dataclass(slots=True)
class _Market:
    listing: Listing
    runtime: ScenarioRuntime
    game_number: int | None
    resolved: bool = False


class DemoWorld:
    """The simulators and the truth-following driver (start, drive, stop)."""

    def __init__(self, options: DemoOptions, clock: Clock) -> None:
        self.options = options
        self.clock = clock
        raw = [load_scenario(name) for name in options.scenarios]
        self.speed = (
            Fraction(1)
            if options.realtime
            else options.speed or demo_speed(raw, options.scenario_s)
        )
        lag_ms = int(Fraction(str(options.market_lag_s)) * self.speed * 1000)
        self.scenarios = [replace(s, market_lag_ms=max(s.market_lag_ms, lag_ms)) for s in raw]
        start_ns = clock.now_ns() + int(options.warmup_s * NS_PER_S)
        self.runtimes = [
            ScenarioRuntime(s, clock, start_ns=start_ns, speed=self.speed) for s in self.scenarios
        ]
        self.fair = ScenarioFairValue(self.runtimes, {})
        self.exchange = ExchangeSimulator(
            SimConfig(
                seed=options.seed,
                trade_mined_delay_ms=300,
                trade_confirmed_delay_ms=600,
                tick_interval_ms=20,
            ),
            clock=clock,
            fair_value=self.fair,
        )
        self.feeds = EsportsFeedServer(
            self.runtimes, clock=clock, sleeper=AsyncioSleeper(), api_keys=DEMO_KEYS
        )
        self.markets: list[_Market] = []
        self._task: asyncio.Task[None] | None = None

    def _list_markets(self) -> None:
        for runtime in self.runtimes:
            scn = runtime.scenario
            title, league = _TITLES.get(scn.game, (scn.game, "League"))
            first = runtime.wall_s(min((s.at_ms for s in scn.steps), default=0))
            specs = bo3_markets(
                game=scn.game,
                title=title,
                team_a=scn.team_a.name,
                team_b=scn.team_b.name,
                league=league,
                event_slug=scn.match_id,
                start=_iso(first),
                end=_iso(runtime.wall_s(scn.end_ms)),
            )
            for spec in specs:
                listing = self.exchange.add_market(replace(spec, tick=_TICK))
                self.fair.bind(listing.condition_id, scn.match_id, spec.game_number)
                self.markets.append(_Market(listing, runtime, spec.game_number))
                self._add_traders(listing)

    def _add_traders(self, listing: Listing) -> None:
        self.exchange.add_traders(
            listing.condition_id,
            makers=1,
            takers=1,
            spread=40_000,
            size=150 * ONE,
            lag_ms=250,
            refresh_ms=1_000,
            gap_probability=0.3,
            gap_ticks=_GAP_TICKS,
            taker_interval_ms=1_500,
        )

    async def start(self) -> None:
        """List the markets and serve both simulators."""
        self._list_markets()
        await self.feeds.start()
        await self.exchange.start()

    def bindings(self) -> list[MatchBindingSettings]:
        """The scenario matches as the esports directory should know them."""
        return [
            MatchBindingSettings(
                match_id=r.scenario.match_id,
                game=r.scenario.game,
                team_a=r.scenario.team_a.name,
                team_b=r.scenario.team_b.name,
                best_of=r.scenario.best_of,
                scheduled_at_s=r.wall_s(r.scenario.scheduled_ms),
                provider_ids={n: p.match_id for n, p in r.scenario.providers.items()},
            )
            for r in self.runtimes
        ]

    def aliases(self) -> dict[str, list[str]]:
        """Every team spelling the providers use."""
        out: dict[str, list[str]] = {}
        for runtime in self.runtimes:
            out.update(runtime.scenario.aliases())
        return out

    def feed_settings(self) -> FeedSettings:
        """The esports adapters pointed at the local feeds, polling at demo cadence."""
        urls = self.feeds.urls()
        stale_ms = int(600_000 / self.speed) + 60_000  # ten scenario minutes, at least 1 min
        fast = {"poll_interval_ms": 250, "stale_after_ms": stale_ms}
        limit = {"rate_limit_requests": 100_000, "rate_limit_window_ms": 60_000}
        providers = {
            "opendota": {
                "base_url": urls["opendota"],
                **fast,
                **limit,
                "frozen_polls": 10**6,
                "fast_poll_interval_ms": 0,
                "daily_budget": 0,  # the local feed has no quota
            },
            "pandascore": {
                "base_url": urls["pandascore"],
                "ws_url": urls["pandascore_ws"],
                "api_key": DEMO_KEYS["pandascore"],
                **fast,
                **limit,
            },
            "grid": {
                "base_url": urls["grid"],
                "ws_url": urls["grid_ws"],
                "api_key": DEMO_KEYS["grid"],
                **fast,
                **limit,
            },
            "liquipedia": {
                "base_url": urls["liquipedia"],
                "api_key": DEMO_KEYS["liquipedia"],
                "poll_interval_ms": 1_000,
                "stale_after_ms": stale_ms,
                **limit,
            },
            "lolesports": {
                "base_url": urls["lolesports"],
                "feed_url": urls["lolesports_feed"],
                "api_key": DEMO_KEYS["lolesports"],
                **fast,
                **limit,
            },
            # Polymarket's own sports channel, served by the same local feeds (it lags them).
            "polymarket_sports": {"ws_url": urls["polymarket_sports"], "stale_after_ms": 15_000},
        }
        bindings = [
            {
                "match_id": b.match_id,
                "game": b.game,
                "team_a": b.team_a,
                "team_b": b.team_b,
                "best_of": b.best_of,
                "scheduled_at_s": b.scheduled_at_s,
                "provider_ids": b.provider_ids,
            }
            for b in self.bindings()
        ]
        return load_esports_settings(
            {"providers": providers, "team_aliases": self.aliases(), "matches": bindings}
        )

    # -- driving the venue from the truth ---------------------------------------------------

    def run_driver(self) -> None:
        """Start the task that marks markets live and resolves them."""
        self._task = asyncio.get_running_loop().create_task(self._drive(), name="demo-driver")

    async def _drive(self) -> None:
        while True:
            self.step()
            await asyncio.sleep(0.05)

    def step(self) -> None:
        """Bring every market's live flag and resolution in line with the scenario."""
        for market in self.markets:
            if market.resolved:
                continue
            runtime, listing = market.runtime, market.listing
            t_ms = runtime.t_ms()
            truth = runtime.scenario.state(None, t_ms)
            games = {g.number: g for g in truth.games}
            if market.game_number is None:
                live = truth.status == "running" and any(g.winner is None for g in truth.games)
            else:
                game = games.get(market.game_number)
                live = game is not None and game.winner is None
            if live != listing.live:
                self.exchange.set_live(listing.condition_id, live)
            lagged = runtime.scenario.state(None, t_ms - runtime.scenario.market_lag_ms)
            winner = self._winner(lagged, market.game_number)
            if winner is not None:
                token = listing.token_ids[0 if winner == "a" else 1]
                self.exchange.resolve(listing.condition_id, token)
                market.resolved = True
            elif lagged.status == "finished" and market.game_number not in games:
                self.exchange.venue.set_accepting(listing.condition_id, False)
                market.resolved = True  # an unplayed game: closed, never resolved

    @staticmethod
    def _winner(state: Any, game_number: int | None) -> str | None:
        if game_number is None:
            return str(state.winner) if state.status == "finished" else None
        game = next((g for g in state.games if g.number == game_number), None)
        return None if game is None or game.winner is None else str(game.winner)

    @property
    def end_ns(self) -> int:
        """When the last market must have resolved: last game end + market lag + 2 s."""
        ends = []
        for runtime in self.runtimes:
            scn = runtime.scenario
            last = max((s.at_ms for s in scn.steps if s.kind is StepKind.GAME_END), default=0)
            ends.append(runtime.wall_ns(last + scn.market_lag_ms) + 2 * NS_PER_S)
        return max(ends)

    @property
    def done(self) -> bool:
        """Whether every market has been resolved or closed."""
        return all(m.resolved for m in self.markets)

    async def stop(self) -> None:
        """Stop the driver and both simulators."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.exchange.stop()
        await self.feeds.stop()


def _iso(unix_s: int) -> str:
    return dt.datetime.fromtimestamp(unix_s, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Settings and the run
# ---------------------------------------------------------------------------------------------


def demo_settings(world: DemoWorld, out_dir: Path, key: str, options: DemoOptions) -> Settings:
    """The ``demo`` configuration pointed at the simulators, with the throwaway key."""
    ex = world.exchange
    overrides: dict[str, Any] = {
        "adapters.polymarket.host": ex.http_url,
        "adapters.polymarket.ws_market_url": ex.market_ws_url,
        "adapters.polymarket.ws_user_url": ex.user_ws_url,
        "adapters.polymarket.gamma_url": ex.gamma_url,
        "adapters.polymarket.private_key": key,
        "bot.paper_trading": False,
        "bot.offline": True,
        "strategies.pair_arb.enabled": True,
        "strategies.pair_arb.max_total_cost_usdc": "300",
        "strategies.temporal_arb.enabled": True,
        "strategies.temporal_arb.max_exposure_usdc": "400",
        "storage.event_log_dir": str(out_dir / "events"),
        "storage.database_url": f"sqlite+aiosqlite:///{out_dir / 'polyloly.db'}",
        "teams.aliases": world.aliases(),
        **options.overrides,
    }
    return load_settings(
        env="demo",
        config_dir=options.config_dir,
        environ={},
        overrides=overrides,
        env_file=False,
    )


def _out_dir(options: DemoOptions, clock: Clock) -> Path:
    if options.out_dir is not None:
        return options.out_dir
    stamp = dt.datetime.fromtimestamp(clock.now_ns() // NS_PER_S, tz=dt.UTC)
    return Path("data/demo") / f"run-{stamp.strftime('%Y%m%d-%H%M%S')}"


async def run_demo(
    options: DemoOptions,
    *,
    on_started: Callable[[TradingNode, DemoWorld], Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo to the end (see the module docstring); never raises on a bad run.

    ``on_started`` is called once the node is up (the live view hooks in there) and may
    return an awaitable that is cancelled when the run ends; ``progress`` is told each
    set-up step. The output folder is locked for the run
    (:class:`~polyloly.bot.datadir.FolderLock`): a second demo writing into the same
    folder raises :class:`~polyloly.runtime.errors.FolderInUseError` before it starts anything.
    """
    clock = LiveClock()
    out = _out_dir(options, clock)
    with FolderLock(out):
        return await _run(options, out, clock, on_started, progress or _quiet)


def _quiet(_text: str) -> None:
    """Progress nobody listens to."""


async def _run(
    options: DemoOptions,
    out: Path,
    clock: LiveClock,
    on_started: Callable[[TradingNode, DemoWorld], Any] | None,
    say: Callable[[str], None],
) -> DemoResult:
    result = DemoResult(out_dir=out, events_dir=out / "events")
    account = Account.create()
    key = account.key.hex()
    register_secret(key)
    world = DemoWorld(options, clock)
    result.speed = world.speed
    node: TradingNode | None = None
    view: asyncio.Task[Any] | None = None
    t0 = clock.monotonic_ns()
    chain: DemoChain | None = None
    try:
        chain, settings = await _start_world(options, world, out, (key, account.address), say)
        say(f"starting the bot in live mode against them (output: {out})")
        node = _node(settings, world, result, clock, chain, options=options, say=say)
        node.on_progress = say
        await node.start()
        if chain is not None:
            chain.watch(node)
        result.equity_start = node.engine.state.equity()
        world.run_driver()
        if on_started is not None:
            started = on_started(node, world)
            if asyncio.iscoroutine(started):
                view = asyncio.get_running_loop().create_task(started)
        await _wait_until_done(node, world)
        if chain is not None:  # recycling done, the ledger checked against the chain
            verdict = await chain.finish(node)
            result.problems += [verdict] if verdict else []
            result.chain_reconciled = not verdict
        result.metrics_path = await _scrape_metrics(node, out)
        _collect(node, result)
    except Exception as exc:  # the demo reports every failure as a problem, then cleans up
        result.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        if view is not None:
            view.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await view
        if node is not None:
            await node.stop()
        await world.stop()
        if chain is not None:
            result.chain_txs = chain.transactions()  # every one, up to the node's stop
            await chain.stop()
    result.duration_s = (clock.monotonic_ns() - t0) / NS_PER_S
    if node is not None and node.core is not None:
        result.report_path = _report(result, node)
    _check(result)
    return result


async def _start_world(
    options: DemoOptions,
    world: DemoWorld,
    out: Path,
    wallet: tuple[str, str],
    say: Callable[[str], None],
) -> tuple[DemoChain | None, Settings]:
    """Start the simulators (and, with ``--chain``, anvil); the bot's settings."""
    key, address = wallet
    chain = None
    if options.chain:
        say("starting a local chain (anvil) and deploying the contracts")
        chain = await DemoChain.start(world, out)
    say(f"starting the local exchange and esports feeds ({', '.join(options.scenarios)})")
    await world.start()
    say(f"exchange simulator on {world.exchange.http_url}, esports feeds on {world.feeds.http_url}")
    if chain is None:
        return None, demo_settings(world, out, key, options)
    await chain.bridge.start()
    options = replace(options, overrides=options.overrides | chain.overrides())
    settings = demo_settings(world, out, key, options)
    say("funding the wallet on the chain and approving the exchange and the adapters")
    await chain.approve(settings, address)
    return chain, settings


def _node(
    settings: Settings,
    world: DemoWorld,
    result: DemoResult,
    clock: LiveClock,
    chain: DemoChain | None,
    *,
    options: DemoOptions,
    say: Callable[[str], None],
) -> TradingNode:
    merger = None  # on-chain: the node's own port (polymarket.chain)
    if chain is None:

        def merger(adapter: Any, funder: str) -> SimControlMerger:
            return SimControlMerger(world.exchange.http_url, funder, adapter.http)

    return TradingNode(
        settings,
        NodeOptions(
            mode=NodeMode.LIVE,
            event_log_dir=result.events_dir,
            metrics_port=0,
            control_port=None if "control.port" in options.overrides else 0,
            control_token=_control_token(settings, result.out_dir, say),
            esports=world.feed_settings(),
            merger=merger,
            bindings=tuple(world.bindings()),
            reconcile_timeout_s=20.0,
        ),
        clock=clock,
    )


def _control_token(settings: Settings, out: Path, say: Callable[[str], None]) -> str:
    """``control.token`` if configured, else a fresh one written to ``out/control.token``
    (mode 0600) for the web console's sign-in."""
    if settings.control.token is not None:
        return settings.control.token.get_secret_value()
    path = out / "control.token"
    path.unlink(missing_ok=True)
    token = ensure_token_file(path)
    say(f"the control token (web console sign-in) is in {path}")
    return token


async def _wait_until_done(node: TradingNode, world: DemoWorld) -> None:
    """Until every market is resolved, then until our orders and trades are final."""
    loop = asyncio.get_running_loop()
    while True:
        if world.done or node.clock.now_ns() >= world.end_ns:
            break
        await asyncio.sleep(0.1)
    deadline = loop.time() + _SETTLE_TIMEOUT_S
    state = node.engine.state
    while True:
        if loop.time() >= deadline or not (state.open_orders() or state.pending_fills()):
            break
        await asyncio.sleep(0.1)
    await node.engine.idle()


async def _scrape_metrics(node: TradingNode, out: Path) -> Path | None:
    if node.metrics_server is None:
        return None
    async with httpx.AsyncClient(timeout=5.0) as http:
        # Connection: close, so the server has no idle keep-alive socket to wait for at stop
        reply = await http.get(node.metrics_server.url, headers={"Connection": "close"})
        reply.raise_for_status()
    path = out / "metrics.prom"
    path.write_text(reply.text, encoding="utf-8")
    return path


def _collect(node: TradingNode, result: DemoResult) -> None:
    core = node.core
    assert core is not None  # noqa: S101  (a trading node has a core)
    result.intents = dict(core.intents)
    if core.feedback is not None:
        result.fills = dict(core.feedback.fills_by_strategy)
    state = node.engine.state
    result.equity_end = state.equity()
    result.pnl = result.equity_end - result.equity_start
    result.kill_switch = state.halted
    result.presign = node.engine.presign.stats.as_dict()


def _report(result: DemoResult, node: TradingNode) -> Path | None:
    core = node.core
    assert core is not None  # noqa: S101
    try:
        data = build_report_data(
            EventLogReader([result.events_dir], strict=False),
            title="polyloly demo",
            translators=PM_TRANSLATORS,
            registry=core.registry,
        )
        return write_report(data, result.out_dir / "report.html")
    except Exception as exc:  # a report failure must not hide the run's own result
        result.problems.append(f"report: {type(exc).__name__}: {exc}")
        return None


def _check(result: DemoResult) -> None:
    for strategy in ("pair_arb", "temporal_arb"):
        if not result.fills.get(strategy):
            result.problems.append(f"{strategy} made no trade")
    if result.kill_switch:
        result.problems.append(f"the kill switch fired: {result.kill_switch}")
    if result.chain_txs is not None:
        kinds = {line.split()[0] for line in result.chain_txs}
        for kind in ("merge", "redeem"):
            if kind not in kinds:
                result.problems.append(f"no {kind} on-chain")
