"""``polyloly demo | run | paper | record | markets | backtest | doctor``: running the bot.

A typer sub-app; mounted without a group name its commands sit at the root.

Exit status: 0 done, 1 the run failed (the message says why), 2 invalid configuration,
3 refused to trade (no key, reconciliation failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from polyloly.adapters.polymarket import events as pm
from polyloly.adapters.polymarket.factory import build_clob_client
from polyloly.adapters.polymarket.gamma import GammaClient, discover_esports
from polyloly.backtest.latency import LatencyModel
from polyloly.backtest.replay import (
    ReplayResult,
    replay_exact,
    replay_simulated,
)
from polyloly.backtest.report import build_report_data, write_report
from polyloly.bot.app import (
    PM_TRANSLATORS,
    NodeMode,
    NodeOptions,
    TradingNode,
    feed_settings,
    node_params,
    polymarket_config,
)
from polyloly.bot.cli import (
    ConfigDirOption,
    EnvFileOption,
    EnvOption,
    SetOption,
    fail_on_config_error,
    settings_from_options,
)
from polyloly.bot.clock import NS_PER_S, Clock, LiveClock
from polyloly.bot.demo import demo_options, run_demo, summary_lines
from polyloly.bot.errors import ConfigError, HaltError, PolylolyError
from polyloly.bot.live_view import run_view
from polyloly.bot.logging import configure_logging
from polyloly.bot.replay_core import core_factory
from polyloly.bot.settings import BacktestSettings, Settings, load_settings
from polyloly.domain.markets import MarketKind, MarketRegistry, TeamAliases
from polyloly.domain.money import fmt, parse_micros
from polyloly.storage.event_log import EventLogReader

__all__ = ["Check", "app", "core_factory", "run_doctor"]

REFUSED_EXIT: Final = 3
_FAST_SCENARIO_S: Final = 15.0
_T = TypeVar("_T")

app = typer.Typer(
    help="Run polyloly: the demo, live or paper trading, recording, backtests, checks.",
    no_args_is_help=True,
)
_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)

LogLevelOption = Annotated[
    str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR.", show_default=True)
]


def _logging(level: str, settings: Settings | None = None) -> None:
    secrets = settings.secret_values() if settings is not None else ()
    configure_logging(level=level, fmt="console", secrets=secrets)
    # The client library logs every refused order at ERROR; the adapter reports them itself.
    logging.getLogger("py_clob_client_v2").setLevel(logging.CRITICAL)


def _settings(
    env: str | None, config_dir: Path | None, sets: list[str] | None, env_file: Path | None
) -> Settings:
    try:
        return settings_from_options(env, config_dir, sets, env_file)
    except ConfigError as exc:
        fail_on_config_error(exc)
        raise  # unreachable: fail_on_config_error exits


# -- demo -----------------------------------------------------------------------------------


@app.command()
def demo(
    *,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder.")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="A ~25 s run.")] = False,
    speed: Annotated[
        str | None, typer.Option("--speed", help="Scenario seconds per real second.")
    ] = None,
    realtime: Annotated[bool, typer.Option("--realtime", help="Play at true speed.")] = False,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the simulators (default: demo.seed).")
    ] = None,
    view: Annotated[str, typer.Option(help="auto, live, plain or none.")] = "auto",
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Run the whole bot live against local simulators (LoL + Dota 2 Bo3, both strategies)."""
    if view not in ("auto", "live", "plain", "none"):
        raise typer.BadParameter("expected auto, live, plain or none", param_hint="--view")
    _logging(log_level)
    overrides = {k: v for k, v in (s.partition("=")[::2] for s in sets or ())}
    try:
        settings = load_settings(
            env="demo", config_dir=config_dir, environ={}, overrides=overrides, env_file=False
        )
    except ConfigError as exc:
        fail_on_config_error(exc)
        raise  # unreachable: fail_on_config_error exits
    try:
        options = demo_options(
            settings.demo,
            out_dir=out,
            scenario_s=_FAST_SCENARIO_S if fast else None,
            speed=Fraction(speed) if speed else None,
            realtime=realtime,
            seed=seed,
            view=view,
            config_dir=config_dir,
            overrides=overrides,
        )
    except (ValueError, ZeroDivisionError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--speed") from exc

    def show(node: TradingNode, _world: object) -> Coroutine[Any, Any, None] | None:
        if view == "none":
            return None
        start = node.engine.state.equity()
        return run_view(
            node, _out, start_equity=start, live=None if view == "auto" else view == "live"
        )

    _out.print("[bold]polyloly demo[/]: starting the simulators and the bot…")
    result = asyncio.run(run_demo(options, on_started=show))
    for line in summary_lines(result):
        (_out if not line.startswith("problem") else _err).print(line, markup=False)
    if not result.ok:
        _err.print("[bold red]demo failed[/]: " + "; ".join(result.problems))
        raise typer.Exit(1)


# -- run / paper / record -------------------------------------------------------------------


async def _serve(node: TradingNode, duration_s: float | None, view: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await node.start()
    shown: asyncio.Task[None] | None = None
    if view:
        shown = loop.create_task(run_view(node, _out, live=None))
    try:
        if duration_s is None:
            await stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=duration_s)
    finally:
        if shown is not None:
            shown.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shown
        await node.stop()


def _run_node(
    settings: Settings, options: NodeOptions, duration_s: float | None, view: bool
) -> None:
    node = TradingNode(settings, options)
    try:
        asyncio.run(_serve(node, duration_s, view))
    except ConfigError as exc:
        fail_on_config_error(exc)
    except HaltError as exc:
        _err.print(f"[bold red]refused to trade[/]: {exc}")
        raise typer.Exit(REFUSED_EXIT) from exc
    except PolylolyError as exc:
        _err.print(f"[bold red]failed[/]: {exc}")
        raise typer.Exit(1) from exc


DurationOption = Annotated[
    float | None, typer.Option("--duration", help="Stop after this many seconds.")
]
ViewOption = Annotated[bool, typer.Option("--view/--no-view", help="Show the live view.")]


@app.command()
def run(
    *,
    live_money: Annotated[
        bool, typer.Option("--live-money", help="Sign and send real orders (else paper).")
    ] = False,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
    duration: DurationOption = None,
    view: ViewOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Trade the configured venues (paper unless --live-money)."""
    settings = _settings(env, config_dir, sets, env_file)
    _logging(log_level, settings)
    mode = NodeMode.LIVE if live_money else NodeMode.PAPER
    if live_money and settings.adapters.polymarket.private_key is None:
        _err.print("[bold red]refused[/]: --live-money needs POLYMARKET_PRIVATE_KEY")
        raise typer.Exit(REFUSED_EXIT)
    if not live_money:
        _err.print("paper mode: orders are simulated (pass --live-money to trade real money)")
    _run_node(settings, NodeOptions(mode=mode), duration, view)


@app.command()
def paper(
    *,
    collateral: Annotated[str, typer.Option(help="Starting paper pUSD.")] = "1000",
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
    duration: DurationOption = None,
    view: ViewOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Live market data and provider feeds, simulated fills."""
    settings = _settings(env, config_dir, sets, env_file)
    _logging(log_level, settings)
    options = NodeOptions(mode=NodeMode.PAPER, paper_collateral=parse_micros(collateral))
    _run_node(settings, options, duration, view)


@app.command()
def record(
    *,
    out: Annotated[Path | None, typer.Option("--out", help="Event log folder.")] = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
    duration: DurationOption = None,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Record the market channel and the esports feeds into the event log."""
    settings = _settings(env, config_dir, sets, env_file)
    _logging(log_level, settings)
    options = NodeOptions(mode=NodeMode.RECORD, event_log_dir=out, projection=False)
    _run_node(settings, options, duration, view=False)


# -- markets --------------------------------------------------------------------------------


async def discover(settings: Settings) -> MarketRegistry:
    """Discover the esports markets on the configured Gamma."""
    registry = MarketRegistry()
    aliases = TeamAliases(node_params(settings).aliases)
    async with httpx.AsyncClient(timeout=settings.adapters.polymarket.request_timeout_s) as http:
        await discover_esports(
            GammaClient(settings.adapters.polymarket.gamma_url, http), registry, aliases
        )
    return registry


@app.command()
def markets(
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Discover LoL and Dota 2 markets on Gamma and print the match ↔ market mapping."""
    settings = _settings(env, config_dir, sets, env_file)
    _logging("WARNING", settings)
    try:
        registry = asyncio.run(discover(settings))
    except PolylolyError as exc:
        _err.print(f"[bold red]discovery failed[/]: {exc}")
        raise typer.Exit(1) from exc
    table = Table(title=f"esports markets ({len(registry)})")
    table.add_column("match", no_wrap=True)
    table.add_column("market", no_wrap=True)
    for column in ("question", "team a → token", "team b → token", "tick", "delay"):
        table.add_column(column, overflow="fold")
    for match_id in registry.match_ids():
        for m in registry.markets_for_match(match_id):
            kind = "match" if m.kind is MarketKind.MATCH else f"game {m.game_number}"
            table.add_row(
                match_id,
                kind,
                m.question,
                f"{m.team_a} → …{m.token_a[-8:]}",
                f"{m.team_b} → …{m.token_b[-8:]}",
                fmt(m.tick, 4),
                f"{m.seconds_delay} s",
            )
    _out.print(table)


# -- backtest -------------------------------------------------------------------------------


def _progress_run(action: Callable[[Callable[[int], None]], Coroutine[Any, Any, _T]]) -> _T:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task("replaying", total=None)

        def step(n: int) -> None:
            bar.update(task, description=f"replaying: {n:,} events")

        return asyncio.run(action(step))


@app.command()
def backtest(
    logs: Annotated[list[Path], typer.Argument(help="Event log files or folders.")],
    *,
    mode: Annotated[
        str | None, typer.Option(help="exact (re-feed venue replies) or simulated.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the replay's log and report here.")
    ] = None,
    market_delay_ms: Annotated[int | None, typer.Option(help="Simulated: book feed delay.")] = None,
    esports_delay_ms: Annotated[int | None, typer.Option(help="Simulated: provider delay.")] = None,
    request_ms: Annotated[int | None, typer.Option(help="Simulated: bot → venue.")] = None,
    reply_ms: Annotated[int | None, typer.Option(help="Simulated: venue → bot.")] = None,
    jitter_ms: Annotated[int | None, typer.Option(help="Simulated: random extra delay.")] = None,
    collateral: Annotated[str | None, typer.Option(help="Simulated: starting pUSD.")] = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Replay an event log through the same kernel (deterministic, virtual clock).

    Every option defaults to the ``backtest`` settings section.
    """
    for path in logs:
        if not path.exists():
            raise typer.BadParameter(f"{path} does not exist", param_hint="LOGS")
    cfg = _backtest_settings(
        _settings(env, config_dir, sets, env_file).backtest,
        mode=mode,
        market_delay_ms=market_delay_ms,
        esports_delay_ms=esports_delay_ms,
        request_ms=request_ms,
        reply_ms=reply_ms,
        jitter_ms=jitter_ms,
        collateral_usdc=collateral,
    )
    _logging("WARNING")
    result = _progress_run(lambda step: _replay(logs, cfg, out, step))
    _print_replay(result)
    if out is not None:
        data = build_report_data(
            EventLogReader([out / "events"], strict=False),
            title=f"polyloly backtest ({cfg.mode})",
            translators=PM_TRANSLATORS,
        )
        _out.print(f"report: {write_report(data, out / 'report.html')}")
    if cfg.mode == "exact" and not result.identical:
        raise typer.Exit(1)


def _backtest_settings(base: BacktestSettings, **cli: Any) -> BacktestSettings:
    """``base`` with the options given on the command line (validated like the settings)."""
    given = {k: v for k, v in cli.items() if v is not None}
    try:
        return BacktestSettings.model_validate({**base.model_dump(), **given})
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else "option"
        hint = "--collateral" if name == "collateral_usdc" else f"--{name.replace('_', '-')}"
        raise typer.BadParameter(problem["msg"], param_hint=hint) from exc


def _replay(
    logs: list[Path], cfg: BacktestSettings, out: Path | None, step: Callable[[int], None]
) -> Coroutine[Any, Any, ReplayResult]:
    factory = core_factory()
    replay_dir = out / "events" if out is not None else None
    if cfg.mode == "exact":
        return replay_exact(logs, factory, out_dir=replay_dir, progress=step)
    latency = LatencyModel(
        cfg.market_delay_ms, cfg.esports_delay_ms, cfg.request_ms, cfg.reply_ms, cfg.jitter_ms
    )
    return replay_simulated(
        logs,
        factory,
        latency=latency,
        collateral=cfg.collateral_micros,
        skip=(pm.OrderUpdate, pm.TradeUpdate, pm.UserResync),
        out_dir=replay_dir,
        progress=step,
    )


def _print_replay(result: ReplayResult) -> None:
    _out.print(f"mode {result.mode.value}: {result.inputs:,} inputs fed")
    _out.print(
        f"decisions recorded {len(result.recorded)}, replayed {len(result.replayed)}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.counts().items()))
    )
    _out.print(f"fills {result.fills}, equity {fmt(result.equity, 2)} pUSD")
    if result.mode.value == "exact":
        if result.identical:
            _out.print(
                "[green]identical[/]: the replay made exactly the recorded intents and orders"
            )
        else:
            _err.print(
                f"[red]{result.mismatches} differences[/]; first {result.first_mismatch}",
                markup=False,
            )


# -- doctor ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One doctor check."""

    name: str
    ok: bool
    detail: str


async def _call(name: str, fn: Callable[[], Awaitable[str]]) -> Check:
    try:
        return Check(name, True, await fn())
    except Exception as exc:  # a check reports any failure; it never crashes the doctor
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:300])


async def run_doctor(
    settings: Settings, clock: Clock | None = None, max_skew_s: int = 5
) -> list[Check]:
    """Check the venue, the key, balances and allowances, the clock and the feeds."""
    clock = clock or LiveClock()
    config = polymarket_config(settings, trading=True)
    client = build_clob_client(config)
    checks = [Check("config", True, f"env {settings.env}, {'live' if settings.live else 'paper'}")]

    async def ok() -> str:
        return f"{config.clob_url}: {await asyncio.to_thread(client.get_ok)}"

    async def skew() -> str:
        server = int(await asyncio.to_thread(client.get_server_time))
        diff = server - clock.now_ns() // NS_PER_S
        if abs(diff) > max_skew_s:
            raise RuntimeError(f"clock skew {diff:+d} s vs the venue's /time")
        return f"clock skew {diff:+d} s"

    checks.append(await _call("venue", ok))
    checks.append(await _call("clock", skew))
    if config.wallet is None:
        checks.append(Check("keys", False, "no POLYMARKET_PRIVATE_KEY: paper trading only"))
    else:
        checks += await _account_checks(client, config)

    async def gamma() -> str:
        async with httpx.AsyncClient(timeout=config.http_timeout_s) as http:
            reply = await http.get(f"{config.gamma_url}/events", params={"limit": 1})
        reply.raise_for_status()
        return f"{config.gamma_url}: HTTP {reply.status_code}"

    checks.append(await _call("gamma", gamma))
    for name, provider in feed_settings(settings).providers.items():

        async def reach(url: str = provider.base_url) -> str:
            async with httpx.AsyncClient(timeout=config.http_timeout_s) as http:
                reply = await http.get(url)
            return f"{url}: HTTP {reply.status_code}"

        checks.append(await _call(f"feed {name}", reach))
    return checks


async def _account_checks(client: Any, config: Any) -> list[Check]:
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams  # noqa: PLC0415

    async def keys() -> str:
        creds = await asyncio.to_thread(client.create_or_derive_api_key)
        client.set_api_creds(creds)
        return f"signer {client.get_address()}: API key ready"

    async def funds() -> str:
        params = BalanceAllowanceParams(
            asset_type=AssetType.COLLATERAL, signature_type=int(config.wallet.signature_type)
        )
        reply = await asyncio.to_thread(client.get_balance_allowance, params)
        balance = int(str(reply.get("balance", "0")))
        allowances = reply.get("allowances") or {"exchange": reply.get("allowance", "0")}
        allowed = max(int(str(v)) for v in allowances.values())
        if balance <= 0:
            raise RuntimeError("pUSD balance is 0")
        if allowed <= 0:
            raise RuntimeError(f"balance {fmt(balance, 2)} pUSD but no allowance for the exchange")
        shown = "unlimited" if allowed >= 2**128 else fmt(allowed, 2)
        return f"balance {fmt(balance, 2)} pUSD, allowance {shown}"

    found = [await _call("keys", keys)]
    if found[0].ok:
        found.append(await _call("balance & allowance", funds))
    return found


@app.command()
def doctor(
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Check configuration, keys, balances and allowances, connectivity and clock skew."""
    settings = _settings(env, config_dir, sets, env_file)
    _logging("ERROR", settings)
    checks = asyncio.run(run_doctor(settings))
    table = Table(title="polyloly doctor")
    for column in ("check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAIL[/]", check.detail)
    _out.print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
