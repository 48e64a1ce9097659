"""Local Polymarket Sports WebSocket: ``/sports/ws``, shaped like ``wss://sports-api.polymarket.com/ws``.

The real channel (reference esports §6; docs.polymarket.com market-data/websocket/sports)
needs no auth and no subscription: every client gets every ``sport_result``. The server
sends a text ``ping`` every 5 s and drops a client that has not answered ``pong`` within 10 s.
A message is one JSON object::

    {"gameId": 9001, "leagueAbbreviation": "lck", "slug": "lol-t1-gen-2026-01-01",
     "homeTeam": "T1", "awayTeam": "Gen.G", "status": "InProgress", "score": "000-000|1-0|Bo3",
     "period": "2/3", "live": true, "ended": false, "finished_timestamp": null}

The venue says the feed "may be delayed": it shows each scenario ``delay`` behind the truth
(the scenario's own ``polymarket_sports`` provider entry when it has one, with its
``delay_s``, outages and wrong reports; otherwise the server's default delay). A connecting
client first gets the current state of every match (as the real channel does on connect),
then one message per change. One publisher loop does the pings, the pong deadlines and the
changes, on the injected sleeper.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from aiohttp import WSMsgType, web

from polyloly.runtime.clock import NS_PER_MS
from polyloly.sim.esports.common import FeedContext, Publisher, iso_z
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.scenarios.model import MatchState

__all__ = ["PROVIDER", "SportsChannel", "add_routes", "sport_result"]

PROVIDER: Final = "polymarket_sports"
_LEAGUE: Final = {"lol": "lol", "dota2": "dota2"}
_STATUS: Final = {
    "not_started": "Scheduled",
    "running": "InProgress",
    "finished": "Final",
    "canceled": "Canceled",
}


def _slug(runtime: ScenarioRuntime) -> str:
    # Polymarket's event slug; the local venues list each scenario under its match id.
    return runtime.scenario.match_id


def sport_result(runtime: ScenarioRuntime, state: MatchState, game_id: int) -> dict[str, Any]:
    """One ``sport_result`` message for ``state`` (team a is the home team)."""
    scenario = runtime.scenario
    spec = runtime.spec(PROVIDER)
    home = spec.team_name("a", scenario.team_a.name) if spec else scenario.team_a.name
    away = spec.team_name("b", scenario.team_b.name) if spec else scenario.team_b.name
    current = state.current
    kills = f"{current.kills_a:03d}-{current.kills_b:03d}" if current else "000-000"
    number = len(state.games) if state.status == "running" else max(len(state.games), 1)
    ended = state.status == "finished"
    return {
        "gameId": game_id,
        "leagueAbbreviation": _LEAGUE[scenario.game],
        "slug": _slug(runtime),
        "homeTeam": home,
        "awayTeam": away,
        "status": _STATUS.get(state.status, "InProgress"),
        "score": f"{kills}|{state.score_a}-{state.score_b}|Bo{scenario.best_of}",
        "period": f"{number}/{scenario.best_of}",
        "live": state.status == "running",
        "ended": ended,
        "finished_timestamp": (
            iso_z(runtime.wall_ns(state.ended_ms)) if ended and state.ended_ms is not None else None
        ),
    }


@dataclass
class _Client:
    ws: web.WebSocketResponse
    pinged_ns: int | None = None  # the unanswered ping, if any


@dataclass
class SportsChannel:
    """The channel's clients and what each match last showed.

    Parameters
    ----------
    ctx
        The feed server's context (scenarios, clock, sleeper).
    delay_ms
        How far behind the truth a scenario without its own entry is shown.
    ping_interval_ms, pong_timeout_ms
        The server's keepalive (the real channel: 5 s and 10 s).
    """

    ctx: FeedContext
    delay_ms: int = 20_000
    ping_interval_ms: int = 5_000
    pong_timeout_ms: int = 10_000
    clients: list[_Client] = field(default_factory=list)
    shown: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    dropped: int = 0

    def _state(self, runtime: ScenarioRuntime, now_ns: int) -> MatchState:
        if runtime.spec(PROVIDER) is not None:
            return runtime.state(PROVIDER, runtime.t_ms(now_ns))
        return runtime.state(None, runtime.t_ms(now_ns) - self.delay_ms)

    def _messages(self, now_ns: int, *, changed_only: bool) -> list[str]:
        out = []
        for i, runtime in enumerate(self.ctx.runtimes, start=1):
            state = self._state(runtime, now_ns)
            if state.status == "not_started":
                continue
            text = msgspec.json.encode(sport_result(runtime, state, 9_000 + i)).decode()
            key = runtime.scenario.match_id
            if changed_only and self.shown.get(key) == text:
                continue
            self.shown[key] = text
            out.append(text)
        return out

    def next_change_ns(self, after_ns: int) -> int | None:
        """When a scenario's picture on this channel next changes."""
        due: list[int] = []
        for runtime in self.ctx.runtimes:
            if runtime.spec(PROVIDER) is not None:
                change = runtime.next_change_ns(PROVIDER, after_ns)
            else:
                after_ms = runtime.t_ms(after_ns)
                change = next(
                    (
                        max(runtime.wall_ns(t + self.delay_ms), after_ns + 1)
                        for t in runtime.scenario.change_times(None)
                        if t + self.delay_ms > after_ms
                    ),
                    None,
                )
            if change is not None:
                due.append(change)
        return min(due) if due else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Accept a client: the current state, then changes; answer nothing but keepalive."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = _Client(ws)
        self.clients.append(client)
        now = self.ctx.clock.now_ns()
        for text in self._messages(now, changed_only=False):
            await ws.send_str(text)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT and msg.data.strip().lower() == "pong":
                    client.pinged_ns = None
        finally:
            if client in self.clients:
                self.clients.remove(client)
        return ws

    async def _broadcast(self, text: str) -> None:
        for client in list(self.clients):
            try:
                await client.ws.send_str(text)
                self.sent += 1
            except (ConnectionError, RuntimeError):
                self.clients.remove(client)

    async def _keepalive(self, now: int) -> None:
        for client in list(self.clients):
            late = client.pinged_ns is not None and (
                now - client.pinged_ns >= self.pong_timeout_ms * NS_PER_MS
            )
            if late:
                self.clients.remove(client)
                self.dropped += 1
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await client.ws.close(code=1008, message=b"pong timeout")
                continue
            if client.pinged_ns is None:
                client.pinged_ns = now
            with contextlib.suppress(ConnectionError, RuntimeError):
                await client.ws.send_str("ping")

    def publisher(self) -> Publisher:
        """The one loop: pings every ``ping_interval_ms``, a message per change."""

        async def publish() -> None:
            ctx = self.ctx
            next_ping = ctx.clock.now_ns() + self.ping_interval_ms * NS_PER_MS
            while True:
                now = ctx.clock.now_ns()
                change = self.next_change_ns(now)
                due = next_ping if change is None else min(next_ping, change)
                await ctx.sleep_until(due)
                now = ctx.clock.now_ns()
                for text in self._messages(now, changed_only=True):
                    await self._broadcast(text)
                if now >= next_ping:
                    await self._keepalive(now)
                    next_ping = now + self.ping_interval_ms * NS_PER_MS

        return publish


def add_routes(app: web.Application, ctx: FeedContext, channel: SportsChannel) -> None:
    """Mount ``/sports/ws`` and add the channel's publisher loop."""
    app.router.add_get("/sports/ws", channel.handle)
    ctx.publishers.append(channel.publisher())
