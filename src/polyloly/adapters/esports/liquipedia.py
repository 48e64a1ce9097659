"""Liquipedia LPDB v3 ``/match``: a confirmation source, never a trigger.

Liquipedia is a volunteer-edited wiki: results appear when an editor updates the bracket
(minutes later, sometimes more), with no SLA. Its reports therefore *confirm* what a live
provider said: the provider defaults mark it ``confirm_only`` (the truth engine then never
lets it establish a result alone: it only adds its weight to a claim a live source made)
and every event it emits carries ``detail["confirm_only"] = True``.

Protocol (reference §4): ``GET {base}/api/v3/match?wiki=..&conditions=[[match2id::X]]
&query=..&limit=..``, header ``Authorization: Apikey KEY``, a custom User-Agent naming the
project (generic library agents get blocked), gzip, and at most one request per 2 s (the
provider default rate limit). LPDB types are mixed: ``winner`` is a string index into
``match2opponents`` (1-based), ``finished``/``bestof`` ints, game ``winner`` strings.
Only matches bound to ``liquipedia`` in the directory are queried, one request per wiki.
A market found through Gamma is bound by :meth:`LiquipediaFeed.find_match`: LPDB matches of
the wiki scheduled within the directory's window (``[[date::>A]] AND [[date::<B]]``, naive
UTC), matched on the two opponents (alias table) and the nearest start.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import httpx

from polyloly.adapters.esports.base import FeedCore, ProviderHttp, decode, run_polling
from polyloly.adapters.esports.config import LIQUIPEDIA
from polyloly.adapters.esports.identity import MatchRef
from polyloly.adapters.esports.parsing import coerce_int
from polyloly.adapters.esports.resolver import WantedMatch, pick_match
from polyloly.adapters.esports.schemas.liquipedia import LpMatch, LpOpponent, LpResponse
from polyloly.adapters.esports.tracker import GamePhase, GameSnap, MatchPhase, MatchSnap
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import ConfigError, RejectError, RetryableError
from polyloly.runtime.timefmt import iso_to_ns

__all__ = ["WIKI", "LiquipediaFeed", "lpdb_snapshot", "lpdb_start_ns", "lpdb_teams"]

WIKI: Final = {"lol": "leagueoflegends", "dota2": "dota2"}
_QUERY: Final = (
    "match2id,date,winner,finished,bestof,status,walkover,resulttype,"
    "match2opponents,match2games,extradata"
)
_GENERIC_AGENTS: Final = ("python-httpx", "python-requests", "aiohttp", "curl", "wget")


def lpdb_teams(match: LpMatch) -> tuple[str, str] | None:
    """The two opponents' names in ``match2opponents`` order (``None`` unless exactly two)."""
    if len(match.match2opponents) != 2:
        return None
    first, second = (_opponent_name(o) for o in match.match2opponents)
    if not first or not second:
        return None
    return first, second


def _opponent_name(opp: LpOpponent) -> str:
    if opp.name:
        return opp.name
    return opp.teamtemplate.name if opp.teamtemplate is not None else ""


def lpdb_start_ns(match: LpMatch) -> int | None:
    """Scheduled start: ``extradata.timestamp`` (unix s) or ``date`` (naive UTC)."""
    if match.extradata is not None:
        ts = coerce_int(match.extradata.timestamp)
        if ts:
            return ts * NS_PER_S
    return iso_to_ns(match.date.replace(" ", "T")) if match.date else None


def lpdb_snapshot(match: LpMatch, order_sides: tuple[str, str]) -> MatchSnap:
    """Build the snapshot of one LPDB record.

    ``order_sides`` gives the side (``a``/``b``) of opponent 1 and opponent 2.
    """

    def side(index: object) -> str | None:
        pos = coerce_int(index)
        return order_sides[pos - 1] if pos in (1, 2) else None

    games = []
    for i, g in enumerate(match.match2games, start=1):
        number = coerce_int(g.match2gameid) or i
        winner = side(g.winner)
        if winner is not None:
            games.append(GameSnap(number=number, phase=GamePhase.FINISHED, winner=winner))
    finished = coerce_int(match.finished) == 1
    winner = side(match.winner)
    scores = {order_sides[i]: coerce_int(o.score) for i, o in enumerate(match.match2opponents)}
    if finished and winner is not None:
        phase = MatchPhase.FINISHED
    elif games:
        phase = MatchPhase.RUNNING
    else:
        phase = MatchPhase.NOT_STARTED
    return MatchSnap(
        phase=phase,
        games=tuple(games),
        winner=winner if phase is MatchPhase.FINISHED else None,
        score_a=scores.get("a"),
        score_b=scores.get("b"),
    )


def _lpdb_date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def check_user_agent(user_agent: str) -> None:
    """Liquipedia blocks generic agents: require one that names the project."""
    lowered = user_agent.strip().lower()
    if not lowered or lowered.startswith(_GENERIC_AGENTS):
        raise ConfigError(
            "esports.providers.liquipedia.user_agent must name the project and a contact"
        )


class LiquipediaFeed:
    """Liquipedia LPDB adapter (confirmation only).

    Parameters
    ----------
    core
        The adapter core (``base_url`` = ``https://api.liquipedia.net``).
    transport
        Optional httpx transport (tests without sockets).
    """

    source = LIQUIPEDIA

    def __init__(self, core: FeedCore, transport: httpx.AsyncBaseTransport | None = None) -> None:
        check_user_agent(core.settings.user_agent)
        self.core = core
        headers = {}
        if core.settings.api_key:
            headers["Authorization"] = f"Apikey {core.settings.api_key}"
        self._http = ProviderHttp(core, headers=headers, transport=transport)
        self._running = False

    async def run(self) -> None:
        """Poll until :meth:`aclose`."""
        self._running = True
        await run_polling(self, self.core, lambda: self._running)

    async def aclose(self) -> None:
        """Stop polling and close the HTTP pool."""
        self._running = False
        await self._http.aclose()

    async def find_match(self, want: WantedMatch) -> str | None:
        """Search LPDB for ``want`` by date, then opponents; return its ``match2id``."""
        core = self.core
        wiki = WIKI.get(want.game)
        if wiki is None:
            return None
        window = core.directory.window_ns
        start = want.start_ns if want.start_ns is not None else core.clock.now_ns()
        lo, hi = (_lpdb_date(start - window), _lpdb_date(start + window))
        params = {
            "wiki": wiki,
            "conditions": f"[[date::>{lo}]] AND [[date::<{hi}]]",
            "query": "match2id,date,match2opponents,extradata",
            "limit": 100,
            "order": "date ASC",
        }
        body = await self._http.get("/api/v3/match", params)
        resp = decode(body, LpResponse, core.stats) if body is not None else None
        if resp is None:
            return None
        candidates = []
        for match in resp.result:
            names = lpdb_teams(match)
            if names is not None and match.match2id:
                candidates.append((match.match2id, names[0], names[1], lpdb_start_ns(match)))
        return pick_match(candidates, want, core.directory.canonical, window)

    async def poll_once(self) -> None:
        """Query every bound, unfinished match (one request per wiki)."""
        core = self.core
        by_wiki: dict[str, list[MatchRef]] = {}
        for pid in core.directory.bound_ids(LIQUIPEDIA):
            ref = core.directory.lookup(LIQUIPEDIA, pid)
            if ref is None or ref.game not in WIKI or core.tracker(ref).finished:
                continue
            by_wiki.setdefault(WIKI[ref.game], []).append(ref)
        try:
            for wiki, refs in sorted(by_wiki.items()):
                await self._query(wiki, refs)
            core.health.reachable()
        except (RetryableError, RejectError) as exc:
            core.round_failed(exc)
        core.health.check(live=False)  # not a live source: staleness does not apply

    async def _query(self, wiki: str, refs: Iterable[MatchRef]) -> None:
        by_id = {r.provider_match_id: r for r in refs}
        conditions = " OR ".join(f"[[match2id::{pid}]]" for pid in sorted(by_id))
        params = {
            "wiki": wiki,
            "conditions": conditions,
            "query": _QUERY,
            "limit": len(by_id),
        }
        body = await self._http.get("/api/v3/match", params)
        if body is None:
            return
        resp = decode(body, LpResponse, self.core.stats)
        if resp is None:
            return
        for match in resp.result:
            ref = by_id.get(match.match2id)
            if ref is not None:
                self.observe(ref, match)

    def observe(self, ref: MatchRef, match: LpMatch) -> None:
        """Publish the changes one LPDB record shows for ``ref``."""
        names = lpdb_teams(match)
        if names is None:
            self.core.stats.malformed += 1
            return
        directory = self.core.directory
        first, second = (ref.side_of(directory.canonical(n)) for n in names)
        if first is None or second is None or first == second:
            self.core.stats.malformed += 1
            return
        snap = lpdb_snapshot(match, (first, second))
        self.core.apply(ref, snap, self.core.clock.now_ns())
