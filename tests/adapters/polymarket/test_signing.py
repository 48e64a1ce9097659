"""Local V2 signing: exact integer amounts, the locally computed order hash, wallet types."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder
from py_clob_client_v2.order_utils.model.ctf_exchange_v2_typed_data import (
    CTF_EXCHANGE_V2_ORDER_STRUCT,
    EIP712_DOMAIN,
)
from py_clob_client_v2.signer import Signer

from polyloly.adapters.polymarket.config import SignatureType
from polyloly.adapters.polymarket.signing import OrderSigner, OrderSpec, order_amounts
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import VALID_TICKS, to_decimal
from polyloly.runtime.errors import RejectError

KEY = "0x" + "4c" * 32
FUNDER = "0x" + "ab" * 20


def _signer(sig_type: SignatureType = SignatureType.EOA, funder: str | None = None) -> OrderSigner:
    return OrderSigner(
        KEY,
        137,
        signature_type=sig_type,
        funder=funder,
        now_ms=lambda: 1_795_577_955_778,
        salt=lambda: 1_464_848_247_546,
    )


@pytest.mark.parametrize(
    "case",
    [
        (Side.BUY, 520_000, 10_000_000, 10_000, OrderType.GTC, (5_200_000, 10_000_000, 10_000_000)),
        (
            Side.SELL,
            520_000,
            10_000_000,
            10_000,
            OrderType.GTC,
            (10_000_000, 5_200_000, 10_000_000),
        ),
        (Side.BUY, 523_000, 12_345_678, 1_000, OrderType.GTC, (6_453_820, 12_340_000, 12_340_000)),
        (Side.BUY, 520_000, 10_370_000, 10_000, OrderType.FOK, (5_390_000, 10_365_300, 10_370_000)),
        (Side.SELL, 523_000, 10_370_000, 1_000, OrderType.FAK, (10_370_000, 5_423_500, 10_370_000)),
    ],
)
def test_amount_table(
    case: tuple[Side, int, int, int, OrderType, tuple[int, int, int]],
) -> None:
    side, price, size, tick, otype, expected = case
    assert order_amounts(side, price, size, tick, otype) == expected


def test_amount_rejects() -> None:
    with pytest.raises(RejectError) as err:
        order_amounts(Side.BUY, 515_000, 10_000_000, 10_000, OrderType.GTC)
    assert err.value.code == "tick_size"
    with pytest.raises(RejectError):
        order_amounts(Side.BUY, 500_000, 9_999, 10_000, OrderType.GTC)


_ticks = st.sampled_from(sorted(VALID_TICKS))


def _reference(side: Side, price: int, size: int) -> tuple[int, int]:
    """The documented limit rule in Decimal: shares down to 0.01, notional = shares × price."""
    shares = (Decimal(size) / 10**6).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    notional = shares * to_decimal(price)
    s_micros, n_micros = int(shares * 10**6), int(notional * 10**6)
    return (n_micros, s_micros) if side is Side.BUY else (s_micros, n_micros)


@settings(max_examples=300, deadline=None)
@given(
    tick=_ticks,
    steps=st.integers(1, 9_999),
    size=st.integers(10_000, 10**10),
    side=st.sampled_from([Side.BUY, Side.SELL]),
)
def test_limit_amounts_follow_the_rule(tick: int, steps: int, size: int, side: Side) -> None:
    price = (steps * tick) % 1_000_000 or tick
    if not tick <= price <= 1_000_000 - tick:
        return
    maker, taker, _ = order_amounts(side, price, size, tick, OrderType.GTC)
    assert (maker, taker) == _reference(side, price, size)


def test_library_float_math_loses_a_cent_where_integers_do_not() -> None:
    """py-clob-client-v2 floors 0.29 shares to 0.28 (0.29 * 100 = 28.999…); we do not."""
    lib = OrderBuilder(Signer(KEY, 137))
    _, _lib_maker, lib_taker = lib.get_order_amounts("BUY", 0.29, 0.0001, ROUNDING_CONFIG["0.0001"])
    assert lib_taker == 280_000
    assert order_amounts(Side.BUY, 100, 290_000, 100, OrderType.GTC)[1] == 290_000


def _typed(body: dict[str, object], neg_risk: bool) -> dict[str, object]:
    cfg = get_contract_config(137)
    return {
        "primaryType": "Order",
        "types": {"EIP712Domain": EIP712_DOMAIN, "Order": CTF_EXCHANGE_V2_ORDER_STRUCT},
        "domain": {
            "name": "Polymarket CTF Exchange",
            "version": "2",
            "chainId": 137,
            "verifyingContract": cfg.neg_risk_exchange_v2 if neg_risk else cfg.exchange_v2,
        },
        "message": {
            "salt": int(body["salt"]),  # type: ignore[call-overload]
            "maker": body["maker"],
            "signer": body["signer"],
            "tokenId": int(body["tokenId"]),  # type: ignore[call-overload]
            "makerAmount": int(body["makerAmount"]),  # type: ignore[call-overload]
            "takerAmount": int(body["takerAmount"]),  # type: ignore[call-overload]
            "side": 0 if body["side"] == "BUY" else 1,
            "signatureType": body["signatureType"],
            "timestamp": int(body["timestamp"]),  # type: ignore[call-overload]
            "metadata": bytes(32),
            "builder": bytes(32),
        },
    }


@pytest.mark.parametrize("neg_risk", [False, True])
def test_hash_and_signature_are_independently_verifiable(neg_risk: bool) -> None:
    signer = _signer()
    spec = OrderSpec(
        token_id="71321045679252212594626385532706912750332728571942532289631379312455583992563",
        side=Side.BUY,
        price=520_000,
        size=10_000_000,
        tick=10_000,
        neg_risk=neg_risk,
    )
    signed = signer.sign(spec)
    body = {
        "salt": signed.body.salt,
        "maker": signed.body.maker,
        "signer": signed.body.signer,
        "tokenId": signed.body.tokenId,
        "makerAmount": signed.body.makerAmount,
        "takerAmount": signed.body.takerAmount,
        "side": signed.body.side,
        "signatureType": signed.body.signatureType,
        "timestamp": signed.body.timestamp,
    }
    message = encode_typed_data(full_message=_typed(body, neg_risk))
    digest = "0x" + keccak(b"\x19" + message.version + message.header + message.body).hex()
    assert signed.order_hash == digest
    assert Account.recover_message(message, signature=signed.body.signature) == signer.address
    assert signed.body.timestamp == "1795577955778"
    assert signed.body.makerAmount == "5200000"
    assert signed.body.takerAmount == "10000000"
    payload = signed.to_payload("api-key")
    assert list(payload) == ["order", "owner", "orderType", "deferExec", "postOnly"]
    assert payload["orderType"] == "GTC"


def test_neg_risk_changes_the_hash() -> None:
    spec = OrderSpec(token_id="1", side=Side.SELL, price=400_000, size=5_000_000, tick=10_000)
    a = _signer().sign(spec)
    b = _signer().sign(
        OrderSpec(**{**spec.__dict__, "neg_risk": True})
        if False
        else OrderSpec(
            token_id="1", side=Side.SELL, price=400_000, size=5_000_000, tick=10_000, neg_risk=True
        )
    )
    assert a.order_hash != b.order_hash


@pytest.mark.parametrize("sig_type", list(SignatureType))
def test_every_wallet_type_signs(sig_type: SignatureType) -> None:
    funder = None if sig_type is SignatureType.EOA else FUNDER
    signer = _signer(sig_type, funder)
    signed = signer.sign(
        OrderSpec(token_id="99", side=Side.BUY, price=10_000, size=5_000_000, tick=10_000)
    )
    assert signed.body.signatureType == int(sig_type)
    assert signed.body.maker.lower() == (funder or signer.address).lower()
    if sig_type is SignatureType.POLY_1271:
        assert signed.body.signer.lower() == FUNDER  # the deposit wallet signs
        assert len(signed.body.signature) > 132  # wrapped ERC-1271 signature
    else:
        assert signed.body.signer == signer.address
        assert len(signed.body.signature) == 132


def test_spec_rules() -> None:
    signer = _signer()
    with pytest.raises(RejectError):
        signer.sign(
            OrderSpec(
                token_id="1",
                side=Side.BUY,
                price=500_000,
                size=5_000_000,
                tick=10_000,
                order_type=OrderType.FOK,
                post_only=True,
            )
        )
    with pytest.raises(RejectError):
        signer.sign(
            OrderSpec(
                token_id="1",
                side=Side.BUY,
                price=500_000,
                size=5_000_000,
                tick=10_000,
                expiration_s=1_900_000_000,
            )
        )
    gtd = signer.sign(
        OrderSpec(
            token_id="1",
            side=Side.BUY,
            price=500_000,
            size=5_000_000,
            tick=10_000,
            order_type=OrderType.GTD,
            expiration_s=1_900_000_000,
        )
    )
    assert gtd.body.expiration == "1900000000"


def test_signing_speed() -> None:
    signer = OrderSigner(
        KEY, 137, signature_type=SignatureType.EOA, funder=None, now_ms=lambda: 1_795_577_955_778
    )
    spec = OrderSpec(token_id="5", side=Side.BUY, price=520_000, size=10_000_000, tick=10_000)
    start = time.perf_counter()
    hashes = {signer.sign(spec).order_hash for _ in range(20)}
    per_order_ms = (time.perf_counter() - start) / 20 * 1000
    assert len(hashes) == 20  # random salts make every order distinct
    assert per_order_ms < 50
