"""``polyloly sim exchange | esports``: the simulators' commands under one group."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import httpx
import pytest
from typer.testing import CliRunner

from polyloly.bot.cli import build_app

LAUNCH = "from polyloly.bot.cli import build_app; build_app({'sim': 'polyloly.sim.cli:app'})()"


def test_the_group_lists_both_simulators() -> None:
    app = build_app({"sim": "polyloly.sim.cli:app"})
    result = CliRunner().invoke(app, ["sim", "--help"])
    assert result.exit_code == 0
    assert "exchange" in result.output
    assert "esports" in result.output
    assert "--scenario" in CliRunner().invoke(app, ["sim", "exchange", "--help"]).output


def test_esports_refuses_an_unknown_scenario() -> None:
    app = build_app({"sim": "polyloly.sim.cli:app"})
    result = CliRunner().invoke(app, ["sim", "esports", "--scenario", "no-such-scenario"])
    assert result.exit_code == 2
    assert "lol_bo3_pause" in result.output


@pytest.mark.asyncio
async def test_sim_exchange_serves_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, "sim", "exchange", "--port", "0", "--seed", "4",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
        match = re.search(r"clob=(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{match.group(1)}/ok")).json() == "OK"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
