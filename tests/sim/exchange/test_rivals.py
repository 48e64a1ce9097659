"""Rivals race the bot: a gap goes to whoever is faster; stale quotes go to the informed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE
from polyloly.runtime.clock import NS_PER_MS, VirtualClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, StaticFairValue
from polyloly.sim.exchange.pool import MarketParams
from polyloly.sim.exchange.scenarios import bo3_markets

START = 1_800_000_000 * 1_000_000_000
STEP_MS = 5
ONE_MAKER_GAPS = MarketParams(
    makers=1, maker_lag_ms=0, maker_lag_spread_ms=0, refresh_ms=1_000, react_ms=0,
    news_widen_ticks=0, gap_probability=1.0, gap_ticks=5, takers=0,
    rival_pairs=1, rival_temporals=0, rival_latency_sigma=0.0,
)  # fmt: skip


def _market(params: MarketParams) -> tuple[ExchangeSimulator, VirtualClock, tuple[str, str]]:
    clock = VirtualClock(START)
    sim = ExchangeSimulator(
        SimConfig(seed=9), clock=clock, fair_value=StaticFairValue(default=500_000)
    )
    spec = bo3_markets(
        game="lol",
        title="LoL",
        team_a="A",
        team_b="B",
        league="L",
        event_slug="e",
        start="",
        end="",
    )[1]  # "Game 1 Winner": no taker delay
    listing = sim.add_market(replace(spec, tick=10_000))
    sim.add_market_traders(listing.condition_id, params)
    a, b = listing.token_ids
    return sim, clock, (a, b)


def _race(rival_ms: float, our_ms: int) -> tuple[int, int]:
    """Run until the first gap; we lift both asks ``our_ms`` after it shows. Returns the
    shares we and the rival bought."""
    sim, clock, (a, b) = _market(replace(ONE_MAKER_GAPS, rival_latency_ms=rival_ms))
    shown = None
    while shown is None:
        clock.advance_ns(STEP_MS * NS_PER_MS)
        sim.run_due()
        (pa, _), (pb, _) = sim.book(a)[1][0], sim.book(b)[1][0]
        if pa + pb <= ONE - 50_000:
            shown = clock.now_ns()
    asks = {t: sim.book(t)[1][0][0] for t in (a, b)}
    while clock.now_ns() < shown + 200 * NS_PER_MS:
        if clock.now_ns() == shown + our_ms * NS_PER_MS:
            for token in (a, b):
                sim.submit(
                    token, Side.BUY, asks[token], 10 * ONE, owner="us", order_type=OrderType.FAK
                )
        clock.advance_ns(STEP_MS * NS_PER_MS)
        sim.run_due()
    bought: dict[str, int] = {"us": 0, "rival": 0}
    for trade in sim.trades():
        if trade.owner == "us":
            bought["us"] += trade.size
        elif trade.owner.startswith("rival-pair"):
            bought["rival"] += trade.size
    return bought["us"], bought["rival"]


@pytest.mark.parametrize(("rival_ms", "our_ms"), [(20, 60), (40, 100)])
def test_a_rival_faster_than_us_takes_the_gap_first(rival_ms: float, our_ms: int) -> None:
    ours, rival = _race(rival_ms, our_ms)
    assert rival > 0
    assert ours == 0  # the gap was gone when our orders arrived


def test_a_gap_is_ours_when_we_are_faster() -> None:
    ours, rival = _race(rival_ms=100, our_ms=20)
    assert ours == 20 * ONE  # both legs, 10 shares each
    assert rival > 0  # the rival takes what depth is left after us


def test_a_temporal_rival_lifts_a_quote_its_feed_says_is_stale() -> None:
    fair = StaticFairValue(default=500_000)
    clock = VirtualClock(START)
    sim = ExchangeSimulator(SimConfig(seed=4), clock=clock, fair_value=fair)
    spec = bo3_markets(
        game="lol", title="LoL", team_a="A", team_b="B", league="L",
        event_slug="e", start="", end="",
    )[1]  # fmt: skip
    listing = sim.add_market(replace(spec, tick=10_000))
    a = listing.token_ids[0]
    sim.place_resting(a, Side.SELL, 520_000, 50 * ONE, owner="slow-maker")
    sim.add_market_traders(
        listing.condition_id,
        MarketParams(
            makers=0,
            takers=0,
            rival_pairs=0,
            rival_temporals=1,
            rival_lag_ms=0,
            rival_lag_spread_ms=0,
            rival_latency_ms=30,
            rival_latency_sigma=0.0,
        ),
    )
    for _ in range(20):  # the value says 0.50: nothing to take
        clock.advance_ns(STEP_MS * NS_PER_MS)
        sim.run_due()
    assert not sim.trades()
    fair.set(listing.condition_id, 900_000)  # the result is in: team a wins
    for _ in range(20):
        clock.advance_ns(STEP_MS * NS_PER_MS)
        sim.run_due()
    taken = [t for t in sim.trades() if t.owner.startswith("rival-temporal")]
    assert taken
    assert taken[0].price == 520_000
    assert taken[0].side is Side.BUY


def test_a_maker_who_knows_the_result_never_quotes_the_winner_carelessly() -> None:
    clock = VirtualClock(START)
    sim = ExchangeSimulator(SimConfig(seed=2), clock=clock, fair_value=StaticFairValue(default=0))
    spec = bo3_markets(
        game="lol", title="LoL", team_a="A", team_b="B", league="L",
        event_slug="e", start="", end="",
    )[1]  # fmt: skip
    listing = sim.add_market(replace(spec, tick=10_000))
    sim.add_market_traders(listing.condition_id, replace(ONE_MAKER_GAPS, rival_pairs=0))
    winner = listing.token_ids[1]  # the value of outcome 0 is 0: team b has won
    for _ in range(20):
        clock.advance_ns(250 * NS_PER_MS)
        sim.run_due()
        asks = sim.book(winner)[1]
        assert asks
        assert asks[0][0] >= 990_000
