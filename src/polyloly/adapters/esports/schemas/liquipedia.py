"""Liquipedia LPDB v3 ``/match`` records.

LPDB mixes types inside one record (``winner`` is a string index ``"1"``, ``finished`` and
``bestof`` are ints, game ``winner`` a string, ``scores`` ints), so the fields that vary are
declared as unions and coerced in :mod:`polyloly.adapters.esports.liquipedia`.

References
----------
``docs/reference/esports.md`` §4; ElectricalBoy/LPDB_python ``tests/data/sample_match_data.json``;
ktatu/lpdb-api ``types.ts`` (``{"result": [...], "error": [...], "warning": [...]}``).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["LpExtra", "LpGame", "LpMatch", "LpOpponent", "LpResponse", "LpTeamTemplate"]

Loose = int | str | None
"""A field LPDB sends as an int in one record and a string in another."""


class LpTeamTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """``match2opponents[].teamtemplate``."""

    name: str = ""
    shortname: str = ""
    page: str = ""


class LpOpponent(msgspec.Struct, frozen=True, kw_only=True):
    """``match2opponents[]`` (1-based ``id`` = position used by ``winner``)."""

    id: Loose = None
    type: str = ""
    name: str = ""
    template: str | None = None
    score: Loose = None
    status: str | None = None
    placement: Loose = None
    teamtemplate: LpTeamTemplate | None = None


class LpGame(msgspec.Struct, frozen=True, kw_only=True):
    """``match2games[]``."""

    match2gameid: Loose = None
    winner: Loose = None
    scores: list[Loose] = msgspec.field(default_factory=list)
    status: str | None = None
    walkover: Loose = None
    resulttype: str | None = None
    length: str | None = None
    date: str | None = None


class LpExtra(msgspec.Struct, frozen=True, kw_only=True):
    """``extradata`` (unix ``timestamp`` of the scheduled start)."""

    timestamp: Loose = None


class LpMatch(msgspec.Struct, frozen=True, kw_only=True):
    """One LPDB match record."""

    match2id: str
    wiki: str = ""
    game: str = ""
    date: str = ""
    dateexact: Loose = None
    bestof: Loose = None
    finished: Loose | bool = None
    winner: Loose = None
    status: str | None = None
    walkover: Loose = None
    resulttype: str | None = None
    match2opponents: list[LpOpponent] = msgspec.field(default_factory=list)
    match2games: list[LpGame] = msgspec.field(default_factory=list)
    extradata: LpExtra | None = None


class LpResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/v3/match`` response."""

    result: list[LpMatch] = msgspec.field(default_factory=list)
    error: list[Any] = msgspec.field(default_factory=list)
    warning: list[Any] = msgspec.field(default_factory=list)
