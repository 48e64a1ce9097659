"""The standalone ``exchange`` command: one ready line with URLs, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import httpx
import pytest


@pytest.mark.asyncio
async def test_standalone_exchange_serves_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from polyloly.bot.cli import build_app; build_app({'sim': 'polyloly.sim.cli:app'})()",
        "sim",
        "exchange",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--scenario",
        "esports",
        "--seed",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
        match = re.search(r"clob=(http://127\.0\.0\.1:\d+) gamma=(\S+)", line)
        assert match, line
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{match.group(1)}/ok")).json() == "OK"
            markets = (await client.get(f"{match.group(2)}/markets")).json()
            assert len(markets) == 8
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
