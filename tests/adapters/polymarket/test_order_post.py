"""Order posts from the event loop are byte-for-byte what py-clob-client-v2 sends.

A raw HTTP/1.1 server on loopback records every request exactly as it arrived; the library's
own ``ClobClient.post_order`` / ``post_orders`` (in a thread, on its module-wide client) and
:class:`ClobRest` (on its async order client) post the same signed orders to it, with the L2
timestamp pinned (the library reads it from ``GET /time`` with ``use_server_time``; ours comes
from a virtual clock), and the two requests must be identical bytes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import ApiCreds, PostOrdersV2Args, RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.order_utils.model.order_data_v2 import SignedOrderV2
from py_clob_client_v2.order_utils.model.side import Side as LibSide
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from tests.adapters.polymarket.pinned_signer import KEY, SALT, TOKEN, pinned_signer

from polyloly.adapters.polymarket.config import SignatureType
from polyloly.adapters.polymarket.http import ClobRest
from polyloly.adapters.polymarket.order_request import L2Headers, json_body
from polyloly.adapters.polymarket.signing import OrderSpec, SignedOrder
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import RetryableError, UnknownOutcomeError

CREDS = ApiCreds(
    api_key="0b7f2a1e-5c4d-4e3f-9a8b-7c6d5e4f3a2b",
    api_secret="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
    api_passphrase="pass-phrase-0123456789",
)
SERVER_TIME_S = 1_795_577_955


@dataclass
class Captured:
    method: str
    path: str
    raw: bytes


@dataclass
class RawServer:
    """Answers every request with ``reply(method, path, body)`` and keeps the raw bytes."""

    reply: Callable[[str, str, bytes], tuple[int, bytes]]
    requests: list[Captured] = field(default_factory=list)
    connections: int = 0
    url: str = ""
    _tcp: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> RawServer:
        self._tcp = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._tcp.sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        assert self._tcp is not None
        self._tcp.close()
        for writer in self._writers:  # ends each handler (its read sees EOF)
            writer.transport.abort()
        await asyncio.gather(*self._handlers)
        await self._tcp.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                match = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
                body = await reader.readexactly(int(match.group(1))) if match else b""
                method, target = head.decode("latin-1").split(" ", 2)[:2]
                path = urlsplit(target).path  # origin-form, or absolute-form via a proxy
                self.requests.append(Captured(method, path, head + body))
                status, payload = self.reply(method, path, body)
                writer.write(
                    b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % (status, len(payload)) + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def posts(self) -> list[Captured]:
        return [r for r in self.requests if r.method == "POST"]


def _accept(method: str, path: str, body: bytes) -> tuple[int, bytes]:
    if path == "/time":
        return 200, str(SERVER_TIME_S).encode()
    if path == "/v1/heartbeats":
        return 200, b'{"heartbeat_id":"hb-2","error_msg":""}'
    orders = json.loads(body)
    acks = [
        {"success": True, "orderID": _hash_of(o["order"]), "status": "live", "errorMsg": ""}
        for o in (orders if isinstance(orders, list) else [orders])
    ]
    return 200, json.dumps(acks if isinstance(orders, list) else acks[0]).encode()


HASHES: dict[str, str] = {}  # signature -> order hash (the server cannot recompute it cheaply)


def _hash_of(order: dict[str, object]) -> str:
    return HASHES[str(order["signature"])]


@pytest_asyncio.fixture
async def server() -> AsyncIterator[RawServer]:
    srv = await RawServer(_accept).start()
    try:
        yield srv
    finally:
        await srv.stop()


def _signed(
    order_type: OrderType,
    *,
    post_only: bool = False,
    neg_risk: bool = False,
    sig_type: SignatureType = SignatureType.EOA,
    expiration_s: int = 0,
    salt: int = SALT,
) -> SignedOrder:
    signer = pinned_signer(sig_type, salt)
    spec = OrderSpec(
        token_id=TOKEN,
        side=Side.BUY,
        price=520_000,
        size=10_000_000,
        tick=10_000,
        order_type=order_type,
        neg_risk=neg_risk,
        post_only=post_only,
        expiration_s=expiration_s,
    )
    signed = signer.sign(spec)
    HASHES[signed.body.signature] = signed.order_hash
    return signed


def _library_order(signed: SignedOrder) -> SignedOrderV2:
    """The library's own signed-order object with the same fields (built here, not by us)."""
    b = signed.body
    return SignedOrderV2(
        salt=str(b.salt),
        maker=b.maker,
        signer=b.signer,
        tokenId=b.tokenId,
        makerAmount=b.makerAmount,
        takerAmount=b.takerAmount,
        side=LibSide.BUY if b.side == "BUY" else LibSide.SELL,
        signatureType=SignatureTypeV2(b.signatureType),
        timestamp=b.timestamp,
        metadata=b.metadata,
        builder=b.builder,
        expiration=b.expiration,
        signature=b.signature,
    )


def _rest(url: str) -> ClobRest:
    client = ClobClient(url, chain_id=137, key=KEY, creds=CREDS)
    return ClobRest(client, None, VirtualClock(SERVER_TIME_S * NS_PER_S + 999_999_999))


def _library(url: str) -> ClobClient:
    return ClobClient(url, chain_id=137, key=KEY, creds=CREDS, use_server_time=True)


CASES = {
    "fak": {"order_type": OrderType.FAK},
    "fok-neg-risk": {"order_type": OrderType.FOK, "neg_risk": True},
    "gtc-post-only": {"order_type": OrderType.GTC, "post_only": True},
    "gtd-1271": {
        "order_type": OrderType.GTD,
        "expiration_s": 1_900_000_000,
        "sig_type": SignatureType.POLY_1271,
    },
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", list(CASES))
async def test_a_post_is_byte_identical_to_the_library(server: RawServer, case: str) -> None:
    signed = _signed(**CASES[case])  # type: ignore[arg-type]
    lib = _library(server.url)
    reply = await asyncio.to_thread(
        lib.post_order, _library_order(signed), signed.order_type.value, signed.post_only
    )
    assert reply["orderID"] == signed.order_hash
    rest = _rest(server.url)
    try:
        ack = await rest.post_signed(signed)
    finally:
        await rest.aclose()
    assert ack.order_id == signed.order_hash
    theirs, ours = server.posts()
    assert (ours.method, ours.path) == ("POST", "/order")
    assert ours.raw == theirs.raw
    assert b"POLY_TIMESTAMP: 1795577955\r\n" in ours.raw  # the pinned time, in seconds


@pytest.mark.asyncio
async def test_a_batch_is_byte_identical_to_the_library(server: RawServer) -> None:
    orders = [_signed(OrderType.FAK, salt=s) for s in (11, 12, 13)]
    lib = _library(server.url)
    args = [PostOrdersV2Args(order=_library_order(o), orderType=o.order_type.value) for o in orders]
    replies = await asyncio.to_thread(lib.post_orders, args)
    assert [r["orderID"] for r in replies] == [o.order_hash for o in orders]
    rest = _rest(server.url)
    try:
        acks = await rest.post_signed_batch(orders)
    finally:
        await rest.aclose()
    assert [getattr(a, "order_id", None) for a in acks] == [o.order_hash for o in orders]
    theirs, ours = server.posts()
    assert ours.path == "/orders"
    assert ours.raw == theirs.raw


@pytest.mark.asyncio
async def test_a_heartbeat_is_byte_identical_to_the_library(server: RawServer) -> None:
    lib = _library(server.url)
    assert (await asyncio.to_thread(lib.post_heartbeat, "hb-1"))["heartbeat_id"] == "hb-2"
    rest = _rest(server.url)
    try:
        ack = await rest.heartbeat("hb-1")
    finally:
        await rest.aclose()
    assert (ack.heartbeat_id, ack.accepted) == ("hb-2", True)
    theirs, ours = server.posts()
    assert ours.path == "/v1/heartbeats"
    assert ours.raw == theirs.raw


@pytest.mark.asyncio
async def test_a_proxy_named_by_the_environment_carries_the_order_posts(
    server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    signed = _signed(OrderType.FAK, salt=77)
    rest = _rest("http://clob.invalid:8080")  # never resolved here: the proxy is asked
    try:
        ack = await rest.post_signed(signed)
        assert (await rest.heartbeat("hb-1")).heartbeat_id == "hb-2"
    finally:
        await rest.aclose()
    assert ack.order_id == signed.order_hash
    order, beat = server.posts()
    assert order.raw.startswith(b"POST http://clob.invalid:8080/order HTTP/1.1\r\n")
    assert beat.raw.startswith(b"POST http://clob.invalid:8080/v1/heartbeats HTTP/1.1\r\n")
    assert rest.order_transport.requests == 0  # the proxy transport carried both


@pytest.mark.asyncio
async def test_one_connection_serves_every_post_and_heartbeat(server: RawServer) -> None:
    rest = _rest(server.url)
    try:
        for salt in range(5):
            await rest.post_signed(_signed(OrderType.FAK, salt=100 + salt))
            await rest.heartbeat("hb-1")  # keeps the order connection in use between orders
    finally:
        await rest.aclose()
    assert len(server.posts()) == 10
    assert server.connections == 1  # keep-alive: one TCP connection for all of them


@pytest.mark.parametrize(
    "body",
    [b"", b'{"order":{"salt":1},"owner":"k"}', "{'quoted': 'é'}".encode()],
)
def test_l2_headers_match_the_library(body: bytes) -> None:
    signer = ClobClient("http://x", chain_id=137, key=KEY).signer
    assert signer is not None
    text = body.decode()
    expected = create_level_2_headers(
        signer,
        CREDS,
        RequestArgs(method="POST", request_path="/order", body=text, serialized_body=text),
        timestamp=SERVER_TIME_S,
    )
    headers = L2Headers(signer.address(), CREDS).post("/order", body, SERVER_TIME_S)
    library_order = [*expected, "User-Agent", "Accept", "Connection", "Content-Type"]
    assert list(headers) == library_order
    assert {k: headers[k] for k in expected} == expected


def test_the_body_is_the_library_serialization() -> None:
    signed = _signed(OrderType.FOK)
    body = json_body(signed.to_payload("owner-key"))
    assert body.startswith(b'{"order":{"salt":1464848247546,"maker":"0x')
    assert body.endswith(
        b'"owner":"owner-key","orderType":"FOK","deferExec":false,"postOnly":false}'
    )


@pytest.mark.asyncio
async def test_transport_failures_translate_as_through_the_library() -> None:
    # Nothing listens: the request was never sent, so it is safe to retry.
    probe = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    rest = _rest(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(RetryableError) as not_sent:
            await rest.post_signed(_signed(OrderType.FAK))
        assert type(not_sent.value) is RetryableError
    finally:
        await rest.aclose()

    # The connection drops after the request went out: the outcome is unknown.
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.transport.abort()

    tcp = await asyncio.start_server(drop, "127.0.0.1", 0)
    rest = _rest(f"http://127.0.0.1:{tcp.sockets[0].getsockname()[1]}")
    try:
        with pytest.raises(UnknownOutcomeError):
            await rest.post_signed(_signed(OrderType.FAK))
    finally:
        await rest.aclose()
        tcp.close()
        await tcp.wait_closed()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "payload", "kind"),
    [
        (502, b"bad gateway", UnknownOutcomeError),  # a gateway on a write: may have landed
        (500, b'{"error":"boom"}', RetryableError),
        (200, b"not json", RetryableError),  # an unusable reply shape
    ],
)
async def test_replies_translate_as_through_the_library(
    status: int, payload: bytes, kind: type[Exception]
) -> None:
    srv = await RawServer(lambda _m, _p, _b: (status, payload)).start()
    rest = _rest(srv.url)
    try:
        with pytest.raises(kind) as err:
            await rest.post_signed(_signed(OrderType.FAK))
        assert type(err.value) is kind
    finally:
        await rest.aclose()
        await srv.stop()
    assert len(srv.posts()) == 1  # never resent here


# -- posts made ahead and written synchronously (pre-decided orders) ---------------------------


@pytest.mark.asyncio
async def test_a_post_written_ahead_is_byte_identical_to_the_library(server: RawServer) -> None:
    signed = _signed(OrderType.FAK, salt=201)
    lib = _library(server.url)
    await asyncio.to_thread(lib.post_order, _library_order(signed), signed.order_type.value, False)
    rest = _rest(server.url)
    try:
        prepared = rest.prepare_order_post(rest.order_body(signed))
        assert prepared is not None
        assert rest.post_order_now(prepared) is None  # no idle connection yet: not written
        await rest.heartbeat("hb-1")  # opens the order connection, left idle
        pending = rest.post_order_now(prepared)
        assert pending is not None  # written before any await
        assert len(server.posts()) == 2  # ... the server has not read it yet
        ack = await rest.finish_order_post(pending)
        assert rest.order_transport.connects == 1  # the heartbeat's connection, reused
    finally:
        await rest.aclose()
    assert ack.order_id == signed.order_hash
    theirs, _beat, ours = server.posts()
    assert ours.raw == theirs.raw


@pytest.mark.asyncio
async def test_a_post_prepared_seconds_ago_carries_the_time_of_its_write(
    server: RawServer,
) -> None:
    clock = VirtualClock(SERVER_TIME_S * NS_PER_S)
    rest = ClobRest(ClobClient(server.url, chain_id=137, key=KEY, creds=CREDS), None, clock)
    try:
        await rest.heartbeat("hb-1")
        signed = [_signed(OrderType.FAK, salt=s) for s in (301, 302)]
        prepared = [rest.prepare_order_post(rest.order_body(o)) for o in signed]
        clock.advance_ns(NS_PER_S)  # the next second: made ahead too
        assert prepared[0] is not None
        pending = rest.post_order_now(prepared[0])
        assert pending is not None
        await rest.finish_order_post(pending)
        clock.advance_ns(5 * NS_PER_S)  # later: the headers are made again at the write
        assert prepared[1] is not None
        pending = rest.post_order_now(prepared[1])
        assert pending is not None
        await rest.finish_order_post(pending)
    finally:
        await rest.aclose()
    _beat, first, second = server.posts()
    assert b"POLY_TIMESTAMP: %d\r\n" % (SERVER_TIME_S + 1) in first.raw
    assert b"POLY_TIMESTAMP: %d\r\n" % (SERVER_TIME_S + 6) in second.raw
