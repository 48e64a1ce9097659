"""Binary pair arbitrage math with the real fee model, exact to the micro.

A binary market has two outcome tokens, YES and NO; exactly one pays 1 pUSD. Holding
``q_yes`` YES and ``q_no`` NO shares, the payout is at least ``payout(min(q_yes, q_no))``
whatever happens, and ``q`` complete pairs can be merged back into ``q`` pUSD at any time.
So the **guaranteed PnL** of a position is

    realized + payout(q_min) − (cost_yes + cost_no) − (fees_yes + fees_no)

where ``realized`` is what merges (and sales of unpaired shares) returned above the cost
basis they retired (0 until the first one). The **pair cost average** is
``avg_yes + avg_no``, each leg's cost basis per share *including its taker fees*; a
position of equal legs earns ``q × (1 − avg)``.

Polymarket charges takers ``shares × rate × p × (1 − p)`` (floored to 5 dp; rate 0.03 on
esports) and nothing at settlement; the seed's model charged 2 % of the payout instead.
Both implement :class:`~polyloly.domain.fees.FeeModel`; every function here takes one.

Money is integer micros throughout; ratios are compared by cross-multiplication (or
returned as exact :class:`~fractions.Fraction`), never as floats. See
``docs/03_BINARY_PAIR_ARB_MATH.md`` for the derivation and worked numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import gcd, lcm
from typing import Final

from polyloly.domain.events import Level
from polyloly.domain.fees import FeeModel
from polyloly.domain.money import ONE, SCALE, cost_of
from polyloly.domain.pairs import Leg, LegFill, PairPosition
from polyloly.strategies.pair_arb.params import PairArbParams

__all__ = [
    "APPROVED",
    "buy_fill",
    "fee_per_share",
    "max_price_under",
    "order_lot",
    "pair_edge",
    "sell_fill",
    "should_buy_more",
    "should_buy_pair",
]

APPROVED: Final = "ok"
"""The reason string of an approved buy."""

_FEE_PROBE: Final = SCALE * SCALE  # a million shares: the 5-dp fee floor vanishes per share


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------


def should_buy_more(
    pos: PairPosition, leg: Leg, fill: LegFill, params: PairArbParams, fee_model: FeeModel
) -> tuple[bool, str]:
    """Decide one single-leg buy (the seed's ``should_buy_more``, with real fees).

    Rejects, with the reason, a buy that: is empty; would take the position's capital
    (cost + fees) over ``max_total_cost_usdc``; leaves a leg empty (no pair to price);
    does not keep the pair cost average strictly under ``pair_cost_cap``; does not
    strictly raise the guaranteed PnL; or grows one-legged exposure past
    ``max_unpaired_usdc``. A lone buy can only raise the guaranteed PnL by raising
    ``q_min``, so in practice this approves buys of the lagging leg; opening a new pair
    from a balanced position is decided by :func:`should_buy_pair`.

    Returns
    -------
    tuple[bool, str]
        ``(True, "ok")`` or ``(False, reason)``.
    """
    if fill.shares <= 0:
        return False, "empty_fill"
    if pos.total_cost + fill.cost + fill.fee > params.max_total_cost_usdc:
        return False, "max_total_cost"
    new = pos.hypo_buy(leg, fill.shares, fill.cost, fill.fee)
    return _judge(pos, new, new, params, fee_model)


def should_buy_pair(
    pos: PairPosition,
    fill_yes: LegFill,
    fill_no: LegFill,
    *,
    first: Leg,
    params: PairArbParams,
    fee_model: FeeModel,
) -> tuple[bool, str]:
    """Decide a pair step: buy ``fill_yes`` and ``fill_no``, ``first`` leg first.

    The same rules as :func:`should_buy_more` applied to the position after both legs,
    plus the leg-risk rule on the state in between: after the first leg alone, one-legged
    exposure must stay within ``max_unpaired_usdc`` (or not grow).
    """
    if fill_yes.shares <= 0 or fill_no.shares <= 0:
        return False, "empty_fill"
    added = fill_yes.cost + fill_yes.fee + fill_no.cost + fill_no.fee
    if pos.total_cost + added > params.max_total_cost_usdc:
        return False, "max_total_cost"
    mid = pos.with_fill(first, fill_yes if first is Leg.YES else fill_no)
    new = pos.with_fill(Leg.YES, fill_yes).with_fill(Leg.NO, fill_no)
    return _judge(pos, mid, new, params, fee_model)


def _judge(
    pos: PairPosition,
    mid: PairPosition,
    new: PairPosition,
    params: PairArbParams,
    fee_model: FeeModel,
) -> tuple[bool, str]:
    if not new.q_yes or not new.q_no:
        return False, "one_legged"
    if not new.pair_cost_below(params.pair_cost_cap):
        return False, "pair_cost_cap"
    if new.guaranteed_pnl(fee_model) <= pos.guaranteed_pnl(fee_model):
        return False, "pnl_not_improved"
    before = pos.unpaired_usdc()
    for state in (mid, new):
        exposure = state.unpaired_usdc()
        if exposure > params.max_unpaired_usdc and exposure > before:
            return False, "max_unpaired"
    return True, APPROVED


# ---------------------------------------------------------------------------------------------
# Prices, fees and sizes
# ---------------------------------------------------------------------------------------------


def pair_edge(p_yes: int, p_no: int, fee_model: FeeModel, shares: int = SCALE) -> int:
    """Guaranteed profit of buying ``shares`` pairs at ``p_yes`` and ``p_no`` (pUSD micros).

    ``payout(shares) − shares × (p_yes + p_no) − fee(p_yes) − fee(p_no)``; with the real
    model and one share this is ``1 − p_yes − p_no − fee(p_yes) − fee(p_no)``. Costs are
    rounded up, fees as the venue floors them.
    """
    return (
        fee_model.payout(shares)
        - cost_of(shares, p_yes)
        - cost_of(shares, p_no)
        - fee_model.taker_fee(shares, p_yes)
        - fee_model.taker_fee(shares, p_no)
    )


def fee_per_share(fee_model: FeeModel, price: int) -> int:
    """Taker fee of one share at ``price`` without the 5-dp floor, rounded up (micros)."""
    return -(-fee_model.taker_fee(_FEE_PROBE, price) // SCALE)


def max_price_under(target: int, fee_model: FeeModel, tick: int) -> int | None:
    """Highest price on the ``tick`` grid with ``price + fee_per_share(price) ≤ target``.

    ``p + rate·p(1 − p)`` rises with ``p`` for any rate below 1, so a binary search over
    the grid ``[tick, 1 − tick]`` finds it. ``None`` if even ``tick`` costs more.
    """
    lo, hi = 1, ONE // tick - 1  # grid indices; answer in [lo, hi] if any
    if lo > hi or tick + fee_per_share(fee_model, tick) > target:
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        p = mid * tick
        if p + fee_per_share(fee_model, p) <= target:
            lo = mid
        else:
            hi = mid - 1
    return lo * tick


def buy_fill(levels: Iterable[Level], fee_model: FeeModel) -> LegFill:
    """Price a buy that takes ``levels`` (``(price, quantity)`` pieces of a depth walk).

    Cost is ``ceil(Σ q × p / 1e6)``; the fee is charged per level (each floored), which
    is never below what the venue charges per maker order matched; ``price`` is the
    worst level, the limit that fills the walk.
    """
    shares = num = fee = worst = 0
    for p, q in levels:
        shares += q
        num += q * p
        fee += fee_model.taker_fee(q, p)
        worst = max(worst, p)
    return LegFill(shares, -(-num // SCALE), fee, worst)


def sell_fill(levels: Iterable[Level], fee_model: FeeModel) -> LegFill:
    """Price a sell into ``levels`` of the bids: ``cost`` holds the proceeds.

    Proceeds are ``floor(Σ q × p / 1e6)``, the fee per level as in :func:`buy_fill`,
    ``price`` the lowest level (the limit that fills the walk).
    """
    shares = num = fee = 0
    worst = ONE
    for p, q in levels:
        shares += q
        num += q * p
        fee += fee_model.taker_fee(q, p)
        worst = min(worst, p)
    return LegFill(shares, num // SCALE, fee, worst if shares else 0)


def order_lot(price: int, params: PairArbParams) -> int:
    """Share granularity for an order at limit ``price``.

    A size must be a multiple of ``size_lot_shares`` and ``size × price`` a multiple of
    ``amount_quantum_usdc`` (the venue's amount precision for FAK/FOK buys): e.g. 0.2
    share at 0.45, 10 shares at 0.451.
    """
    quantum = params.amount_quantum_usdc * SCALE  # size × price is on the 1e12 scale
    return lcm(params.size_lot_shares, quantum // gcd(price, quantum))
