"""Exact money: parsing, formatting, rounding and tick rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.money import (
    VALID_TICKS,
    MoneyError,
    Rounding,
    cost_of,
    div_round,
    fmt,
    is_on_tick,
    parse_micros,
    round_to_tick,
    shares_for,
    tick_decimals,
    to_decimal,
    validate_price,
)


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        ("0.52", 520_000),
        (" 12.5 ", 12_500_000),
        ("0.000001", 1),
        ("1e-6", 1),
        ("-3.25", -3_250_000),
        ("199.310000", 199_310_000),
        (7, 7_000_000),
        (Decimal("0.0025"), 2_500),
    ],
)
def test_parse_micros(value: str | int | Decimal, micros: int) -> None:
    assert parse_micros(value) == micros


@pytest.mark.parametrize("value", ["0.0000001", "abc", "", "NaN", "inf", True, None])
def test_parse_micros_rejects(value: object) -> None:
    with pytest.raises(MoneyError):
        parse_micros(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (520_000, "0.52"),
        (1_000_000, "1"),
        (10_000_000, "10"),  # not "1E+1": strings go on the wire
        (100_000_000, "100"),
        (1_500_000_000, "1500"),
        (-20_000_000, "-20"),
        (1, "0.000001"),
        (2_500, "0.0025"),
        (0, "0"),
    ],
)
def test_to_decimal_strings(micros: int, text: str) -> None:
    assert str(to_decimal(micros)) == text


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**15), 10**15))
def test_round_trip(micros: int) -> None:
    dec = to_decimal(micros)
    assert "E" not in str(dec)
    assert parse_micros(str(dec)) == micros
    assert parse_micros(dec) == micros


@pytest.mark.parametrize(
    ("micros", "places", "text"),
    [
        (1_234_567, 6, "1.234567"),
        (1_234_567, 2, "1.23"),
        (1_239_999, 2, "1.23"),  # truncated
        (1_234_567, 0, "1"),
        (-1_234_567, 2, "-1.23"),
        (-1, 2, "0.00"),  # no "-0.00"
        (-1, 0, "0"),
        (-1, 6, "-0.000001"),
        (0, 2, "0.00"),
    ],
)
def test_fmt(micros: int, places: int, text: str) -> None:
    assert fmt(micros, places) == text


def test_fmt_rejects_places() -> None:
    with pytest.raises(MoneyError):
        fmt(1, 7)


@pytest.mark.parametrize(
    ("n", "d", "rounding", "q"),
    [
        (7, 2, Rounding.DOWN, 3),
        (7, 2, Rounding.UP, 4),
        (7, 2, Rounding.HALF_UP, 4),
        (5, 3, Rounding.HALF_UP, 2),
        (4, 3, Rounding.HALF_UP, 1),
        (6, 3, Rounding.UP, 2),
        (0, 3, Rounding.UP, 0),
    ],
)
def test_div_round(n: int, d: int, rounding: Rounding, q: int) -> None:
    assert div_round(n, d, rounding) == q


@pytest.mark.parametrize(("n", "d"), [(1, 0), (1, -1), (-1, 2)])
def test_div_round_rejects(n: int, d: int) -> None:
    with pytest.raises(MoneyError):
        div_round(n, d, Rounding.DOWN)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**15), st.integers(1, 10**9))
def test_div_round_brackets_the_quotient(n: int, d: int) -> None:
    down, up = div_round(n, d, Rounding.DOWN), div_round(n, d, Rounding.UP)
    half = div_round(n, d, Rounding.HALF_UP)
    assert down * d <= n <= up * d
    assert up - down in (0, 1)
    assert half in (down, up)
    assert abs(2 * (n - half * d)) <= d


@pytest.mark.parametrize(
    ("tick", "places"),
    [(100_000, 1), (10_000, 2), (5_000, 3), (2_500, 4), (1_000, 3), (100, 4)],
)
def test_tick_decimals(tick: int, places: int) -> None:
    assert tick_decimals(tick) == places


def test_tick_rules() -> None:
    assert is_on_tick(520_000, 10_000)
    assert not is_on_tick(525_000, 10_000)
    assert not is_on_tick(0, 10_000)
    assert not is_on_tick(1_000_000, 10_000)
    assert is_on_tick(990_000, 10_000)
    assert validate_price(525_000, 5_000) == 525_000
    with pytest.raises(MoneyError):
        validate_price(525_000, 10_000)
    with pytest.raises(MoneyError):
        validate_price(520_000, 3_000)
    with pytest.raises(MoneyError):
        tick_decimals(3_000)


@pytest.mark.parametrize(
    ("price", "tick", "rounding", "out"),
    [
        (525_000, 10_000, Rounding.DOWN, 520_000),
        (525_000, 10_000, Rounding.UP, 530_000),
        (525_000, 10_000, Rounding.HALF_UP, 530_000),
        (1_000, 10_000, Rounding.DOWN, 10_000),  # clamped to the lowest tick
        (999_999, 10_000, Rounding.UP, 990_000),  # clamped to 1 - tick
    ],
)
def test_round_to_tick(price: int, tick: int, rounding: Rounding, out: int) -> None:
    assert round_to_tick(price, tick, rounding) == out


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 999_999), st.sampled_from(sorted(VALID_TICKS)), st.sampled_from(Rounding))
def test_round_to_tick_lands_on_grid(price: int, tick: int, rounding: Rounding) -> None:
    assert is_on_tick(round_to_tick(price, tick, rounding), tick)


def test_cost_and_shares() -> None:
    assert cost_of(12_500_000, 520_000) == 6_500_000
    assert cost_of(1, 520_000) == 1  # rounded up by default
    assert cost_of(1, 520_000, Rounding.DOWN) == 0
    assert shares_for(6_500_000, 520_000) == 12_500_000
    assert shares_for(1_000_000, 300_000) == 3_333_333
    with pytest.raises(MoneyError):
        shares_for(1, 0)


def test_market_buy_amount_floors_shares_then_cents() -> None:
    from polyloly.domain.money import market_buy_amount

    assert market_buy_amount(52_600_000, 950_000) == 49_970_000  # 52.6 x 0.95
    # 10.005 shares -> 10.00; x 0.333 = 3.33 (whole cents)
    assert market_buy_amount(10_005_000, 333_000) == 3_330_000
    assert market_buy_amount(10_000_000, 333_300) == 3_330_000  # 3.333 -> 3.33


def test_all_on_grid() -> None:
    from polyloly.domain.money import all_on_grid

    assert all_on_grid([10_000, 990_000], 10_000)
    assert all_on_grid([], 10_000)
    assert not all_on_grid(iter([10_000, 15_000]), 10_000)
