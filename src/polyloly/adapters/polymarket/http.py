"""The CLOB REST port over py-clob-client-v2, with typed results and translated errors.

py-clob-client-v2 is synchronous (httpx + local EIP-712 signing), so every call except the
order posts and the heartbeats runs in a worker thread (:func:`asyncio.to_thread`). Replies
are decoded into typed structs; every failure is translated at this boundary into
:mod:`polyloly.runtime.errors` classes (:mod:`polyloly.adapters.polymarket.errors`).

Order posts (``POST /order``, ``POST /orders``) are the latency-critical calls, so they run
on the event loop over one long-lived keep-alive ``httpx.AsyncClient`` (HTTP/1.1, on an
:class:`~polyloly.adapters.polymarket.transport.Http11Transport`, which writes the request
before the sending task first yields) owned by :class:`ClobRest` (closed by
:meth:`ClobRest.aclose`); the heartbeats use it too, which keeps its connection warm
between results. The body is the library's exact bytes (:meth:`ClobRest.order_body`, made
once, ideally when the order is signed); only the L2 headers, which depend on the time, are
made at send time, filled into header lines learnt once from the client
(:mod:`polyloly.adapters.polymarket.order_request`); the post goes to the transport
directly, not through ``AsyncClient.send``. The
request is byte-for-byte what ``ClobClient.post_order`` sends (same body, same headers in
the same order), and failures translate exactly as through the library (no retry here:
never a blind resend). When the environment names a proxy for the CLOB host
(``HTTPS_PROXY``…), order posts and heartbeats go through it, as the library's calls do.

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
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

import httpx
import msgspec
import structlog
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    OpenOrderParams,
    TradeParams,
)
from py_clob_client_v2.endpoints import GET_TICK_SIZE, POST_HEARTBEAT, POST_ORDER, POST_ORDERS
from py_clob_client_v2.http_helpers import helpers as lib_http

from polyloly.adapters.polymarket.config import ApiCredentials
from polyloly.adapters.polymarket.constants import ACCEPTED_ORDER_STATUSES, MAX_ORDERS_PER_BATCH
from polyloly.adapters.polymarket.errors import (
    ParseError,
    error_for_status,
    heartbeat_expected_id,
    message_of,
    refused_order_error,
    translate_exception,
)
from polyloly.adapters.polymarket.events import OrderUpdate, TradeUpdate, UpdateSource
from polyloly.adapters.polymarket.order_request import (
    HeaderTemplate,
    L2Headers,
    env_proxy,
    json_body,
)
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
from polyloly.adapters.polymarket.transport import Http11Transport
from polyloly.domain.events import BookSnapshot
from polyloly.execution.ports import RejectCode
from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.runtime.errors import ConfigError, PolylolyError, RejectError, RetryableError

__all__ = [
    "Balances",
    "CancelAck",
    "ClobRest",
    "HeartbeatAck",
    "HeartbeatPort",
    "MarketReadPort",
    "OrderAck",
    "OrderPort",
    "PendingPost",
    "PreparedPost",
    "UserRecoveryPort",
    "configure_http_transport",
    "order_ack",
    "restore_http_transport",
]

_log = structlog.get_logger(__name__)

_T = TypeVar("_T")
COLLATERAL: Final = "collateral"
ORDER_KEEPALIVE_S: Final = 60.0
"""How long an idle order connection is reused (the heartbeats use it every few seconds; a
new connection costs a TCP and TLS handshake before the order can go out)."""


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
    """The venue's answer to one heartbeat.

    ``accepted``: the beat counted and ``heartbeat_id`` is the id to send next. Otherwise
    the venue refused the id sent (``Invalid Heartbeat ID``: the beat did not count) and
    ``heartbeat_id`` is the one it expects (``""``: it holds no chain for the key).
    """

    heartbeat_id: str
    accepted: bool = True


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
        """Post one heartbeat with the chained id; the venue's answer (raise if none)."""
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
        raise refused_order_error(text, status)
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


def _decoded(response: httpx.Response) -> object:
    """The reply as the library returns it: decoded JSON, else the text."""
    try:
        return response.json()
    except ValueError:
        return response.text


def _parse_balance(text: str) -> int:
    """``balance`` is an integer count of 1e-6 units; a decimal string is whole units."""
    if "." in text:
        return micros(text)
    if text.isascii() and text.isdigit():
        return int(text)
    raise RetryableError(f"balance: unexpected value {text[:40]!r}")


class PreparedPost(msgspec.Struct, kw_only=True):
    """A ``POST /order`` made ahead: its header lines and bytes for one or two seconds.

    The L2 headers carry the time in whole seconds (``POLY_TIMESTAMP``, in the HMAC), so
    the bytes are made for the second it was prepared in and the next; a post in a later
    second makes them again (:meth:`ClobRest.post_order_now`).
    """

    body: bytes
    second: int
    lines: list[list[tuple[bytes, bytes]]]  # header lines for ``second`` and ``second + 1``
    data: list[bytes]  # the request's bytes for ``second`` and ``second + 1``


class PendingPost(msgspec.Struct, kw_only=True):
    """A ``POST /order`` already written; :meth:`ClobRest.finish_order_post` reads its reply."""

    conn: Any
    lines: list[tuple[bytes, bytes]]
    body: bytes
    data: bytes


class ClobRest:
    """The REST port: order posts on the loop, the rest of py-clob-client-v2 in threads.

    Parameters
    ----------
    client
        A configured ``ClobClient`` (host, chain, key, creds, signature type, funder).
    signer
        Local order signer for the same wallet (``None`` for read-only use).
    clock
        For ``ts_init`` of the events built from REST rows and the L2 header timestamps.
    timeout_s
        Timeout of the order posts (connect, write, read); ``None``: the timeout of the
        library's module-wide client (:func:`configure_http_transport`) at construction.
    order_transport
        The order client's transport (default: an :class:`~polyloly.adapters.polymarket.
        transport.Http11Transport` keeping its connection for ``keepalive_s``, which writes
        the request before the task first yields); benchmarks pass an instrumented one.
    keepalive_s
        How long the order connection may stay idle.

    Call :meth:`aclose` once at shutdown (it closes the order connection).
    """

    def __init__(
        self,
        client: ClobClient,
        signer: OrderSigner | None,
        clock: Clock,
        *,
        timeout_s: float | None = None,
        order_transport: Http11Transport | None = None,
        keepalive_s: float = ORDER_KEEPALIVE_S,
    ) -> None:
        self._client = client
        self._signer = signer
        self._clock = clock
        timeout = (
            httpx.Timeout(timeout_s)
            if timeout_s is not None
            else lib_http._http_client.timeout  # the library's, as every other call uses
        )
        self._order_url = httpx.URL(f"{client.host}{POST_ORDER}")
        self._transport = order_transport or Http11Transport(keepalive_s=keepalive_s)
        proxy = env_proxy(self._order_url) if order_transport is None else None
        self._direct = proxy is None
        """Whether posts go to the order transport itself; not when the environment names a
        proxy for the CLOB host, like the library's own client: the order client then goes
        through httpx's proxy transport (slower to the socket, but where the user said)."""
        if proxy is None:
            self._orders = httpx.AsyncClient(timeout=timeout, transport=self._transport)
        else:
            self._orders = httpx.AsyncClient(timeout=timeout, proxy=proxy)
            _log.warning("clob.orders_via_proxy", host=self._order_url.host)
        self._timeouts: dict[str, float | None] = timeout.as_dict()
        self._heartbeat_url = httpx.URL(f"{client.host}{POST_HEARTBEAT}")
        self._l2: L2Headers | None = None
        self._template: HeaderTemplate | None = None

    @property
    def order_transport(self) -> Http11Transport:
        """The order connection's transport (its ``connects`` and ``requests`` counts)."""
        return self._transport

    async def aclose(self) -> None:
        """Close the order client and its connection (at shutdown)."""
        await self._orders.aclose()

    # -- plumbing ------------------------------------------------------------------------------

    async def _call(self, op: str, fn: Callable[[], _T], *, mutating: bool) -> _T:
        try:
            return await asyncio.to_thread(fn)
        except PolylolyError:
            raise
        except Exception as exc:  # every library failure is translated here
            raise translate_exception(exc, op=op, mutating=mutating) from exc

    def owner(self) -> str:
        """The API key orders are posted under (the body's ``owner``)."""
        creds = self._client.creds
        if creds is None:
            raise ConfigError("polymarket: API credentials are needed (derive_creds first)")
        owner: str = creds.api_key
        return owner

    def _l2_headers(self) -> L2Headers:
        client = self._client
        creds = client.creds
        if client.signer is None or creds is None:
            raise ConfigError("polymarket: posting orders needs a private key and API creds")
        l2 = self._l2
        if l2 is None or l2.creds is not creds:  # new credentials (derive_creds)
            l2 = self._l2 = L2Headers(client.signer.address(), creds)
        return l2

    async def _post_l2(self, op: str, url: httpx.URL, path: str, body: bytes) -> tuple[int, object]:
        """POST ``body`` on the order client with L2 headers made now: (status, reply).

        Transport failures translate as through the library (its ``request`` wraps every
        ``httpx.RequestError``; :func:`translate_exception` maps both the same way): these
        are writes, so a lost reply is an :class:`~polyloly.runtime.errors.UnknownOutcomeError`.
        Nothing is ever resent here.
        """
        headers = self._l2_headers().post(path, body, self._clock.now_ns() // NS_PER_S)
        try:
            if self._direct:
                response = await self._transport.request(
                    b"POST",
                    url,
                    self._raw_headers(url, body, headers),
                    body,
                    self._timeouts,
                    write_first=True,
                )
            else:  # through the proxy the environment names for the CLOB host
                client = self._orders
                response = await client.send(
                    client.build_request("POST", url, content=body, headers=headers)
                )
        except Exception as exc:  # every transport failure is translated here
            raise translate_exception(exc, op=op, mutating=True) from exc
        return response.status_code, _decoded(response)

    def _raw_headers(
        self, url: httpx.URL, body: bytes, headers: dict[str, str]
    ) -> list[tuple[bytes, bytes]]:
        """The header lines ``AsyncClient.build_request`` would make, at a fraction of its cost.

        The client's default headers merged with these header names give the same lines in
        the same order every time: they are learnt from ``build_request`` once, then only
        the values are filled in.
        """
        template = self._template
        if template is None or not template.fits(url, headers):
            built = self._orders.build_request("POST", url, content=body, headers=headers)
            template = self._template = HeaderTemplate.learn(url, built, headers)
        return template.fill(body, headers)

    async def _post_order_json(self, op: str, url: httpx.URL, path: str, body: bytes) -> Any:
        """:meth:`_post_l2`, any status but 200 raised as the library's would translate."""
        status, reply = await self._post_l2(op, url, path, body)
        if status != 200:
            raise error_for_status(status, message_of(reply), mutating=True)
        return reply

    # -- auth ----------------------------------------------------------------------------------

    async def derive_creds(self) -> ApiCredentials:
        """Create (or, if it exists, derive) this wallet's API key and start using it.

        The library's ``create_or_derive_api_key`` swallows any failure of the create call
        and derives instead; for a new wallet a create lost to a 5xx then reads as the
        derive's refusal ("Could not derive api key!"), which no retry would pass. Here a
        transient failure of either call is raised as such (:class:`RetryableError`: the
        caller retries with backoff); only a refused create (the key exists) derives.
        """
        client = self._client

        def create() -> ApiCreds | None:
            try:
                made = client.create_api_key()
            except Exception as exc:  # every library failure is translated here
                error = translate_exception(exc, op="create_api_key", mutating=False)
                if isinstance(error, RetryableError):
                    raise error from exc
                return None  # refused: the key exists, derive it
            return made if made.api_key else None

        def run() -> ApiCreds:
            creds = create() or client.derive_api_key()
            client.set_api_creds(creds)
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

    def order_body(self, order: SignedOrder) -> bytes:
        """The exact ``POST /order`` body of ``order`` for this API key (make it once).

        Pure CPU, safe from any thread: the signer may make it right after signing.
        """
        return json_body(order.to_payload(self.owner()))

    async def post_order_body(self, body: bytes) -> OrderAck:
        """Post one order given its :meth:`order_body`; returns when the venue answers."""
        raw = await self._post_order_json("post_order", self._order_url, POST_ORDER, body)
        return order_ack(raw)

    # -- posts written ahead of their task (pre-decided orders) ------------------------------

    def prepare_order_post(self, body: bytes) -> PreparedPost | None:
        """Make the whole ``POST /order`` of ``body`` now, for this second and the next.

        ``None`` when posts go through a proxy (those are never written ahead). Raises
        :class:`~polyloly.runtime.errors.ConfigError` without credentials.
        """
        if not self._direct:
            return None
        second = self._clock.now_ns() // NS_PER_S
        lines = [self._post_lines(body, s) for s in (second, second + 1)]
        data = [self._transport.prepared_bytes(b"POST", self._order_url, ls, body) for ls in lines]
        return PreparedPost(body=body, second=second, lines=lines, data=data)

    def _post_lines(self, body: bytes, second: int) -> list[tuple[bytes, bytes]]:
        headers = self._l2_headers().post(POST_ORDER, body, second)
        return self._raw_headers(self._order_url, body, headers)

    def post_order_now(self, prepared: PreparedPost) -> PendingPost | None:
        """Write a prepared post on the idle order connection before returning.

        The bytes are the very ones :meth:`post_order_body` would write now (the L2
        timestamp is this second's). ``None`` if nothing was written (no idle connection:
        post it the ordinary way). Finish with :meth:`finish_order_post`.
        """
        k = self._clock.now_ns() // NS_PER_S - prepared.second
        if k in (0, 1):
            lines, data = prepared.lines[k], prepared.data[k]
        else:  # prepared more than a second ago: today's headers
            lines = self._post_lines(prepared.body, prepared.second + k)
            data = self._transport.prepared_bytes(b"POST", self._order_url, lines, prepared.body)
        conn = self._transport.write_now(data)
        if conn is None:
            return None
        return PendingPost(conn=conn, lines=lines, body=prepared.body, data=data)

    async def finish_order_post(self, pending: PendingPost) -> OrderAck:
        """The reply to a post :meth:`post_order_now` wrote, translated as any post's."""
        try:
            response = await self._transport.complete(
                pending.conn,
                method=b"POST",
                url=self._order_url,
                headers=pending.lines,
                body=pending.body,
                timeouts=self._timeouts,
                data=pending.data,
            )
        except Exception as exc:  # every transport failure is translated here
            raise translate_exception(exc, op="post_order", mutating=True) from exc
        reply = _decoded(response)
        if response.status_code != 200:
            raise error_for_status(response.status_code, message_of(reply), mutating=True)
        return order_ack(reply)

    async def post_signed(self, order: SignedOrder) -> OrderAck:
        """Post one signed order; returns when the venue answers (no settlement polling)."""
        return await self.post_order_body(self.order_body(order))

    async def post_signed_batch(
        self, orders: Sequence[SignedOrder]
    ) -> list[OrderAck | PolylolyError]:
        """Post up to 15 signed orders in one ``POST /orders``; one result per order, in order.

        A leg the venue refused is returned as its :class:`RejectError` (not raised).
        """
        if not 0 < len(orders) <= MAX_ORDERS_PER_BATCH:
            raise RejectError(
                f"a batch holds 1..{MAX_ORDERS_PER_BATCH} orders, got {len(orders)}",
                code=RejectCode.TOO_MANY_ORDERS,
            )
        owner = self.owner()
        body = json_body([o.to_payload(owner) for o in orders])
        url = httpx.URL(f"{self._client.host}{POST_ORDERS}")
        raw = await self._post_order_json("post_orders", url, POST_ORDERS, body)
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
            if exc.code == RejectCode.NOT_FOUND:
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
        owner = self.owner()
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
        """Post a heartbeat with the chained id, on the order connection.

        The venue's refusal of the id (HTTP 400 ``Invalid Heartbeat ID`` with the id it
        expects, possibly ``""``) is an answer, not an error: it is returned
        (``accepted=False``) for the caller to adopt, as the official SDK's
        ``OrderHeartbeatMismatchError`` hands it over. Any other failure is raised,
        translated. The heartbeats (every few seconds) keep the order connection warm:
        without them it would go idle between results and the next order would pay a new
        TCP and TLS handshake.
        """
        body = json_body({"heartbeat_id": heartbeat_id})
        status, reply = await self._post_l2("heartbeat", self._heartbeat_url, POST_HEARTBEAT, body)
        if status == 400:
            expected = heartbeat_expected_id(reply)
            if expected is not None:
                return HeartbeatAck(heartbeat_id=expected, accepted=False)
        if status != 200:
            raise error_for_status(status, message_of(reply), mutating=True)
        ack = _convert(reply, HeartbeatReply, "heartbeat")
        if not ack.heartbeat_id:
            raise RetryableError("heartbeat: reply carries no heartbeat_id")
        return HeartbeatAck(heartbeat_id=ack.heartbeat_id)
