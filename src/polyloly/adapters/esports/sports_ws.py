"""Polymarket's own Sports WebSocket as an esports source (and the baseline of our lead).

Protocol (reference esports §6; docs.polymarket.com market-data/websocket/sports):
``wss://sports-api.polymarket.com/ws``, no auth and no subscription message; the server
sends a text ``ping`` every 5 s and expects ``pong`` within 10 s; results arrive as
``sport_result`` JSON objects (``slug``, ``homeTeam``/``awayTeam``, ``status``, ``score``
``"<kills>|<maps home>-<maps away>|Bo3"``, ``period`` ``"2/3"``, ``live``, ``ended``,
``finished_timestamp``).

Normalization: the series score's increments are map results (home = the side the message
calls home, mapped onto the canonical teams through the alias table); a map score first seen
already mixed (1-1) gives no map results for the maps before it, since their order is
unknown; ``ended`` with a decided score is the match result. A message binds to a market's
match by its ``slug`` (Polymarket's event slug is the market's match id) or, failing that,
by the two teams and the game (from the slug's prefix).

The venue warns that the feed "may be delayed or wrong": the provider defaults make it
``confirm_only`` (it confirms a result, it never makes one tradable alone) with its own
weight. It is also the baseline our lead is measured against (``polyloly latency``).

Connection: one socket task, watched by the polling loop (every ``poll_interval_ms``): it is
reopened with jittered backoff when it drops, and closed by the stale-feed guard of the other
sockets when no message (a ping counts) came for ``stale_after_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from typing import Final

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from polyloly.adapters.esports.base import FeedCore, decode, run_polling
from polyloly.adapters.esports.config import POLYMARKET_SPORTS
from polyloly.adapters.esports.identity import MatchRef
from polyloly.adapters.esports.parsing import series_winner
from polyloly.adapters.esports.ratelimit import Backoff
from polyloly.adapters.esports.schemas.sports import SportResult
from polyloly.adapters.esports.tracker import GamePhase, GameSnap, MatchPhase, MatchSnap
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S
from polyloly.runtime.timefmt import iso_to_ns

__all__ = ["PolymarketSportsFeed", "parse_score"]

_SCORE: Final = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_BEST_OF: Final = re.compile(r"^\s*bo(\d+)\s*$", re.IGNORECASE)
_GAMES: Final = {"lol": "lol", "league-of-legends": "lol", "dota2": "dota2", "dota-2": "dota2"}
_CANCELED: Final = frozenset({"canceled", "cancelled", "postponed"})


def parse_score(score: str) -> tuple[int, int, int | None] | None:
    """``"000-000|2-0|Bo3"`` -> ``(2, 0, 3)`` (maps home, maps away, best-of)."""
    parts = score.split("|")
    if len(parts) < 2:
        return None
    maps = _SCORE.match(parts[1])
    if maps is None:
        return None
    best_of = None
    if len(parts) > 2:
        bo = _BEST_OF.match(parts[2])
        best_of = int(bo.group(1)) if bo else None
    return int(maps.group(1)), int(maps.group(2)), best_of


def _game_of(slug: str, league: str) -> str:
    head = slug.split("-", 1)[0].lower() if slug else ""
    return _GAMES.get(head) or _GAMES.get(league.lower(), "")


@dataclass
class _Series:
    ref: MatchRef
    home_side: str  # "a" | "b": the side the venue calls home
    winners: list[str | None] = field(default_factory=list)  # map winners, in order
    maps: tuple[int, int] = (0, 0)  # (home, away) as last shown


class PolymarketSportsFeed:
    """Polymarket Sports WebSocket adapter.

    Parameters
    ----------
    core
        The adapter core (``ws_url`` = the channel's URL).
    transport
        Unused (the channel is a socket); kept for the factory's signature.
    """

    source = POLYMARKET_SPORTS

    def __init__(self, core: FeedCore, transport: httpx.AsyncBaseTransport | None = None) -> None:
        del transport
        self.core = core
        self._backoff = Backoff(
            core.settings.backoff_base_ms, core.settings.backoff_max_ms, core.rng
        )
        self._series: dict[str, _Series] = {}
        self._running = False
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_ns = 0
        self._next_connect_ns = 0
        self._failed = 0
        self.pongs = 0
        self.stale_closes = 0

    async def poll_once(self) -> None:
        """Keep the socket up: (re)connect when due, close it when it went stale."""
        core = self.core
        now = core.clock.now_ns()
        task = self._task
        if task is not None and not task.done():
            if now - self._last_ns > core.settings.stale_after_ms * NS_PER_MS:
                # The stale-feed guard: not even a ping for stale_after_ms.
                core.health.disconnected(f"no message for {core.settings.stale_after_ms} ms")
                self.stale_closes += 1
                ws = self._ws
                if ws is not None:
                    await ws.close()
            return
        if self._running and now >= self._next_connect_ns:
            self._last_ns = now
            self._task = asyncio.create_task(self._connect())

    async def run(self) -> None:
        """Stay connected until :meth:`aclose` (checked every ``poll_interval_ms``)."""
        self._running = True
        await run_polling(self, self.core, lambda: self._running)

    async def aclose(self) -> None:
        """Stop and close the socket."""
        self._running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _connect(self) -> None:
        core = self.core
        try:
            async with connect(
                core.settings.ws_url, open_timeout=10, ping_interval=None, max_size=2**20
            ) as ws:
                self._ws = ws
                self._failed = 0
                core.health.reachable()
                await self._consume(ws)
        except (OSError, InvalidHandshake, WebSocketException, TimeoutError) as exc:
            core.stats.failures += 1
            core.health.disconnected(type(exc).__name__)
        finally:
            self._ws = None
        core.stats.reconnects += 1
        self._next_connect_ns = core.clock.now_ns() + self._backoff.delay_ns(self._failed)
        self._failed += 1

    async def _consume(self, ws: ClientConnection) -> None:
        async for message in ws:
            self._last_ns = self.core.clock.now_ns()
            text = message.decode() if isinstance(message, bytes) else message
            if text.strip().lower() == "ping":
                await ws.send("pong")
                self.pongs += 1
                self.core.health.reachable()
                continue
            self.on_message(text.encode())

    # -- normalization (public for replay and tests) -----------------------------------------

    def on_message(self, data: bytes) -> None:
        """Handle one channel message (a ``sport_result`` object, or a list of them)."""
        core = self.core
        core.stats.frames += 1
        stripped = data.lstrip()
        if stripped.startswith(b"["):
            items = decode(data, list[SportResult], core.stats) or []
        else:
            one = decode(data, SportResult, core.stats)
            items = [one] if one is not None else []
        for item in items:
            if item.type and item.type != "sport_result":
                continue
            self._observe(item)

    def _resolve(self, item: SportResult) -> _Series | None:
        key = item.slug or f"{item.homeTeam}|{item.awayTeam}"
        known = self._series.get(key)
        if known is not None:
            return known
        directory = self.core.directory
        game = _game_of(item.slug, item.leagueAbbreviation)
        ref = directory.lookup(POLYMARKET_SPORTS, key)
        if ref is None and item.slug and directory.attach(item.slug, POLYMARKET_SPORTS, key):
            ref = directory.lookup(POLYMARKET_SPORTS, key)  # the slug is the market's match id
        ref = ref or directory.resolve(
            POLYMARKET_SPORTS,
            key,
            game=game,
            team_x=item.homeTeam,
            team_y=item.awayTeam,
            start_ns=self.core.clock.now_ns(),
            create=self.core.settings.discover,
        )
        if ref is None:
            return None
        home = ref.side_of(directory.canonical(item.homeTeam))
        away = ref.side_of(directory.canonical(item.awayTeam))
        if home is None or away is None or home == away:
            self.core.stats.malformed += 1
            return None
        series = self._series[key] = _Series(ref, home)
        return series

    def _observe(self, item: SportResult) -> None:
        score = parse_score(item.score)
        if score is None:
            self.core.stats.malformed += 1
            return
        series = self._resolve(item)
        if series is None:
            return
        home, away, best_of = score
        self.core.health.fresh()
        old_home, old_away = series.maps
        if not series.winners and old_home == old_away == 0 and home and away:
            series.winners = [None] * (home + away)  # first seen mixed: order unknown
        else:
            for _ in range(max(home - old_home, 0)):
                series.winners.append(series.home_side)
            for _ in range(max(away - old_away, 0)):
                series.winners.append("b" if series.home_side == "a" else "a")
        series.maps = (home, away)
        self.core.apply(series.ref, self._snap(series, item, best_of), self._ts(item))

    def _snap(self, series: _Series, item: SportResult, best_of: int | None) -> MatchSnap:
        side_score = {series.home_side: series.maps[0]}
        side_score["b" if series.home_side == "a" else "a"] = series.maps[1]
        games = [
            GameSnap(number=n, phase=GamePhase.FINISHED, winner=w)
            for n, w in enumerate(series.winners, start=1)
            if w is not None
        ]
        if item.live and not item.ended:
            games.append(GameSnap(number=len(series.winners) + 1, phase=GamePhase.RUNNING))
        bo = best_of or series.ref.best_of
        winner = series_winner(side_score["a"], side_score["b"], bo) if item.ended else None
        if item.status.strip().lower() in _CANCELED:
            phase = MatchPhase.CANCELED
        elif winner is not None:
            phase = MatchPhase.FINISHED
        elif item.live or series.winners:
            phase = MatchPhase.RUNNING
        else:
            phase = MatchPhase.NOT_STARTED
        return MatchSnap(
            phase=phase,
            games=tuple(games),
            winner=winner,
            score_a=side_score["a"],
            score_b=side_score["b"],
        )

    def _ts(self, item: SportResult) -> int:
        now = self.core.clock.now_ns()
        stamp = item.finished_timestamp
        if item.ended and isinstance(stamp, int):
            return stamp * (NS_PER_MS if stamp > 10**11 else NS_PER_S)
        if item.ended and isinstance(stamp, str):
            return iso_to_ns(stamp) or now
        return now
