"""Authentication as the venue does it: L1 EIP-712 ``ClobAuth``, L2 HMAC, V2 order signatures.

* **L1** (key management): headers ``POLY_ADDRESS, POLY_SIGNATURE, POLY_TIMESTAMP,
  POLY_NONCE``; the signature is EIP-712 ``ClobAuth(address address,string timestamp,
  uint256 nonce,string message)`` in domain ``{name:"ClobAuthDomain",version:"1",chainId}``.
* **L2** (trading): ``POLY_ADDRESS, POLY_SIGNATURE, POLY_TIMESTAMP, POLY_API_KEY,
  POLY_PASSPHRASE``; the signature is ``urlsafe_b64(HMAC_SHA256(urlsafe_b64decode(secret),
  ts + METHOD + path + body))``.
* **Orders**: EIP-712 ``Order`` in domain ``{name:"Polymarket CTF Exchange",version:"2",
  chainId,verifyingContract}`` (the V2 exchange, or the neg-risk V2 exchange). Signature
  types 0-2 are plain ECDSA by ``signer``; type 3 (POLY_1271, deposit wallets) wraps an
  ECDSA signature of the wallet owner over a Solady ``TypedDataSign`` digest.

The order hash (the EIP-712 digest) is the order id, as on the venue.

References
----------
``docs/reference/polymarket.md`` §1 (auth), py-clob-client-v2 1.2.1 ``signing/``,
``headers/`` and ``order_utils/exchange_order_builder_v2.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from eth_abi.abi import encode as abi_encode
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as EthValidationError

__all__ = [
    "CLOB_AUTH_MESSAGE",
    "ERR_INVALID_API_KEY",
    "ERR_INVALID_L1",
    "ApiCredentials",
    "ApiKeyStore",
    "AuthError",
    "OrderSignatureError",
    "SignedOrderFields",
    "hmac_signature",
    "order_digest",
    "verify_l1",
    "verify_l2",
    "verify_order_signature",
]

ERR_INVALID_API_KEY: Final = "Unauthorized/Invalid api key"
ERR_INVALID_L1: Final = "Invalid L1 Request headers"
CLOB_AUTH_MESSAGE: Final = "This message attests that I control the given wallet"

_CLOB_DOMAIN_TYPEHASH: Final = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId)"
)
_CLOB_AUTH_TYPEHASH: Final = keccak(
    text="ClobAuth(address address,string timestamp,uint256 nonce,string message)"
)
_DOMAIN_TYPEHASH: Final = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_ORDER_TYPE_STRING: Final = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_ORDER_TYPEHASH: Final = keccak(text=_ORDER_TYPE_STRING)
_SOLADY_TYPEHASH: Final = keccak(
    text="TypedDataSign(Order contents,string name,string version,uint256 chainId,"
    "address verifyingContract,bytes32 salt)" + _ORDER_TYPE_STRING
)
_DEPOSIT_WALLET_NAME: Final = keccak(text="DepositWallet")
_DEPOSIT_WALLET_VERSION: Final = keccak(text="1")
_ZERO32: Final = bytes(32)
_POLY_1271: Final = 3
_SIG_LEN: Final = 65


class AuthError(Exception):
    """A request failed authentication; ``str(err)`` is the venue's 401 text."""


class OrderSignatureError(Exception):
    """An order's signature does not verify."""


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """One API key: the L2 secret material and the address that owns it."""

    api_key: str
    secret: str
    passphrase: str
    address: str
    nonce: int


class ApiKeyStore:
    """API keys by key and by ``(address, nonce)``; secrets are derived from a seed."""

    def __init__(self) -> None:
        self._by_key: dict[str, ApiCredentials] = {}
        self._by_owner: dict[tuple[str, int], ApiCredentials] = {}

    def create(self, address: str, nonce: int, material: bytes) -> ApiCredentials | None:
        """Create the key of ``(address, nonce)``; ``None`` if it exists already."""
        owner = (address.lower(), nonce)
        if owner in self._by_owner:
            return None
        api_key = _uuid_from(material[:16])
        secret = base64.urlsafe_b64encode(hashlib.sha256(material + b"secret").digest()).decode()
        passphrase = hashlib.sha256(material + b"passphrase").hexdigest()
        creds = ApiCredentials(api_key, secret, passphrase, to_checksum_address(address), nonce)
        self._by_key[api_key] = creds
        self._by_owner[owner] = creds
        return creds

    def derive(self, address: str, nonce: int) -> ApiCredentials | None:
        """The existing key of ``(address, nonce)``."""
        return self._by_owner.get((address.lower(), nonce))

    def get(self, api_key: str) -> ApiCredentials | None:
        """A key by its id."""
        return self._by_key.get(api_key)

    def delete(self, api_key: str) -> bool:
        """Revoke a key."""
        creds = self._by_key.pop(api_key, None)
        if creds is None:
            return False
        self._by_owner.pop((creds.address.lower(), creds.nonce), None)
        return True

    def keys_of(self, address: str) -> list[str]:
        """Every key an address owns."""
        return [c.api_key for c in self._by_key.values() if c.address.lower() == address.lower()]


def _uuid_from(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:32]}"


def _recover(digest: bytes, signature_hex: str) -> str:
    try:
        raw = bytes.fromhex(signature_hex.removeprefix("0x"))
    except ValueError as exc:
        raise OrderSignatureError("signature is not hex") from exc
    if len(raw) != _SIG_LEN:
        raise OrderSignatureError("signature must be 65 bytes")
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]  # Ethereum's v is 27/28
    try:
        sig = Signature(raw[:64] + bytes([v]))
        return str(sig.recover_public_key_from_msg_hash(digest).to_checksum_address())
    except (BadSignature, EthValidationError, ValueError) as exc:
        raise OrderSignatureError("signature does not recover") from exc


def _timestamp_ok(raw: str | None, now_s: int, window_s: int) -> bool:
    if raw is None or not raw.isdigit():
        return False
    return abs(int(raw) - now_s) <= window_s


def clob_auth_digest(address: str, timestamp: str, nonce: int, chain_id: int) -> bytes:
    """The EIP-712 digest an L1 header signature signs."""
    domain = keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256"],
            [_CLOB_DOMAIN_TYPEHASH, keccak(text="ClobAuthDomain"), keccak(text="1"), chain_id],
        )
    )
    struct = keccak(
        abi_encode(
            ["bytes32", "address", "bytes32", "uint256", "bytes32"],
            [
                _CLOB_AUTH_TYPEHASH,
                address,
                keccak(text=timestamp),
                nonce,
                keccak(text=CLOB_AUTH_MESSAGE),
            ],
        )
    )
    return keccak(b"\x19\x01" + domain + struct)


def verify_l1(
    headers: Mapping[str, str], *, chain_id: int, now_s: int, window_s: int
) -> tuple[str, int]:
    """Check L1 headers; return ``(checksum address, nonce)`` or raise :class:`AuthError`."""
    address = headers.get("POLY_ADDRESS", "")
    signature = headers.get("POLY_SIGNATURE", "")
    timestamp = headers.get("POLY_TIMESTAMP")
    nonce_raw = headers.get("POLY_NONCE", "0") or "0"
    if not (address and signature and nonce_raw.isdigit()):
        raise AuthError(ERR_INVALID_L1)
    if not _timestamp_ok(timestamp, now_s, window_s):
        raise AuthError(ERR_INVALID_L1)
    assert timestamp is not None  # noqa: S101 - checked by _timestamp_ok
    try:
        checksum = to_checksum_address(address)
        digest = clob_auth_digest(checksum, timestamp, int(nonce_raw), chain_id)
        recovered = _recover(digest, signature)
    except (OrderSignatureError, ValueError) as exc:
        raise AuthError(ERR_INVALID_L1) from exc
    if recovered != checksum:
        raise AuthError(ERR_INVALID_L1)
    return checksum, int(nonce_raw)


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    """The L2 ``POLY_SIGNATURE`` of one request (as the client computes it)."""
    message = f"{timestamp}{method}{path}"
    if body:
        message += body.replace("'", '"')
    digest = hmac.new(base64.urlsafe_b64decode(secret), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def verify_l2(
    headers: Mapping[str, str],
    store: ApiKeyStore,
    *,
    method: str,
    path: str,
    body: str,
    now_s: int,
    window_s: int,
) -> ApiCredentials:
    """Check L2 headers against the key store; return the key or raise :class:`AuthError`."""
    creds = store.get(headers.get("POLY_API_KEY", ""))
    if creds is None:
        raise AuthError(ERR_INVALID_API_KEY)
    if not hmac.compare_digest(headers.get("POLY_PASSPHRASE", ""), creds.passphrase):
        raise AuthError(ERR_INVALID_API_KEY)
    if headers.get("POLY_ADDRESS", "").lower() != creds.address.lower():
        raise AuthError(ERR_INVALID_API_KEY)
    timestamp = headers.get("POLY_TIMESTAMP")
    if not _timestamp_ok(timestamp, now_s, window_s):
        raise AuthError(ERR_INVALID_API_KEY)
    assert timestamp is not None  # noqa: S101 - checked by _timestamp_ok
    expected = hmac_signature(creds.secret, timestamp, method, path, body)
    if not hmac.compare_digest(headers.get("POLY_SIGNATURE", ""), expected):
        raise AuthError(ERR_INVALID_API_KEY)
    return creds


@dataclass(frozen=True, slots=True)
class SignedOrderFields:
    """The signed fields of a V2 order, already parsed to integers / addresses."""

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int  # 0 BUY, 1 SELL
    signature_type: int
    timestamp: int
    metadata: bytes
    builder: bytes


def _domain_separator(chain_id: int, contract: str) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _DOMAIN_TYPEHASH,
                keccak(text="Polymarket CTF Exchange"),
                keccak(text="2"),
                chain_id,
                contract,
            ],
        )
    )


def _struct_hash(order: SignedOrderFields) -> bytes:
    return keccak(
        abi_encode(
            [
                "bytes32", "uint256", "address", "address", "uint256", "uint256",
                "uint256", "uint8", "uint8", "uint256", "bytes32", "bytes32",
            ],
            [
                _ORDER_TYPEHASH,
                order.salt,
                order.maker,
                order.signer,
                order.token_id,
                order.maker_amount,
                order.taker_amount,
                order.side,
                order.signature_type,
                order.timestamp,
                order.metadata,
                order.builder,
            ],
        )
    )  # fmt: skip


def order_digest(order: SignedOrderFields, *, chain_id: int, contract: str) -> str:
    """The order's EIP-712 hash, ``0x``-hex: the venue's order id."""
    digest = keccak(b"\x19\x01" + _domain_separator(chain_id, contract) + _struct_hash(order))
    return "0x" + digest.hex()


def verify_order_signature(
    order: SignedOrderFields, signature: str, *, chain_id: int, contract: str
) -> str:
    """Verify an order's signature; return the EOA that signed it.

    For signature types 0-2 the signer must be ``order.signer``. For type 3 (POLY_1271)
    ``order.signer`` is the deposit wallet (the funder); the returned EOA is the wallet's
    owner, which the caller matches against the API key's address.

    Raises
    ------
    OrderSignatureError
        If the signature does not verify.
    """
    domain = _domain_separator(chain_id, contract)
    struct = _struct_hash(order)
    if order.signature_type != _POLY_1271:
        recovered = _recover(keccak(b"\x19\x01" + domain + struct), signature)
        if recovered.lower() != order.signer.lower():
            raise OrderSignatureError("order signer does not match the signature")
        return recovered
    raw = bytes.fromhex(signature.removeprefix("0x"))
    type_bytes = _ORDER_TYPE_STRING.encode()
    expected_tail = domain + struct + type_bytes + len(type_bytes).to_bytes(2, "big")
    if len(raw) != _SIG_LEN + len(expected_tail) or raw[_SIG_LEN:] != expected_tail:
        raise OrderSignatureError("POLY_1271 signature wrapper does not match the order")
    if order.signer.lower() != order.maker.lower():
        raise OrderSignatureError("POLY_1271 orders are signed by the funder")
    wrapped = keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "bytes32", "uint256", "address", "bytes32"],
            [
                _SOLADY_TYPEHASH,
                struct,
                _DEPOSIT_WALLET_NAME,
                _DEPOSIT_WALLET_VERSION,
                chain_id,
                order.signer,
                _ZERO32,
            ],
        )
    )
    return _recover(keccak(b"\x19\x01" + domain + wrapped), "0x" + raw[:_SIG_LEN].hex())
