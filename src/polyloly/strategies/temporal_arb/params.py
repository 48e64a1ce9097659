"""Parameters of temporal arbitrage (seed §6.2).

Units are in the names: ``*_usdc`` are pUSD micro-units (``50_000_000`` = $50), ``*_shares``
share micro-units, prices are micros (``950_000`` = 0.95) and confidences basis points
(``9_000`` = 0.90). Defaults follow the seed (min confidence 0.90, max entry price 0.95,
$50 per signal, $200 total); the others are polyloly's.

``presign`` switches the engine to the *standard entry* that can be signed before the result
is known (see :mod:`polyloly.strategies.temporal_arb.engine` and
:mod:`polyloly.execution.presign`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE, parse_micros
from polyloly.strategies.temporal_arb.policy import ConfirmationPolicy

__all__ = ["TemporalArbParams", "TemporalArbParamsError"]

_BPS = 10_000
_ENTRY_TYPES = frozenset({OrderType.FAK, OrderType.FOK})


class TemporalArbParamsError(ValueError):
    """A parameter set breaks one of its invariants (checked at construction)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporalArbParams:
    """Temporal-arbitrage knobs (frozen; validated on construction).

    Attributes
    ----------
    min_confidence
        A map or match result is traded only at or above this confidence (bps); see
        :mod:`polyloly.strategies.temporal_arb.policy` for the whole confirmation policy.
    min_sources
        Distinct agreeing sources a result needs (2: a report plus a confirmation).
    allow_single_source_final
        Opt-in: also trade a FINAL the truth engine declared by its timeout from one
        source (off by default; the node logs it loudly at start).
    confirm_only
        Sources that confirm but never make a result tradable alone (the truth engine's
        ``confirm_only`` set: Liquipedia, Polymarket's sports feed).
    max_entry_price
        Never pay more than this per share (price micros); also the FAK limit price.
    fixed_size_usdc
        Budget of one signal: the expected cost of the walk (pUSD micros, before fees).
    max_exposure_usdc
        Cap on the worst-case cost (``size × limit``) of all temporal entries not yet
        settled (pUSD micros).
    max_slippage_bps
        The walk stops where the average price would exceed the best ask by more than this
        (keep it equal to the risk gate's ``max_slippage_bps`` so intents pass the gate).
    min_order_usdc
        Venue minimum notional of a marketable BUY ($1).
    size_lot_shares
        Share granularity of an order size (``10_000`` = 0.01 share).
    amount_quantum_usdc
        Granularity of a FAK BUY's ``size × limit price`` (``10_000`` = 2 decimals).
    trade_match_markets, trade_game_markets
        Which kinds of market the strategy enters.
    order_type
        Type of every entry order: FAK (default: fills what the book has under the cap and
        kills the rest) or FOK (all or nothing).
    presign
        Presign mode: whenever the book allows it, the entry is the *standard entry* of its
        market — limit ``max_entry_price`` (on the tick), size ``fixed_size_usdc`` / limit
        rounded down to the lot — so that an order signed before the result can be sent as
        is (see :func:`~polyloly.strategies.temporal_arb.engine.standard_entry`).
    """

    min_confidence: int = 9_000
    min_sources: int = 2
    allow_single_source_final: bool = False
    confirm_only: frozenset[str] = frozenset()
    max_entry_price: int = 950_000
    fixed_size_usdc: int = 50_000_000
    max_exposure_usdc: int = 200_000_000
    max_slippage_bps: int = 50
    min_order_usdc: int = 1_000_000
    size_lot_shares: int = 10_000
    amount_quantum_usdc: int = 10_000
    trade_match_markets: bool = True
    trade_game_markets: bool = True
    order_type: OrderType = OrderType.FAK
    presign: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.min_confidence <= _BPS:
            raise TemporalArbParamsError("confidences must be within [0, 10000] basis points")
        if self.min_sources < 1:
            raise TemporalArbParamsError("min_sources must be >= 1")
        if not 0 < self.max_entry_price < ONE:
            raise TemporalArbParamsError("max_entry_price must be within (0, 1)")
        if self.fixed_size_usdc <= 0 or self.max_exposure_usdc <= 0:
            raise TemporalArbParamsError("fixed_size_usdc and max_exposure_usdc must be > 0")
        if self.fixed_size_usdc > self.max_exposure_usdc:
            raise TemporalArbParamsError("fixed_size_usdc must not exceed max_exposure_usdc")
        if self.max_slippage_bps < 0 or self.min_order_usdc < 0:
            raise TemporalArbParamsError("max_slippage_bps and min_order_usdc must be >= 0")
        if self.size_lot_shares <= 0 or self.amount_quantum_usdc <= 0:
            raise TemporalArbParamsError("size_lot_shares and amount_quantum_usdc must be > 0")
        if self.order_type not in _ENTRY_TYPES:
            raise TemporalArbParamsError("order_type must be FAK or FOK (entries are marketable)")

    @property
    def policy(self) -> ConfirmationPolicy:
        """The confirmation policy these params describe."""
        return ConfirmationPolicy(
            min_confidence=self.min_confidence,
            min_sources=self.min_sources,
            allow_single_source_final=self.allow_single_source_final,
            confirm_only=self.confirm_only,
        )

    @classmethod
    def from_config(
        cls,
        *,
        min_confidence: Decimal | str = "0.90",
        max_entry_price: Decimal | str = "0.95",
        fixed_size_usdc: Decimal | str | int = 50,
        max_exposure_usdc: Decimal | str | int = 200,
        max_slippage_bps: int = 50,
        order_type: OrderType | str = OrderType.FAK,
        presign: bool = False,
    ) -> TemporalArbParams:
        """Build params from the configuration's decimal values."""
        conf = Decimal(min_confidence) * _BPS
        if conf != conf.to_integral_value():
            raise TemporalArbParamsError("min_confidence has more precision than a basis point")
        try:
            kind = OrderType(order_type)
        except ValueError as exc:
            raise TemporalArbParamsError(f"unknown order type {order_type!r}") from exc
        return cls(
            min_confidence=int(conf),
            max_entry_price=parse_micros(max_entry_price),
            fixed_size_usdc=parse_micros(fixed_size_usdc),
            max_exposure_usdc=parse_micros(max_exposure_usdc),
            max_slippage_bps=max_slippage_bps,
            order_type=kind,
            presign=presign,
        )
