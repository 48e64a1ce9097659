"""Risk rules: every pre-trade rule, every kill-switch condition, Kelly bounds."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import FeedState, Side
from polyloly.domain.intents import CancelIntent, MergeIntent, OrderType, PlaceOrderIntent
from polyloly.domain.risk import (
    QUARTER_KELLY,
    Quote,
    RiskParams,
    TradingState,
    binary_kelly_inputs,
    check,
    check_order,
    kelly_stake,
    kelly_stake_amount,
    kill_switch_reasons,
)

P = RiskParams()
TOKEN = "111"
QUOTE = Quote(best_bid=480_000, best_ask=500_000, tick=10_000, min_size=5_000_000)
STATE = TradingState(quotes={TOKEN: QUOTE})


def order(**kw: object) -> PlaceOrderIntent:
    base: dict[str, object] = {
        "ts_event": 5,
        "ts_init": 6,
        "intent_id": "s:k:1",
        "strategy": "s",
        "market": "0xm",
        "token_id": TOKEN,
        "side": Side.BUY,
        "price": 500_000,
        "size": 20_000_000,  # 20 shares at 0.50 = $10
        "order_type": OrderType.FAK,
        "notional": 10_000_000,
    }
    base.update(kw)
    return PlaceOrderIntent(**base)  # type: ignore[arg-type]


def test_defaults_are_the_seed_values() -> None:
    assert (
        RiskParams(
            max_position_per_market=1_500_000_000,
            max_open_orders_per_market=5,
            max_total_exposure=5_000_000_000,
            max_daily_loss=200_000_000,
            max_single_order=100_000_000,
            min_order_size=5_000_000,
            max_slippage_bps=50,
            max_consecutive_exec_errors=3,
        )
        == P
    )
    assert (
        RiskParams.from_config(max_daily_loss_usdc=Decimal("150.5")).max_daily_loss == 150_500_000
    )
    assert RiskParams.from_config() == P


@pytest.mark.parametrize(
    "kw",
    [
        {"max_daily_loss": 0},
        {"max_single_order": -1},
        {"min_order_size": -1},
        {"max_slippage_bps": -1},
        {"max_consecutive_exec_errors": -1},
        {"min_order_size": 200_000_000},
    ],
)
def test_params_validation(kw: dict[str, int]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        RiskParams(**kw)


# -- kill switch ----------------------------------------------------------------------------------

LIVE = TradingState(open_orders={"0xm": 1})


@pytest.mark.parametrize(
    ("state", "reasons"),
    [
        (TradingState(), []),
        (TradingState(daily_pnl=-200_000_000), []),  # at the limit: not beyond it
        (TradingState(daily_pnl=-200_000_001), ["daily loss 200.00 exceeds 200.00 pUSD"]),
        (TradingState(daily_pnl=10**12), []),
        (TradingState(consecutive_exec_errors=3), []),
        (TradingState(consecutive_exec_errors=4), ["4 consecutive execution errors (limit 3)"]),
        (TradingState(manual_halt=True), ["manual halt"]),
        (TradingState(exchange_feed=FeedState.DOWN), []),  # nothing live: no halt
        (
            replace(LIVE, exchange_feed=FeedState.DOWN),
            ["exchange feed down while orders/positions are live"],
        ),
        (
            TradingState(market_exposure={"0xm": 1}, exchange_feed=FeedState.STALE),
            ["exchange feed stale while orders/positions are live"],
        ),
        (
            TradingState(
                total_exposure=1,
                esports_feeds={"pandascore": FeedState.STALE, "grid": FeedState.DOWN},
            ),
            [
                "esports feed grid down while orders/positions are live",
                "esports feed pandascore stale while orders/positions are live",
            ],
        ),
        (replace(LIVE, esports_feeds={"grid": FeedState.OK}), []),
        (
            TradingState(daily_pnl=-300_000_000, manual_halt=True),
            ["daily loss 300.00 exceeds 200.00 pUSD", "manual halt"],
        ),
    ],
)
def test_kill_switch_conditions(state: TradingState, reasons: list[str]) -> None:
    assert kill_switch_reasons(state, P) == reasons


# -- pre-trade check ------------------------------------------------------------------------------


def test_a_sound_order_is_approved() -> None:
    decision = check(order(), STATE, P)
    assert (decision.approved, decision.reason, decision.intent_id) == (True, "ok", "s:k:1")
    assert (decision.ts_event, decision.ts_init) == (5, 6)
    assert check_order(order(), STATE, P) == []


@pytest.mark.parametrize(
    ("intent", "state", "expected"),
    [
        (order(), replace(STATE, halted=True), "halted: kill switch latched"),
        (order(), replace(STATE, manual_halt=True), "halted: manual halt"),
        (order(price=0, notional=0), STATE, "price 0.000000 outside (0, 1)"),
        (order(price=1_000_000), STATE, "outside (0, 1)"),
        (order(price=505_000, notional=10_000_000), STATE, "breaks tick 0.010000"),
        (order(size=0), STATE, "size must be positive"),
        (order(size=4_000_000, notional=2_000_000), STATE, "below the market minimum"),
        (order(notional=-1), STATE, "notional must be non-negative"),
        (order(notional=10_000_001), STATE, "notional above size × limit price"),
        (order(size=8_000_000, notional=4_000_000), STATE, "below min order size 5.00"),
        (
            order(size=300_000_000, notional=150_000_000, price=500_000),
            STATE,
            "above max single order 100.00",
        ),
        (order(), replace(STATE, open_orders={"0xm": 5}), "market already has 5 open orders"),
        (
            order(),
            replace(STATE, market_exposure={"0xm": 1_495_000_000}),
            "market exposure would be 1505.00 > 1500.00",
        ),
        (
            order(),
            replace(STATE, total_exposure=4_999_000_000),
            "total exposure would be 5009.00 > 5000.00",
        ),
        (order(), TradingState(), "no in-sync book for token 111"),
        (
            order(),
            replace(STATE, quotes={TOKEN: replace(QUOTE, in_sync=False)}),
            "no in-sync book",
        ),
        (order(), replace(STATE, quotes={TOKEN: replace(QUOTE, best_ask=None)}), "no asks"),
        (
            order(side=Side.SELL, notional=9_000_000),
            replace(STATE, quotes={TOKEN: replace(QUOTE, best_bid=None)}),
            "no bids",
        ),
        (
            order(price=510_000, notional=10_200_000),
            STATE,
            "expected average 0.510000 is more than 50 bps above best ask 0.500000",
        ),
        (
            order(side=Side.SELL, price=470_000, notional=9_400_000),
            STATE,
            "expected average 0.470000 is more than 50 bps below best bid 0.480000",
        ),
    ],
)
def test_each_rule_rejects(intent: PlaceOrderIntent, state: TradingState, expected: str) -> None:
    decision = check(intent, state, P)
    assert not decision.approved
    assert expected in decision.reason


@pytest.mark.parametrize(
    ("intent", "state"),
    [
        # Within the slippage budget: 0.5025 is exactly 50 bps above 0.50.
        (order(price=510_000, notional=10_050_000), STATE),
        # Sells reduce exposure, so exposure caps don't apply.
        (
            order(side=Side.SELL, price=480_000, notional=9_600_000),
            replace(STATE, market_exposure={"0xm": 1_500_000_000}, total_exposure=5_000_000_000),
        ),
        # A resting bid may join an empty ask side.
        (
            order(order_type=OrderType.GTC, price=450_000, notional=9_000_000),
            replace(STATE, quotes={TOKEN: replace(QUOTE, best_ask=None)}),
        ),
        # Unknown tick and minimum: only the (0, 1) range applies.
        (order(), replace(STATE, quotes={TOKEN: Quote(best_bid=None, best_ask=500_000)})),
        # Feeds down but nothing live yet.
        (order(), replace(STATE, exchange_feed=FeedState.DOWN)),
    ],
)
def test_edge_cases_approved(intent: PlaceOrderIntent, state: TradingState) -> None:
    assert check_order(intent, state, P) == []


def test_every_broken_rule_is_named() -> None:
    reasons = check_order(order(size=0, price=0, notional=0), replace(STATE, halted=True), P)
    assert reasons[0] == "halted: kill switch latched"
    assert "size must be positive" in reasons
    assert len(reasons) >= 4


def test_cancels_and_merges_pass_even_when_halted() -> None:
    halted = TradingState(halted=True, manual_halt=True)
    cancel = CancelIntent(ts_event=1, ts_init=2, intent_id="c", strategy="s", market="0xm")
    merge = MergeIntent(ts_event=1, ts_init=2, intent_id="g", strategy="s", market="0xm", size=1)
    for intent in (cancel, merge):
        decision = check(intent, halted)
        assert decision.approved
        assert decision.reason == "reduces risk"


# -- Kelly ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edge", "odds", "fraction", "expected"),
    [
        ("0.05", "2", QUARTER_KELLY, Fraction(1, 80)),  # seed: 0.05 / 1 × 0.25
        ("0.10", "1.5", QUARTER_KELLY, Fraction(1, 20)),
        (Decimal("0.2"), 2, 1, Fraction(1, 5)),
        ("-0.1", "2", QUARTER_KELLY, Fraction(0)),
        ("0", "3", QUARTER_KELLY, Fraction(0)),
        ("5", "2", QUARTER_KELLY, Fraction(1, 4)),  # full Kelly clamped to the whole bankroll
        ("0.05", "2", "0", Fraction(0)),
    ],
)
def test_kelly_table(edge: str, odds: str, fraction: Fraction | str, expected: Fraction) -> None:
    assert kelly_stake(edge, odds, fraction) == expected


def test_kelly_errors_and_amounts() -> None:
    with pytest.raises(ValueError, match="odds"):
        kelly_stake("0.1", "1")
    with pytest.raises(ValueError, match="fraction"):
        kelly_stake("0.1", "2", "1.5")
    with pytest.raises(TypeError, match="exact"):
        kelly_stake(0.1, "2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exact"):
        kelly_stake(True, "2")
    assert kelly_stake_amount(1_000_000_000, "0.05", "2") == 12_500_000  # $1,000 -> $12.50
    assert kelly_stake_amount(3, "0.05", "2") == 0  # rounded down
    with pytest.raises(ValueError, match="bankroll"):
        kelly_stake_amount(-1, "0.05", "2")


def test_binary_kelly_inputs() -> None:
    edge, odds = binary_kelly_inputs("0.6", 500_000)
    assert (edge, odds) == (Fraction(1, 5), Fraction(2))
    assert kelly_stake(edge, odds, 1) == Fraction(1, 5)  # (p - c) / (1 - c)
    with pytest.raises(ValueError, match="p_win"):
        binary_kelly_inputs("1.1", 500_000)
    with pytest.raises(ValueError, match="price"):
        binary_kelly_inputs("0.5", 1_000_000)


fractions = st.fractions(min_value=0, max_value=1, max_denominator=1000)
odds_st = st.fractions(min_value=Fraction(1001, 1000), max_value=100, max_denominator=1000)
edges = st.fractions(min_value=-2, max_value=10, max_denominator=1000)


@settings(max_examples=300)
@given(edges, odds_st, fractions)
def test_kelly_bounds(edge: Fraction, odds: Fraction, fraction: Fraction) -> None:
    stake = kelly_stake(edge, odds, fraction)
    assert 0 <= stake <= fraction
    if edge <= 0:
        assert stake == 0
    if 0 <= edge <= odds - 1:
        assert stake == edge / (odds - 1) * fraction


@settings(max_examples=300)
@given(edges, edges, odds_st)
def test_kelly_monotone_in_edge(a: Fraction, b: Fraction, odds: Fraction) -> None:
    lo, hi = sorted((a, b))
    assert kelly_stake(lo, odds) <= kelly_stake(hi, odds)


@settings(max_examples=300)
@given(
    st.fractions(min_value=0, max_value=1, max_denominator=1000),
    st.integers(1, 999_999),
    st.integers(0, 10**12),
)
def test_binary_kelly_matches_closed_form(p: Fraction, price: int, bankroll: int) -> None:
    edge, odds = binary_kelly_inputs(p, price)
    c = Fraction(price, 1_000_000)
    full = max(Fraction(0), (p - c) / (1 - c))
    assert kelly_stake(edge, odds, 1) == full
    amount = kelly_stake_amount(bankroll, edge, odds)
    assert 0 <= amount <= bankroll // 4
