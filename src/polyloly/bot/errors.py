"""Errors named by what the caller should do next.

Vendor and library errors are translated into these at the boundary (``raise X from e``),
so callers branch on the class, never on message text.
"""

from __future__ import annotations

__all__ = [
    "BackOffError",
    "ConfigError",
    "HaltError",
    "PolylolyError",
    "RejectError",
    "RetryableError",
    "UnknownOutcomeError",
]


class PolylolyError(Exception):
    """Base of every polyloly error."""


class RetryableError(PolylolyError):
    """A transient failure (timeout, 5xx, dropped connection): retry with backoff."""


class BackOffError(RetryableError):
    """The venue is throttling (429) or in a cancel-only window (503): wait longer, then retry.

    ``retry_after_s`` is the venue's hint when it gave one.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownOutcomeError(RetryableError):
    """A request may or may not have taken effect (reply lost): look it up before retrying."""


class RejectError(PolylolyError):
    """The request is invalid as sent (bad price, no balance, duplicate): do not retry it."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class HaltError(PolylolyError):
    """Something is wrong enough that trading must stop (auth lost, state irreconcilable)."""


class ConfigError(PolylolyError):
    """Configuration is invalid; start-up stops with a message naming the key."""
