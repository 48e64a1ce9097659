"""PandaScore (LoL, Dota 2): REST match objects plus the live frames WebSocket.

How PandaScore signals things (reference §2):

* REST ``/{lol|dota2}/matches/running`` lists running matches; ``/matches/{id}`` has the
  ``status`` (not_started, running, finished, canceled, postponed), ``winner_id``,
  ``results[]`` (games won per team) and ``games[]`` (``status``, ``winner.id``);
* the frames socket ``{ws_url}/matches/{id}?token=`` opens 15 min before the match, first
  says ``{"type":"hello","payload":{}}``, then pushes frames: ``paused``, ``finished`` +
  ``winner_id`` at game end, team ``kills``/``towers``/``drakes``/... (LoL ``blue``/``red``,
  Dota ``radiant``/``dire`` with ``score`` = kills); it closes with code 1000 when the
  match is over, which this adapter confirms at once with REST (``status: finished``);
  4001/4003 (token, plan) are not retried, other closes reconnect with backoff;
* with ``live_events`` (Pro plan) the events socket ``/matches/{id}/events`` supplies kills
  and objectives one by one (and ``recover`` replays a game after a reconnect, see
  :mod:`.pandascore_events`); frame totals are then not diffed, so nothing is counted twice.

REST and frames update one picture per match; REST's finished games win over frames (a
curated result can correct a live one).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from polyloly.adapters.esports.base import FeedCore, ProviderHttp, decode, run_polling
from polyloly.adapters.esports.config import PANDASCORE
from polyloly.adapters.esports.identity import MatchRef
from polyloly.adapters.esports.pandascore_events import LiveEventDeduper, PsLiveEvent, classify
from polyloly.adapters.esports.ratelimit import Backoff
from polyloly.adapters.esports.schemas.pandascore import (
    PsFrame,
    PsGame,
    PsMatch,
    PsMessageType,
)
from polyloly.adapters.esports.tracker import GamePhase, GameSnap, MatchPhase, MatchSnap
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import RejectError, RetryableError
from polyloly.runtime.timefmt import iso_to_ns

__all__ = ["FrameGame", "PandaScoreFeed", "frame_game", "match_snapshot", "team_sides"]

_MATCH_PHASE: Final = {
    "not_started": MatchPhase.NOT_STARTED,
    "postponed": MatchPhase.NOT_STARTED,
    "running": MatchPhase.RUNNING,
    "finished": MatchPhase.FINISHED,
    "canceled": MatchPhase.CANCELED,
}
_GAME_PHASE: Final = {
    "not_started": GamePhase.NOT_STARTED,
    "running": GamePhase.RUNNING,
    "finished": GamePhase.FINISHED,
}
_VIDEOGAME: Final = {"league-of-legends": "lol", "lol": "lol", "dota-2": "dota2", "dota2": "dota2"}
_CLOSE_FINISHED: Final = 1000
_CLOSE_NO_RETRY: Final = frozenset({4001, 4003})
_LOL_OBJECTIVES: Final = ("towers", "drakes", "nashors", "herald", "inhibitors", "voidgrubs")


@dataclass(frozen=True)
class FrameGame:
    """What the last frame said about one game."""

    game_id: int
    phase: GamePhase
    winner: str | None
    kills_a: int
    kills_b: int
    objectives: tuple[tuple[str, str, int], ...]
    current_timestamp: int
    series_games_won: int


def team_sides(match: PsMatch, ref: MatchRef, canonical: dict[str, str]) -> dict[int, str]:
    """Map each opponent's team id to side ``a``/``b`` (by name, then acronym)."""
    sides: dict[int, str] = {}
    for opp in match.opponents:
        team = opp.opponent
        for name in (team.name, team.acronym or ""):
            side = ref.side_of(canonical.get(name, ""))
            if side is not None:
                sides[team.id] = side
                break
    return sides


def frame_game(frame: PsFrame, sides: dict[int, str]) -> FrameGame | None:
    """Read one frame into a :class:`FrameGame` (``None`` if its teams are unknown)."""
    pair = (frame.blue, frame.red) if frame.blue is not None else (frame.radiant, frame.dire)
    if pair[0] is None or pair[1] is None:
        return None
    side_0, side_1 = sides.get(pair[0].id), sides.get(pair[1].id)
    if side_0 is None or side_1 is None or side_0 == side_1:
        return None
    kills = {side_0: 0, side_1: 0}
    objectives: list[tuple[str, str, int]] = []
    if frame.blue is not None and frame.red is not None:
        for side, team in ((side_0, frame.blue), (side_1, frame.red)):
            kills[side] = team.kills
            objectives.extend((side, kind, getattr(team, kind)) for kind in _LOL_OBJECTIVES)
        won = frame.blue.score + frame.red.score
    else:
        kills = {side_0: pair[0].score, side_1: pair[1].score}
        won = 0
    winner = sides.get(frame.winner_id) if frame.winner_id is not None else None
    if frame.finished and winner is not None:
        phase = GamePhase.FINISHED
    elif frame.paused:
        phase = GamePhase.PAUSED
    else:
        phase = GamePhase.RUNNING
    return FrameGame(
        game_id=frame.game.id,
        phase=phase,
        winner=winner if phase is GamePhase.FINISHED else None,
        kills_a=kills["a"],
        kills_b=kills["b"],
        objectives=tuple(sorted(objectives)),
        current_timestamp=frame.current_timestamp,
        series_games_won=won,
    )


def _rest_game(game: PsGame, sides: dict[int, str]) -> GameSnap | None:
    phase = _GAME_PHASE.get(game.status)
    if phase is None:
        return None  # not_played
    winner = None
    if game.winner is not None and game.winner.id is not None:
        winner = sides.get(game.winner.id)
    if phase is GamePhase.FINISHED and winner is None:
        phase = GamePhase.RUNNING  # finished without a winner yet: still waiting on it
    return GameSnap(number=game.position, phase=phase, winner=winner)


def match_snapshot(
    match: PsMatch,
    sides: dict[int, str],
    frames: dict[int, FrameGame] | None = None,
    counts: bool = True,
) -> MatchSnap:
    """Build the snapshot of a REST match object, overlaid with live frame data.

    ``counts=False`` leaves kills and objectives out (they come from the events socket).
    """
    by_number: dict[int, GameSnap] = {}
    number_of: dict[int, int] = {}
    for g in match.games:
        number_of[g.id] = g.position
        snap = _rest_game(g, sides)
        if snap is not None:
            by_number[g.position] = snap
    for fg in (frames or {}).values():
        number = number_of.get(fg.game_id, fg.series_games_won + 1)
        rest = by_number.get(number)
        rest_final = rest is not None and rest.phase is GamePhase.FINISHED
        by_number[number] = GameSnap(
            number=number,
            phase=rest.phase if rest is not None and rest_final else fg.phase,
            winner=rest.winner if rest is not None and rest_final else fg.winner,
            kills_a=fg.kills_a if counts else None,
            kills_b=fg.kills_b if counts else None,
            objectives=fg.objectives if counts else (),
        )
    phase = _MATCH_PHASE.get(match.status, MatchPhase.NOT_STARTED)
    if phase is MatchPhase.NOT_STARTED and any(
        g.phase is not GamePhase.NOT_STARTED for g in by_number.values()
    ):
        phase = MatchPhase.RUNNING  # the live socket is ahead of REST's status
    winner = sides.get(match.winner_id) if match.winner_id is not None else None
    if phase is MatchPhase.FINISHED and winner is None and not match.draw:
        phase = MatchPhase.RUNNING  # finished but the winner is not filled in yet
    scores = {sides.get(r.team_id or -1): r.score for r in match.results}
    return MatchSnap(
        phase=phase,
        games=tuple(by_number[n] for n in sorted(by_number)),
        winner=winner if phase is MatchPhase.FINISHED else None,
        score_a=scores.get("a"),
        score_b=scores.get("b"),
    )


@dataclass
class _EventsSocket:
    task: asyncio.Task[None] | None = None
    done: bool = False
    next_connect_ns: int = 0
    failed_connects: int = 0
    connections: int = 0
    dedupe: LiveEventDeduper = field(default_factory=LiveEventDeduper)


@dataclass
class _State:
    ref: MatchRef
    match: PsMatch
    sides: dict[int, str]
    frames: dict[int, FrameGame] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    socket_done: bool = False
    next_connect_ns: int = 0
    failed_connects: int = 0
    events: _EventsSocket = field(default_factory=_EventsSocket)


class PandaScoreFeed:
    """PandaScore adapter (REST polling + live frames socket per running match).

    Parameters
    ----------
    core
        The adapter core (``base_url`` = REST, ``ws_url`` = live socket base).
    transport
        Optional httpx transport (tests without sockets).
    """

    source = PANDASCORE

    def __init__(self, core: FeedCore, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.core = core
        headers = {}
        if core.settings.api_key:
            headers["Authorization"] = f"Bearer {core.settings.api_key}"
        self._http = ProviderHttp(core, headers=headers, transport=transport)
        self._backoff = Backoff(
            core.settings.backoff_base_ms, core.settings.backoff_max_ms, core.rng
        )
        self._states: dict[int, _State] = {}
        self._running = False

    async def run(self) -> None:
        """Poll and keep the live sockets open until :meth:`aclose`."""
        self._running = True
        await run_polling(self, self.core, lambda: self._running)

    async def aclose(self) -> None:
        """Stop, close sockets and the HTTP pool."""
        self._running = False
        for state in self._states.values():
            for task in (state.task, state.events.task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        await self._http.aclose()

    async def poll_once(self) -> None:
        """Refresh running and bound matches over REST; (re)open live sockets."""
        core = self.core
        try:
            seen: set[int] = set()
            for videogame in core.settings.games:
                body = await self._http.get(f"/{videogame}/matches/running", {"per_page": 100})
                for match in self._decode_list(body):
                    seen.add(match.id)
                    self._observe(match, videogame)
            core.health.reachable()
            await self._refresh_others(seen)
        except (RetryableError, RejectError) as exc:
            core.round_failed(exc)
        self._ensure_sockets()
        core.health.check(core.live())

    # -- REST -----------------------------------------------------------------------------------

    def _decode_list(self, body: bytes | None) -> list[PsMatch]:
        if body is None:
            return []
        raw_items = decode(body, list[msgspec.Raw], self.core.stats)
        out = []
        for raw in raw_items or []:
            match = decode(bytes(raw), PsMatch, self.core.stats)
            if match is not None:
                out.append(match)
        return out

    async def _refresh_others(self, seen: set[int]) -> None:
        wanted = {int(pid) for pid in self.core.directory.bound_ids(PANDASCORE) if pid.isdigit()}
        wanted |= set(self._states)
        for match_id in sorted(wanted - seen):
            state = self._states.get(match_id)
            if state is not None and self.core.tracker(state.ref).finished:
                continue
            await self._refresh(match_id)

    async def _refresh(self, match_id: int) -> None:
        body = await self._http.get(f"/matches/{match_id}")
        if body is None:
            return
        match = decode(body, PsMatch, self.core.stats)
        if match is not None:
            self._observe(match, None)

    def _observe(self, match: PsMatch, videogame: str | None) -> None:
        state = self._states.get(match.id)
        if state is None:
            state = self._new_state(match, videogame)
            if state is None:
                return
            self._states[match.id] = state
        state.match = match
        self._publish(state, iso_to_ns(match.modified_at) or self.core.clock.now_ns())

    def _new_state(self, match: PsMatch, videogame: str | None) -> _State | None:
        if len(match.opponents) != 2:
            return None  # "TBD vs TBD": nothing to attribute yet
        slug = match.videogame.slug if match.videogame is not None else ""
        game = _VIDEOGAME.get(slug) or _VIDEOGAME.get(videogame or "", "")
        best_of = match.number_of_games if match.match_type == "best_of" else None
        first, second = (o.opponent for o in match.opponents)
        ref = self.core.directory.resolve(
            PANDASCORE,
            str(match.id),
            game=game,
            team_x=first.name or first.acronym or "",
            team_y=second.name or second.acronym or "",
            start_ns=iso_to_ns(match.scheduled_at or match.begin_at),
            best_of=best_of,
            create=self.core.settings.discover,
        )
        if ref is None:
            return None
        directory = self.core.directory
        names = {n: directory.canonical(n) for o in match.opponents for n in _names(o.opponent)}
        sides = team_sides(match, ref, names)
        if sorted(sides.values()) != ["a", "b"]:
            return None
        return _State(ref=ref, match=match, sides=sides)

    def _publish(self, state: _State, ts_event: int) -> None:
        counts = not self.core.settings.live_events
        snap = match_snapshot(state.match, state.sides, state.frames, counts)
        self.core.apply(state.ref, snap, ts_event)

    # -- live socket ----------------------------------------------------------------------------

    def _ensure_sockets(self) -> None:
        core = self.core
        if not core.settings.ws_url:
            return
        now = core.clock.now_ns()
        for state in self._states.values():
            live = state.match.live
            if live is None or not live.supported or state.socket_done:
                continue
            if state.match.status not in ("running", "not_started"):
                continue
            if core.settings.live_events:
                self._ensure_events(state, now)
            if state.task is not None and not state.task.done():
                continue
            if now < state.next_connect_ns:
                continue
            state.task = asyncio.create_task(self._read_frames(state))

    def _ensure_events(self, state: _State, now: int) -> None:
        sock = state.events
        if sock.done or (sock.task is not None and not sock.task.done()):
            return
        if now >= sock.next_connect_ns:
            sock.task = asyncio.create_task(self._read_events(state))

    def _url(self, path: str) -> str:
        url = f"{self.core.settings.ws_url}{path}"
        if self.core.settings.api_key:
            url += f"?token={quote(self.core.settings.api_key)}"
        return url

    async def _read_frames(self, state: _State) -> None:
        core = self.core
        url = self._url(f"/matches/{state.match.id}")
        close_code: int | None = None
        try:
            async with connect(url, open_timeout=10, max_size=2**22) as ws:
                state.failed_connects = 0
                await self._consume(ws, state)
                close_code = ws.close_code
        except (OSError, InvalidHandshake, WebSocketException, TimeoutError) as exc:
            core.stats.failures += 1
            close_code = getattr(getattr(exc, "rcvd", None), "code", None)
        if close_code == _CLOSE_FINISHED:
            state.socket_done = True
            with contextlib.suppress(RetryableError, RejectError):
                await self._refresh(state.match.id)  # confirm with REST: status finished
            return
        if close_code in _CLOSE_NO_RETRY:
            state.socket_done = True  # token or plan refused: retrying cannot help
            return
        core.stats.reconnects += 1
        delay = self._backoff.delay_ns(state.failed_connects)
        state.failed_connects += 1
        state.next_connect_ns = core.clock.now_ns() + delay

    async def _read_events(self, state: _State) -> None:
        core = self.core
        sock = state.events
        close_code: int | None = None
        try:
            async with connect(self._url(f"/matches/{state.match.id}/events")) as ws:
                sock.failed_connects = 0
                sock.dedupe.new_connection()
                game_id = self._current_game_id(state)
                if sock.connections > 0 and game_id is not None:
                    # Replay what this game pushed while we were away (LoL and CS only).
                    recover = {"type": "recover", "payload": {"game_id": game_id}}
                    await ws.send(msgspec.json.encode(recover).decode())  # a text frame
                sock.connections += 1
                async for message in ws:
                    data = message.encode() if isinstance(message, str) else message
                    self.on_live_event(state.match.id, data)
                close_code = ws.close_code
        except (OSError, InvalidHandshake, WebSocketException, TimeoutError) as exc:
            core.stats.failures += 1
            close_code = getattr(getattr(exc, "rcvd", None), "code", None)
        if close_code == _CLOSE_FINISHED or close_code in _CLOSE_NO_RETRY:
            sock.done = True
            return
        core.stats.reconnects += 1
        sock.next_connect_ns = core.clock.now_ns() + self._backoff.delay_ns(sock.failed_connects)
        sock.failed_connects += 1

    @staticmethod
    def _current_game_id(state: _State) -> int | None:
        running = [g.id for g in state.match.games if g.status == "running"]
        if running:
            return running[-1]
        return max(state.frames, default=None)

    def on_live_event(self, match_id: int, data: bytes) -> None:
        """Handle one events-socket message (public for replay and tests)."""
        core = self.core
        state = self._states.get(match_id)
        if state is None:
            return
        core.stats.frames += 1
        kind = decode(data, PsMessageType, core.stats)
        if kind is None or kind.type in ("hello", "recover", "ping"):
            return
        event = decode(data, PsLiveEvent, core.stats)
        if event is None or not state.events.dedupe.is_new(event):
            return
        found = classify(event)
        side = state.sides.get(found[2]) if found is not None and found[2] is not None else None
        if found is None or side is None:
            return
        number = next((g.position for g in state.match.games if g.id == event.game_id), None)
        detail: dict[str, object] = {"team": state.ref.team(side), "delta": 1, "feed": "events"}
        if found[1]:
            detail["objective"] = found[1]
        detail["ingame_timestamp"] = event.ingame_timestamp
        now = core.clock.now_ns()
        tracker = core.tracker(state.ref)
        note = tracker.note(found[0], game_number=number, detail=detail, ts_event=now, ts_init=now)
        core.health.fresh()
        core.emit([note])

    async def _consume(self, ws: ClientConnection, state: _State) -> None:
        async for message in ws:
            data = message.encode() if isinstance(message, str) else message
            self.on_frame(state.match.id, data)

    def on_frame(self, match_id: int, data: bytes) -> None:
        """Handle one socket message for ``match_id`` (public for replay and tests)."""
        core = self.core
        state = self._states.get(match_id)
        if state is None:
            return
        core.stats.frames += 1
        kind = decode(data, PsMessageType, core.stats)
        if kind is None or kind.type in ("hello", "recover", "ping"):
            return
        frame = decode(data, PsFrame, core.stats)
        if frame is None or frame.match.id != match_id:
            return
        fg = frame_game(frame, state.sides)
        if fg is None:
            core.stats.malformed += 1
            return
        before = state.frames.get(fg.game_id)
        if before is None or fg.current_timestamp > before.current_timestamp or fg != before:
            core.health.fresh()
        state.frames[fg.game_id] = fg
        self._publish(state, self._frame_time(state, fg))

    def _frame_time(self, state: _State, fg: FrameGame) -> int:
        for game in state.match.games:
            begin = iso_to_ns(game.begin_at) if game.id == fg.game_id else None
            if begin is not None:
                return begin + fg.current_timestamp * NS_PER_S
        return self.core.clock.now_ns()


def _names(team: object) -> list[str]:
    name = getattr(team, "name", "") or ""
    acronym = getattr(team, "acronym", "") or ""
    return [n for n in (name, acronym) if n]
