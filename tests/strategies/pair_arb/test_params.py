"""Pair-arbitrage parameters: seed defaults, units, validation, public surface."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from polyloly.domain.intents import OrderType
from polyloly.strategies import pair_arb
from polyloly.strategies.pair_arb.params import PairArbParams, PairArbParamsError


def test_seed_defaults_in_micros() -> None:
    p = PairArbParams()
    assert p.pair_cost_cap == 975_000  # 0.975
    assert p.max_total_cost_usdc == 1_500_000_000  # $1,500
    assert p.step_usdc == 25_000_000  # $25
    assert p.order_type is OrderType.FAK
    with pytest.raises(FrozenInstanceError):
        p.step_usdc = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"pair_cost_cap": 0},
        {"pair_cost_cap": 1_000_001},
        {"step_usdc": 0},
        {"max_total_cost_usdc": 1, "step_usdc": 2},
        {"max_unpaired_usdc": 0},
        {"merge_min_pairs_shares": -1},
        {"min_order_shares": -1},
        {"size_lot_shares": 0},
        {"amount_quantum_usdc": 0},
        {"order_type": OrderType.GTC},
        {"max_shrink_steps": -1},
        {"stuck_leg_timeout_ns": -1},
        {"unwind_max_discount": 1_000_000},
    ],
)
def test_invalid_params_raise(bad: dict[str, Any]) -> None:
    with pytest.raises(PairArbParamsError):
        PairArbParams(**bad)


def test_public_surface() -> None:
    for name in pair_arb.__all__:
        assert hasattr(pair_arb, name)
    assert {"PairArbEngine", "PairArbParams", "should_buy_more"} <= set(pair_arb.__all__)
