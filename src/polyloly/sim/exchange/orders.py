"""Wire orders in, order and trade records kept by the exchange.

``POST /order`` bodies are decoded once into frozen msgspec structs that keep the venue's
field names (:class:`WireOrder`, :class:`PostOrderBody`), then converted into the matching
engine's :class:`~polyloly.domain.matching.OrderRequest`: a BUY's share size is its
``takerAmount`` and its limit price ``makerAmount / takerAmount``; a SELL's size is its
``makerAmount`` and its price ``takerAmount / makerAmount``. Market orders (FOK/FAK) carry
amounts rounded by the client, so their price is snapped to the nearest tick; a limit
order's price must sit exactly on the tick.

:class:`OrderRecord` and :class:`TradeRecord` are the exchange's own state of every order
and trade, rendered to the wire by :mod:`polyloly.sim.exchange.frames`.

:func:`check_amounts` holds the venue's precision rules on the signed amounts, with its
exact error strings (``docs/reference/polymarket.md`` §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import msgspec

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import Fill
from polyloly.domain.money import SCALE, VALID_TICKS, Rounding, div_round, to_decimal
from polyloly.sim.exchange.auth import SignedOrderFields

__all__ = [
    "ERR_INVALID_PAYLOAD",
    "MakerFill",
    "OrderRecord",
    "PostOrderBody",
    "TradeRecord",
    "TradeStatus",
    "WireOrder",
    "amount_decimals",
    "check_amounts",
    "decimals_of",
    "decode_post_order",
    "decode_post_orders",
    "implied_price",
    "signed_fields",
]

ERR_INVALID_PAYLOAD: Final = "Invalid order payload"
_MARKET_TYPES: Final = frozenset({OrderType.FOK, OrderType.FAK})
_SIZE_DECIMALS: Final = 2


class WireOrder(msgspec.Struct, frozen=True):
    """A signed V2 order as ``POST /order`` carries it."""

    salt: int
    maker: str
    signer: str
    tokenId: str  # noqa: N815 - the venue's field name
    makerAmount: str  # noqa: N815
    takerAmount: str  # noqa: N815
    side: str
    signatureType: int  # noqa: N815
    timestamp: str
    signature: str
    metadata: str = "0x" + "00" * 32
    builder: str = "0x" + "00" * 32
    expiration: str = "0"


class PostOrderBody(msgspec.Struct, frozen=True):
    """The ``POST /order`` body (and one element of ``POST /orders``)."""

    order: WireOrder
    owner: str
    orderType: str = "GTC"  # noqa: N815
    deferExec: bool = False  # noqa: N815
    postOnly: bool = False  # noqa: N815


_ONE_DECODER = msgspec.json.Decoder(PostOrderBody)
_MANY_DECODER = msgspec.json.Decoder(list[PostOrderBody])


def decode_post_order(raw: bytes) -> PostOrderBody | None:
    """Decode a ``POST /order`` body; ``None`` if malformed."""
    try:
        return _ONE_DECODER.decode(raw)
    except msgspec.DecodeError:
        return None


def decode_post_orders(raw: bytes) -> list[PostOrderBody] | None:
    """Decode a ``POST /orders`` body; ``None`` if malformed."""
    try:
        return _MANY_DECODER.decode(raw)
    except msgspec.DecodeError:
        return None


def _bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) > 32:
        raise ValueError("bytes32 field too long")
    return raw.rjust(32, b"\x00")


def signed_fields(order: WireOrder) -> SignedOrderFields:
    """Parse the signed fields of a wire order (``ValueError`` if any is malformed)."""
    if order.side not in ("BUY", "SELL"):
        raise ValueError(f"bad side {order.side!r}")
    return SignedOrderFields(
        salt=int(order.salt),
        maker=order.maker,
        signer=order.signer,
        token_id=int(order.tokenId),
        maker_amount=int(order.makerAmount),
        taker_amount=int(order.takerAmount),
        side=0 if order.side == "BUY" else 1,
        signature_type=int(order.signatureType),
        timestamp=int(order.timestamp),
        metadata=_bytes32(order.metadata),
        builder=_bytes32(order.builder),
    )


def implied_price(
    side: Side, maker_amount: int, taker_amount: int, order_type: OrderType, tick: int
) -> tuple[int, int]:
    """Return ``(price, size)`` micros of a wire order's amounts.

    A limit order's price is exact when it is valid (an off-tick price is returned as is,
    rounded toward the signer's interest, for the tick check to refuse). A market order's
    price is snapped to the nearest tick, since the client rounds its amounts.
    """
    if side is Side.BUY:
        size, cash, rounding = taker_amount, maker_amount, Rounding.DOWN
    else:
        size, cash, rounding = maker_amount, taker_amount, Rounding.UP
    if size <= 0:
        return 0, 0
    if order_type in _MARKET_TYPES:
        ticks = div_round(cash * SCALE, size * tick, Rounding.HALF_UP)
        return ticks * tick, size
    return div_round(cash * SCALE, size, rounding), size


def decimals_of(micros: int) -> int:
    """Return how many decimals a non-negative micro amount needs (0..6)."""
    if micros % SCALE == 0:
        return 0
    places = 6
    while micros % 10 == 0:
        micros //= 10
        places -= 1
    return places


def amount_decimals(tick: int) -> int:
    """Decimals allowed on a pUSD amount at ``tick`` (0.1→3, 0.01→4, 0.001→5, 0.0001→6)."""
    if tick not in VALID_TICKS:
        raise ValueError(f"unknown tick size: {to_decimal(tick)}")
    return min(6, decimals_of(tick) + _SIZE_DECIMALS)


def check_amounts(
    side: Side,
    order_type: OrderType,
    maker_amount: int,
    taker_amount: int,
    tick: int,
    *,
    strict_market_precision: bool = False,
) -> str | None:
    """Check a wire order's signed amounts for the venue's precision rules.

    Limit orders (GTC/GTD) carry a share quantity of at most 2 decimals and a pUSD amount
    of at most :func:`amount_decimals` decimals; market orders (FOK/FAK) carry a 2-decimal
    maker amount. ``strict_market_precision`` reproduces the venue bug ([V2] #99) that
    caps a market order's taker amount at 4 decimals whatever the tick.

    Returns
    -------
    str | None
        The venue's exact error string, or ``None`` when the amounts are acceptable.
    """
    amount_dp = 4 if strict_market_precision else amount_decimals(tick)
    maker_dp, taker_dp = decimals_of(maker_amount), decimals_of(taker_amount)
    side_word = "buy" if side is Side.BUY else "sell"
    if order_type in _MARKET_TYPES:
        if maker_dp > _SIZE_DECIMALS or taker_dp > amount_dp:
            return (
                f"invalid amounts, the market {side_word} orders maker amount supports a max "
                f"accuracy of {_SIZE_DECIMALS} decimals, taker amount a max of {amount_dp} decimals"
            )
        return None
    if side is Side.BUY:
        maker_max, taker_max = amount_decimals(tick), _SIZE_DECIMALS
    else:
        maker_max, taker_max = _SIZE_DECIMALS, amount_decimals(tick)
    if maker_dp > maker_max or taker_dp > taker_max:
        return (
            f"the {side_word} orders maker amount supports a max accuracy of {maker_max} "
            f"decimals, taker amount a max of {taker_max} decimals"
        )
    return None


class TradeStatus:
    """Trade states on the wire (``MATCHED → MINED → CONFIRMED``, or RETRYING / FAILED)."""

    MATCHED: Final = "MATCHED"
    MINED: Final = "MINED"
    CONFIRMED: Final = "CONFIRMED"
    RETRYING: Final = "RETRYING"
    FAILED: Final = "FAILED"


@dataclass(slots=True)
class OrderRecord:
    """Everything the exchange knows about one order (wire rendering in ``frames``)."""

    id: str
    owner: str  # API key, or a synthetic trader's name
    maker_address: str
    market: str
    asset_id: str
    side: Side
    price: int
    original_size: int
    outcome: str
    order_type: OrderType
    created_at_s: int
    expiration_s: int = 0
    size_matched: int = 0
    status: str = "LIVE"
    associate_trades: list[str] = field(default_factory=list)
    post_only: bool = False
    notional: int = 0
    metadata: str = "0x" + "00" * 32  # the signed order's bytes32 (instance tags, #17)

    @property
    def open(self) -> bool:
        """Whether the order can still trade (resting or delayed)."""
        return self.status in ("LIVE", "DELAYED")


@dataclass(frozen=True, slots=True)
class MakerFill:
    """One maker order's part in a trade."""

    order_id: str
    owner: str
    maker_address: str
    matched_amount: int
    price: int
    asset_id: str
    outcome: str
    side: Side


@dataclass(slots=True)
class TradeRecord:
    """One trade: a taker order against one or more makers at one effective price."""

    id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: Side
    size: int
    price: int
    fee: int
    fee_rate_bps: int
    outcome: str
    owner: str  # the taker's API key (or synthetic name)
    maker_address: str  # the taker's funder address
    transaction_hash: str
    match_time_s: int
    bucket_index: int
    maker_orders: list[MakerFill]
    fills: list[Fill]
    status: str = TradeStatus.MATCHED
    last_update_s: int = 0
    history: list[str] = field(default_factory=list)
    matched_ns: int = 0  # clock time of the match (the venue's own record, not on the wire)

    def owners(self) -> set[str]:
        """Every account that took part (taker and makers)."""
        return {self.owner} | {m.owner for m in self.maker_orders}
