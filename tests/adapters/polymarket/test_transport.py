"""``Http11Transport``: the request leaves in the caller's step; keep-alive; replies parsed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import h11
import httpx
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from polyloly.adapters.polymarket.transport import Http11Transport, _request_bytes

BODY = b'{"order":{"salt":1},"owner":"k"}'


class Server:
    """Replies ``reply(n)`` to the n-th request; counts connections; can drop them."""

    def __init__(self, reply: Callable[[int], bytes]) -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: set[asyncio.Task[None]] = set()
        self.url = ""
        self._tcp: asyncio.Server | None = None

    async def start(self) -> Server:
        self._tcp = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._tcp.sockets[0].getsockname()[1]}/order"
        return self

    async def stop(self) -> None:
        assert self._tcp is not None
        self._tcp.close()
        self.drop_all()
        await asyncio.gather(*self.handlers)  # each ends on its EOF
        await self._tcp.wait_closed()

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                value = head.lower().split(b"content-length: ")[1].split(b"\r\n")[0]
                length = int(value.split(b",")[0])  # a repeated value: the first
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.reply(len(self.requests)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def _ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Server]:
    srv = await Server(lambda _n: _ok()).start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=Http11Transport(keepalive_s=60), timeout=2) as c:
        yield c


def _transport(client: httpx.AsyncClient) -> Http11Transport:
    transport = client._transport
    assert isinstance(transport, Http11Transport)
    return transport


@pytest.mark.asyncio
async def test_the_request_is_on_the_socket_after_the_first_step() -> None:
    """No event-loop iteration between the call and the write (httpcore takes ~5)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    loop = asyncio.get_running_loop()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/order"
    async with httpx.AsyncClient(transport=Http11Transport(keepalive_s=60)) as c:
        first = asyncio.create_task(c.post(url, content=BODY))
        peer, _ = await loop.sock_accept(listener)
        await loop.sock_recv(peer, 65_536)
        await loop.sock_sendall(peer, _ok())
        assert (await first).status_code == 200  # the connection is now idle, kept alive

        seen: asyncio.Future[bytes] = loop.create_future()

        def after_first_step() -> None:
            try:
                seen.set_result(peer.recv(65_536, socket.MSG_PEEK))
            except BlockingIOError:
                seen.set_result(b"")

        second = asyncio.create_task(c.post(url, content=BODY))
        loop.call_soon(after_first_step)  # runs right after the task's first step
        on_the_socket = await seen
        assert on_the_socket.startswith(b"POST /order HTTP/1.1\r\n")
        assert on_the_socket.endswith(b"\r\n\r\n" + BODY)  # the whole request, body included
        await loop.sock_recv(peer, 65_536)
        await loop.sock_sendall(peer, _ok())
        assert (await second).json() == {"ok": True}
        assert _transport(c).connects == 1
    peer.close()
    listener.close()


@pytest.mark.asyncio
async def test_keep_alive_and_reconnect_after_the_server_closed(
    server: Server, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        assert (await client.post(server.url, content=BODY)).status_code == 200
    assert server.connections == 1
    server.drop_all()  # the venue closes the idle connection (FIN)
    await asyncio.sleep(0.05)
    assert (await client.post(server.url, content=BODY)).status_code == 200
    assert server.connections == 2
    assert _transport(client).connects == 2


@pytest.mark.asyncio
async def test_an_expired_idle_connection_is_not_reused(server: Server) -> None:
    async with httpx.AsyncClient(transport=Http11Transport(keepalive_s=0.0)) as c:
        await c.post(server.url, content=BODY)
        await asyncio.sleep(0.01)
        await c.post(server.url, content=BODY)
    assert server.connections == 2


@pytest.mark.asyncio
async def test_chunked_replies_and_connection_close() -> None:
    chunked = (
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\n"
        b'9\r\n{"error":\r\n10\r\n"invalid nonce"}\r\n0\r\n\r\n'
    )
    replies = {1: chunked, 2: _ok(extra=b"Connection: close\r\n"), 3: _ok()}
    srv = await Server(lambda n: replies[n]).start()
    try:
        async with httpx.AsyncClient(transport=Http11Transport(keepalive_s=60)) as c:
            first = await c.post(srv.url, content=BODY)
            assert first.status_code == 400
            assert first.json() == {"error": "invalid nonce"}
            assert (await c.post(srv.url, content=BODY)).status_code == 200
            assert srv.connections == 1  # reused after the chunked reply
            assert (await c.post(srv.url, content=BODY)).status_code == 200
            assert srv.connections == 2  # the server asked to close: a new connection
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_a_reply_that_never_comes_times_out_and_the_connection_is_dropped() -> None:
    srv = await Server(lambda n: b"" if n == 1 else _ok()).start()
    try:
        async with httpx.AsyncClient(transport=Http11Transport(keepalive_s=60)) as c:
            with pytest.raises(httpx.ReadTimeout):
                await c.post(srv.url, content=BODY, timeout=0.2)
            assert (await c.post(srv.url, content=BODY)).status_code == 200
        assert srv.connections == 2  # the timed-out connection was never reused
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_a_garbled_reply_is_a_protocol_error(client: httpx.AsyncClient) -> None:
    srv = await Server(lambda _n: b"NOT HTTP\r\n\r\n").start()
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(srv.url, content=BODY)
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_an_idle_connection_that_talks_is_dropped(client: httpx.AsyncClient) -> None:
    """Bytes on an idle connection (a 408 before closing) are never read as the next reply."""
    srv = await Server(lambda n: _ok(b'{"n":%d}' % n)).start()
    try:
        assert (await client.post(srv.url, content=BODY)).json() == {"n": 1}
        srv.writers[0].write(_ok(b'{"stale":true}'))
        await asyncio.sleep(0.05)
        assert (await client.post(srv.url, content=BODY)).json() == {"n": 2}
        assert srv.connections == 2
    finally:
        await srv.stop()


# -- write_first: the order path's bytes, written before h11 validates them -------------------

_NAME = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1)
_VALUE = (
    st.text("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+/.,;", min_size=1)
    .map(str.strip)
    .filter(bool)
)


@given(
    extra=st.lists(st.tuples(_NAME, _VALUE), max_size=8),
    host_at=st.integers(0, 8),
    body=st.binary(max_size=64),
)
def test_the_fast_request_bytes_are_h11s(
    extra: list[tuple[str, str]], host_at: int, body: bytes
) -> None:
    headers = [
        (n.encode(), v.encode())
        for n, v in extra
        if n.lower() not in ("host", "content-length", "transfer-encoding")
    ]
    headers.insert(min(host_at, len(headers)), (b"Host", b"127.0.0.1:8080"))
    headers.append((b"Content-Length", str(len(body)).encode()))
    conn = h11.Connection(h11.CLIENT)
    head = conn.send(h11.Request(method=b"POST", target=b"/order", headers=headers))
    data = conn.send(h11.Data(data=body)) if body else b""
    expected = (head or b"") + (data or b"") + (conn.send(h11.EndOfMessage()) or b"")
    assert _request_bytes(b"POST", b"/order", headers, body) == expected


def _lines(url: str, body: bytes, **extra: bytes) -> list[tuple[bytes, bytes]]:
    host = httpx.URL(url).netloc
    lines = [(b"Host", host), *((k.encode(), v) for k, v in extra.items())]
    return [*lines, (b"Content-Length", str(len(body)).encode())]


@pytest.mark.asyncio
async def test_write_first_posts_and_keeps_the_connection(server: Server) -> None:
    transport = Http11Transport(keepalive_s=60)
    url = httpx.URL(server.url)
    try:
        for _ in range(2):
            reply = await transport.request(
                b"POST", url, _lines(server.url, BODY, Poly_X=b"1"), BODY, {}, write_first=True
            )
            assert reply.json() == {"ok": True}
    finally:
        await transport.aclose()
    tail = b"\r\nPoly_X: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    assert server.requests[0].endswith(tail)
    assert server.connections == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("value", [b"1\r\nX-Injected: 1", b"a\nb", b"nul\x00"])
async def test_write_first_refuses_a_header_line_with_a_control_character(
    server: Server, value: bytes
) -> None:
    transport = Http11Transport(keepalive_s=60)
    lines = _lines(server.url, BODY, Poly_X=value)
    with pytest.raises(httpx.LocalProtocolError, match="illegal header line"):
        await transport.request(b"POST", httpx.URL(server.url), lines, BODY, {}, write_first=True)
    assert server.connections == 0  # refused before connecting, nothing written


@pytest.mark.asyncio
async def test_write_first_closes_the_connection_when_h11_disagrees(server: Server) -> None:
    transport = Http11Transport(keepalive_s=60)
    url = httpx.URL(server.url)
    # h11 writes a repeated Content-Length value once: the bytes on the socket differ.
    lines = [*_lines(server.url, BODY)[:-1], (b"Content-Length", b"%d,%d" % (len(BODY), len(BODY)))]
    try:
        with pytest.raises(httpx.LocalProtocolError, match="differ from h11's"):
            await transport.request(b"POST", url, lines, BODY, {}, write_first=True)
        assert not transport.fast_writes  # from now on h11 serializes first
        reply = await transport.request(
            b"POST", url, _lines(server.url, BODY), BODY, {}, write_first=True
        )
        assert reply.status_code == 200
    finally:
        await transport.aclose()
    assert transport.connects == 2  # the connection h11 disagreed on was dropped
    assert transport.requests == 2
