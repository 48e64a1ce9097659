"""Polymarket protocol constants as tables: limits, keepalive texts, status maps, games.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §1 (cursors, batch size), §2 (keepalive,
500 assets per connection), §3 (order/trade statuses), §4 (rate limits), §6 (Gamma paging,
esports slugs and titles).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from polyloly.adapters.polymarket.events import OrderStatus, TradeStatus

__all__ = [
    "ACCEPTED_ORDER_STATUSES",
    "END_CURSOR",
    "ESPORTS_GAMES",
    "GAMMA_MAX_LIMIT",
    "GAMMA_MAX_OFFSET",
    "HEARTBEAT_TIMEOUT_S",
    "INITIAL_CURSOR",
    "MAX_ASSETS_PER_CONNECTION",
    "MAX_ORDERS_PER_BATCH",
    "NO_NEW_ASSETS_TEXT",
    "ORDER_STATUS_MAP",
    "PING_TEXT",
    "PONG_TEXT",
    "RATE_LIMITS",
    "TRADE_STATUS_MAP",
    "EsportsGame",
    "RateLimit",
    "normalize_order_status",
    "normalize_trade_status",
]

MAX_ASSETS_PER_CONNECTION: Final = 500
"""Past ~500 assets on one market connection the venue stops sending initial books."""

MAX_ORDERS_PER_BATCH: Final = 15
"""``POST /orders`` accepts at most 15 orders."""

PING_TEXT: Final = "PING"
PONG_TEXT: Final = "PONG"
NO_NEW_ASSETS_TEXT: Final = "NO NEW ASSETS"

HEARTBEAT_TIMEOUT_S: Final = 10
"""Once heartbeats started, missing one for this long cancels every open order."""

INITIAL_CURSOR: Final = "MA=="
END_CURSOR: Final = "LTE="

GAMMA_MAX_LIMIT: Final = 100
GAMMA_MAX_OFFSET: Final = 10_000
"""Gamma answers 422 past this offset."""

ACCEPTED_ORDER_STATUSES: Final = frozenset({"live", "matched", "delayed"})
"""``POST /order`` statuses that mean the order was accepted (``unmatched`` was killed)."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``count`` requests per ``window_s`` seconds (Cloudflare queues first, then 429)."""

    count: int
    window_s: int


RATE_LIMITS: Final = MappingProxyType(
    {
        "general": (RateLimit(15_000, 10),),
        "clob": (RateLimit(9_000, 10),),
        "POST /order": (RateLimit(3_500, 10), RateLimit(36_000, 600)),
        "POST /orders": (RateLimit(1_000, 10), RateLimit(15_000, 600)),
        "DELETE /order": (RateLimit(3_000, 10), RateLimit(30_000, 600)),
        "DELETE /orders": (RateLimit(1_000, 10),),
        "GET /balance-allowance": (RateLimit(200, 10),),
        "gamma /events": (RateLimit(500, 10),),
        "gamma /markets": (RateLimit(300, 10),),
    }
)
"""Documented limits as of 2026-05 (docs.polymarket.com api-reference/rate-limits)."""


ORDER_STATUS_MAP: Final = MappingProxyType(
    {
        "LIVE": OrderStatus.LIVE,
        "DELAYED": OrderStatus.DELAYED,
        "MATCHED": OrderStatus.MATCHED,
        "UNMATCHED": OrderStatus.UNMATCHED,
        "CANCELED": OrderStatus.CANCELED,
        "CANCELLED": OrderStatus.CANCELED,
        "INVALID": OrderStatus.INVALID,
    }
)
"""Base order statuses. ``CANCELED_<reason>`` variants map to CANCELED (see below)."""

TRADE_STATUS_MAP: Final = MappingProxyType(
    {
        "MATCHED": TradeStatus.MATCHED,
        # REST-only: matched, not yet sent to the chain. Still provisional like MATCHED.
        "MATCHED_NOT_BROADCASTED": TradeStatus.MATCHED,
        "MINED": TradeStatus.MINED,
        "CONFIRMED": TradeStatus.CONFIRMED,
        "RETRYING": TradeStatus.RETRYING,
        "FAILED": TradeStatus.FAILED,
    }
)

_ORDER_PREFIXES: Final = ("ORDER_STATUS_",)
_TRADE_PREFIXES: Final = ("TRADE_STATUS_",)


def _strip(raw: str, prefixes: tuple[str, ...]) -> str:
    text = raw.strip()
    upper = text.upper()
    for prefix in prefixes:
        if upper.startswith(prefix):
            return text[len(prefix) :]
    return text


def normalize_order_status(raw: str) -> OrderStatus:
    """Map a venue order status (WS or REST spelling) to :class:`OrderStatus`.

    ``CANCELED_MARKET_RESOLVED``, ``CANCELED_NOT_ENOUGH_BALANCE`` and the killed-FOK text
    ``CANCELED_order couldn't be fully filled…`` are cancellations; anything unknown is
    ``UNKNOWN`` (kept, so reconciliation can look at it).
    """
    text = _strip(raw, _ORDER_PREFIXES)
    upper = text.upper()
    hit = ORDER_STATUS_MAP.get(upper)
    if hit is not None:
        return hit
    if upper.startswith(("CANCELED", "CANCELLED")):
        return OrderStatus.CANCELED
    return OrderStatus.UNKNOWN


def normalize_trade_status(raw: str) -> TradeStatus:
    """Map a venue trade status (``CONFIRMED``, ``TRADE_STATUS_CONFIRMED``…) to the enum."""
    text = _strip(raw, _TRADE_PREFIXES).upper()
    return TRADE_STATUS_MAP.get(text, TradeStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class EsportsGame:
    """How one game's markets are found on Gamma and named in titles."""

    code: str  # polyloly's game code ("lol" | "dota2")
    tag_slug: str
    slug_prefixes: tuple[str, ...]
    title_prefixes: tuple[str, ...]


ESPORTS_GAMES: Final = MappingProxyType(
    {
        "lol": EsportsGame(
            code="lol",
            tag_slug="league-of-legends",
            slug_prefixes=("lol-",),
            title_prefixes=("LoL", "League of Legends"),
        ),
        "dota2": EsportsGame(
            code="dota2",
            tag_slug="dota-2",
            slug_prefixes=("dota2-", "dota-2-"),
            title_prefixes=("Dota 2", "Dota2"),
        ),
    }
)
