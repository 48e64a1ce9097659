"""Auth primitives against the client library's own signing code."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.signer import Signer
from py_clob_client_v2.signing.hmac import build_hmac_signature
from tests.sim.exchange.conftest import KEY_1

from polyloly.sim.exchange.auth import (
    ERR_INVALID_API_KEY,
    ERR_INVALID_L1,
    ApiKeyStore,
    AuthError,
    OrderSignatureError,
    hmac_signature,
    order_digest,
    verify_l1,
    verify_l2,
    verify_order_signature,
)
from polyloly.sim.exchange.config import CHAIN_CONTRACTS
from polyloly.sim.exchange.orders import WireOrder, signed_fields

NOW = 1_800_000_000
EXCHANGE = CHAIN_CONTRACTS[137]["exchange_v2"]
NEG_RISK = CHAIN_CONTRACTS[137]["neg_risk_exchange_v2"]


def test_l1_headers_verify_and_stale_or_forged_ones_do_not() -> None:
    signer = Signer(KEY_1, 137)
    headers = create_level_1_headers(signer, nonce=3, timestamp=NOW)
    assert verify_l1(headers, chain_id=137, now_s=NOW, window_s=300) == (signer.address(), 3)
    with pytest.raises(AuthError, match=ERR_INVALID_L1):
        verify_l1(headers, chain_id=137, now_s=NOW + 301, window_s=300)
    with pytest.raises(AuthError, match=ERR_INVALID_L1):
        verify_l1(headers, chain_id=80002, now_s=NOW, window_s=300)
    forged = headers | {"POLY_ADDRESS": Account.create().address}
    with pytest.raises(AuthError, match=ERR_INVALID_L1):
        verify_l1(forged, chain_id=137, now_s=NOW, window_s=300)


def test_hmac_matches_the_client_including_quote_replacement() -> None:
    store = ApiKeyStore()
    creds = store.create(Account.from_key(KEY_1).address, 0, b"\x01" * 32)
    assert creds is not None
    body = json.dumps({"q": "it's"}, separators=(",", ":"))
    ours = hmac_signature(creds.secret, str(NOW), "POST", "/order", body)
    assert ours == build_hmac_signature(creds.secret, str(NOW), "POST", "/order", body)
    headers = {
        "POLY_ADDRESS": creds.address,
        "POLY_SIGNATURE": ours,
        "POLY_TIMESTAMP": str(NOW),
        "POLY_API_KEY": creds.api_key,
        "POLY_PASSPHRASE": creds.passphrase,
    }
    args = {"method": "POST", "path": "/order", "body": body, "now_s": NOW, "window_s": 30}
    assert verify_l2(headers, store, **args) == creds  # type: ignore[arg-type]
    for bad in (
        {"POLY_PASSPHRASE": "x"},
        {"POLY_API_KEY": "nope"},
        {"POLY_TIMESTAMP": str(NOW - 31)},
        {"POLY_ADDRESS": Account.create().address},
        {"POLY_SIGNATURE": ours[:-2] + "AA"},
    ):
        with pytest.raises(AuthError, match=ERR_INVALID_API_KEY):
            verify_l2(headers | bad, store, **args)  # type: ignore[arg-type]
    assert store.create(creds.address, 0, b"\x02" * 32) is None
    assert store.derive(creds.address.lower(), 0) == creds


@pytest.mark.parametrize("neg_risk", [False, True])
def test_order_signature_and_hash_match_the_client(neg_risk: bool) -> None:
    signer = Signer(KEY_1, 137)
    builder = OrderBuilder(signer)
    order = builder.build_order(
        OrderArgsV2(token_id="12345", price=0.52, size=10, side="BUY"),
        CreateOrderOptions(tick_size="0.01", neg_risk=neg_risk),
    )
    wire = WireOrder(
        salt=int(order.salt),
        maker=order.maker,
        signer=order.signer,
        tokenId=order.tokenId,
        makerAmount=order.makerAmount,
        takerAmount=order.takerAmount,
        side="BUY",
        signatureType=int(order.signatureType),
        timestamp=order.timestamp,
        signature=order.signature,
    )
    fields = signed_fields(wire)
    contract, wrong = (NEG_RISK, EXCHANGE) if neg_risk else (EXCHANGE, NEG_RISK)
    assert verify_order_signature(fields, order.signature, chain_id=137, contract=contract) == (
        signer.address()
    )
    client_builder = ExchangeOrderBuilderV2(contract, 137, signer)
    expected = client_builder.build_order_hash(client_builder.build_order_typed_data(order))
    assert order_digest(fields, chain_id=137, contract=contract) == expected
    with pytest.raises(OrderSignatureError):
        verify_order_signature(fields, order.signature, chain_id=137, contract=wrong)
    tampered = signed_fields(
        WireOrder(**{f: getattr(wire, f) for f in wire.__struct_fields__} | {"makerAmount": "1"})
    )
    with pytest.raises(OrderSignatureError):
        verify_order_signature(tampered, order.signature, chain_id=137, contract=contract)
