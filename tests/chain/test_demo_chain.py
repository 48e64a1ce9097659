"""``polyloly demo --chain --fast``: the demo settling on anvil, merges and redemptions
on-chain with their transaction hashes, and a log that replays to the same decisions."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from polyloly.backtest.replay import replay_exact
from polyloly.backtest.report import build_report_data
from polyloly.bot.app import PM_TRANSLATORS
from polyloly.bot.cli import build_app
from polyloly.bot.replay_core import core_factory
from polyloly.domain.intents import MergeIntent, RedeemIntent
from polyloly.execution.events import MergeCompleted, ReconciliationCompleted, RedeemCompleted
from polyloly.storage.event_log import EventLogReader

pytestmark = pytest.mark.timeout(180)
MOUNTS = {"": "polyloly.bot.cli_run:app"}
TX = re.compile(r"tx (0x[0-9a-f]{64})")


@pytest.fixture(scope="module")
def chain_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("demo-chain")
    result = CliRunner().invoke(
        build_app(MOUNTS), ["demo", "--chain", "--fast", "--out", str(out), "--view", "none"]
    )
    return result, out


def test_the_demo_shows_merges_and_redemptions_with_their_hashes(
    chain_demo: tuple[Result, Path],
) -> None:
    result, out = chain_demo
    assert result.exit_code == 0, result.output
    merges = [line for line in result.output.splitlines() if line.strip().startswith("merge ")]
    redeems = [line for line in result.output.splitlines() if line.strip().startswith("redeem ")]
    assert merges, result.output
    assert redeems, result.output
    shown = {m.group(1) for line in merges + redeems if (m := TX.search(line))}
    assert len(shown) == len(merges) + len(redeems)
    logged = {
        e.result.transaction_hash
        for e in EventLogReader([out / "events"])
        if isinstance(e, MergeCompleted | RedeemCompleted)
    }
    assert shown == logged
    assert (out / "chain.json").is_file()
    # the last reconciliation pass compared the ledger with the chain's balances: equal
    assert "the ledger matches the chain's balances" in result.output
    passes = [e for e in EventLogReader([out / "events"]) if isinstance(e, ReconciliationCompleted)]
    assert passes[-1].ok
    assert passes[-1].balances_checked


def test_every_recycling_went_through_the_gate_and_shows_in_the_report(
    chain_demo: tuple[Result, Path],
) -> None:
    _, out = chain_demo
    events = list(EventLogReader([out / "events"]))
    redeem_intents = [e for e in events if isinstance(e, RedeemIntent)]
    assert redeem_intents
    assert all(e.strategy == "recycle" for e in redeem_intents)
    merged = [e for e in events if isinstance(e, MergeIntent)]
    assert merged
    data = build_report_data(events, translators=PM_TRANSLATORS)
    assert {r.kind for r in data.recycled} == {"merge", "redeem"}
    assert all(r.transaction_hash.startswith("0x") for r in data.recycled if not r.error)


def test_the_chain_run_replays_to_the_same_decisions(chain_demo: tuple[Result, Path]) -> None:
    _, out = chain_demo
    replay = asyncio.run(replay_exact([out / "events"], core_factory()))
    assert replay.identical, replay.first_mismatch
    assert replay.counts().get("RedeemIntent", 0) > 0
