"""The simulator's own control API under ``/sim/`` (for out-of-process tests and demos).

Amounts are decimal strings, as on the venue (``"10"`` shares, ``"0.52"``).

======================  ===============================================================
``GET /sim/faults``     armed faults
``POST /sim/faults``    ``{"action": <Faults method>, …arguments}`` (see ``faults.py``)
``DELETE /sim/faults``  clear every fault
``POST /sim/merge``     ``{"address", "condition_id", "size"}``: pairs → pUSD
``POST /sim/split``     ``{"address", "condition_id", "size"}``: pUSD → pairs
``POST /sim/redeem``    ``{"address", "condition_id"}``: winning shares → pUSD (resolved)
``POST /sim/resolve``   ``{"condition_id", "winning_token_id"}``
``POST /sim/live``      ``{"condition_id", "live"}``: game live (taker delay) or not
``POST /sim/tick-size`` ``{"token_id", "tick_size"}``
``POST /sim/resting``   ``{"token_id", "side", "price", "size", "owner"?}`` → ``{"order_id"}``
``DELETE /sim/resting`` ``{"order_id"}``
``POST /sim/allowance`` ``{"address", "asset_type", "amount"}``
``GET /sim/balances``   ``?address=`` → every balance in micro-units
``GET /sim/orders``     ``?address=`` → every order the exchange accepted from that maker
                        address, in arrival order (``/data/order`` shape, open or not): the
                        exchange's own record of what a client placed (crash and soak tests)
``GET /sim/markets``    the listed markets' ids
======================  ===============================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from polyloly.domain.events import Side
from polyloly.domain.money import MoneyError, parse_micros
from polyloly.sim.exchange.faults import Faults
from polyloly.sim.exchange.frames import num, rest_order
from polyloly.sim.exchange.venue import Venue

__all__ = ["ControlledSim", "SimControl", "control_routes"]


class ControlledSim(Protocol):
    """The calls the control routes make on a simulator (the server implements them)."""

    @property
    def faults(self) -> Faults:
        """The armed faults."""
        ...

    @property
    def venue(self) -> Venue:
        """The exchange core (orders and listings are read from it)."""
        ...

    def merge(self, address: str, condition_id: str, size: int) -> bool:
        """Merge ``size`` complete pairs into pUSD."""
        ...

    def split(self, address: str, condition_id: str, size: int) -> bool:
        """Split ``size`` pUSD into complete pairs."""
        ...

    def redeem(self, address: str, condition_id: str) -> int:
        """Redeem a resolved market's winning shares; return the payout."""
        ...

    def resolve(self, condition_id: str, winning_token_id: str) -> None:
        """Resolve a market."""
        ...

    def set_live(self, condition_id: str, live: bool = True) -> None:
        """Mark a market's game live (taker delay) or not."""
        ...

    def set_tick_size(self, token_id: str, tick: int) -> None:
        """Change a token's tick size."""
        ...

    def place_resting(
        self, token_id: str, side: Side | str, price: int, size: int, owner: str = "mm-1"
    ) -> str:
        """Rest a house order on the book; return its id."""
        ...

    def cancel_resting(self, order_id: str) -> bool:
        """Cancel a resting order."""
        ...

    def set_allowance(self, address: str, amount: int, asset_type: str = "COLLATERAL") -> None:
        """Set an address's allowance."""
        ...

    def balances(self, address: str) -> dict[str, int]:
        """Every balance of ``address`` in micro-units."""
        ...


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise web.HTTPBadRequest(text='{"error":"invalid JSON"}') from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error":"expected a JSON object"}')
    return body


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def control_routes(sim: ControlledSim) -> list[web.RouteDef]:
    """The ``/sim/`` routes of a simulator."""
    return SimControl(sim).routes()


_BAD_INPUT = (KeyError, ValueError, MoneyError)


class SimControl:
    """Handlers of the ``/sim/`` control API (see module docstring)."""

    def __init__(self, sim: ControlledSim) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        """Every control route."""
        return [
            web.get("/sim/faults", self.faults_get),
            web.post("/sim/faults", self.faults_post),
            web.delete("/sim/faults", self.faults_delete),
            web.post("/sim/merge", self.merge),
            web.post("/sim/split", self.split),
            web.post("/sim/redeem", self.redeem),
            web.post("/sim/resolve", self.resolve),
            web.post("/sim/live", self.live),
            web.post("/sim/tick-size", self.tick_size),
            web.post("/sim/resting", self.resting_post),
            web.delete("/sim/resting", self.resting_delete),
            web.post("/sim/allowance", self.allowance),
            web.get("/sim/balances", self.balances),
            web.get("/sim/orders", self.orders),
            web.get("/sim/markets", self.markets),
        ]

    async def faults_get(self, _request: web.Request) -> web.Response:
        """Armed faults."""
        return web.json_response(self.sim.faults.state())

    async def faults_post(self, request: web.Request) -> web.Response:
        """Arm one fault."""
        try:
            self.sim.faults.apply(await _json(request))
        except ValueError as exc:
            return _bad(str(exc))
        return web.json_response(self.sim.faults.state())

    async def faults_delete(self, _request: web.Request) -> web.Response:
        """Clear every fault."""
        self.sim.faults.clear()
        return web.json_response(self.sim.faults.state())

    async def merge(self, request: web.Request) -> web.Response:
        """Merge pairs into pUSD."""
        return await self._pairs(request, self.sim.merge)

    async def split(self, request: web.Request) -> web.Response:
        """Split pUSD into pairs."""
        return await self._pairs(request, self.sim.split)

    async def _pairs(
        self, request: web.Request, action: Callable[[str, str, int], bool]
    ) -> web.Response:
        body = await _json(request)
        try:
            address = str(body["address"])
            ok = action(address, str(body["condition_id"]), parse_micros(str(body["size"])))
        except _BAD_INPUT as exc:
            return _bad(f"bad request: {exc}")
        return web.json_response({"success": ok, "balances": _balances(self.sim, address)})

    async def redeem(self, request: web.Request) -> web.Response:
        """Redeem a resolved market."""
        body = await _json(request)
        try:
            address = str(body["address"])
            payout = self.sim.redeem(address, str(body["condition_id"]))
        except _BAD_INPUT as exc:
            return _bad(f"bad request: {exc}")
        return web.json_response({"payout": num(payout), "balances": _balances(self.sim, address)})

    async def resolve(self, request: web.Request) -> web.Response:
        """Resolve a market."""
        body = await _json(request)
        try:
            self.sim.resolve(str(body["condition_id"]), str(body["winning_token_id"]))
        except _BAD_INPUT as exc:
            return _bad(f"bad request: {exc}")
        return web.json_response({"success": True})

    async def live(self, request: web.Request) -> web.Response:
        """Set a market's live flag."""
        body = await _json(request)
        try:
            self.sim.set_live(str(body["condition_id"]), bool(body["live"]))
        except _BAD_INPUT as exc:
            return _bad(f"bad request: {exc}")
        return web.json_response({"success": True})

    async def tick_size(self, request: web.Request) -> web.Response:
        """Change a market's tick."""
        body = await _json(request)
        try:
            self.sim.set_tick_size(str(body["token_id"]), parse_micros(str(body["tick_size"])))
        except _BAD_INPUT as exc:
            return _bad(f"bad request: {exc}")
        return web.json_response({"success": True})

    async def resting_post(self, request: web.Request) -> web.Response:
        """Rest synthetic liquidity."""
        body = await _json(request)
        try:
            order_id = self.sim.place_resting(
                str(body["token_id"]),
                Side(str(body["side"]).upper()),
                parse_micros(str(body["price"])),
                parse_micros(str(body["size"])),
                owner=str(body.get("owner", "mm-1")),
            )
        except _BAD_INPUT as exc:
            return _bad(f"bad request: {exc}")
        return web.json_response({"order_id": order_id})

    async def resting_delete(self, request: web.Request) -> web.Response:
        """Cancel a resting order by id."""
        body = await _json(request)
        return web.json_response(
            {"success": self.sim.cancel_resting(str(body.get("order_id", "")))}
        )

    async def allowance(self, request: web.Request) -> web.Response:
        """Set an approval."""
        body = await _json(request)
        try:
            self.sim.set_allowance(
                str(body["address"]),
                parse_micros(str(body["amount"])),
                asset_type=str(body.get("asset_type", "COLLATERAL")).upper(),
            )
        except _BAD_INPUT as exc:
            return _bad(f"bad request: {exc}")
        return web.json_response({"success": True})

    async def balances(self, request: web.Request) -> web.Response:
        """Every balance of an address."""
        return web.json_response(_balances(self.sim, request.query.get("address", "")))

    async def orders(self, request: web.Request) -> web.Response:
        """Every order accepted from a maker address, in arrival order."""
        address = request.query.get("address", "").lower()
        return web.json_response(
            [
                rest_order(record)
                for record in self.sim.venue.orders.values()
                if address and record.maker_address.lower() == address
            ]
        )

    async def markets(self, _request: web.Request) -> web.Response:
        """The listed markets' ids."""
        return web.json_response(
            [
                {
                    "condition_id": m.condition_id,
                    "token_ids": list(m.token_ids),
                    "outcomes": list(m.spec.outcomes),
                    "question": m.spec.question,
                    "slug": m.spec.slug,
                    "live": m.live,
                    "closed": m.closed,
                }
                for m in self.sim.venue.listings.values()
            ]
        )


def _balances(sim: ControlledSim, address: str) -> dict[str, int]:
    return sim.balances(address) if address else {}
