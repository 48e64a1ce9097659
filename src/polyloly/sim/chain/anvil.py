"""Start and stop an anvil process (Foundry's local node) on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
from dataclasses import dataclass, field

from polyloly.sim.chain.tools import find_tool

__all__ = ["ANVIL_CHAIN_ID", "Anvil", "free_port"]

ANVIL_CHAIN_ID = 31337
"""The chain id anvil uses unless told otherwise."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class Anvil:
    """One anvil process. ``await start()``, use ``rpc_url``, ``stop()``.

    ``block_time_s`` 0 mines a block per transaction at once (automine); more makes the
    receipt wait a real wait.
    """

    host: str = "127.0.0.1"
    port: int = 0
    chain_id: int = ANVIL_CHAIN_ID
    block_time_s: float = 0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def rpc_url(self) -> str:
        """The JSON-RPC endpoint."""
        return f"http://{self.host}:{self.port}"

    async def start(self, timeout_s: float = 20.0) -> None:
        """Spawn anvil and wait until it answers ``eth_chainId``."""
        anvil = find_tool("anvil")
        if not self.port:
            self.port = free_port(self.host)
        args = [
            str(anvil),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--silent",
        ]
        if self.block_time_s:
            args += ["--block-time", str(self.block_time_s)]
        # a short, non-blocking spawn: the wait for the RPC below is asynchronous
        self.process = subprocess.Popen(  # noqa: S603, ASYNC220 - fixed argument list
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self.process.poll() is not None:
                err = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                raise RuntimeError(f"anvil exited ({self.process.returncode}): {err.strip()[:300]}")
            if await self._answers():
                return
            await asyncio.sleep(0.05)
        self.stop()
        raise RuntimeError(f"anvil did not answer on {self.rpc_url} within {timeout_s} s")

    async def _answers(self) -> bool:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
        request = (
            f"POST / HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
        ).encode()
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            return False
        try:
            writer.write(request)
            await writer.drain()
            reply = await asyncio.wait_for(reader.read(), 2)
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return b'"result"' in reply

    def stop(self) -> None:
        """Terminate anvil (then kill it if it lingers)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None
