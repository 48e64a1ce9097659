"""ProviderHttp over a real loopback server: retries, backoff hints, error classes."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import msgspec
import pytest
import pytest_asyncio
from aiohttp import web

from polyloly.adapters.esports import FeedCore, MatchDirectory, load_esports_settings
from polyloly.adapters.esports.base import ProviderHttp
from polyloly.domain.markets import TeamAliases
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import BackOffError, RejectError, RetryableError
from polyloly.runtime.sleep import Sleeper


class RecordingSleeper:
    """Sleeps no real time; advances the virtual clock and records each wait."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.waits: list[int] = []

    async def sleep_ns(self, delay_ns: int) -> None:
        self.waits.append(delay_ns)
        self.clock.advance_ns(max(0, delay_ns))


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, int]]]:
    hits: dict[str, int] = {}

    async def handler(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        hits[name] = hits.get(name, 0) + 1
        if name == "flaky" and hits[name] < 3:
            return web.Response(status=503)
        if name == "throttled":
            return web.Response(status=429, headers={"Retry-After": "7"})
        status = {"auth": 401, "missing": 404, "teapot": 418, "down": 500}.get(name)
        if status is not None:
            return web.Response(status=status)
        return web.json_response({"ok": request.headers.get("x-api-key")})

    app = web.Application()
    app.router.add_get("/{name}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", hits
    await runner.cleanup()


def _http(base_url: str, sleeper: Sleeper, clock: VirtualClock) -> ProviderHttp:
    settings = load_esports_settings(
        {"providers": {"grid": {"base_url": base_url, "api_key": "k", "retry_max_attempts": 3}}}
    )
    core = FeedCore(
        "grid",
        settings.provider("grid"),
        clock=clock,
        sleeper=sleeper,
        publish=lambda e: None,
        directory=MatchDirectory(TeamAliases()),
        rng=random.Random(5),
    )
    return ProviderHttp(core, headers={"x-api-key": "k"})


@pytest.mark.asyncio
async def test_retry_then_success_and_error_classes(server: tuple[str, dict[str, int]]) -> None:
    base, hits = server
    clock = VirtualClock(0)
    sleeper = RecordingSleeper(clock)
    http = _http(base, sleeper, clock)
    assert msgspec.json.decode(await http.get("/ok") or b"") == {"ok": "k"}
    assert await http.get("/flaky") is not None
    assert hits["flaky"] == 3
    assert len(sleeper.waits) == 2
    assert all(w > 0 for w in sleeper.waits)
    assert await http.get("/missing") is None
    with pytest.raises(BackOffError) as info:
        await http.get("/throttled")
    assert info.value.retry_after_s == 7.0
    assert sleeper.waits[-1] >= 7 * NS_PER_S  # the server's Retry-After is honoured
    with pytest.raises(RejectError) as auth:
        await http.get("/auth")
    assert auth.value.code == "401"
    assert hits["auth"] == 1
    with pytest.raises(RejectError):
        await http.get("/teapot")
    with pytest.raises(RetryableError):
        await http.get("/down")
    assert hits["down"] == 3
    await http.aclose()


@pytest.mark.asyncio
async def test_unreachable_host_is_retryable() -> None:
    clock = VirtualClock(0)
    http = _http("http://127.0.0.1:9", RecordingSleeper(clock), clock)
    with pytest.raises(RetryableError):
        await http.get("/x")
    await http.aclose()
