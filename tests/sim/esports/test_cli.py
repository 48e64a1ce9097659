"""``esports`` CLI: prints its URLs when ready, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

import httpx
import pytest
from typer.testing import CliRunner

from polyloly.bot.cli import build_app

LAUNCH = "from polyloly.bot.cli import build_app; build_app({'sim': 'polyloly.sim.cli:app'})()"


@pytest.mark.asyncio
async def test_serves_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, "sim", "esports", "--port", "0", "--speed", "20",
        "--scenario", "lol_bo1_late_source",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    try:
        async with asyncio.timeout(30):
            while (line := (await proc.stdout.readline()).decode()) and line.strip() != "ready":
                parts = line.split()
                if len(parts) == 2 and parts[1].startswith(("http://", "ws://")):
                    urls[parts[0]] = parts[1]
        assert urls["grid"].startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            body = {"query": "{ seriesState(id: $id) { id } }", "variables": {"id": "2600042"}}
            r = await client.post(f"{urls['grid']}/live-data-feed/series-state/graphql", json=body)
        assert r.json()["data"]["seriesState"]["id"] == "2600042"
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await proc.wait()
    assert code == 0


def test_unknown_scenario_exits_2() -> None:
    app = build_app({"sim": "polyloly.sim.cli:app"})
    result = CliRunner().invoke(app, ["sim", "esports", "--scenario", "nope"])
    assert result.exit_code == 2
    assert "lol_bo3_pause" in result.output
