"""Every venue error string of the reference's table maps to the right polyloly error."""

from __future__ import annotations

import httpx
import pytest
from py_clob_client_v2.exceptions import PolyApiException, PolyException

from polyloly.adapters.polymarket.errors import (
    VENUE_ERROR_RULES,
    classify_venue_message,
    error_for_status,
    heartbeat_expected_id,
    refused_order_error,
    translate_exception,
)
from polyloly.execution.ports import RejectCode
from polyloly.execution.risk_gate import BENIGN_REJECT_CODES
from polyloly.runtime.errors import (
    BackOffError,
    ConfigError,
    HaltError,
    RejectError,
    RetryableError,
    UnknownOutcomeError,
)

# (status, exact venue string from docs/reference/polymarket.md §4, class, code)
REFERENCE_TABLE = [
    (400, "invalid post-only order: order crosses book", RejectError, "post_only_crosses"),
    (
        400,
        "order 0xabc is invalid. Price (0.515) breaks minimum tick size rule: 0.01",
        RejectError,
        "tick_size",
    ),
    (400, "order 0xabc is invalid. Size (1) lower than the minimum: 5", RejectError, "min_size"),
    (400, "order 0xabc is invalid. Duplicated.", RejectError, "duplicate"),
    (400, "not enough balance / allowance", RejectError, "no_balance"),
    (400, "invalid nonce", RejectError, "nonce"),
    (400, "invalid expiration", RejectError, "expiration"),
    (400, "the market is not yet ready to process new orders", RejectError, "market_not_ready"),
    (
        400,
        "order couldn't be fully filled. FOK orders are fully filled or killed.",
        RejectError,
        "fok_killed",
    ),
    (
        400,
        "no orders found to match with FAK order. FAK orders are partially filled or killed "
        "if no match is found.",
        RejectError,
        "fak_no_match",
    ),
    (400, "Invalid order payload", RejectError, "invalid_payload"),
    (400, "the order owner has to be the owner of the API KEY", RejectError, "owner_mismatch"),
    (
        400,
        "'0xF39fd6e51aad88F6F4ce6aB8827279cffFb92266' address in closed only mode",
        RejectError,
        "closed_only",
    ),
    (400, "Too many orders in payload: 16, max allowed: 15", RejectError, "too_many_orders"),
    (
        400,
        "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 "
        "decimals, taker amount a max of 4 decimals",
        RejectError,
        "precision",
    ),
    (
        400,
        "invalid amount for a marketable BUY order ($0.5), min size: $1",
        RejectError,
        "min_marketable_amount",
    ),
    (401, "Unauthorized/Invalid api key", HaltError, None),
    (401, "Invalid L1 Request headers", HaltError, None),
    (503, "Trading is currently cancel-only. Please try again later.", BackOffError, None),
    (429, "Too Many Requests", BackOffError, None),
    (425, "Too Early", BackOffError, None),
    (404, "order not found", RejectError, "not_found"),
]


@pytest.mark.parametrize(("status", "message", "kind", "code"), REFERENCE_TABLE)
def test_reference_error_table(
    status: int, message: str, kind: type[Exception], code: str | None
) -> None:
    for mutating in (False, True):
        err = error_for_status(status, message, mutating=mutating)
        assert type(err) is kind
        assert message in str(err)
        if code is not None:
            assert isinstance(err, RejectError)
            assert err.code == code
    # The same text through the client library's exception (JSON body) maps the same way.
    exc = PolyApiException(error_msg={"error": message})
    exc.status_code = status
    assert type(translate_exception(exc, op="post_order", mutating=True)) is kind


def test_every_rule_is_exercised() -> None:
    codes = {row[3] for row in REFERENCE_TABLE if row[3]}
    covered = {rule.code for rule in VENUE_ERROR_RULES}
    # Rules beyond the reference table exist for field-seen strings; test them directly.
    extras = {
        "invalid_heartbeat_id": "Invalid Heartbeat ID",
        "unauthorized": "Unauthorized/Invalid api key",
        "invalid_l1_headers": "Invalid L1 Request headers",
        "deposit_wallet_required": "maker address not allowed, please use the deposit wallet flow",
        "cancel_only": "Trading is currently cancel-only",
        "rate_limited": "Too Many Requests",
        "version_mismatch": "order_version_mismatch",
    }
    for code, text in extras.items():
        rule = classify_venue_message(text)
        assert rule is not None
        assert rule.code == code
    assert covered <= codes | set(extras)


def test_every_reject_rule_speaks_the_execution_layers_codes() -> None:
    # The execution layer branches on RejectCode members (the submit retry looks a
    # DUPLICATE up; the risk gate counts benign rejects apart): a rule with any other code
    # would fall through those branches, as "duplicated" once did (a filled order ended
    # REJECTED).
    for rule in VENUE_ERROR_RULES:
        if rule.kind is RejectError:
            assert rule.code in set(RejectCode), rule
    produced = {rule.code for rule in VENUE_ERROR_RULES if rule.kind is RejectError}
    produced |= {RejectCode.NOT_FOUND, RejectCode.REJECTED, RejectCode.UNMATCHED}
    assert RejectCode.DUPLICATE in produced
    assert produced >= BENIGN_REJECT_CODES


@pytest.mark.parametrize(
    ("text", "status", "kind", "code"),
    [
        ("order 0xabc is invalid. Duplicated.", "", RejectError, RejectCode.DUPLICATE),
        ("order not accepted (status unmatched)", "unmatched", RejectError, RejectCode.UNMATCHED),
        ("order not accepted (status weird)", "weird", RejectError, RejectCode.REJECTED),
        ("Trading is currently cancel-only", "", BackOffError, None),
    ],
)
def test_refused_order_replies(
    text: str, status: str, kind: type[Exception], code: RejectCode | None
) -> None:
    err = refused_order_error(text, status)
    assert type(err) is kind
    if code is not None:
        assert isinstance(err, RejectError)
        assert err.code == code


@pytest.mark.parametrize(
    ("status", "mutating", "kind"),
    [
        (500, False, RetryableError),
        (500, True, RetryableError),
        (502, False, RetryableError),
        (502, True, UnknownOutcomeError),
        (504, True, UnknownOutcomeError),
        (503, True, BackOffError),
        (429, False, BackOffError),
        (403, False, HaltError),
        (400, True, RejectError),
        (418, True, RejectError),
    ],
)
def test_status_classes(status: int, mutating: bool, kind: type[Exception]) -> None:
    assert type(error_for_status(status, "", mutating=mutating)) is kind


def _lost(inner: Exception) -> PolyApiException:
    """How py-clob-client-v2 raises a transport failure: the httpx error is the context."""
    try:
        try:
            raise inner
        except httpx.RequestError:
            raise PolyApiException(error_msg="Request exception!") from None
    except PolyApiException as exc:
        exc.__context__ = inner
        return exc


def test_transport_failures() -> None:
    req = httpx.Request("POST", "http://127.0.0.1/order")
    not_sent = _lost(httpx.ConnectError("refused", request=req))
    assert type(translate_exception(not_sent, op="post_order", mutating=True)) is RetryableError
    lost = _lost(httpx.ReadTimeout("timeout", request=req))
    assert type(translate_exception(lost, op="post_order", mutating=True)) is UnknownOutcomeError
    assert type(translate_exception(lost, op="book", mutating=False)) is RetryableError
    assert type(translate_exception(TimeoutError(), op="cancel", mutating=True)) is (
        UnknownOutcomeError
    )


def test_client_side_failures() -> None:
    assert (
        type(
            translate_exception(
                PolyException("A private key is needed to interact with this endpoint!"),
                op="x",
                mutating=True,
            )
        )
        is ConfigError
    )
    err = translate_exception(
        PolyException("invalid price (1.2), min: 0.01 - max: 0.99"), op="sign", mutating=False
    )
    assert isinstance(err, RejectError)
    assert err.code == "client_validation"
    assert isinstance(translate_exception(ValueError("bad"), op="x", mutating=False), RejectError)
    assert (
        type(translate_exception(RuntimeError("?"), op="x", mutating=True)) is UnknownOutcomeError
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error_msg": "Invalid Heartbeat ID", "heartbeat_id": "hb-7"}, "hb-7"),
        ({"error_msg": "Invalid Heartbeat ID", "heartbeat_id": ""}, ""),  # no chain: start anew
        ({"error_msg": "invalid heartbeat id", "heartbeat_id": "hb-7"}, "hb-7"),
        ({"error_msg": "Invalid Heartbeat ID"}, None),  # no id to adopt
        ({"error_msg": "Invalid Heartbeat ID", "heartbeat_id": 7}, None),
        ({"error_msg": "Invalid order payload", "heartbeat_id": "hb-7"}, None),
        ({"error": "Invalid Heartbeat ID", "heartbeat_id": "hb-7"}, None),
        ("Invalid Heartbeat ID", None),
        (None, None),
    ],
)
def test_the_heartbeat_refusal_and_the_id_it_carries(body: object, expected: str | None) -> None:
    assert heartbeat_expected_id(body) == expected
