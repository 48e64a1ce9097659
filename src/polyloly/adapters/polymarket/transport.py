"""A keep-alive HTTP/1.1 transport for ``httpx.AsyncClient`` that writes before it yields.

The order posts must leave the process in the step of the task that sends them. httpx's
default async transport (httpcore on anyio) passes through about five event-loop iterations
between ``client.post(...)`` and the socket write — anyio checkpoints in its locks and before
every write — and, without ``sniffio`` installed (anyio ≥ 4.11 no longer pulls it in),
retries a failed ``import sniffio`` four times per request (httpcore PR #1103). Each
iteration lets every other ready callback run first: on a busy loop that is the tail of the
latency. :class:`Http11Transport` keeps idle connections as asyncio protocols and writes the
whole request with one synchronous ``transport.write`` before its first ``await``; only the
reply is awaited.

The request is serialized by h11 exactly as httpcore does it (same request line, the
client's headers in order, the body as is), so the bytes are the same as through httpx's
default transport. The order path skips ``httpx.Request`` and the client altogether:
:meth:`Http11Transport.request` takes the request's parts, and with ``write_first`` writes
them before h11's header validation runs (h11 must then agree on the bytes).

Scope: HTTP/1.1 over TCP (TLS for ``https``), bodies already in memory (``content=bytes``),
replies read whole. httpx mounts no environment proxy over a transport it is given: when
the environment names a proxy for the CLOB host, :class:`~polyloly.adapters.polymarket.http.
ClobRest` gives its order client httpx's proxy transport instead of this one. Failures are
raised as the httpx exceptions httpcore maps them to (``ConnectError``, ``ConnectTimeout``,
``ReadTimeout``, ``ReadError``, ``RemoteProtocolError``), so callers translate them as
before.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from typing import Final

import h11
import httpx
import structlog

__all__ = ["Http11Transport"]

_log = structlog.get_logger(__name__)

_MAX_IDLE: Final = 4
_DEFAULT_PORTS: Final = {b"http": 80, b"https": 443}


_CONTROL: Final = re.compile(rb"[\x00-\x1f\x7f]")


def _check_lines(headers: list[tuple[bytes, bytes]], origin: httpx.Request | None) -> None:
    for name, value in headers:
        if _CONTROL.search(name) or _CONTROL.search(value) or b":" in name:
            raise httpx.LocalProtocolError(f"illegal header line {name!r}", request=origin)


def _request_bytes(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    """What h11 writes for this request with valid ``headers`` framed by Content-Length.

    Its layout: the request line, the ``Host`` line first, the others in order, a blank
    line, the body as is.
    """
    host = [b"%s: %s\r\n" % (n, v) for n, v in headers if n.lower() == b"host"]
    rest = [b"%s: %s\r\n" % (n, v) for n, v in headers if n.lower() != b"host"]
    return b"%s %s HTTP/1.1\r\n%s%s\r\n%s" % (
        method,
        target,
        b"".join(host),
        b"".join(rest),
        body,
    )


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: h11's state machine fed by the protocol callbacks."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.busy = False  # a request is out and its reply not yet read
        self.error: Exception | None = None
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None

    # -- protocol callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - a stream connection
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # unsolicited (e.g. a 408 before closing): never reuse
            self.close()
            return
        self.h11.receive_data(data)
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # let asyncio close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- use ------------------------------------------------------------------------------------

    def reusable(self) -> bool:
        """Open, and between requests on both sides."""
        return (
            not self.closed
            and self.transport is not None
            and not self.transport.is_closing()
            and self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
        )

    def close(self, *, graceful: bool = False) -> None:
        """Close the socket: ``graceful`` flushes and sends FIN; otherwise abort at once."""
        self.closed = True
        if self.transport is not None:
            if graceful:
                self.transport.close()
            else:
                self.transport.abort()

    def serialize(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        origin: httpx.Request | None,
    ) -> bytes:
        """The request's bytes, as httpcore's HTTP/1.1 connection writes them."""
        h = self.h11
        try:
            head = h.send(h11.Request(method=method, target=target, headers=headers))
            data = h.send(h11.Data(data=body)) if body else b""
            end = h.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=origin) from exc
        self.busy = True
        return (head or b"") + (data or b"") + (end or b"")

    async def response(self, request: httpx.Request | None) -> tuple[h11.Response, bytes]:
        """Read the reply to the request just written (the whole body)."""
        head: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is h11.NEED_DATA:
                if self.closed:
                    if self.error is not None:
                        raise httpx.ReadError(str(self.error), request=request) from self.error
                    self.h11.receive_data(b"")  # EOF: h11 decides what it means
                    continue
                self._waiter = self._loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None  # noqa: S101 - h11 orders the events
                return head, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            # InformationalResponse (1xx): skip, the final response follows

    def finish(self) -> bool:
        """After a reply: ready the next cycle; False if the connection must close."""
        h = self.h11
        self.busy = False
        if h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
            return not self.closed
        return False


class Http11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive; each request is written in the caller's step.

    Parameters
    ----------
    keepalive_s
        How long an idle connection may be reused.
    ssl_context
        For ``https`` (default: httpx's, with certifi's roots).
    """

    def __init__(self, *, keepalive_s: float, ssl_context: ssl.SSLContext | None = None) -> None:
        self.keepalive_s = keepalive_s
        self._ssl = ssl_context
        self._idle: list[_Connection] = []
        self.connects = 0
        self.requests = 0  # requests written (each one went out, whatever its reply)
        self.fast_writes = True
        """Whether ``write_first`` is honoured: turned off for good the first time h11
        disagrees with the bytes written (every later request is serialized by h11 first)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on an idle connection (or a new one); return the whole reply."""
        return await self.request(
            request.method.encode(),
            request.url,
            request.headers.raw,
            request.content,
            request.extensions.get("timeout", {}),
            origin=request,
        )

    async def request(
        self,
        method: bytes,
        url: httpx.URL,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, float | None],
        *,
        origin: httpx.Request | None = None,
        write_first: bool = False,
    ) -> httpx.Response:
        """Send one request given as its parts; return the whole reply, its body read.

        ``headers`` are the raw header lines in wire order, ``Host`` and ``Content-Length``
        included (what ``httpx.Request`` would hold). The order path calls this directly:
        building an ``httpx.Request`` and passing it through ``AsyncClient.send`` cost
        ~50 µs before the write on a cold cache. ``origin``, when there is one, is attached
        to the exceptions raised.

        With ``write_first`` the bytes are put together here and written before h11 runs
        its header validation (~50 µs on a cold cache): a header line with a control
        character (CR, LF, NUL…) is refused before anything is written, and h11 then
        serializes the same request and must produce the same bytes, else the connection
        is closed, ``httpx.LocalProtocolError`` raised (the request went out: its outcome is
        unknown) and :attr:`fast_writes` turned off.
        """
        loop = asyncio.get_running_loop()
        write_first = write_first and self.fast_writes
        if write_first:
            _check_lines(headers, origin)
        conn = self._take_idle(loop.time()) or await self._connect(
            loop, url, timeouts.get("connect"), origin
        )
        target = url.raw_path
        data = b""
        try:
            if write_first:
                data = _request_bytes(method, target, headers, body)
                self._send(conn, data)
                self.requests += 1
            else:
                self._send(conn, conn.serialize(method, target, headers, body, origin))
                self.requests += 1
        except BaseException:
            conn.close()
            raise
        return await self._complete(
            conn,
            method=method,
            target=target,
            headers=headers,
            body=body,
            timeouts=timeouts,
            data=data,
            origin=origin,
        )

    # -- a request written now, its reply read later (pre-decided orders) -----------------------

    def prepared_bytes(
        self, method: bytes, url: httpx.URL, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bytes:
        """The bytes :meth:`write_now` will write for this request (header lines checked).

        Raises ``httpx.LocalProtocolError`` for a header line with a control character.
        """
        _check_lines(headers, None)
        return _request_bytes(method, url.raw_path, headers, body)

    def write_now(self, data: bytes) -> _Connection | None:
        """Write a request's ready bytes on an idle kept-alive connection, synchronously.

        Returns the connection its reply will come on (hand it to :meth:`complete`), or
        ``None`` when nothing was written: no idle connection fit for reuse (the caller
        then sends the ordinary way, which may connect), or fast writes were turned off.
        ``data`` comes from :meth:`prepared_bytes`.
        """
        idle = self._idle
        if not self.fast_writes or not idle:
            return None
        now = asyncio.get_running_loop().time()
        first = idle[0]
        conn: _Connection | None = first
        if first.reusable() and now - first.idle_since <= self.keepalive_s:
            del idle[0]  # what _take_idle would take, without its loop
        else:
            conn = self._take_idle(now)
        if conn is None:
            return None
        try:
            self._send(conn, data)
        except BaseException:
            conn.close()
            raise
        self.requests += 1
        return conn

    async def complete(
        self,
        conn: _Connection,
        *,
        method: bytes,
        url: httpx.URL,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, float | None],
        data: bytes,
    ) -> httpx.Response:
        """Finish a request :meth:`write_now` wrote as ``data``: h11 agrees, the reply read."""
        return await self._complete(
            conn,
            method=method,
            target=url.raw_path,
            headers=headers,
            body=body,
            timeouts=timeouts,
            data=data,
            origin=None,
        )

    async def _complete(
        self,
        conn: _Connection,
        *,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, float | None],
        data: bytes,
        origin: httpx.Request | None,
    ) -> httpx.Response:
        loop = asyncio.get_running_loop()
        try:
            # h11 goes past the request as if it had written it, and must agree: if not,
            # its state no longer matches the peer's and the connection is dropped.
            if data and conn.serialize(method, target, headers, body, origin) != data:
                self.fast_writes = False
                _log.error("order_transport.fast_write_mismatch", target=target.decode())
                raise httpx.LocalProtocolError("the request bytes written differ from h11's")
            try:
                async with asyncio.timeout(timeouts.get("read")):
                    head, content = await conn.response(origin)
            except TimeoutError as exc:
                raise httpx.ReadTimeout("timed out reading the response", request=origin) from exc
        except BaseException:
            conn.close()  # state unknown (error, timeout, cancel): never reused
            raise
        if conn.finish() and len(self._idle) < _MAX_IDLE:
            conn.idle_since = loop.time()
            self._idle.append(conn)
        else:
            conn.close(graceful=True)
        response = httpx.Response(
            head.status_code,
            headers=head.headers.raw_items(),
            stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
        )
        response.read()  # decodes the content-encoding as the client would
        return response

    def _send(self, conn: _Connection, data: bytes) -> None:
        """Write the request's bytes (one non-blocking write, before any ``await``)."""
        assert conn.transport is not None  # noqa: S101 - connected
        conn.transport.write(data)

    def _take_idle(self, now: float) -> _Connection | None:
        while self._idle:
            # The longest idle first: periodic requests (heartbeats) then go round every
            # idle connection and keep them all warm.
            conn = self._idle.pop(0)
            if conn.reusable() and now - conn.idle_since <= self.keepalive_s:
                return conn
            conn.close(graceful=True)
        return None

    async def _connect(
        self,
        loop: asyncio.AbstractEventLoop,
        url: httpx.URL,
        limit_s: float | None,
        request: httpx.Request | None,
    ) -> _Connection:
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}", request=request)
        host = url.host
        port = url.port or _DEFAULT_PORTS[scheme]
        tls: ssl.SSLContext | None = None
        if scheme == b"https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            tls = self._ssl
        try:
            async with asyncio.timeout(limit_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port}", request=request) from exc
        except OSError as exc:  # refused, unreachable, TLS handshake failures
            raise httpx.ConnectError(str(exc), request=request) from exc
        self.connects += 1
        return conn

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close(graceful=True)
