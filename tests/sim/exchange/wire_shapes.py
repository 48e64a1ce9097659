"""A small schema of the venue's WebSocket frames, written from the recorded fixtures.

Each struct lists the fields a consumer relies on, typed as the real payloads carry them
(decimal strings, millisecond string timestamps). The tests decode the real recorded
frames with these structs (so the schema is the venue's), then decode the simulator's own
frames with the same structs and round-trip them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec


class Level(msgspec.Struct, frozen=True):
    price: str
    size: str


class Book(msgspec.Struct, frozen=True):
    market: str
    asset_id: str
    timestamp: str
    bids: list[Level]
    asks: list[Level]
    event_type: str = "book"
    hash: str = ""


class Quote(msgspec.Struct, frozen=True):
    asset_id: str
    price: str
    side: str
    size: str
    hash: str
    best_bid: str
    best_ask: str


class PriceChange(msgspec.Struct, frozen=True):
    market: str
    price_changes: list[Quote]
    timestamp: str
    event_type: str = "price_change"


class LastTrade(msgspec.Struct, frozen=True):
    market: str
    asset_id: str
    fee_rate_bps: str
    price: str
    side: str
    size: str
    timestamp: str
    event_type: str = "last_trade_price"


class TickSize(msgspec.Struct, frozen=True):
    market: str
    asset_id: str
    new_tick_size: str
    old_tick_size: str
    timestamp: str
    event_type: str = "tick_size_change"


class BestBidAsk(msgspec.Struct, frozen=True):
    event_type: str
    market: str
    asset_id: str
    best_bid: str
    best_ask: str
    spread: str
    timestamp: str


class NewMarket(msgspec.Struct, frozen=True):
    event_type: str
    id: str
    question: str
    market: str
    slug: str
    assets_ids: list[str]
    outcomes: list[str]
    timestamp: str
    condition_id: str
    clob_token_ids: list[str]
    active: bool
    order_price_min_tick_size: str
    tags: list[str]
    event_message: dict[str, Any]


class MarketResolved(msgspec.Struct, frozen=True):
    event_type: str
    id: str
    market: str
    assets_ids: list[str]
    winning_asset_id: str
    winning_outcome: str
    timestamp: str
    tags: list[str]


class UserOrder(msgspec.Struct, frozen=True):
    type: str
    id: str
    owner: str
    order_owner: str
    maker_address: str
    market: str
    asset_id: str
    side: str
    price: str
    original_size: str
    size_matched: str
    outcome: str
    order_type: str
    status: str
    associate_trades: list[str] | None
    created_at: str
    expiration: str | None
    timestamp: str
    event_type: str = "order"


class MakerOrder(msgspec.Struct, frozen=True):
    order_id: str
    owner: str
    maker_address: str
    matched_amount: str
    price: str
    fee_rate_bps: str
    asset_id: str
    outcome: str


class UserTrade(msgspec.Struct, frozen=True):
    type: str
    id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: str
    size: str
    price: str
    status: str
    outcome: str
    owner: str
    trade_owner: str
    maker_address: str
    trader_side: str
    fee_rate_bps: str
    bucket_index: int
    match_time: str
    last_update: str
    timestamp: str
    maker_orders: list[MakerOrder]
    event_type: str = "trade"


SCHEMAS: dict[str, type[msgspec.Struct]] = {
    "book": Book,
    "price_change": PriceChange,
    "last_trade_price": LastTrade,
    "tick_size_change": TickSize,
    "best_bid_ask": BestBidAsk,
    "new_market": NewMarket,
    "market_resolved": MarketResolved,
    "order": UserOrder,
    "trade": UserTrade,
}

FIXTURES: dict[str, str] = {
    "ws_market_book_msg.json": "book",
    "ws_book_snapshot.json": "book",
    "ws_market_price_change_msg.json": "price_change",
    "ws_quotes.json": "price_change",
    "ws_market_last_trade_msg.json": "last_trade_price",
    "ws_market_tick_size_msg.json": "tick_size_change",
    "ws_market_best_bid_ask_msg.json": "best_bid_ask",
    "ws_market_new_market_msg.json": "new_market",
    "ws_market_resolved_msg.json": "market_resolved",
    "ws_user_order_msg.json": "order",
    "ws_user_order_placement.json": "order",
    "ws_user_order_cancellation.json": "order",
    "py_ws_order_placement.json": "order",
    "ws_user_trade_msg.json": "trade",
    "py_ws_user_trade1.json": "trade",
}
"""Recorded frames and the schema each must satisfy."""

_DECIMAL_FIELDS = ("price", "size", "best_bid", "best_ask", "spread", "original_size")


def check(frame: dict[str, Any], kind: str | None = None) -> msgspec.Struct:
    """Decode one frame with its schema, check decimal strings, and round-trip it."""
    kind = kind or str(frame["event_type"])
    schema = SCHEMAS[kind]
    raw = msgspec.json.encode(frame)
    decoded = msgspec.json.decode(raw, type=schema)
    for name in _DECIMAL_FIELDS:
        value = getattr(decoded, name, None)
        if isinstance(value, str) and value:
            Decimal(value)  # raises if not a decimal string
    again = msgspec.json.decode(msgspec.json.encode(decoded), type=schema)
    assert again == decoded
    return decoded
