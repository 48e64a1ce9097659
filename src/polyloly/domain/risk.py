"""Risk rules: the pre-trade check, the kill-switch conditions and Kelly sizing (seed §7).

Everything here is a pure function over plain values, so the risk gate in ``execution/``
can call it on every intent and tests can enumerate every rule:

* :func:`check` approves or rejects one intent against a :class:`TradingState` snapshot,
  with a reason naming every rule it breaks;
* :func:`kill_switch_reasons` lists why trading must halt (empty = keep trading);
* :func:`kelly_stake` is the seed's fractional Kelly, in exact rational arithmetic.

Amounts are integer pUSD micros, prices micros, sizes share-micros (see
:mod:`polyloly.domain.money`); slippage is in basis points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Final

from polyloly.domain.events import FeedState, Side
from polyloly.domain.intents import (
    CancelIntent,
    MergeIntent,
    OrderType,
    PlaceOrderIntent,
    RedeemIntent,
    RiskDecision,
)
from polyloly.domain.money import ONE, SCALE, cost_of, fmt, parse_micros

__all__ = [
    "QUARTER_KELLY",
    "Quote",
    "RiskParams",
    "TradingState",
    "binary_kelly_inputs",
    "check",
    "check_order",
    "kelly_stake",
    "kelly_stake_amount",
    "kill_switch_reasons",
]

QUARTER_KELLY: Final = Fraction(1, 4)
_BPS: Final = 10_000
_MARKETABLE: Final = frozenset({OrderType.FOK, OrderType.FAK})


@dataclass(frozen=True, slots=True)
class RiskParams:
    """The seed's hard limits, in micros (defaults are the seed's values).

    Parameters
    ----------
    max_position_per_market
        pUSD at risk in one market (positions at cost plus open buy orders): $1,500.
    max_open_orders_per_market
        Open orders in one market: 5.
    max_total_exposure
        pUSD at risk across all markets: $5,000.
    max_daily_loss
        The kill switch fires when today's PnL is below minus this: $200.
    max_single_order
        Largest notional of one order: $100.
    min_order_size
        Smallest notional of one order: $5.
    max_slippage_bps
        Largest distance of an order's expected average price from the top of the book: 50.
    max_consecutive_exec_errors
        The kill switch fires when more consecutive execution errors than this occur: 3.
    """

    max_position_per_market: int = 1_500_000_000
    max_open_orders_per_market: int = 5
    max_total_exposure: int = 5_000_000_000
    max_daily_loss: int = 200_000_000
    max_single_order: int = 100_000_000
    min_order_size: int = 5_000_000
    max_slippage_bps: int = 50
    max_consecutive_exec_errors: int = 3

    def __post_init__(self) -> None:
        for name in (
            "max_position_per_market",
            "max_open_orders_per_market",
            "max_total_exposure",
            "max_daily_loss",
            "max_single_order",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0")
        if self.min_order_size < 0 or self.max_slippage_bps < 0:
            raise ValueError("min_order_size and max_slippage_bps must be non-negative")
        if self.max_consecutive_exec_errors < 0:
            raise ValueError("max_consecutive_exec_errors must be non-negative")
        if self.min_order_size > self.max_single_order:
            raise ValueError("min_order_size must not exceed max_single_order")

    @classmethod
    def from_config(
        cls,
        *,
        max_position_per_market_usdc: Decimal | str | int = 1500,
        max_open_orders_per_market: int = 5,
        max_total_exposure_usdc: Decimal | str | int = 5000,
        max_daily_loss_usdc: Decimal | str | int = 200,
        max_single_order_usdc: Decimal | str | int = 100,
        min_order_size_usdc: Decimal | str | int = 5,
        max_slippage_bps: int = 50,
        max_consecutive_exec_errors: int = 3,
    ) -> RiskParams:
        """Build params from the configuration's decimal USDC amounts."""
        return cls(
            max_position_per_market=parse_micros(max_position_per_market_usdc),
            max_open_orders_per_market=max_open_orders_per_market,
            max_total_exposure=parse_micros(max_total_exposure_usdc),
            max_daily_loss=parse_micros(max_daily_loss_usdc),
            max_single_order=parse_micros(max_single_order_usdc),
            min_order_size=parse_micros(min_order_size_usdc),
            max_slippage_bps=max_slippage_bps,
            max_consecutive_exec_errors=max_consecutive_exec_errors,
        )


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of one token's book as the risk check needs it (prices in micros)."""

    best_bid: int | None
    best_ask: int | None
    tick: int | None = None
    in_sync: bool = True
    min_size: int = 0  # the market's minimum order size in share-micros (0 = unknown)


@dataclass(frozen=True, slots=True)
class TradingState:
    """A snapshot of everything the risk rules look at.

    ``market_exposure`` is pUSD-micros at risk per market (positions at cost plus open buy
    orders); ``open_orders`` counts open orders per market; ``daily_pnl`` is today's signed
    PnL (realized + unrealized, after fees); ``halted`` is the latched kill switch (it stays
    set until an operator resumes); ``quotes`` holds the top of book per token id.
    """

    market_exposure: Mapping[str, int] = field(default_factory=dict)
    open_orders: Mapping[str, int] = field(default_factory=dict)
    total_exposure: int = 0
    daily_pnl: int = 0
    consecutive_exec_errors: int = 0
    manual_halt: bool = False
    halted: bool = False
    exchange_feed: FeedState = FeedState.OK
    esports_feeds: Mapping[str, FeedState] = field(default_factory=dict)
    quotes: Mapping[str, Quote] = field(default_factory=dict)

    @property
    def anything_live(self) -> bool:
        """Whether any position or open order exists (feeds then matter)."""
        return (
            self.total_exposure > 0
            or any(v > 0 for v in self.market_exposure.values())
            or any(v > 0 for v in self.open_orders.values())
        )


# ---------------------------------------------------------------------------------------------
# Kill switch
# ---------------------------------------------------------------------------------------------


def kill_switch_reasons(state: TradingState, params: RiskParams) -> list[str]:
    """Return every reason trading must halt now (an empty list means none).

    Conditions (seed §7): today's loss beyond ``max_daily_loss``; more than
    ``max_consecutive_exec_errors`` execution errors in a row; a manual halt; the exchange
    feed or any esports feed not OK (down or stale) while a position or order is live.
    """
    reasons: list[str] = []
    if state.daily_pnl < -params.max_daily_loss:
        reasons.append(
            f"daily loss {fmt(-state.daily_pnl, 2)} exceeds {fmt(params.max_daily_loss, 2)} pUSD"
        )
    if state.consecutive_exec_errors > params.max_consecutive_exec_errors:
        reasons.append(
            f"{state.consecutive_exec_errors} consecutive execution errors "
            f"(limit {params.max_consecutive_exec_errors})"
        )
    if state.manual_halt:
        reasons.append("manual halt")
    if state.anything_live:
        if state.exchange_feed is not FeedState.OK:
            reasons.append(
                f"exchange feed {state.exchange_feed.value} while orders/positions are live"
            )
        reasons.extend(
            f"esports feed {name} {feed.value} while orders/positions are live"
            for name, feed in sorted(state.esports_feeds.items())
            if feed is not FeedState.OK
        )
    return reasons


# ---------------------------------------------------------------------------------------------
# Pre-trade check
# ---------------------------------------------------------------------------------------------


def _sanity(intent: PlaceOrderIntent, quote: Quote | None) -> list[str]:
    out: list[str] = []
    if intent.size <= 0:
        out.append("size must be positive")
    if not 0 < intent.price < ONE:
        out.append(f"price {fmt(intent.price)} outside (0, 1)")
    elif quote is not None and quote.tick is not None:
        tick = quote.tick
        if intent.price % tick or not tick <= intent.price <= ONE - tick:
            out.append(f"price {fmt(intent.price)} breaks tick {fmt(tick)}")
    if intent.notional < 0:
        out.append("notional must be non-negative")
    elif (
        intent.side is Side.BUY
        and intent.size > 0
        and intent.notional > cost_of(intent.size, intent.price)
    ):
        out.append("notional above size × limit price")
    if quote is not None and quote.min_size and 0 < intent.size < quote.min_size:
        out.append(f"size {fmt(intent.size, 2)} below the market minimum {fmt(quote.min_size, 2)}")
    return out


def _limits(intent: PlaceOrderIntent, state: TradingState, params: RiskParams) -> list[str]:
    out: list[str] = []
    n = intent.notional
    if n < params.min_order_size:
        out.append(f"notional {fmt(n, 2)} below min order size {fmt(params.min_order_size, 2)}")
    if n > params.max_single_order:
        out.append(f"notional {fmt(n, 2)} above max single order {fmt(params.max_single_order, 2)}")
    if state.open_orders.get(intent.market, 0) + 1 > params.max_open_orders_per_market:
        out.append(f"market already has {params.max_open_orders_per_market} open orders")
    if intent.side is Side.BUY:
        in_market = state.market_exposure.get(intent.market, 0) + n
        if in_market > params.max_position_per_market:
            cap = fmt(params.max_position_per_market, 2)
            out.append(f"market exposure would be {fmt(in_market, 2)} > {cap}")
        total = state.total_exposure + n
        if total > params.max_total_exposure:
            out.append(
                f"total exposure would be {fmt(total, 2)} > {fmt(params.max_total_exposure, 2)}"
            )
    return out


def _slippage(intent: PlaceOrderIntent, quote: Quote | None, bps: int) -> list[str]:
    if quote is None or not quote.in_sync:
        return [f"no in-sync book for token {intent.token_id}"]
    buy = intent.side is Side.BUY
    ref = quote.best_ask if buy else quote.best_bid
    if ref is None:
        # A resting (GTC/GTD) order may join an empty side; a marketable one has nothing to take.
        missing = "no asks to buy from" if buy else "no bids to sell to"
        return [missing] if intent.order_type in _MARKETABLE else []
    if intent.size <= 0:
        return []
    if buy:
        avg = -(-intent.notional * SCALE // intent.size)  # expected average, rounded up
        off = avg * _BPS > ref * (_BPS + bps)
    else:
        avg = intent.notional * SCALE // intent.size
        off = avg * _BPS < ref * (_BPS - bps)
    if off:
        where = "above best ask" if buy else "below best bid"
        return [f"expected average {fmt(avg)} is more than {bps} bps {where} {fmt(ref)}"]
    return []


def check_order(intent: PlaceOrderIntent, state: TradingState, params: RiskParams) -> list[str]:
    """Return every rule ``intent`` breaks (an empty list means it may be placed).

    Rules: not halted (latched or any kill-switch condition); price inside (0, 1) and on the
    token's tick; positive size, not below the market minimum; notional between
    ``min_order_size`` and ``max_single_order``; open orders per market; for buys, market
    and total exposure after the order; an in-sync book for the token, and an expected
    average price (``notional / size``) within ``max_slippage_bps`` of the top of book. A
    marketable order (FOK/FAK) needs liquidity on the side it takes.
    """
    kill = kill_switch_reasons(state, params)
    reasons: list[str] = []
    if state.halted or kill:
        reasons.append("halted: " + ("; ".join(kill) if kill else "kill switch latched"))
    quote = state.quotes.get(intent.token_id)
    reasons += _sanity(intent, quote)
    reasons += _limits(intent, state, params)
    reasons += _slippage(intent, quote, params.max_slippage_bps)
    return reasons


def check(
    intent: PlaceOrderIntent | CancelIntent | MergeIntent | RedeemIntent,
    state: TradingState,
    params: RiskParams | None = None,
) -> RiskDecision:
    """Approve or reject one intent; the decision carries the intent's timestamps.

    Cancels, merges and redemptions only ever reduce risk, so they are approved even while
    halted.
    """
    p = params or RiskParams()
    if isinstance(intent, PlaceOrderIntent):
        reasons = check_order(intent, state, p)
        approved, reason = not reasons, "; ".join(reasons) or "ok"
    else:
        approved, reason = True, "reduces risk"
    return RiskDecision(
        ts_event=intent.ts_event,
        ts_init=intent.ts_init,
        intent_id=intent.intent_id,
        approved=approved,
        reason=reason,
    )


# ---------------------------------------------------------------------------------------------
# Kelly sizing
# ---------------------------------------------------------------------------------------------

Exact = Fraction | Decimal | int | str


def _exact(value: Exact, name: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Fraction | Decimal | int | str):
        raise TypeError(
            f"{name} must be exact (Fraction, Decimal, int or str), not {type(value).__name__}"
        )
    return Fraction(value)


def kelly_stake(edge: Exact, odds: Exact, fraction: Exact = QUARTER_KELLY) -> Fraction:
    """Return the fraction of bankroll to stake: ``fraction × edge / (odds − 1)``, in [0, fraction].

    Parameters
    ----------
    edge
        Expected return per unit staked, ``p × odds − 1`` (``"0.05"`` = 5 %).
    odds
        Decimal odds (> 1); buying a share at price ``c`` pays ``1 / c``.
    fraction
        Kelly multiplier in [0, 1] (the seed uses quarter Kelly).

    Full Kelly is clamped to [0, 1]: no stake without an edge, never more than the bankroll.
    """
    e, o, f = _exact(edge, "edge"), _exact(odds, "odds"), _exact(fraction, "fraction")
    if o <= 1:
        raise ValueError("odds must be greater than 1")
    if not 0 <= f <= 1:
        raise ValueError("fraction must be within [0, 1]")
    full = min(max(e / (o - 1), Fraction(0)), Fraction(1))
    return full * f


def kelly_stake_amount(
    bankroll: int, edge: Exact, odds: Exact, fraction: Exact = QUARTER_KELLY
) -> int:
    """Return the stake in pUSD micros for ``bankroll`` micros, rounded down."""
    if bankroll < 0:
        raise ValueError("bankroll must be non-negative")
    stake = kelly_stake(edge, odds, fraction) * bankroll
    return stake.numerator // stake.denominator


def binary_kelly_inputs(p_win: Exact, price: int) -> tuple[Fraction, Fraction]:
    """Return ``(edge, odds)`` for buying a share at ``price`` micros with win chance ``p_win``."""
    p = _exact(p_win, "p_win")
    if not 0 <= p <= 1:
        raise ValueError("p_win must be within [0, 1]")
    if not 0 < price < ONE:
        raise ValueError("price must be within (0, 1)")
    odds = Fraction(ONE, price)
    return p * odds - 1, odds
