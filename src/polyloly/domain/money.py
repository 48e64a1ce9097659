"""Exact money: prices, share quantities and pUSD amounts as integer micro-units.

Every amount in polyloly's core is an ``int`` counted in millionths (1e-6), the unit the
Polymarket contracts use on-chain for both pUSD and outcome tokens:

* a **price** of ``0.52`` is ``520_000`` (a probability, 0 < p < 1_000_000);
* a **quantity** of ``12.5`` shares is ``12_500_000``;
* an **amount** of ``$3.25`` pUSD is ``3_250_000``.

Binary floats never enter the core. Strings and ``Decimal`` are converted exactly at the
edges with :func:`parse_micros` / :func:`to_decimal`; a value that does not fit on the
micro grid is rejected rather than silently rounded.

References
----------
Polymarket protocol reference ``docs/reference/polymarket.md`` §1 (amount math) and §5 (fees).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Final

__all__ = [
    "ONE",
    "SCALE",
    "VALID_TICKS",
    "MoneyError",
    "Rounding",
    "all_on_grid",
    "cost_of",
    "div_round",
    "fmt",
    "is_on_tick",
    "market_buy_amount",
    "parse_micros",
    "round_to_tick",
    "shares_for",
    "tick_decimals",
    "to_decimal",
    "validate_price",
]

SCALE: Final = 1_000_000
"""Micro-units per whole unit (pUSD, share, or price 1.0)."""

ONE: Final = SCALE
"""A price of 1.0: what a winning share pays."""

VALID_TICKS: Final = frozenset({100_000, 10_000, 5_000, 2_500, 1_000, 100})
"""Tick sizes Polymarket uses (0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001) in micros."""

_DEC_SCALE: Final = Decimal(SCALE)
_DEC_ONE: Final = Decimal(1)


class MoneyError(ValueError):
    """A value cannot be represented exactly, or breaks a price rule."""


class Rounding(Enum):
    """How an integer division that is not exact is resolved."""

    DOWN = "down"  # toward zero (amounts here are non-negative)
    UP = "up"
    HALF_UP = "half_up"


def div_round(numerator: int, denominator: int, rounding: Rounding) -> int:
    """Divide two non-negative integers with an explicit rounding rule.

    Parameters
    ----------
    numerator, denominator
        Non-negative integers; ``denominator`` must be positive.
    rounding
        The rule applied when the division is not exact.
    """
    if denominator <= 0:
        raise MoneyError("denominator must be positive")
    if numerator < 0:
        raise MoneyError("numerator must be non-negative")
    q, r = divmod(numerator, denominator)
    if r == 0 or rounding is Rounding.DOWN:
        return q
    if rounding is Rounding.UP:
        return q + 1
    return q + 1 if 2 * r >= denominator else q


def parse_micros(value: str | int | Decimal) -> int:
    """Convert a decimal string (``"0.52"``), int or Decimal into micro-units exactly.

    Raises
    ------
    MoneyError
        If the value is not a finite number or has more than six decimal places.
    """
    if isinstance(value, bool):
        raise MoneyError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value * SCALE
    try:
        dec = value if isinstance(value, Decimal) else Decimal(value.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise MoneyError(f"not a number: {value!r}") from exc
    if not dec.is_finite():
        raise MoneyError(f"not a finite number: {value!r}")
    scaled = dec * _DEC_SCALE
    integral = scaled.to_integral_value()
    if scaled != integral:
        raise MoneyError(f"more precision than 1e-6: {value!r}")
    return int(integral)


def to_decimal(micros: int) -> Decimal:
    """Return the exact ``Decimal`` of a micro-unit amount (for display and the wire).

    Trailing zeros are dropped (``0.5``, not ``0.500000``) but whole numbers keep their
    digits: ``str()`` gives ``"10"``, never the exponent form ``"1E+1"`` that
    ``normalize()`` alone would produce.
    """
    if not micros:
        return Decimal(0)
    dec = (Decimal(micros) / _DEC_SCALE).normalize()
    exponent = dec.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        dec = dec.quantize(_DEC_ONE)
    return dec


def fmt(micros: int, places: int = 6) -> str:
    """Format micro-units as a fixed-point string with ``places`` decimals (truncated)."""
    if not 0 <= places <= 6:
        raise MoneyError("places must be 0..6")
    whole, frac = divmod(abs(micros), SCALE)
    digits = f"{frac:06d}"[:places]
    # No sign when the shown digits are all zero: fmt(-1, 2) is "0.00", not "-0.00".
    sign = "-" if micros < 0 and (whole or digits.strip("0")) else ""
    if places == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{digits}"


def tick_decimals(tick: int) -> int:
    """Decimal places of a tick size (0.01 -> 2, 0.0025 -> 4)."""
    if tick not in VALID_TICKS:
        raise MoneyError(f"unknown tick size: {to_decimal(tick)}")
    exponent = to_decimal(tick).as_tuple().exponent
    assert isinstance(exponent, int)  # noqa: S101  (finite Decimal; narrows the type for mypy)
    return -exponent


def is_on_tick(price: int, tick: int) -> bool:
    """Return whether ``price`` is a multiple of ``tick`` inside ``[tick, 1 - tick]``."""
    return price % tick == 0 and tick <= price <= ONE - tick


def all_on_grid(prices: Iterable[int], tick: int) -> bool:
    """Return whether every price is a multiple of ``tick`` (the loop runs in C: ``map``)."""
    return not any(map(tick.__rmod__, prices))  # price % tick


def validate_price(price: int, tick: int) -> int:
    """Return ``price`` unchanged if it is valid on ``tick``; raise :class:`MoneyError` if not."""
    if tick not in VALID_TICKS:
        raise MoneyError(f"unknown tick size: {to_decimal(tick)}")
    if not is_on_tick(price, tick):
        raise MoneyError(
            f"price {to_decimal(price)} breaks tick size {to_decimal(tick)} "
            f"(must be a multiple in [{to_decimal(tick)}, {to_decimal(ONE - tick)}])"
        )
    return price


def round_to_tick(price: int, tick: int, rounding: Rounding) -> int:
    """Snap a price onto the tick grid, then clamp into ``[tick, 1 - tick]``."""
    snapped = div_round(price, tick, rounding) * tick
    return min(max(snapped, tick), ONE - tick)


def cost_of(quantity: int, price: int, rounding: Rounding = Rounding.UP) -> int:
    """pUSD micros for ``quantity`` share-micros at ``price`` (exact when sizes are on 0.01)."""
    return div_round(quantity * price, SCALE, rounding)


def shares_for(amount: int, price: int, rounding: Rounding = Rounding.DOWN) -> int:
    """Share-micros that ``amount`` pUSD-micros buys at ``price``."""
    if price <= 0:
        raise MoneyError("price must be positive")
    return div_round(amount * SCALE, price, rounding)


SHARE_STEP: Final = 10_000
"""Order sizes are signed in 0.01-share steps (micro-shares)."""
CENT: Final = 10_000
"""A marketable BUY spends whole cents (pUSD micros)."""


def market_buy_amount(size: int, price: int) -> int:
    """The pUSD a marketable (FAK/FOK) BUY of ``size`` at limit ``price`` signs and may spend.

    The venue fills such an order by this amount, not by its size (docs/reference/polymarket.md,
    "Market BUY: maker = USD"): ``size × price`` with the size floored to 0.01 shares and the
    amount floored to whole cents. Cheaper asks buy more shares for it.
    """
    shares = size // SHARE_STEP * SHARE_STEP
    return shares * price // SCALE // CENT * CENT
