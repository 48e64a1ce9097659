"""Local GRID: Series State GraphQL and the Series Events WebSocket.

Routes (reference §3): ``POST /grid/central-data/graphql`` answers the Central Data series
listing (``allSeries(filter: {startTimeScheduled: {gte, lte}, titleIds: {in}})`` → ``edges[]
{node {id startTimeScheduled title format teams {baseInfo {id name}}}}``, title ids LoL 3,
Dota 2 2); ``POST /grid/live-data-feed/series-state/graphql`` (header
``x-api-key``; body ``{"query": ..., "variables": {"id": ...}}``) answers
``{"data": {"seriesState": {...}}}``; the socket ``/grid/live-data-feed/series/{id}?key=``
(optional ``fromSequenceNumber``) replays the envelopes from that number, then pushes each
new one. Envelopes carry ``sequenceNumber`` and events typed ``actor-action-target``
(``series-started-game``, ``player-killed-player``, ``series-paused-game``,
``series-resumed-game``, ``team-won-game``, ``series-ended-game``, ``team-won-series``...),
each with the full ``seriesState``. A corrected result is a new ``team-won-game`` with the
right team. An ``error`` outage answers 503 and drops sockets; a ``frozen`` one answers
with stuck data and pushes nothing until it ends (then catches up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from aiohttp import web

from polyloly.sim.esports.common import (
    FeedContext,
    Publisher,
    SocketSet,
    iso_ms,
    iso_to_ns_sim,
    iso_z,
    json_response,
)
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.scenarios.model import GameState, MatchState, ProviderSpec, Step, StepKind

__all__ = ["SeriesLog", "add_routes", "series_node", "series_state"]

PROVIDER: Final = "grid"
_CLOSE_SERVER_ERROR: Final = 1011
_OBJECTIVE_EVENTS: Final = {
    "towers": "team-destroyed-tower",
    "drakes": "player-completed-slayDragon",
    "nashors": "player-completed-slayBaron",
}


def _iso_ms(runtime: ScenarioRuntime, t_ms: int) -> str:
    return iso_ms(runtime.wall_ns(t_ms))


def _game_id(spec: ProviderSpec, number: int) -> str:
    return f"{spec.match_id}-g{number}"


def _game_state(
    runtime: ScenarioRuntime, spec: ProviderSpec, g: GameState, t_ms: int
) -> dict[str, Any]:
    first = "a" if runtime.scenario.side_a_first(g.number) else "b"
    side_names = ("blue", "red") if runtime.scenario.game == "lol" else ("radiant", "dire")
    teams = []
    structures = []
    for side in ("a", "b"):
        other = "b" if side == "a" else "a"
        teams.append(
            {
                "id": spec.team_id(side),
                "name": spec.team_name(side, runtime.scenario.team(side).name),
                "side": side_names[0] if side == first else side_names[1],
                "won": g.winner == side,
                "score": 1 if g.winner == side else 0,
                "kills": g.kills_a if side == "a" else g.kills_b,
                "deaths": g.kills_b if side == "a" else g.kills_a,
                "netWorth": 0,
            }
        )
        structures += [
            {"type": "tower", "side": "", "teamId": spec.team_id(other), "destroyed": True}
        ] * g.objective(side, "towers")
    running = g.ended_ms is None and not g.paused
    return {
        "id": _game_id(spec, g.number),
        "sequenceNumber": g.number,
        "started": True,
        "finished": g.ended_ms is not None,
        "paused": g.paused,
        "clock": {"currentSeconds": g.clock_ms(t_ms) // 1000, "ticking": running},
        "map": {"name": "Summoner's Rift" if runtime.scenario.game == "lol" else "Dota"},
        "teams": teams,
        "structures": structures,
    }


def series_state(runtime: ScenarioRuntime, spec: ProviderSpec, state: MatchState) -> dict[str, Any]:
    """The ``seriesState`` of the match as GRID shows it."""
    kills = {"a": sum(g.kills_a for g in state.games), "b": sum(g.kills_b for g in state.games)}
    return {
        "id": spec.match_id,
        "format": f"best-of-{runtime.scenario.best_of}",
        "started": state.status != "not_started",
        "finished": state.status == "finished",
        "valid": True,
        "updatedAt": _iso_ms(runtime, max(state.changed_ms, 0)),
        "teams": [
            {
                "id": spec.team_id(side),
                "name": spec.team_name(side, runtime.scenario.team(side).name),
                "score": state.score_a if side == "a" else state.score_b,
                "won": state.winner == side,
                "kills": kills[side],
                "deaths": kills["b" if side == "a" else "a"],
            }
            for side in ("a", "b")
        ],
        "games": [_game_state(runtime, spec, g, state.t_ms) for g in state.games],
    }


def _event(kind: str, actor: tuple[str, str], target: tuple[str, str]) -> dict[str, Any]:
    action = kind.split("-")[1] if kind.count("-") >= 2 else kind
    return {
        "type": kind,
        "action": action,
        "actor": {"type": actor[0], "id": actor[1], "stateDelta": {}, "state": {}},
        "target": {"type": target[0], "id": target[1], "stateDelta": {}, "state": {}},
    }


def _result_events(spec: ProviderSpec, step: Step, state: MatchState) -> list[dict[str, Any]]:
    series = ("series", spec.match_id)
    game = ("game", _game_id(spec, step.game))
    events = [_event("team-won-game", ("team", spec.team_id(step.team or "a")), game)]
    if step.kind is StepKind.GAME_END:
        events.append(_event("series-ended-game", series, game))
    if state.winner is not None:
        events.append(_event("team-won-series", ("team", spec.team_id(state.winner)), series))
    return events


def _step_events(spec: ProviderSpec, step: Step, state: MatchState) -> list[dict[str, Any]]:
    series = ("series", spec.match_id)
    game = ("game", _game_id(spec, step.game))
    team = ("team", spec.team_id(step.team or "a"))
    other = ("team", spec.team_id("b" if step.team == "a" else "a"))
    kind = step.kind
    simple = {
        StepKind.GAME_START: "series-started-game",
        StepKind.PAUSE: "series-paused-game",
        StepKind.RESUME: "series-resumed-game",
    }
    if kind in simple:
        return [_event(simple[kind], series, game)]
    if kind is StepKind.KILL:
        killer, victim = ("player", f"{team[1]}-p1"), ("player", f"{other[1]}-p1")
        return [_event("player-killed-player", killer, victim) for _ in range(step.count)]
    if kind is StepKind.OBJECTIVE:
        name = _OBJECTIVE_EVENTS.get(step.objective, f"team-completed-{step.objective}")
        return [_event(name, team, ("objective", step.objective)) for _ in range(step.count)]
    if kind in (StepKind.GAME_END, StepKind.CORRECTION):
        return _result_events(spec, step, state)
    return []


@dataclass
class SeriesLog:
    """The envelopes GRID has published for one series so far (sequence numbers from 1)."""

    runtime: ScenarioRuntime
    spec: ProviderSpec
    envelopes: list[str] = field(default_factory=list)
    steps_done: int = 0

    def catch_up(self) -> list[str]:
        """Append the envelopes for every step now visible; return the new ones."""
        runtime, spec = self.runtime, self.spec
        new: list[str] = []
        if not self.envelopes:
            started = _event("grid-started-feed", ("grid", "GRID"), ("feed", spec.match_id))
            new.append(self._envelope(0, [started]))
        state_now = runtime.state(PROVIDER)
        steps = runtime.scenario.timeline(PROVIDER)
        for step in steps[self.steps_done : state_now.steps]:
            state = runtime.scenario.state(PROVIDER, step.at_ms)
            events = _step_events(spec, step, state)
            full = series_state(runtime, spec, state)
            for event in events:
                event["includesFullState"] = True
                event["seriesState"] = full
                event["seriesStateDelta"] = {}
            if events:
                new.append(self._envelope(step.at_ms, events, len(new)))
        self.steps_done = max(self.steps_done, state_now.steps)
        return new

    def _envelope(self, t_ms: int, events: list[dict[str, Any]], pending: int = 0) -> str:
        seq = len(self.envelopes) + 1 + pending
        for i, event in enumerate(events):
            event["id"] = f"{self.spec.match_id}-{seq}-{i}"
        envelope = {
            "id": f"{self.spec.match_id}-{seq}",
            "correlationId": f"{self.spec.match_id}-{seq}",
            "occurredAt": _iso_ms(self.runtime, t_ms),
            "publishedAt": _iso_ms(self.runtime, t_ms),
            "seriesId": int(self.spec.match_id),
            "sequenceNumber": seq,
            "sessionSequenceNumber": seq,
            "events": events,
        }
        return msgspec.json.encode(envelope).decode()

    def commit(self, new: list[str]) -> None:
        """Record envelopes returned by :meth:`catch_up` as published."""
        self.envelopes.extend(new)


def _error_outage(runtime: ScenarioRuntime) -> bool:
    outage = runtime.outage(PROVIDER)
    return outage is not None and outage.mode == "error"


class _Routes:
    def __init__(self, ctx: FeedContext) -> None:
        self.ctx = ctx
        self.logs: dict[str, SeriesLog] = {}
        self.sockets: dict[str, SocketSet] = {}
        for runtime, spec in ctx.serving(PROVIDER):
            self.logs[spec.match_id] = SeriesLog(runtime, spec)
            self.sockets[spec.match_id] = SocketSet()
            ctx.publishers.append(
                _publisher(ctx, self.logs[spec.match_id], self.sockets[spec.match_id])
            )

    async def graphql(self, request: web.Request) -> web.Response:
        ctx = self.ctx
        ctx.requests[PROVIDER] += 1
        if not ctx.key_ok(PROVIDER, request.headers.get("x-api-key")):
            return json_response({"errors": [{"message": "Unauthorized"}]}, status=401)
        try:
            body = msgspec.json.decode(await request.read())
            series_id = str(body["variables"]["id"])
        except (msgspec.DecodeError, KeyError, TypeError):
            return json_response({"errors": [{"message": "bad request"}]}, status=400)
        found = ctx.find(PROVIDER, series_id)
        if found is None:
            return json_response(
                {"data": {"seriesState": None}, "errors": [{"message": "series not found"}]}
            )
        runtime, spec = found
        if _error_outage(runtime):
            return json_response({"errors": [{"message": "unavailable"}]}, status=503)
        state = runtime.state(PROVIDER)
        return json_response({"data": {"seriesState": series_state(runtime, spec, state)}})

    async def events_socket(self, request: web.Request) -> web.StreamResponse:
        series_id = request.match_info["series_id"]
        log = self.logs.get(series_id)
        if log is None:
            return json_response({"error": "not found"}, status=404)
        if not self.ctx.key_ok(PROVIDER, request.query.get("key")):
            return json_response({"error": "Unauthorized"}, status=401)
        if _error_outage(log.runtime):
            return json_response({"error": "unavailable"}, status=503)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        start = request.query.get("fromSequenceNumber", "1")
        first = max(1, int(start)) if start.isdigit() else 1
        log.commit(log.catch_up())
        for text in log.envelopes[first - 1 :]:
            await ws.send_str(text)
        group = self.sockets[series_id]
        group.sockets.add(ws)
        try:
            async for _msg in ws:
                pass  # config messages (useConfig) need no answer here
        finally:
            group.sockets.discard(ws)
        return ws


_TITLE_IDS: Final = {"lol": "3", "dota2": "2"}
_TITLE_NAMES: Final = {"lol": "LoL", "dota2": "Dota 2"}


def series_node(runtime: ScenarioRuntime, spec: ProviderSpec) -> dict[str, Any]:
    """One series as GRID's Central Data lists it."""
    scenario = runtime.scenario
    return {
        "id": spec.match_id,
        "startTimeScheduled": iso_z(runtime.wall_ns(scenario.scheduled_ms)),
        "title": {"name": scenario.game, "nameShortened": _TITLE_NAMES[scenario.game]},
        "format": {"name": f"best-of-{scenario.best_of}", "nameShortened": f"Bo{scenario.best_of}"},
        "teams": [
            {
                "baseInfo": {
                    "id": spec.team_id(side),
                    "name": spec.team_name(side, scenario.team(side).name),
                }
            }
            for side in ("a", "b")
        ],
    }


def _central(ctx: FeedContext, variables: dict[str, Any]) -> dict[str, Any]:
    lo = iso_to_ns_sim(str(variables.get("start", "")))
    hi = iso_to_ns_sim(str(variables.get("end", "")))
    titles = {str(t) for t in variables.get("titleIds") or []}
    edges = []
    for runtime, spec in ctx.serving(PROVIDER):
        scheduled = runtime.wall_ns(runtime.scenario.scheduled_ms)
        if titles and _TITLE_IDS[runtime.scenario.game] not in titles:
            continue
        if (lo is not None and scheduled < lo) or (hi is not None and scheduled > hi):
            continue
        edges.append({"node": series_node(runtime, spec)})
    edges.sort(key=lambda e: e["node"]["startTimeScheduled"])
    return {"data": {"allSeries": {"totalCount": len(edges), "edges": edges[:50]}}}


def add_routes(app: web.Application, ctx: FeedContext) -> None:
    """Mount the GRID routes under ``/grid`` and add one publisher per series."""
    routes = _Routes(ctx)

    async def central(request: web.Request) -> web.Response:
        ctx.requests[PROVIDER] += 1
        if not ctx.key_ok(PROVIDER, request.headers.get("x-api-key")):
            return json_response({"errors": [{"message": "Unauthorized"}]}, status=401)
        try:
            body = msgspec.json.decode(await request.read())
            variables = dict(body.get("variables") or {})
        except (msgspec.DecodeError, TypeError, AttributeError):
            return json_response({"errors": [{"message": "bad request"}]}, status=400)
        return json_response(_central(ctx, variables))

    app.router.add_post("/grid/central-data/graphql", central)
    app.router.add_post("/grid/live-data-feed/series-state/graphql", routes.graphql)
    app.router.add_get("/grid/live-data-feed/series/{series_id}", routes.events_socket)


def _publisher(ctx: FeedContext, log: SeriesLog, group: SocketSet) -> Publisher:
    async def publish() -> None:
        runtime = log.runtime
        while True:
            now = ctx.clock.now_ns()
            change = runtime.next_change_ns(PROVIDER, now)
            # After the last change GRID has nothing more to say: idle in hour-long waits.
            await ctx.sleep_until(change if change is not None else now + 3_600 * 10**9)
            outage = runtime.outage(PROVIDER)
            if outage is not None and outage.mode == "error":
                await group.close_all(_CLOSE_SERVER_ERROR, b"upstream failure")
                continue
            new = log.catch_up()
            log.commit(new)
            for text in new:
                await group.broadcast(text)

    return publish
