"""Pure wire → domain translation: exact micros, lenient times, statuses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.adapters.polymarket.constants import normalize_order_status, normalize_trade_status
from polyloly.adapters.polymarket.errors import ParseError
from polyloly.adapters.polymarket.events import OrderStatus, TradeStatus
from polyloly.adapters.polymarket.parsing import (
    micros,
    optional_price,
    price_micros,
    size_micros,
    tick_micros,
    time_to_ns,
)
from polyloly.domain.money import parse_micros


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.52", 520_000),
        ("0.5", 500_000),
        ("1", 1_000_000),
        ("0", 0),
        ("12.5", 12_500_000),
        ("100.0000", 100_000_000),
        ("0.000001", 1),
        ("0.1000000000", 100_000),
        ("21574.08", 21_574_080_000),
        (".5", 500_000),
        ("1e-3", 1_000),
        ("5E+1", 50_000_000),
        (" 0.25 ", 250_000),
    ],
)
def test_micros_table(text: str, expected: int) -> None:
    assert micros(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0.0000001", "too_precise"),
        ("abc", "bad_number"),
        ("", "bad_number"),
        ("NaN", "bad_number"),
        ("inf", "bad_number"),
        ("1e999999999", "bad_number"),
        ("1_0", "bad_number"),
        ("٣", "bad_number"),  # a non-ASCII digit int() would accept
        ("1" * 100, "bad_number"),
    ],
)
def test_micros_rejects(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as err:
        micros(text)
    assert err.value.reason == reason


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_micros_matches_parse_micros(value: Decimal) -> None:
    for text in (str(value), f"{value:f}", format(value, ".6f")):
        assert micros(text) == parse_micros(text)


def test_price_and_size_ranges() -> None:
    assert price_micros("0.001") == 1_000
    for bad in ("0", "1", "1.5", "-0.5"):
        with pytest.raises(ParseError):
            price_micros(bad)
    assert size_micros("") == 0
    with pytest.raises(ParseError):
        size_micros("-1")
    assert optional_price(None) is None
    assert optional_price("") is None
    assert optional_price("1") == 1_000_000
    assert optional_price("0") == 0


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_cached_price_and_size_agree_with_the_exact_parse(value: Decimal) -> None:
    """Each field's validated cache answers exactly what a fresh parse does, twice over."""
    text = f"{value:f}"
    exact = parse_micros(text)
    for _ in range(2):  # the first call parses and caches, the second reads the cache
        assert size_micros(text) == exact
        if 0 < exact < 1_000_000:
            assert price_micros(text) == exact
            assert optional_price(text) == exact


def test_size_cache_is_bounded_and_keeps_the_empty_size() -> None:
    from polyloly.adapters.polymarket import parsing

    for i in range(parsing._SIZES_MAX + 10):
        assert size_micros(f"{i}.5") == i * 1_000_000 + 500_000
    assert len(parsing._SIZES) <= parsing._SIZES_MAX
    assert size_micros("") == 0
    assert len(parsing._MICROS_CACHE) <= parsing._MICROS_CACHE_MAX


def test_tick() -> None:
    assert tick_micros("0.01") == 10_000
    assert tick_micros(Decimal("0.0025")) == 2_500
    with pytest.raises(ParseError):
        tick_micros("0.02")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("1703875200", 1_703_875_200_000_000_000),
        ("1703875200000", 1_703_875_200_000_000_000),
        (1703875200, 1_703_875_200_000_000_000),
        ("2024-01-01T00:00:00Z", 1_704_067_200_000_000_000),
        ("2026-04-05 15:10:00+00", 1_775_401_800_000_000_000),
        ("2026-04-05T14:00:05.980362Z", 1_775_397_605_980_362_000),
    ],
)
def test_time_to_ns(value: str | int | None, expected: int | None) -> None:
    assert time_to_ns(value) == expected


def test_time_rejects() -> None:
    for bad in ("yesterday", "1" * 30, -5):
        with pytest.raises(ParseError):
            time_to_ns(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("LIVE", OrderStatus.LIVE),
        ("live", OrderStatus.LIVE),
        ("ORDER_STATUS_MATCHED", OrderStatus.MATCHED),
        ("CANCELED", OrderStatus.CANCELED),
        ("CANCELED_MARKET_RESOLVED", OrderStatus.CANCELED),
        (
            "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed.",
            OrderStatus.CANCELED,
        ),
        ("INVALID", OrderStatus.INVALID),
        ("DELAYED", OrderStatus.DELAYED),
        ("UNMATCHED", OrderStatus.UNMATCHED),
        ("SOMETHING_NEW", OrderStatus.UNKNOWN),
    ],
)
def test_order_status_map(raw: str, expected: OrderStatus) -> None:
    assert normalize_order_status(raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MATCHED", TradeStatus.MATCHED),
        ("MINED", TradeStatus.MINED),
        ("CONFIRMED", TradeStatus.CONFIRMED),
        ("TRADE_STATUS_CONFIRMED", TradeStatus.CONFIRMED),
        ("RETRYING", TradeStatus.RETRYING),
        ("FAILED", TradeStatus.FAILED),
        ("MATCHED_NOT_BROADCASTED", TradeStatus.MATCHED),
        ("weird", TradeStatus.UNKNOWN),
    ],
)
def test_trade_status_map(raw: str, expected: TradeStatus) -> None:
    assert normalize_trade_status(raw) is expected
