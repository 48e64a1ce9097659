"""``--help`` loads no heavy module: the commands import what they run when they run.

One fresh interpreter shows the help of the root and of every command and group, then
reports which of the heavy modules it loaded. Timing lives in ``bench/RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

HEAVY = (
    "matplotlib",
    "plotly",
    "telegram",
    "numpy",
    "py_clob_client_v2",
    "eth_account",
    "sqlalchemy",
    "aiohttp",
    "httpx",
    "websockets",
    "prometheus_client",
    "apprise",
    "structlog",
    "yaml",
    "polyloly.bot.app",
    "polyloly.bot.settings",
    "polyloly.backtest",
    "polyloly.execution",
    "polyloly.sim.exchange",
    "polyloly.sim.esports",
    "polyloly.adapters",
)

PROBE = """
import json, sys
import typer.main
from typer.testing import CliRunner
from polyloly.bot.cli import build_app

app = build_app()
runner = CliRunner()
paths = [[]]
def walk(command, path):
    for name, sub in getattr(command, "commands", {}).items():
        paths.append([*path, name])
        walk(sub, [*path, name])
walk(typer.main.get_command(app), [])
codes = {" ".join(p) or "(root)": runner.invoke(app, [*p, "--help"]).exit_code for p in paths}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


@pytest.mark.asyncio
async def test_help_of_every_command_imports_no_heavy_module() -> None:
    code = f"HEAVY = {HEAVY!r}\n{PROBE}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=50)
    assert proc.returncode == 0, err.decode()
    report = json.loads(out.decode().strip().splitlines()[-1])
    codes: dict[str, int] = report["codes"]
    assert {"(root)", "run", "paper", "backtest", "doctor", "sim exchange", "config check"} <= set(
        codes
    )
    assert set(codes.values()) == {0}, codes
    assert report["heavy"] == []
