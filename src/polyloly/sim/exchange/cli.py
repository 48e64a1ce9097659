"""``exchange``: run the local Polymarket exchange standalone (``polyloly sim exchange``).

Prints one line with the URLs once it is serving, and stops cleanly on SIGINT / SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer

from polyloly.sim.exchange.config import SimConfig
from polyloly.sim.exchange.scenarios import SCENARIOS
from polyloly.sim.exchange.server import ExchangeSimulator

__all__ = ["app", "serve"]

app = typer.Typer(help="Local exchange simulator.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Local venues (keeps ``exchange`` a sub-command when this app is mounted)."""


async def serve(host: str, port: int, scenario: str, seed: int) -> None:
    """Start the simulator with a scenario, announce it, and wait for a stop signal."""
    sim = ExchangeSimulator(SimConfig(seed=seed))
    SCENARIOS[scenario](sim)
    await sim.start(host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    typer.echo(
        f"exchange ready: clob={sim.http_url} gamma={sim.gamma_url} "
        f"market_ws={sim.market_ws_url} user_ws={sim.user_ws_url} "
        f"scenario={scenario} markets={len(sim.markets())}"
    )
    try:
        await stop.wait()
    finally:
        await sim.stop()


@app.command("exchange")
def exchange(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (keep it loopback)."),
    port: int = typer.Option(8080, help="TCP port (0 = any free port)."),
    scenario: str = typer.Option("esports", help=f"One of: {', '.join(sorted(SCENARIOS))}."),
    seed: int = typer.Option(1, help="Seed of ids, keys and synthetic traders."),
) -> None:
    """Serve the CLOB REST API, Gamma and both WebSocket channels on one port."""
    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"unknown scenario {scenario!r}", param_hint="--scenario")
    asyncio.run(serve(host, port, scenario, seed))
