"""The local esports feed server: every provider's API shape on one aiohttp app.

One server serves any number of scenarios at once, each provider under its prefix::

    /opendota/api/live, /opendota/api/matches/{id}
    /pandascore/{lol|dota2}/matches/running, /pandascore/matches/{id}, /pandascore/lives,
    /pandascore/live/matches/{id}                       (WebSocket)
    /grid/live-data-feed/series-state/graphql           (POST)
    /grid/live-data-feed/series/{id}                    (WebSocket)
    /liquipedia/api/v3/match
    /lolesports/persisted/gw/{getSchedule,getLive,getEventDetails}
    /lolesports/livestats/v1/window/{gameId}
    /sports/ws                                          (WebSocket: Polymarket's sports feed)

Push feeds run as publisher loops on the injected sleeper; :attr:`EsportsFeedServer.loops`
says how many, so a virtual-time driver knows how many tasks to wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web

from polyloly.runtime.clock import Clock
from polyloly.runtime.sleep import Sleeper
from polyloly.sim.esports import grid, liquipedia, lolesports, opendota, pandascore, sports_ws
from polyloly.sim.esports.common import FeedContext, ProviderRule, json_response
from polyloly.sim.esports.runtime import ScenarioRuntime

__all__ = ["EsportsFeedServer"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EsportsFeedServer:
    """Serves scenarios as provider-shaped REST and WebSocket feeds on loopback.

    Parameters
    ----------
    runtimes
        The scenarios to serve (on the same clock).
    clock, sleeper
        Injected time.
    host, port
        Where to listen (port 0 = any free port).
    api_keys
        Keys the feeds require, per provider (absent = accept anything).
    sports_delay_ms, sports_ping_ms
        Polymarket's sports channel: how far behind the truth it shows a scenario without
        its own ``polymarket_sports`` entry, and its ping period (pong within twice that).
    limits
        Request limits to enforce per provider with 429, as the provider would
        (:data:`~polyloly.sim.esports.common.PUBLISHED_LIMITS`; absent = none). Every request
        is logged in ``ctx.request_log`` either way: the server judges the client's rate.
    """

    def __init__(
        self,
        runtimes: Sequence[ScenarioRuntime],
        *,
        clock: Clock,
        sleeper: Sleeper,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Mapping[str, str] | None = None,
        limits: Mapping[str, ProviderRule] | None = None,
        sports_delay_ms: int = 20_000,
        sports_ping_ms: int = 5_000,
    ) -> None:
        self.ctx = FeedContext(
            runtimes=list(runtimes),
            clock=clock,
            sleeper=sleeper,
            api_keys=dict(api_keys or {}),
            limits=dict(limits or {}),
        )
        self.host = host
        self._port = port
        ctx = self.ctx

        @web.middleware
        async def judge(request: web.Request, handler: _Handler) -> web.StreamResponse:
            provider = request.path.strip("/").split("/", 1)[0]
            refused = ctx.admit(provider, request.path)
            if refused:
                response = json_response({"error": refused}, status=429)
                rule = ctx.limits.get(provider)
                if rule is not None and rule.min_spacing_ns:
                    response.headers["Retry-After"] = str(-(-rule.min_spacing_ns // 10**9))
                return response
            return await handler(request)

        self.app = web.Application(middlewares=[judge])
        for module in (opendota, pandascore, grid, liquipedia, lolesports):
            module.add_routes(self.app, self.ctx)
        self.sports = sports_ws.SportsChannel(
            self.ctx,
            delay_ms=sports_delay_ms,
            ping_interval_ms=sports_ping_ms,
            pong_timeout_ms=2 * sports_ping_ms,
        )
        sports_ws.add_routes(self.app, self.ctx, self.sports)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def loops(self) -> int:
        """How many publisher loops wait on the sleeper (for virtual-time drivers)."""
        return len(self.ctx.publishers)

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    @property
    def http_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port``."""
        return f"ws://{self.host}:{self._port}"

    def urls(self) -> dict[str, str]:
        """Base URLs to give each adapter (``base_url`` / ``ws_url`` / ``feed_url``)."""
        http, ws = self.http_url, self.ws_url
        return {
            "opendota": f"{http}/opendota/api",
            "pandascore": f"{http}/pandascore",
            "pandascore_ws": f"{ws}/pandascore/live",
            "grid": f"{http}/grid",
            "grid_ws": f"{ws}/grid",
            "liquipedia": f"{http}/liquipedia",
            "lolesports": f"{http}/lolesports",
            "lolesports_feed": f"{http}/lolesports",
            "polymarket_sports": f"{ws}/sports/ws",
        }

    @property
    def requests(self) -> Mapping[str, int]:
        """Requests served per provider."""
        return self.ctx.requests

    async def start(self) -> None:
        """Bind, serve, and start the publisher loops."""
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only on the private server
        if server is not None and self._port == 0:
            sockets = getattr(server, "sockets", None) or []
            self._port = sockets[0].getsockname()[1]
        self._tasks = [asyncio.create_task(pub()) for pub in self.ctx.publishers]

    async def stop(self) -> None:
        """Stop the publishers and the server (closes open sockets)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
