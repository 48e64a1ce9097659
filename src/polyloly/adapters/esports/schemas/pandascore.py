"""PandaScore payloads: REST match objects and live WebSocket frames.

References
----------
``docs/reference/esports.md`` §2; ansg191/pandascore ``tests/fixtures/match_get.json``;
PandaScore docs ``websockets-overview`` (``{"type":"hello","payload":{}}``),
``data-sample-league-of-legends`` (frame ids of game/match/tournament, ``current_timestamp``,
``paused``, ``finished``, ``winner_id``, ``blue``/``red`` team objects) and
``data-sample-dota-2`` (``radiant``/``dire``, ``score`` = kills).
"""

from __future__ import annotations

import msgspec

__all__ = [
    "PsDotaSide",
    "PsFrame",
    "PsGame",
    "PsIdRef",
    "PsLive",
    "PsLolSide",
    "PsMatch",
    "PsMessageType",
    "PsOpponent",
    "PsResult",
    "PsTeam",
    "PsVideogame",
    "PsWinnerRef",
]


class PsTeam(msgspec.Struct, frozen=True, kw_only=True):
    """``opponents[].opponent`` (a team)."""

    id: int
    name: str = ""
    acronym: str | None = None
    slug: str | None = None


class PsOpponent(msgspec.Struct, frozen=True, kw_only=True):
    """``opponents[]``."""

    opponent: PsTeam
    type: str = "Team"


class PsResult(msgspec.Struct, frozen=True, kw_only=True):
    """``results[]``: games won by a team in the series."""

    team_id: int | None = None
    score: int = 0


class PsWinnerRef(msgspec.Struct, frozen=True, kw_only=True):
    """``games[].winner``."""

    id: int | None = None
    type: str | None = None


class PsGame(msgspec.Struct, frozen=True, kw_only=True):
    """``games[]``; ``status`` ∈ not_started, running, finished, not_played."""

    id: int
    position: int
    status: str
    finished: bool = False
    forfeit: bool = False
    winner: PsWinnerRef | None = None
    begin_at: str | None = None
    end_at: str | None = None
    length: int | None = None


class PsLive(msgspec.Struct, frozen=True, kw_only=True):
    """``live``: whether the match has a live socket, and its URL."""

    supported: bool = False
    url: str | None = None
    opens_at: str | None = None


class PsVideogame(msgspec.Struct, frozen=True, kw_only=True):
    """``videogame``."""

    id: int
    name: str = ""
    slug: str = ""


class PsMatch(msgspec.Struct, frozen=True, kw_only=True):
    """A match object; ``status`` ∈ not_started, running, finished, canceled, postponed."""

    id: int
    status: str
    name: str = ""
    match_type: str = "best_of"
    number_of_games: int = 1
    begin_at: str | None = None
    scheduled_at: str | None = None
    end_at: str | None = None
    modified_at: str | None = None
    winner_id: int | None = None
    forfeit: bool = False
    draw: bool = False
    results: list[PsResult] = msgspec.field(default_factory=list)
    opponents: list[PsOpponent] = msgspec.field(default_factory=list)
    games: list[PsGame] = msgspec.field(default_factory=list)
    live: PsLive | None = None
    videogame: PsVideogame | None = None


class PsIdRef(msgspec.Struct, frozen=True, kw_only=True):
    """``{"id": n}`` references inside a frame."""

    id: int


class PsLolSide(msgspec.Struct, frozen=True, kw_only=True):
    """LoL frame ``blue``/``red``; ``score`` = games won in the series."""

    id: int
    name: str = ""
    acronym: str | None = None
    kills: int = 0
    towers: int = 0
    drakes: int = 0
    nashors: int = 0
    herald: int = 0
    inhibitors: int = 0
    voidgrubs: int = 0
    gold: int = 0
    score: int = 0


class PsDotaSide(msgspec.Struct, frozen=True, kw_only=True):
    """Dota 2 frame ``radiant``/``dire``; ``score`` = kills."""

    id: int
    name: str = ""
    acronym: str | None = None
    score: int = 0


class PsMessageType(msgspec.Struct, frozen=True, kw_only=True):
    """Peek at ``type`` (``hello`` and control messages carry one; frames may not)."""

    type: str | None = None


class PsFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One live frame (LoL or Dota 2)."""

    game: PsIdRef
    match: PsIdRef
    tournament: PsIdRef | None = None
    current_timestamp: int = 0
    paused: bool = False
    finished: bool = False
    winner_id: int | None = None
    blue: PsLolSide | None = None
    red: PsLolSide | None = None
    radiant: PsDotaSide | None = None
    dire: PsDotaSide | None = None
