"""Riot lolesports (LoL): ``getSchedule``, ``getEventDetails`` and the livestats ``window``.

How lolesports signals things (reference §5; unofficial, may change without notice):

* ``GET {base}/persisted/gw/getSchedule?hl=`` — each event's ``state`` (unstarted,
  inProgress, completed), its teams' ``result.outcome`` (win/loss) and ``result.gameWins``;
* ``GET {base}/persisted/gw/getEventDetails?hl=&id=`` — the games (``number``, ``state``,
  ``teams[{id, side}]``) and each team's ``gameWins``;
* ``GET {feed}/livestats/v1/window/{gameId}?startingTime=`` (RFC 3339, a multiple of 10 s;
  clients ask for "now − 60 s") — frames with ``gameState`` (in_game, paused, finished) and
  team totals (``totalKills``, ``towers``, ``inhibitors``, ``barons``, ``dragons``).

The window has no winner: a game's winner is the team whose ``gameWins`` went up when the
game finished; a decrease (a corrected result) takes the win back from that team's latest
game. Header ``x-api-key`` (from settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import httpx

from polyloly.adapters.esports.base import FeedCore, ProviderHttp, decode, run_polling
from polyloly.adapters.esports.config import LOLESPORTS
from polyloly.adapters.esports.identity import MatchRef
from polyloly.adapters.esports.schemas.lolesports import (
    LeEventDetailsResponse,
    LeFrame,
    LeGame,
    LeScheduleEvent,
    LeScheduleResponse,
    LeTeam,
    LeWindow,
)
from polyloly.adapters.esports.tracker import GamePhase, GameSnap, MatchPhase, MatchSnap
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import RejectError, RetryableError
from polyloly.runtime.timefmt import iso_to_ns, ns_to_iso

__all__ = ["LolEsportsFeed", "assign_game_winners", "window_starting_time"]

_WINDOW_LAG_S: Final = 60
_WINDOW_STEP_S: Final = 10
_EVENT_PHASE: Final = {
    "unstarted": MatchPhase.NOT_STARTED,
    "inProgress": MatchPhase.RUNNING,
    "completed": MatchPhase.FINISHED,
}


def window_starting_time(now_ns: int) -> str:
    """``startingTime`` for a live window: now − 60 s, rounded down to 10 s, RFC 3339."""
    secs = now_ns // NS_PER_S - _WINDOW_LAG_S
    secs -= secs % _WINDOW_STEP_S
    return ns_to_iso(secs * NS_PER_S, millis=True)


def assign_game_winners(
    winners: dict[int, str], finished: list[int], wins: dict[str, int]
) -> dict[int, str]:
    """Attribute ``gameWins`` to games.

    Parameters
    ----------
    winners
        Current attribution (game number -> side).
    finished
        Numbers of games known to be over, ascending.
    wins
        ``gameWins`` per side as the provider reports them now.

    Returns
    -------
    dict
        The new attribution: a side whose count dropped loses its latest games first, then
        each extra win goes to the earliest finished game without a winner.
    """
    out = dict(winners)
    for side in ("a", "b"):
        mine = sorted(n for n, s in out.items() if s == side)
        while len(mine) > wins.get(side, 0):
            del out[mine.pop()]
    for side in ("a", "b"):
        have = sum(1 for s in out.values() if s == side)
        for number in finished:
            if have >= wins.get(side, 0):
                break
            if number not in out:
                out[number] = side
                have += 1
    return out


@dataclass
class _Game:
    game_id: str
    number: int
    state: str
    frame: LeFrame | None = None
    blue_side: str | None = None


@dataclass
class _Match:
    ref: MatchRef
    event_state: str = "unstarted"
    outcome_winner: str | None = None
    wins: dict[str, int] = field(default_factory=dict)
    team_ids: dict[str, str] = field(default_factory=dict)
    games: dict[int, _Game] = field(default_factory=dict)
    winners: dict[int, str] = field(default_factory=dict)
    newest_frame_ns: int = 0

    def snap(self) -> MatchSnap:
        games = []
        for number in sorted(self.games):
            g = self.games[number]
            phase = _game_phase(g, self.winners.get(number))
            if phase is not None:
                games.append(_game_snap(g, phase, self.winners.get(number)))
        match_phase = _EVENT_PHASE.get(self.event_state, MatchPhase.NOT_STARTED)
        if match_phase is MatchPhase.FINISHED and self.outcome_winner is None:
            match_phase = MatchPhase.RUNNING
        return MatchSnap(
            phase=match_phase,
            games=tuple(games),
            winner=self.outcome_winner if match_phase is MatchPhase.FINISHED else None,
            score_a=self.wins.get("a"),
            score_b=self.wins.get("b"),
        )


def _game_phase(g: _Game, winner: str | None) -> GamePhase | None:
    if g.state == "unneeded":
        return None
    if winner is not None:
        return GamePhase.FINISHED
    frame_state = g.frame.gameState if g.frame is not None else ""
    if frame_state == "paused":
        return GamePhase.PAUSED
    if g.state in ("inProgress", "completed") or frame_state in ("in_game", "finished"):
        return GamePhase.RUNNING
    return GamePhase.NOT_STARTED


def _game_snap(g: _Game, phase: GamePhase, winner: str | None) -> GameSnap:
    if g.frame is None or g.blue_side is None:
        return GameSnap(number=g.number, phase=phase, winner=winner)
    red_side = "b" if g.blue_side == "a" else "a"
    per_side = {g.blue_side: g.frame.blueTeam, red_side: g.frame.redTeam}
    objectives = []
    for side, team in per_side.items():
        objectives += [
            (side, "towers", team.towers),
            (side, "inhibitors", team.inhibitors),
            (side, "barons", team.barons),
            (side, "dragons", len(team.dragons)),
        ]
    return GameSnap(
        number=g.number,
        phase=phase,
        winner=winner,
        kills_a=per_side["a"].totalKills,
        kills_b=per_side["b"].totalKills,
        objectives=tuple(sorted(objectives)),
    )


class LolEsportsFeed:
    """lolesports adapter.

    Parameters
    ----------
    core
        The adapter core (``base_url`` = esports-api host, ``feed_url`` = livestats host).
    transport
        Optional httpx transport (tests without sockets).
    """

    source = LOLESPORTS

    def __init__(self, core: FeedCore, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.core = core
        headers = {"x-api-key": core.settings.api_key} if core.settings.api_key else {}
        self._api = ProviderHttp(core, headers=headers, transport=transport)
        self._feed = ProviderHttp(
            core,
            headers=headers,
            base_url=core.settings.feed_url or core.settings.base_url,
            limiter=self._api.limiter,
            transport=transport,
        )
        self._matches: dict[str, _Match] = {}
        self._running = False

    async def run(self) -> None:
        """Poll until :meth:`aclose`."""
        self._running = True
        await run_polling(self, self.core, lambda: self._running)

    async def aclose(self) -> None:
        """Stop polling and close the HTTP pools."""
        self._running = False
        await self._api.aclose()
        await self._feed.aclose()

    async def poll_once(self) -> None:
        """Read the schedule, the details of live matches and their game windows."""
        core = self.core
        hl = core.settings.locale
        try:
            body = await self._api.get("/persisted/gw/getSchedule", {"hl": hl})
            schedule = decode(body, LeScheduleResponse, core.stats) if body else None
            for event in schedule.data.schedule.events if schedule else []:
                self._observe_schedule(event)
            for match_id, match in sorted(self._matches.items()):
                if match.event_state == "unstarted" or core.tracker(match.ref).finished:
                    continue
                await self._details(match_id, match)
                for game in match.games.values():
                    if game.state == "inProgress":
                        await self._window(match, game)
                self._publish(match)
            core.health.reachable()
        except (RetryableError, RejectError) as exc:
            core.round_failed(exc)
        core.health.check(core.live())

    def _observe_schedule(self, event: LeScheduleEvent) -> None:
        if event.type != "match" or event.match is None or len(event.match.teams) != 2:
            return
        m = event.match
        match = self._matches.get(m.id)
        if match is None:
            best_of = m.strategy.count if m.strategy and m.strategy.type == "bestOf" else None
            ref = self.core.directory.resolve(
                LOLESPORTS,
                m.id,
                game="lol",
                team_x=m.teams[0].name,
                team_y=m.teams[1].name,
                start_ns=iso_to_ns(event.startTime),
                best_of=best_of,
                create=self.core.settings.discover,
            )
            if ref is None:
                return
            match = _Match(ref=ref)
            self._matches[m.id] = match
        match.event_state = event.state
        self._read_results(match, m.teams)
        if event.state == "unstarted" or self.core.tracker(match.ref).snap is None:
            self._publish(match)

    def _side(self, match: _Match, team: LeTeam) -> str | None:
        directory = self.core.directory
        for name in (team.name, team.code):
            side = match.ref.side_of(directory.canonical(name)) if name else None
            if side is not None:
                return side
        return None

    def _read_results(self, match: _Match, teams: list[LeTeam]) -> None:
        wins: dict[str, int] = {}
        for team in teams:
            side = self._side(match, team)
            if side is None or team.result is None:
                continue
            wins[side] = team.result.gameWins
            if team.result.outcome == "win":
                match.outcome_winner = side
            if team.id:
                match.team_ids[team.id] = side
        if len(wins) == 2:
            match.wins = wins

    async def _details(self, match_id: str, match: _Match) -> None:
        params = {"hl": self.core.settings.locale, "id": match_id}
        body = await self._api.get("/persisted/gw/getEventDetails", params)
        details = decode(body, LeEventDetailsResponse, self.core.stats) if body else None
        event = details.data.event if details is not None else None
        if event is None or event.match is None:
            return
        self._read_results(match, event.match.teams)
        for g in event.match.games:
            self._update_game(match, g)

    def _update_game(self, match: _Match, g: LeGame) -> None:
        game = match.games.get(g.number)
        if game is None:
            game = _Game(game_id=g.id, number=g.number, state=g.state)
            match.games[g.number] = game
        game.state = g.state
        for t in g.teams:
            side = match.team_ids.get(t.id)
            if side is not None and t.side == "blue":
                game.blue_side = side
            elif side is not None and t.side == "red":
                game.blue_side = "b" if side == "a" else "a"

    async def _window(self, match: _Match, game: _Game) -> None:
        path = f"/livestats/v1/window/{game.game_id}"
        starting = window_starting_time(self.core.clock.now_ns())
        body = await self._feed.get(path, {"startingTime": starting})
        window = decode(body, LeWindow, self.core.stats) if body else None
        if window is None or not window.frames:
            return
        frame = window.frames[-1]
        ts = iso_to_ns(frame.rfc460Timestamp) or 0
        if ts > match.newest_frame_ns:
            match.newest_frame_ns = ts
            self.core.health.fresh()
        game.frame = frame

    def _publish(self, match: _Match) -> None:
        finished = sorted(
            n
            for n, g in match.games.items()
            if g.state == "completed" or (g.frame is not None and g.frame.gameState == "finished")
        )
        match.winners = assign_game_winners(match.winners, finished, match.wins)
        ts_event = match.newest_frame_ns or self.core.clock.now_ns()
        self.core.apply(match.ref, match.snap(), ts_event)
