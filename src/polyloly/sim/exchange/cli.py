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

from polyloly.bot.errors import PortInUseError
from polyloly.sim.exchange.config import SimConfig
from polyloly.sim.exchange.scenarios import SCENARIOS
from polyloly.sim.exchange.server import ExchangeSimulator

__all__ = ["SCENARIOS", "serve"]


async def serve(
    host: str, port: int, scenario: str, seed: int, *, chain: str | None = None
) -> None:
    """Start the simulator with a scenario, announce it, and wait for a stop signal.

    ``chain``: a local chain's deployment JSON (text): the simulator settles on it.
    """
    sim = ExchangeSimulator(SimConfig(seed=seed))
    bridge = None
    if chain is not None:
        from polyloly.sim.chain.bridge import ChainBridge  # noqa: PLC0415
        from polyloly.sim.chain.deploy import Deployment, LocalChain  # noqa: PLC0415

        bridge = ChainBridge(LocalChain.attach(Deployment.from_json(chain)), sim.venue)
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
