"""Local PandaScore: REST match objects and the live frames WebSocket.

Routes (reference §2): ``GET /pandascore/{lol|dota2}/matches/running``,
``GET /pandascore/matches/{id}``, ``GET /pandascore/lives`` and the socket
``/pandascore/live/matches/{id}?token=``: first ``{"type":"hello","payload":{}}``, then a
frame every ``frame_interval_s`` (and at every change) while the match runs; the socket is
closed with code 1000 once the match is finished. The events socket
``/pandascore/live/matches/{id}/events`` pushes one message per kill or objective
(``player_kill``, ``tower_kill``, ``drake_kill``, ``baron_nashor_kill``...) and answers
``{"type":"recover","payload":{"game_id":N}}`` with every event of that game so far. Auth:
``Authorization: Bearer`` or ``?token=`` (REST), ``?token=`` only (sockets); a missing or
wrong token closes the socket with 4001.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from aiohttp import WSMsgType, web

from polyloly.sim.esports.common import (
    FeedContext,
    Publisher,
    SocketSet,
    iso_z,
    json_response,
)
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.scenarios.model import GameState, MatchState, ProviderSpec, Step, StepKind

__all__ = ["add_routes", "frame", "game_id", "live_events", "match_object"]

PROVIDER: Final = "pandascore"
_VIDEOGAME: Final = {
    "lol": {"id": 1, "name": "LoL", "slug": "league-of-legends"},
    "dota2": {"id": 4, "name": "Dota 2", "slug": "dota-2"},
}
_CLOSE_FINISHED: Final = 1000
_CLOSE_SERVER_ERROR: Final = 1011
_CLOSE_NO_TOKEN: Final = 4001


def game_id(spec: ProviderSpec, number: int) -> int:
    """PandaScore game id of game ``number``."""
    return int(spec.match_id) * 10 + number


def _team(runtime: ScenarioRuntime, spec: ProviderSpec, side: str) -> dict[str, Any]:
    name = spec.team_name(side, runtime.scenario.team(side).name)
    return {
        "id": int(spec.team_id(side)),
        "name": name,
        "acronym": name[:3].upper(),
        "slug": name.lower().replace(" ", "-"),
        "location": "KR",
    }


def _game(runtime: ScenarioRuntime, spec: ProviderSpec, g: GameState) -> dict[str, Any]:
    winner = int(spec.team_id(g.winner)) if g.winner else None
    ended = g.ended_ms is not None
    return {
        "id": game_id(spec, g.number),
        "position": g.number,
        "status": "finished" if ended else "running",
        "finished": ended,
        "complete": ended,
        "forfeit": False,
        "begin_at": iso_z(runtime.wall_ns(g.started_ms)),
        "end_at": iso_z(runtime.wall_ns(g.ended_ms)) if g.ended_ms is not None else None,
        "length": (g.ended_ms - g.started_ms) // 1000 if g.ended_ms is not None else None,
        "match_id": int(spec.match_id),
        "winner": {"id": winner, "type": "Team"},
        "winner_type": "Team",
    }


def match_object(runtime: ScenarioRuntime, spec: ProviderSpec, state: MatchState) -> dict[str, Any]:
    """The ``/matches/{id}`` object of the match as the provider shows it now."""
    scenario = runtime.scenario
    games = [_game(runtime, spec, g) for g in state.games]
    for number in range(len(games) + 1, scenario.best_of + 1):
        status = "not_played" if state.status == "finished" else "not_started"
        games.append(
            {
                "id": game_id(spec, number),
                "position": number,
                "status": status,
                "finished": False,
                "complete": False,
                "forfeit": False,
                "begin_at": None,
                "end_at": None,
                "length": None,
                "match_id": int(spec.match_id),
                "winner": {"id": None, "type": "Team"},
                "winner_type": "Team",
            }
        )
    teams = {s: _team(runtime, spec, s) for s in ("a", "b")}
    changed = runtime.wall_ns(max(state.changed_ms, scenario.scheduled_ms))
    return {
        "id": int(spec.match_id),
        "name": f"{teams['a']['acronym']} vs {teams['b']['acronym']}",
        "status": state.status,
        "match_type": "best_of",
        "number_of_games": scenario.best_of,
        "scheduled_at": iso_z(runtime.wall_ns(scenario.scheduled_ms)),
        "begin_at": iso_z(runtime.wall_ns(state.started_ms)) if state.started_ms else None,
        "end_at": iso_z(runtime.wall_ns(state.ended_ms)) if state.ended_ms else None,
        "modified_at": iso_z(changed),
        "winner_id": int(spec.team_id(state.winner)) if state.winner else None,
        "winner_type": "Team",
        "forfeit": False,
        "draw": False,
        "rescheduled": False,
        "game_advantage": None,
        "results": [
            {"team_id": teams["a"]["id"], "score": state.score_a},
            {"team_id": teams["b"]["id"], "score": state.score_b},
        ],
        "opponents": [{"type": "Team", "opponent": teams[s]} for s in ("a", "b")],
        "games": games,
        "live": {
            "supported": True,
            "opens_at": iso_z(runtime.wall_ns(scenario.scheduled_ms)),
            "url": f"wss://live.pandascore.co/matches/{spec.match_id}",
        },
        "videogame": _VIDEOGAME[scenario.game],
    }


def _lol_side(
    runtime: ScenarioRuntime, spec: ProviderSpec, g: GameState, state: MatchState, side: str
) -> dict[str, Any]:
    team = _team(runtime, spec, side)
    won_before = sum(1 for x in state.games if x.winner == side and x.number < g.number)
    return {
        "id": team["id"],
        "name": team["name"],
        "acronym": team["acronym"],
        "kills": g.kills_a if side == "a" else g.kills_b,
        "towers": g.objective(side, "towers"),
        "drakes": g.objective(side, "drakes"),
        "nashors": g.objective(side, "nashors"),
        "herald": g.objective(side, "herald"),
        "inhibitors": g.objective(side, "inhibitors"),
        "voidgrubs": g.objective(side, "voidgrubs"),
        "gold": 2500 + g.clock_ms(state.t_ms) // 100,
        "score": won_before,
    }


def frame(runtime: ScenarioRuntime, spec: ProviderSpec, state: MatchState) -> dict[str, Any] | None:
    """The current live frame (``None`` before the first game)."""
    g = state.current
    if g is None:
        return None
    first, second = ("a", "b") if runtime.scenario.side_a_first(g.number) else ("b", "a")
    out: dict[str, Any] = {
        "game": {"id": game_id(spec, g.number)},
        "match": {"id": int(spec.match_id)},
        "tournament": {"id": 14032},
        "current_timestamp": g.clock_ms(state.t_ms) // 1000,
        "paused": g.paused,
        "finished": g.ended_ms is not None,
        "winner_id": int(spec.team_id(g.winner)) if g.winner else None,
    }
    if runtime.scenario.game == "lol":
        out["blue"] = _lol_side(runtime, spec, g, state, first)
        out["red"] = _lol_side(runtime, spec, g, state, second)
    else:
        for key, side in (("radiant", first), ("dire", second)):
            team = _team(runtime, spec, side)
            out[key] = {
                "id": team["id"],
                "name": team["name"],
                "score": g.kills_a if side == "a" else g.kills_b,
            }
        out["daytime"] = (g.clock_ms(state.t_ms) // 300_000) % 2 == 0
    return out


_EVENT_TYPES: Final = {
    "towers": "tower_kill",
    "drakes": "drake_kill",
    "nashors": "baron_nashor_kill",
    "inhibitors": "inhibitor_kill",
    "herald": "rift_herald_kill",
    "voidgrubs": "voidgrub_kill",
}


def live_events(runtime: ScenarioRuntime, spec: ProviderSpec, step: Step) -> list[dict[str, Any]]:
    """The events-socket messages for one kill/objective step (one per unit of ``count``)."""
    if step.kind is StepKind.KILL:
        kind, victim_type = "player_kill", "player"
    elif step.kind is StepKind.OBJECTIVE:
        kind = _EVENT_TYPES.get(step.objective, f"{step.objective}_kill")
        victim_type = step.objective
    else:
        return []
    side = step.team or "a"
    other = "b" if side == "a" else "a"
    team_id, other_id = int(spec.team_id(side)), int(spec.team_id(other))
    game = next(
        g for g in runtime.scenario.state(PROVIDER, step.at_ms).games if g.number == step.game
    )
    return [
        {
            "type": kind,
            "game_id": game_id(spec, step.game),
            "match_id": int(spec.match_id),
            "tournament_id": 14032,
            "ingame_timestamp": game.clock_ms(step.at_ms) // 1000,
            "is_first": False,
            "payload": {
                "killer": {
                    "type": "player",
                    "object": {"id": team_id * 10 + 1, "name": "carry", "team_id": team_id},
                },
                "victim": {
                    "type": victim_type,
                    "object": {"id": other_id * 10 + i % 5 + 1, "name": f"{victim_type}-{i}"},
                },
                "assists": [],
            },
        }
        for i in range(step.count)
    ]


def _visible_events(runtime: ScenarioRuntime, spec: ProviderSpec) -> list[dict[str, Any]]:
    state = runtime.state(PROVIDER)
    out: list[dict[str, Any]] = []
    for step in runtime.scenario.timeline(PROVIDER)[: state.steps]:
        out.extend(live_events(runtime, spec, step))
    return out


def _token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ")
    return request.query.get("token")


def _error_outage(runtime: ScenarioRuntime) -> bool:
    outage = runtime.outage(PROVIDER)
    return outage is not None and outage.mode == "error"


class _Routes:
    def __init__(self, ctx: FeedContext) -> None:
        self.ctx = ctx
        self.sockets: dict[str, SocketSet] = {}
        self.events: dict[str, SocketSet] = {}
        for runtime, spec in ctx.serving(PROVIDER):
            group = self.sockets.setdefault(spec.match_id, SocketSet())
            events = self.events.setdefault(spec.match_id, SocketSet())
            ctx.publishers.append(_publisher(ctx, runtime, spec, group, events))

    def refused(self, request: web.Request) -> web.Response | None:
        self.ctx.requests[PROVIDER] += 1
        if not self.ctx.key_ok(PROVIDER, _token(request)):
            return json_response({"error": "Token is missing or invalid"}, status=401)
        return None

    async def running(self, request: web.Request) -> web.Response:
        error = self.refused(request)
        if error is not None:
            return error
        videogame = request.match_info["videogame"]
        out = []
        for runtime, spec in self.ctx.serving(PROVIDER):
            if _error_outage(runtime):
                return json_response({"error": "unavailable"}, status=503)
            state = runtime.state(PROVIDER)
            if runtime.scenario.game == videogame and state.status == "running":
                out.append(match_object(runtime, spec, state))
        return json_response(out)

    async def one_match(self, request: web.Request) -> web.Response:
        error = self.refused(request)
        if error is not None:
            return error
        found = self.ctx.find(PROVIDER, request.match_info["match_id"])
        if found is None:
            return json_response({"error": "Not found"}, status=404)
        runtime, spec = found
        if _error_outage(runtime):
            return json_response({"error": "unavailable"}, status=503)
        return json_response(match_object(runtime, spec, runtime.state(PROVIDER)))

    async def lives(self, request: web.Request) -> web.Response:
        error = self.refused(request)
        if error is not None:
            return error
        out = []
        for runtime, spec in self.ctx.serving(PROVIDER):
            state = runtime.state(PROVIDER)
            if state.status in ("running", "not_started"):
                url = f"wss://live.pandascore.co/matches/{spec.match_id}"
                endpoint = {"type": "frames", "url": url, "open": True}
                endpoint["match_id"] = int(spec.match_id)
                out.append({"endpoints": [endpoint], "match": match_object(runtime, spec, state)})
        return json_response(out)

    async def live_socket(self, request: web.Request) -> web.StreamResponse:
        found = self.ctx.find(PROVIDER, request.match_info["match_id"])
        if found is None:
            return json_response({"error": "Not found"}, status=404)
        runtime, spec = found
        if _error_outage(runtime):
            return json_response({"error": "unavailable"}, status=503)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if not self.ctx.key_ok(PROVIDER, request.query.get("token")):
            await ws.close(code=_CLOSE_NO_TOKEN, message=b"token required")
            return ws
        await ws.send_str('{"type":"hello","payload":{}}')
        state = runtime.state(PROVIDER)
        current = frame(runtime, spec, state)
        if current is not None:
            await ws.send_bytes(msgspec.json.encode(current))
        if state.status == "finished":
            await ws.close(code=_CLOSE_FINISHED)
            return ws
        group = self.sockets.setdefault(spec.match_id, SocketSet())
        group.sockets.add(ws)
        try:
            async for _msg in ws:
                pass  # the frames socket takes no commands
        finally:
            group.sockets.discard(ws)
        return ws

    async def events_socket(self, request: web.Request) -> web.StreamResponse:
        found = self.ctx.find(PROVIDER, request.match_info["match_id"])
        if found is None:
            return json_response({"error": "Not found"}, status=404)
        runtime, spec = found
        if _error_outage(runtime):
            return json_response({"error": "unavailable"}, status=503)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if not self.ctx.key_ok(PROVIDER, request.query.get("token")):
            await ws.close(code=_CLOSE_NO_TOKEN, message=b"token required")
            return ws
        await ws.send_str('{"type":"hello","payload":{}}')
        if runtime.state(PROVIDER).status == "finished":
            await ws.close(code=_CLOSE_FINISHED)
            return ws
        group = self.events.setdefault(spec.match_id, SocketSet())
        group.sockets.add(ws)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    wanted = msgspec.json.decode(msg.data)["payload"]["game_id"]
                except (msgspec.DecodeError, KeyError, TypeError):
                    continue
                for event in _visible_events(runtime, spec):
                    if event["game_id"] == wanted:
                        await ws.send_bytes(msgspec.json.encode(event))
        finally:
            group.sockets.discard(ws)
        return ws


def add_routes(app: web.Application, ctx: FeedContext) -> None:
    """Mount the PandaScore routes under ``/pandascore`` and add one publisher per match."""
    routes = _Routes(ctx)
    app.router.add_get("/pandascore/{videogame:lol|dota2}/matches/running", routes.running)
    app.router.add_get("/pandascore/matches/{match_id}", routes.one_match)
    app.router.add_get("/pandascore/lives", routes.lives)
    app.router.add_get("/pandascore/live/matches/{match_id}", routes.live_socket)
    app.router.add_get("/pandascore/live/matches/{match_id}/events", routes.events_socket)


def _publisher(
    ctx: FeedContext,
    runtime: ScenarioRuntime,
    spec: ProviderSpec,
    group: SocketSet,
    events: SocketSet,
) -> Publisher:
    async def publish() -> None:
        interval_ns = max(1, runtime.wall_ns(spec.frame_interval_ms) - runtime.start_ns)
        sent_events = 0
        while True:
            now = ctx.clock.now_ns()
            tick = now + interval_ns
            change = runtime.next_change_ns(PROVIDER, now)
            await ctx.sleep_until(tick if change is None else min(tick, change))
            outage = runtime.outage(PROVIDER)
            if outage is not None and outage.mode == "error":
                await group.close_all(_CLOSE_SERVER_ERROR, b"upstream failure")
                await events.close_all(_CLOSE_SERVER_ERROR, b"upstream failure")
                continue
            if outage is not None:
                continue  # frozen: the sockets stay open and silent
            visible = _visible_events(runtime, spec)
            for event in visible[sent_events:]:
                await events.broadcast(msgspec.json.encode(event).decode())
            sent_events = len(visible)
            await _push_frame(runtime, spec, group, events)

    return publish


async def _push_frame(
    runtime: ScenarioRuntime, spec: ProviderSpec, group: SocketSet, events: SocketSet
) -> None:
    state = runtime.state(PROVIDER)
    current = frame(runtime, spec, state)
    if current is None or state.status not in ("running", "finished"):
        return
    if group.sockets:
        await group.broadcast(msgspec.json.encode(current).decode())
    if state.status == "finished":
        await group.close_all(_CLOSE_FINISHED)
        await events.close_all(_CLOSE_FINISHED)
