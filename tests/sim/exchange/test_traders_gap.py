"""The market maker's ``gap_ticks`` option: how far under $1 a careless pair of asks goes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from polyloly.domain.money import ONE
from polyloly.runtime.clock import NS_PER_MS, VirtualClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, StaticFairValue
from polyloly.sim.exchange.scenarios import bo3_markets
from polyloly.sim.exchange.traders import MarketMaker

START = 1_800_000_000 * 1_000_000_000
TICK = 10_000
FEE_PER_PAIR_MAX = 15_000  # 0.03 x p x (1 - p) on each leg at p = 0.5: 0.0075 + 0.0075


def _sim(gap_ticks: int, seed: int = 5) -> tuple[ExchangeSimulator, VirtualClock, list[str]]:
    clock = VirtualClock(START)
    sim = ExchangeSimulator(
        SimConfig(seed=seed), clock=clock, fair_value=StaticFairValue(default=500_000)
    )
    spec = bo3_markets(
        game="lol", title="LoL", team_a="A", team_b="B", league="L",
        event_slug="e", start="", end="",
    )[0]  # fmt: skip
    listing = sim.add_market(replace(spec, tick=TICK))
    sim.add_traders(
        listing.condition_id, takers=0, lag_ms=0, gap_probability=1.0, gap_ticks=gap_ticks
    )
    return sim, clock, list(listing.token_ids)


def _pair_asks(gap_ticks: int, seed: int = 5, refreshes: int = 5) -> list[int]:
    sim, clock, (a, b) = _sim(gap_ticks, seed)
    sums = []
    for _ in range(refreshes):
        clock.advance_ns(1_000 * NS_PER_MS)
        sim.run_due()
        sums.append(sim.book(a)[1][0][0] + sim.book(b)[1][0][0])
    return sums


@pytest.mark.parametrize("gap_ticks", [1, 3, 5])
def test_a_gap_leaves_the_two_asks_gap_ticks_under_one_dollar(gap_ticks: int) -> None:
    assert set(_pair_asks(gap_ticks)) == {ONE - gap_ticks * TICK}


def test_only_a_wide_gap_beats_the_taker_fee() -> None:
    (one_tick,) = set(_pair_asks(1))
    (five_ticks,) = set(_pair_asks(5))
    assert ONE - one_tick < FEE_PER_PAIR_MAX < ONE - five_ticks


def test_the_gap_is_seeded_and_reproducible() -> None:
    runs = []
    for _ in range(2):
        clock = VirtualClock(START)
        sim = ExchangeSimulator(SimConfig(seed=9), clock=clock)
        spec = bo3_markets(
            game="lol", title="LoL", team_a="A", team_b="B", league="L",
            event_slug="e", start="", end="",
        )[0]  # fmt: skip
        listing = sim.add_market(replace(spec, tick=TICK))
        sim.add_traders(listing.condition_id, takers=0, gap_probability=0.5, gap_ticks=4)
        a, b = listing.token_ids
        seen = []
        for _ in range(30):
            clock.advance_ns(500 * NS_PER_MS)
            sim.run_due()
            seen.append(sim.book(a)[1][0][0] + sim.book(b)[1][0][0])
        runs.append(seen)
    assert runs[0] == runs[1]
    assert ONE - 4 * TICK in runs[0]  # some refreshes left the gap ...
    assert any(total > ONE - 4 * TICK for total in runs[0])  # ... and some did not


@pytest.mark.parametrize(
    ("field", "value"), [("gap_ticks", 0), ("gap_probability", 1.5), ("gap_probability", -0.1)]
)
def test_bad_gap_options_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        MarketMaker(owner="mm", condition_id="0x1", **{field: value})


@pytest.mark.parametrize("value", [0, 20_000, 30_000, 500_000, 970_000, 980_000, ONE])
@pytest.mark.parametrize("gap_probability", [0.0, 1.0])
def test_the_maker_quotes_at_the_random_walks_clamps(value: int, gap_probability: float) -> None:
    # The random walk stops at 2 % and 98 %: there the raw quotes (value ± spread, the gap
    # ask) fall below 0 or above 1. They used to raise MoneyError and end the maker loop for
    # good; they are clamped onto the book's [tick, 1 - tick] instead.
    clock = VirtualClock(START)
    fair = StaticFairValue(default=value)
    sim = ExchangeSimulator(SimConfig(seed=3), clock=clock, fair_value=fair)
    spec = bo3_markets(
        game="lol", title="LoL", team_a="A", team_b="B", league="L",
        event_slug="e", start="", end="",
    )[0]  # fmt: skip
    listing = sim.add_market(replace(spec, tick=TICK))
    sim.add_traders(
        listing.condition_id, takers=0, lag_ms=0, spread=60_000, gap_probability=gap_probability
    )
    placed = 0
    for _ in range(3):
        clock.advance_ns(1_000 * NS_PER_MS)
        placed += sim.run_due()
    assert placed > 0
    for token in listing.token_ids:
        bids, asks = sim.book(token)
        assert all(TICK <= price <= ONE - TICK for price, _ in (*bids, *asks))
        if bids and asks:
            assert bids[0][0] < asks[0][0]
