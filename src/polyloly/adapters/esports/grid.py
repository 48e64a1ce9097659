"""GRID: Series State GraphQL polling plus the Series Events WebSocket.

How GRID signals things (reference §3):

* Series State (``POST /live-data-feed/series-state/graphql``, header ``x-api-key``):
  ``started``/``finished``/``valid``, ``teams[].score`` (games won) and ``won``,
  ``games[]`` with ``sequenceNumber`` (game number), ``started``/``finished``/``paused``,
  ``clock.currentSeconds``, per-game ``teams[].won``/``kills``, ``structures[]``;
* Series Events (``{ws_url}/live-data-feed/series/{id}?key=``): envelopes with a
  ``sequenceNumber`` (dedupe and order; reconnect resumes with ``fromSequenceNumber``),
  each event typed ``actor-action-target`` (``series-started-game``, ``series-paused-game``,
  ``series-resumed-game``, ``team-won-game`` — actor = winning team, ``series-ended-game``,
  ``team-won-series``, ``grid-invalidated-series``...) and usually carrying the full
  ``seriesState``; when it does not, the event type is applied to the last state.

A series GRID marks ``valid: false`` is not published until it is valid again.

A market found through Gamma is bound by :meth:`GridFeed.find_match`: the Central Data
series listing (``POST /central-data/graphql``, ``allSeries`` filtered by scheduled time and
title: LoL 3, Dota 2 2), matched on the two teams (alias table) and the nearest start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from polyloly.adapters.esports.base import FeedCore, ProviderHttp, decode, run_polling
from polyloly.adapters.esports.config import GRID
from polyloly.adapters.esports.identity import MatchRef
from polyloly.adapters.esports.parsing import best_of_from_format
from polyloly.adapters.esports.ratelimit import Backoff
from polyloly.adapters.esports.resolver import WantedMatch, iso_utc, pick_match
from polyloly.adapters.esports.schemas.grid import (
    GridCentralResponse,
    GridEnvelope,
    GridEvent,
    GridGameState,
    GridSeriesState,
    GridStateResponse,
)
from polyloly.adapters.esports.tracker import GamePhase, GameSnap, MatchPhase, MatchSnap
from polyloly.runtime.errors import RejectError, RetryableError
from polyloly.runtime.timefmt import iso_to_ns

__all__ = [
    "SERIES_LIST_QUERY",
    "SERIES_STATE_QUERY",
    "GridFeed",
    "apply_event",
    "series_snapshot",
]

SERIES_STATE_QUERY: Final = (
    "query($id: ID!) { seriesState(id: $id) { id format started finished valid updatedAt "
    "teams { id name score won kills } "
    "games { id sequenceNumber started finished paused clock { currentSeconds ticking } "
    "teams { id name side won score kills } structures { type side teamId destroyed } } } }"
)
STATE_PATH: Final = "/live-data-feed/series-state/graphql"
CENTRAL_PATH: Final = "/central-data/graphql"
SERIES_LIST_QUERY: Final = (
    "query($start: String!, $end: String!, $titleIds: [ID!]) { allSeries(first: 50, "
    "filter: {startTimeScheduled: {gte: $start, lte: $end}, titleIds: {in: $titleIds}}, "
    "orderBy: StartTimeScheduled, orderDirection: ASC) { totalCount edges { node { id "
    "startTimeScheduled title { nameShortened } format { nameShortened } "
    "teams { baseInfo { id name } } } } } }"
)
TITLE_IDS: Final = {"lol": "3", "dota2": "2"}
_GRAPHQL_HEADERS: Final = {"Content-Type": "application/json"}


def _game_snap(game: GridGameState, sides: dict[str, str]) -> GameSnap:
    winner = next((sides.get(t.id) for t in game.teams if t.won), None)
    if game.finished and winner is not None:
        phase = GamePhase.FINISHED
    elif game.paused:
        phase = GamePhase.PAUSED
    elif game.started or game.finished:
        phase = GamePhase.RUNNING
    else:
        phase = GamePhase.NOT_STARTED
    kills = {sides.get(t.id): t.kills for t in game.teams}
    destroyed: dict[tuple[str, str], int] = {}
    for s in game.structures:
        owner = sides.get(s.teamId)
        if s.destroyed and owner is not None:
            taker = "b" if owner == "a" else "a"
            destroyed[(taker, s.type)] = destroyed.get((taker, s.type), 0) + 1
    return GameSnap(
        number=game.sequenceNumber,
        phase=phase,
        winner=winner if phase is GamePhase.FINISHED else None,
        kills_a=kills.get("a"),
        kills_b=kills.get("b"),
        objectives=tuple(sorted((side, kind, n) for (side, kind), n in destroyed.items())),
    )


def series_snapshot(state: GridSeriesState, sides: dict[str, str]) -> MatchSnap:
    """Build the snapshot of a ``seriesState`` (``sides`` maps GRID team id -> a/b)."""
    games = tuple(_game_snap(g, sides) for g in sorted(state.games, key=lambda g: g.sequenceNumber))
    winner = next((sides.get(t.id) for t in state.teams if t.won), None)
    if state.finished and winner is not None:
        phase = MatchPhase.FINISHED
    elif (
        state.started or state.finished or any(g.phase is not GamePhase.NOT_STARTED for g in games)
    ):
        phase = MatchPhase.RUNNING
    else:
        phase = MatchPhase.NOT_STARTED
    scores = {sides.get(t.id): t.score for t in state.teams}
    return MatchSnap(
        phase=phase,
        games=games,
        winner=winner if phase is MatchPhase.FINISHED else None,
        score_a=scores.get("a"),
        score_b=scores.get("b"),
    )


def _replace_game(state: GridSeriesState, game_id: str, **changes: object) -> GridSeriesState:
    games = list(state.games)
    idx = next((i for i, g in enumerate(games) if g.id == game_id), None)
    if idx is None:
        number = max((g.sequenceNumber for g in games), default=0) + 1
        games.append(GridGameState(id=game_id, sequenceNumber=number))
        idx = len(games) - 1
    games[idx] = msgspec.structs.replace(games[idx], **changes)
    return msgspec.structs.replace(state, games=games)


def _won_game(state: GridSeriesState, game_id: str, actor: str) -> GridSeriesState:
    game = next((g for g in state.games if g.id == game_id), None)
    teams = [msgspec.structs.replace(t, won=t.id == actor) for t in (game.teams if game else [])]
    return _replace_game(state, game_id, teams=teams, finished=True, paused=False)


def _won_series(state: GridSeriesState, actor: str) -> GridSeriesState:
    teams = [msgspec.structs.replace(t, won=t.id == actor) for t in state.teams]
    return msgspec.structs.replace(state, teams=teams, finished=True)


_EventRule = Callable[[GridSeriesState, str, str], GridSeriesState]
_EVENT_RULES: Final[dict[str, _EventRule]] = {
    "series-started-game": lambda s, game, _actor: msgspec.structs.replace(
        _replace_game(s, game, started=True), started=True
    ),
    "series-paused-game": lambda s, game, _actor: _replace_game(s, game, paused=True),
    "series-resumed-game": lambda s, game, _actor: _replace_game(s, game, paused=False),
    "team-won-game": _won_game,
    "series-ended-game": lambda s, game, _actor: _replace_game(
        s, game, finished=True, paused=False
    ),
    "team-won-series": lambda s, _game, actor: _won_series(s, actor),
    "grid-invalidated-series": lambda s, _g, _a: msgspec.structs.replace(s, valid=False),
    "grid-validated-series": lambda s, _g, _a: msgspec.structs.replace(s, valid=True),
}


def apply_event(state: GridSeriesState, event: GridEvent) -> GridSeriesState:
    """Apply an event that carries no ``seriesState`` to the last known state.

    Event types GRID sends that do not change the result picture (kills without a state,
    picks, clock events...) leave the state as it is.
    """
    rule = _EVENT_RULES.get(event.type)
    if rule is None:
        return state
    target = str(event.target.id) if event.target is not None else ""
    actor = str(event.actor.id) if event.actor is not None else ""
    return rule(state, target, actor)


@dataclass
class _Series:
    series_id: str
    ref: MatchRef | None = None
    sides: dict[str, str] | None = None
    state: GridSeriesState | None = None
    last_seq: int = 0
    clocks: dict[str, int] = field(default_factory=dict)
    updated_at: str | None = None
    task: asyncio.Task[None] | None = None
    socket_done: bool = False
    next_connect_ns: int = 0
    failed_connects: int = 0


class GridFeed:
    """GRID adapter: follows the series ids bound to ``grid`` in the match directory.

    Parameters
    ----------
    core
        The adapter core (``base_url`` = API host, ``ws_url`` = events socket host).
    transport
        Optional httpx transport (tests without sockets).
    """

    source = GRID

    def __init__(self, core: FeedCore, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.core = core
        headers = {"x-api-key": core.settings.api_key} if core.settings.api_key else {}
        self._http = ProviderHttp(core, headers=headers, transport=transport)
        self._backoff = Backoff(
            core.settings.backoff_base_ms, core.settings.backoff_max_ms, core.rng
        )
        self._series: dict[str, _Series] = {}
        self._running = False

    async def run(self) -> None:
        """Poll and keep the event sockets open until :meth:`aclose`."""
        self._running = True
        await run_polling(self, self.core, lambda: self._running)

    async def aclose(self) -> None:
        """Stop, close sockets and the HTTP pool."""
        self._running = False
        for series in self._series.values():
            if series.task is not None:
                series.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await series.task
        await self._http.aclose()

    async def find_match(self, want: WantedMatch) -> str | None:
        """Search the Central Data series listing for ``want``; return its series id."""
        core = self.core
        window = core.directory.window_ns
        start = want.start_ns if want.start_ns is not None else core.clock.now_ns()
        variables = {
            "start": iso_utc(start - window),
            "end": iso_utc(start + window),
            "titleIds": [TITLE_IDS[want.game]] if want.game in TITLE_IDS else [],
        }
        body = msgspec.json.encode({"query": SERIES_LIST_QUERY, "variables": variables})
        data = await self._http.post(CENTRAL_PATH, body, _GRAPHQL_HEADERS)
        if data is None:
            return None
        resp = decode(data, GridCentralResponse, core.stats)
        if resp is None or resp.data is None or resp.data.allSeries is None:
            return None
        candidates = []
        for edge in resp.data.allSeries.edges:
            node = edge.node
            names = [t.baseInfo.name for t in node.teams if t.baseInfo] if node else []
            if node is not None and len(names) == 2:
                start_ns = iso_to_ns(node.startTimeScheduled)
                candidates.append((node.id, names[0], names[1], start_ns))
        return pick_match(candidates, want, core.directory.canonical, window)

    async def poll_once(self) -> None:
        """Poll the Series State of every followed series; (re)open event sockets."""
        core = self.core
        for sid in core.directory.bound_ids(GRID):
            self._series.setdefault(sid, _Series(sid))
        try:
            for series in self._series.values():
                if series.ref is not None and core.tracker(series.ref).finished:
                    continue
                await self._poll_series(series)
            core.health.reachable()
        except (RetryableError, RejectError) as exc:
            core.round_failed(exc)
        self._ensure_sockets()
        core.health.check(core.live())

    async def _poll_series(self, series: _Series) -> None:
        body = msgspec.json.encode(
            {"query": SERIES_STATE_QUERY, "variables": {"id": series.series_id}}
        )
        data = await self._http.post(STATE_PATH, body, _GRAPHQL_HEADERS)
        if data is None:
            return
        resp = decode(data, GridStateResponse, self.core.stats)
        if resp is None or resp.data is None or resp.data.seriesState is None:
            if resp is not None and resp.errors:
                raise RejectError(f"grid: GraphQL error on series {series.series_id}")
            return
        state = resp.data.seriesState
        clocks = {g.id: g.clock.currentSeconds for g in state.games if g.clock is not None}
        moved = any(c > series.clocks.get(gid, -1) for gid, c in clocks.items())
        if moved or state.updatedAt != series.updated_at:
            self.core.health.fresh()  # a game clock ticked or the state changed
        series.clocks.update(clocks)
        series.updated_at = state.updatedAt
        self._set_state(series, state, iso_to_ns(state.updatedAt), None)

    def _set_state(
        self, series: _Series, state: GridSeriesState, ts_event: int | None, seq: int | None
    ) -> None:
        series.state = state
        if series.ref is None and not self._resolve(series, state):
            return
        if not state.valid or series.ref is None or series.sides is None:
            return  # GRID itself says the data is not trustworthy right now
        snap = series_snapshot(state, series.sides)
        self.core.apply(series.ref, snap, ts_event or self.core.clock.now_ns(), seq)

    def _resolve(self, series: _Series, state: GridSeriesState) -> bool:
        if len(state.teams) != 2:
            return False
        directory = self.core.directory
        ref = directory.lookup(GRID, series.series_id) or directory.resolve(
            GRID,
            series.series_id,
            game="",
            team_x=state.teams[0].name,
            team_y=state.teams[1].name,
            best_of=best_of_from_format(state.format),
            create=self.core.settings.discover,
        )
        if ref is None:
            return False
        sides = {t.id: ref.side_of(directory.canonical(t.name)) for t in state.teams}
        if sorted(s or "" for s in sides.values()) != ["a", "b"]:
            return False
        series.ref = ref
        series.sides = {k: v for k, v in sides.items() if v is not None}
        return True

    # -- events socket --------------------------------------------------------------------------

    def _ensure_sockets(self) -> None:
        core = self.core
        if not core.settings.ws_url:
            return
        now = core.clock.now_ns()
        for series in self._series.values():
            if series.socket_done or (series.task is not None and not series.task.done()):
                continue
            if series.ref is not None and core.tracker(series.ref).finished:
                series.socket_done = True
                continue
            if now >= series.next_connect_ns:
                series.task = asyncio.create_task(self._read_events(series))

    async def _read_events(self, series: _Series) -> None:
        core = self.core
        url = (
            f"{core.settings.ws_url}/live-data-feed/series/{series.series_id}"
            f"?key={quote(core.settings.api_key)}&fromSequenceNumber={series.last_seq + 1}"
        )
        try:
            async with connect(url, open_timeout=10, max_size=2**24) as ws:
                series.failed_connects = 0
                await self._consume(ws, series)
        except (OSError, InvalidHandshake, WebSocketException, TimeoutError):
            core.stats.failures += 1
        if series.ref is not None and core.tracker(series.ref).finished:
            series.socket_done = True
            return
        core.stats.reconnects += 1
        delay = self._backoff.delay_ns(series.failed_connects)
        series.failed_connects += 1
        series.next_connect_ns = core.clock.now_ns() + delay

    async def _consume(self, ws: ClientConnection, series: _Series) -> None:
        async for message in ws:
            data = message.encode() if isinstance(message, str) else message
            self.on_envelope(series.series_id, data)

    def on_envelope(self, series_id: str, data: bytes) -> None:
        """Handle one Series Events message (public for replay and tests)."""
        core = self.core
        series = self._series.setdefault(series_id, _Series(series_id))
        core.stats.frames += 1
        env = decode(data, GridEnvelope, core.stats)
        if env is None:
            return
        if env.sequenceNumber <= series.last_seq:
            return  # a duplicate or a replay of what we already applied
        series.last_seq = env.sequenceNumber
        core.health.fresh()
        state = series.state or GridSeriesState(id=series_id)
        for event in env.events:
            state = (
                event.seriesState if event.seriesState is not None else apply_event(state, event)
            )
        self._set_state(series, state, iso_to_ns(env.occurredAt), env.sequenceNumber)
