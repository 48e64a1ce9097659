"""``polyloly doctor`` names a missing on-chain allowance; ``polyloly approve`` sets it.

Real processes against a real chain (anvil, in this test's process) and the exchange
simulator settling on it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from eth_account import Account
from tests.bot.cli_process import PROVIDERS

from polyloly.bot.config_loader import ENV_VARS
from polyloly.sim.chain.bridge import ChainBridge
from polyloly.sim.chain.deploy import ETHER, LocalChain
from polyloly.sim.exchange import ExchangeSimulator

pytestmark = pytest.mark.asyncio
LAUNCH = "from polyloly.bot.cli import main; main()"


async def polyloly(*args: str, cwd: Path) -> tuple[int, str, str]:
    drop = {*ENV_VARS, "POLYLOLY_ENV", "POLYLOLY_CONFIG_DIR", "POLYLOLY_DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop} | {"COLUMNS": "250"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 50)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_doctor_names_missing_allowances_and_approve_sets_them(
    chain: LocalChain, sim_on_chain: tuple[ExchangeSimulator, ChainBridge], tmp_path: Path
) -> None:
    sim, _bridge = sim_on_chain
    account = Account.create()
    key = "0x" + bytes(account.key).hex()
    await chain.fund(account.address, pusd=0, gas_wei=ETHER)
    deployment = tmp_path / "chain.json"
    deployment.write_text(chain.deployment.to_json())
    values = {
        "adapters.polymarket.host": sim.http_url,
        "adapters.polymarket.gamma_url": sim.gamma_url,
        "adapters.polymarket.private_key": key,
        "adapters.polymarket.chain.deployment": str(deployment),
        "storage.data_dir": str(tmp_path / "data"),
        **{f"adapters.esports.{p}.enabled": "false" for p in PROVIDERS},
    }
    args = ["--env", "dev", "--env-file", str(tmp_path / "no.env")]
    for name, value in values.items():
        args += ["--set", f"{name}={value}"]

    code, out, err = await polyloly("doctor", *args, cwd=tmp_path)
    assert code != 0, out + err
    failed = [line for line in out.splitlines() if "FAIL" in line]
    assert any("pUSD approve → exchange" in line and "missing" in line for line in failed), out
    assert any("CTF setApprovalForAll → adapter" in line for line in failed), out
    assert any("CTF setApprovalForAll → neg_risk_adapter" in line for line in failed), out
    assert len(failed) == 9, out  # the eight on-chain approvals, and so the CLOB's allowance
    assert any("balance & allowance" in line and "no allowance" in line for line in failed), out
    assert key[2:] not in out + err  # the key is never printed

    code, out, err = await polyloly("approve", *args, cwd=tmp_path)
    assert code == 0, out + err
    assert "allowances: all set (8 sent)" in out
    assert key[2:] not in out + err

    code, out, err = await polyloly("doctor", *args, cwd=tmp_path)
    assert [line for line in out.splitlines() if "FAIL" in line] == [], out + err
    assert "pUSD approve → neg_risk_adapter" in out
    assert code == 0
