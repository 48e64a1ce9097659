"""One bot per data folder: the lock, the per-mode folders, and a second real bot refused."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from tests.bot.cli_process import KEY, run_cli, sim_args, spawn, wait_for_line

from polyloly.adapters.polymarket import events  # noqa: F401 - registers a live log's events
from polyloly.bot.config_loader import load_settings
from polyloly.bot.datadir import LOCK_FILE, FolderLock, data_folder
from polyloly.node.session import SessionStarted
from polyloly.runtime.errors import ExitCode, FolderInUseError
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import bo3_markets
from polyloly.storage.event_log import EventLogReader


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[ExchangeSimulator]:
    exchange = ExchangeSimulator(SimConfig(seed=9))
    for spec in bo3_markets(
        game="lol", title="LoL", team_a="T1", team_b="Gen.G", league="LCK",
        event_slug="lol-t1-geng-lock", start="2026-11-25T10:00:00Z", end="2026-11-25T16:00:00Z",
    ):  # fmt: skip
        exchange.add_market(replace(spec, tick=10_000))
    await exchange.start()
    yield exchange
    await exchange.stop()


def test_a_held_folder_refuses_a_second_lock_naming_the_holder(tmp_path: Path) -> None:
    with FolderLock(tmp_path / "data") as held:
        assert held.held
        assert (tmp_path / "data" / LOCK_FILE).read_text().strip().isdigit()
        with pytest.raises(FolderInUseError) as info:
            FolderLock(tmp_path / "data").acquire()  # another open file: flock says no
        assert info.value.folder == tmp_path / "data"
        assert str(info.value.pid) in str(info.value)
    with FolderLock(tmp_path / "data"):  # released: free again
        pass


@pytest.mark.asyncio
async def test_a_killed_holder_leaves_the_folder_free(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from polyloly.bot.datadir import FolderLock;"
        "FolderLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, str(tmp_path), stdout=asyncio.subprocess.PIPE
    )
    try:
        await wait_for_line(proc.stdout, "held")
        with pytest.raises(FolderInUseError, match=f"PID {proc.pid}"):
            FolderLock(tmp_path).acquire()
    finally:
        proc.kill()  # no clean-up at all: the kernel drops the flock with the process
        await proc.wait()
    with FolderLock(tmp_path):
        pass


def test_each_mode_has_its_own_folder(tmp_path: Path) -> None:
    settings = load_settings(
        env="dev", environ={}, env_file=False, overrides={"storage.data_dir": str(tmp_path)}
    )
    live, paper = data_folder(settings, "live"), data_folder(settings, "paper")
    assert (live.root, paper.root) == (tmp_path / "live", tmp_path / "paper")
    assert live.events == tmp_path / "live" / "events"
    assert paper.database_url == f"sqlite+aiosqlite:///{tmp_path / 'paper' / 'polyloly.db'}"
    recorded = data_folder(settings, "record", out=tmp_path / "rec")
    assert (recorded.root, recorded.events) == (tmp_path / "rec", tmp_path / "rec")


@pytest.mark.asyncio
async def test_a_second_bot_on_the_same_folder_exits_at_once_naming_the_first(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = await spawn("paper", *sim_args(sim, data), cwd=tmp_path)
    try:
        await wait_for_line(first.stderr, "paper running")
        second = await run_cli("paper", *sim_args(sim, data), "--duration", "20", cwd=tmp_path)
    finally:
        first.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(first.communicate(), timeout=30)
    assert second.code == ExitCode.FOLDER_IN_USE, second.err
    (line,) = second.errors()
    assert f"PID {first.pid}" in line
    assert str(data / "paper") in line
    assert "Traceback" not in second.err
    assert first.returncode == 0
    assert "paper finished after" in out.decode()  # the first bot's end-of-run summary
    sessions = [e for e in EventLogReader([data / "paper" / "events"]) if type(e) is SessionStarted]
    assert len(sessions) == 1  # the refused bot wrote nothing into the first bot's log


@pytest.mark.asyncio
async def test_live_and_paper_keep_separate_state(sim: ExchangeSimulator, tmp_path: Path) -> None:
    data = tmp_path / "data"
    live = await run_cli(
        "run", "--live-money", *sim_args(sim, data, key=KEY), "--duration", "0.5", cwd=tmp_path
    )
    assert live.code == 0, live.err
    paper = await run_cli("paper", *sim_args(sim, data), "--duration", "0.5", cwd=tmp_path)
    assert paper.code == 0, paper.err  # the live ledger (10,000 pUSD) is not paper's business
    for mode in ("live", "paper"):
        (session,) = [
            e for e in EventLogReader([data / mode / "events"]) if type(e) is SessionStarted
        ]
        assert session.mode == mode
    assert "PnL" in paper.out
    assert f"log      {data / 'paper' / 'events'}" in paper.out
