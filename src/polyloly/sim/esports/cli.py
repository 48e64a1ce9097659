"""``polyloly sim esports``: serve a scenario as provider-shaped feeds on loopback.

The lead mounts :data:`app` as the ``esports`` command of ``polyloly sim``::

    polyloly sim esports --host 127.0.0.1 --port 8090 --scenario lol_bo3_pause --speed 10

It prints the base URL of every provider when ready and stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from fractions import Fraction
from typing import Annotated

import typer

from polyloly.adapters.esports.timing import AsyncioSleeper
from polyloly.bot.clock import LiveClock
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.esports.server import EsportsFeedServer
from polyloly.sim.scenarios.loader import ScenarioError, available_scenarios, load_scenario

__all__ = ["app", "serve"]

app = typer.Typer(help="Local esports provider feeds driven by a scenario.")


async def serve(host: str, port: int, scenario_names: list[str], speed: str) -> None:
    """Serve the scenarios until SIGINT/SIGTERM."""
    clock = LiveClock()
    runtimes = [
        ScenarioRuntime(load_scenario(name), clock, speed=Fraction(speed))
        for name in scenario_names
    ]
    server = EsportsFeedServer(
        runtimes, clock=clock, sleeper=AsyncioSleeper(), host=host, port=port
    )
    await server.start()
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


@app.callback(invoke_without_command=True)
def esports(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind (0 = any free port).")] = 8090,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="Scenario name or YAML path (repeat to serve several)."),
    ] = None,
    speed: Annotated[str, typer.Option(help="Scenario seconds per real second.")] = "1",
) -> None:
    """Serve scenario-driven OpenDota, PandaScore, GRID, Liquipedia and lolesports feeds."""
    names = scenario or ["lol_bo3_pause"]
    try:
        for name in names:
            load_scenario(name)
        if Fraction(speed) <= 0:
            raise ValueError("speed must be positive")
    except (ScenarioError, ValueError, ZeroDivisionError) as exc:
        typer.echo(f"error: {exc}; shipped scenarios: {', '.join(available_scenarios())}", err=True)
        raise typer.Exit(code=2) from exc
    asyncio.run(serve(host, port, names, speed))
