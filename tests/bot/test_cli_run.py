"""``polyloly run | paper | record | markets | backtest | doctor`` against the local exchange.

The CLI runs in a worker thread (it owns its event loop) while the simulator serves from
the test's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from tests.bot.cli_process import PROVIDERS
from typer.testing import CliRunner, Result

from polyloly.bot.cli import build_app
from polyloly.bot.config_loader import load_settings
from polyloly.bot.doctor import run_doctor
from polyloly.bot.settings import Settings
from polyloly.node.session import MarketDiscovered, SessionStarted
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import ExitCode
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import bo3_markets
from polyloly.storage.event_log import EventLogReader

KEY = "0x" + "6b" * 32
MOUNTS = {"": "polyloly.bot.cli_run:app"}


async def start_sim(**config: int) -> ExchangeSimulator:
    sim = ExchangeSimulator(SimConfig(seed=5, **config))
    for spec in bo3_markets(
        game="lol", title="LoL", team_a="T1", team_b="Gen.G", league="LCK",
        event_slug="lol-t1-geng-cli", start="2026-11-25T10:00:00Z", end="2026-11-25T16:00:00Z",
    ):  # fmt: skip
        sim.add_traders(sim.add_market(replace(spec, tick=10_000)).condition_id)
    await sim.start()
    return sim


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[ExchangeSimulator]:
    exchange = await start_sim()
    yield exchange
    await exchange.stop()


def sets(sim: ExchangeSimulator, tmp: Path, key: str | None = KEY) -> dict[str, str]:
    found = {
        "adapters.polymarket.host": sim.http_url,
        "adapters.polymarket.ws_market_url": sim.market_ws_url,
        "adapters.polymarket.ws_user_url": sim.user_ws_url,
        "adapters.polymarket.gamma_url": sim.gamma_url,
        "storage.event_log_dir": str(tmp / "events"),
        "storage.database_url": f"sqlite+aiosqlite:///{tmp / 'db.sqlite'}",
        "metrics.port": "0",
        "control.port": "0",
        **{f"adapters.esports.{p}.enabled": "false" for p in PROVIDERS},
    }
    if key is not None:
        found["adapters.polymarket.private_key"] = key
    return found


def settings_of(values: dict[str, str]) -> Settings:
    return load_settings(env="demo", environ={}, env_file=False, overrides=values)


async def cli(*args: str) -> Result:
    app = build_app(MOUNTS)
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


def args_of(values: dict[str, str]) -> list[str]:
    out = ["--env", "demo"]
    for key, value in values.items():
        out += ["--set", f"{key}={value}"]
    return out


@pytest.mark.asyncio
async def test_doctor_passes_against_the_simulator(sim: ExchangeSimulator, tmp_path: Path) -> None:
    checks = await run_doctor(settings_of(sets(sim, tmp_path)))
    by_name = {c.name: c for c in checks}
    assert all(c.ok for c in checks), checks
    assert "clock skew" in by_name["clock"].detail
    assert "balance 10000.00 pUSD" in by_name["balance & allowance"].detail
    result = await cli("doctor", *args_of(sets(sim, tmp_path)))
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output


@pytest.mark.asyncio
async def test_doctor_reports_clock_skew_and_a_missing_key(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    wrong = VirtualClock(sim.now_ns + 3_600 * NS_PER_S)
    checks = await run_doctor(settings_of(sets(sim, tmp_path, key=None)), clock=wrong)
    failed = {c.name for c in checks if not c.ok}
    assert failed == {"clock", "keys"}


@pytest.mark.asyncio
async def test_doctor_reports_a_missing_allowance(tmp_path: Path) -> None:
    sim = await start_sim(starting_allowance=0)
    try:
        checks = await run_doctor(settings_of(sets(sim, tmp_path)))
    finally:
        await sim.stop()
    (funds,) = [c for c in checks if c.name == "balance & allowance"]
    assert not funds.ok
    assert "no allowance" in funds.detail


@pytest.mark.asyncio
async def test_markets_prints_the_match_to_market_mapping(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    result = await cli("markets", *args_of(sets(sim, tmp_path)))
    assert result.exit_code == 0, result.output
    assert "lol-t1-geng-cli" in result.output
    assert "game 3" in result.output
    assert "esports markets (4)" in result.output


@pytest.mark.asyncio
async def test_run_refuses_live_money_without_a_key(sim: ExchangeSimulator, tmp_path: Path) -> None:
    result = await cli("run", "--live-money", *args_of(sets(sim, tmp_path, key=None)))
    assert result.exit_code == ExitCode.REFUSED
    assert "POLYMARKET_PRIVATE_KEY" in result.output


@pytest.mark.asyncio
async def test_run_without_the_flag_trades_on_paper(sim: ExchangeSimulator, tmp_path: Path) -> None:
    result = await cli("run", "--duration", "0.3", *args_of(sets(sim, tmp_path)))
    assert result.exit_code == 0, result.output
    assert "paper mode" in result.output
    (session,) = [e for e in EventLogReader([tmp_path / "events"]) if isinstance(e, SessionStarted)]
    assert session.mode == "paper"


@pytest.mark.asyncio
async def test_run_live_money_against_the_simulator(sim: ExchangeSimulator, tmp_path: Path) -> None:
    result = await cli("run", "--live-money", "--duration", "0.3", *args_of(sets(sim, tmp_path)))
    assert result.exit_code == 0, result.output
    (session,) = [e for e in EventLogReader([tmp_path / "events"]) if isinstance(e, SessionStarted)]
    assert session.mode == "live"
    assert session.address.startswith("0x")


@pytest.mark.asyncio
async def test_paper_and_record_commands(sim: ExchangeSimulator, tmp_path: Path) -> None:
    paper = await cli(
        "paper", "--collateral", "250", "--duration", "0.3", *args_of(sets(sim, tmp_path / "p"))
    )
    assert paper.exit_code == 0, paper.output
    out = tmp_path / "recorded"
    record = await cli(
        "record", "--out", str(out), "--duration", "0.5", *args_of(sets(sim, tmp_path / "r"))
    )
    assert record.exit_code == 0, record.output
    events = list(EventLogReader([out]))
    assert sum(isinstance(e, MarketDiscovered) for e in events) == 4


def test_backtest_rejects_bad_arguments(tmp_path: Path) -> None:
    app = build_app(MOUNTS)
    assert CliRunner().invoke(app, ["backtest", str(tmp_path), "--mode", "nope"]).exit_code == 2
    missing = CliRunner().invoke(app, ["backtest", str(tmp_path / "missing")])
    assert missing.exit_code == ExitCode.BAD_INPUT
    assert "missing: no such file or folder" in missing.output
    assert CliRunner().invoke(app, ["demo", "--view", "fancy"]).exit_code == 2
