"""The web console's routes on the control server: the page, its assets and the live stream.

The console is served by :class:`~polyloly.bot.control.ControlServer` under ``/console``
with the control API's bearer token. A browser cannot send a bearer header when it opens
a page or an :class:`EventSource`, so the token is exchanged once for a session cookie:

* ``GET /console`` without a valid session answers ``401`` with a sign-in form (no data);
  ``GET /console?token=…`` or ``POST /console/login`` (form field ``token``) with the right
  token sets the cookie (``HttpOnly``, ``SameSite=Strict``, derived from the token by an
  HMAC, so it never carries the token itself) and redirects to ``/console``. A wrong token
  answers ``401`` and is counted like any refused request.
* ``GET /console/static/<file>`` — the page's script and style sheet (shipped in the wheel;
  nothing is fetched from the internet).
* ``GET /console/events`` — server-sent events: the snapshot
  (:func:`~polyloly.bot.console.state.console_state`) whenever it changed, checked every
  ``push_every_s`` (one snapshot per tick whatever the number of viewers), and a comment
  line every 15 s to keep idle connections open.

The page's buttons call the control API's ``POST /halt``, ``/resume`` and ``/cancel-all``
with the cookie and an ``X-Polyloly-Console`` header: a cookie alone authorizes only
reads, so another site cannot make a browser post a command (the custom header needs a
CORS preflight the server never grants).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Final

from aiohttp import web

__all__ = [
    "CONSOLE_HEADER",
    "COOKIE",
    "ConsoleSite",
    "session_value",
]

COOKIE: Final = "polyloly_console"
CONSOLE_HEADER: Final = "X-Polyloly-Console"
_KEEPALIVE_S: Final = 15.0
_ASSETS: Final = {
    "console.js": "text/javascript",
    "console.css": "text/css",
}
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_LOGIN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>polyloly console: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font:15px system-ui,sans-serif;background:#111418;color:#e6e6e6;display:grid;
place-items:center;min-height:100vh;margin:0}}
form{{background:#1b2027;padding:2em;border-radius:8px;min-width:22em}}
input{{width:100%;padding:.5em;margin:.5em 0 1em;box-sizing:border-box;background:#0d1014;
color:#e6e6e6;border:1px solid #39414d;border-radius:4px}}
button{{padding:.5em 1.2em;background:#2d6cdf;color:#fff;border:0;border-radius:4px}}
.err{{color:#ff7b72}}
</style></head><body>
<form method="post" action="/console/login">
<h1>polyloly console</h1>
<p>The control API's token (<code>control.token</code>, or the file
<code>data/control.token</code>).</p>
{error}
<label for="token">token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus>
<button type="submit">sign in</button>
</form></body></html>
"""


def session_value(token: str) -> str:
    """The cookie value for ``token`` (an HMAC of it: the cookie never holds the token)."""
    return hmac.new(token.encode(), b"polyloly-console-session", hashlib.sha256).hexdigest()


def _asset(name: str) -> bytes:
    return resources.files("polyloly.bot.console").joinpath("static", name).read_bytes()


class ConsoleSite:
    """The console's handlers (the control server authenticates before calling them).

    Parameters
    ----------
    snapshot
        Builds the JSON-ready state the page shows.
    push_every_s
        How often the stream checks whether the state changed.
    """

    def __init__(
        self, snapshot: Callable[[], Mapping[str, Any]], *, push_every_s: float = 0.5
    ) -> None:
        self._snapshot = snapshot
        self.push_every_s = push_every_s
        self._closing = asyncio.Event()
        self._cached: tuple[float, str] = (-1.0, "")
        self.streams = 0
        """Event streams open now."""
        self.pushed = 0
        """Snapshots sent, over every stream."""

    def login_page(self, *, error: str = "", status: int = 401) -> web.Response:
        """The sign-in form (no data from the bot)."""
        shown = f'<p class="err">{html.escape(error)}</p>' if error else ""
        response = web.Response(
            status=status, text=_LOGIN.format(error=shown), content_type="text/html"
        )
        response.headers.update(_SECURITY_HEADERS)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="polyloly"'
        return response

    def signed_in(self, token: str, *, secure: bool) -> web.Response:
        """Set the session cookie and go to the console."""
        response = web.Response(status=303, headers={"Location": "/console"})
        response.set_cookie(
            COOKIE,
            session_value(token),
            httponly=True,
            samesite="Strict",
            path="/",
            secure=secure,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def page(self, _request: web.Request) -> web.Response:
        """The console page."""
        response = web.Response(body=_asset("index.html"), content_type="text/html")
        response.headers.update(_SECURITY_HEADERS)
        return response

    async def asset(self, request: web.Request) -> web.Response:
        """A static file of the page (only those shipped)."""
        name = request.match_info["name"]
        kind = _ASSETS.get(name)
        if kind is None:
            raise web.HTTPNotFound
        response = web.Response(body=_asset(name), content_type=kind)
        response.headers.update(_SECURITY_HEADERS)
        return response

    async def state(self, _request: web.Request) -> web.Response:
        """The snapshot once (what the stream pushes)."""
        return web.Response(text=self._current(), content_type="application/json")

    def _current(self) -> str:
        loop = asyncio.get_running_loop()
        at, text = self._cached
        if loop.time() - at >= self.push_every_s / 2 or not text:
            text = json.dumps(self._snapshot(), default=str, ensure_ascii=False)
            self._cached = (loop.time(), text)
        return text

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the snapshot whenever it changed."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        self.streams += 1
        loop = asyncio.get_running_loop()
        sent = ""
        quiet_since = loop.time()
        try:
            await response.write(b"retry: 1000\n\n")
            while not self._closing.is_set():
                text = self._current()
                if text != sent:
                    await response.write(f"event: state\ndata: {text}\n\n".encode())
                    self.pushed += 1
                    sent = text
                    quiet_since = loop.time()
                elif loop.time() - quiet_since >= _KEEPALIVE_S:
                    await response.write(b": keep-alive\n\n")
                    quiet_since = loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), self.push_every_s)
        except ConnectionResetError:
            pass  # the viewer left
        finally:
            self.streams -= 1
        return response

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        self._closing.set()

    def routes(self) -> list[web.RouteDef]:
        """The authenticated routes (``/console`` itself is routed by the control server)."""
        return [
            web.get("/console/state", self.state),
            web.get("/console/events", self.events),
            web.get("/console/static/{name}", self.asset),
        ]
