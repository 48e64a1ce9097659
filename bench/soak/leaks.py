"""Secrets in files: every file a soak run leaves is searched for the bot's secrets.

The bot must never write its private key, API secret or passphrase (nor the control token)
to a log, the event log or its database. :func:`scan_for_secrets` reads each file in
chunks (overlapping by the longest secret, so one split across two chunks is still found)
and looks for every secret case-insensitively (hex keys are as secret in capitals), with
and without a ``0x`` prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Leak", "scan_for_secrets"]

_CHUNK = 1 << 20
_MIN_SECRET = 8  # shorter values would match by chance; none of the bot's secrets is


@dataclass(frozen=True, slots=True)
class Leak:
    """One secret found in one file (never the secret itself: its name)."""

    path: Path
    secret: str


def _needle(value: str) -> bytes:
    return value.removeprefix("0x").removeprefix("0X").encode()


def scan_for_secrets(files: Iterable[Path], secrets: Mapping[str, str]) -> list[Leak]:
    """Every (file, secret name) pair where the secret's value occurs in the file.

    Raises
    ------
    ValueError
        If a secret is shorter than 8 characters (a scan for it would prove nothing).
    """
    needles: dict[str, bytes] = {}
    for name, value in secrets.items():
        needle = _needle(value)
        if len(needle) < _MIN_SECRET:
            raise ValueError(f"secret {name!r} is too short to scan for")
        needles[name] = needle
    if not needles:
        return []
    pattern = re.compile(
        b"|".join(b"(?P<s%d>%s)" % (i, re.escape(n)) for i, n in enumerate(needles.values())),
        re.IGNORECASE,
    )
    names = list(needles)
    overlap = max(len(n) for n in needles.values()) - 1
    leaks: list[Leak] = []
    for path in sorted(files):
        found: set[str] = set()
        tail = b""
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                data = tail + chunk
                for match in pattern.finditer(data):
                    found.add(names[int(str(match.lastgroup)[1:])])
                tail = data[-overlap:] if overlap else b""
        leaks += [Leak(path, name) for name in sorted(found)]
    return leaks
