"""Market-channel WebSocket frames, as the venue sends them (field names kept exactly).

Structs are frozen, tagged on ``event_type`` and declare only the fields polyloly uses, so
``book`` and ``price_change`` decode in well under a microsecond per level. Prices and sizes
stay decimal strings here; :mod:`polyloly.adapters.polymarket.parsing` turns them into
integer micros. Timestamps are epoch-millisecond strings on the wire; the decoder runs with
``strict=False`` so they land as ``int``.

Every struct is ``gc=False``: a decoded frame holds only strings, numbers and lists of
such structs, so it can never be part of a reference cycle, and skipping the collector's
tracking makes decoding cheaper and keeps the many short-lived frames out of its counts.

A frame is one object or a JSON array of objects (the initial book dump is an array).
Some older recordings omit ``event_type``: decode those with the single struct type.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §2; docs.polymarket.com market-channel;
nautilus_trader ``adapters/polymarket/schemas/book.py``, ``websocket/messages.rs``.
"""

from __future__ import annotations

from typing import Union

import msgspec

from polyloly.domain.events import Side

__all__ = [
    "MARKET_MESSAGE_TYPES",
    "MarketMessage",
    "WsBestBidAsk",
    "WsBook",
    "WsLastTradePrice",
    "WsLevel",
    "WsMarketResolved",
    "WsNewMarket",
    "WsPriceChange",
    "WsPriceChangeMsg",
    "WsTickSizeChange",
]


class WsLevel(msgspec.Struct, frozen=True, gc=False):
    """One aggregated level: decimal strings."""

    price: str
    size: str


class WsBook(msgspec.Struct, frozen=True, gc=False, tag_field="event_type", tag="book"):
    """Full book of one token; each side runs worst → best (best last), but don't rely on it."""

    market: str
    asset_id: str
    timestamp: int = 0
    hash: str = ""
    bids: list[WsLevel] = []
    asks: list[WsLevel] = []
    tick_size: str | None = None


class WsPriceChange(msgspec.Struct, frozen=True, gc=False):
    """One level update: ``size`` is the new aggregate size at ``price`` (0 removes it)."""

    asset_id: str
    price: str
    size: str
    side: Side
    best_bid: str | None = None
    best_ask: str | None = None


class WsPriceChangeMsg(
    msgspec.Struct, frozen=True, gc=False, tag_field="event_type", tag="price_change"
):
    """Level updates, possibly across several tokens of one market.

    The current format (since 2025-09-15) lists them in ``price_changes``. The legacy
    format carried a single change in top-level ``asset_id``/``price``/``size``/``side``.
    """

    market: str
    timestamp: int = 0
    price_changes: list[WsPriceChange] = []
    asset_id: str | None = None
    price: str | None = None
    size: str | None = None
    side: Side | None = None


class WsLastTradePrice(
    msgspec.Struct, frozen=True, gc=False, tag_field="event_type", tag="last_trade_price"
):
    """A trade printed on the market (no trade id)."""

    market: str
    asset_id: str
    price: str
    size: str
    side: Side
    timestamp: int = 0
    fee_rate_bps: str | None = None


class WsTickSizeChange(
    msgspec.Struct, frozen=True, gc=False, tag_field="event_type", tag="tick_size_change"
):
    """The token's tick changed (price moved above 0.96 or below 0.04)."""

    market: str
    asset_id: str
    old_tick_size: str
    new_tick_size: str
    timestamp: int = 0


class WsBestBidAsk(
    msgspec.Struct, frozen=True, gc=False, tag_field="event_type", tag="best_bid_ask"
):
    """Top of book (custom feature)."""

    market: str
    asset_id: str
    best_bid: str = ""
    best_ask: str = ""
    timestamp: int = 0


class WsNewMarket(msgspec.Struct, frozen=True, gc=False, tag_field="event_type", tag="new_market"):
    """A market was created (custom feature); discovery itself goes through Gamma."""

    market: str
    question: str = ""
    slug: str = ""
    assets_ids: list[str] = []
    outcomes: list[str] = []
    timestamp: int = 0


class WsMarketResolved(
    msgspec.Struct, frozen=True, gc=False, tag_field="event_type", tag="market_resolved"
):
    """The market resolved to ``winning_asset_id``."""

    market: str
    winning_asset_id: str
    winning_outcome: str = ""
    timestamp: int = 0


MarketMessage = Union[  # noqa: UP007 - msgspec needs a runtime Union of the tagged structs
    WsBook,
    WsPriceChangeMsg,
    WsLastTradePrice,
    WsTickSizeChange,
    WsBestBidAsk,
    WsNewMarket,
    WsMarketResolved,
]
"""Any market-channel message, dispatched on ``event_type``."""

MARKET_MESSAGE_TYPES: tuple[type[msgspec.Struct], ...] = (
    WsBook,
    WsPriceChangeMsg,
    WsLastTradePrice,
    WsTickSizeChange,
    WsBestBidAsk,
    WsNewMarket,
    WsMarketResolved,
)
