"""``polyloly sim esports``: serve a scenario as provider-shaped feeds on loopback.

The command is declared in :mod:`polyloly.sim.cli`::

    polyloly sim esports --host 127.0.0.1 --port 8090 --scenario lol_bo3_pause --speed 10

It prints the base URL of every provider when ready and stops on SIGINT/SIGTERM. The
scenarios start when it starts (their matches are scheduled from now).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from fractions import Fraction

import typer

from polyloly.runtime.clock import LiveClock
from polyloly.runtime.errors import PortInUseError
from polyloly.runtime.sleep import AsyncioSleeper
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.esports.server import EsportsFeedServer
from polyloly.sim.scenarios.loader import ScenarioError, available_scenarios, load_scenario

__all__ = ["checked_scenarios", "serve"]


async def serve(
    host: str, port: int, scenario_names: list[str], speed: str, sports_delay_ms: int = 20_000
) -> None:
    """Serve the scenarios until SIGINT/SIGTERM."""
    clock = LiveClock()
    runtimes = [
        ScenarioRuntime(load_scenario(name), clock, speed=Fraction(speed))
        for name in scenario_names
    ]
    server = EsportsFeedServer(
        runtimes,
        clock=clock,
        sleeper=AsyncioSleeper(),
        host=host,
        port=port,
        sports_delay_ms=sports_delay_ms,
    )
    try:
        await server.start()
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise PortInUseError("--port", host, port, reason) from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    typer.echo(f"esports feeds serving {', '.join(scenario_names)} at speed {speed}x")
    for name, url in server.urls().items():
        typer.echo(f"  {name:16} {url}")
    typer.echo("ready", err=False)
    try:
        await stop.wait()
    finally:
        await server.stop()


def checked_scenarios(names: list[str], speed: str) -> list[str]:
    """``names`` if each loads and ``speed`` is positive; else one line and exit 2."""
    try:
        for name in names:
            load_scenario(name)
        if Fraction(speed) <= 0:
            raise ValueError("speed must be positive")
    except (ScenarioError, ValueError, ZeroDivisionError) as exc:
        typer.echo(f"error: {exc}; shipped scenarios: {', '.join(available_scenarios())}", err=True)
        raise typer.Exit(code=2) from exc
    return names
