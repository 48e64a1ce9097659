"""Small pure helpers shared by the provider parsers (times, loose ints, series formats)."""

from __future__ import annotations

from datetime import UTC, datetime

from polyloly.bot.clock import NS_PER_S

__all__ = [
    "best_of_from_format",
    "coerce_int",
    "iso_to_ns",
    "ns_to_iso",
    "series_winner",
]

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


def coerce_int(value: object) -> int | None:
    """``1``, ``"1"``, ``True`` -> 1; ``""``, ``None``, garbage -> ``None``."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def best_of_from_format(fmt: str) -> int | None:
    """``"best-of-3"`` (GRID) / ``"bo3"`` -> 3."""
    digits = "".join(ch for ch in fmt if ch.isdigit())
    return int(digits) if digits else None


def series_winner(score_a: int, score_b: int, best_of: int | None) -> str | None:
    """Return the side that has won a best-of series at this score, if any."""
    if best_of is None or best_of < 1:
        return None
    need = best_of // 2 + 1
    if score_a >= need:
        return "a"
    if score_b >= need:
        return "b"
    return None
