"""``polyloly demo | run | paper | record | markets | backtest | doctor``: running the bot.

A typer sub-app; mounted without a group name its commands sit at the root. This module
only declares the commands: each imports what it runs (:mod:`polyloly.bot.node_run`,
:mod:`polyloly.bot.backtest_cmd`, :mod:`polyloly.bot.doctor`) when invoked, so that
``--help`` stays fast. Failures propagate as polyloly errors and become one line and an
:class:`~polyloly.runtime.errors.ExitCode` at the root (:mod:`polyloly.bot.cli_errors`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from polyloly.bot.cli import (
    ConfigDirOption,
    EnvFileOption,
    EnvOption,
    SetOption,
    settings_from_options,
)
from polyloly.runtime.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from polyloly.bot.settings import Settings

__all__ = ["app"]

# PLC0415 (import inside a function) is intended throughout: the commands' modules load
# the node, the client library, matplotlib... only when a command runs.
# ruff: noqa: PLC0415

_FAST_SCENARIO_S: Final = 15.0

app = typer.Typer(
    help="Run polyloly: the demo, live or paper trading, recording, backtests, checks.",
    no_args_is_help=True,
)

LogLevelOption = Annotated[
    str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR.", show_default=True)
]
DurationOption = Annotated[
    float | None, typer.Option("--duration", help="Stop after this many seconds.")
]
ViewOption = Annotated[bool, typer.Option("--view/--no-view", help="Show the live view.")]


def _say(text: str) -> None:
    typer.echo(text, err=True)


def _settings(
    env: str | None, config_dir: Path | None, sets: list[str] | None, env_file: Path | None
) -> Settings:
    """The command's settings; a configuration error propagates (exit 2 at the root)."""
    return settings_from_options(env, config_dir, sets, env_file)


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
    chain: Annotated[
        bool,
        typer.Option(
            "--chain", help="Settle on a local chain (anvil): merges and redemptions on-chain."
        ),
    ] = False,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Run the whole bot live against local simulators (LoL + Dota 2 Bo3, both strategies)."""
    if view not in ("auto", "live", "plain", "none"):
        raise typer.BadParameter("expected auto, live, plain or none", param_hint="--view")
    if speed is not None:
        try:
            from fractions import Fraction

            if Fraction(speed) <= 0:
                raise ValueError("must be positive")
        except (ValueError, ZeroDivisionError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--speed") from exc
    _say("polyloly demo: loading the simulators and the bot…")
    from polyloly.bot.node_run import run_demo_command

    ok = run_demo_command(
        out=out,
        fast_s=_FAST_SCENARIO_S if fast else None,
        speed=speed,
        realtime=realtime,
        seed=seed,
        view=view,
        config_dir=config_dir,
        sets=sets,
        log_level=log_level,
        chain=chain,
    )
    if not ok:
        raise typer.Exit(ExitCode.FAILED)


# -- run / paper / record -------------------------------------------------------------------


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
    """Trade the configured venues (paper unless --live-money).

    Live state lives in <storage.data_dir>/live, paper state in <storage.data_dir>/paper;
    one data folder serves one bot at a time.
    """
    settings = _settings(env, config_dir, sets, env_file)
    if live_money and settings.adapters.polymarket.private_key is None:
        _say("refused: --live-money needs POLYMARKET_PRIVATE_KEY")
        raise typer.Exit(ExitCode.REFUSED)
    if not live_money:
        _say("paper mode: orders are simulated (pass --live-money to trade real money)")
    _say("loading…")
    from polyloly.bot.node_options import NodeMode, NodeOptions
    from polyloly.bot.node_run import run_node

    mode = NodeMode.LIVE if live_money else NodeMode.PAPER
    run_node(settings, NodeOptions(mode=mode), duration_s=duration, view=view, log_level=log_level)


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
    """Live market data and provider feeds, simulated fills (state in <data_dir>/paper)."""
    from polyloly.domain.money import parse_micros

    try:
        starting = parse_micros(collateral)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--collateral") from exc
    settings = _settings(env, config_dir, sets, env_file)
    _say("loading…")
    from polyloly.bot.node_options import NodeMode, NodeOptions
    from polyloly.bot.node_run import run_node

    options = NodeOptions(mode=NodeMode.PAPER, paper_collateral=starting)
    run_node(settings, options, duration_s=duration, view=view, log_level=log_level)


@app.command()
def record(
    *,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Event log folder (default: <storage.data_dir>/record)."),
    ] = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
    duration: DurationOption = None,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Record the market channel and the esports feeds into the event log."""
    settings = _settings(env, config_dir, sets, env_file)
    _say("loading…")
    from polyloly.bot.node_options import NodeMode, NodeOptions
    from polyloly.bot.node_run import run_node

    options = NodeOptions(mode=NodeMode.RECORD, event_log_dir=out, projection=False)
    run_node(settings, options, duration_s=duration, view=False, log_level=log_level, out=out)


# -- markets --------------------------------------------------------------------------------


@app.command()
def markets(
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Discover LoL and Dota 2 markets on Gamma and print the match ↔ market mapping."""
    settings = _settings(env, config_dir, sets, env_file)
    from polyloly.bot.node_run import print_markets

    print_markets(settings)


# -- backtest -------------------------------------------------------------------------------


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

    Every option defaults to the ``backtest`` settings section. Exit 0 identical (exact) or
    done (simulated), 1 differences, 7 a missing or corrupt log (names file and line),
    8 nothing to compare (no decisions in the log).
    """
    settings = _settings(env, config_dir, sets, env_file)
    from polyloly.bot.backtest_cmd import backtest_settings, run_backtest

    cfg = backtest_settings(
        settings.backtest,
        mode=mode,
        market_delay_ms=market_delay_ms,
        esports_delay_ms=esports_delay_ms,
        request_ms=request_ms,
        reply_ms=reply_ms,
        jitter_ms=jitter_ms,
        collateral_usdc=collateral,
    )
    code = run_backtest(logs, cfg, out)
    if code is not ExitCode.OK:
        raise typer.Exit(code)


# -- approve --------------------------------------------------------------------------------


@app.command()
def approve(
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Set every missing on-chain allowance of the wallet (pUSD approve, CTF setApprovalForAll).

    For the V2 exchange, the neg-risk exchange and both collateral adapters; an EOA pays the
    gas, a proxy / Safe / deposit wallet goes through the relayer. Needs
    ``polymarket.chain.rpc_url`` (POLYMARKET_RPC_URL) and the wallet key.
    """
    settings = _settings(env, config_dir, sets, env_file)
    import asyncio

    from polyloly.bot.chain import build_onchain
    from polyloly.bot.node_run import setup_logging

    setup_logging("ERROR", settings)

    async def go() -> list[str]:
        port = build_onchain(settings)
        try:
            deploy = getattr(port.sender, "deploy", None)
            if deploy is not None:  # a Safe or deposit wallet is deployed through the relayer
                await deploy()
            sent = await port.approve_missing()
            missing = [s.label for s in await port.read() if not s.ok]
        finally:
            await port.aclose()
        if missing:
            raise RuntimeError("still missing after approving: " + ", ".join(missing))
        return sent

    sent = asyncio.run(go())
    for tx in sent:
        typer.echo(f"approval sent and mined: {tx}")
    typer.echo(f"allowances: all set ({len(sent)} sent)")


# -- latency --------------------------------------------------------------------------------


@app.command()
def latency(
    logs: Annotated[list[Path], typer.Argument(help="Event log files or folders.")],
    *,
    reprice_at: Annotated[
        str, typer.Option(help="Price at which the winner's token counts as repriced.")
    ] = "0.90",
) -> None:
    """Per source, how far ahead of Polymarket's sports feed and of the repricing we knew.

    For every map and match result in the log: each source's receive time, our confirmed
    truth, the temporal-arbitrage order, Polymarket's sports feed and the repricing (a trade
    or the mid at ``--reprice-at``, or the resolution); p50/p90 leads per source. Exit 7 on
    a missing or corrupt log.
    """
    from decimal import Decimal, InvalidOperation

    from polyloly.backtest.lead import format_lead_report, measure_leads
    from polyloly.storage.event_log import EventLogReader

    try:
        price = Decimal(reprice_at)
    except InvalidOperation:
        price = Decimal(-1)
    if not 0 < price < 1:
        raise ConfigError(f"--reprice-at: must be a price within (0, 1), got {reprice_at!r}")
    report = measure_leads(EventLogReader(logs, strict=False), reprice_at=int(price * 1_000_000))
    for line in format_lead_report(report):
        typer.echo(line)


# -- doctor ---------------------------------------------------------------------------------


@app.command()
def doctor(
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Check configuration, keys, balances and allowances, connectivity and clock skew.

    Any answer other than 2xx fails its check, with the HTTP status and the venue's message.
    """
    settings = _settings(env, config_dir, sets, env_file)
    _say("polyloly doctor: checking…")
    import asyncio

    from rich.console import Console

    from polyloly.bot.doctor import print_checks, run_doctor
    from polyloly.bot.node_run import setup_logging

    setup_logging("ERROR", settings)
    checks = asyncio.run(run_doctor(settings))
    print_checks(checks, Console(highlight=False))
    if not all(c.ok for c in checks):
        raise typer.Exit(ExitCode.FAILED)
