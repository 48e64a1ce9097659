"""The CLOB REST API at ``/`` — every endpoint py-clob-client-v2 1.2.1 calls.

Public reads (L0), key management (L1 ``ClobAuth`` headers), trading and account queries
(L2 HMAC headers) answer in the venue's shapes (``docs/reference/polymarket.md`` §1, §4):
``{"error": …}`` bodies with 400 for rule violations, 401 ``Unauthorized/Invalid api key``
or ``Invalid L1 Request headers``, 404 for unknown markets and orders. Cursor pages run
``MA==`` … ``LTE=`` (base64 of the offset, ``-1`` at the end).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Any, Final

from aiohttp import web

from polyloly.domain.events import Side
from polyloly.domain.money import to_decimal
from polyloly.sim.exchange.accounts import COLLATERAL
from polyloly.sim.exchange.auth import ApiCredentials, AuthError, verify_l1, verify_l2
from polyloly.sim.exchange.faults import Faults
from polyloly.sim.exchange.frames import Json, book_summary, num, rest_order, rest_trade
from polyloly.sim.exchange.orders import (
    ERR_INVALID_PAYLOAD,
    decode_post_order,
    decode_post_orders,
)
from polyloly.sim.exchange.venue import Venue
from polyloly.sim.exchange.views import clob_market, clob_market_info

__all__ = ["END_CURSOR", "INITIAL_CURSOR", "ClobRest", "cursor_of", "offset_of"]

INITIAL_CURSOR: Final = "MA=="
END_CURSOR: Final = "LTE="
PAGE_SIZE: Final = 100
ERR_NOT_FOUND: Final = "not found"

Handler = Callable[[web.Request], Any]


def cursor_of(offset: int) -> str:
    """The venue's cursor for an offset (``-1`` = no more pages)."""
    return base64.b64encode(str(offset).encode()).decode()


def offset_of(cursor: str) -> int:
    """The offset a cursor stands for (``-1`` = no more pages)."""
    try:
        return int(base64.b64decode(cursor or INITIAL_CURSOR).decode())
    except (ValueError, binascii.Error):
        return 0


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _page(items: list[Json], cursor: str) -> Json:
    start = max(0, offset_of(cursor))
    chunk = items[start : start + PAGE_SIZE]
    end = start + len(chunk)
    return {
        "data": chunk,
        "next_cursor": cursor_of(end) if end < len(items) else END_CURSOR,
        "limit": PAGE_SIZE,
        "count": len(chunk),
    }


class ClobRest:
    """aiohttp handlers of the CLOB REST API around a :class:`Venue`."""

    def __init__(self, venue: Venue, faults: Faults) -> None:
        self.venue = venue
        self.faults = faults

    def routes(self) -> list[web.RouteDef]:
        """Every route, for ``app.add_routes``."""
        get, post, delete = web.get, web.post, web.delete
        return [
            get("/", self.ok),
            get("/ok", self.ok),
            get("/time", self.time),
            get("/version", self.version),
            post("/auth/api-key", self.create_api_key),
            get("/auth/derive-api-key", self.derive_api_key),
            get("/auth/api-keys", self.api_keys),
            delete("/auth/api-key", self.delete_api_key),
            get("/auth/ban-status/closed-only", self.closed_only),
            get("/tick-size", self.tick_size),
            get("/neg-risk", self.neg_risk),
            get("/fee-rate", self.fee_rate),
            get("/clob-markets/{condition_id}", self.clob_market),
            get("/markets-by-token/{token_id}", self.market_by_token),
            get("/markets", self.markets),
            get("/sampling-markets", self.markets),
            get("/simplified-markets", self.markets),
            get("/sampling-simplified-markets", self.markets),
            get("/markets/{condition_id}", self.market),
            get("/book", self.book),
            post("/books", self.books),
            get("/midpoint", self.midpoint),
            post("/midpoints", self.midpoints),
            get("/price", self.price),
            post("/prices", self.prices),
            get("/spread", self.spread),
            post("/spreads", self.spreads),
            get("/last-trade-price", self.last_trade_price),
            post("/last-trades-prices", self.last_trades_prices),
            get("/prices-history", self.prices_history),
            post("/order", self.post_order),
            post("/orders", self.post_orders),
            delete("/order", self.cancel_order),
            delete("/orders", self.cancel_orders),
            delete("/cancel-all", self.cancel_all),
            delete("/cancel-market-orders", self.cancel_market_orders),
            get("/data/order/{order_id}", self.get_order),
            get("/data/orders", self.get_orders),
            get("/data/pre-migration-orders", self.pre_migration_orders),
            get("/data/trades", self.get_trades),
            get("/balance-allowance", self.balance_allowance),
            get("/balance-allowance/update", self.balance_allowance),
            post("/v1/heartbeats", self.heartbeat),
            get("/order-scoring", self.order_scoring),
            post("/orders-scoring", self.orders_scoring),
            get("/notifications", self.notifications),
            delete("/notifications", self.notifications),
        ]

    # -- auth -------------------------------------------------------------------------------

    def _l1(self, request: web.Request) -> tuple[str, int]:
        venue = self.venue
        try:
            return verify_l1(
                request.headers,
                chain_id=venue.config.chain_id,
                now_s=venue.now_s(),
                window_s=venue.config.auth_window_s,
            )
        except AuthError as exc:
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": str(exc)}), content_type="application/json"
            ) from exc

    async def _l2(self, request: web.Request) -> tuple[ApiCredentials, bytes]:
        body = await request.read()
        venue = self.venue
        try:
            creds = verify_l2(
                request.headers,
                venue.keys,
                method=request.method,
                path=request.path,
                body=body.decode("utf-8", "replace"),
                now_s=venue.now_s(),
                window_s=venue.config.auth_window_s,
            )
        except AuthError as exc:
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": str(exc)}), content_type="application/json"
            ) from exc
        return creds, body

    # -- health and keys --------------------------------------------------------------------

    async def ok(self, _request: web.Request) -> web.Response:
        """``GET /ok``."""
        return web.json_response("OK")

    async def time(self, _request: web.Request) -> web.Response:
        """``GET /time``: server time in s."""
        return web.json_response(self.venue.now_s())

    async def version(self, _request: web.Request) -> web.Response:
        """``GET /version``."""
        return web.json_response({"version": 2})

    @staticmethod
    def _creds(creds: ApiCredentials) -> Json:
        return {"apiKey": creds.api_key, "secret": creds.secret, "passphrase": creds.passphrase}

    async def create_api_key(self, request: web.Request) -> web.Response:
        """``POST /auth/api-key`` (L1)."""
        address, nonce = self._l1(request)
        creds = self.venue.create_api_key(address, nonce)
        if creds is None:
            return _error(400, "Could not create api key")
        return web.json_response(self._creds(creds))

    async def derive_api_key(self, request: web.Request) -> web.Response:
        """``GET /auth/derive-api-key`` (L1)."""
        address, nonce = self._l1(request)
        creds = self.venue.keys.derive(address, nonce)
        if creds is None:
            return _error(400, "Could not derive api key!")
        return web.json_response(self._creds(creds))

    async def api_keys(self, request: web.Request) -> web.Response:
        """``GET /auth/api-keys`` (L2)."""
        creds, _ = await self._l2(request)
        return web.json_response({"apiKeys": self.venue.keys.keys_of(creds.address)})

    async def delete_api_key(self, request: web.Request) -> web.Response:
        """``DELETE /auth/api-key`` (L2)."""
        creds, _ = await self._l2(request)
        self.venue.keys.delete(creds.api_key)
        return web.json_response("OK")

    async def closed_only(self, request: web.Request) -> web.Response:
        """``GET /auth/ban-status/closed-only`` (L2)."""
        await self._l2(request)
        return web.json_response({"closed_only": False})

    # -- market parameters ------------------------------------------------------------------

    def _listing(self, token_id: str) -> Any:
        listing = self.venue.by_token.get(token_id)
        if listing is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": "market not found"}), content_type="application/json"
            )
        return listing

    async def tick_size(self, request: web.Request) -> web.Response:
        """``GET /tick-size?token_id=``."""
        listing = self._listing(request.query.get("token_id", ""))
        return web.json_response({"minimum_tick_size": float(to_decimal(listing.tick))})

    async def neg_risk(self, request: web.Request) -> web.Response:
        """``GET /neg-risk?token_id=``."""
        listing = self._listing(request.query.get("token_id", ""))
        return web.json_response({"neg_risk": listing.spec.neg_risk})

    async def fee_rate(self, request: web.Request) -> web.Response:
        """``GET /fee-rate?token_id=``: ``base_fee`` is 1000 on a fee market, not the rate."""
        listing = self._listing(request.query.get("token_id", ""))
        return web.json_response({"base_fee": 1000 if listing.spec.fee_rate else 0})

    async def clob_market(self, request: web.Request) -> web.Response:
        """``GET /clob-markets/{condition_id}`` with the short keys."""
        listing = self.venue.listings.get(request.match_info["condition_id"])
        if listing is None:
            return _error(404, "market not found")
        return web.json_response(clob_market_info(listing))

    async def market_by_token(self, request: web.Request) -> web.Response:
        """``GET /markets-by-token/{token_id}``."""
        listing = self._listing(request.match_info["token_id"])
        return web.json_response(
            {"condition_id": listing.condition_id, "primary_token_id": listing.token_ids[0]}
        )

    async def markets(self, request: web.Request) -> web.Response:
        """``GET /markets`` (and the sampling/simplified variants): a cursor page."""
        items = [clob_market(v, self._top(v)) for v in self.venue.listings.values()]
        return web.json_response(_page(items, request.query.get("next_cursor", "")))

    async def market(self, request: web.Request) -> web.Response:
        """``GET /markets/{condition_id}``."""
        listing = self.venue.listings.get(request.match_info["condition_id"])
        if listing is None:
            return _error(404, "market not found")
        return web.json_response(clob_market(listing, self._top(listing)))

    def _top(self, listing: Any) -> dict[str, int]:
        out = {}
        for token in listing.token_ids:
            bids, asks = self.venue.book(token)
            if bids and asks:
                out[token] = (bids[0][0] + asks[0][0]) // 2
        return out

    # -- books and prices -------------------------------------------------------------------

    def _summary(self, token_id: str) -> Json:
        listing = self._listing(token_id)
        bids, asks = self.venue.book(token_id)
        return book_summary(listing, token_id, bids, asks, self.venue.now_ms(), event=False)

    async def _params(self, request: web.Request) -> list[dict[str, Any]]:
        try:
            params = json.loads(await request.read() or b"[]")
        except ValueError as exc:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "Invalid payload"}), content_type="application/json"
            ) from exc
        if not isinstance(params, list):
            params = [params]
        return [p for p in params if isinstance(p, dict)]

    async def book(self, request: web.Request) -> web.Response:
        """``GET /book?token_id=``."""
        return web.json_response(self._summary(request.query.get("token_id", "")))

    async def books(self, request: web.Request) -> web.Response:
        """``POST /books [{"token_id"}]``."""
        params = await self._params(request)
        return web.json_response([self._summary(str(p.get("token_id", ""))) for p in params])

    def _mid(self, token_id: str) -> str:
        self._listing(token_id)
        bids, asks = self.venue.book(token_id)
        if not bids or not asks:
            return "0"
        return num((bids[0][0] + asks[0][0]) // 2)

    def _price(self, token_id: str, side: str) -> str:
        self._listing(token_id)
        bids, asks = self.venue.book(token_id)
        levels = bids if side.upper() == Side.BUY.value else asks
        return num(levels[0][0]) if levels else "0"

    async def midpoint(self, request: web.Request) -> web.Response:
        """``GET /midpoint?token_id=``."""
        return web.json_response({"mid": self._mid(request.query.get("token_id", ""))})

    async def midpoints(self, request: web.Request) -> web.Response:
        """``POST /midpoints``."""
        params = await self._params(request)
        tokens = [str(p.get("token_id", "")) for p in params]
        return web.json_response({t: self._mid(t) for t in tokens})

    async def price(self, request: web.Request) -> web.Response:
        """``GET /price?token_id=&side=`` (BUY: best bid, SELL: best ask)."""
        q = request.query
        return web.json_response({"price": self._price(q.get("token_id", ""), q.get("side", ""))})

    async def prices(self, request: web.Request) -> web.Response:
        """``POST /prices``."""
        out: dict[str, dict[str, str]] = {}
        for p in await self._params(request):
            token, side = str(p.get("token_id", "")), str(p.get("side", "BUY")).upper()
            out.setdefault(token, {})[side] = self._price(token, side)
        return web.json_response(out)

    def _spread(self, token_id: str) -> str:
        self._listing(token_id)
        bids, asks = self.venue.book(token_id)
        return num(asks[0][0] - bids[0][0]) if bids and asks else "0"

    async def spread(self, request: web.Request) -> web.Response:
        """``GET /spread?token_id=``."""
        return web.json_response({"spread": self._spread(request.query.get("token_id", ""))})

    async def spreads(self, request: web.Request) -> web.Response:
        """``POST /spreads``."""
        tokens = [str(p.get("token_id", "")) for p in await self._params(request)]
        return web.json_response({t: self._spread(t) for t in tokens})

    def _last(self, token_id: str) -> Json:
        listing = self._listing(token_id)
        trades = [t for t in self.venue.trades.values() if t.asset_id == token_id]
        price = listing.last_trade_price.get(token_id)
        side = trades[-1].side.value if trades else ""
        return {"price": num(price) if price is not None else "0.5", "side": side}

    async def last_trade_price(self, request: web.Request) -> web.Response:
        """``GET /last-trade-price?token_id=``."""
        return web.json_response(self._last(request.query.get("token_id", "")))

    async def last_trades_prices(self, request: web.Request) -> web.Response:
        """``POST /last-trades-prices``."""
        tokens = [str(p.get("token_id", "")) for p in await self._params(request)]
        return web.json_response([{"token_id": t, **self._last(t)} for t in tokens])

    async def prices_history(self, request: web.Request) -> web.Response:
        """``GET /prices-history?market=<token id>``: one point per trade."""
        token = request.query.get("market", "")
        history = [
            {"t": t.match_time_s, "p": float(to_decimal(t.price))}
            for t in self.venue.trades.values()
            if t.asset_id == token
        ]
        return web.json_response({"history": history})

    # -- orders -----------------------------------------------------------------------------

    async def post_order(self, request: web.Request) -> web.StreamResponse:
        """``POST /order`` (L2)."""
        creds, raw = await self._l2(request)
        body = decode_post_order(raw)
        if body is None:
            return _error(400, ERR_INVALID_PAYLOAD)
        status, reply = self.venue.post_order(creds, body)
        return self._reply(request, status, reply)

    async def post_orders(self, request: web.Request) -> web.StreamResponse:
        """``POST /orders`` (L2): up to ``max_batch_orders``, one result per order."""
        creds, raw = await self._l2(request)
        bodies = decode_post_orders(raw)
        if bodies is None:
            return _error(400, ERR_INVALID_PAYLOAD)
        limit = self.venue.config.max_batch_orders
        if len(bodies) > limit:
            return _error(400, f"Too many orders in payload: {len(bodies)}, max allowed: {limit}")
        results = []
        for body in bodies:
            status, reply = self.venue.post_order(creds, body)
            if status != 200:
                reply = {
                    "success": False,
                    "errorMsg": reply.get("error", ""),
                    "orderID": "",
                    "status": "",
                    "makingAmount": "",
                    "takingAmount": "",
                    "tradeIDs": [],
                    "transactionsHashes": [],
                }
            results.append(reply)
        return self._reply(request, 200, results)

    def _reply(self, request: web.Request, status: int, reply: Any) -> web.StreamResponse:
        if self.faults.take_lost_reply():
            transport = request.transport
            if transport is not None:
                transport.abort()  # the order stands, the client never hears about it
            return web.Response(status=status)
        return web.json_response(reply, status=status)

    async def _body(self, raw: bytes) -> Any:
        try:
            return json.loads(raw or b"{}")
        except ValueError as exc:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "Invalid payload"}), content_type="application/json"
            ) from exc

    async def cancel_order(self, request: web.Request) -> web.Response:
        """``DELETE /order {"orderID"}`` (L2)."""
        creds, raw = await self._l2(request)
        body = await self._body(raw)
        order_id = str(body.get("orderID", "")) if isinstance(body, dict) else ""
        return web.json_response(self.venue.cancel(creds.api_key, [order_id]))

    async def cancel_orders(self, request: web.Request) -> web.Response:
        """``DELETE /orders [ids]`` (L2)."""
        creds, raw = await self._l2(request)
        body = await self._body(raw)
        ids = [str(i) for i in body] if isinstance(body, list) else []
        return web.json_response(self.venue.cancel(creds.api_key, ids))

    async def cancel_all(self, request: web.Request) -> web.Response:
        """``DELETE /cancel-all`` (L2)."""
        creds, _ = await self._l2(request)
        ids = self.venue.open_order_ids(creds.api_key)
        return web.json_response(self.venue.cancel(creds.api_key, ids))

    async def cancel_market_orders(self, request: web.Request) -> web.Response:
        """``DELETE /cancel-market-orders {"market"?, "asset_id"?}`` (L2)."""
        creds, raw = await self._l2(request)
        body = await self._body(raw)
        body = body if isinstance(body, dict) else {}
        ids = self.venue.open_order_ids(
            creds.api_key, str(body.get("market", "")), str(body.get("asset_id", ""))
        )
        return web.json_response(self.venue.cancel(creds.api_key, ids))

    async def get_order(self, request: web.Request) -> web.Response:
        """``GET /data/order/{id}`` (L2): an active order of the key."""
        creds, _ = await self._l2(request)
        record = self.venue.orders.get(request.match_info["order_id"])
        # Like the venue, only active orders are served here; filled or cancelled ones are
        # recovered through /data/trades.
        if record is None or record.owner != creds.api_key or not record.open:
            return _error(404, ERR_NOT_FOUND)
        return web.json_response(rest_order(record))

    async def get_orders(self, request: web.Request) -> web.Response:
        """``GET /data/orders`` (L2): the key's open orders, filtered, a cursor page."""
        creds, _ = await self._l2(request)
        q = request.query
        items = [
            rest_order(r)
            for r in self.venue.orders.values()
            if r.owner == creds.api_key
            and r.open
            and (not q.get("market") or r.market == q["market"])
            and (not q.get("asset_id") or r.asset_id == q["asset_id"])
            and (not q.get("id") or r.id == q["id"])
        ]
        return web.json_response(_page(items, q.get("next_cursor", "")))

    async def pre_migration_orders(self, request: web.Request) -> web.Response:
        """``GET /data/pre-migration-orders`` (L2): none on a V2-only venue."""
        await self._l2(request)
        return web.json_response(_page([], request.query.get("next_cursor", "")))

    async def get_trades(self, request: web.Request) -> web.Response:
        """``GET /data/trades`` (L2): trades the key took part in, newest first."""
        creds, _ = await self._l2(request)
        q = request.query
        key = creds.api_key
        items = [
            rest_trade(t, key, self.venue.publisher.addresses.get(key, creds.address))
            for t in reversed(list(self.venue.trades.values()))
            if key in t.owners() and _trade_matches(t, q)
        ]
        return web.json_response(_page(items, q.get("next_cursor", "")))

    async def balance_allowance(self, request: web.Request) -> web.Response:
        """``GET /balance-allowance[/update]?asset_type=&token_id=&signature_type=`` (L2)."""
        creds, _ = await self._l2(request)
        q = request.query
        try:
            signature_type = int(q.get("signature_type", "0") or "0")
        except ValueError:
            return _error(400, "invalid signature_type")
        address = self.venue.funder_of(creds, signature_type)
        conditional = q.get("asset_type", "COLLATERAL").upper() == "CONDITIONAL"
        asset = q.get("token_id", "") if conditional else COLLATERAL
        accounts = self.venue.accounts
        kind = "CONDITIONAL" if conditional else "COLLATERAL"
        return web.json_response(
            {
                "balance": str(accounts.balance(address, asset)),
                "allowance": str(accounts.allowance(address, kind)),
            }
        )

    async def heartbeat(self, request: web.Request) -> web.Response:
        """``POST /v1/heartbeats {"heartbeat_id"}`` (L2)."""
        creds, raw = await self._l2(request)
        body = await self._body(raw)
        heartbeat_id = str(body.get("heartbeat_id", "")) if isinstance(body, dict) else ""
        status, reply = self.venue.heartbeat(creds.api_key, heartbeat_id)
        if self.faults.take_lost_heartbeat_reply():
            transport = request.transport
            if transport is not None:
                transport.abort()  # the id rotated; the client never hears the new one
            return web.Response(status=status)
        return web.json_response(reply, status=status)

    async def order_scoring(self, request: web.Request) -> web.Response:
        """``GET /order-scoring`` (L2): the simulator pays no liquidity rewards."""
        await self._l2(request)
        return web.json_response({"scoring": False})

    async def orders_scoring(self, request: web.Request) -> web.Response:
        """``POST /orders-scoring`` (L2)."""
        _, raw = await self._l2(request)
        ids = await self._body(raw)
        return web.json_response({str(i): False for i in _iter(ids)})

    async def notifications(self, request: web.Request) -> web.Response:
        """``GET|DELETE /notifications`` (L2): none."""
        await self._l2(request)
        return web.json_response([])


def _iter(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else []


def _trade_matches(trade: Any, q: Any) -> bool:
    checks = (
        (q.get("id"), trade.id),
        (q.get("market"), trade.market),
        (q.get("asset_id"), trade.asset_id),
    )
    if any(want and want != have for want, have in checks):
        return False
    maker = q.get("maker_address")
    if maker and maker.lower() not in {
        trade.maker_address.lower(),
        *(m.maker_address.lower() for m in trade.maker_orders),
    }:
        return False
    before, after = q.get("before"), q.get("after")
    if before and before.isdigit() and trade.match_time_s >= int(before):
        return False
    return not (after and after.isdigit() and trade.match_time_s <= int(after))
