"""``polyloly sim exchange``: run the local Polymarket exchange standalone.

Prints one line with the URLs once it is serving, and stops cleanly on SIGINT / SIGTERM.
The command itself is declared in :mod:`polyloly.sim.cli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import typer

from polyloly.runtime.errors import PortInUseError
from polyloly.sim.exchange.config import SimConfig
from polyloly.sim.exchange.scenarios import SCENARIOS
from polyloly.sim.exchange.server import ExchangeSimulator

__all__ = ["serve"]


async def serve(host: str, port: int, scenario: str, seed: int) -> None:
    """Start the simulator with a scenario, announce it, and wait for a stop signal."""
    sim = ExchangeSimulator(SimConfig(seed=seed))
    SCENARIOS[scenario](sim)
    try:
        await sim.start(host=host, port=port)
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise PortInUseError("--port", host, port, reason) from exc
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
