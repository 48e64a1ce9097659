"""CLOB REST replies and the V2 signed-order body, with the venue's field names.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §1 (methods → endpoints, ``POST
/order`` body and reply, cursor pages), §4 (errors); py-clob-client-v2 ``client.py``,
``order_utils/model/order_data_v2.py``; polymarket-client ``order_response.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

import msgspec

from polyloly.adapters.polymarket.schemas.market import WsLevel

__all__ = [
    "ApiKeyReply",
    "BalanceAllowanceReply",
    "BookReply",
    "CancelReply",
    "ErrorReply",
    "FeeRateReply",
    "HeartbeatMismatch",
    "HeartbeatReply",
    "OrderReply",
    "Page",
    "SignedOrderBody",
    "TickSizeReply",
]

T = TypeVar("T")


class Page(msgspec.Struct, Generic[T], frozen=True):
    """A cursor page: ``next_cursor`` runs from ``"MA=="`` until ``"LTE="``."""

    data: list[T] = []
    next_cursor: str = "LTE="
    limit: int | None = None
    count: int | None = None


class OrderReply(msgspec.Struct, frozen=True):
    """Reply to ``POST /order``: accepted iff ``success``, no ``errorMsg``, an ``orderID``
    and ``status`` in live/matched/delayed."""

    success: bool = False
    errorMsg: str | None = None  # noqa: N815 - venue field name
    orderID: str | None = None  # noqa: N815 - venue field name
    status: str = ""
    makingAmount: str | None = None  # noqa: N815 - venue field name
    takingAmount: str | None = None  # noqa: N815 - venue field name
    tradeIDs: list[str] | None = None  # noqa: N815 - venue field name
    transactionsHashes: list[str] | None = None  # noqa: N815 - venue field name


class CancelReply(msgspec.Struct, frozen=True):
    """Reply to ``DELETE /order``, ``/orders``, ``/cancel-all``, ``/cancel-market-orders``."""

    canceled: list[str] = []
    not_canceled: dict[str, str] = {}


class BalanceAllowanceReply(msgspec.Struct, frozen=True):
    """``GET /balance-allowance``: ``balance`` in 1e-6 units (integer string)."""

    balance: str
    allowance: str | None = None
    allowances: dict[str, str] | None = None


class BookReply(msgspec.Struct, frozen=True):
    """``GET /book?token_id=``: one token's aggregated book."""

    market: str
    asset_id: str
    bids: list[WsLevel] = []
    asks: list[WsLevel] = []
    timestamp: str | int | None = None
    hash: str = ""
    tick_size: str | float | None = None  # a float only after the library's json.loads


class TickSizeReply(msgspec.Struct, frozen=True):
    """``GET /tick-size`` → ``{"minimum_tick_size": 0.01}`` (a JSON number, decoded exactly)."""

    minimum_tick_size: Decimal


class FeeRateReply(msgspec.Struct, frozen=True):
    """``GET /fee-rate``: ``base_fee`` is *not* the taker rate (1000 on any fee market)."""

    base_fee: int


class HeartbeatReply(msgspec.Struct, frozen=True):
    """``POST /v1/heartbeats`` 200: the id to send next."""

    heartbeat_id: str = ""


class HeartbeatMismatch(msgspec.Struct, frozen=True):
    """``POST /v1/heartbeats`` 400 ``Invalid Heartbeat ID``: the beat did not count, and
    ``heartbeat_id`` is the id the venue expects (``""``: it holds no chain for the key).

    References: the official SDK's ``OrderHeartbeatMismatchResponse`` (polymarket-client).
    """

    error_msg: str
    heartbeat_id: str


class ApiKeyReply(msgspec.Struct, frozen=True):
    """``POST /auth/api-key`` / ``GET /auth/derive-api-key``."""

    apiKey: str  # noqa: N815 - venue field name
    secret: str
    passphrase: str


class ErrorReply(msgspec.Struct, frozen=True):
    """A non-200 body: ``{"error": "<message>"}`` (sometimes ``error_msg`` / ``errorMsg``)."""

    error: str | None = None
    error_msg: str | None = None
    errorMsg: str | None = None  # noqa: N815 - venue field name
    heartbeat_id: str | None = None

    def message(self) -> str:
        """The first non-empty message field."""
        return self.error or self.error_msg or self.errorMsg or ""


class SignedOrderBody(msgspec.Struct, frozen=True):
    """A V2 signed order as posted inside ``POST /order`` (``expiration`` is sent, not signed)."""

    salt: int
    maker: str
    signer: str
    tokenId: str  # noqa: N815 - venue field name
    makerAmount: str  # noqa: N815 - venue field name
    takerAmount: str  # noqa: N815 - venue field name
    side: str
    signatureType: int  # noqa: N815 - venue field name
    timestamp: str
    metadata: str
    builder: str
    signature: str
    expiration: str = "0"
