"""Order hashes and signatures: golden values, the library's own builder, both ECC backends.

The golden values were produced by py-clob-client-v2's ``ExchangeOrderBuilderV2``
(``build_order_hash`` / ``build_order_signature``) with eth-keys' pure-Python backend and
with libsecp256k1 (coincurve): both gave these exact bytes. The signer hashes the order
struct directly and signs with eth-keys; it must keep giving them, and must agree with the
library's builder on any order.
"""

from __future__ import annotations

import pytest
from eth_keys import keys
from eth_keys.backends import CoinCurveECCBackend, NativeECCBackend
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2
from py_clob_client_v2.order_utils.model.side import Side as LibSide
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from tests.adapters.polymarket.pinned_signer import KEY, TOKEN, pinned_signer

from polyloly.adapters.polymarket.config import SignatureType
from polyloly.adapters.polymarket.signing import OrderSpec
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType

_1271_TAIL = (
    "4f726465722875696e743235362073616c742c61646472657373206d616b65722c61646472657373207369"
    "676e65722c75696e7432353620746f6b656e49642c75696e74323536206d616b6572416d6f756e742c7569"
    "6e743235362074616b6572416d6f756e742c75696e743820736964652c75696e7438207369676e61747572"
    "65547970652c75696e743235362074696d657374616d702c62797465733332206d657461646174612c6279"
    "7465733332206275696c6465722900ba"
)
GOLDEN: dict[str, tuple[SignatureType, dict[str, object], str, str]] = {
    "eoa-fak-buy": (
        SignatureType.EOA,
        {"side": Side.BUY, "price": 520_000, "size": 10_000_000, "order_type": OrderType.FAK},
        "0x3e706862e1ceaba31c86bb7cdefa5104499be045fb09ad8a6d853cd90b532dcf",
        "0x00e739fc9096354aae1def5067022381e4ee284f285cb9bf709f69e52b25b729"
        "43e4c6619b3ce3e8960cbca0688386d90cea3f2a64287a3c7ac1dffda15280ef1c",
    ),
    "eoa-gtc-sell-negrisk": (
        SignatureType.EOA,
        {"side": Side.SELL, "price": 523_000, "size": 12_345_678, "tick": 1_000, "neg_risk": True},
        "0xba7eba96df6dcaa1b7f067fa8e0a6df75b0d6b560ba8a8ba9704628cccb4c76d",
        "0xa8bee46bdca9a7feda7aba78e9039e8db22845d11cfcb0807929e49de09948e6"
        "0047c30e3a26c4331afb8264505683ea2959ceadeb8cd9ed6a7af658c4efff731c",
    ),
    "proxy-gtc-buy": (
        SignatureType.POLY_PROXY,
        {"side": Side.BUY, "price": 10_000, "size": 5_000_000},
        "0xfa8a012dbc798d72d9db5dda316be2d81b80272ced51db8dd53d9009452d0bb1",
        "0x89d15df6cf51089ece934ff270a18243c6d49a77f61bf95052702c7882628bd2"
        "2f7e7a6f7c8772e7cf9c6c0a3cb83b3cc1b75e3d6fb230d07ac56341620cbddd1c",
    ),
    "safe-fok-sell": (
        SignatureType.POLY_GNOSIS_SAFE,
        {"side": Side.SELL, "price": 990_000, "size": 7_770_000, "order_type": OrderType.FOK},
        "0x730a9861518b98b5de2f6cbbe09cc44226921bfbbd81a6a9747e751e38eb0610",
        "0xdf3e88aaa6724c16cfd4482cae06bcea577a98607d02ddf57e4e4f403f6a34bb"
        "310123a4e2c4440a64738cee72c07ad187044aa03a1152fc9787b8ec4d807c111b",
    ),
    "1271-gtd-buy": (
        SignatureType.POLY_1271,
        {
            "side": Side.BUY,
            "price": 450_000,
            "size": 20_000_000,
            "order_type": OrderType.GTD,
            "expiration_s": 1_900_000_000,
        },
        "0x051520b55a683838da997b289ae531b9292ef880cdd90e8751cf5b2c116a6dec",
        "0xd20db6ed1e12f2d9e551ac2c8dc2c4ecd46a5759d175883b47e59d909b45e0fd"
        "78a936710ba42f03b4038c11950a462b33a8a4bec77f3b65f53f035369083bcc1b"
        "3264e159346253e26a64e00b69032db0e7d32f94628de3e6eecb50304d7af3d2"
        "c4c9230b50469a4405b23f2268a9d5c8899dec6b24001fc692982d9f453ee4d3" + _1271_TAIL,
    ),
}


@pytest.mark.parametrize("case", list(GOLDEN))
def test_golden_hashes_and_signatures(case: str) -> None:
    sig_type, fields, order_hash, signature = GOLDEN[case]
    spec = OrderSpec(token_id=TOKEN, **{"tick": 10_000, **fields})  # type: ignore[arg-type]
    signed = pinned_signer(sig_type).sign(spec)
    assert signed.order_hash == order_hash
    assert signed.body.signature == signature


def test_signing_runs_on_libsecp256k1() -> None:
    """coincurve is a runtime dependency: eth-keys picks it over its pure-Python backend."""
    assert isinstance(pinned_signer(SignatureType.EOA)._key.backend, CoinCurveECCBackend)


def test_both_backends_give_the_same_signature() -> None:
    digest = bytes.fromhex(GOLDEN["eoa-fak-buy"][2][2:])
    secret = bytes.fromhex(KEY[2:])
    native = keys.PrivateKey(secret, backend=NativeECCBackend()).sign_msg_hash(digest)
    fast = keys.PrivateKey(secret, backend=CoinCurveECCBackend()).sign_msg_hash(digest)
    assert native.to_bytes() == fast.to_bytes()


_sig_types = st.sampled_from(list(SignatureType))


@settings(max_examples=60, deadline=None)
@given(
    sig_type=_sig_types,
    neg_risk=st.booleans(),
    salt=st.integers(0, 2**53 - 1),
    token=st.integers(1, 2**256 - 1),
    maker_amount=st.integers(1, 10**15),
    taker_amount=st.integers(1, 10**15),
    buy=st.booleans(),
    timestamp=st.integers(0, 2**63),
    metadata=st.binary(min_size=32, max_size=32),
)
def test_hash_and_signature_equal_the_library_builder(  # noqa: PLR0917 - hypothesis
    sig_type: SignatureType,
    neg_risk: bool,
    salt: int,
    token: int,
    maker_amount: int,
    taker_amount: int,
    buy: bool,
    timestamp: int,
    metadata: bytes,
) -> None:
    signer = pinned_signer(sig_type, salt)
    builder = signer._builders[neg_risk]
    order = builder.build_order(
        OrderDataV2(
            maker=signer.funder,
            tokenId=str(token),
            makerAmount=str(maker_amount),
            takerAmount=str(taker_amount),
            side=LibSide.BUY if buy else LibSide.SELL,
            signer=signer._order_signer(),
            signatureType=SignatureTypeV2(int(sig_type)),
            timestamp=str(timestamp),
            metadata="0x" + metadata.hex(),
        )
    )
    typed = builder.build_order_typed_data(order)
    assert signer._hash_and_sign(builder, order) == (
        builder.build_order_hash(typed),
        builder.build_order_signature(typed),
    )
