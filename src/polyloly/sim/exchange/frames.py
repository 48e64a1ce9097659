"""The exchange's wire shapes: REST replies and WebSocket frames, as plain JSON-ready dicts.

Field names, string encodings and orderings follow ``docs/reference/polymarket.md`` §1-§3
and the recorded payloads in ``tests/fixtures/real/polymarket/``: prices and sizes are
decimal strings, timestamps are epoch-millisecond strings on the market channel and
second strings on the user channel, book sides run worst → best (best last), and the
book ``hash`` is the SHA-1 of the compact JSON the client library recomputes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from polyloly.domain.matching_book import LevelChange
from polyloly.domain.money import to_decimal
from polyloly.sim.exchange.config import Listing
from polyloly.sim.exchange.orders import OrderRecord, TradeRecord

__all__ = [
    "Json",
    "best_bid_ask_frame",
    "book_hash",
    "book_summary",
    "group_item_title",
    "last_trade_frame",
    "market_resolved_frame",
    "new_market_frame",
    "num",
    "price_change_entry",
    "price_change_frame",
    "rest_order",
    "rest_trade",
    "tick_size_frame",
    "user_order_frame",
    "user_trade_frame",
]

Json = dict[str, Any]
Levels = list[tuple[int, int]]


def num(micros: int) -> str:
    """A micro amount as the venue's plain decimal string (``"0.52"``, ``"100"``)."""
    return format(to_decimal(micros), "f")


def _levels(levels: Levels) -> list[dict[str, str]]:
    """Best-first ``(price, size)`` levels as wire levels, worst first."""
    return [{"price": num(p), "size": num(s)} for p, s in reversed(levels)]


def book_hash(summary: Json) -> str:
    """SHA-1 of the compact summary JSON with ``hash`` blank, keys in the venue's order."""
    payload = {
        "market": summary["market"],
        "asset_id": summary["asset_id"],
        "timestamp": summary["timestamp"],
        "hash": "",
        "bids": summary["bids"],
        "asks": summary["asks"],
        "min_order_size": summary["min_order_size"],
        "tick_size": summary["tick_size"],
        "neg_risk": summary["neg_risk"],
        "last_trade_price": summary["last_trade_price"],
    }
    encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha1(encoded, usedforsecurity=False).hexdigest()


def book_summary(
    listing: Listing, token_id: str, bids: Levels, asks: Levels, ts_ms: int, *, event: bool
) -> Json:
    """A ``GET /book`` reply, or (``event=True``) a market-channel ``book`` frame."""
    last = listing.last_trade_price.get(token_id)
    summary: Json = {
        "market": listing.condition_id,
        "asset_id": token_id,
        "timestamp": str(ts_ms),
        "hash": "",
        "bids": _levels(bids),
        "asks": _levels(asks),
        "min_order_size": num(listing.spec.min_size),
        "tick_size": num(listing.tick),
        "neg_risk": listing.spec.neg_risk,
        "last_trade_price": num(last) if last is not None else "",
    }
    summary["hash"] = book_hash(summary)
    if event:
        return {"event_type": "book", **summary}
    return summary


def _best(levels: Levels, empty: str) -> str:
    return num(levels[0][0]) if levels else empty


def price_change_frame(market: str, changes: list[Json], ts_ms: int) -> Json:
    """A ``price_change`` frame; ``changes`` come from :func:`price_change_entry`."""
    return {
        "event_type": "price_change",
        "market": market,
        "price_changes": changes,
        "timestamp": str(ts_ms),
    }


def price_change_entry(change: LevelChange, order_hash: str, bids: Levels, asks: Levels) -> Json:
    """One ``price_changes`` element: the level's new aggregate size and the new top."""
    return {
        "asset_id": change.token_id,
        "price": num(change.price),
        "size": num(change.size),
        "side": change.side.value,
        "hash": order_hash,
        "best_bid": _best(bids, "0"),
        "best_ask": _best(asks, "1"),
    }


def best_bid_ask_frame(market: str, token_id: str, bids: Levels, asks: Levels, ts_ms: int) -> Json:
    """A ``best_bid_ask`` frame (custom feature)."""
    bid = bids[0][0] if bids else 0
    ask = asks[0][0] if asks else 1_000_000
    return {
        "event_type": "best_bid_ask",
        "market": market,
        "asset_id": token_id,
        "best_bid": num(bid),
        "best_ask": num(ask),
        "spread": num(ask - bid),
        "timestamp": str(ts_ms),
    }


def last_trade_frame(trade: TradeRecord, fee_rate_bps: int, ts_ms: int) -> Json:
    """A ``last_trade_price`` frame for one trade (taker's token, price and side)."""
    return {
        "event_type": "last_trade_price",
        "market": trade.market,
        "asset_id": trade.asset_id,
        "price": num(trade.price),
        "size": num(trade.size),
        "side": trade.side.value,
        "fee_rate_bps": str(fee_rate_bps),
        "timestamp": str(ts_ms),
        "transaction_hash": trade.transaction_hash,
    }


def tick_size_frame(market: str, token_id: str, old: int, new: int, ts_ms: int) -> Json:
    """A ``tick_size_change`` frame."""
    return {
        "event_type": "tick_size_change",
        "market": market,
        "asset_id": token_id,
        "old_tick_size": num(old),
        "new_tick_size": num(new),
        "timestamp": str(ts_ms),
    }


def new_market_frame(listing: Listing, ts_ms: int) -> Json:
    """A ``new_market`` frame (custom feature)."""
    spec = listing.spec
    tokens = list(listing.token_ids)
    return {
        "event_type": "new_market",
        "id": listing.gamma_id,
        "question": spec.question,
        "market": listing.condition_id,
        "slug": spec.slug,
        "description": spec.question,
        "assets_ids": tokens,
        "outcomes": list(spec.outcomes),
        "event_message": {
            "id": listing.event_id,
            "ticker": spec.event_slug,
            "slug": spec.event_slug,
            "title": spec.event_title or spec.question,
            "description": spec.event_title or spec.question,
        },
        "timestamp": str(ts_ms),
        "tags": list(spec.tags),
        "condition_id": listing.condition_id,
        "active": True,
        "clob_token_ids": tokens,
        "sports_market_type": "moneyline" if spec.game_number is None else "child_moneyline",
        "line": "",
        "game_start_time": spec.game_start_time,
        "order_price_min_tick_size": num(listing.tick),
        "group_item_title": "Match Winner"
        if spec.game_number is None
        else f"Game {spec.game_number}",
        "fees_enabled": spec.fee_rate > 0,
        "fee_schedule": {
            "exponent": spec.fee_exponent,
            "rate": float(to_decimal(spec.fee_rate)),
            "takerOnly": True,
            "rebateRate": 0.25,
        },
    }


def group_item_title(game_number: int | None) -> str:
    """Gamma's ``groupItemTitle`` of a match market or a "Game N Winner" market."""
    return "Match Winner" if game_number is None else f"Game {game_number} Winner"


def market_resolved_frame(listing: Listing, winner: str, ts_ms: int) -> Json:
    """A ``market_resolved`` frame (custom feature)."""
    return {
        "event_type": "market_resolved",
        "id": listing.gamma_id,
        "market": listing.condition_id,
        "assets_ids": list(listing.token_ids),
        "winning_asset_id": winner,
        "winning_outcome": listing.outcome_of(winner),
        "timestamp": str(ts_ms),
        "tags": list(listing.spec.tags),
    }


def _expiration(record: OrderRecord) -> str:
    return str(record.expiration_s)


def rest_order(record: OrderRecord) -> Json:
    """An order as ``/data/order/{id}`` and ``/data/orders`` return it."""
    return {
        "id": record.id,
        "status": record.status,
        "owner": record.owner,
        "maker_address": record.maker_address,
        "market": record.market,
        "asset_id": record.asset_id,
        "side": record.side.value,
        "original_size": num(record.original_size),
        "size_matched": num(record.size_matched),
        "price": num(record.price),
        "outcome": record.outcome,
        "expiration": _expiration(record),
        "order_type": record.order_type.value,
        "associate_trades": list(record.associate_trades),
        "created_at": record.created_at_s,
        "metadata": record.metadata,
    }


def user_order_frame(record: OrderRecord, kind: str, ts_ms: int, *, status: str = "") -> Json:
    """A user-channel ``order`` event (``kind`` PLACEMENT / UPDATE / CANCELLATION)."""
    return {
        "event_type": "order",
        "type": kind,
        "id": record.id,
        "owner": record.owner,
        "order_owner": record.owner,
        "maker_address": record.maker_address,
        "market": record.market,
        "asset_id": record.asset_id,
        "side": record.side.value,
        "price": num(record.price),
        "original_size": num(record.original_size),
        "size_matched": num(record.size_matched),
        "outcome": record.outcome,
        "order_type": record.order_type.value,
        "status": status or record.status,
        "associate_trades": list(record.associate_trades),
        "created_at": str(record.created_at_s),
        "expiration": _expiration(record),
        "timestamp": str(ts_ms),
        "metadata": record.metadata,
    }


def _viewer_fields(trade: TradeRecord, viewer: str, viewer_address: str) -> Json:
    taker = viewer == trade.owner
    return {
        "owner": viewer,
        "trade_owner": viewer,
        "maker_address": trade.maker_address if taker else viewer_address,
        "trader_side": "TAKER" if taker else "MAKER",
    }


def rest_trade(trade: TradeRecord, viewer: str, viewer_address: str) -> Json:
    """A trade as ``/data/trades`` returns it to ``viewer`` (an API key)."""
    return {
        "id": trade.id,
        "taker_order_id": trade.taker_order_id,
        "market": trade.market,
        "asset_id": trade.asset_id,
        "side": trade.side.value,
        "size": num(trade.size),
        "fee_rate_bps": str(trade.fee_rate_bps),
        "price": num(trade.price),
        "status": trade.status,
        "match_time": str(trade.match_time_s),
        "last_update": str(trade.last_update_s or trade.match_time_s),
        "outcome": trade.outcome,
        "bucket_index": trade.bucket_index,
        "transaction_hash": trade.transaction_hash,
        "maker_orders": [
            {
                "order_id": m.order_id,
                "owner": m.owner,
                "maker_address": m.maker_address,
                "matched_amount": num(m.matched_amount),
                "price": num(m.price),
                "fee_rate_bps": "0",
                "asset_id": m.asset_id,
                "outcome": m.outcome,
                "side": m.side.value,
            }
            for m in trade.maker_orders
        ],
        **_viewer_fields(trade, viewer, viewer_address),
    }


def user_trade_frame(trade: TradeRecord, viewer: str, viewer_address: str, ts_ms: int) -> Json:
    """A user-channel ``trade`` event (one per status change), with both time spellings."""
    body = rest_trade(trade, viewer, viewer_address)
    return {
        "event_type": "trade",
        "type": "TRADE",
        **body,
        "matchtime": body["match_time"],
        "timestamp": str(ts_ms),
    }
