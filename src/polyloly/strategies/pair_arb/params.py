"""Parameters of binary pair arbitrage.

Units are in the names: ``*_usdc`` are pUSD micro-units (``25_000_000`` = $25), ``*_shares``
are share micro-units (``5_000_000`` = 5 shares), ``pair_cost_cap`` is a price in micros
(``975_000`` = 0.975 pUSD per YES+NO pair, fees included). Defaults follow the seed plan
(§6.1: cap 0.975, $1,500 per market, $25 steps); the others are polyloly's.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE

__all__ = ["PairArbParams", "PairArbParamsError"]


class PairArbParamsError(ValueError):
    """A parameter set breaks one of its invariants (checked at construction)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PairArbParams:
    """Pair-arbitrage knobs (frozen; validated on construction).

    Attributes
    ----------
    pair_cost_cap
        Maximum average cost of one YES+NO pair **including taker fees** (price micros).
        Every approved buy keeps the position's pair cost average strictly under it.
    max_total_cost_usdc
        Capital cap per market: cost basis plus fees of the open position (pUSD micros).
    step_usdc
        Budget of one order (one leg) in pUSD micros, before fees.
    max_unpaired_usdc
        Cap on the cost basis of one-legged shares (the excess of the leading leg), the
        money at risk if the other leg cannot be bought (pUSD micros).
    merge_min_pairs_shares
        Merge complete pairs back into pUSD once at least this many are held (share
        micros); ``0`` disables merging.
    min_order_shares
        Venue minimum order size (``orderMinSize``, typically 5 shares).
    min_order_usdc
        Venue minimum notional of a marketable BUY ($1).
    size_lot_shares
        Share granularity of an order size (``10_000`` = 0.01 share: sizes have 2 dp).
    amount_quantum_usdc
        Granularity of a FAK/FOK BUY's pUSD amount, ``size × limit price`` (``10_000`` =
        2 dp: the venue rejects market-order maker amounts with more decimals).
    order_type
        ``FAK`` (fill what the book has, kill the rest) or ``FOK``.
    max_shrink_steps
        How many times a rejected step is halved before the engine gives up on it.
    stuck_leg_timeout_ns
        How long (ns) a lagging leg may stay impossible to buy under the cap before the
        leading leg's excess is sold back into the bids; ``0`` never unwinds.
    unwind_max_discount
        How far below the leading leg's average cost (price micros per share) an unwind
        may sell; bids under that floor are not hit (the exposure is capped anyway).
    """

    pair_cost_cap: int = 975_000
    max_total_cost_usdc: int = 1_500_000_000
    step_usdc: int = 25_000_000
    max_unpaired_usdc: int = 50_000_000
    merge_min_pairs_shares: int = 100_000_000
    min_order_shares: int = 5_000_000
    min_order_usdc: int = 1_000_000
    size_lot_shares: int = 10_000
    amount_quantum_usdc: int = 10_000
    order_type: OrderType = OrderType.FAK
    max_shrink_steps: int = 6
    stuck_leg_timeout_ns: int = 30_000_000_000
    unwind_max_discount: int = 50_000

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise PairArbParamsError(problem)


def _problem(p: PairArbParams) -> str:
    checks = (
        (0 < p.pair_cost_cap <= ONE, "pair_cost_cap must be within (0, 1]"),
        (p.step_usdc > 0, "step_usdc must be positive"),
        (p.max_total_cost_usdc >= p.step_usdc, "max_total_cost_usdc must be >= step_usdc"),
        (p.max_unpaired_usdc > 0, "max_unpaired_usdc must be positive"),
        (p.merge_min_pairs_shares >= 0, "merge_min_pairs_shares must be >= 0"),
        (p.min_order_shares >= 0 and p.min_order_usdc >= 0, "minimum sizes must be >= 0"),
        (p.size_lot_shares > 0, "size_lot_shares must be positive"),
        (p.amount_quantum_usdc > 0, "amount_quantum_usdc must be positive"),
        (p.order_type in (OrderType.FAK, OrderType.FOK), "order_type must be FAK or FOK"),
        (p.max_shrink_steps >= 0, "max_shrink_steps must be >= 0"),
        (p.stuck_leg_timeout_ns >= 0, "stuck_leg_timeout_ns must be >= 0"),
        (0 <= p.unwind_max_discount < ONE, "unwind_max_discount must be within [0, 1)"),
    )
    for ok, message in checks:
        if not ok:
            return message
    return ""
