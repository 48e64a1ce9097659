"""Logging: rendered lines never contain a secret; timestamps come from the injected clock.

These tests read the rendered log output on purpose: the output *is* the behaviour under
test (the house rule against asserting on logs is about other modules' tests).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from polyloly.bot.logging import (
    REDACTED,
    ClockStamper,
    Redactor,
    configure_logging,
    is_secret_key,
    reset_logging,
)
from polyloly.bot.settings import Settings
from polyloly.domain.events import BookSnapshot
from polyloly.runtime.clock import VirtualClock

PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
API_SECRET = "dGhpcyBpcyBhIHNlY3JldA=="
PASSPHRASE = "correct-horse-battery"
TOKEN = "123456:telegram-bot-token"
SECRETS = (PRIVATE_KEY, API_SECRET, PASSPHRASE, TOKEN)
CONDITION_ID = "0x" + "dd" * 32  # public: a market's condition id
START_NS = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, Redactor, VirtualClock]]:
    stream, clock = io.StringIO(), VirtualClock(START_NS)
    redactor = configure_logging(
        level="DEBUG",
        clock=clock,
        secrets=SECRETS,
        stream=stream,
        redactor=Redactor(),
        cache_loggers=False,
    )
    yield stream, redactor, clock
    reset_logging()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
        assert secret.removeprefix("0x") not in text


def test_secrets_are_masked_in_values_nested_containers_and_messages(capture: Any) -> None:
    stream, _, _ = capture
    log = structlog.get_logger("test")
    log.info(
        f"signing with {PRIVATE_KEY}",
        private_key=PRIVATE_KEY,
        note=f"the passphrase is {PASSPHRASE}",
        nested={"creds": {"apiSecret": API_SECRET, "list": [1, {"x": TOKEN}]}},
        items=[PASSPHRASE, (API_SECRET, PRIVATE_KEY.upper())],
        raw=PRIVATE_KEY.removeprefix("0x").encode(),
        model=Settings(),
        secret_str=SecretStr(PASSPHRASE),
    )
    text = stream.getvalue()
    assert_clean(text)
    (line,) = lines(stream)
    assert line["private_key"] == REDACTED
    assert line["nested"]["creds"]["apiSecret"] == REDACTED
    assert line["nested"]["creds"]["list"] == [1, {"x": REDACTED}]
    assert line["note"] == f"the passphrase is {REDACTED}"
    assert line["logger"] == "test"


def test_exception_text_and_tracebacks_are_masked(capture: Any) -> None:
    stream, _, _ = capture
    log = structlog.get_logger("test")
    try:
        raise ValueError(f"bad key {PRIVATE_KEY} for passphrase {PASSPHRASE}")
    except ValueError as exc:
        log.exception("signing failed")
        log.error("signing failed", error=exc, errors=[exc])
    text = stream.getvalue()
    assert_clean(text)
    first, second = lines(stream)
    assert "ValueError: bad key" in first["exception"]
    assert second["error"].startswith("ValueError: bad key [redacted]")


def test_key_names_mark_values_secret_but_public_ids_stay_readable(capture: Any) -> None:
    stream, _, _ = capture
    structlog.get_logger().info(
        "order",
        POLY_SIGNATURE="sig-abc-123456",
        authorization="Bearer abcdef123456",
        token_id="71321045679252212594626385532706912750332728571942532289631379312455583992563",
        market=CONDITION_ID,
        signature_type=2,
        api_key=None,
        has_token=True,
    )
    (line,) = lines(stream)
    assert line["POLY_SIGNATURE"] == REDACTED
    assert line["authorization"] == REDACTED
    assert line["token_id"].startswith("7132")
    assert line["market"] == CONDITION_ID
    assert line["signature_type"] == 2
    assert line["api_key"] is None
    assert line["has_token"] is True


def test_unregistered_key_shaped_hex_credentials_in_urls_and_headers_are_masked(
    capture: Any,
) -> None:
    stream, _, _ = capture
    other_key = "ab" * 32
    structlog.get_logger().warning(
        f"leaked {other_key}",
        detail=f"key=0x{other_key}",
        url="postgresql://user:hunter2pass@db:5432/x",
        request="GET https://api.opendota.com/api/live?api_key=od-secret-999&x=1",
        header="Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc",
    )
    text = stream.getvalue()
    for leaked in (other_key, "hunter2pass", "od-secret-999", "eyJhbGciOiJIUzI1NiJ9"):
        assert leaked not in text
    (line,) = lines(stream)
    assert line["url"] == f"postgresql://user:{REDACTED}@db:5432/x"
    assert line["request"].endswith(f"?api_key={REDACTED}&x=1")


def test_standard_library_loggers_go_through_the_same_chain(capture: Any) -> None:
    stream, _, _ = capture
    logging.getLogger("httpx").info("HTTP Request: GET https://x/y?token=%s", TOKEN)  # DEBUG
    try:
        raise RuntimeError(API_SECRET)
    except RuntimeError:
        logging.getLogger("websockets").exception("closed")
    assert_clean(stream.getvalue())
    first, second = lines(stream)
    assert first["logger"] == "httpx"
    assert first["level"] == "debug"  # a request line is chatter, not news
    assert first["timestamp"] == "2026-01-01T00:00:00.123456Z"
    assert "RuntimeError" in second["exception"]


def test_a_logger_made_before_configuration_follows_it() -> None:
    early = structlog.get_logger("polyloly.early")  # as modules do at import, before the CLI
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream, secrets=[API_SECRET], cache_loggers=False)
    try:
        early.info("made.early", detail=API_SECRET)
    finally:
        reset_logging()
    (line,) = lines(stream)
    assert (line["logger"], line["event"]) == ("polyloly.early", "made.early")
    assert API_SECRET not in stream.getvalue()


def test_a_module_logger_follows_every_reconfiguration_and_carries_its_name() -> None:
    log = structlog.get_logger("polyloly.node.core")  # the idiom: structlog.get_logger(__name__)
    first, second = io.StringIO(), io.StringIO()
    try:
        configure_logging(level="INFO", stream=first, redactor=Redactor())
        log.info("one")
        configure_logging(level="INFO", stream=second, redactor=Redactor())
        log.info("two")
    finally:
        reset_logging()
    assert [(line["logger"], line["event"]) for line in lines(first)] == [
        ("polyloly.node.core", "one")
    ]
    assert [line["event"] for line in lines(second)] == ["two"]


def test_http_request_lines_are_debug_not_info() -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream, redactor=Redactor(), cache_loggers=False)
    try:
        logging.getLogger("httpx").info('HTTP Request: GET http://127.0.0.1:1/live "200 OK"')
        logging.getLogger("httpcore.connection").info("connect_tcp.started")
        logging.getLogger("httpx").warning("a warning stays a warning")
        logging.getLogger("polyloly.node").info("the bot's own INFO line stays")
    finally:
        reset_logging()
    logged = [(line["logger"], line["level"]) for line in lines(stream)]
    assert logged == [("httpx", "warning"), ("polyloly.node", "info")]


def test_secrets_registered_after_start_are_masked(capture: Any) -> None:
    stream, redactor, _ = capture
    derived = "derived-api-secret-42"
    structlog.get_logger().info("before", value=derived)
    redactor.register(derived)
    structlog.get_logger().info("after", value=derived)
    before, after = lines(stream)
    assert before["value"] == derived
    assert after["value"] == REDACTED


def test_timestamps_come_from_the_injected_clock(capture: Any) -> None:
    stream, _, clock = capture
    log = structlog.get_logger()
    log.info("one")
    clock.advance_ns(1_500_000_000)
    log.info("two")
    one, two = lines(stream)
    assert (one["ts"], two["ts"]) == (START_NS, START_NS + 1_500_000_000)
    assert one["timestamp"] == "2026-01-01T00:00:00.123456Z"
    assert two["timestamp"] == "2026-01-01T00:00:01.623456Z"


def test_level_comes_from_configuration() -> None:
    stream = io.StringIO()
    configure_logging(level="warning", stream=stream, redactor=Redactor(), cache_loggers=False)
    try:
        log = structlog.get_logger()
        log.info("dropped")
        log.warning("kept")
        logging.getLogger("lib").info("dropped too")
    finally:
        reset_logging()
    assert [line["event"] for line in lines(stream)] == ["kept"]


def test_console_format_is_redacted_too() -> None:
    stream = io.StringIO()
    configure_logging(
        fmt="console",
        stream=stream,
        secrets=[PASSPHRASE],
        redactor=Redactor(),
        cache_loggers=False,
    )
    try:
        try:
            raise KeyError(PASSPHRASE)
        except KeyError:
            structlog.get_logger().exception("boom", passphrase=PASSPHRASE, text=PASSPHRASE)
    finally:
        reset_logging()
    assert PASSPHRASE not in stream.getvalue()
    assert "boom" in stream.getvalue()


def test_bad_level_or_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging(level="LOUD", redactor=Redactor())
    with pytest.raises(ValueError, match="log format"):
        configure_logging(fmt="xml", redactor=Redactor())
    reset_logging()


def test_events_are_logged_as_plain_data(capture: Any) -> None:
    stream, _, _ = capture
    book = BookSnapshot(
        ts_event=1, ts_init=2, market=CONDITION_ID, token_id="7", bids=((1, 2),), asks=()
    )
    structlog.get_logger().info("book", event_obj=book)
    (line,) = lines(stream)
    assert line["event_obj"]["market"] == CONDITION_ID
    assert line["event_obj"]["type"] == "book_snapshot"


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("private_key", True),
        ("POLYMARKET_PRIVATE_KEY", True),
        ("privateKey", True),
        ("api_secret", True),
        ("apiKey", True),
        ("POLY_API_KEY", True),
        ("POLY_PASSPHRASE", True),
        ("POLY_SIGNATURE", True),
        ("telegram_bot_token", True),
        ("Authorization", True),
        ("x-api-key", True),
        ("discord_webhook_url", True),
        ("password", True),
        ("token_id", False),
        ("winning_token_id", False),
        ("clobTokenIds", False),
        ("signature_type", False),
        ("market", False),
        ("event", False),
        ("key", False),
    ],
)
def test_is_secret_key(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.sampled_from(SECRETS)
)
nested = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
        st.builds(
            "{1}{0}{2}".format, st.sampled_from(SECRETS), st.text(max_size=5), st.text(max_size=5)
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(payload=nested)
def test_no_secret_survives_any_nesting(payload: Any) -> None:
    redactor = Redactor(SECRETS)
    rendered = json.dumps(redactor(None, "info", {"event": "x", "payload": payload}))
    assert_clean(rendered)


def test_clock_stamper_uses_integer_time() -> None:
    stamper = ClockStamper(VirtualClock(999))
    assert stamper(None, "info", {}) == {"timestamp": "1970-01-01T00:00:00.000000Z", "ts": 999}


def test_structlog_is_restored_by_reset() -> None:
    configure_logging(stream=io.StringIO(), redactor=Redactor(), cache_loggers=False)
    reset_logging()
    assert not structlog.is_configured()
    assert not [h for h in logging.getLogger().handlers if hasattr(h, "_polyloly_handler")]
