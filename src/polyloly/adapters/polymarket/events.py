"""Kernel events for the Polymarket user channel: order and trade updates, resyncs.

``domain/events.py`` carries market data only; what the venue says about *our* orders and
trades lives here. Updates come from the user WebSocket (``source="ws"``) or, after a
reconnect, from ``/data/orders`` and ``/data/trades`` (``source="rest"``), because the venue
does not replay updates missed while disconnected.

Money fields are integer micro-units; times are integer ns.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §3 (user channel, statuses), §8
(ghost fills, cross-asset matching, status races).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from polyloly.domain.events import Event, Side, register_event
from polyloly.domain.intents import OrderType

__all__ = [
    "MakerFill",
    "OrderStatus",
    "OrderUpdate",
    "OrderUpdateKind",
    "OwnFill",
    "TradeStatus",
    "TradeUpdate",
    "TraderSide",
    "UpdateSource",
    "UserResync",
]


class OrderStatus(StrEnum):
    """Normalized order status. ``UNKNOWN`` keeps an update whose status is new to us.

    The venue's detailed variants (``CANCELED_MARKET_RESOLVED``, ``CANCELED_order couldn't
    be fully filled…``) map to their base status; the raw text stays in ``status_detail``.
    """

    LIVE = "LIVE"
    DELAYED = "DELAYED"
    MATCHED = "MATCHED"
    UNMATCHED = "UNMATCHED"
    CANCELED = "CANCELED"
    INVALID = "INVALID"
    UNKNOWN = "UNKNOWN"


class OrderUpdateKind(StrEnum):
    """Why the venue sent an order message; ``SNAPSHOT`` is a REST read after a reconnect."""

    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"
    SNAPSHOT = "SNAPSHOT"


class TradeStatus(StrEnum):
    """Trade settlement status: ``MATCHED → MINED → CONFIRMED``, or ``RETRYING``/``FAILED``.

    Only ``CONFIRMED`` is final; ``FAILED`` voids the fill.
    """

    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"


class TraderSide(StrEnum):
    """Whether our order was the taker or one of the makers of a trade."""

    TAKER = "TAKER"
    MAKER = "MAKER"


class UpdateSource(StrEnum):
    """Where an update came from."""

    WS = "ws"
    REST = "rest"


class MakerFill(msgspec.Struct, frozen=True, kw_only=True):
    """One maker order filled by a trade. ``is_ours`` is set when our API key owns it.

    ``side`` is the maker order's side; when the venue omits it, it is inferred (opposite
    of the taker on the same token, the same side on the complementary token).
    """

    order_id: str
    token_id: str
    price: int
    matched_amount: int
    side: Side
    fee_rate_bps: int = 0
    outcome: str = ""
    maker_address: str = ""
    is_ours: bool = False


class OwnFill(msgspec.Struct, frozen=True, kw_only=True):
    """Our share of a trade: which of our orders filled, on which token, how much."""

    order_id: str
    token_id: str
    side: Side
    price: int
    size: int
    is_taker: bool


@register_event
class OrderUpdate(Event, frozen=True, tag="pm_order_update"):
    """The venue's view of one of our orders."""

    order_id: str
    market: str
    token_id: str
    side: Side
    price: int
    original_size: int
    size_matched: int
    status: OrderStatus
    kind: OrderUpdateKind
    source: UpdateSource
    status_detail: str = ""
    order_type: OrderType | None = None
    outcome: str = ""
    maker_address: str = ""
    associate_trades: tuple[str, ...] = ()
    created_at_ns: int | None = None
    expiration_s: int = 0
    metadata: str = ""
    """The signed order's ``metadata`` bytes32 (``0x…``) when the venue echoes it, else ``""``."""


@register_event
class TradeUpdate(Event, frozen=True, tag="pm_trade_update"):
    """A trade we took part in, at one settlement status.

    ``side``/``price``/``size``/``token_id`` describe the taker order. When
    ``trader_side`` is ``MAKER`` our fills are the ``maker_orders`` with ``is_ours``; use
    :meth:`own_fills` either way.
    """

    trade_id: str
    taker_order_id: str
    market: str
    token_id: str
    side: Side
    price: int
    size: int
    status: TradeStatus
    trader_side: TraderSide
    source: UpdateSource
    status_detail: str = ""
    fee_rate_bps: int = 0
    outcome: str = ""
    maker_address: str = ""
    transaction_hash: str = ""
    match_time_ns: int | None = None
    last_update_ns: int | None = None
    bucket_index: int | None = None
    maker_orders: tuple[MakerFill, ...] = ()

    def own_fills(self) -> tuple[OwnFill, ...]:
        """Return our fills in this trade (the taker order, or our maker orders)."""
        if self.trader_side is TraderSide.TAKER:
            return (
                OwnFill(
                    order_id=self.taker_order_id,
                    token_id=self.token_id,
                    side=self.side,
                    price=self.price,
                    size=self.size,
                    is_taker=True,
                ),
            )
        return tuple(
            OwnFill(
                order_id=m.order_id,
                token_id=m.token_id,
                side=m.side,
                price=m.price,
                size=m.matched_amount,
                is_taker=False,
            )
            for m in self.maker_orders
            if m.is_ours
        )


@register_event
class UserResync(Event, frozen=True, tag="pm_user_resync"):
    """The user channel (re)connected and the REST catch-up finished.

    ``open_order_ids`` is every order the venue reports open right now: an order the
    execution layer believes open but missing here was filled or cancelled while we were
    away (its trades, if any, were emitted as ``TradeUpdate`` with ``source="rest"`` just
    before this event). ``trades_after_s`` is the ``after`` bound used for ``/data/trades``.
    """

    open_order_ids: tuple[str, ...]
    trades_after_s: int
    orders_emitted: int
    trades_emitted: int
    reason: str = ""
