"""Turn exchange state changes into market- and user-channel frames for the WebSocket hub.

The exchange core calls a :class:`Publisher`; it renders frames with
:mod:`polyloly.sim.exchange.frames` and hands them to a :class:`FeedSink` (the WebSocket
hub, or :class:`RecordingSink` in tests), which routes each frame by asset id (market
channel) or by owning API key and market (user channel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from polyloly.domain.events import Side
from polyloly.domain.matching_book import LevelChange
from polyloly.sim.exchange import frames
from polyloly.sim.exchange.config import Listing
from polyloly.sim.exchange.frames import Json
from polyloly.sim.exchange.orders import OrderRecord, TradeRecord

__all__ = ["FeedSink", "MarketFrame", "Publisher", "RecordingSink", "UserFrame"]

BookView = Callable[[str], tuple[list[tuple[int, int]], list[tuple[int, int]]]]


@dataclass(frozen=True, slots=True)
class MarketFrame:
    """One market-channel frame and the asset ids it concerns.

    ``custom`` frames (``best_bid_ask``, ``new_market``, ``market_resolved``) only go to
    connections that enabled the custom feature; ``broadcast`` ones go to all of those
    whatever they subscribed to (``new_market``).
    """

    frame: Json
    assets: tuple[str, ...]
    custom: bool = False
    broadcast: bool = False


@dataclass(frozen=True, slots=True)
class UserFrame:
    """One user-channel frame for one API key, about one market."""

    owner: str
    market: str
    frame: Json


class FeedSink(Protocol):
    """Where frames go (the WebSocket hub)."""

    def market(self, item: MarketFrame) -> None:
        """Deliver a market-channel frame."""
        ...

    def user(self, item: UserFrame) -> None:
        """Deliver a user-channel frame."""
        ...


@dataclass
class RecordingSink:
    """A :class:`FeedSink` that keeps every frame (tests, and a sim with no server)."""

    markets: list[MarketFrame] = field(default_factory=list)
    users: list[UserFrame] = field(default_factory=list)

    def market(self, item: MarketFrame) -> None:
        """Keep a market frame."""
        self.markets.append(item)

    def user(self, item: UserFrame) -> None:
        """Keep a user frame."""
        self.users.append(item)


class Publisher:
    """Renders state changes as frames and sends them to the sink."""

    def __init__(self, sink: FeedSink, book: BookView, now_ms: Callable[[], int]) -> None:
        self.sink = sink
        self._book = book
        self._now_ms = now_ms
        self.addresses: dict[str, str] = {}  # API key -> address, for trade frames

    def book_frame(self, listing: Listing, token_id: str) -> Json:
        """A ``book`` frame of one token as the book stands now."""
        bids, asks = self._book(token_id)
        return frames.book_summary(listing, token_id, bids, asks, self._now_ms(), event=True)

    def level_changes(
        self, listing: Listing, changes: tuple[LevelChange, ...], order_hash: str
    ) -> None:
        """Publish ``price_change`` (plus ``best_bid_ask``) for changed levels."""
        if not changes:
            return
        ts = self._now_ms()
        entries: list[Json] = []
        tokens: list[str] = []
        for change in changes:
            bids, asks = self._book(change.token_id)
            entries.append(frames.price_change_entry(change, order_hash, bids, asks))
            if change.token_id not in tokens:
                tokens.append(change.token_id)
        frame = frames.price_change_frame(listing.condition_id, entries, ts)
        self.sink.market(MarketFrame(frame, tuple(tokens)))
        self._best_bid_ask(listing, tokens, ts)

    def trades(self, listing: Listing, trades: list[TradeRecord], fee_rate_bps: int) -> None:
        """Publish ``last_trade_price`` per trade, then fresh ``book`` frames of both tokens."""
        if not trades:
            return
        ts = self._now_ms()
        for trade in trades:
            frame = frames.last_trade_frame(trade, fee_rate_bps, ts)
            self.sink.market(MarketFrame(frame, (trade.asset_id,)))
        for token in listing.token_ids:
            self.sink.market(MarketFrame(self.book_frame(listing, token), (token,)))
        self._best_bid_ask(listing, list(listing.token_ids), ts)

    def _best_bid_ask(self, listing: Listing, tokens: list[str], ts: int) -> None:
        for token in tokens:
            bids, asks = self._book(token)
            frame = frames.best_bid_ask_frame(listing.condition_id, token, bids, asks, ts)
            self.sink.market(MarketFrame(frame, (token,), custom=True))

    def tick_change(self, listing: Listing, old: int, new: int) -> None:
        """Publish ``tick_size_change`` and a fresh ``book`` for both tokens."""
        ts = self._now_ms()
        for token in listing.token_ids:
            frame = frames.tick_size_frame(listing.condition_id, token, old, new, ts)
            self.sink.market(MarketFrame(frame, (token,)))
            self.sink.market(MarketFrame(self.book_frame(listing, token), (token,)))

    def new_market(self, listing: Listing) -> None:
        """Announce a listing (custom feature)."""
        frame = frames.new_market_frame(listing, self._now_ms())
        self.sink.market(MarketFrame(frame, listing.token_ids, custom=True, broadcast=True))

    def resolved(self, listing: Listing, winner: str) -> None:
        """Announce a resolution (custom feature)."""
        frame = frames.market_resolved_frame(listing, winner, self._now_ms())
        self.sink.market(MarketFrame(frame, listing.token_ids, custom=True))

    def order(self, record: OrderRecord, kind: str, *, status: str = "") -> None:
        """Publish a user ``order`` event to the order's owner."""
        frame = frames.user_order_frame(record, kind, self._now_ms(), status=status)
        self.sink.user(UserFrame(record.owner, record.market, frame))

    def trade(self, trade: TradeRecord) -> None:
        """Publish a user ``trade`` event (current status) to the taker and every maker."""
        ts = self._now_ms()
        for owner in sorted(trade.owners()):
            address = self.addresses.get(owner, "")
            frame = frames.user_trade_frame(trade, owner, address, ts)
            self.sink.user(UserFrame(owner, trade.market, frame))


def side_of(value: str) -> Side:
    """Parse a wire side."""
    return Side.BUY if value.upper() == "BUY" else Side.SELL
