"""Operator commands: ``status | halt | resume | cancel-all`` and ``simulate-pnl``.

A typer sub-app the CLI root mounts (its commands merge into ``polyloly …`` when mounted
without a group name). The control commands talk to a running bot's control API
(:mod:`polyloly.bot.control`) at ``control.host:control.port`` with ``control.token`` from
the settings (``POLYLOLY_CONTROL_TOKEN``), else the token file the bot wrote next to its
event log; ``--url`` and ``--token`` override both. ``simulate-pnl`` runs the PnL Monte
Carlo (:mod:`polyloly.backtest.pnl_sim`) with the strategy and fee settings and writes its
HTML/PNG report.

Exit status: 0 done, 2 invalid configuration, 3 token refused, 4 API unreachable or failed
(:class:`~polyloly.runtime.errors.ExitCode`). The control client (aiohttp) and the Monte Carlo
(matplotlib) are imported when a command runs, never for ``--help``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import typer

from polyloly.bot.cli import (
    ConfigDirOption,
    EnvFileOption,
    EnvOption,
    SetOption,
    fail_on_config_error,
    settings_from_options,
)
from polyloly.runtime.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from polyloly.adapters.redis.budget import RedisBudget
    from polyloly.backtest.pnl_sim import SimParams, SimResult
    from polyloly.bot.control import ControlClient
    from polyloly.bot.settings import Settings
    from polyloly.execution.budget import InstanceInfo

__all__ = ["app", "resolve_control", "sim_params_from_settings"]

# PLC0415 (import inside a function) is intended: --help must not load aiohttp or matplotlib.
# ruff: noqa: PLC0415

_BIND_ALL: Final = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared against, not bound
_BPS: Final = 10_000
_T = TypeVar("_T")

app = typer.Typer(
    help="Operate a running bot (status, halt, resume, cancel-all) and simulate PnL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold the token
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="Control API base URL (default: from control.host/port).", show_default=False
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Control API token (default: control.token, then the bot's token file).",
        show_default=False,
    ),
]


def resolve_control(
    url: str | None, token: str | None, settings: Settings | None
) -> tuple[str, str]:
    """The control API's base URL and token from the flags, the settings, the token file.

    Raises
    ------
    ConfigError
        If no token can be found.
    """
    if url is None:
        if settings is None:
            raise ConfigError("control: --url is needed when no settings are loaded")
        host = settings.control.host
        host = "127.0.0.1" if host in _BIND_ALL else host  # a bind-all server is reached locally
        url = f"http://{host}:{settings.control.port}"
    if token is None and settings is not None:
        if settings.control.token is not None:
            token = settings.control.token.get_secret_value()
        else:
            from polyloly.bot.control import token_file_for

            path = token_file_for(settings)
            if path.is_file():
                token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ConfigError(
            "control.token: no token (set POLYLOLY_CONTROL_TOKEN or control.token, pass "
            "--token, or start the bot so that it writes data/control.token)"
        )
    return url, token


def _client(
    *,
    url: str | None,
    token: str | None,
    env: str | None,
    config_dir: Path | None,
    sets: list[str] | None,
    env_file: Path | None,
) -> ControlClient:
    try:
        settings = None
        if url is None or token is None:
            settings = settings_from_options(env, config_dir, sets, env_file)
        base, secret = resolve_control(url, token, settings)
    except ConfigError as exc:
        fail_on_config_error(exc)
        raise  # fail_on_config_error exits; this keeps the type checker informed
    from polyloly.bot.control import ControlClient

    return ControlClient(base, secret)


def _run(call: Callable[[], Awaitable[_T]]) -> _T:
    from polyloly.bot.control import ControlAuthError, ControlError

    try:
        return asyncio.run(_await(call))
    except ControlAuthError as exc:
        typer.echo(typer.style("refused", fg="red", bold=True) + f": {exc}", err=True)
        raise typer.Exit(ExitCode.REFUSED) from None
    except ControlError as exc:
        typer.echo(typer.style("failed", fg="red", bold=True) + f": {exc}", err=True)
        raise typer.Exit(ExitCode.UNREACHABLE) from None


async def _await(call: Callable[[], Awaitable[_T]]) -> _T:
    return await call()


AllInstancesOption = Annotated[
    bool,
    typer.Option(
        "--all-instances",
        help="Every instance sharing the account (through the Redis at storage.redis_url).",
    ),
]


def _shared_run(
    call: Callable[[RedisBudget], Awaitable[_T]],
    *,
    env: str | None,
    config_dir: Path | None,
    sets: list[str] | None,
    env_file: Path | None,
) -> _T:
    """Run ``call`` on the shared store of the configured instances (exit 4 if unreachable)."""
    try:
        settings = settings_from_options(env, config_dir, sets, env_file)
        url = settings.storage.redis_url
        if url is None:
            raise ConfigError(
                "storage.redis_url: --all-instances needs the Redis the instances share (REDIS_URL)"
            )
    except ConfigError as exc:
        fail_on_config_error(exc)
        raise
    from polyloly.adapters.redis.budget import RedisBudget
    from polyloly.execution.budget import BudgetLimits
    from polyloly.runtime.errors import RetryableError

    inst = settings.instances
    risk = settings.risk
    limits = BudgetLimits(
        max_total=risk.max_total_exposure_micros,
        max_market=risk.max_position_per_market_micros,
        max_daily_loss=risk.max_daily_loss_micros,
        lease_ms=int(inst.lease_s * 1000),
    )
    budget = RedisBudget(
        url.get_secret_value(),
        instance=inst.id or "operator",
        limits=limits,
        prefix=inst.key_prefix,
        timeout_s=max(inst.redis_timeout_s, 2.0),
    )

    async def run() -> _T:
        try:
            return await call(budget)
        finally:
            await budget.aclose()

    try:
        return asyncio.run(run())
    except RetryableError as exc:
        typer.echo(typer.style("failed", fg="red", bold=True) + f": {exc}", err=True)
        raise typer.Exit(ExitCode.UNREACHABLE) from None


def instances_table(halted: str, infos: list[InstanceInfo], now_ms: int) -> dict[str, Any]:
    """``status --all-instances`` as JSON-ready data (amounts in pUSD)."""
    from polyloly.domain.money import fmt

    return {
        "halted": halted or None,
        "instances": [
            {
                "id": i.instance,
                "alive": i.alive,
                "last_heartbeat_s_ago": round(max(now_ms - i.last_heartbeat_ms, 0) / 1000, 1)
                if i.last_heartbeat_ms
                else None,
                "markets": i.markets,
                "exposure": fmt(i.exposure, 2),
                "positions": fmt(sum(i.positions.values()), 2),
                "open_orders": fmt(sum(i.open_orders.values()), 2),
                "reserved": fmt(i.reserved, 2),
                "daily_pnl": fmt(i.daily_pnl, 2),
                "halted": i.halted or None,
            }
            for i in infos
        ],
    }


@app.command("status")
def status_command(
    *,
    url: UrlOption = None,
    token: TokenOption = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
    all_instances: AllInstancesOption = False,
) -> None:
    """Show the running bot's status (JSON); ``--all-instances``: every instance sharing the
    account, from the shared store (markets, exposure, last heartbeat)."""
    if all_instances:

        async def read(budget: RedisBudget) -> dict[str, Any]:
            halted = await budget.halted()
            infos = await budget.instances()
            now_s, now_us = await budget.client.time()
            return instances_table(halted, infos, now_s * 1000 + now_us // 1000)

        table = _shared_run(read, env=env, config_dir=config_dir, sets=sets, env_file=env_file)
        from rich.console import Console

        Console(soft_wrap=True).print_json(data=table)
        return
    client = _client(
        url=url, token=token, env=env, config_dir=config_dir, sets=sets, env_file=env_file
    )
    result = _run(client.status)
    from rich.console import Console

    Console(soft_wrap=True).print_json(data=result)


@app.command("halt")
def halt_command(
    *,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why (logged and alerted).")
    ] = "operator halt",
    url: UrlOption = None,
    token: TokenOption = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
    all_instances: AllInstancesOption = False,
) -> None:
    """Halt trading: cancel every order and refuse new ones until resumed
    (``--all-instances``: every instance sharing the account, within a second)."""
    if all_instances:
        _shared_run(
            lambda budget: budget.set_halt(reason),
            env=env,
            config_dir=config_dir,
            sets=sets,
            env_file=env_file,
        )
        typer.echo("halt --all-instances: ok")
        return
    client = _client(
        url=url, token=token, env=env, config_dir=config_dir, sets=sets, env_file=env_file
    )
    _run(lambda: client.halt(reason))
    typer.echo("halt: ok")


@app.command("resume")
def resume_command(
    *,
    url: UrlOption = None,
    token: TokenOption = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
    all_instances: AllInstancesOption = False,
) -> None:
    """Resume trading after a halt or a kill switch (``--all-instances``: every instance)."""
    if all_instances:
        _shared_run(
            lambda budget: budget.set_halt(""),
            env=env,
            config_dir=config_dir,
            sets=sets,
            env_file=env_file,
        )
        typer.echo("resume --all-instances: ok")
        return
    client = _client(
        url=url, token=token, env=env, config_dir=config_dir, sets=sets, env_file=env_file
    )
    _run(client.resume)
    typer.echo("resume: ok")


@app.command("cancel-all")
def cancel_all_command(
    *,
    url: UrlOption = None,
    token: TokenOption = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
    all_instances: AllInstancesOption = False,
) -> None:
    """Cancel this bot's open orders (trading continues); ``--all-instances``: every open
    order of the account, other instances' too (the venue's cancel-all)."""
    client = _client(
        url=url, token=token, env=env, config_dir=config_dir, sets=sets, env_file=env_file
    )
    _run(lambda: client.cancel_all(all_instances=all_instances))
    typer.echo("cancel-all --all-instances: ok" if all_instances else "cancel-all: ok")


# -- simulate-pnl ---------------------------------------------------------------------------


def _percent_bps(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip().rstrip("%"))
    except InvalidOperation as exc:
        raise typer.BadParameter(f"{text!r} is not a percentage", param_hint=name) from exc
    bps = value * 100
    if bps != bps.to_integral_value() or not 0 <= bps <= _BPS:
        raise typer.BadParameter("must be within 0..100 with at most 2 decimals", param_hint=name)
    return int(bps)


def sim_params_from_settings(settings: Settings, **overrides: Any) -> SimParams:
    """Monte Carlo parameters from the strategy, fee and risk settings.

    ``overrides`` set :class:`~polyloly.backtest.pnl_sim.SimParams` fields, or model fields
    with a ``pair_`` / ``temporal_`` prefix (``temporal_wrong_truth_bps=200``).
    """
    from polyloly.backtest.pnl_sim import SimParams

    pair_cfg, temporal_cfg = settings.strategies.pair_arb, settings.strategies.temporal_arb
    base = SimParams()
    pair = replace(
        base.pair,
        pair_cost_cap=pair_cfg.pair_cost_cap_micros,
        step_usdc=min(pair_cfg.step_micros, settings.risk.max_single_order_micros),
        stuck_leg_timeout_ms=int(pair_cfg.stuck_leg_timeout_s * 1_000),
    )
    temporal = replace(
        base.temporal,
        max_entry_price=temporal_cfg.max_entry_price_micros,
        entry_max=min(base.temporal.entry_max, temporal_cfg.max_entry_price_micros),
        fixed_size_usdc=temporal_cfg.fixed_size_micros,
    )
    top: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key.startswith("pair_") and key != "pair_cost_cap":
            pair = replace(pair, **{key.removeprefix("pair_"): value})
        elif key.startswith("temporal_"):
            temporal = replace(temporal, **{key.removeprefix("temporal_"): value})
        else:
            top[key] = value
    return SimParams(pair=pair, temporal=temporal, fee_model=settings.fees.fee_model(), **top)


def _print_result(result: SimResult, page: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from polyloly.backtest.pnl_sim import Distribution
    from polyloly.domain.money import fmt

    out = Console(soft_wrap=True, highlight=False)
    table = Table(title="PnL per session (pUSD)")
    for column in ("strategy", "mean", "p5", "p50", "p95", "P(loss)"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    rows: tuple[tuple[str, Distribution], ...] = (
        ("pair arbitrage", result.pair),
        ("temporal arbitrage", result.temporal),
        ("both", result.total),
    )
    for name, d in rows:
        cells = [fmt(v, 2) for v in (d.mean, d.p5, d.p50, d.p95)]
        table.add_row(name, *cells, f"{float(d.prob_loss) * 100:.2f} %")
    out.print(table)
    survival = result.edge_survival
    wrong = result.break_even_wrong_truth_bps
    fill = result.break_even_fill_bps
    out.print(
        "temporal edge surviving the taker delay: "
        + ("n/a" if survival is None else f"{float(survival) * 100:.1f} %")
    )
    out.print(
        "break-even wrong-truth rate: "
        + ("not reached" if wrong is None else f"{float(wrong) / 100:.2f} %")
        + f" (assumed {result.params.temporal.wrong_truth_bps / 100:.2f} %)"
    )
    out.print(
        "pair break-even fill probability: "
        + ("not reached" if fill is None else f"{float(fill) / 100:.1f} %")
    )
    if page is not None:
        out.print(f"report: {page}")


@app.command("simulate-pnl")
def simulate_pnl_command(
    *,
    runs: Annotated[int, typer.Option(min=1, help="Simulated sessions.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 42,
    sweep_runs: Annotated[int, typer.Option(min=1, help="Sessions per sweep point.")] = 400,
    out: Annotated[Path, typer.Option("--out", help="Folder for pnl_report.html and PNGs.")] = Path(
        "reports/pnl"
    ),
    no_report: Annotated[bool, typer.Option("--no-report", help="Print the numbers only.")] = False,
    wrong_truth: Annotated[
        str | None, typer.Option("--wrong-truth-rate", help="Percent, e.g. 1.5.")
    ] = None,
    fill_prob: Annotated[
        str | None, typer.Option("--fill-prob", help="Pair leg fill %, e.g. 85.")
    ] = None,
    taker_delay_ms: Annotated[int | None, typer.Option(min=0, help="Sports taker delay.")] = None,
    latency_ms: Annotated[int | None, typer.Option(min=0, help="Order latency (both).")] = None,
    market_lag_ms: Annotated[int | None, typer.Option(min=1, help="Mean market catch-up.")] = None,
    signals: Annotated[
        int | None, typer.Option(min=0, help="Temporal signals per session.")
    ] = None,
    opportunities: Annotated[
        int | None, typer.Option(min=0, help="Pair steps per session.")
    ] = None,
    calibrate_from: Annotated[
        list[Path] | None,
        typer.Option(
            "--calibrate",
            help="Fit the inputs a log supports from this event log (repeatable).",
        ),
    ] = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Monte Carlo of both strategies' PnL: fees, fills, leg risk, delays, wrong truths."""
    fitted: dict[str, int] = {}
    if calibrate_from:
        from polyloly.backtest.calibrate import calibrate
        from polyloly.bot.node_options import PM_TRANSLATORS

        calibration = calibrate(calibrate_from, translators=PM_TRANSLATORS)
        for line in calibration.lines():
            typer.echo(line)
        fitted = calibration.overrides()
    try:
        settings = settings_from_options(env, config_dir, sets, env_file)
        given = {
            "temporal_wrong_truth_bps": _percent_bps(wrong_truth, "--wrong-truth-rate"),
            "pair_fill_bps": _percent_bps(fill_prob, "--fill-prob"),
            "temporal_taker_delay_ms": taker_delay_ms,
            "pair_latency_ms": latency_ms,
            "temporal_latency_ms": latency_ms,
            "temporal_market_lag_mean_ms": market_lag_ms,
            "temporal_signals": signals,
            "pair_opportunities": opportunities,
        }
        # an option given on the command line wins over the value fitted from a log
        inputs = {**fitted, **{k: v for k, v in given.items() if v is not None}}
        params = sim_params_from_settings(
            settings, runs=runs, seed=seed, sweep_runs=sweep_runs, **inputs
        )
    except ConfigError as exc:
        fail_on_config_error(exc)
        return
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    from polyloly.backtest.pnl_sim import simulate, write_pnl_report

    result = simulate(params)
    page = None if no_report else write_pnl_report(result, out)
    _print_result(result, page)
    if not calibrate_from:
        typer.echo("inputs: all assumed (see --calibrate LOG to fit them from event logs)")


@app.command("calibrate")
def calibrate_command(
    logs: Annotated[list[Path], typer.Argument(help="Event log folders or files.")],
) -> None:
    """Fit simulate-pnl's inputs from event logs; say which are fitted and which assumed."""
    from polyloly.backtest.calibrate import calibrate
    from polyloly.bot.node_options import PM_TRANSLATORS

    for line in calibrate(logs, translators=PM_TRANSLATORS).lines():
        typer.echo(line)
