"""Translate venue and client-library failures into :mod:`polyloly.runtime.errors` classes.

Callers branch on the class (retry, back off, look up, skip, halt), never on text. The
venue's error strings are matched here once, in a table; each rule carries a stable
``code`` so the execution layer can tell a duplicate from a tick violation without
parsing messages.

* 429, 425 (too early) → :class:`BackOffError`; 503 cancel-only → :class:`BackOffError`.
* 5xx / connect failures / timeouts before sending → :class:`RetryableError`.
* Reply lost after the request may have reached the venue (read timeout, dropped
  connection, gateway 502/504 on a write) → :class:`UnknownOutcomeError`.
* 400 venue rejects → :class:`RejectError` with the venue message and a code.
* 401 / bad auth headers / deposit-wallet-required → :class:`HaltError`.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §4 (error table), §8 (ops);
py-clob-client-v2 ``exceptions.py``, ``http_helpers/helpers.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import httpx
import msgspec
from py_clob_client_v2.exceptions import PolyApiException, PolyException

from polyloly.adapters.polymarket.schemas.http import HeartbeatMismatch
from polyloly.execution.ports import RejectCode
from polyloly.runtime.errors import (
    BackOffError,
    ConfigError,
    HaltError,
    PolylolyError,
    RejectError,
    RetryableError,
    UnknownOutcomeError,
)

__all__ = [
    "VENUE_ERROR_RULES",
    "ParseError",
    "VenueErrorRule",
    "classify_venue_message",
    "error_for_status",
    "heartbeat_expected_id",
    "message_of",
    "refused_order_error",
    "translate_exception",
]


class ParseError(ValueError):
    """A decoded payload carries a value polyloly cannot use; ``reason`` is a counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VenueErrorRule:
    """One venue error string: a case-insensitive pattern, a stable code, the error class.

    A :class:`RejectError` rule's code is a :class:`~polyloly.execution.ports.RejectCode`
    (what the execution layer branches on); other kinds carry a code for the message only.
    """

    pattern: re.Pattern[str]
    code: str
    kind: type[PolylolyError]


def _rule(pattern: str, code: str, kind: type[PolylolyError]) -> VenueErrorRule:
    return VenueErrorRule(re.compile(pattern, re.IGNORECASE), code, kind)


def _reject(pattern: str, code: RejectCode) -> VenueErrorRule:
    return _rule(pattern, code, RejectError)


VENUE_ERROR_RULES: Final = (
    # validity
    _reject(r"invalid post-only order: order crosses book", RejectCode.POST_ONLY_CROSSES),
    _reject(r"breaks minimum tick size rule", RejectCode.TICK_SIZE),
    _reject(r"lower than the minimum", RejectCode.MIN_SIZE),
    _reject(r"is invalid\. duplicated", RejectCode.DUPLICATE),
    # funds / state
    _reject(r"not enough balance\s*/\s*allowance", RejectCode.NO_BALANCE),
    _reject(r"invalid nonce", RejectCode.NONCE),
    _reject(r"invalid expiration", RejectCode.EXPIRATION),
    _reject(r"market is not yet ready to process new orders", RejectCode.MARKET_NOT_READY),
    # FOK / FAK
    _reject(r"FOK orders are fully filled or killed", RejectCode.FOK_KILLED),
    _reject(r"FAK orders are partially filled or killed", RejectCode.FAK_NO_MATCH),
    _reject(r"max accuracy of \d+ decimals", RejectCode.PRECISION),
    _reject(r"invalid amount for a marketable BUY order", RejectCode.MIN_MARKETABLE_AMOUNT),
    # payload
    _reject(r"invalid order payload", RejectCode.INVALID_PAYLOAD),
    _reject(r"order owner has to be the owner of the API KEY", RejectCode.OWNER_MISMATCH),
    _reject(r"address in closed only mode", RejectCode.CLOSED_ONLY),
    _reject(r"too many orders in payload", RejectCode.TOO_MANY_ORDERS),
    _reject(r"invalid heartbeat id", RejectCode.INVALID_HEARTBEAT_ID),
    # global
    _rule(r"unauthorized|invalid api key", "unauthorized", HaltError),
    _rule(r"invalid L1 request headers", "invalid_l1_headers", HaltError),
    _rule(r"please use the deposit wallet flow", "deposit_wallet_required", HaltError),
    _rule(r"trading is currently cancel-only", "cancel_only", BackOffError),
    _rule(r"too many requests", "rate_limited", BackOffError),
    _rule(r"order_version_mismatch", "version_mismatch", RetryableError),
    _reject(r"not found", RejectCode.NOT_FOUND),
)
"""Every error string of the reference's error table (and a few seen in the field)."""

_GATEWAY_STATUSES: Final = frozenset({502, 504})
_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def _make(kind: type[PolylolyError], message: str, code: str) -> PolylolyError:
    if kind is RejectError:
        return RejectError(message, code=code)
    return kind(f"[{code}] {message}")


def classify_venue_message(message: str) -> VenueErrorRule | None:
    """Return the first rule matching a venue error message, if any."""
    for rule in VENUE_ERROR_RULES:
        if rule.pattern.search(message):
            return rule
    return None


_REFUSED_STATUSES: Final = {"unmatched": RejectCode.UNMATCHED}
"""``POST /order`` reply statuses that refuse the order without an error text."""


def refused_order_error(text: str, status: str) -> PolylolyError:
    """The error of an order reply that did not accept the order (``success`` false, an
    ``errorMsg``, or a refusing ``status``): the matching rule, else a plain reject."""
    rule = classify_venue_message(text)
    if rule is not None:
        return _make(rule.kind, text, rule.code)
    return RejectError(text, code=_REFUSED_STATUSES.get(status.lower(), RejectCode.REJECTED))


def message_of(body: object) -> str:
    """Extract the error text from a decoded error body (``{"error": …}``) or raw text."""
    if isinstance(body, Mapping):
        for key in ("error", "error_msg", "errorMsg", "message"):
            value = body.get(key)
            if value:
                return value if isinstance(value, str) else msgspec.json.encode(value).decode()
        return msgspec.json.encode(body).decode()
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return "" if body is None else str(body)


def heartbeat_expected_id(body: object) -> str | None:
    """The id a ``POST /v1/heartbeats`` refusal says the venue expects, else ``None``.

    The refusal is HTTP 400 ``{"error_msg": "Invalid Heartbeat ID", "heartbeat_id": …}``
    (the official SDK's ``OrderHeartbeatMismatchResponse``); ``""`` means the venue holds
    no chain for the key. Any other body is not that refusal.
    """
    try:
        refusal = msgspec.convert(body, HeartbeatMismatch)
    except msgspec.ValidationError:
        return None
    rule = classify_venue_message(refusal.error_msg)
    if rule is None or rule.code != RejectCode.INVALID_HEARTBEAT_ID:
        return None
    return refusal.heartbeat_id


def error_for_status(status: int, message: str, *, mutating: bool) -> PolylolyError:  # noqa: PLR0911 - one return per status class
    """Translate an HTTP status plus the venue message into a polyloly error."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    rule = classify_venue_message(message) if message else None
    if status in (425, 429):
        # 425 Too Early: the venue would not process the request yet (it took no effect).
        return BackOffError(text)
    if status == 503:
        return BackOffError(text)
    if status in (401, 403):
        return _make(HaltError, text, rule.code if rule else "unauthorized")
    if status >= 500:
        if mutating and status in _GATEWAY_STATUSES:
            return UnknownOutcomeError(text)
        return RetryableError(text)
    if rule is not None:
        return _make(rule.kind, text, rule.code)
    if status == 404:
        return RejectError(text, code=RejectCode.NOT_FOUND)
    return RejectError(text, code=RejectCode.REJECTED)


def _lost_reply(exc: BaseException | None, op: str, *, mutating: bool) -> PolylolyError:
    if isinstance(exc, _NOT_SENT):
        return RetryableError(f"{op}: request not sent ({type(exc).__name__})")
    if mutating:
        name = type(exc).__name__ if exc is not None else "no reply"
        return UnknownOutcomeError(
            f"{op}: reply lost ({name}); look the outcome up before retrying"
        )
    return RetryableError(f"{op}: request failed ({type(exc).__name__ if exc else 'no reply'})")


def translate_exception(exc: BaseException, *, op: str, mutating: bool) -> PolylolyError:  # noqa: PLR0911 - one return per failure family
    """Translate any exception raised by the client library or httpx into a polyloly error.

    Parameters
    ----------
    exc
        What was raised.
    op
        Operation name for the message (``"post_order"``).
    mutating
        Whether the request changes venue state (post, cancel, heartbeat): then a lost
        reply is an :class:`UnknownOutcomeError`, not a plain retry.
    """
    if isinstance(exc, PolylolyError):
        return exc
    if isinstance(exc, PolyApiException):
        if exc.status_code is None:
            # The client wraps every httpx.RequestError as "Request exception!" and keeps
            # the original as the implicit context: that is what says whether it was sent.
            return _lost_reply(exc.__cause__ or exc.__context__, op, mutating=mutating)
        return error_for_status(exc.status_code, message_of(exc.error_msg), mutating=mutating)
    if isinstance(exc, httpx.HTTPStatusError):
        return error_for_status(
            exc.response.status_code, message_of(_safe_json(exc.response)), mutating=mutating
        )
    if isinstance(exc, httpx.RequestError | TimeoutError | ConnectionError):
        return _lost_reply(exc, op, mutating=mutating)
    if isinstance(exc, PolyException):
        msg = str(exc.msg)
        if "private key is needed" in msg or "API Credentials are needed" in msg:
            return ConfigError(f"{op}: {msg}")
        rule = classify_venue_message(msg)
        if rule is not None:
            return _make(rule.kind, f"{op}: {msg}", rule.code)
        return RejectError(f"{op}: {msg}", code=RejectCode.CLIENT_VALIDATION)
    if isinstance(exc, ValueError):
        return RejectError(f"{op}: {exc}", code=RejectCode.CLIENT_VALIDATION)
    text = f"{op}: unexpected {type(exc).__name__}: {exc}"
    return UnknownOutcomeError(text) if mutating else RetryableError(text)


def _safe_json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text
