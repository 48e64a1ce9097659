"""Small pure helpers shared by the provider parsers (loose ints, series formats).

Timestamps are parsed and formatted by :mod:`polyloly.runtime.timefmt`.
"""

from __future__ import annotations

__all__ = [
    "best_of_from_format",
    "coerce_int",
    "series_winner",
]


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
