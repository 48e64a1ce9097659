"""Synthetic traders on the esports scenario: they trade, leave pair gaps, and conserve money."""

from __future__ import annotations

from polyloly.domain.events import Side
from polyloly.domain.money import ONE
from polyloly.runtime.clock import NS_PER_MS, VirtualClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, StaticFairValue
from polyloly.sim.exchange.accounts import COLLATERAL
from polyloly.sim.exchange.scenarios import bo3_markets, esports_scenario
from polyloly.sim.exchange.traders import RandomWalkFairValue


def _run(sim: ExchangeSimulator, clock: VirtualClock, seconds: int) -> int:
    gaps = 0
    for _ in range(seconds * 10):
        clock.advance_ns(100 * NS_PER_MS)
        sim.run_due()
        for listing in sim.markets():
            a, b = (sim.book(t) for t in listing.token_ids)
            for bids, asks in (a, b):
                assert not bids or not asks or bids[0][0] < asks[0][0]
            if a[1] and b[1] and a[1][0][0] + b[1][0][0] < ONE:
                gaps += 1
    return gaps


def _conserved(sim: ExchangeSimulator) -> None:
    accounts = sim.venue.accounts
    totals = accounts.totals()
    pairs = 0
    for listing in sim.markets():
        a, b = (totals.get(t, 0) for t in listing.token_ids)
        assert a == b
        pairs += a
    assert totals[COLLATERAL] + accounts.fees_collected + pairs == accounts.deposited


def test_esports_scenario_trades_and_leaves_pair_gaps() -> None:
    clock = VirtualClock(1_800_000_000 * 1_000_000_000)
    sim = ExchangeSimulator(SimConfig(seed=11), clock=clock)
    listings = esports_scenario(sim)
    assert len(listings) == 8
    gaps = _run(sim, clock, 60)
    assert len(sim.trades()) > 10
    assert gaps > 0
    _conserved(sim)
    fees = sum(t.fee for t in sim.trades())
    assert fees == sim.venue.accounts.fees_collected > 0


def test_makers_follow_a_lagged_fair_value() -> None:
    clock = VirtualClock(1_800_000_000 * 1_000_000_000)
    fair = StaticFairValue(default=300_000)
    sim = ExchangeSimulator(SimConfig(seed=2), clock=clock, fair_value=fair)
    specs = bo3_markets(
        game="lol",
        title="LoL",
        team_a="A",
        team_b="B",
        league="L",
        event_slug="e",
        start="",
        end="",
    )
    listing = sim.add_market(specs[0])
    sim.add_traders(listing.condition_id, takers=0, gap_probability=0.0, lag_ms=0)
    _run(sim, clock, 2)
    bids, asks = sim.book(listing.token_ids[0])
    assert bids[0][0] < 300_000 < asks[0][0]
    fair.set(listing.condition_id, 700_000)
    _run(sim, clock, 2)
    bids, asks = sim.book(listing.token_ids[0])
    assert bids[0][0] < 700_000 < asks[0][0]
    _conserved(sim)


def test_random_walk_is_reproducible_and_lag_reads_the_past() -> None:
    walk, again = RandomWalkFairValue(seed=4), RandomWalkFairValue(seed=4)
    times = [n * 500 * NS_PER_MS for n in range(200)]
    path = [walk.fair_value("m", t) for t in times]
    assert path == [again.fair_value("m", t) for t in times]
    assert walk.fair_value("m", times[50]) == path[50]
    assert all(20_000 <= p <= 980_000 for p in path if p is not None)
    assert len(set(path)) > 3


def test_synthetic_sell_splits_house_pairs() -> None:
    clock = VirtualClock(1_800_000_000 * 1_000_000_000)
    sim = ExchangeSimulator(SimConfig(seed=2), clock=clock)
    listing = esports_scenario(sim)[0]
    token = listing.token_ids[0]
    sim.place_resting(token, Side.SELL, 600_000, 10 * ONE, owner="seller")
    house = sim.venue.house_address("seller")
    assert sim.balances(house)[listing.token_ids[1]] == 10 * ONE
    _conserved(sim)
