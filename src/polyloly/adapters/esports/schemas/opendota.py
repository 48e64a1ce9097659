"""OpenDota payloads: ``GET /live`` items and ``GET /matches/{match_id}``.

References
----------
``docs/reference/esports.md`` §1; odota/core ``json/toplivegames_api.json`` (``/live`` item
shape: ``team_name_radiant``, string ``match_id``/``lobby_id``/``server_steam_id``,
``last_update_time`` unix s) and ``svc/api/responses/MatchResponse.ts`` (``radiant_win``,
``series_id``, ``series_type`` 0 = Bo1, 1 = Bo3, 2 = Bo5).
"""

from __future__ import annotations

import msgspec

__all__ = ["LiveGame", "MatchTeam", "OdMatch", "TopLiveGames"]


class LiveGame(msgspec.Struct, frozen=True, kw_only=True):
    """One game of ``/live`` (OpenDota stores Steam's GetTopLiveGame items as they are)."""

    match_id: str
    last_update_time: int
    lobby_id: str = ""
    server_steam_id: str = ""
    activate_time: int = 0
    deactivate_time: int = 0
    league_id: int = 0
    series_id: int = 0
    game_time: int = 0
    delay: int = 0
    team_name_radiant: str = ""
    team_name_dire: str = ""
    team_id_radiant: int = 0
    team_id_dire: int = 0
    radiant_score: int = 0
    dire_score: int = 0
    radiant_lead: int = 0
    building_state: int = 0


class TopLiveGames(msgspec.Struct, frozen=True, kw_only=True):
    """Steam's ``GetTopLiveGame`` envelope (the recorded fixture's shape)."""

    game_list: list[LiveGame] = msgspec.field(default_factory=list)


class MatchTeam(msgspec.Struct, frozen=True, kw_only=True):
    """``radiant_team`` / ``dire_team`` objects."""

    team_id: int | None = None
    name: str | None = None
    tag: str | None = None


class OdMatch(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /matches/{match_id}`` (only the fields polyloly reads)."""

    match_id: int
    radiant_win: bool | None = None
    duration: int = 0
    start_time: int = 0
    leagueid: int = 0
    series_id: int | None = None
    series_type: int | None = None
    radiant_team_id: int | None = None
    dire_team_id: int | None = None
    radiant_name: str | None = None
    dire_name: str | None = None
    radiant_team: MatchTeam | None = None
    dire_team: MatchTeam | None = None
    radiant_score: int = 0
    dire_score: int = 0
