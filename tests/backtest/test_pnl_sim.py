"""The PnL Monte Carlo: exact per-opportunity money, seeded determinism, monotone margins."""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.backtest.pnl_sim import (
    CHART_IDS,
    CurvePoint,
    PairArbModel,
    SimParams,
    TemporalArbModel,
    break_even,
    distribution,
    pair_opportunity,
    render_pnl_report,
    simulate,
    temporal_signal,
    write_pnl_report,
)
from polyloly.domain.fees import FlatPayoutFeeModel, PolymarketFeeModel
from polyloly.domain.money import ONE, SCALE, cost_of

FEES = PolymarketFeeModel()
SMALL = SimParams(
    runs=60,
    sweep_runs=30,
    pair=PairArbModel(opportunities=10),
    temporal=TemporalArbModel(signals=5),
)


def _outcomes(step: object, n: int, seed: int = 1) -> dict[str, list[int]]:
    rng = random.Random(seed)
    found: dict[str, list[int]] = {}
    for _ in range(n):
        pnl, outcome = step(rng)  # type: ignore[operator]
        found.setdefault(outcome, []).append(pnl)
    return found


# -- one opportunity ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), cost=st.integers(90, 99))
def test_a_paired_step_locks_in_at_least_one_minus_the_cap(seed: int, cost: int) -> None:
    model = PairArbModel(pair_cost_min=cost * 10_000, pair_cost_max=cost * 10_000, fill_bps=10_000)
    model = replace(model, level_decay_per_s_bps=0)
    pnl, outcome = pair_opportunity(model, FEES, random.Random(seed))
    q = model.step_usdc * SCALE // (cost * 10_000) // 10_000 * 10_000
    if outcome == "paired":  # pair cost with fees < cap, so the lock-in beats (1 - cap) a pair
        assert pnl * SCALE > (ONE - model.pair_cost_cap) * q
    else:
        assert outcome == "skipped"
        assert pnl == 0


def test_a_paired_step_is_payout_minus_costs_and_fees() -> None:
    model = PairArbModel(
        pair_cost_min=930_000,
        pair_cost_max=930_000,
        price_min=450_000,
        price_max=480_000,
        fill_bps=10_000,
        level_decay_per_s_bps=0,
        step_usdc=93 * SCALE,
    )
    q = 100 * SCALE
    # the asks sum to 0.93 with each within [0.45, 0.48]: four possible splits
    expected = {
        q
        - cost_of(q, a)
        - cost_of(q, 930_000 - a)
        - FEES.taker_fee(q, a)
        - FEES.taker_fee(q, 930_000 - a)
        for a in (450_000, 460_000, 470_000, 480_000)
    }
    for seed in range(20):
        assert pair_opportunity(model, FEES, random.Random(seed)) in {
            (e, "paired") for e in expected
        }
    # docs/03 §4: 100 YES at 0.45 and 100 NO at 0.48 pay fees 0.7425 + 0.7488
    at_045 = q - 93 * SCALE - FEES.taker_fee(q, 450_000) - FEES.taker_fee(q, 480_000)
    assert at_045 == 5_508_700
    assert at_045 in expected


def test_the_flat_seed_fee_charges_the_payout_instead() -> None:
    model = PairArbModel(
        pair_cost_min=930_000,
        pair_cost_max=930_000,
        price_min=450_000,
        price_max=480_000,
        fill_bps=10_000,
        level_decay_per_s_bps=0,
        step_usdc=93 * SCALE,
    )
    pnl, outcome = pair_opportunity(model, FlatPayoutFeeModel(), random.Random(3))
    assert (pnl, outcome) == (98 * SCALE - 93 * SCALE, "paired")


def test_leg_risk_outcomes_appear_when_legs_miss() -> None:
    model = PairArbModel(pair_cost_max=950_000, fill_bps=5_000, level_decay_per_s_bps=0)
    found = _outcomes(lambda rng: pair_opportunity(model, FEES, rng), 3_000)
    assert {"paired", "missed", "completed", "unwound"} <= set(found)
    assert all(p == 0 for p in found["missed"])
    # an unwind sells back across the spread and pays a second fee: it loses on average
    assert sum(found["unwound"]) < 0 < min(found["paired"])


def test_a_temporal_win_and_a_wrong_truth_are_exact() -> None:
    model = TemporalArbModel(
        entry_min=620_000,
        entry_max=620_000,
        max_slippage_ticks=0,
        fill_bps=10_000,
        taker_delay_ms=0,
        latency_ms=0,
        market_lag_mean_ms=10**9,  # the market never catches up in time
        wrong_truth_bps=2_000,
    )
    q = 50 * SCALE * SCALE // 620_000 // 10_000 * 10_000
    paid = cost_of(q, 620_000) + FEES.taker_fee(q, 620_000)
    right = _outcomes(lambda rng: temporal_signal(model, FEES, rng), 200)
    assert set(right) == {"won", "lost"}
    assert set(right["won"]) == {q - paid}
    assert set(right["lost"]) == {-paid}
    always_wrong = replace(model, wrong_truth_bps=10_000)
    wrong = _outcomes(lambda rng: temporal_signal(always_wrong, FEES, rng), 50)
    assert wrong == {"lost": [-paid] * 50}


def test_the_taker_delay_kills_right_signals_but_not_wrong_ones() -> None:
    model = TemporalArbModel(
        wrong_truth_bps=1_000, taker_delay_ms=60_000, market_lag_mean_ms=1_000, fill_bps=10_000
    )
    found = _outcomes(lambda rng: temporal_signal(model, FEES, rng), 2_000)
    # nearly every right signal is killed by the delay, no wrong one is: adverse selection
    assert len(found["killed"]) > 1_700
    assert len(found["lost"]) > 150
    assert len(found.get("won", [])) < 10


def test_asks_above_the_entry_cap_are_not_traded() -> None:
    model = TemporalArbModel(entry_min=900_000, entry_max=990_000, max_entry_price=950_000)
    found = _outcomes(lambda rng: temporal_signal(model, FEES, rng), 500)
    assert all(p == 0 for p in found["skipped"])
    assert found["skipped"]


# -- many runs ------------------------------------------------------------------------------


def test_same_seed_same_result_other_seed_other_result() -> None:
    first, again = simulate(SMALL), simulate(SMALL)
    assert first == again
    other = simulate(replace(SMALL, seed=SMALL.seed + 7))
    assert other.total.values != first.total.values


def test_changing_one_strategy_leaves_the_other_untouched() -> None:
    base = simulate(SMALL)
    changed = simulate(replace(SMALL, temporal=replace(SMALL.temporal, wrong_truth_bps=900)))
    assert changed.pair == base.pair
    assert changed.temporal != base.temporal


def test_margins_shrink_as_wrong_truth_and_taker_delay_grow() -> None:
    result = simulate(SMALL)
    wrong = [p.stats.mean for p in result.wrong_truth_curve]
    delay = [p.stats.mean for p in result.taker_delay_curve]
    # common random numbers: each point replays the same draws, so the curves are monotone
    assert wrong == sorted(wrong, reverse=True)
    assert delay == sorted(delay, reverse=True)
    assert result.taker_delay_curve[0].x == 0
    survival = result.edge_survival
    assert survival is not None
    assert 0 < survival < 1
    breakeven = result.break_even_wrong_truth_bps
    assert breakeven is not None
    assert 0 < breakeven < 2_000


def test_outcome_counts_add_up() -> None:
    result = simulate(SMALL)
    assert sum(result.pair_outcomes.values()) == SMALL.runs * SMALL.pair.opportunities
    assert sum(result.temporal_outcomes.values()) == SMALL.runs * SMALL.temporal.signals
    assert result.total.values == tuple(
        a + b for a, b in zip(result.pair.values, result.temporal.values, strict=True)
    )


def test_distribution_uses_nearest_rank_percentiles() -> None:
    d = distribution(list(range(-10, 90)))  # 100 values, -10 .. 89
    assert (d.p5, d.p50, d.p95, d.low, d.high) == (-6, 39, 84, -10, 89)
    assert d.mean == 39  # 3950 / 100, floored
    assert d.prob_loss == Fraction(10, 100)
    assert distribution([]).runs == 0


def test_break_even_interpolates_between_points() -> None:
    def point(x: int, mean: int) -> CurvePoint:
        return CurvePoint(x, distribution([mean]))

    assert break_even([point(0, 100), point(100, 50), point(200, -50)]) == 150
    assert break_even([point(0, 10), point(10, 5)]) is None
    assert break_even([point(0, 0), point(10, -5)]) == 0


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="basis points"):
        SimParams(temporal=TemporalArbModel(wrong_truth_bps=20_000))
    with pytest.raises(ValueError, match="runs"):
        SimParams(runs=0)


# -- the report -----------------------------------------------------------------------------


def test_report_is_self_contained_with_every_chart(tmp_path: Path) -> None:
    result = simulate(SMALL)
    page = render_pnl_report(result)
    for chart in CHART_IDS:
        assert f'id="{chart}"' in page
    lowered = page.lower()
    assert "http://" not in lowered
    assert "https://" not in lowered
    assert "//cdn" not in lowered
    written = write_pnl_report(result, tmp_path / "pnl")
    assert written.read_text(encoding="utf-8") == page
    for chart in CHART_IDS:
        png = tmp_path / "pnl" / f"{chart.replace('-', '_')}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
