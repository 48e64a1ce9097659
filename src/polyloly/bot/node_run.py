"""What ``polyloly run | paper | record | demo | markets`` do once their options are read.

:func:`run_node` takes the data folder's lock before anything else, starts the node
(printing each set-up step), serves until the duration ends or a signal arrives, stops it
and prints the end-of-run summary. Failures propagate as polyloly errors; the command
root turns them into one line and an exit code (:mod:`polyloly.bot.cli_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from polyloly.adapters.esports import (
    MatchBindingSettings,
    build_directory,
    build_feeds,
)
from polyloly.adapters.esports.grid import GridFeed
from polyloly.adapters.esports.liquipedia import LiquipediaFeed
from polyloly.adapters.esports.resolver import Binder, WantedMatch
from polyloly.adapters.esports.sports_ws import PolymarketSportsFeed
from polyloly.adapters.polymarket.gamma import DiscoveredMarket, GammaClient, discover_esports
from polyloly.bot.app import TradingNode
from polyloly.bot.config_loader import load_settings
from polyloly.bot.config_map import feed_settings, node_params
from polyloly.bot.datadir import FolderLock, data_folder
from polyloly.bot.demo import DemoResult, demo_options, run_demo
from polyloly.bot.live_view import run_view
from polyloly.bot.logging import configure_logging
from polyloly.bot.node_options import NodeOptions
from polyloly.bot.node_report import few_sources
from polyloly.bot.settings import Settings
from polyloly.domain.markets import MarketKind, MarketRegistry, TeamAliases
from polyloly.domain.money import fmt
from polyloly.runtime.clock import NS_PER_S, LiveClock
from polyloly.runtime.sleep import AsyncioSleeper

__all__ = [
    "demo_summary",
    "discover",
    "print_markets",
    "run_demo_command",
    "run_node",
    "setup_logging",
]

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)
_CHATTY_LIBRARIES = ("py_clob_client_v2",)


def setup_logging(level: str, settings: Settings | None = None) -> None:
    """Console logs at ``level`` with the settings' secrets masked."""
    secrets = settings.secret_values() if settings is not None else ()
    configure_logging(level=level, fmt="console", secrets=secrets)
    # The client library logs every refused order at ERROR; the adapter reports them itself.
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _progress(text: str) -> None:
    _err.print(f"[dim]…[/] {text}", highlight=False)


# -- run / paper / record -------------------------------------------------------------------


def run_node(
    settings: Settings,
    options: NodeOptions,
    *,
    duration_s: float | None,
    view: bool,
    log_level: str,
    out: Path | None = None,
) -> None:
    """Lock the mode's data folder, run the node, print what it did."""
    folder = data_folder(settings, options.mode.value, out)
    with FolderLock(folder.root):
        setup_logging(log_level, settings)
        _progress(f"data folder {folder.root} (this process holds it)")
        node = TradingNode(settings, options)
        node.on_progress = _progress
        asyncio.run(_serve(node, duration_s, view))


async def _serve(node: TradingNode, duration_s: float | None, view: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await node.start()
    except BaseException:
        await node.stop()
        raise
    _progress(f"{node.options.mode.value} running: Ctrl-C stops it")
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
        for line in node.summary():
            (_err if line.startswith("warning") else _out).print(line, markup=False)


# -- demo -----------------------------------------------------------------------------------


def run_demo_command(
    *,
    out: Path | None,
    fast_s: float | None,
    speed: str | None,
    realtime: bool,
    seed: int | None,
    view: str,
    config_dir: Path | None,
    sets: list[str] | None,
    log_level: str,
    chain: bool = False,
) -> bool:
    """Run the demo; print its summary; return whether it did what it promises."""
    setup_logging(log_level)
    overrides = {k: v for k, v in (s.partition("=")[::2] for s in sets or ())}
    settings = load_settings(
        env="demo", config_dir=config_dir, environ={}, overrides=overrides, env_file=False
    )
    options = demo_options(
        settings.demo,
        out_dir=out,
        scenario_s=fast_s,
        speed=Fraction(speed) if speed else None,
        realtime=realtime,
        seed=seed,
        view=view,
        config_dir=config_dir,
        overrides=overrides,
    )
    if chain:
        options = replace(options, chain=True)

    def show(node: TradingNode, _world: object) -> Coroutine[Any, Any, None] | None:
        if view == "none":
            return None
        start = node.engine.state.equity()
        return run_view(
            node, _out, start_equity=start, live=None if view == "auto" else view == "live"
        )

    result = asyncio.run(run_demo(options, on_started=show, progress=_progress))
    for line in demo_summary(result):
        (_out if not line.startswith("problem") else _err).print(line, markup=False)
    if not result.ok:
        _err.print("[bold red]demo failed[/]: " + "; ".join(result.problems))
    return result.ok


def demo_summary(result: DemoResult) -> list[str]:
    """The end-of-run summary, one line each."""
    lines = [
        f"demo finished in {result.duration_s:.1f} s (scenario speed {float(result.speed):.0f}x)",
        f"intents: {_pairs(result.intents)}",
        f"fills:   {_pairs(result.fills)}",
        f"pre-signed orders: {_presign_line(result.presign)}",
        f"PnL:     {fmt(result.pnl, 2)} pUSD (equity {fmt(result.equity_start, 2)} -> "
        f"{fmt(result.equity_end, 2)})",
        f"output:  {result.out_dir}",
        f"  event log  {result.events_dir}  (replay: polyloly backtest {result.events_dir})",
    ]
    if result.chain_txs is not None:
        lines.append(f"on-chain: {len(result.chain_txs)} merges and redemptions (local anvil)")
        if result.chain_reconciled:
            lines.append("  the ledger matches the chain's balances (last reconciliation pass)")
        lines += [f"  {line}" for line in result.chain_txs]
    if result.report_path is not None:
        lines.append(f"  report     {result.report_path}")
    if result.metrics_path is not None:
        lines.append(f"  metrics    {result.metrics_path}")
    lines += [f"problem: {p}" for p in result.problems]
    return lines


def _presign_line(stats: dict[str, int]) -> str:
    if not stats.get("signed") and not stats.get("hits") and not stats.get("misses"):
        return "none"
    reasons = {k.removeprefix("miss_"): v for k, v in stats.items() if k.startswith("miss_")}
    why = f" ({_pairs(reasons)})" if reasons else ""
    return (
        f"hits {stats.get('hits', 0)}, misses {stats.get('misses', 0)}{why}, "
        f"signed {stats.get('signed', 0)}, refreshed {stats.get('refreshes', 0)}"
    )


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"


# -- markets --------------------------------------------------------------------------------


async def discover(settings: Settings) -> MarketRegistry:
    """Discover the esports markets on the configured Gamma."""
    return (await discover_report(settings))[0]


async def discover_report(settings: Settings) -> tuple[MarketRegistry, list[DiscoveredMarket]]:
    """Discover the esports markets on the configured Gamma, with what Gamma said of each."""
    registry = MarketRegistry()
    aliases = TeamAliases(node_params(settings).aliases)
    async with httpx.AsyncClient(timeout=settings.adapters.polymarket.request_timeout_s) as http:
        report = await discover_esports(
            GammaClient(settings.adapters.polymarket.gamma_url, http), registry, aliases
        )
    return registry, list(report.added)


async def bind_providers(
    settings: Settings, discovered: list[DiscoveredMarket]
) -> dict[str, list[str]]:
    """Which enabled providers find each discovered match: configured bindings first, then
    GRID's and LPDB's searches and one poll of the providers that bind by team names."""
    feed_cfg = feed_settings(settings)
    directory = build_directory(feed_cfg)
    clock = LiveClock()
    sleeper = AsyncioSleeper()
    feeds = build_feeds(
        feed_cfg, clock=clock, sleeper=sleeper, publish=lambda _e: None, directory=directory
    )
    finders = [f for f in feeds if isinstance(f, (GridFeed, LiquipediaFeed))]
    binder = Binder(finders, directory, publish=lambda _e: None, clock=clock, sleeper=sleeper)
    overrides = settings.adapters.esports.bindings
    seen: set[str] = set()
    for found in discovered:
        m = found.mapping
        if m.match_id not in seen:
            seen.add(m.match_id)
            start = found.game_start_ns
            directory.bind(
                MatchBindingSettings(
                    match_id=m.match_id, game=found.game, team_a=m.team_a, team_b=m.team_b,
                    best_of=found.best_of,
                    scheduled_at_s=None if start is None else start // NS_PER_S,
                )
            )  # fmt: skip
            binder.want(
                WantedMatch(m.match_id, found.game, m.team_a, m.team_b, start, found.best_of)
            )
        for key in (m.match_id, m.market_id):
            for source, pid in overrides.get(key, {}).items():
                binder.bound(m.match_id, source, pid, "config")
    try:
        await binder.bind_once()
        for feed in feeds:
            if feed in finders or isinstance(feed, PolymarketSportsFeed):
                continue
            with contextlib.suppress(Exception):
                async with asyncio.timeout(settings.adapters.polymarket.request_timeout_s):
                    await feed.poll_once()  # binds by team names as it reads the listing
    finally:
        for feed in feeds:
            with contextlib.suppress(Exception):
                await feed.aclose()
    return {match_id: directory.sources(match_id) for match_id in sorted(seen)}


def print_markets(settings: Settings) -> None:
    """Discover the markets, find each in every enabled provider, print the table."""
    setup_logging("WARNING", settings)
    _progress(f"discovering esports markets on {settings.adapters.polymarket.gamma_url}")
    registry, discovered = asyncio.run(discover_report(settings))
    _progress("finding each match in the enabled esports providers")
    bound = asyncio.run(bind_providers(settings, discovered))
    confirm = set(settings.truth.confirm_only)
    table = Table(title=f"esports markets ({len(registry)})")
    table.add_column("match", no_wrap=True)
    table.add_column("market", no_wrap=True)
    for column in ("question", "team a → token", "team b → token", "tick", "delay", "providers"):
        table.add_column(column, overflow="fold")
    for match_id in registry.match_ids():
        sources = bound.get(match_id, [])
        shown = ", ".join(f"{s}*" if s in confirm else s for s in sources) or "none"
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
                shown,
            )
    _out.print(table)
    _out.print("providers: * = confirm-only (confirms, never makes a result tradable alone)")
    for warning in few_sources(bound, confirm):
        _out.print(f"warning: {warning}")
