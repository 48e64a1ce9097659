"""User-channel WebSocket frames and the matching REST records (``/data/orders``, ``/data/trades``).

The REST records share the WebSocket shape (minus ``event_type``), so one struct serves
both. Venue quirks handled leniently here and normalized in parsing: ``created_at`` in
seconds or milliseconds (or empty for a killed FOK), ``expiration``/``associate_trades``
``null``, ``match_time`` as epoch seconds or ISO-8601, ``matchtime`` spelled both ways,
``fee_rate_bps`` as string or number, optional ``maker_orders[].side``.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §3; docs.polymarket.com user-channel;
nautilus_trader ``adapters/polymarket/schemas/user.py`` (``PolymarketUserOrder``,
``PolymarketUserTrade``, ``PolymarketMakerOrder``).
"""

from __future__ import annotations

from typing import Union

import msgspec

from polyloly.domain.events import Side

__all__ = ["UserMessage", "WsMakerOrder", "WsUserOrder", "WsUserTrade"]


class WsUserOrder(msgspec.Struct, frozen=True, tag_field="event_type", tag="order"):
    """An order placement / update / cancellation (also a ``/data/orders`` row)."""

    id: str
    market: str
    asset_id: str
    side: Side
    price: str
    original_size: str
    status: str
    size_matched: str = ""
    type: str = ""
    order_type: str = ""
    outcome: str = ""
    owner: str = ""
    maker_address: str = ""
    associate_trades: list[str] | None = None
    created_at: str | int | None = None
    expiration: str | int | None = None
    timestamp: str | int | None = None
    metadata: str | None = None  # the signed order's bytes32 when the venue echoes it


class WsMakerOrder(msgspec.Struct, frozen=True):
    """One maker order inside a trade."""

    order_id: str
    asset_id: str
    price: str
    matched_amount: str
    owner: str = ""
    maker_address: str = ""
    fee_rate_bps: str | int | None = None
    outcome: str = ""
    side: Side | None = None


class WsUserTrade(msgspec.Struct, frozen=True, tag_field="event_type", tag="trade"):
    """A trade status change (also a ``/data/trades`` row)."""

    id: str
    market: str
    asset_id: str
    side: Side
    price: str
    size: str
    status: str
    taker_order_id: str = ""
    trader_side: str = "TAKER"
    outcome: str = ""
    owner: str = ""
    maker_address: str = ""
    fee_rate_bps: str | int | None = None
    bucket_index: int | None = None
    match_time: str | int | None = None
    matchtime: str | int | None = None
    last_update: str | int | None = None
    timestamp: str | int | None = None
    transaction_hash: str | None = None
    maker_orders: list[WsMakerOrder] | None = None


UserMessage = Union[WsUserOrder, WsUserTrade]  # noqa: UP007 - runtime Union for msgspec
"""Any user-channel message, dispatched on ``event_type``."""
