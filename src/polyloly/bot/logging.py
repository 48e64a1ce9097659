"""Structured JSON logs, stamped by the injected clock, with secrets masked everywhere.

:func:`configure_logging` sets up structlog (and routes the standard ``logging`` module —
httpx, websockets, asyncio — through the same chain) so that every line is one JSON object
with ``timestamp`` (ISO-8601 UTC) and ``ts`` (int ns) taken from the kernel's clock, not the
wall clock: a replay logs virtual time.

This module is the only place logging is configured. Every module logs through
``_log = structlog.get_logger(__name__)``; the configured logger factory keeps that name and
each line carries it as ``logger``. Loggers are not cached on first use (logging is off the
hot path), so a module-level logger follows every (re)configuration.

The :class:`Redactor` runs last before rendering, after exceptions have been formatted to
text, so it sees everything that will be written. It masks:

* known secret values (private key, API secret, passphrase, tokens, URLs with passwords),
  registered from the settings at start-up and by adapters when they derive credentials;
* the value of any key named like a secret (``*private_key*``, ``*secret*``,
  ``*passphrase*``, ``*token*`` but not ``token_id``, ``authorization``, ``POLY_SIGNATURE``…);
* hex strings shaped like a 32-byte private key, except under keys that hold public
  32-byte ids (condition ids, order and transaction hashes);
* passwords in URLs, credentials in query strings, and ``Bearer``/``Apikey`` headers in text.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, TextIO

import msgspec
import structlog
from structlog.typing import EventDict, Processor

from polyloly.runtime.clock import Clock, LiveClock

__all__ = [
    "CHATTY_LOGGERS",
    "REDACTED",
    "ClockStamper",
    "Redactor",
    "configure_logging",
    "default_redactor",
    "is_secret_key",
    "redact",
    "redact_text",
    "register_secret",
    "reset_logging",
]

REDACTED = "[redacted]"
CHATTY_LOGGERS = frozenset({"httpx", "httpcore", "hpack", "h11", "h2", "urllib3"})
"""Libraries whose INFO lines are per-request chatter: logged at DEBUG instead."""
_MIN_SECRET_LEN = 6  # shorter values would mask common words and numbers
_MAX_DEPTH = 16

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SECRET_WORDS = (
    "private_key",
    "privatekey",
    "secret",
    "secrets",
    "passphrase",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "mnemonic",
    "credentials",
    "signature",
    "token",
    "webhook",
    "rpc_url",  # node provider URLs carry an API key in the path
)
# keys that contain a secret word but hold public data
_NOT_SECRET = ("token_id", "token_ids", "tokenid", "signature_type", "signature_types")
# keys whose values are public 32-byte hex ids, not keys
_PUBLIC_HEX_KEYS = frozenset(
    {
        "market",
        "market_id",
        "condition_id",
        "conditionid",
        "question_id",
        "order_id",
        "orderid",
        "taker_order_id",
        "hash",
        "order_hash",
        "book_hash",
        "transaction_hash",
        "transactions_hashes",
        "tx_hash",
        "trade_id",
        "trade_ids",
        "id",
        "asset_id",
        "intent_id",
        "target_intent_id",
        "match_id",
        "event_id",
    }
)
_HEX_KEY = re.compile(r"(?<![0-9A-Fa-f])(?:0x)?[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&](?:api_?key|key|token|access_token|secret|password|signature|sig)=)[^&\s#\"']+",
    re.IGNORECASE,
)
_AUTH_HEADER = re.compile(r"(?P<head>\b(?:Bearer|Apikey|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{6,}")


def _normalize_key(key: str) -> str:
    return _CAMEL.sub("_", key).lower().replace("-", "_").replace(".", "_").replace(" ", "_")


@functools.lru_cache(maxsize=4096)
def _public_hex_key(key: str) -> bool:
    return _normalize_key(key) in _PUBLIC_HEX_KEYS


@functools.lru_cache(maxsize=4096)  # log keys are a small, fixed vocabulary
def is_secret_key(key: str) -> bool:
    """Return whether a field named ``key`` holds a secret (``POLY_API_KEY``, ``botToken``)."""
    norm = f"_{_normalize_key(key)}_"
    for public in _NOT_SECRET:
        norm = norm.replace(f"_{public}_", "__")
    return any(f"_{word}_" in norm for word in _SECRET_WORDS)


class Redactor:
    """Masks secrets in log event dicts; also a structlog processor.

    Parameters
    ----------
    secrets
        Secret values to mask wherever they appear (as whole values or inside text).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.register(secret)

    def register(self, secret: str) -> None:
        """Mask ``secret`` (and its ``0x``-less form) from now on."""
        secret = secret.strip()
        variants = {secret, secret.removeprefix("0x").removeprefix("0X")}
        added = {v for v in variants if len(v) >= _MIN_SECRET_LEN} - self._secrets
        if not added:
            return
        self._secrets |= added
        ordered = sorted(self._secrets, key=len, reverse=True)  # longest first
        self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)

    def clear(self) -> None:
        """Forget every registered secret."""
        self._secrets.clear()
        self._pattern = None

    def redact_text(self, text: str, *, shapes: bool = True) -> str:
        """Mask registered secrets, credentials in URLs and headers, and key-shaped hex."""
        # cheap guards first: most log strings are short words with nothing to mask
        if self._pattern is not None and len(text) >= _MIN_SECRET_LEN:
            text = self._pattern.sub(REDACTED, text)
        if "://" in text:
            text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}", text)
        if "=" in text:
            text = _QUERY_SECRET.sub(rf"\g<head>{REDACTED}", text)
        if len(text) > 12:  # "Basic " plus six characters is the shortest header match
            text = _AUTH_HEADER.sub(rf"\g<head>{REDACTED}", text)
        if shapes and len(text) >= 64:  # 32 bytes of hex
            text = _HEX_KEY.sub(REDACTED, text)
        return text

    def redact(self, value: Any, key: str = "", depth: int = 0) -> Any:
        """Return ``value`` with every secret inside it masked (containers are copied)."""
        if (key and is_secret_key(key)) or depth > _MAX_DEPTH:
            return value if value is None or isinstance(value, bool) else REDACTED
        if isinstance(value, str):
            return self.redact_text(value, shapes=not _public_hex_key(key))
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {str(k): self.redact(v, str(k), depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(item, key, depth + 1) for item in value]
        return self.redact(_to_plain(value), key, depth + 1)

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Structlog processor: redact the whole event dict."""
        return {str(k): self.redact(v, str(k)) for k, v in event_dict.items()}


_PLAIN: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    (BaseException, lambda exc: f"{type(exc).__name__}: {exc}"),
    ((bytes, bytearray), lambda raw: bytes(raw).decode("utf-8", "replace")),
    (Enum, lambda member: member.value),
    ((Decimal, PurePath), str),
    ((dt.datetime, dt.date), lambda moment: moment.isoformat()),
    (msgspec.Struct, msgspec.to_builtins),
)


def _to_plain(value: Any) -> Any:
    """Turn an arbitrary object into text or plain data before it is redacted."""
    for types, convert in _PLAIN:
        if isinstance(value, types):
            return convert(value)
    dump = getattr(value, "model_dump", None)  # pydantic models: SecretStr dumps masked
    if callable(dump):
        return dump(mode="json")
    return repr(value)


_DEFAULT = Redactor()


def default_redactor() -> Redactor:
    """The process-wide redactor used by :func:`configure_logging`."""
    return _DEFAULT


def register_secret(secret: str) -> None:
    """Mask ``secret`` in every log line from now on (e.g. derived API credentials)."""
    _DEFAULT.register(secret)


def redact(value: Any) -> Any:
    """Redact any value with the process-wide redactor."""
    return _DEFAULT.redact(value)


def redact_text(text: str) -> str:
    """Redact free text (an error message, an alert) with the process-wide redactor."""
    return _DEFAULT.redact_text(text)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ClockStamper:
    """Structlog processor adding ``timestamp`` (ISO-8601 UTC) and ``ts`` (ns) from a clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Stamp the event with the clock's current time."""
        ts = self.clock.now_ns()
        moment = _EPOCH + dt.timedelta(microseconds=ts // 1_000)  # integer math, no float
        event_dict["timestamp"] = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
        event_dict["ts"] = ts
        return event_dict


def _json_default(value: Any) -> Any:
    return str(value)


def _dumps(event_dict: Any, **_: Any) -> str:
    return json.dumps(event_dict, default=_json_default, ensure_ascii=False)


_HANDLER_MARK = "_polyloly_handler"


def configure_logging(
    *,
    level: str = "INFO",
    fmt: str = "json",
    clock: Clock | None = None,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    redactor: Redactor | None = None,
    cache_loggers: bool = False,
) -> Redactor:
    """Configure structlog and the standard ``logging`` root for the whole process.

    Parameters
    ----------
    level
        Minimum level name (``DEBUG`` … ``CRITICAL``), usually ``settings.bot.log_level``.
    fmt
        ``"json"`` (one object per line) or ``"console"`` (human-readable, still redacted).
    clock
        Where timestamps come from (the kernel's clock; a ``VirtualClock`` in replay).
    secrets
        Values to mask, usually ``settings.secret_values()``.
    stream
        Where lines go (default ``sys.stderr``).
    redactor
        The redactor to use (default the process-wide one, see :func:`register_secret`).
    cache_loggers
        Let structlog cache loggers on first use (then a later reconfiguration does not
        reach a logger already used; off by default).

    Returns
    -------
    Redactor
        The redactor in the chain; register more secrets on it at any time.
    """
    levelno = logging.getLevelNamesMapping().get(level.upper())
    if levelno is None:
        raise ValueError(f"unknown log level {level!r}")
    redactor = _DEFAULT if redactor is None else redactor
    for secret in secrets:
        redactor.register(secret)
    if fmt not in ("json", "console"):
        raise ValueError(f"unknown log format {fmt!r}")
    out: Any = _CurrentStderr() if stream is None else stream
    stamper = ClockStamper(LiveClock() if clock is None else clock)
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer(serializer=_dumps)
    )
    # exceptions become text *before* the redactor, so tracebacks are masked too
    tail: list[Processor] = [
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_logger_name,
            structlog.processors.add_log_level,
            stamper,
            *tail,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(levelno),
        logger_factory=_NamedWriteLoggerFactory(out),
        cache_logger_on_first_use=cache_loggers,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.processors.add_log_level,
            structlog.stdlib.add_logger_name,
            stamper,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            redactor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.addFilter(_DemoteChatter(levelno))
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    _remove_handlers(root)
    root.addHandler(handler)
    root.setLevel(levelno)
    return redactor


class _DemoteChatter(logging.Filter):
    """HTTP client libraries log every request at INFO ("HTTP Request: GET …"): make those
    DEBUG, so that ``--log-level INFO`` shows the bot, not one line per poll."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.name.partition(".")[0] in CHATTY_LOGGERS:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.threshold


def _remove_handlers(root: logging.Logger) -> None:
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is *now*, not the one seen at configuration time
    (a caller that swaps or closes its stderr — a test runner, a daemoniser — must not leave
    every later log line writing into a closed file)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def reset_logging() -> None:
    """Undo :func:`configure_logging` (structlog defaults, our root handler removed)."""
    structlog.reset_defaults()
    _remove_handlers(logging.getLogger())


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's ``WriteLogger`` that remembers the name it was made for."""

    def __init__(self, file: Any, name: str | None) -> None:
        super().__init__(file)
        self.name = name


class _NamedWriteLoggerFactory:
    """Makes the logger behind ``structlog.get_logger(__name__)``, keeping ``__name__``."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(self._file, str(args[0]) if args else None)


def _add_logger_name(logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """``logger=<module name>`` on every line of a named logger (a bound ``logger`` wins)."""
    name = getattr(logger, "name", None)
    if name and "logger" not in event_dict:
        event_dict["logger"] = name
    return event_dict
