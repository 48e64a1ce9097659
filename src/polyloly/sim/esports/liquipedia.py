"""Local Liquipedia LPDB v3: ``GET /liquipedia/api/v3/match``.

Shaped like the real API (reference §4): ``wiki`` and ``conditions`` select records — by id
(``[[match2id::X]]`` joined by ``OR``) or by date (``[[date::>A]] AND [[date::<B]]``, naive
UTC; how a bot finds a market's match by opponents and date), ordered by date; the answer
is ``{"result": [...], "error": [], "warning": []}`` with LPDB's mixed types (``winner`` a
string index, ``finished``/``bestof`` ints, game ``winner`` strings, ``scores`` ints). A
generic library User-Agent is refused with 403 (Liquipedia's terms), and
``Authorization: Apikey KEY`` is checked when a key is set. Games appear as an editor would
add them: once over, after the provider delay.
"""

from __future__ import annotations

import re
from typing import Any, Final

from aiohttp import web

from polyloly.sim.esports.common import FeedContext, iso_to_ns_sim, json_response, lpdb_date
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.scenarios.model import MatchState, ProviderSpec

__all__ = ["add_routes", "lpdb_record"]

PROVIDER: Final = "liquipedia"
_WIKI: Final = {"lol": "leagueoflegends", "dota2": "dota2"}
_MATCH2ID: Final = re.compile(r"\[\[match2id::([^\]]+)\]\]")
_DATE: Final = re.compile(r"\[\[date::([<>])([^\]]+)\]\]")
_GENERIC_AGENTS: Final = ("python-httpx", "python-requests", "aiohttp", "curl", "wget", "python/")


def _index(side: str | None) -> str:
    return "" if side is None else ("1" if side == "a" else "2")


def lpdb_record(runtime: ScenarioRuntime, spec: ProviderSpec, state: MatchState) -> dict[str, Any]:
    """One LPDB match record as Liquipedia shows it now."""
    scenario = runtime.scenario
    scheduled = runtime.wall_ns(scenario.scheduled_ms)
    opponents = []
    for i, side in enumerate(("a", "b"), start=1):
        name = spec.team_name(side, scenario.team(side).name)
        placement: int | str = ""
        if state.winner is not None:
            placement = 1 if state.winner == side else 2
        opponents.append(
            {
                "id": i,
                "type": "team",
                "name": name,
                "template": name.lower(),
                "score": state.score_a if side == "a" else state.score_b,
                "status": "S",
                "placement": placement,
                "teamtemplate": {"name": name, "shortname": name[:3].upper(), "page": name},
            }
        )
    games = []
    for g in state.games:
        if g.winner is None or g.ended_ms is None:
            continue  # editors add a game once it is over
        minutes, seconds = divmod((g.ended_ms - g.started_ms) // 1000, 60)
        games.append(
            {
                "match2gameid": g.number,
                "winner": _index(g.winner),
                "scores": [1, 0] if g.winner == "a" else [0, 1],
                "status": "",
                "walkover": "",
                "resulttype": "",
                "length": f"{minutes}:{seconds:02d}",
                "date": lpdb_date(scheduled),
            }
        )
    return {
        "match2id": spec.match_id,
        "wiki": _WIKI[scenario.game],
        "game": _WIKI[scenario.game],
        "pagename": f"Local/{scenario.match_id}",
        "date": lpdb_date(scheduled),
        "dateexact": 1,
        "bestof": scenario.best_of,
        "finished": 1 if state.status == "finished" else 0,
        "winner": _index(state.winner),
        "status": "",
        "walkover": "",
        "resulttype": "",
        "extradata": {"timestamp": scheduled // 1_000_000_000},
        "match2opponents": opponents,
        "match2games": games,
    }


def _date_ok(op: str, bound: int | None, scheduled_ns: int) -> bool:
    if bound is None:
        return False
    return scheduled_ns > bound if op == ">" else scheduled_ns < bound


def add_routes(app: web.Application, ctx: FeedContext) -> None:
    """Mount the LPDB route under ``/liquipedia/api/v3``."""

    async def match(request: web.Request) -> web.Response:
        ctx.requests[PROVIDER] += 1
        agent = request.headers.get("User-Agent", "").strip().lower()
        if not agent or agent.startswith(_GENERIC_AGENTS):
            return json_response({"error": ["User-Agent must identify the project"]}, status=403)
        auth = request.headers.get("Authorization", "")
        if not ctx.key_ok(PROVIDER, auth.removeprefix("Apikey ") if auth else None):
            return json_response({"error": ["Invalid API key"]}, status=401)
        wiki = request.query.get("wiki", "")
        conditions = request.query.get("conditions", "")
        wanted = set(_MATCH2ID.findall(conditions))
        dates = [(op, iso_to_ns_sim(text)) for op, text in _DATE.findall(conditions)]
        result = []
        for runtime, spec in ctx.serving(PROVIDER):
            outage = runtime.outage(PROVIDER)
            if outage is not None and outage.mode == "error":
                return json_response({"error": ["unavailable"]}, status=503)
            if _WIKI[runtime.scenario.game] != wiki:
                continue
            if wanted and spec.match_id not in wanted:
                continue
            if not wanted and not dates:
                continue  # LPDB would list the whole wiki: never asked for here
            scheduled = runtime.wall_ns(runtime.scenario.scheduled_ms)
            if not all(_date_ok(op, bound, scheduled) for op, bound in dates):
                continue
            result.append(lpdb_record(runtime, spec, runtime.state(PROVIDER)))
        return json_response({"result": result, "error": [], "warning": []})

    app.router.add_get("/liquipedia/api/v3/match", match)
