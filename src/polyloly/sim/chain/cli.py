"""``polyloly sim chain``: anvil with the local contracts deployed, until SIGINT / SIGTERM.

Prints the RPC URL and every contract address, and writes them as JSON (``--out``) for
``polyloly sim exchange --chain FILE`` and the bot (``polymarket.chain.deployment``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import typer

from polyloly.runtime.errors import PortInUseError
from polyloly.sim.chain.anvil import Anvil, free_port
from polyloly.sim.chain.deploy import LocalChain

__all__ = ["serve_chain"]


async def serve_chain(host: str, port: int, chain_id: int, out: Path, block_time_s: float) -> None:
    """Start anvil, deploy, write ``out``, announce, and wait for a stop signal."""
    if port:
        try:
            import socket  # noqa: PLC0415

            with socket.socket() as probe:
                probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError("--port", host, port, str(exc.strerror or exc).lower()) from exc
    node = Anvil(
        host=host, port=port or free_port(host), chain_id=chain_id, block_time_s=block_time_s
    )
    await node.start()
    try:
        chain = await LocalChain.deploy(node.rpc_url)
        await asyncio.to_thread(out.write_text, chain.deployment.to_json() + "\n")
        d = chain.deployment
        typer.echo(
            f"chain ready: rpc={d.rpc_url} chain_id={d.chain_id} pusd={d.pusd} ctf={d.ctf} "
            f"adapter={d.adapter} neg_risk_adapter={d.neg_risk_adapter} exchange={d.exchange} "
            f"neg_risk_exchange={d.neg_risk_exchange} deployment={out}"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        node.stop()
