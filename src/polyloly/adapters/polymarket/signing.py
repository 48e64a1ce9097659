"""Local V2 order construction and signing, with exact integer amounts and the order hash.

py-clob-client-v2 computes maker/taker amounts with binary floats; here they are computed
in integer micros following the same rounding rules (``ROUNDING_CONFIG``), so an order
never carries an amount the strategy did not mean. The order is built by the library's
``ExchangeOrderBuilderV2`` (salt, defaults, signer checks); the order hash — the venue's
``orderID`` — is the EIP-712 digest (domain ``"Polymarket CTF Exchange"`` v2) computed
locally, so an order is identifiable before (or without) the reply.

Hashing and signing: the library encodes the typed data twice per order (once for the
signature, once for the hash) through eth-account's generic EIP-712 encoder, ~350 µs of the
~420 µs a signature takes with libsecp256k1. Here the Order struct — fixed-size fields
only — is ABI-encoded directly (32-byte words) and hashed once; the digest is signed with
eth-keys as eth-account's ``Account._sign_hash`` (where the library ends) does, with the
key parsed once, and the POLY_1271
wrapper (ERC-7739 ``TypedDataSign`` for deposit wallets) is assembled as the library does.
Hashes and signatures are byte-identical to the library's (tests compare both, and golden
values); eth-keys signs with libsecp256k1 through ``coincurve`` when it is importable (a
runtime dependency), else with its pure-Python backend (~3 ms).

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

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import msgspec
from eth_keys.datatypes import PrivateKey
from eth_utils.address import to_canonical_address
from eth_utils.crypto import keccak
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import (
    DEPOSIT_WALLET_DOMAIN_SALT,
    DEPOSIT_WALLET_NAME_HASH,
    DEPOSIT_WALLET_VERSION_HASH,
    ORDER_TYPE_HASH,
    ORDER_TYPE_STRING,
    SOLADY_TYPE_HASH,
)
from py_clob_client_v2.order_utils.model.order_data_v2 import (
    OrderDataV2,
    OrderV2,
    SignedOrderV2,
    order_to_json_v2,
)
from py_clob_client_v2.order_utils.model.side import Side as LibSide
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer

from polyloly.adapters.polymarket.config import SignatureType
from polyloly.adapters.polymarket.schemas.http import SignedOrderBody
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE, SCALE, MoneyError, market_buy_amount, validate_price
from polyloly.execution.ports import RejectCode
from polyloly.runtime.errors import RejectError

__all__ = [
    "BYTES32_ZERO",
    "OrderSigner",
    "OrderSpec",
    "SignedOrder",
    "order_amounts",
    "order_struct_hash",
]

BYTES32_ZERO: Final = "0x" + "00" * 32
_SHARE_STEP: Final = 10_000  # shares trade in 0.01
_MARKET_TAKER_STEP: Final = 100  # 4 decimals
_MARKETABLE: Final = frozenset({OrderType.FOK, OrderType.FAK})
_SALT_BOUND: Final = 2**53  # JSON-safe integer
_1271_TYPE_SUFFIX: Final = (
    ORDER_TYPE_STRING.encode().hex() + len(ORDER_TYPE_STRING).to_bytes(2, "big").hex()
)


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


def _word(value: int) -> bytes:
    """An ABI ``uint256``/``uint8`` word (raises ``OverflowError`` out of range)."""
    return value.to_bytes(32, "big")


@functools.lru_cache(maxsize=64)  # a signer uses one or two addresses
def _address_word(address: str) -> bytes:
    return bytes(12) + to_canonical_address(address)


def _bytes32(hex_str: str) -> bytes:
    """A ``bytes32`` from hex, left-padded as the library does."""
    return bytes.fromhex(hex_str.removeprefix("0x").zfill(64))


def order_struct_hash(order: OrderV2) -> bytes:
    """EIP-712 ``hashStruct`` of a V2 ``Order``: ``keccak(typeHash ‖ abi.encode(fields))``.

    Every field is a static type, so the encoding is the 32-byte words in type order.
    """
    return keccak(
        b"".join(
            (
                ORDER_TYPE_HASH,
                _word(int(order.salt)),
                _address_word(order.maker),
                _address_word(order.signer),
                _word(int(order.tokenId)),
                _word(int(order.makerAmount)),
                _word(int(order.takerAmount)),
                _word(int(order.side)),
                _word(int(order.signatureType)),
                _word(int(order.timestamp)),
                _bytes32(order.metadata),
                _bytes32(order.builder),
            )
        )
    )


def _eth_signature(key: PrivateKey, digest: bytes) -> str:
    """``r ‖ s ‖ v`` in hex with ``v`` in {27, 28}, as eth-account signs a message hash."""
    sig = key.sign_msg_hash(digest)
    return (_word(sig.r) + _word(sig.s) + bytes((sig.v + 27,))).hex()


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
        raise RejectError(str(exc), code=RejectCode.TICK_SIZE) from exc
    shares = _floor_to(size, _SHARE_STEP)
    if shares <= 0:
        raise RejectError(
            f"size {size} rounds to zero shares (0.01 steps)", code=RejectCode.MIN_SIZE
        )
    if order_type in _MARKETABLE:
        if side is Side.BUY:
            maker = market_buy_amount(shares, price)
            if maker <= 0:
                raise RejectError("marketable BUY spends less than $0.01", code=RejectCode.MIN_SIZE)
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
        self._key = PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
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

    def _hash_and_sign(self, builder: ExchangeOrderBuilderV2, order: OrderV2) -> tuple[str, str]:
        """The order hash and the signature, as ``build_order_hash`` / ``_signature`` give."""
        contents = order_struct_hash(order)
        domain: bytes = builder.app_domain_separator
        order_hash = "0x" + keccak(b"\x19\x01" + domain + contents).hex()
        if self._signature_type is not SignatureTypeV2.POLY_1271:
            return order_hash, "0x" + _eth_signature(self._key, bytes.fromhex(order_hash[2:]))
        # Deposit wallet: the wallet's ERC-7739 TypedDataSign over the order, wrapped with
        # the exchange's domain separator, the contents hash and the contents type.
        sign_struct = keccak(
            b"".join(
                (
                    SOLADY_TYPE_HASH,
                    contents,
                    DEPOSIT_WALLET_NAME_HASH,
                    DEPOSIT_WALLET_VERSION_HASH,
                    _word(self._chain_id),
                    _address_word(order.signer),
                    DEPOSIT_WALLET_DOMAIN_SALT,
                )
            )
        )
        inner = _eth_signature(self._key, keccak(b"\x19\x01" + domain + sign_struct))
        wrapped = inner + domain.hex() + contents.hex() + _1271_TYPE_SUFFIX
        return order_hash, "0x" + wrapped

    def _order_signer(self) -> str:
        if self._signature_type is SignatureTypeV2.POLY_1271:
            return self.funder
        return self.address

    def sign(self, spec: OrderSpec) -> SignedOrder:
        """Compute amounts, sign, and hash one order (CPU only, ~0.1 ms with coincurve)."""
        if spec.order_type in _MARKETABLE and spec.post_only:
            raise RejectError(
                "post_only is only valid for GTC/GTD orders", code=RejectCode.INVALID_PAYLOAD
            )
        if spec.order_type is not OrderType.GTD and spec.expiration_s:
            raise RejectError("expiration is only valid for GTD orders", code=RejectCode.EXPIRATION)
        if not 0 < spec.price < ONE:
            raise RejectError(f"price {spec.price} outside (0, 1)", code=RejectCode.TICK_SIZE)
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
        order_hash, signature = self._hash_and_sign(builder, order)
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
