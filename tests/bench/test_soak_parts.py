"""The soak's parts that decide a verdict or a plan: the secret scan, the seeded plans, the
fault injector on a real simulator, the fuzz hand-off and the table's verdict."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from bench.soak import fuzz as soak_fuzz
from bench.soak.chaos import (
    FAULT_WEIGHTS,
    ORDER_KILL_MODES,
    FaultInjector,
    FaultSpec,
    fault_args,
    plan_faults,
    plan_kills,
)
from bench.soak.leaks import scan_for_secrets
from bench.soak.report import failures, render, rows
from bench.soak.run import SeedResult
from bench.soak.world import OrderWatch, watch_exchange

from polyloly.domain.events import Side
from polyloly.domain.money import ONE
from polyloly.runtime.clock import VirtualClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, SimMarket

KEY = "0x" + "ab12" * 16
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="


def test_every_secret_is_found_in_any_case_with_or_without_0x(tmp_path: Path) -> None:
    plain = tmp_path / "bot.log"
    plain.write_text(f"line\nkey={KEY.upper().removeprefix('0X')}\n")
    event = tmp_path / "events.jsonl"
    event.write_text('{"secret":"' + SECRET + '"}\n')
    clean = tmp_path / "clean.log"
    clean.write_text("nothing to see " * 1000)
    leaks = scan_for_secrets([plain, event, clean], {"private key": KEY, "api secret": SECRET})
    assert {(leak.path.name, leak.secret) for leak in leaks} == {
        ("bot.log", "private key"),
        ("events.jsonl", "api secret"),
    }


def test_a_secret_split_across_two_read_chunks_is_found(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    head = b"x" * ((1 << 20) - 10)  # the key straddles the 1 MiB chunk boundary
    big.write_bytes(head + KEY.encode() + b"\n")
    assert [leak.secret for leak in scan_for_secrets([big], {"key": KEY})] == ["key"]


def test_a_secret_too_short_to_prove_anything_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too short"):
        scan_for_secrets([], {"pin": "1234"})


def test_plans_come_from_the_seed() -> None:
    a = plan_faults(random.Random(7), 100, 180.0)
    assert a == plan_faults(random.Random(7), 100, 180.0)
    assert a != plan_faults(random.Random(8), 100, 180.0)
    assert len(a) == 100
    assert all(0 <= f.at_s <= 180 for f in a)
    assert [f.at_s for f in a] == sorted(f.at_s for f in a)
    assert {f.kind for f in a} <= set(FAULT_WEIGHTS)
    assert len({f.kind for f in a}) >= 12  # a hundred draws reach nearly every kind


def test_half_the_kills_are_timed_on_an_order_one_per_slot() -> None:
    kills = plan_kills(random.Random(3), 9, 90.0)
    assert len(kills) == 9
    assert sum(k.mode in ORDER_KILL_MODES for k in kills) == 5
    assert sum(k.mode == "random" for k in kills) == 4
    for i, k in enumerate(kills):  # one per 10 s slot, never at its edges
        assert 10 * i < k.at_s < 10 * (i + 1)


_ARMED_ELSEWHERE = ("drop_ws", "trade_failed", "trade_retrying")  # tested below / in sim tests


def test_every_fault_kind_arms_the_simulator() -> None:
    sim = ExchangeSimulator(clock=VirtualClock(1_000_000_000))
    injector = FaultInjector(sim.faults, OrderWatch(owners=set), sim.clock)
    for kind in FAULT_WEIGHTS:
        sim.faults.clear()
        before = sim.faults.state()
        injector.inject(FaultSpec(0.0, kind, fault_args(kind, random.Random(kind))))
        if kind not in _ARMED_ELSEWHERE:
            assert sim.faults.state() != before, kind
    assert [r.kind for r in injector.records] == list(FAULT_WEIGHTS)


def _market(sim: ExchangeSimulator) -> str:
    listing = sim.add_market(SimMarket(question="LoL: A vs B (BO3)", outcomes=("A", "B")))
    token = listing.token_ids[0]
    sim.place_resting(token, Side.SELL, 500_000, 50 * ONE)
    return token


@pytest.mark.asyncio
async def test_a_failed_trade_fault_fails_the_bots_next_trade_after_it_matched() -> None:
    clock = VirtualClock(1_000_000_000)
    config = SimConfig(trade_mined_delay_ms=1_000, trade_confirmed_delay_ms=1_000)
    sim = ExchangeSimulator(config, clock=clock)
    watch = OrderWatch(owners=lambda: {"bot"})
    watch_exchange(sim, watch)
    injector = FaultInjector(sim.faults, watch, clock)
    token = _market(sim)
    sim.submit(token, Side.BUY, 500_000, 5 * ONE, owner="someone-else")  # not the bot's
    injector.inject(FaultSpec(0.0, "trade_failed", {"count": 1}))
    sim.submit(token, Side.BUY, 500_000, 5 * ONE, owner="bot")
    sim.submit(token, Side.BUY, 500_000, 5 * ONE, owner="bot")  # the fault is spent
    await asyncio.sleep(0)  # the failure runs once the matching request has finished
    for _ in range(3):
        clock.advance_ns(1_000_000_000)
        sim.run_due()
    status: dict[str, list[tuple[str, tuple[str, ...]]]] = {t.owner: [] for t in sim.trades()}
    for t in sim.trades():
        status[t.owner].append((t.status, tuple(t.history)))
    assert [s for s, _ in status["bot"]] == ["FAILED", "CONFIRMED"]
    assert status["bot"][0][1][:1] == ("MATCHED",)  # FAILED after MATCHED
    assert [s for s, _ in status["someone-else"]] == ["CONFIRMED"]
    assert watch.orders == 2


def test_a_retrying_fault_sends_the_next_trade_through_retrying() -> None:
    clock = VirtualClock(1_000_000_000)
    sim = ExchangeSimulator(SimConfig(trade_mined_delay_ms=1_000), clock=clock)
    injector = FaultInjector(sim.faults, OrderWatch(owners=set), clock)
    token = _market(sim)
    injector.inject(FaultSpec(0.0, "trade_retrying", {"count": 1}))
    sim.submit(token, Side.BUY, 500_000, 5 * ONE)
    for _ in range(20):
        clock.advance_ns(1_000_000_000)
        sim.run_due()
    assert "RETRYING" in sim.trades()[0].history


def test_the_fuzz_run_is_delegated_or_said_unavailable(tmp_path: Path) -> None:
    result = soak_fuzz.run_fuzz(2_000, 1, timeout_s=50.0, log=tmp_path / "fuzz.log")
    table = rows([], result)
    fuzz_row = table[-1]
    if not soak_fuzz.fuzz_available():
        assert not result.available
        assert not result.failed
        assert fuzz_row.total == "fuzz: not available on this branch"
        assert fuzz_row.failing is None
    else:
        assert result.available
        assert result.exit_code is not None
        assert fuzz_row.failing is (result.exit_code != 0 or bool(result.accepted_bad))


def test_the_fuzzers_count_of_accepted_bad_frames_is_read() -> None:
    assert soak_fuzz.parse_accepted_bad(b"frames 1,000,000\naccepted-bad: 59,910\n") == 59_910
    assert soak_fuzz.parse_accepted_bad(b"Accepted bad frames = 0") == 0
    assert soak_fuzz.parse_accepted_bad(b"no such line") is None


def test_any_failing_row_fails_the_run_and_measurements_never_do(tmp_path: Path) -> None:
    clean = SeedResult(seed=1, out_dir=tmp_path)
    table = rows([clean], None)
    assert failures(table) == []
    assert "| check" in render([clean], table)
    assert {r.failing for r in table if not r.label.startswith("✗")} == {None}
    leaky = SeedResult(seed=2, out_dir=tmp_path)
    leaky.duplicates.unlogged.append("0xdead")
    leaky.balances.collateral_ledger = 100
    leaky.balances.allowance = 99
    assert failures(rows([clean, leaky], None)) == [
        "orders missing from the bot's log",
        "collateral: ledger − exchange (µpUSD, allowance)",
    ]
