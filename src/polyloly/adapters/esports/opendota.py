"""OpenDota (Dota 2): poll ``/live``, confirm finished games with ``/matches/{id}``.

How OpenDota signals things (reference §1):

* a game is live while it is in ``/live`` and its ``last_update_time`` keeps moving (the
  OpenDota worker refreshes it from Steam every ~60 s);
* a finished game is *not* reliably removed (OpenDota keeps the last state for up to 8 h),
  so a game whose ``last_update_time`` has not moved for more than ``frozen_polls`` polls
  (or that left the list) is only *suspected* over, and is confirmed by
  ``GET /matches/{match_id}`` (``radiant_win``; 404 until OpenDota has ingested it);
* there is no series object live: games are grouped by ``series_id`` (or, when it is 0,
  by the two teams via the match directory), numbered by first appearance, and the series
  is over when a team reaches the wins its best-of needs (from the binding or the
  confirmed match's ``series_type``: 0 = Bo1, 1 = Bo3, 2 = Bo5);
* kills are ``radiant_score`` / ``dire_score``; there is no live pause signal;
* the feed is fresh while the newest ``last_update_time`` in the whole list (pub games
  included) moves: one of our games freezing alone means it ended, the whole list freezing
  means OpenDota (or Steam) stalled.

Cadence and budget (reference §1: ``/live`` is refreshed every 60 s; unkeyed use is capped at
60 calls a minute and 3,000 a day): ``/live`` is asked at most once per ``poll_interval_ms``
(60 s); while a bound game is suspected over, rounds come every ``fast_poll_interval_ms``
(15 s) to ask ``/matches/{id}`` until OpenDota has it. Every interval is stretched so what is
left of the daily budget lasts the day (:meth:`FeedCore.poll_interval_ns`); a spent budget
refuses the round, counted (``throttled``) and warned, and the feed reports DOWN.

Sides swap between games; every number is mapped onto the canonical team through the
team names (``team_name_radiant`` / ``team_name_dire``) and the alias table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import msgspec

from polyloly.adapters.esports.base import FeedCore, ProviderHttp, decode, run_polling
from polyloly.adapters.esports.config import OPENDOTA
from polyloly.adapters.esports.identity import MatchRef
from polyloly.adapters.esports.parsing import series_winner
from polyloly.adapters.esports.schemas.opendota import LiveGame, OdMatch
from polyloly.adapters.esports.tracker import GamePhase, GameSnap, MatchPhase, MatchSnap
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S
from polyloly.runtime.errors import RejectError, RetryableError

__all__ = ["OpenDotaFeed", "best_of_from_series_type", "live_game_sides", "parse_live"]

_SERIES_TYPE_BEST_OF = {0: 1, 1: 3, 2: 5}
_LIVE_SLACK_NS = NS_PER_S  # a round that wakes a little early still asks /live


def best_of_from_series_type(series_type: int | None) -> int | None:
    """OpenDota ``series_type`` -> best-of (0 = Bo1, 1 = Bo3, 2 = Bo5)."""
    return None if series_type is None else _SERIES_TYPE_BEST_OF.get(series_type)


def parse_live(data: bytes, core: FeedCore) -> list[LiveGame]:
    """Decode a ``/live`` body item by item: ``null`` entries (expired) and malformed
    items are skipped, malformed ones counted."""
    raw_items = decode(data, list[msgspec.Raw], core.stats)
    if raw_items is None:
        return []
    games: list[LiveGame] = []
    for raw in raw_items:
        if bytes(raw).strip() == b"null":
            continue  # an expired redis blob: OpenDota emits null for it
        game = decode(bytes(raw), LiveGame, core.stats)
        if game is not None:
            games.append(game)
    return games


def live_game_sides(game: LiveGame, ref: MatchRef, core: FeedCore) -> tuple[str, str] | None:
    """Return ``(radiant_side, dire_side)`` as ``"a"``/``"b"``, or ``None`` if the names do
    not match the two teams of ``ref``."""
    radiant = ref.side_of(core.directory.canonical(game.team_name_radiant))
    dire = ref.side_of(core.directory.canonical(game.team_name_dire))
    if radiant is None or dire is None or radiant == dire:
        return None
    return radiant, dire


@dataclass
class _Game:
    match_id: str
    number: int
    radiant_side: str
    last_update_time: int
    activate_time: int
    kills_a: int = 0
    kills_b: int = 0
    frozen_polls: int = 0
    seen_this_poll: bool = True
    winner: str | None = None
    end_ns: int | None = None


@dataclass
class _Series:
    ref: MatchRef
    best_of: int | None
    games: dict[str, _Game] = field(default_factory=dict)
    ts_event_ns: int = 0  # provider time of the latest thing seen (update or game end)

    def snap(self) -> MatchSnap:
        games = tuple(
            GameSnap(
                number=g.number,
                phase=GamePhase.FINISHED if g.winner else GamePhase.RUNNING,
                winner=g.winner,
                kills_a=g.kills_a,
                kills_b=g.kills_b,
            )
            for g in sorted(self.games.values(), key=lambda g: g.number)
        )
        score_a = sum(1 for g in games if g.winner == "a")
        score_b = sum(1 for g in games if g.winner == "b")
        winner = series_winner(score_a, score_b, self.best_of)
        return MatchSnap(
            phase=MatchPhase.FINISHED if winner else MatchPhase.RUNNING,
            games=games,
            winner=winner,
            score_a=score_a,
            score_b=score_b,
        )


class OpenDotaFeed:
    """OpenDota adapter (implements :class:`~polyloly.adapters.esports.base.EsportsFeed`).

    Parameters
    ----------
    core
        The adapter core (settings with ``base_url`` ending in ``/api``).
    transport
        Optional httpx transport (tests without sockets).
    """

    source = OPENDOTA

    def __init__(self, core: FeedCore, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.core = core
        headers = {}
        if core.settings.api_key:
            headers["Authorization"] = f"Bearer {core.settings.api_key}"
        self._http = ProviderHttp(core, headers=headers, transport=transport)
        self._series: dict[str, _Series] = {}
        self._game_series: dict[str, str] = {}
        self._newest_update = 0
        self._next_live_ns = 0
        self._running = False

    async def run(self) -> None:
        """Poll until :meth:`aclose`."""
        self._running = True
        await run_polling(self, self.core, lambda: self._running, self.urgent)

    def urgent(self) -> bool:
        """Whether a bound game is near its end: suspected over, its result not confirmed."""
        limit = self.core.settings.frozen_polls
        return any(
            g.winner is None and g.frozen_polls > limit
            for series in self._series.values()
            if not self.core.tracker(series.ref).finished
            for g in series.games.values()
        )

    async def aclose(self) -> None:
        """Stop polling and close the HTTP pool."""
        self._running = False
        await self._http.aclose()

    async def poll_once(self) -> None:
        """Fetch ``/live``, confirm suspected-over games, publish the changes."""
        core = self.core
        now = core.clock.now_ns()
        try:
            if now < self._next_live_ns:
                await self._confirm_suspects(live_polled=False)  # a fast round: /matches only
                return
            self._next_live_ns = now + core.settings.poll_interval_ms * NS_PER_MS - _LIVE_SLACK_NS
            body = await self._http.get("/live")
            core.health.reachable()
            for series in self._series.values():
                for tracked in series.games.values():
                    tracked.seen_this_poll = False
            if body is not None:
                live = sorted(parse_live(body, core), key=lambda g: (g.activate_time, g.match_id))
                newest = max((g.last_update_time for g in live), default=0)
                if newest > self._newest_update:
                    # Freshness is the whole list moving (pub games included): one of our
                    # games freezing alone means it ended, the list freezing means a stall.
                    self._newest_update = newest
                    core.health.fresh()
                for item in live:
                    self._observe(item)
            await self._confirm_suspects(live_polled=True)
        except (RetryableError, RejectError) as exc:
            core.round_failed(exc)
        finally:
            self._publish_all()
            core.health.check(core.live())

    # -- internals ------------------------------------------------------------------------------

    def _observe(self, item: LiveGame) -> None:
        core = self.core
        if not item.team_name_radiant or not item.team_name_dire:
            return  # a pub game: not a match anyone trades
        known_series = self._game_series.get(item.match_id)
        if known_series is not None:
            series = self._series[known_series]
        else:
            pid = str(item.series_id) if item.series_id else f"match-{item.match_id}"
            ref = core.directory.resolve(
                OPENDOTA,
                pid,
                game="dota2",
                team_x=item.team_name_radiant,
                team_y=item.team_name_dire,
                start_ns=item.activate_time * NS_PER_S,
                create=self.core.settings.discover,
            )
            if ref is None:
                return
            series = self._series.setdefault(ref.match_id, _Series(ref, ref.best_of))
        sides = live_game_sides(item, series.ref, core)
        if sides is None:
            return
        game = series.games.get(item.match_id)
        if game is None:
            game = _Game(
                match_id=item.match_id,
                number=len(series.games) + 1,
                radiant_side=sides[0],
                last_update_time=item.last_update_time,
                activate_time=item.activate_time,
            )
            series.games[item.match_id] = game
            self._game_series[item.match_id] = series.ref.match_id
        elif item.last_update_time > game.last_update_time:
            game.last_update_time = item.last_update_time
            game.frozen_polls = 0
        else:
            game.frozen_polls += 1
        game.seen_this_poll = True
        series.ts_event_ns = max(series.ts_event_ns, item.last_update_time * NS_PER_S)
        kills = {sides[0]: item.radiant_score, sides[1]: item.dire_score}
        if game.winner is None:
            game.kills_a, game.kills_b = kills["a"], kills["b"]

    async def _confirm_suspects(self, *, live_polled: bool) -> None:
        limit = self.core.settings.frozen_polls
        for series in self._series.values():
            for game in series.games.values():
                if game.winner is not None:
                    continue
                if live_polled and not game.seen_this_poll:
                    game.frozen_polls += 1
                if game.frozen_polls > limit:
                    await self._confirm(series, game)

    async def _confirm(self, series: _Series, game: _Game) -> None:
        body = await self._http.get(f"/matches/{game.match_id}")
        if body is None:
            return  # not ingested yet (404): ask again next poll
        match = decode(body, OdMatch, self.core.stats)
        if match is None or match.radiant_win is None:
            return
        dire_side = "b" if game.radiant_side == "a" else "a"
        game.winner = game.radiant_side if match.radiant_win else dire_side
        game.end_ns = (match.start_time + match.duration) * NS_PER_S
        series.ts_event_ns = game.end_ns  # the result is as of the game's end
        if series.best_of is None:
            series.best_of = best_of_from_series_type(match.series_type)
        radiant_kills, dire_kills = match.radiant_score, match.dire_score
        if game.radiant_side == "a":
            game.kills_a, game.kills_b = radiant_kills, dire_kills
        else:
            game.kills_a, game.kills_b = dire_kills, radiant_kills

    def _publish_all(self) -> None:
        for series in self._series.values():
            tracker = self.core.tracker(series.ref)
            if tracker.finished:
                continue
            ts_event = series.ts_event_ns or self.core.clock.now_ns()
            provider_seq = max((g.last_update_time for g in series.games.values()), default=0)
            self.core.apply(series.ref, series.snap(), ts_event, provider_seq)
