"""GRID payloads: Series State GraphQL responses and Series Events envelopes.

Every field has a default: GRID sends only what the query (or event) carries.

References
----------
``docs/reference/esports.md`` §3; grid-esports/open-access-toolkit ``series-state-exporter.py``
(``seriesState { id format started finished valid updatedAt teams {...} games {...} }``); the
Series Events envelope (``sequenceNumber``, ``events[].type`` = ``actor-action-target``,
``actor``/``target``, ``seriesState``).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "GridActor",
    "GridBaseInfo",
    "GridCentralData",
    "GridCentralResponse",
    "GridClock",
    "GridEnvelope",
    "GridEvent",
    "GridGameState",
    "GridGameTeam",
    "GridNamed",
    "GridSeriesConnection",
    "GridSeriesEdge",
    "GridSeriesNode",
    "GridSeriesState",
    "GridSeriesTeam",
    "GridStateData",
    "GridStateResponse",
    "GridTeamState",
]


class GridTeamState(msgspec.Struct, frozen=True, kw_only=True):
    """``seriesState.teams[]``: ``score`` = games won, ``won`` = won the series."""

    id: str = ""
    name: str = ""
    score: int = 0
    won: bool = False
    kills: int = 0


class GridClock(msgspec.Struct, frozen=True, kw_only=True):
    """``games[].clock``."""

    currentSeconds: int = 0  # noqa: N815 - GRID's field name
    ticking: bool = False


class GridGameTeam(msgspec.Struct, frozen=True, kw_only=True):
    """``games[].teams[]``."""

    id: str = ""
    name: str = ""
    side: str = ""
    won: bool = False
    score: int = 0
    kills: int = 0


class GridStructure(msgspec.Struct, frozen=True, kw_only=True):
    """``games[].structures[]`` (towers, inhibitors, barracks...)."""

    type: str = ""
    side: str = ""
    teamId: str = ""  # noqa: N815 - GRID's field name
    destroyed: bool = False


class GridGameState(msgspec.Struct, frozen=True, kw_only=True):
    """``seriesState.games[]``."""

    id: str = ""
    sequenceNumber: int = 0  # noqa: N815 - GRID's field name
    started: bool = False
    finished: bool = False
    paused: bool = False
    clock: GridClock | None = None
    teams: list[GridGameTeam] = msgspec.field(default_factory=list)
    structures: list[GridStructure] = msgspec.field(default_factory=list)


class GridSeriesState(msgspec.Struct, frozen=True, kw_only=True):
    """``seriesState``; ``format`` like ``"best-of-3"``."""

    id: str = ""
    format: str = ""
    started: bool = False
    finished: bool = False
    valid: bool = True
    updatedAt: str | None = None  # noqa: N815 - GRID's field name
    teams: list[GridTeamState] = msgspec.field(default_factory=list)
    games: list[GridGameState] = msgspec.field(default_factory=list)


class GridStateData(msgspec.Struct, frozen=True, kw_only=True):
    """GraphQL ``data``."""

    seriesState: GridSeriesState | None = None  # noqa: N815 - GraphQL field name


class GridStateResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A GraphQL response (``errors`` set on failure)."""

    data: GridStateData | None = None
    errors: list[Any] | None = None


class GridActor(msgspec.Struct, frozen=True, kw_only=True):
    """``actor`` / ``target`` of an event (``type`` team/player/series/game/feed...)."""

    type: str = ""
    id: str | int = ""


class GridEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event inside an envelope; ``type`` = ``actor-action-target``."""

    type: str
    id: str = ""
    action: str = ""
    actor: GridActor | None = None
    target: GridActor | None = None
    includesFullState: bool = False  # noqa: N815 - GRID's field name
    seriesState: GridSeriesState | None = None  # noqa: N815 - GRID's field name


class GridEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """One Series Events message."""

    sequenceNumber: int  # noqa: N815 - GRID's field name
    events: list[GridEvent] = msgspec.field(default_factory=list)
    id: str = ""
    occurredAt: str | None = None  # noqa: N815 - GRID's field name
    publishedAt: str | None = None  # noqa: N815 - GRID's field name
    seriesId: int | str = ""  # noqa: N815 - GRID's field name
    sessionSequenceNumber: int = 0  # noqa: N815 - GRID's field name


# -- Central Data: the series listing (allSeries), used to find a market's series ------------------


class GridBaseInfo(msgspec.Struct, frozen=True, kw_only=True):
    """``allSeries ... teams[].baseInfo``."""

    id: str = ""
    name: str = ""


class GridSeriesTeam(msgspec.Struct, frozen=True, kw_only=True):
    """``allSeries ... teams[]``."""

    baseInfo: GridBaseInfo | None = None  # noqa: N815 - GRID's field name


class GridNamed(msgspec.Struct, frozen=True, kw_only=True):
    """``title`` / ``format`` / ``tournament``: ``{name, nameShortened}``."""

    name: str = ""
    nameShortened: str = ""  # noqa: N815 - GRID's field name


class GridSeriesNode(msgspec.Struct, frozen=True, kw_only=True):
    """One series of the Central Data listing."""

    id: str = ""
    startTimeScheduled: str | None = None  # noqa: N815 - GRID's field name
    title: GridNamed | None = None
    format: GridNamed | None = None
    tournament: GridNamed | None = None
    teams: list[GridSeriesTeam] = msgspec.field(default_factory=list)


class GridSeriesEdge(msgspec.Struct, frozen=True, kw_only=True):
    """``allSeries.edges[]``."""

    node: GridSeriesNode | None = None


class GridSeriesConnection(msgspec.Struct, frozen=True, kw_only=True):
    """``allSeries``."""

    totalCount: int = 0  # noqa: N815 - GRID's field name
    edges: list[GridSeriesEdge] = msgspec.field(default_factory=list)


class GridCentralData(msgspec.Struct, frozen=True, kw_only=True):
    """``data`` of a Central Data answer."""

    allSeries: GridSeriesConnection | None = None  # noqa: N815 - GRID's field name


class GridCentralResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``{"data": {"allSeries": ...}, "errors": [...]}``."""

    data: GridCentralData | None = None
    errors: list[dict[str, Any]] = msgspec.field(default_factory=list)
