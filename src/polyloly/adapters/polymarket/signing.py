"""Local V2 order construction and signing, with exact integer amounts and the order hash.

py-clob-client-v2 computes maker/taker amounts with binary floats; here they are computed
in integer micros following the same rounding rules (``ROUNDING_CONFIG``), so an order
never carries an amount the strategy did not mean. Signing itself is the library's
``ExchangeOrderBuilderV2`` (EIP-712, domain ``"Polymarket CTF Exchange"`` v2, or the
POLY_1271 wrapped signature for deposit wallets), and the order hash — the venue's
``orderID`` — is the EIP-712 digest computed locally, so an order is identifiable before
(or without) the reply.

Amount rules (micros; ``size`` is share-micros, ``price`` pUSD-micros per share):

* Limit orders (GTC, GTD): shares are rounded down to 0.01. BUY: taker = shares,
  maker = shares × price. SELL: maker = shares, taker = shares × price. Both exact.
* Marketable orders (FOK, FAK): BUY: maker = pUSD to spend, rounded down to 0.01;
  taker = maker / price rounded down to 4 decimals. SELL: maker = shares rounded down to
  0.01; taker = shares × price rounded down to 4 decimals. The venue rejects more precise
  marketable amounts on every tick ([V2] #99).

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §1 (order struct, amount math), §4
(precision rejects); py-clob-client-v2 ``order_builder/builder.py``,
``order_utils/exchange_order_builder_v2.py``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import msgspec
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import (
    OrderDataV2,
    SignedOrderV2,
    order_to_json_v2,
)
from py_clob_client_v2.order_utils.model.side import Side as LibSide
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer

from polyloly.adapters.polymarket.config import SignatureType
from polyloly.adapters.polymarket.schemas.http import SignedOrderBody
from polyloly.bot.errors import RejectError
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE, SCALE, MoneyError, validate_price

__all__ = [
    "BYTES32_ZERO",
    "OrderSigner",
    "OrderSpec",
    "SignedOrder",
    "order_amounts",
]

BYTES32_ZERO: Final = "0x" + "00" * 32
_SHARE_STEP: Final = 10_000  # shares trade in 0.01
_USD_STEP: Final = 10_000  # a marketable BUY spends whole cents
_MARKET_TAKER_STEP: Final = 100  # 4 decimals
_MARKETABLE: Final = frozenset({OrderType.FOK, OrderType.FAK})
_SALT_BOUND: Final = 2**53  # JSON-safe integer


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """What to sign: a limit ``price`` (micros, on ``tick``) and ``size`` (share-micros).

    For FOK/FAK the price is the worst acceptable price and ``size`` the shares wanted.
    ``expiration_s`` (UTC seconds, GTD only) includes the venue's one-minute threshold.
    """

    token_id: str
    side: Side
    price: int
    size: int
    tick: int
    order_type: OrderType = OrderType.GTC
    neg_risk: bool = False
    post_only: bool = False
    expiration_s: int = 0
    metadata: str = BYTES32_ZERO
    builder_code: str = BYTES32_ZERO


class SignedOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A signed V2 order ready to post, with its locally computed hash (the ``orderID``).

    ``size`` is the share quantity actually signed (after rounding to 0.01) and ``price``
    the limit; ``body`` is the exact wire order.
    """

    order_hash: str
    body: SignedOrderBody
    order_type: OrderType
    post_only: bool
    token_id: str
    side: Side
    price: int
    size: int
    maker_amount: int
    taker_amount: int

    def to_payload(self, owner: str, *, defer_exec: bool = False) -> dict[str, object]:
        """Build the ``POST /order`` JSON body (same key order as py-clob-client-v2)."""
        b = self.body
        lib_order = SignedOrderV2(
            salt=str(b.salt),
            maker=b.maker,
            signer=b.signer,
            tokenId=b.tokenId,
            makerAmount=b.makerAmount,
            takerAmount=b.takerAmount,
            side=LibSide.BUY if b.side == "BUY" else LibSide.SELL,
            signatureType=SignatureTypeV2(b.signatureType),
            timestamp=b.timestamp,
            metadata=b.metadata,
            builder=b.builder,
            expiration=b.expiration,
            signature=b.signature,
        )
        payload: dict[str, object] = order_to_json_v2(
            lib_order, owner, self.order_type.value, self.post_only, defer_exec
        )
        return payload


def _floor_to(value: int, step: int) -> int:
    return value // step * step


def order_amounts(
    side: Side, price: int, size: int, tick: int, order_type: OrderType
) -> tuple[int, int, int]:
    """Return ``(maker_amount, taker_amount, shares)`` in micros for an order.

    Raises
    ------
    RejectError
        Price off the tick grid, or a size that rounds to nothing.
    """
    try:
        validate_price(price, tick)
    except MoneyError as exc:
        raise RejectError(str(exc), code="tick_size") from exc
    shares = _floor_to(size, _SHARE_STEP)
    if shares <= 0:
        raise RejectError(f"size {size} rounds to zero shares (0.01 steps)", code="min_size")
    if order_type in _MARKETABLE:
        if side is Side.BUY:
            maker = _floor_to(shares * price // SCALE, _USD_STEP)
            if maker <= 0:
                raise RejectError("marketable BUY spends less than $0.01", code="min_size")
            taker = _floor_to(maker * SCALE // price, _MARKET_TAKER_STEP)
            return maker, taker, shares
        taker = _floor_to(shares * price // SCALE, _MARKET_TAKER_STEP)
        return shares, taker, shares
    notional = shares * price // SCALE  # exact: shares on 0.01, price on a ≥ 0.0001 tick
    if side is Side.BUY:
        return notional, shares, shares
    return shares, notional, shares


class OrderSigner:
    """Builds and signs V2 orders for one wallet.

    Parameters
    ----------
    private_key
        The signer's key (revealed only to the library's signer object).
    chain_id
        Selects the EIP-712 domain and exchange contracts.
    signature_type, funder
        The wallet kind and the funds holder (order ``maker``); for POLY_1271 the funder
        also signs.
    now_ms
        Clock for the order ``timestamp`` field (epoch ms).
    salt
        Salt source; defaults to a cryptographically random JSON-safe integer.
    """

    def __init__(
        self,
        private_key: str,
        chain_id: int,
        *,
        signature_type: SignatureType,
        funder: str | None,
        now_ms: Callable[[], int],
        salt: Callable[[], int] | None = None,
    ) -> None:
        self._signer = Signer(private_key, chain_id)
        self._chain_id = chain_id
        self._signature_type = SignatureTypeV2(int(signature_type))
        self.address: str = self._signer.address()
        self.funder: str = funder if funder is not None else self.address
        self._now_ms = now_ms
        self._salt = salt if salt is not None else (lambda: secrets.randbelow(_SALT_BOUND))
        contracts = get_contract_config(chain_id)
        self._builders = {
            neg: ExchangeOrderBuilderV2(
                contracts.neg_risk_exchange_v2 if neg else contracts.exchange_v2,
                chain_id,
                self._signer,
                generate_salt=lambda: str(self._salt()),
            )
            for neg in (False, True)
        }

    def _order_signer(self) -> str:
        if self._signature_type is SignatureTypeV2.POLY_1271:
            return self.funder
        return self.address

    def sign(self, spec: OrderSpec) -> SignedOrder:
        """Compute amounts, sign, and hash one order (CPU only, ~3 ms)."""
        if spec.order_type in _MARKETABLE and spec.post_only:
            raise RejectError("post_only is only valid for GTC/GTD orders", code="invalid_payload")
        if spec.order_type is not OrderType.GTD and spec.expiration_s:
            raise RejectError("expiration is only valid for GTD orders", code="expiration")
        if not 0 < spec.price < ONE:
            raise RejectError(f"price {spec.price} outside (0, 1)", code="tick_size")
        maker, taker, shares = order_amounts(
            spec.side, spec.price, spec.size, spec.tick, spec.order_type
        )
        builder = self._builders[spec.neg_risk]
        data = OrderDataV2(
            maker=self.funder,
            tokenId=spec.token_id,
            makerAmount=str(maker),
            takerAmount=str(taker),
            side=LibSide.BUY if spec.side is Side.BUY else LibSide.SELL,
            signer=self._order_signer(),
            signatureType=self._signature_type,
            timestamp=str(self._now_ms()),
            metadata=spec.metadata,
            builder=spec.builder_code,
            expiration=str(spec.expiration_s),
        )
        order = builder.build_order(data)
        typed = builder.build_order_typed_data(order)
        signature = builder.build_order_signature(typed)
        order_hash: str = builder.build_order_hash(typed)
        body = SignedOrderBody(
            salt=int(order.salt),
            maker=order.maker,
            signer=order.signer,
            tokenId=order.tokenId,
            makerAmount=order.makerAmount,
            takerAmount=order.takerAmount,
            side=spec.side.value,
            signatureType=int(order.signatureType),
            timestamp=order.timestamp,
            metadata=order.metadata,
            builder=order.builder,
            signature=signature,
            expiration=order.expiration,
        )
        return SignedOrder(
            order_hash=order_hash,
            body=body,
            order_type=spec.order_type,
            post_only=spec.post_only,
            token_id=spec.token_id,
            side=spec.side,
            price=spec.price,
            size=shares,
            maker_amount=maker,
            taker_amount=taker,
        )
