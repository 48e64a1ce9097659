"""The CLOB REST port over py-clob-client-v2, run off the event loop, with typed results.

py-clob-client-v2 is synchronous (httpx + local EIP-712 signing, ~3 ms), so every call runs
in a worker thread (:func:`asyncio.to_thread`). Replies are decoded into typed structs;
every failure is translated at this boundary into :mod:`polyloly.bot.errors` classes
(:mod:`polyloly.adapters.polymarket.errors`).

Posting does **not** use ``ClobClient.post_order``: on a reply with ``tradeIDs`` but no
``transactionsHashes`` that method polls ``/data/trades`` for up to 30 s inside the call.
:meth:`ClobRest.post_signed` sends the same signed body with the same L2 headers and
returns at once; settlement arrives on the user channel.

Ports (small Protocols, each a slice of :class:`ClobRest`): :class:`OrderPort` for the
execution layer, :class:`UserRecoveryPort` for the user channel's catch-up,
:class:`HeartbeatPort` for the dead-man switch, :class:`MarketReadPort` for books and ticks.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §1 (methods → endpoints, ``POST
/order`` reply, heartbeats), §4 (errors); py-clob-client-v2 ``client.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

import httpx
import msgspec
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    OpenOrderParams,
    RequestArgs,
    TradeParams,
)
from py_clob_client_v2.endpoints import GET_TICK_SIZE, POST_ORDER, POST_ORDERS
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.http_helpers import helpers as lib_http

from polyloly.adapters.polymarket.config import ApiCredentials
from polyloly.adapters.polymarket.constants import ACCEPTED_ORDER_STATUSES, MAX_ORDERS_PER_BATCH
from polyloly.adapters.polymarket.errors import (
    ParseError,
    classify_venue_message,
    message_of,
    translate_exception,
)
from polyloly.adapters.polymarket.events import OrderUpdate, TradeUpdate, UpdateSource
from polyloly.adapters.polymarket.parsing import (
    book_snapshot,
    micros,
    order_update,
    tick_micros,
    trade_update,
)
from polyloly.adapters.polymarket.schemas.http import (
    BalanceAllowanceReply,
    BookReply,
    CancelReply,
    HeartbeatReply,
    OrderReply,
)
from polyloly.adapters.polymarket.schemas.user import WsUserOrder, WsUserTrade
from polyloly.adapters.polymarket.signing import OrderSigner, OrderSpec, SignedOrder
from polyloly.bot.clock import Clock
from polyloly.bot.errors import ConfigError, PolylolyError, RejectError, RetryableError
from polyloly.domain.events import BookSnapshot

__all__ = [
    "Balances",
    "CancelAck",
    "ClobRest",
    "HeartbeatAck",
    "HeartbeatPort",
    "MarketReadPort",
    "OrderAck",
    "OrderPort",
    "UserRecoveryPort",
    "configure_http_transport",
    "restore_http_transport",
]

_T = TypeVar("_T")
COLLATERAL: Final = "collateral"


class OrderAck(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted ``POST /order``: ``status`` is ``live``, ``matched`` or ``delayed``."""

    order_id: str
    status: str
    making_amount: int = 0
    taking_amount: int = 0
    trade_ids: tuple[str, ...] = ()
    transaction_hashes: tuple[str, ...] = ()


class CancelAck(msgspec.Struct, frozen=True, kw_only=True):
    """What a cancel did: ``not_canceled`` maps an id to the venue's reason."""

    canceled: tuple[str, ...] = ()
    not_canceled: dict[str, str] = {}


class HeartbeatAck(msgspec.Struct, frozen=True, kw_only=True):
    """The id to send with the next heartbeat; ``resynced`` if ours was rejected as stale."""

    heartbeat_id: str
    resynced: bool = False


class Balances(msgspec.Struct, frozen=True, kw_only=True):
    """pUSD and outcome-token balances of the funder, in micros."""

    collateral: int
    tokens: dict[str, int] = {}


class OrderPort(Protocol):
    """What the execution layer calls to place and cancel orders."""

    async def sign_order(self, spec: OrderSpec) -> SignedOrder:
        """Sign locally (no I/O); the result carries the order hash."""
        ...

    async def post_signed(self, order: SignedOrder) -> OrderAck:
        """Post a signed order; raise a polyloly error on any failure."""
        ...

    async def cancel(self, order_ids: Sequence[str]) -> CancelAck:
        """Cancel orders by id."""
        ...


class UserRecoveryPort(Protocol):
    """What the user channel reads after a reconnect (the venue does not replay)."""

    async def open_orders(self) -> list[OrderUpdate]:
        """Every open order of this API key."""
        ...

    async def trades(self, after_s: int | None = None) -> list[TradeUpdate]:
        """Trades of this API key matched after ``after_s`` (UTC seconds)."""
        ...


class HeartbeatPort(Protocol):
    """The dead-man switch endpoint."""

    async def heartbeat(self, heartbeat_id: str) -> HeartbeatAck:
        """Post one heartbeat with the chained id; return the next id."""
        ...


class MarketReadPort(Protocol):
    """Public market reads."""

    async def book(self, token_id: str) -> BookSnapshot:
        """The token's current book."""
        ...

    async def tick_size(self, token_id: str) -> int:
        """The token's tick size in micros."""
        ...


def configure_http_transport(timeout_s: float) -> httpx.Client:
    """Replace py-clob-client-v2's module-wide httpx client with one using ``timeout_s``.

    The library keeps a single process-wide ``httpx.Client`` (default 5 s timeout); this
    swaps it once at start-up so every ``ClobClient`` in the process shares the timeout.
    Returns the previous client (still open) so a caller can put it back.
    """
    old: httpx.Client = lib_http._http_client
    lib_http._http_client = httpx.Client(http2=True, timeout=timeout_s)
    return old


def restore_http_transport(previous: httpx.Client) -> None:
    """Put back a client returned by :func:`configure_http_transport` (closing ours)."""
    current: httpx.Client = lib_http._http_client
    lib_http._http_client = previous
    if current is not previous:
        current.close()


def _convert(obj: object, typ: type[_T], what: str) -> _T:
    try:
        return msgspec.convert(obj, typ, strict=False)
    except msgspec.ValidationError as exc:
        raise RetryableError(f"{what}: unexpected reply shape ({exc})") from exc


def order_ack(raw: object) -> OrderAck:
    """Turn a ``POST /order`` reply into an :class:`OrderAck`, or raise :class:`RejectError`.

    An empty ``status`` (older replies) with ``success`` and an ``orderID`` is accepted.
    """
    reply = _convert(raw, OrderReply, "post_order")
    error = reply.errorMsg or ""
    status = reply.status.lower()
    refused_status = bool(status) and status not in ACCEPTED_ORDER_STATUSES
    if not reply.success or error or not reply.orderID or refused_status:
        text = error or f"order not accepted (status {reply.status or 'none'})"
        rule = classify_venue_message(text)
        if rule is not None and rule.kind is not RejectError:
            raise rule.kind(f"[{rule.code}] {text}")
        raise RejectError(text, code=rule.code if rule else (status or "rejected"))
    try:
        making = micros(reply.makingAmount) if reply.makingAmount else 0
        taking = micros(reply.takingAmount) if reply.takingAmount else 0
    except ParseError as exc:
        raise RetryableError(f"post_order: bad amount in reply ({exc})") from exc
    return OrderAck(
        order_id=reply.orderID,
        status=status,
        making_amount=making,
        taking_amount=taking,
        trade_ids=tuple(reply.tradeIDs or ()),
        transaction_hashes=tuple(reply.transactionsHashes or ()),
    )


def _parse_balance(text: str) -> int:
    """``balance`` is an integer count of 1e-6 units; a decimal string is whole units."""
    if "." in text:
        return micros(text)
    if text.isascii() and text.isdigit():
        return int(text)
    raise RetryableError(f"balance: unexpected value {text[:40]!r}")


class ClobRest:
    """The REST port: py-clob-client-v2 in worker threads, typed results, translated errors.

    Parameters
    ----------
    client
        A configured ``ClobClient`` (host, chain, key, creds, signature type, funder).
    signer
        Local order signer for the same wallet (``None`` for read-only use).
    clock
        For ``ts_init`` of the events built from REST rows.
    """

    def __init__(self, client: ClobClient, signer: OrderSigner | None, clock: Clock) -> None:
        self._client = client
        self._signer = signer
        self._clock = clock

    # -- plumbing ------------------------------------------------------------------------------

    async def _call(self, op: str, fn: Callable[[], _T], *, mutating: bool) -> _T:
        try:
            return await asyncio.to_thread(fn)
        except PolylolyError:
            raise
        except Exception as exc:  # every library failure is translated here
            raise translate_exception(exc, op=op, mutating=mutating) from exc

    def _owner(self) -> str:
        creds = self._client.creds
        if creds is None:
            raise ConfigError("polymarket: API credentials are needed (derive_creds first)")
        owner: str = creds.api_key
        return owner

    def _post_json(self, path: str, payload: object) -> Any:
        client = self._client
        if client.signer is None or client.creds is None:
            raise ConfigError("polymarket: posting orders needs a private key and API creds")
        serialized = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        headers = create_level_2_headers(
            client.signer,
            client.creds,
            RequestArgs(method="POST", request_path=path, body=payload, serialized_body=serialized),
        )
        return lib_http.post(f"{client.host}{path}", headers=headers, data=serialized)

    # -- auth ----------------------------------------------------------------------------------

    async def derive_creds(self) -> ApiCredentials:
        """Create (or, if it exists, derive) this wallet's API key and start using it."""

        def run() -> ApiCreds:
            creds = self._client.create_or_derive_api_key()
            self._client.set_api_creds(creds)
            return creds

        creds = await self._call("derive_creds", run, mutating=False)
        return ApiCredentials.of(creds.api_key, creds.api_secret, creds.api_passphrase)

    # -- orders --------------------------------------------------------------------------------

    async def sign_order(self, spec: OrderSpec) -> SignedOrder:
        """Sign ``spec`` locally in a worker thread; the result carries the order hash."""
        signer = self._signer
        if signer is None:
            raise ConfigError("polymarket: signing needs a wallet private key")
        return await self._call("sign_order", lambda: signer.sign(spec), mutating=False)

    async def post_signed(self, order: SignedOrder) -> OrderAck:
        """Post one signed order; returns when the venue answers (no settlement polling)."""
        payload = order.to_payload(self._owner())
        raw = await self._call(
            "post_order", lambda: self._post_json(POST_ORDER, payload), mutating=True
        )
        return order_ack(raw)

    async def post_signed_batch(
        self, orders: Sequence[SignedOrder]
    ) -> list[OrderAck | PolylolyError]:
        """Post up to 15 signed orders in one ``POST /orders``; one result per order, in order.

        A leg the venue refused is returned as its :class:`RejectError` (not raised).
        """
        if not 0 < len(orders) <= MAX_ORDERS_PER_BATCH:
            raise RejectError(
                f"a batch holds 1..{MAX_ORDERS_PER_BATCH} orders, got {len(orders)}",
                code="too_many_orders",
            )
        owner = self._owner()
        payload = [o.to_payload(owner) for o in orders]
        raw = await self._call(
            "post_orders", lambda: self._post_json(POST_ORDERS, payload), mutating=True
        )
        if not isinstance(raw, list) or len(raw) != len(orders):
            raise RetryableError("post_orders: reply does not list one result per order")
        results: list[OrderAck | PolylolyError] = []
        for item in raw:
            try:
                results.append(order_ack(item))
            except PolylolyError as exc:
                results.append(exc)
        return results

    async def create_and_post(self, spec: OrderSpec) -> tuple[SignedOrder, OrderAck]:
        """Sign then post; the signed order (with its hash) comes back with the ack."""
        signed = await self.sign_order(spec)
        return signed, await self.post_signed(signed)

    async def cancel(self, order_ids: Sequence[str]) -> CancelAck:
        """Cancel orders by id (``DELETE /orders``)."""
        ids = list(order_ids)
        if not ids:
            return CancelAck()
        raw = await self._call("cancel", lambda: self._client.cancel_orders(ids), mutating=True)
        return self._cancel_ack(raw)

    async def cancel_all(self) -> CancelAck:
        """Cancel every open order of this API key (``DELETE /cancel-all``)."""
        raw = await self._call("cancel_all", self._client.cancel_all, mutating=True)
        return self._cancel_ack(raw)

    @staticmethod
    def _cancel_ack(raw: object) -> CancelAck:
        reply = _convert(raw, CancelReply, "cancel")
        return CancelAck(canceled=tuple(reply.canceled), not_canceled=dict(reply.not_canceled))

    # -- reads ---------------------------------------------------------------------------------

    def _order_rows(self, rows: object) -> list[OrderUpdate]:
        now = self._clock.now_ns()
        out: list[OrderUpdate] = []
        for row in _convert(rows, list[WsUserOrder], "orders"):
            try:
                out.append(order_update(row, now, UpdateSource.REST))
            except ParseError as exc:
                raise RetryableError(f"orders: unusable row {row.id!r} ({exc})") from exc
        return out

    async def get_order(self, order_id: str) -> OrderUpdate | None:
        """One order; ``None`` if the venue does not know it as active (404 or empty).

        The venue serves active orders only: a filled or cancelled order reads as ``None``;
        its fills are in :meth:`trades`.
        """
        try:
            raw = await self._call(
                "get_order", lambda: self._client.get_order(order_id), mutating=False
            )
        except RejectError as exc:
            if exc.code == "not_found":
                return None
            raise
        if not raw:
            return None
        rows = self._order_rows([raw])
        return rows[0]

    async def open_orders(self) -> list[OrderUpdate]:
        """Every open order of this API key (all pages of ``/data/orders``)."""
        raw = await self._call(
            "open_orders", lambda: self._client.get_open_orders(OpenOrderParams()), mutating=False
        )
        return self._order_rows(raw)

    async def trades(self, after_s: int | None = None) -> list[TradeUpdate]:
        """Trades of this API key (all pages of ``/data/trades``), after ``after_s`` if given."""
        params = TradeParams(after=after_s) if after_s else TradeParams()
        raw = await self._call("trades", lambda: self._client.get_trades(params), mutating=False)
        owner = self._owner()
        funder = self._signer.funder if self._signer is not None else ""
        now = self._clock.now_ns()
        out: list[TradeUpdate] = []
        for row in _convert(raw, list[WsUserTrade], "trades"):
            try:
                out.append(
                    trade_update(row, now, UpdateSource.REST, own_owner=owner, own_address=funder)
                )
            except ParseError as exc:
                raise RetryableError(f"trades: unusable row {row.id!r} ({exc})") from exc
        return out

    async def balances(self, token_ids: Sequence[str] = ()) -> Balances:
        """pUSD balance and the balances of ``token_ids`` (``/balance-allowance``)."""

        def run() -> tuple[object, list[object]]:
            client = self._client
            coll = client.get_balance_allowance(
                BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
            )
            toks = [
                client.get_balance_allowance(
                    BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=t)
                )
                for t in token_ids
            ]
            return coll, toks

        coll, toks = await self._call("balances", run, mutating=False)
        collateral = _parse_balance(_convert(coll, BalanceAllowanceReply, "balances").balance)
        tokens = {
            t: _parse_balance(_convert(r, BalanceAllowanceReply, "balances").balance)
            for t, r in zip(token_ids, toks, strict=True)
        }
        return Balances(collateral=collateral, tokens=tokens)

    async def book(self, token_id: str) -> BookSnapshot:
        """The token's book from ``GET /book`` as a :class:`BookSnapshot`."""
        raw = await self._call(
            "book", lambda: self._client.get_order_book(token_id), mutating=False
        )
        reply = _convert(raw, BookReply, "book")
        try:
            return book_snapshot(reply, self._clock.now_ns())
        except ParseError as exc:
            raise RetryableError(f"book: unusable reply ({exc})") from exc

    async def tick_size(self, token_id: str) -> int:
        """The token's current tick size in micros (``GET /tick-size``).

        Read from the venue every time: ``ClobClient.get_tick_size`` caches a token's tick
        forever, but ticks change at run time.
        """
        url = f"{self._client.host}{GET_TICK_SIZE}"
        raw = await self._call(
            "tick_size", lambda: lib_http.get(url, params={"token_id": token_id}), mutating=False
        )
        value = raw.get("minimum_tick_size") if isinstance(raw, dict) else None
        try:
            # The shortest repr of the float json.loads made ("0.001") is exact for every tick.
            return tick_micros(str(value))
        except ParseError as exc:
            raise RetryableError(f"tick_size: unusable reply ({exc})") from exc

    # -- heartbeat -----------------------------------------------------------------------------

    async def heartbeat(self, heartbeat_id: str) -> HeartbeatAck:
        """Post a heartbeat with the chained id.

        A stale id is answered with an error carrying the id the venue expects; that is
        adopted (``resynced``) rather than raised, so the chain recovers by itself.
        """

        def run() -> HeartbeatAck:
            try:
                raw = self._client.post_heartbeat(heartbeat_id)
            except PolyApiException as exc:
                body = exc.error_msg
                if (
                    isinstance(body, dict)
                    and body.get("heartbeat_id")
                    and "heartbeat" in message_of(body).lower()
                ):
                    return HeartbeatAck(heartbeat_id=str(body["heartbeat_id"]), resynced=True)
                raise
            reply = _convert(raw, HeartbeatReply, "heartbeat")
            if not reply.heartbeat_id:
                raise RetryableError("heartbeat: reply carries no heartbeat_id")
            return HeartbeatAck(heartbeat_id=reply.heartbeat_id, resynced=bool(reply.error_msg))

        return await self._call("heartbeat", run, mutating=True)
