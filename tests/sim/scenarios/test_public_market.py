"""What the public knows, and the makers who price from it."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from polyloly.domain.money import ONE
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, VirtualClock
from polyloly.sim.esports import ScenarioRuntime
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.pool import MarketParams
from polyloly.sim.exchange.scenarios import bo3_markets
from polyloly.sim.scenarios import load_scenario
from polyloly.sim.scenarios.market import ScenarioPublic
from polyloly.sim.scenarios.model import StepKind, game_probability, series_probability

START = 1_800_000_000 * NS_PER_S


def _first_end(name: str = "lol_bo3_pause") -> tuple[int, str]:
    scn = load_scenario(name)
    step = next(s for s in scn.steps if s.kind is StepKind.GAME_END)
    return step.at_ms, str(step.team)


def test_a_finished_map_is_priced_as_finished_and_the_series_as_1_0() -> None:
    scn = load_scenario("lol_bo3_pause")
    end, winner = _first_end()
    assert winner == "a"
    assert scn.public_value(end, 0, game_number=1) == ONE
    # between maps: a Bo3 at 1-0 is worth exactly a 1-0 lead, no game in play
    assert scn.public_value(end + 1, 0) == series_probability(scn.map_win_prob_a, 1, 2)
    assert scn.decided_ms(1) == end


def test_the_public_learns_the_result_only_after_its_lag() -> None:
    scn = load_scenario("lol_bo3_pause")
    end, _ = _first_end()
    lag = scn.public.feed_delay_ms
    before = scn.public_value(end + lag - 1, lag, game_number=1)
    assert before is not None
    assert 0 < before < ONE
    assert scn.public_value(end + lag, lag, game_number=1) == ONE
    assert scn.news_ms(end + lag, lag) == end + lag
    assert scn.news_ms(end + lag - 1, lag) != end + lag


@given(
    p=st.integers(50_000, 950_000),
    lead=st.integers(-10, 10),
    clock_min=st.integers(0, 60),
)
def test_a_game_in_play_stays_a_probability_and_a_lead_helps(
    p: int, lead: int, clock_min: int
) -> None:
    value = game_probability(p, max(lead, 0), max(-lead, 0), 15_000, clock_ms=clock_min * 60_000)
    more = game_probability(p, max(lead, 0) + 1, max(-lead, 0), 15_000, clock_ms=clock_min * 60_000)
    assert 0 < value < ONE
    assert more >= value


def test_makers_pull_at_the_result_once_their_feed_shows_it() -> None:
    clock = VirtualClock(START)
    scn = load_scenario("lol_bo3_pause")
    runtime = ScenarioRuntime(scn, clock, start_ns=START, speed=1)
    public = ScenarioPublic()
    sim = ExchangeSimulator(SimConfig(seed=5), clock=clock, fair_value=public)
    spec = bo3_markets(
        game="lol", title="LoL", team_a="T1", team_b="Gen.G", league="LCK",
        event_slug="e", start="", end="",
    )[1]  # fmt: skip
    listing = sim.add_market(replace(spec, tick=10_000))
    public.bind(listing.condition_id, runtime, 1)
    lag = 4_000
    sim.add_market_traders(
        listing.condition_id,
        MarketParams(
            makers=1, maker_lag_ms=lag, maker_lag_spread_ms=0, takers=0, rival_pairs=0,
            rival_temporals=0, gap_probability=0.0, react_ms=200, pull_ms=1_000,
        ),
    )  # fmt: skip
    end, _ = _first_end()
    winner = listing.token_ids[0]

    def run_to(t_ms: int) -> None:
        while clock.now_ns() < runtime.wall_ns(t_ms):
            clock.advance_ns(100 * NS_PER_MS)
            sim.run_due()

    run_to(end + lag - 200)
    stale_ask = sim.book(winner)[1][0][0]
    assert stale_ask < 900_000  # the maker does not know yet: the winner still trades cheap
    run_to(end + lag + 100)
    assert not sim.book(winner)[1]  # news: quotes pulled
    run_to(end + lag + 2_000)
    bids, asks = sim.book(winner)
    assert asks[0][0] >= 990_000  # a decided market: the winner trades at the book's edge
    assert bids
    assert bids[0][0] >= 950_000
