"""The operator control API: a token-protected HTTP server on 127.0.0.1, and its client.

Endpoints (JSON in and out):

* ``GET /status`` — what :meth:`ControlTarget.status` reports (secrets redacted);
* ``POST /halt`` ``{"reason": "..."}`` — stop trading (the kill switch's manual latch);
* ``POST /resume`` — clear the latch;
* ``POST /cancel-all`` — cancel every open order;
* ``GET /console`` — the web console (:mod:`polyloly.bot.console`), when the server is
  given a console snapshot.

Every request needs ``Authorization: Bearer <token>``; a missing or wrong token gets ``401``
(compared in constant time) and is counted (:attr:`ControlServer.rejected`). The console's
browser signs in once with the same token and then carries a session cookie derived from it
(see :mod:`polyloly.bot.console.web`); a cookie authorizes a command only with the console's
own request header. The token is ``control.token`` from the settings or, when that
is unset, a random one the server writes to a ``0600`` file that the CLI on the same host
reads (:func:`ensure_token_file`). The server binds 127.0.0.1 unless configured otherwise:
it refuses any other address unless ``allow_remote`` is set (``control.allow_remote``), and
the settings refuse a non-loopback host without that option and a 16+ character token.

The wiring implements :class:`ControlTarget`; :class:`KernelControl` is a ready one that
publishes :class:`~polyloly.domain.events.OperatorCommand` events (the risk gate latches or
clears the halt, the order manager cancels everything) and reads status from a callback.
:class:`ControlClient` is what ``polyloly status | halt | resume | cancel-all`` use.
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress
import json
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import aiohttp
import structlog
from aiohttp import web

from polyloly.bot.console.web import CONSOLE_HEADER, COOKIE, ConsoleSite, session_value
from polyloly.bot.invariants import CONTROL_TOKEN_MIN
from polyloly.bot.logging import redact, redact_text, register_secret
from polyloly.bot.settings import Settings
from polyloly.domain.events import OperatorCommand
from polyloly.runtime.errors import ConfigError, PolylolyError
from polyloly.runtime.kernel import Kernel

__all__ = [
    "SHUTDOWN_TIMEOUT_S",
    "ControlAuthError",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "ControlTarget",
    "KernelControl",
    "ensure_token_file",
    "is_loopback",
    "token_file_for",
]

_log = structlog.get_logger(__name__)
_MAX_BODY: Final = 16 * 1024
_MAX_REASON: Final = 500
SHUTDOWN_TIMEOUT_S: Final = 1.0
"""Longest wait for requests in progress when the server stops."""


class ControlError(PolylolyError):
    """The control API could not be reached, or refused the request."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ControlAuthError(ControlError):
    """The control API answered 401: the token is missing or wrong."""


class ControlTarget(Protocol):
    """What the control API drives (the wiring implements it; methods may be async)."""

    def status(self) -> Mapping[str, Any]:
        """A JSON-ready snapshot: mode, halted or not, positions, open orders, feeds…"""
        ...

    def halt(self, reason: str) -> Awaitable[None] | None:
        """Stop trading (cancel everything, refuse new intents) until resumed."""
        ...

    def resume(self) -> Awaitable[None] | None:
        """Clear an operator or kill-switch halt."""
        ...

    def cancel_all(self) -> Awaitable[None] | None:
        """Cancel every open order (trading continues)."""
        ...


class KernelControl:
    """A :class:`ControlTarget` that publishes ``OperatorCommand`` events on a kernel.

    Parameters
    ----------
    kernel
        The bot's kernel (commands are logged and dispatched like any input).
    status
        Builds the status snapshot (e.g. from the execution engine's state).
    """

    def __init__(self, kernel: Kernel, status: Callable[[], Mapping[str, Any]]) -> None:
        self.kernel = kernel
        self._status = status

    def _command(self, command: str, reason: str) -> None:
        now = self.kernel.now_ns()
        self.kernel.publish(
            OperatorCommand(ts_event=now, ts_init=now, command=command, reason=reason)
        )

    def status(self) -> Mapping[str, Any]:
        """The injected status snapshot."""
        return self._status()

    def halt(self, reason: str) -> None:
        """Publish ``halt``: the risk gate latches the kill switch."""
        self._command("halt", reason or "operator halt")

    def resume(self) -> None:
        """Publish ``resume``: the risk gate clears the latch."""
        self._command("resume", "operator resume")

    def cancel_all(self) -> None:
        """Publish ``cancel_all``: the order manager cancels every order."""
        self._command("cancel_all", "operator cancel-all")


# -- the token ------------------------------------------------------------------------------


def token_file_for(settings: Settings) -> Path:
    """Where the generated token lives: in the data folder (``data/control.token``)."""
    return settings.storage.data_dir / "control.token"


def ensure_token_file(path: Path) -> str:
    """Return the token stored in ``path``, creating a random one (mode 0600) if absent."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if len(token) >= CONTROL_TOKEN_MIN:
        register_secret(token)
        return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    path.chmod(0o600)
    register_secret(token)
    return token


# -- the server -----------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json(status: int, payload: Mapping[str, Any]) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(payload, default=str, ensure_ascii=False),
        content_type="application/json",
    )


class ControlServer:
    """aiohttp server for the control API (see the module docstring).

    Parameters
    ----------
    target
        What the endpoints call.
    token
        The bearer token every request must carry (at least 16 characters).
    host, port
        Where to listen (port 0 picks a free one; see :attr:`port`).
    shutdown_timeout_s
        How long :meth:`stop` lets a request still in progress finish before cancelling it
        (aiohttp's default of 60 s would hold the bot's shutdown behind a stuck client).
    console
        Builds the web console's snapshot; ``None`` serves no console.
    allow_remote
        Listen on a host other than loopback (refused without it).
    push_every_s
        How often the console's event stream looks for a change.
    """

    def __init__(
        self,
        target: ControlTarget,
        token: str,
        host: str = "127.0.0.1",
        port: int = 8787,
        *,
        shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S,
        console: Callable[[], Mapping[str, Any]] | None = None,
        allow_remote: bool = False,
        push_every_s: float = 0.5,
    ) -> None:
        if len(token) < CONTROL_TOKEN_MIN:
            raise ConfigError(f"control.token: needs at least {CONTROL_TOKEN_MIN} characters")
        if not allow_remote and not is_loopback(host):
            raise ConfigError(
                f"control.host: {host} is reachable from other machines; "
                "set control.allow_remote: true (and a control.token) to serve there"
            )
        register_secret(token)
        self.target = target
        self.host = host
        self._port = port
        self.shutdown_timeout_s = shutdown_timeout_s
        self._token = token.encode()
        self._expected = f"Bearer {token}".encode()
        self._session = session_value(token).encode()
        self._runner: web.AppRunner | None = None
        self.console = ConsoleSite(console, push_every_s=push_every_s) if console else None
        self.rejected = 0

    @classmethod
    def from_settings(cls, target: ControlTarget, settings: Settings) -> ControlServer:
        """Listen on ``control.host:control.port`` with ``control.token``, or else with the
        token file next to the event log (created on first start, see :func:`ensure_token_file`)."""
        configured = settings.control.token
        token = (
            configured.get_secret_value()
            if configured is not None
            else ensure_token_file(token_file_for(settings))
        )
        return cls(
            target,
            token,
            host=settings.control.host,
            port=settings.control.port,
            allow_remote=settings.control.allow_remote,
        )

    @property
    def port(self) -> int:
        """The bound port (the real one after :meth:`start` when 0 was asked)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://{self.host}:{self.port}"

    def _refuse(self, request: web.Request) -> None:
        self.rejected += 1
        _log.warning("control.unauthorized", path=request.path, remote=request.remote)

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").encode()
        if given and hmac.compare_digest(given, self._expected):
            return True
        cookie = request.cookies.get(COOKIE, "").encode()
        if self.console is None or not cookie or not hmac.compare_digest(cookie, self._session):
            return False
        # a cookie alone reads; a command also needs the console's header (no cross-site post)
        return request.method in {"GET", "HEAD"} or CONSOLE_HEADER in request.headers

    def _token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    async def _console_entry(self, request: web.Request) -> web.StreamResponse:
        """``/console`` and ``/console/login``: sign in with the token, or show the page."""
        console = self.console
        assert console is not None  # noqa: S101  (routed only with a console)
        secure = request.secure
        if request.method == "POST":
            form = await request.post()
            given = form.get("token")
            if isinstance(given, str) and self._token_ok(given.strip()):
                _log.info("control.console_signed_in", remote=request.remote)
                return console.signed_in(given.strip(), secure=secure)
            self._refuse(request)
            return console.login_page(error="wrong token")
        if "token" in request.query:
            if self._token_ok(request.query["token"]):
                _log.info("control.console_signed_in", remote=request.remote)
                return console.signed_in(request.query["token"], secure=secure)
            self._refuse(request)
            return console.login_page(error="wrong token")
        if not self._authorized(request):
            self._refuse(request)
            return console.login_page()
        return await console.page(request)

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.console is not None and request.path in {"/console", "/console/login"}:
            return await handler(request)  # signs in with the token itself
        if not self._authorized(request):
            self._refuse(request)
            response = _json(401, {"ok": False, "error": "unauthorized"})
            response.headers["WWW-Authenticate"] = 'Bearer realm="polyloly"'
            return response
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # the target's failure is the operator's answer, not a crash
            _log.error("control.failed", path=request.path, error=f"{type(exc).__name__}: {exc}")
            return _json(500, {"ok": False, "error": redact_text(f"{type(exc).__name__}: {exc}")})

    async def _call(
        self, action: str, result: Awaitable[None] | None, reason: str = ""
    ) -> web.Response:
        if inspect.isawaitable(result):
            await result
        if reason:
            _log.info("control.action", action=action, reason=reason)
        else:
            _log.info("control.action", action=action)
        return _json(200, {"ok": True, "action": action})

    async def _status(self, _request: web.Request) -> web.Response:
        return _json(200, {"ok": True, "status": redact(dict(self.target.status()))})

    async def _body(self, request: web.Request) -> dict[str, Any] | None:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else {}

    def _all_instances(self, action: str) -> Callable[..., Awaitable[None] | None] | None:
        """The target's ``<action>_all`` method (several instances), if it has one."""
        method = getattr(self.target, f"{action}_all_instances", None)
        return method if callable(method) else None

    async def _halt(self, request: web.Request) -> web.Response:
        reason = "operator halt"
        body = await self._body(request)
        if body is None:
            return _json(400, {"ok": False, "error": "body must be JSON"})
        if isinstance(body.get("reason"), str) and body["reason"]:
            reason = body["reason"][:_MAX_REASON]
        if body.get("all_instances") is True:
            return await self._for_all("halt", reason)
        return await self._call("halt", self.target.halt(reason), reason)

    async def _resume(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if body is None:
            return _json(400, {"ok": False, "error": "body must be JSON"})
        if body.get("all_instances") is True:
            return await self._for_all("resume", "")
        return await self._call("resume", self.target.resume())

    async def _cancel_all(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if body is None:
            return _json(400, {"ok": False, "error": "body must be JSON"})
        if body.get("all_instances") is True:
            return await self._for_all("cancel", "")
        return await self._call("cancel-all", self.target.cancel_all())

    async def _for_all(self, action: str, reason: str) -> web.Response:
        method = self._all_instances(action)
        if method is None:
            return _json(400, {"ok": False, "error": "this bot is not one of several instances"})
        result = method(reason) if action == "halt" else method()
        return await self._call(f"{action} --all-instances", result, reason)

    def app(self) -> web.Application:
        """The aiohttp application (routes and the auth middleware)."""
        app = web.Application(middlewares=[self._auth], client_max_size=_MAX_BODY)
        app.router.add_get("/status", self._status)
        app.router.add_post("/halt", self._halt)
        app.router.add_post("/resume", self._resume)
        app.router.add_post("/cancel-all", self._cancel_all)
        if self.console is not None:
            app.router.add_get("/console", self._console_entry)
            app.router.add_post("/console/login", self._console_entry)
            app.router.add_routes(self.console.routes())
        return app

    async def start(self) -> None:
        """Bind and serve (returns once listening)."""
        runner = web.AppRunner(
            self.app(), access_log=None, shutdown_timeout=self.shutdown_timeout_s
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except BaseException:
            await runner.cleanup()  # a port that cannot be bound leaves nothing behind
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving (open console streams end at once)."""
        if self.console is not None:
            self.console.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# -- the client -----------------------------------------------------------------------------


class ControlClient:
    """Calls the control API (one short-lived HTTP session per call).

    Parameters
    ----------
    base_url
        ``http://127.0.0.1:8787`` (no trailing path).
    token
        The bearer token.
    timeout_s
        Longest wait for an answer.
    """

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s

    async def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}"}
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        url = f"{self.base_url}{path}"
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(method, url, json=body, headers=headers) as response,
            ):
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ControlError(f"control API at {self.base_url} unreachable: {exc}") from exc
        try:
            payload = json.loads(text) if text else {}
        except json.JSONDecodeError:
            payload = {"error": text[:200]}
        if status == 401:
            raise ControlAuthError("control API refused the token (401)", status)
        if status >= 400 or not isinstance(payload, dict):
            error = payload.get("error", "") if isinstance(payload, dict) else ""
            raise ControlError(f"control API answered {status}: {error}", status)
        return payload

    async def status(self) -> dict[str, Any]:
        """The bot's status snapshot."""
        payload = await self._request("GET", "/status")
        status = payload.get("status", {})
        return status if isinstance(status, dict) else {}

    async def halt(self, reason: str, *, all_instances: bool = False) -> dict[str, Any]:
        """Stop trading (``all_instances``: every instance sharing the account)."""
        body: dict[str, Any] = {"reason": reason}
        if all_instances:
            body["all_instances"] = True
        return await self._request("POST", "/halt", body)

    async def resume(self, *, all_instances: bool = False) -> dict[str, Any]:
        """Resume trading (``all_instances``: every instance sharing the account)."""
        body = {"all_instances": True} if all_instances else None
        return await self._request("POST", "/resume", body)

    async def cancel_all(self, *, all_instances: bool = False) -> dict[str, Any]:
        """Cancel this bot's open orders (``all_instances``: every order of the account)."""
        body = {"all_instances": True} if all_instances else None
        return await self._request("POST", "/cancel-all", body)
