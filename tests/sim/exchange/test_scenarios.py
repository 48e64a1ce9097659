"""The standalone simulator's built-in market sets (``polyloly sim exchange --scenario``)."""

from __future__ import annotations

from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.money import ONE, SCALE
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import PAIR_EDGE_ASKS, SCENARIOS
from polyloly.strategies.pair_arb import PairArbParams


def test_pair_edge_leaves_one_static_pair_under_the_cap_after_fees() -> None:
    sim = ExchangeSimulator(SimConfig(seed=1))
    listings = SCENARIOS["pair_edge"](sim)
    assert len(listings) == 4  # the match market and its three games
    game1 = listings[1]
    asks = tuple(sim.book(token)[1][0][0] for token in game1.token_ids)
    assert asks == PAIR_EDGE_ASKS
    fees = PolymarketFeeModel()
    per_pair = sum(a + fees.taker_fee(SCALE, a) for a in asks)
    assert per_pair < PairArbParams().pair_cost_cap < ONE
    others = [t for m in listings if m is not game1 for t in m.token_ids]
    assert all(sim.book(t) == ([], []) for t in others)
    assert sim.traders.makers == []  # static: the same trades every run
