"""Time formats: ISO-8601 / RFC 3339 text <-> integer nanoseconds since the epoch (UTC).

Shared by the esports adapters, the local feeds and anything else that reads or writes a
wire timestamp; the clock itself is :mod:`polyloly.runtime.clock`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from polyloly.runtime.clock import NS_PER_S

__all__ = ["iso_to_ns", "ns_to_iso"]

_NS_PER_US = 1_000


def iso_to_ns(text: str | None) -> int | None:
    """Parse an ISO-8601 / RFC 3339 timestamp (``Z`` or offset; naive = UTC) into ns."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * _NS_PER_US


def ns_to_iso(ts_ns: int, millis: bool = False) -> str:
    """Format ns since the epoch as ``YYYY-MM-DDTHH:MM:SSZ`` (``.mmmZ`` with ``millis``)."""
    dt = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        return f"{base}.{(ts_ns % NS_PER_S) // 1_000_000:03d}Z"
    return f"{base}Z"
