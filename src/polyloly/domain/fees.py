"""Fee models: Polymarket's real taker fee, and the seed's flat fee on payout.

Polymarket (2026) charges **takers only**: ``fee = C × rate × (p × (1 − p))^exponent`` with
``C`` shares at price ``p``; the rate is per market (sports and esports: 0.03, exponent 1).
The venue floors the fee to 5 decimal places. Makers pay nothing, there is no winner fee,
and a winning share pays exactly 1 pUSD.

The seed plan assumed a flat 2 % fee on the winning payout and no trading fee; that model
is kept as :class:`FlatPayoutFeeModel`, selectable by configuration, for comparison.

All values are integer micro-units (see :mod:`polyloly.domain.money`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from polyloly.domain.money import ONE, SCALE, MoneyError

__all__ = [
    "ESPORTS_TAKER_RATE",
    "FEE_QUANTUM",
    "FeeModel",
    "FlatPayoutFeeModel",
    "PolymarketFeeModel",
    "fee_model_from_config",
]

ESPORTS_TAKER_RATE: Final = 30_000
"""0.03: Polymarket's taker rate on sports and esports markets, in micros."""

FEE_QUANTUM: Final = 10
"""Fees are floored to 5 decimal places: multiples of 10 micro-pUSD."""


class FeeModel(Protocol):
    """What a fee model answers; every amount is integer micro-units."""

    def taker_fee(self, shares: int, price: int) -> int:
        """Fee a taker pays for ``shares`` share-micros filled at ``price``."""
        ...

    def payout(self, winning_shares: int) -> int:
        """pUSD-micros received at settlement for ``winning_shares`` winning share-micros."""
        ...


@dataclass(frozen=True, slots=True)
class PolymarketFeeModel:
    """Polymarket's taker fee ``C × rate × (p(1 − p))^exponent``, floored to 5 decimals.

    Parameters
    ----------
    rate
        Taker rate in micros (``30_000`` = 0.03, esports).
    exponent
        Whole-number exponent of the ``p(1 − p)`` term (1 on every current market).
    """

    rate: int = ESPORTS_TAKER_RATE
    exponent: int = 1

    def __post_init__(self) -> None:
        if self.rate < 0:
            raise MoneyError("fee rate must be non-negative")
        if self.exponent < 0:
            raise MoneyError("fee exponent must be a non-negative whole number")

    def taker_fee(self, shares: int, price: int) -> int:
        """Return the taker fee in micro-pUSD, floored to 5 decimal places."""
        if shares < 0 or not 0 <= price <= ONE:
            raise MoneyError("shares must be >= 0 and price within [0, 1]")
        curve = price * (ONE - price)  # scale 1e12
        # int ** int is typed Any (a negative exponent gives a float); the exponent is
        # checked non-negative, so these are ints: say so for mypy --strict.
        curve_term: int = curve**self.exponent
        scale_term: int = (SCALE * SCALE) ** self.exponent
        numerator = shares * self.rate * curve_term
        denominator = SCALE * scale_term  # -> micro-pUSD
        return numerator // (denominator * FEE_QUANTUM) * FEE_QUANTUM

    def payout(self, winning_shares: int) -> int:
        """A winning share pays exactly 1 pUSD: no settlement fee."""
        return winning_shares


@dataclass(frozen=True, slots=True)
class FlatPayoutFeeModel:
    """The seed's model: no trading fee, ``payout_fee`` (micros, 20_000 = 2 %) off the payout."""

    payout_fee: int = 20_000

    def __post_init__(self) -> None:
        if not 0 <= self.payout_fee < ONE:
            raise MoneyError("payout fee must be within [0, 1)")

    def taker_fee(self, shares: int, price: int) -> int:
        """No fee on trades in this model."""
        return 0

    def payout(self, winning_shares: int) -> int:
        """Payout net of the flat fee, rounded down to the micro."""
        return winning_shares * (ONE - self.payout_fee) // SCALE


def fee_model_from_config(kind: str, rate: int, exponent: int = 1) -> FeeModel:
    """Build a fee model by name: ``"polymarket"`` (real) or ``"flat_payout"`` (seed)."""
    if kind == "polymarket":
        return PolymarketFeeModel(rate=rate, exponent=exponent)
    if kind == "flat_payout":
        return FlatPayoutFeeModel(payout_fee=rate)
    raise MoneyError(f"unknown fee model {kind!r} (expected 'polymarket' or 'flat_payout')")
