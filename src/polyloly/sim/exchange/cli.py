"""``polyloly sim exchange``: run the local Polymarket exchange standalone.

Prints one line with the URLs once it is serving, and stops cleanly on SIGINT / SIGTERM.
The command itself is declared in :mod:`polyloly.sim.cli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import Protocol

import typer

from polyloly.runtime.errors import PortInUseError
from polyloly.sim.exchange.config import SimConfig
from polyloly.sim.exchange.scenarios import SCENARIOS
from polyloly.sim.exchange.server import ExchangeSimulator

__all__ = ["serve"]


class Attachment(Protocol):
    """Something that runs with the simulator (a local chain's bridge): attached before the
    markets are listed, started after the server, stopped before it."""

    def attach(self) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def serve(
    host: str,
    port: int,
    scenario: str,
    seed: int,
    *,
    attachment: Callable[[ExchangeSimulator], Attachment] | None = None,
) -> None:
    """Start the simulator with a scenario, announce it, and wait for a stop signal.

    ``attachment`` builds what runs along (``sim exchange --chain``: the chain bridge).
    """
    sim = ExchangeSimulator(SimConfig(seed=seed))
    bridge = attachment(sim) if attachment is not None else None
    if bridge is not None:
        bridge.attach()
    SCENARIOS[scenario](sim)
    try:
        await sim.start(host=host, port=port)
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise PortInUseError("--port", host, port, reason) from exc
    if bridge is not None:
        await bridge.start()
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
        if bridge is not None:
            await bridge.stop()
        await sim.stop()
