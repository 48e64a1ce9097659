"""Riot lolesports payloads: ``getSchedule``/``getLive``, ``getEventDetails``, livestats ``window``.

References
----------
``docs/reference/esports.md`` §5; vickz84259/lolesports-api-docs ``openapi.yaml``
(``data.schedule.events[]{startTime, state, type, match{id, teams[{name, code, result{outcome,
gameWins}}], strategy{type, count}}}``, ``data.event.match.games[]{id, number, state,
teams[{id, side}]}``, window ``frames[]{rfc460Timestamp, gameState, blueTeam, redTeam}``).
"""

from __future__ import annotations

import msgspec

__all__ = [
    "LeDetailsMatch",
    "LeEvent",
    "LeEventDetailsResponse",
    "LeFrame",
    "LeGame",
    "LeGameTeam",
    "LeResult",
    "LeScheduleEvent",
    "LeScheduleResponse",
    "LeStrategy",
    "LeTeam",
    "LeTeamFrame",
    "LeWindow",
]


class LeResult(msgspec.Struct, frozen=True, kw_only=True):
    """``teams[].result``; ``outcome`` is ``win``/``loss`` once the match is over."""

    outcome: str | None = None
    gameWins: int = 0  # noqa: N815 - Riot's field name


class LeTeam(msgspec.Struct, frozen=True, kw_only=True):
    """``match.teams[]``."""

    id: str | None = None
    name: str = ""
    code: str = ""
    result: LeResult | None = None


class LeStrategy(msgspec.Struct, frozen=True, kw_only=True):
    """``match.strategy``."""

    type: str = "bestOf"
    count: int = 1


class LeScheduleMatch(msgspec.Struct, frozen=True, kw_only=True):
    """``events[].match`` in a schedule."""

    id: str
    teams: list[LeTeam] = msgspec.field(default_factory=list)
    strategy: LeStrategy | None = None


class LeScheduleEvent(msgspec.Struct, frozen=True, kw_only=True):
    """``schedule.events[]``; ``state`` ∈ unstarted, inProgress, completed."""

    startTime: str  # noqa: N815 - Riot's field name
    state: str
    type: str = "match"
    match: LeScheduleMatch | None = None


class LeSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """``data.schedule``."""

    events: list[LeScheduleEvent] = msgspec.field(default_factory=list)


class LeScheduleData(msgspec.Struct, frozen=True, kw_only=True):
    """``data``."""

    schedule: LeSchedule


class LeScheduleResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``getSchedule`` / ``getLive`` response."""

    data: LeScheduleData


class LeGameTeam(msgspec.Struct, frozen=True, kw_only=True):
    """``games[].teams[]``."""

    id: str
    side: str


class LeGame(msgspec.Struct, frozen=True, kw_only=True):
    """``games[]``; ``state`` ∈ unstarted, inProgress, completed, unneeded."""

    id: str
    number: int
    state: str
    teams: list[LeGameTeam] = msgspec.field(default_factory=list)


class LeDetailsMatch(msgspec.Struct, frozen=True, kw_only=True):
    """``event.match`` in ``getEventDetails``."""

    teams: list[LeTeam] = msgspec.field(default_factory=list)
    games: list[LeGame] = msgspec.field(default_factory=list)
    strategy: LeStrategy | None = None


class LeEvent(msgspec.Struct, frozen=True, kw_only=True):
    """``data.event``."""

    id: str
    type: str = "match"
    match: LeDetailsMatch | None = None


class LeEventDetailsData(msgspec.Struct, frozen=True, kw_only=True):
    """``data``."""

    event: LeEvent | None = None


class LeEventDetailsResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``getEventDetails`` response."""

    data: LeEventDetailsData


class LeTeamFrame(msgspec.Struct, frozen=True, kw_only=True):
    """``frames[].blueTeam`` / ``redTeam`` totals."""

    totalGold: int = 0  # noqa: N815 - Riot's field name
    inhibitors: int = 0
    towers: int = 0
    barons: int = 0
    totalKills: int = 0  # noqa: N815 - Riot's field name
    dragons: list[str] = msgspec.field(default_factory=list)


class LeFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One window frame; ``gameState`` ∈ in_game, paused, finished."""

    rfc460Timestamp: str  # noqa: N815 - Riot's field name
    gameState: str  # noqa: N815 - Riot's field name
    blueTeam: LeTeamFrame  # noqa: N815 - Riot's field name
    redTeam: LeTeamFrame  # noqa: N815 - Riot's field name


class LeTeamMeta(msgspec.Struct, frozen=True, kw_only=True):
    """``gameMetadata.blueTeamMetadata`` / ``redTeamMetadata``."""

    esportsTeamId: str  # noqa: N815 - Riot's field name


class LeGameMeta(msgspec.Struct, frozen=True, kw_only=True):
    """``gameMetadata``."""

    blueTeamMetadata: LeTeamMeta  # noqa: N815 - Riot's field name
    redTeamMetadata: LeTeamMeta  # noqa: N815 - Riot's field name


class LeWindow(msgspec.Struct, frozen=True, kw_only=True):
    """livestats ``window/{gameId}`` response."""

    esportsGameId: str  # noqa: N815 - Riot's field name
    esportsMatchId: str = ""  # noqa: N815 - Riot's field name
    gameMetadata: LeGameMeta | None = None  # noqa: N815 - Riot's field name
    frames: list[LeFrame] = msgspec.field(default_factory=list)
