"""``ExchangeSimulator``: the local Polymarket on one loopback port, and its in-process API.

One aiohttp application serves the CLOB REST API at ``/``, Gamma at ``/gamma``, the
market and user WebSocket channels at ``/ws/market`` and ``/ws/user`` and the control API
at ``/sim/``. A background task runs the timers (trade lifecycle, taker delays, GTD
expiry, heartbeats) and the synthetic traders on the injected clock; with a
:class:`~polyloly.runtime.clock.VirtualClock`, call :meth:`ExchangeSimulator.run_due` after
advancing it.

Example
-------
>>> sim = ExchangeSimulator(SimConfig(seed=1), clock=LiveClock())      # doctest: +SKIP
>>> m = sim.add_market(SimMarket(question="LoL: T1 vs Gen.G (BO3) - LCK",
...                              outcomes=("T1", "Gen.G")))           # doctest: +SKIP
>>> await sim.start(host="127.0.0.1", port=0)                         # doctest: +SKIP
>>> sim.place_resting(m.token_ids[0], Side.SELL, 520_000, 100_000_000) # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from polyloly.domain.events import Side
from polyloly.runtime.clock import NS_PER_MS, Clock, LiveClock
from polyloly.sim.exchange.accounts import COLLATERAL
from polyloly.sim.exchange.config import Listing, SimConfig, SimMarket
from polyloly.sim.exchange.control import control_routes
from polyloly.sim.exchange.faults import HTTP_ERROR_BODIES, Faults
from polyloly.sim.exchange.feeds import RecordingSink
from polyloly.sim.exchange.frames import Json
from polyloly.sim.exchange.gamma import GammaApi
from polyloly.sim.exchange.orders import OrderRecord, TradeRecord
from polyloly.sim.exchange.pool import MarketParams, TraderPool
from polyloly.sim.exchange.rest import ClobRest
from polyloly.sim.exchange.traders import FairValueSource
from polyloly.sim.exchange.venue import Venue
from polyloly.sim.exchange.ws import WsHub

__all__ = ["ExchangeSimulator"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _side(side: Side | str) -> Side:
    return side if isinstance(side, Side) else Side(side.upper())


class ExchangeSimulator:
    """A protocol-faithful local Polymarket exchange (see module docstring).

    Parameters
    ----------
    config
        Behaviour (seed, balances, delays, limits).
    clock
        The injected clock (``LiveClock`` by default; tests may pass a ``VirtualClock``).
    fair_value
        Where synthetic traders get the probability of outcome 0 (default: a seeded
        random walk per market); traders only run once :meth:`add_traders` is called.
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        clock: Clock | None = None,
        fair_value: FairValueSource | None = None,
    ) -> None:
        self.config = config or SimConfig()
        self.clock = clock or LiveClock()
        self.venue = Venue(self.config, self.clock, RecordingSink())
        self.hub = WsHub(self.venue)
        self.venue.publisher.sink = self.hub
        lifecycle = self.venue.lifecycle
        self.faults = Faults(
            self.clock,
            drop_ws=self.hub.drop_all,
            fail_trade=self._fail_trade,
            fail_next=lifecycle.fail_next,
            retry_next=lifecycle.retry_next,
            clear_trades=lifecycle.clear,
        )
        self.hub.faults = self.faults
        self.traders = TraderPool(self.venue, fair_value, seed=self.config.seed)
        self.venue.catch_up = self.run_due
        self._runner: web.AppRunner | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self.host = ""
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve HTTP and WebSocket on ``host:port`` (0 = a free port) and start the loop."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        app = web.Application(middlewares=[self._fault_middleware], client_max_size=4 << 20)
        app.add_routes(ClobRest(self.venue, self.faults).routes())
        app.add_routes(GammaApi(self.venue).routes())
        app.add_routes(control_routes(self))
        app.add_routes(
            [
                web.get("/ws/market", self.hub.handle_market),
                web.get("/ws/user", self.hub.handle_user),
            ]
        )
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self.host = host
        self.port = int(runner.addresses[0][1])
        self._loop_task = asyncio.create_task(self._run(), name="exchange-sim-loop")

    async def stop(self) -> None:
        """Stop the loop, close every connection and the server."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._runner is not None:
            self.hub.drop_all()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ExchangeSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        interval = self.config.tick_interval_ms / 1000
        while True:
            self.run_due()
            await asyncio.sleep(interval)

    def run_due(self) -> int:
        """Run everything due at the clock's time (timers, expiry, heartbeats, traders).

        When the loop runs late, timers due in the past fire in due order, each after the
        traders have acted *as of its due time*: a delayed order is matched against the book
        the makers had then (a maker that would have pulled its quote at news before the delay
        ended has pulled it), not against quotes a late tick left standing."""
        now = self.clock.now_ns()
        done = 0
        timers = self.venue.timers
        while (due := timers.next_due()) is not None and due < now:
            done += self.traders.step(due) + timers.run_due(due)
        return done + self.venue.run_due() + self.traders.step(now)

    @web.middleware
    async def _fault_middleware(
        self, request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        if request.path.startswith("/sim/"):
            return await handler(request)
        fault = self.faults.take_http(request.path)
        if fault is None:
            return await handler(request)
        if fault.status == 0:
            await asyncio.sleep(self.faults.hang_s)
            return web.json_response({"error": "Gateway Timeout"}, status=504)
        text = HTTP_ERROR_BODIES.get(fault.status, f"HTTP {fault.status}")
        return web.json_response({"error": text}, status=fault.status)

    # -- URLs -------------------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        """The CLOB REST base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def gamma_url(self) -> str:
        """The Gamma base URL."""
        return f"{self.http_url}/gamma"

    @property
    def market_ws_url(self) -> str:
        """The market channel."""
        return f"ws://{self.host}:{self.port}/ws/market"

    @property
    def user_ws_url(self) -> str:
        """The user channel."""
        return f"ws://{self.host}:{self.port}/ws/user"

    # -- markets and liquidity --------------------------------------------------------------

    def add_market(self, spec: SimMarket) -> Listing:
        """List a market (``new_market`` is published); return its ids and state."""
        return self.venue.add_market(spec)

    def markets(self) -> list[Listing]:
        """Every listed market."""
        return list(self.venue.listings.values())

    def place_resting(
        self, token_id: str, side: Side | str, price: int, size: int, owner: str = "mm-1"
    ) -> str:
        """Rest synthetic liquidity (no auth, no matching); return the order id."""
        return self.venue.place_resting(token_id, _side(side), price, size, owner)

    def cancel_resting(self, order_id: str) -> bool:
        """Cancel any resting order by id; True if it was open."""
        return bool(self.venue.cancel(None, [order_id])["canceled"])

    def submit(
        self, token_id: str, side: Side | str, price: int, size: int, **kwargs: object
    ) -> tuple[int, Json]:
        """Send a synthetic order through full matching (a synthetic taker)."""
        return self.venue.submit(token_id, _side(side), price, size, **kwargs)  # type: ignore[arg-type]

    def book(self, token_id: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Aggregated ``(bids, asks)`` levels ``(price, size)`` in micros, best first."""
        return self.venue.book(token_id)

    def set_tick_size(self, token_id: str, tick: int) -> None:
        """Change a market's tick (emits ``tick_size_change`` and a fresh ``book``)."""
        self.venue.set_tick_size(token_id, tick)

    def set_live(self, condition_id: str, live: bool = True) -> None:
        """Mark the market's game live (taker delay applies) or not."""
        self.venue.set_live(condition_id, live)

    def resolve(self, condition_id: str, winning_token_id: str) -> None:
        """Resolve a market; holders then :meth:`redeem`."""
        self.venue.resolve(condition_id, winning_token_id)

    # -- accounts ---------------------------------------------------------------------------

    def balances(self, address: str) -> dict[str, int]:
        """``{"collateral": micros, token_id: micros, …}`` of an address."""
        return self.venue.accounts.balances(address)

    def fund(self, address: str, amount: int, asset: str = COLLATERAL) -> None:
        """Credit an address: a pUSD deposit, or (for tests) outcome tokens."""
        if asset == COLLATERAL:
            self.venue.accounts.deposit(address, amount)
        else:
            self.venue.accounts.credit(address, asset, amount)

    def set_allowance(self, address: str, amount: int, asset_type: str = "COLLATERAL") -> None:
        """Set an address's approval of ``COLLATERAL`` or ``CONDITIONAL`` assets."""
        self.venue.accounts.set_allowance(address, asset_type, amount)

    def merge(self, address: str, condition_id: str, size: int) -> bool:
        """Merge ``size`` complete pairs into pUSD (CTF ``mergePositions``)."""
        return self.venue.merge(address, condition_id, size)

    def split(self, address: str, condition_id: str, size: int) -> bool:
        """Split ``size`` pUSD into complete pairs (CTF ``splitPosition``)."""
        return self.venue.split(address, condition_id, size)

    def redeem(self, address: str, condition_id: str) -> int:
        """Redeem a resolved market's tokens: 1 pUSD per winning share; return the payout."""
        return self.venue.redeem(address, condition_id)

    # -- records ----------------------------------------------------------------------------

    def order(self, order_id: str) -> OrderRecord | None:
        """An order record by id."""
        return self.venue.orders.get(order_id)

    def trades(self) -> list[TradeRecord]:
        """Every trade, oldest first."""
        return list(self.venue.trades.values())

    def _fail_trade(self, trade_id: str) -> bool:
        trade = self.venue.trades.get(trade_id)
        return trade is not None and self.venue.lifecycle.fail(trade)

    def add_traders(self, condition_id: str, **kwargs: object) -> None:
        """Start synthetic makers and takers on a market (see ``pool.TraderPool.add``)."""
        self.traders.add(condition_id, **kwargs)  # type: ignore[arg-type]

    def add_market_traders(self, condition_id: str, params: MarketParams) -> None:
        """Start the honest market of ``params`` on a market (makers, takers, rivals)."""
        self.traders.add_market(condition_id, params)

    @property
    def now_ns(self) -> int:
        """The simulator's clock."""
        return self.clock.now_ns()

    @property
    def tick_ns(self) -> int:
        """Background loop period in ns."""
        return self.config.tick_interval_ms * NS_PER_MS
