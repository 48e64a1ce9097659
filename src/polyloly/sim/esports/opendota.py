"""Local OpenDota: ``GET /opendota/api/live`` and ``GET /opendota/api/matches/{match_id}``.

Shaped like the real API (reference §1): ``/live`` is a list of Steam GetTopLiveGame items
with string ``match_id``/``lobby_id``/``server_steam_id``, ``team_name_radiant`` /
``team_name_dire``, ``radiant_score``/``dire_score`` (kills) and a ``last_update_time`` that
moves in 60-s steps (OpenDota's worker cadence) and freezes when the game ends — the game
stays in the list, as OpenDota keeps it for hours. Two anonymous pub games keep the list
moving, like the real one. ``/matches/{id}`` answers 404 until ``ingest_delay_s`` after the
game ended, then the match with ``radiant_win``, ``series_id``, ``series_type``.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from polyloly.runtime.clock import NS_PER_S
from polyloly.sim.esports.common import FeedContext, json_response
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.scenarios.model import GameState, ProviderSpec

__all__ = ["add_routes", "game_match_id"]

PROVIDER: Final = "opendota"
_REFRESH_MS: Final = 60_000
_SERIES_TYPE: Final = {1: 0, 3: 1, 5: 2}
_LEAGUE_ID: Final = 15728


def game_match_id(spec: ProviderSpec, number: int) -> str:
    """OpenDota match id of game ``number`` of the series ``spec.match_id``."""
    return str(int(spec.match_id) * 10 + number)


def _sides(runtime: ScenarioRuntime, number: int) -> tuple[str, str]:
    return ("a", "b") if runtime.scenario.side_a_first(number) else ("b", "a")


def _refreshed_ms(start_ms: int, t_ms: int) -> int:
    return start_ms + (max(0, t_ms - start_ms) // _REFRESH_MS) * _REFRESH_MS


def _live_item(
    runtime: ScenarioRuntime, spec: ProviderSpec, g: GameState, t: int
) -> dict[str, Any]:
    radiant, dire = _sides(runtime, g.number)
    end = g.ended_ms if g.ended_ms is not None else t
    updated = g.ended_ms if g.ended_ms is not None else _refreshed_ms(g.started_ms, min(end, t))
    kills = {"a": g.kills_a, "b": g.kills_b}
    name = {s: spec.team_name(s, runtime.scenario.team(s).name) for s in ("a", "b")}
    match_id = game_match_id(spec, g.number)
    return {
        "activate_time": runtime.wall_s(g.started_ms),
        "deactivate_time": 0,
        "server_steam_id": str(90277900000000000 + int(match_id)),
        "lobby_id": str(29610055000000000 + int(match_id)),
        "league_id": _LEAGUE_ID,
        "lobby_type": 1,
        "game_time": g.clock_ms(t) // 1000,
        "delay": 120,
        "spectators": 12000,
        "game_mode": 2,
        "average_mmr": 0,
        "match_id": match_id,
        "series_id": int(spec.match_id),
        "team_name_radiant": name[radiant],
        "team_name_dire": name[dire],
        "team_logo_radiant": "0",
        "team_logo_dire": "0",
        "team_id_radiant": int(spec.team_id(radiant)),
        "team_id_dire": int(spec.team_id(dire)),
        "sort_score": 9000,
        "last_update_time": runtime.wall_s(updated),
        "radiant_lead": 0,
        "radiant_score": kills[radiant],
        "dire_score": kills[dire],
        "building_state": 4784201,
        "is_watch_eligible": True,
    }


def _pub_games(now_s: int) -> list[dict[str, Any]]:
    # Anonymous ranked games: empty team names, updated every minute like the real list.
    updated = now_s - now_s % 60
    return [
        {
            "activate_time": updated - 1800 - i * 300,
            "deactivate_time": 0,
            "server_steam_id": str(90277912349586453 + i),
            "lobby_id": str(29610055194542853 + i),
            "league_id": 0,
            "lobby_type": 7,
            "game_time": 1800 + i * 300,
            "delay": 120,
            "match_id": str(8591964706 + i),
            "series_id": 0,
            "team_name_radiant": "",
            "team_name_dire": "",
            "team_id_radiant": 0,
            "team_id_dire": 0,
            "last_update_time": updated,
            "radiant_score": 10 + i,
            "dire_score": 12,
        }
        for i in range(2)
    ]


def _match(runtime: ScenarioRuntime, spec: ProviderSpec, g: GameState) -> dict[str, Any]:
    radiant, dire = _sides(runtime, g.number)
    kills = {"a": g.kills_a, "b": g.kills_b}
    name = {s: spec.team_name(s, runtime.scenario.team(s).name) for s in ("a", "b")}
    ended = g.ended_ms or g.started_ms
    return {
        "match_id": int(game_match_id(spec, g.number)),
        "radiant_win": g.winner == radiant,
        "duration": (ended - g.started_ms) // 1000,
        "start_time": runtime.wall_s(g.started_ms),
        "leagueid": _LEAGUE_ID,
        "series_id": int(spec.match_id),
        "series_type": _SERIES_TYPE.get(runtime.scenario.best_of, 0),
        "radiant_team_id": int(spec.team_id(radiant)),
        "dire_team_id": int(spec.team_id(dire)),
        "radiant_name": name[radiant],
        "dire_name": name[dire],
        "radiant_score": kills[radiant],
        "dire_score": kills[dire],
        "radiant_team": {"team_id": int(spec.team_id(radiant)), "name": name[radiant]},
        "dire_team": {"team_id": int(spec.team_id(dire)), "name": name[dire]},
        "league": {"leagueid": _LEAGUE_ID, "tier": "premium", "name": "Local League"},
        "version": None,
    }


def add_routes(app: web.Application, ctx: FeedContext) -> None:
    """Mount the OpenDota routes under ``/opendota/api``."""

    def down(runtimes: list[ScenarioRuntime]) -> bool:
        return any((o := r.outage(PROVIDER)) is not None and o.mode == "error" for r in runtimes)

    async def live(request: web.Request) -> web.Response:
        ctx.requests[PROVIDER] += 1
        serving = list(ctx.serving(PROVIDER))
        if down([r for r, _ in serving]):
            return json_response({"error": "service unavailable"}, status=503)
        items: list[dict[str, Any]] = []
        frozen_at: int | None = None
        for runtime, spec in serving:
            t = runtime.t_ms()
            outage = runtime.outage(PROVIDER)
            if outage is not None:
                frozen_at = runtime.wall_s(outage.from_ms)
            state = runtime.state(PROVIDER)
            items.extend(_live_item(runtime, spec, g, min(t, state.t_ms)) for g in state.games)
        now_s = ctx.clock.now_ns() // NS_PER_S
        items.extend(_pub_games(frozen_at if frozen_at is not None else now_s))
        items.sort(key=lambda item: item["lobby_id"])
        return json_response(items)

    async def match(request: web.Request) -> web.Response:
        ctx.requests[PROVIDER] += 1
        if down([r for r, _ in ctx.serving(PROVIDER)]):
            return json_response({"error": "service unavailable"}, status=503)
        wanted = request.match_info["match_id"]
        for runtime, spec in ctx.serving(PROVIDER):
            state = runtime.state(PROVIDER)
            for g in state.games:
                if game_match_id(spec, g.number) != wanted or g.ended_ms is None:
                    continue
                if runtime.t_ms() >= g.ended_ms + spec.ingest_delay_ms:
                    return json_response(_match(runtime, spec, g))
        return json_response({"error": "Not Found"}, status=404)

    app.router.add_get("/opendota/api/live", live)
    app.router.add_get("/opendota/api/matches/{match_id}", match)
