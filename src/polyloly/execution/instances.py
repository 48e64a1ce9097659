"""Several instances on one account: each order names the instance that signed it.

An instance id is configured (``instances.id``), short and stable across restarts. Every
order an instance signs carries it in the V2 order struct's ``metadata`` bytes32 (signed,
so part of the order hash): ``b"polyloly:"`` followed by the id in ASCII, zero-padded to 32
bytes. It is readable on the exchange's records, and :func:`instance_of` turns it back into
the id.

Reconciliation decides whose an order is with :func:`owner_of`: an order the ledger knows
is its own (this process logged it before sending it); an unknown order is adopted only if
the venue reports this instance's tag; one with another tag, or none at all while instance
ids are configured, belongs to another instance — reported (count, metric), never adopted,
never canceled. A venue that does not echo ``metadata`` therefore costs only the adoption
of an own order whose log was lost; it never makes a foreign order ours.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

__all__ = [
    "INSTANCE_ID_RE",
    "NO_METADATA",
    "Owner",
    "instance_metadata",
    "instance_of",
    "owner_of",
    "validate_instance_id",
]

_PREFIX: Final = b"polyloly:"
_MAX_LEN: Final = 32 - len(_PREFIX)
INSTANCE_ID_RE: Final = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{_MAX_LEN - 1}}}$")
"""Lower-case letters, digits, ``-`` and ``_``; at most 23 characters (the bytes32 room)."""
NO_METADATA: Final = "0x" + "00" * 32


class Owner(StrEnum):
    """Whose an order seen at the venue is."""

    OWN = "own"
    FOREIGN = "foreign"


def validate_instance_id(instance_id: str) -> str:
    """Return ``instance_id`` if valid, else raise ``ValueError`` naming the rule."""
    if not INSTANCE_ID_RE.match(instance_id):
        raise ValueError(
            f"instance id {instance_id!r}: 1-{_MAX_LEN} characters of a-z, 0-9, '-' and '_', "
            "starting with a letter or digit"
        )
    return instance_id


def instance_metadata(instance_id: str) -> str:
    """The ``metadata`` bytes32 (``0x`` + 64 hex) an instance signs every order with."""
    raw = _PREFIX + validate_instance_id(instance_id).encode("ascii")
    return "0x" + raw.ljust(32, b"\x00").hex()


def instance_of(metadata: str) -> str | None:
    """The instance id a ``metadata`` bytes32 names, or ``None`` (zero, absent, not ours)."""
    try:
        raw = bytes.fromhex(metadata.removeprefix("0x"))
    except ValueError:
        return None
    if len(raw) != 32 or not raw.startswith(_PREFIX):
        return None
    name = raw[len(_PREFIX) :].rstrip(b"\x00")
    try:
        text = name.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if INSTANCE_ID_RE.match(text) else None


def owner_of(metadata: str, instance_id: str) -> Owner:
    """Whose an order the ledger does not know is, by the tag the venue reports."""
    return Owner.OWN if instance_of(metadata) == instance_id else Owner.FOREIGN
