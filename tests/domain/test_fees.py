"""Fee models: Polymarket's taker fee (floored to 5 dp) and the seed's flat payout fee."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import load_fixture

from polyloly.domain.fees import (
    ESPORTS_TAKER_RATE,
    FEE_QUANTUM,
    FlatPayoutFeeModel,
    PolymarketFeeModel,
    fee_model_from_config,
)
from polyloly.domain.money import MoneyError, parse_micros

SH = 1_000_000


@pytest.mark.parametrize(
    ("shares", "price", "fee"),
    [
        (100 * SH, 500_000, 750_000),  # 100 × 0.03 × 0.25 = 0.75 (the maximum per share)
        (SH, 500_000, 7_500),
        (SH, 490_000, 7_490),  # 0.007497 floored to 5 dp
        (SH, 450_000, 7_420),  # 0.007425 -> 0.00742
        (SH, 480_000, 7_480),  # 0.007488 -> 0.00748
        (1_000 * SH, 490_000, 7_497_000),
        (SH, 10_000, 290),  # 0.03 × 0.01 × 0.99 = 0.000297 -> 0.00029
        (10_000, 10_000, 0),  # 0.00000297: under the 5-dp quantum, no fee
        (SH, 0, 0),
        (SH, 1_000_000, 0),
        (0, 500_000, 0),
    ],
)
def test_polymarket_taker_fee_table(shares: int, price: int, fee: int) -> None:
    assert PolymarketFeeModel().taker_fee(shares, price) == fee


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**12), st.integers(0, 1_000_000), st.integers(0, 200_000))
def test_polymarket_fee_equals_decimal_formula(shares: int, price: int, rate: int) -> None:
    m = PolymarketFeeModel(rate=rate)
    exact = (
        Decimal(shares)
        / SH
        * Decimal(rate)
        / SH
        * (Decimal(price) / SH)
        * (1 - Decimal(price) / SH)
    )
    floored = exact.quantize(Decimal("0.00001"), rounding=ROUND_FLOOR)
    fee = m.taker_fee(shares, price)
    assert fee == int(floored * SH)
    assert fee % FEE_QUANTUM == 0
    assert 0 <= fee <= shares * rate // (4 * SH)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**10), st.integers(1, 999_999))
def test_fee_is_symmetric_around_one_half(shares: int, price: int) -> None:
    m = PolymarketFeeModel()
    assert m.taker_fee(shares, price) == m.taker_fee(shares, 1_000_000 - price)


def test_exponent_two_and_zero() -> None:
    # 100 × 0.03 × (0.25)^2 = 0.1875 ; exponent 0: 100 × 0.03 = 3
    assert PolymarketFeeModel(exponent=2).taker_fee(100 * SH, 500_000) == 187_500
    assert PolymarketFeeModel(exponent=0).taker_fee(100 * SH, 500_000) == 3_000_000


def test_payouts() -> None:
    assert PolymarketFeeModel().payout(123 * SH) == 123 * SH  # no winner fee
    assert FlatPayoutFeeModel().payout(100 * SH) == 98 * SH  # seed: 2 % off the payout
    assert FlatPayoutFeeModel().payout(1) == 0  # rounded down
    assert FlatPayoutFeeModel().taker_fee(100 * SH, 500_000) == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda: PolymarketFeeModel(rate=-1),
        lambda: PolymarketFeeModel(exponent=-1),
        lambda: FlatPayoutFeeModel(payout_fee=-1),
        lambda: FlatPayoutFeeModel(payout_fee=1_000_000),
        lambda: fee_model_from_config("maker", 1),
    ],
)
def test_invalid_models_raise(build: Callable[[], object]) -> None:
    with pytest.raises(MoneyError):
        build()


@pytest.mark.parametrize(("shares", "price"), [(-1, 500_000), (SH, -1), (SH, 1_000_001)])
def test_invalid_fee_inputs_raise(shares: int, price: int) -> None:
    with pytest.raises(MoneyError):
        PolymarketFeeModel().taker_fee(shares, price)


def test_fee_model_from_config() -> None:
    assert fee_model_from_config("polymarket", ESPORTS_TAKER_RATE) == PolymarketFeeModel()
    assert fee_model_from_config("flat_payout", 20_000) == FlatPayoutFeeModel()


def test_sports_fee_schedule_fixture_matches_default_rate(real_fixtures: Path) -> None:
    raw = load_fixture(real_fixtures / "polymarket", "gamma_market_sports_market_money_line.json")
    schedule = raw["feeSchedule"]
    assert parse_micros(str(schedule["rate"])) == ESPORTS_TAKER_RATE
    assert schedule["exponent"] == 1
    assert schedule["takerOnly"] is True
