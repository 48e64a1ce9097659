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
    "RedeemIntent",
    "RiskDecision",
    "decision_key",
    "intent_id_for",
    "split_intent_id",
]


class OrderType(StrEnum):
    """Polymarket order types: GTC/GTD rest on the book, FOK/FAK are marketable only."""

    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


def decision_key(strategy: str, key: str) -> str:
    """What a strategy's decisions about one subject share: ``<strategy>:<key>``.

    ``key`` names the subject (pair arbitrage: the market; temporal arbitrage: the market
    and the winner's token, one result); with a step it makes an intent id.
    """
    return f"{strategy}:{key}"


def intent_id_for(strategy: str, key: str, seq: int) -> str:
    """Build a deterministic intent id ``<strategy>:<key>:<step>``.

    The same decision — strategy, subject, step — always gets the same id, in a replay and
    after a restart, so the order manager recognises it (one order per intent id) however
    often it is derived again.
    """
    return f"{decision_key(strategy, key)}:{seq}"


def split_intent_id(intent_id: str) -> tuple[str, int] | None:
    """``(decision key, step)`` of an id made by :func:`intent_id_for`, else ``None``."""
    key, sep, step = intent_id.rpartition(":")
    if not sep or not key or not step.isdigit():
        return None
    return key, int(step)


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
class RedeemIntent(Event, frozen=True, tag="redeem_intent"):
    """Redeem every position of resolved ``market`` for pUSD: 1 per winning share."""

    intent_id: str
    strategy: str
    market: str
    winning_token_id: str
    payout: int = 0  # expected pUSD-micros (the winning shares held)
    reason: str = ""

    derived: ClassVar[bool] = True


@register_event
class RiskDecision(Event, frozen=True, tag="risk_decision"):
    """The risk gate's verdict on one intent."""

    intent_id: str
    approved: bool
    reason: str

    derived: ClassVar[bool] = True
