"""What strategies want done, and the risk gate's answer.

Strategies never talk to a venue: they return intents. The risk gate approves or rejects
each one with a reason; the order manager turns an approved intent into exactly one
exchange order. Intents are derived events, so they are logged for audit and regenerated
(not re-fed) on replay — which is how a backtest proves it makes the same decisions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from polyloly.domain.events import Event, Side, register_event

__all__ = [
    "CancelIntent",
    "MergeIntent",
    "OrderType",
    "PlaceOrderIntent",
    "RiskDecision",
    "intent_id_for",
]


class OrderType(StrEnum):
    """Polymarket order types: GTC/GTD rest on the book, FOK/FAK are marketable only."""

    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


def intent_id_for(strategy: str, key: str, seq: int) -> str:
    """Build a deterministic intent id (the same inputs always give the same id)."""
    return f"{strategy}:{key}:{seq}"


@register_event
class PlaceOrderIntent(Event, frozen=True, tag="place_order_intent"):
    """Buy or sell ``size`` share-micros of ``token_id`` at a limit ``price`` (micros).

    ``notional`` is the pUSD-micro cost the strategy expects (before fees), used by risk.
    """

    intent_id: str
    strategy: str
    market: str
    token_id: str
    side: Side
    price: int
    size: int
    order_type: OrderType
    notional: int
    match_id: str = ""
    post_only: bool = False
    expiration_s: int = 0
    reason: str = ""

    derived: ClassVar[bool] = True


@register_event
class CancelIntent(Event, frozen=True, tag="cancel_intent"):
    """Cancel one order (by its intent id) or, with an empty ``target_intent_id``, a market's."""

    intent_id: str
    strategy: str
    target_intent_id: str = ""
    market: str = ""
    reason: str = ""

    derived: ClassVar[bool] = True


@register_event
class MergeIntent(Event, frozen=True, tag="merge_intent"):
    """Merge ``size`` complete YES+NO pairs of ``market`` back into pUSD."""

    intent_id: str
    strategy: str
    market: str
    size: int
    reason: str = ""

    derived: ClassVar[bool] = True


@register_event
class RiskDecision(Event, frozen=True, tag="risk_decision"):
    """The risk gate's verdict on one intent."""

    intent_id: str
    approved: bool
    reason: str

    derived: ClassVar[bool] = True
