"""Local Riot lolesports: ``getSchedule``, ``getLive``, ``getEventDetails`` and ``window``.

Routes (reference §5) under ``/lolesports``: ``/persisted/gw/getSchedule?hl=``,
``/persisted/gw/getLive?hl=``, ``/persisted/gw/getEventDetails?hl=&id=`` (header
``x-api-key``) and ``/livestats/v1/window/{gameId}?startingTime=`` (RFC 3339, seconds a
multiple of 10). A window holds the frames (every 2 s) of the 10 s from ``startingTime``;
past the end of a game it holds the game's last frames; before any data it is 204. The
window has no winner: the winner shows as a ``gameWins`` increase in the schedule and the
event details, and the event's ``result.outcome`` once the series is over.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from polyloly.runtime.timefmt import iso_to_ns
from polyloly.sim.esports.common import FeedContext, iso_ms, iso_z, json_response
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.scenarios.model import GameState, MatchState, ProviderSpec

__all__ = ["add_routes", "event_details", "schedule_event", "window"]

PROVIDER: Final = "lolesports"
_FRAME_STEP_MS: Final = 2_000
_WINDOW_MS: Final = 10_000
_EVENT_STATE: Final = {
    "not_started": "unstarted",
    "running": "inProgress",
    "finished": "completed",
    "canceled": "completed",
}


def _game_id(spec: ProviderSpec, number: int) -> str:
    return str(int(spec.match_id) + number)


def _team(
    runtime: ScenarioRuntime, spec: ProviderSpec, state: MatchState, side: str
) -> dict[str, Any]:
    name = spec.team_name(side, runtime.scenario.team(side).name)
    outcome = None
    if state.winner is not None:
        outcome = "win" if state.winner == side else "loss"
    return {
        "id": spec.team_id(side),
        "name": name,
        "code": name[:3].upper(),
        "image": f"https://static.lolesports.com/teams/{spec.team_id(side)}.png",
        "result": {"outcome": outcome, "gameWins": state.score_a if side == "a" else state.score_b},
        "record": None,
    }


def schedule_event(
    runtime: ScenarioRuntime, spec: ProviderSpec, state: MatchState
) -> dict[str, Any]:
    """One ``schedule.events[]`` entry."""
    return {
        "startTime": iso_z(runtime.wall_ns(runtime.scenario.scheduled_ms)),
        "state": _EVENT_STATE[state.status],
        "type": "match",
        "blockName": "Playoffs",
        "league": {"name": "Local League", "slug": "local"},
        "match": {
            "id": spec.match_id,
            "flags": [],
            "teams": [_team(runtime, spec, state, s) for s in ("a", "b")],
            "strategy": {"type": "bestOf", "count": runtime.scenario.best_of},
        },
    }


def _game_state(g: GameState | None, finished: bool) -> str:
    if g is None:
        return "unneeded" if finished else "unstarted"
    return "completed" if g.ended_ms is not None else "inProgress"


def event_details(
    runtime: ScenarioRuntime, spec: ProviderSpec, state: MatchState
) -> dict[str, Any]:
    """``getEventDetails`` ``data.event``."""
    scenario = runtime.scenario
    by_number = {g.number: g for g in state.games}
    games = []
    for number in range(1, scenario.best_of + 1):
        first = "a" if scenario.side_a_first(number) else "b"
        second = "b" if first == "a" else "a"
        games.append(
            {
                "number": number,
                "id": _game_id(spec, number),
                "state": _game_state(by_number.get(number), state.status == "finished"),
                "teams": [
                    {"id": spec.team_id(first), "side": "blue"},
                    {"id": spec.team_id(second), "side": "red"},
                ],
                "vods": [],
            }
        )
    return {
        "id": spec.match_id,
        "type": "match",
        "tournament": {"id": "local"},
        "league": {"name": "Local League", "slug": "local"},
        "match": {
            "strategy": {"count": scenario.best_of},
            "teams": [_team(runtime, spec, state, s) for s in ("a", "b")],
            "games": games,
        },
        "streams": [],
    }


def _team_frame(g: GameState, side: str, t_ms: int) -> dict[str, Any]:
    return {
        "totalGold": 2500 + g.clock_ms(t_ms) // 100,
        "inhibitors": g.objective(side, "inhibitors"),
        "towers": g.objective(side, "towers"),
        "barons": g.objective(side, "nashors"),
        "totalKills": g.kills_a if side == "a" else g.kills_b,
        "dragons": ["ocean"] * g.objective(side, "drakes"),
    }


def _frame(runtime: ScenarioRuntime, g: GameState, t_ms: int) -> dict[str, Any]:
    first = "a" if runtime.scenario.side_a_first(g.number) else "b"
    second = "b" if first == "a" else "a"
    if g.ended_ms is not None and t_ms >= g.ended_ms:
        game_state = "finished"
    elif g.paused:
        game_state = "paused"
    else:
        game_state = "in_game"
    return {
        "rfc460Timestamp": iso_ms(runtime.wall_ns(t_ms)),
        "gameState": game_state,
        "blueTeam": _team_frame(g, first, t_ms),
        "redTeam": _team_frame(g, second, t_ms),
    }


def window(
    runtime: ScenarioRuntime, spec: ProviderSpec, number: int, starting_ms: int
) -> dict[str, Any] | None:
    """The livestats window of game ``number`` from scenario time ``starting_ms``."""
    now = runtime.state(PROVIDER)
    game = next((g for g in now.games if g.number == number), None)
    if game is None:
        return None
    last = game.ended_ms if game.ended_ms is not None else now.t_ms
    start = max(starting_ms, game.started_ms)
    if start > last:
        start = max(game.started_ms, last - _WINDOW_MS + _FRAME_STEP_MS)
    times = list(range(start, min(start + _WINDOW_MS, last + 1), _FRAME_STEP_MS))
    if not times:
        return None
    frames = []
    for t in times:
        g = next(x for x in runtime.state(PROVIDER, t).games if x.number == number)
        frames.append(_frame(runtime, g, t))
    first = "a" if runtime.scenario.side_a_first(number) else "b"
    second = "b" if first == "a" else "a"
    return {
        "esportsGameId": _game_id(spec, number),
        "esportsMatchId": spec.match_id,
        "gameMetadata": {
            "patchVersion": "15.1.1",
            "blueTeamMetadata": {"esportsTeamId": spec.team_id(first), "participantMetadata": []},
            "redTeamMetadata": {"esportsTeamId": spec.team_id(second), "participantMetadata": []},
        },
        "frames": frames,
    }


class _Routes:
    def __init__(self, ctx: FeedContext) -> None:
        self.ctx = ctx

    def refused(self, request: web.Request) -> web.Response | None:
        ctx = self.ctx
        ctx.requests[PROVIDER] += 1
        if not ctx.key_ok(PROVIDER, request.headers.get("x-api-key")):
            return json_response({"message": "Forbidden"}, status=403)
        for runtime, _spec in ctx.serving(PROVIDER):
            outage = runtime.outage(PROVIDER)
            if outage is not None and outage.mode == "error":
                return json_response({"message": "unavailable"}, status=503)
        return None

    async def schedule(self, request: web.Request) -> web.Response:
        error = self.refused(request)
        if error is not None:
            return error
        live_only = request.path.endswith("getLive")
        events = []
        for runtime, spec in self.ctx.serving(PROVIDER):
            state = runtime.state(PROVIDER)
            if not live_only or state.status == "running":
                events.append(schedule_event(runtime, spec, state))
        body: dict[str, Any] = {"events": events}
        if not live_only:
            body["updated"] = iso_z(self.ctx.clock.now_ns())
            body["pages"] = {"older": None, "newer": None}
        return json_response({"data": {"schedule": body}})

    async def details(self, request: web.Request) -> web.Response:
        error = self.refused(request)
        if error is not None:
            return error
        found = self.ctx.find(PROVIDER, request.query.get("id", ""))
        if found is None:
            return json_response({"data": {"event": None}})
        runtime, spec = found
        event = event_details(runtime, spec, runtime.state(PROVIDER))
        return json_response({"data": {"event": event}})

    async def window(self, request: web.Request) -> web.Response:
        error = self.refused(request)
        if error is not None:
            return error
        game_id = request.match_info["game_id"]
        starting = iso_to_ns(request.query.get("startingTime"))
        for runtime, spec in self.ctx.serving(PROVIDER):
            number = int(game_id) - int(spec.match_id)
            if not 1 <= number <= runtime.scenario.best_of:
                continue
            start_ms = runtime.t_ms(starting) if starting is not None else runtime.t_ms()
            body = window(runtime, spec, number, start_ms)
            if body is None:
                return web.Response(status=204)
            return json_response(body)
        return json_response({"message": "not found"}, status=404)


def add_routes(app: web.Application, ctx: FeedContext) -> None:
    """Mount the lolesports routes under ``/lolesports``."""
    routes = _Routes(ctx)
    app.router.add_get("/lolesports/persisted/gw/getSchedule", routes.schedule)
    app.router.add_get("/lolesports/persisted/gw/getLive", routes.schedule)
    app.router.add_get("/lolesports/persisted/gw/getEventDetails", routes.details)
    app.router.add_get("/lolesports/livestats/v1/window/{game_id}", routes.window)
