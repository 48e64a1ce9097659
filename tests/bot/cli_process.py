"""Run ``polyloly`` as a real process (what a user types), against local simulators.

The command runs exactly as the console script does (``polyloly.bot.cli:main``), with a
clean environment (none of polyloly's variables from the developer's shell) and a wide
terminal so that tables do not fold the text the tests look for.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from polyloly.bot.config_loader import ENV_VARS
from polyloly.sim.exchange import ExchangeSimulator

LAUNCH = "from polyloly.bot.cli import main; main()"
PROVIDERS = ("opendota", "pandascore", "grid", "liquipedia", "lolesports", "polymarket_sports")
KEY = "0x" + "6b" * 32  # a throwaway test key, never a real one


@dataclass(frozen=True, slots=True)
class Finished:
    """A finished command: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def errors(self) -> list[str]:
        """The ``error: …`` lines on stderr (a failure must be exactly one)."""
        return [line for line in self.err.splitlines() if line.startswith("error")]


def environment(**extra: str) -> dict[str, str]:
    """The test process's environment minus polyloly's variables, plus ``extra``."""
    drop = {*ENV_VARS, "POLYLOLY_ENV", "POLYLOLY_CONFIG_DIR", "POLYLOLY_DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(COLUMNS="200", NO_COLOR="1", **extra)
    return env


async def spawn(*args: str, cwd: Path) -> asyncio.subprocess.Process:
    """Start ``polyloly ARGS`` (stdout and stderr piped)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, *args,
        cwd=cwd, env=environment(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def run_cli(*args: str, cwd: Path, timeout_s: float = 45.0) -> Finished:
    """Run ``polyloly ARGS`` to the end."""
    proc = await spawn(*args, cwd=cwd)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(), err.decode())


async def wait_for_line(stream: asyncio.StreamReader | None, needle: str) -> list[str]:
    """Read ``stream`` until a line containing ``needle``; return the lines read."""
    assert stream is not None
    seen: list[str] = []
    async with asyncio.timeout(40):
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"{needle!r} never came; read:\n" + "".join(seen))
            seen.append(raw.decode())
            if needle in seen[-1]:
                return seen


def sim_args(sim: ExchangeSimulator, data_dir: Path, key: str | None = None) -> list[str]:
    """Options pointing a command at ``sim`` with its data in ``data_dir``, ports free."""
    values = {
        "adapters.polymarket.host": sim.http_url,
        "adapters.polymarket.ws_market_url": sim.market_ws_url,
        "adapters.polymarket.ws_user_url": sim.user_ws_url,
        "adapters.polymarket.gamma_url": sim.gamma_url,
        "storage.data_dir": str(data_dir),
        "metrics.port": "0",
        "control.port": "0",
        **{f"adapters.esports.{p}.enabled": "false" for p in PROVIDERS},
    }
    if key is not None:
        values["adapters.polymarket.private_key"] = key
    out = ["--env", "demo", "--env-file", str(data_dir / "no.env")]
    for name, value in values.items():
        out += ["--set", f"{name}={value}"]
    return out
