"""The pair position of a binary market: legs, leg fills and what a position holds.

A binary market has two outcome tokens, YES and NO; exactly one pays 1 pUSD. Holding
``q_yes`` YES and ``q_no`` NO shares, the payout is at least ``payout(min(q_yes, q_no))``
whatever happens, and ``q`` complete pairs can be merged back into ``q`` pUSD at any time.
:class:`PairPosition` keeps that arithmetic exact (integer micros, ratios as
:class:`~fractions.Fraction`); the ledger, the reports and the pair strategy all read it.
The buy rules live in :mod:`polyloly.strategies.pair_arb.math`; the derivation and worked
numbers in ``docs/03_BINARY_PAIR_ARB_MATH.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from polyloly.domain.fees import FeeModel
from polyloly.domain.money import SCALE, MoneyError

__all__ = ["Leg", "LegFill", "PairPosition"]


class Leg(StrEnum):
    """One side of a binary market: YES (outcome 0, ``token_a``) or NO (outcome 1)."""

    YES = "yes"
    NO = "no"

    @property
    def other(self) -> Leg:
        """The complementary leg."""
        return Leg.NO if self is Leg.YES else Leg.YES


@dataclass(frozen=True, slots=True)
class LegFill:
    """A (hypothetical or real) buy on one leg: share-micros, pUSD-micro cost and fee.

    ``price`` is the worst price touched (the limit price that fills it), 0 if unknown.
    """

    shares: int
    cost: int
    fee: int
    price: int = 0


@dataclass(frozen=True, slots=True)
class PairPosition:
    """What one market's pair position holds and what it cost (all integer micros).

    ``cost_*`` is pUSD paid for the shares, ``fees_*`` the taker fees paid on them,
    ``realized`` the pUSD that merges and sales returned (net of fees) minus the cost basis
    they retired; it may be negative.
    """

    q_yes: int = 0
    q_no: int = 0
    cost_yes: int = 0
    cost_no: int = 0
    fees_yes: int = 0
    fees_no: int = 0
    realized: int = 0

    def __post_init__(self) -> None:
        if min(self.q_yes, self.q_no, self.cost_yes, self.cost_no, self.fees_yes, self.fees_no) < 0:
            raise MoneyError("pair position quantities, costs and fees must be >= 0")

    # -- plain reads --------------------------------------------------------------------------

    @property
    def q_min(self) -> int:
        """Complete pairs held: the shares that pay whichever outcome wins."""
        return min(self.q_yes, self.q_no)

    @property
    def gap(self) -> int:
        """``q_yes − q_no``: positive when YES leads, negative when NO leads."""
        return self.q_yes - self.q_no

    @property
    def lagging(self) -> Leg | None:
        """The leg with fewer shares (``None`` when balanced)."""
        gap = self.q_yes - self.q_no
        if gap == 0:
            return None
        return Leg.NO if gap > 0 else Leg.YES

    @property
    def total_cost(self) -> int:
        """Capital in the open position: cost basis plus fees of both legs."""
        return self.cost_yes + self.cost_no + self.fees_yes + self.fees_no

    def shares(self, leg: Leg) -> int:
        """Shares held on ``leg``."""
        return self.q_yes if leg is Leg.YES else self.q_no

    def basis(self, leg: Leg) -> int:
        """Cost plus fees of ``leg`` (pUSD micros)."""
        if leg is Leg.YES:
            return self.cost_yes + self.fees_yes
        return self.cost_no + self.fees_no

    def avg(self, leg: Leg) -> Fraction | None:
        """Exact average cost per share of ``leg`` including fees (pUSD), ``None`` if empty."""
        q = self.shares(leg)
        return Fraction(self.basis(leg), q) if q else None

    # -- the pair numbers -------------------------------------------------------------------

    def pair_cost_avg(self) -> Fraction | None:
        """Exact ``avg_yes + avg_no`` in pUSD per pair, fees included.

        ``None`` while a leg is empty: there is no pair to price yet.
        """
        if not self.q_yes or not self.q_no:
            return None
        return Fraction(self.cost_yes + self.fees_yes, self.q_yes) + Fraction(
            self.cost_no + self.fees_no, self.q_no
        )

    def pair_cost_avg_micros(self) -> int | None:
        """:meth:`pair_cost_avg` as price micros, **rounded up** (the conservative side)."""
        if not self.q_yes or not self.q_no:
            return None
        by = self.cost_yes + self.fees_yes
        bn = self.cost_no + self.fees_no
        num = SCALE * (by * self.q_no + bn * self.q_yes)
        return -(-num // (self.q_yes * self.q_no))

    def pair_cost_below(self, cap: int) -> bool:
        """Whether the pair cost average is strictly below ``cap`` (price micros), exactly.

        ``False`` while a leg is empty. Decided by cross-multiplication:
        ``1e6 × (B_yes × q_no + B_no × q_yes) < cap × q_yes × q_no``.
        """
        qy, qn = self.q_yes, self.q_no
        if not qy or not qn:
            return False
        by = self.cost_yes + self.fees_yes
        bn = self.cost_no + self.fees_no
        return SCALE * (by * qn + bn * qy) < cap * qy * qn

    def guaranteed_pnl(self, fee_model: FeeModel) -> int:
        """``realized + payout(q_min) − costs − fees``: the PnL whichever outcome wins."""
        return self.realized + fee_model.payout(min(self.q_yes, self.q_no)) - self.total_cost

    def unpaired_usdc(self) -> int:
        """Cost basis of the leading leg's excess shares (rounded up): the leg risk.

        ``excess × basis_lead / q_lead``; 0 when balanced.
        """
        gap = self.q_yes - self.q_no
        if gap > 0:
            return -(-gap * (self.cost_yes + self.fees_yes) // self.q_yes)
        if gap < 0:
            return -(gap * (self.cost_no + self.fees_no) // self.q_no)
        return 0

    # -- transitions ----------------------------------------------------------------------------

    def hypo_buy(self, leg: Leg, shares: int, cost: int, fee: int) -> PairPosition:
        """Return the position after buying ``shares`` of ``leg`` for ``cost`` plus ``fee``."""
        if shares < 0 or cost < 0 or fee < 0:
            raise MoneyError("a buy needs shares, cost and fee >= 0")
        if leg is Leg.YES:
            return PairPosition(
                self.q_yes + shares,
                self.q_no,
                self.cost_yes + cost,
                self.cost_no,
                self.fees_yes + fee,
                self.fees_no,
                self.realized,
            )
        return PairPosition(
            self.q_yes,
            self.q_no + shares,
            self.cost_yes,
            self.cost_no + cost,
            self.fees_yes,
            self.fees_no + fee,
            self.realized,
        )

    def hypo_sell(self, leg: Leg, shares: int, proceeds: int, fee: int) -> PairPosition:
        """Return the position after selling ``shares`` of ``leg`` for ``proceeds`` − ``fee``.

        The sold shares' cost and fees are retired pro rata (rounded down, as in
        :meth:`merged`) and ``realized`` gains the net proceeds minus that basis; the
        guaranteed PnL therefore rises by exactly ``proceeds − fee`` when only unpaired
        shares are sold.
        """
        q = self.shares(leg)
        if not 0 <= shares <= q or proceeds < 0 or fee < 0:
            raise MoneyError(f"cannot sell {shares} of {q} shares (proceeds and fee >= 0)")
        if shares == 0:
            return self
        if leg is Leg.YES:
            c, f = self.cost_yes * shares // q, self.fees_yes * shares // q
            return PairPosition(
                q - shares,
                self.q_no,
                self.cost_yes - c,
                self.cost_no,
                self.fees_yes - f,
                self.fees_no,
                self.realized + proceeds - fee - c - f,
            )
        c, f = self.cost_no * shares // q, self.fees_no * shares // q
        return PairPosition(
            self.q_yes,
            q - shares,
            self.cost_yes,
            self.cost_no - c,
            self.fees_yes,
            self.fees_no - f,
            self.realized + proceeds - fee - c - f,
        )

    def with_fill(self, leg: Leg, fill: LegFill) -> PairPosition:
        """:meth:`hypo_buy` with a :class:`LegFill`."""
        return self.hypo_buy(leg, fill.shares, fill.cost, fill.fee)

    def merged(self, pairs: int) -> PairPosition:
        """Return the position after merging ``pairs`` YES+NO pairs into ``pairs`` pUSD.

        Each leg's cost and fees are retired pro rata, rounded down (the crumbs stay on
        the remaining shares, so their average is never understated); ``realized`` gains
        ``pairs`` minus the retired basis, which keeps :meth:`guaranteed_pnl` exact.
        """
        if not 0 <= pairs <= self.q_min:
            raise MoneyError(f"cannot merge {pairs} pairs out of {self.q_min}")
        if pairs == 0:
            return self
        qy, qn = self.q_yes, self.q_no
        cy, cn = self.cost_yes * pairs // qy, self.cost_no * pairs // qn
        fy, fn = self.fees_yes * pairs // qy, self.fees_no * pairs // qn
        return PairPosition(
            qy - pairs,
            qn - pairs,
            self.cost_yes - cy,
            self.cost_no - cn,
            self.fees_yes - fy,
            self.fees_no - fn,
            self.realized + pairs - (cy + cn + fy + fn),
        )
