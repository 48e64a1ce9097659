"""The web console on the control server, over loopback: sign-in, refusals, assets, stream.

A browser signs in once with the control token and then carries a session cookie; the
cookie reads the page and its stream, and posts a command only with the console's header.
Every refusal answers 401 and is counted. (The page itself, clicked in a real browser
against a running bot, is ``test_console_browser.py``.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from polyloly.bot.console.web import COOKIE, session_value
from polyloly.bot.control import ControlServer
from polyloly.runtime.errors import ConfigError

TOKEN = "console-test-token-0123456789"  # a test token, not a real credential


class Target:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.state: dict[str, Any] = {"mode": "paper", "halted": False, "n": 0}

    def status(self) -> Mapping[str, Any]:
        return {"mode": "paper"}

    def halt(self, reason: str) -> None:
        self.calls.append(f"halt:{reason}")

    def resume(self) -> None:
        self.calls.append("resume")

    def cancel_all(self) -> None:
        self.calls.append("cancel_all")

    def console(self) -> Mapping[str, Any]:
        return self.state


@pytest_asyncio.fixture
async def served() -> AsyncIterator[tuple[ControlServer, Target]]:
    target = Target()
    server = ControlServer(target, TOKEN, port=0, console=target.console, push_every_s=0.05)
    await server.start()
    yield server, target
    await server.stop()


def session(**kwargs: Any) -> aiohttp.ClientSession:
    # an unsafe jar: the server is an IP address (127.0.0.1), whose cookies aiohttp
    # otherwise drops
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **kwargs)


@pytest.mark.asyncio
async def test_the_page_needs_the_token_and_every_refusal_is_counted(
    served: tuple[ControlServer, Target],
) -> None:
    server, _ = served
    async with session() as http:
        async with http.get(f"{server.url}/console") as reply:
            assert reply.status == 401
            page = await reply.text()
            assert 'name="token"' in page  # the sign-in form
            assert "paper" not in page  # and nothing of the bot
        async with http.get(f"{server.url}/console", params={"token": "wrong" * 5}) as reply:
            assert reply.status == 401
            assert "wrong token" in await reply.text()
        async with http.post(f"{server.url}/console/login", data={"token": "nope"}) as reply:
            assert reply.status == 401
        for path in ("/console/events", "/console/state", "/console/static/console.js"):
            async with http.get(f"{server.url}{path}") as reply:
                assert reply.status == 401, path
        bad = {COOKIE: session_value("another-token-abcdefghij")}
        async with session(cookies=bad) as other, other.get(f"{server.url}/console") as reply:
            assert reply.status == 401
    assert server.rejected == 7


@pytest.mark.asyncio
async def test_sign_in_sets_a_cookie_that_is_not_the_token(
    served: tuple[ControlServer, Target],
) -> None:
    server, _ = served
    async with session() as http:
        async with http.post(
            f"{server.url}/console/login", data={"token": TOKEN}, allow_redirects=False
        ) as reply:
            assert reply.status == 303
            assert reply.headers["Location"] == "/console"
            cookie = reply.headers["Set-Cookie"]
            assert TOKEN not in cookie
            assert "HttpOnly" in cookie
            assert "SameSite=Strict" in cookie
        async with http.get(f"{server.url}/console") as reply:
            assert reply.status == 200
            page = await reply.text()
            assert "/console/static/console.js" in page
            assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
        for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
            async with http.get(f"{server.url}/console/static/{name}") as reply:
                assert reply.status == 200
                assert reply.content_type == kind
        async with http.get(f"{server.url}/console/static/..%2Fweb.py") as reply:
            assert reply.status == 404
    assert server.rejected == 0


@pytest.mark.asyncio
async def test_a_token_in_the_address_signs_in_too(served: tuple[ControlServer, Target]) -> None:
    server, _ = served
    async with session() as http:
        async with http.get(f"{server.url}/console", params={"token": TOKEN}) as reply:
            assert reply.status == 200
            assert str(reply.url).endswith("/console")  # the token is gone from the address
        async with http.get(f"{server.url}/console/state") as reply:
            assert json.loads(await reply.text())["mode"] == "paper"


@pytest.mark.asyncio
async def test_a_cookie_posts_a_command_only_with_the_console_header(
    served: tuple[ControlServer, Target],
) -> None:
    server, target = served
    cookies = {COOKIE: session_value(TOKEN)}
    async with session(cookies=cookies) as http:
        async with http.post(f"{server.url}/halt", json={"reason": "x"}) as reply:
            assert reply.status == 401  # what a cross-site form could send
        assert server.rejected == 1
        headers = {"X-Polyloly-Console": "1"}
        async with http.post(
            f"{server.url}/halt", json={"reason": "books look wrong"}, headers=headers
        ) as reply:
            assert reply.status == 200
        async with http.post(f"{server.url}/resume", headers=headers) as reply:
            assert reply.status == 200
        async with http.post(f"{server.url}/cancel-all", headers=headers) as reply:
            assert reply.status == 200
    assert target.calls == ["halt:books look wrong", "resume", "cancel_all"]


async def _events(reply: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        async for raw in reply.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                out.append(json.loads(line.removeprefix("data: ")))
                if len(out) == count:
                    return out
    raise AssertionError(f"the stream ended after {out}")


@pytest.mark.asyncio
async def test_the_stream_pushes_the_state_when_it_changes(
    served: tuple[ControlServer, Target],
) -> None:
    server, target = served
    assert server.console is not None
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        session() as http,
        http.get(f"{server.url}/console/events", headers=headers) as reply,
    ):
        assert reply.status == 200
        assert reply.content_type == "text/event-stream"
        (first,) = await _events(reply, 1)
        assert first["n"] == 0
        await asyncio.sleep(0.3)  # unchanged: nothing new is pushed
        assert server.console.pushed == 1
        target.state = {**target.state, "n": 1, "halted": True}
        (second,) = await _events(reply, 1)
        assert second == {"mode": "paper", "halted": True, "n": 1}
        assert server.console.streams == 1


@pytest.mark.asyncio
async def test_stopping_ends_open_streams_at_once(served: tuple[ControlServer, Target]) -> None:
    server, _ = served
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        session() as http,
        http.get(f"{server.url}/console/events", headers=headers) as reply,
    ):
        await _events(reply, 1)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await server.stop()
        assert loop.time() - began < 0.5


def test_other_addresses_are_refused_without_the_explicit_option() -> None:
    target = Target()
    with pytest.raises(ConfigError, match=r"control\.allow_remote"):
        ControlServer(target, TOKEN, host="0.0.0.0")  # noqa: S104 - the refusal under test
    with pytest.raises(ConfigError, match=r"control\.allow_remote"):
        ControlServer(target, TOKEN, host="192.168.1.20")
    assert ControlServer(target, TOKEN, host="::1").host == "::1"
    remote = ControlServer(target, TOKEN, host="0.0.0.0", allow_remote=True)  # noqa: S104
    assert remote.host == "0.0.0.0"  # noqa: S104


def test_no_console_without_a_snapshot() -> None:
    assert ControlServer(Target(), TOKEN).console is None
