"""``polyloly suite``: what it plays and the table it prints (the runs are demo worlds,
exercised end to end by ``tests/bot/test_demo.py``)."""

from __future__ import annotations

import pytest

from polyloly.bot.suite import (
    DOTA_SCENARIOS,
    LOL_SCENARIOS,
    RunResult,
    market_params,
    suite_runs,
    suite_table,
)
from polyloly.sim.exchange.pool import MarketParams
from polyloly.sim.scenarios import load_scenario


def test_ten_runs_play_twenty_matches_of_every_scenario_twice() -> None:
    runs = suite_runs(10, 1, MarketParams(), faster=4.0)
    base = [r for r in runs if r.variant == "rivals as configured"]
    fast = [r for r in runs if r.variant == "rivals 4x faster"]
    assert len(base) == len(fast) == 10
    assert sum(len(r.scenarios) for r in base) == 20
    assert {s for r in base for s in r.scenarios} == set(LOL_SCENARIOS) | set(DOTA_SCENARIOS)
    assert [r.seed for r in base] == list(range(1, 11)) == [r.seed for r in fast]
    assert {load_scenario(s).best_of for r in base for s in r.scenarios} == {1, 3, 5}
    assert fast[0].market.rival_latency_ms == base[0].market.rival_latency_ms / 4
    assert fast[0].market.rival_lag_ms == base[0].market.rival_lag_ms // 4
    for r in base:  # two matches at once: two different games, never the same teams
        games = {load_scenario(s).game for s in r.scenarios}
        assert games == {"lol", "dota2"}


def test_the_table_gives_a_confidence_interval_and_the_must_be_zero_columns() -> None:
    runs = suite_runs(2, 1, MarketParams(), faster=2.0)
    results = [
        RunResult(
            run=r, pnl={"temporal_arb": pnl}, fills={"temporal_arb": 2}, delayed={"temporal_arb": 3}
        )
        for r, pnl in zip(runs, (10_000_000, 30_000_000, 0, 0), strict=True)
    ]
    results[1].after_public = 1
    lines = suite_table(results)
    row = next(line for line in lines if "as configured" in line and "temporal_arb" in line)
    assert "+20.00 ±" in row  # mean of 10 and 30; CI 1.96 × sd (14.14) / √2 = 19.60
    assert "19.60" in row
    assert row.split()[-2] == "1"  # the after-public column
    assert any("rivals 2x faster" in line and "+0.00" in line for line in lines)


def test_market_changes_are_checked() -> None:
    assert market_params(["maker_lag_ms=1000"]).maker_lag_ms == 1000
    assert market_params(["rival_latency_ms=75.5"]).rival_latency_ms == 75.5
    with pytest.raises(ValueError, match="unknown market parameter 'nope'"):
        market_params(["nope=1"])
    with pytest.raises(ValueError, match="makers"):
        market_params(["makers=two"])
