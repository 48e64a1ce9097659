"""What the local provider feeds share: the running scenarios, auth checks, counters."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.runtime.sleep import Sleeper
from polyloly.sim.esports.runtime import ScenarioRuntime
from polyloly.sim.scenarios.model import ProviderSpec

__all__ = [
    "PUBLISHED_LIMITS",
    "FeedContext",
    "ProviderRule",
    "Publisher",
    "SocketSet",
    "iso_ms",
    "iso_to_ns_sim",
    "iso_z",
    "json_response",
    "lpdb_date",
]

Publisher = Callable[[], Coroutine[Any, Any, None]]
"""A long-running push loop (one per provider feed and scenario); it waits on the sleeper."""


def iso_z(ts_ns: int) -> str:
    """``2026-01-01T10:00:00Z``."""
    return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ts_ns: int) -> str:
    """``2026-01-01T10:00:00.123Z``."""
    base = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{(ts_ns % NS_PER_S) // 1_000_000:03d}Z"


def iso_to_ns_sim(text: str) -> int | None:
    """Parse ``2026-01-01T10:00:00Z`` / ``2026-01-01 10:00:00`` (naive = UTC) into ns."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * NS_PER_S


def lpdb_date(ts_ns: int) -> str:
    """LPDB's naive-UTC ``2026-01-01 10:00:00``."""
    return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def json_response(payload: object, status: int = 200) -> web.Response:
    """Encode with msgspec (fast, exact ints) into a JSON response."""
    return web.Response(
        body=msgspec.json.encode(payload), status=status, content_type="application/json"
    )


@dataclass
class SocketSet:
    """The open WebSockets of one feed of one match."""

    sockets: set[web.WebSocketResponse] = field(default_factory=set)

    async def broadcast(self, text: str) -> None:
        """Send ``text`` to every socket (a socket that fails is dropped)."""
        for ws in list(self.sockets):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.sockets.discard(ws)

    async def close_all(self, code: int, message: bytes = b"") -> None:
        """Close every socket with ``code``."""
        for ws in list(self.sockets):
            self.sockets.discard(ws)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close(code=code, message=message)


@dataclass(frozen=True)
class ProviderRule:
    """A provider's published request limits, as the provider itself would enforce them.

    Attributes
    ----------
    per_minute, per_day
        Requests per sliding minute and per UTC day (0 = unlimited).
    min_spacing_ns
        Least time between two requests (0 = none).
    """

    per_minute: int = 0
    per_day: int = 0
    min_spacing_ns: int = 0


PUBLISHED_LIMITS: dict[str, ProviderRule] = {
    # OpenDota unkeyed: 60 a minute, 3,000 a day (429 "minute rate limit exceeded" / "daily
    # api limit exceeded"); Liquipedia's terms: at most one request every 2 s.
    "opendota": ProviderRule(per_minute=60, per_day=3_000),
    "liquipedia": ProviderRule(min_spacing_ns=2 * NS_PER_S),
}
"""The limits reference §1 and §4 state, for :class:`FeedContext` ``limits``."""

_NS_PER_DAY = 86_400 * NS_PER_S


@dataclass
class _Usage:
    times: list[int] = field(default_factory=list)
    day: int = -1
    today: int = 0


@dataclass
class FeedContext:
    """Server-wide state given to each provider module.

    Attributes
    ----------
    runtimes
        The scenarios being served.
    clock, sleeper
        Injected time (virtual in tests).
    api_keys
        Provider -> the key the feed requires (absent = no auth check).
    requests
        Requests served per provider (for rate-limit tests).
    limits
        Per provider, the limits to enforce with 429 (absent = none).
    request_log
        ``(provider, path, clock ns)`` of every request, answered or refused.
    over_limit
        Requests refused with 429 per provider.
    """

    runtimes: list[ScenarioRuntime]
    clock: Clock
    sleeper: Sleeper
    api_keys: dict[str, str] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    publishers: list[Publisher] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    limits: dict[str, ProviderRule] = field(default_factory=dict)
    request_log: list[tuple[str, str, int]] = field(default_factory=list)
    over_limit: Counter[str] = field(default_factory=Counter)
    _usage: dict[str, _Usage] = field(default_factory=dict)

    def admit(self, provider: str, path: str) -> str:
        """Log one request; return why the provider's limits refuse it (``""`` = served)."""
        now = self.clock.now_ns()
        self.request_log.append((provider, path, now))
        rule = self.limits.get(provider)
        if rule is None:
            return ""
        use = self._usage.setdefault(provider, _Usage())
        if use.day != now // _NS_PER_DAY:
            use.day, use.today = now // _NS_PER_DAY, 0
        reason = ""
        recent = [t for t in use.times if t > now - 60 * NS_PER_S]
        if rule.min_spacing_ns and use.times and now - use.times[-1] < rule.min_spacing_ns:
            reason = "rate limit exceeded: one request every 2 s"
        elif rule.per_minute and len(recent) >= rule.per_minute:
            reason = "minute rate limit exceeded"
        elif rule.per_day and use.today >= rule.per_day:
            reason = "daily api limit exceeded"
        use.times = [*recent, now]
        if reason:
            self.over_limit[provider] += 1
            return reason
        use.today += 1
        return ""

    def serving(self, provider: str) -> Iterator[tuple[ScenarioRuntime, ProviderSpec]]:
        """Each runtime that ``provider`` reports, with its provider settings."""
        for runtime in self.runtimes:
            spec = runtime.spec(provider)
            if spec is not None:
                yield runtime, spec

    def find(self, provider: str, match_id: str) -> tuple[ScenarioRuntime, ProviderSpec] | None:
        """The runtime whose provider id is ``match_id``."""
        return next(((r, s) for r, s in self.serving(provider) if s.match_id == match_id), None)

    def key_ok(self, provider: str, presented: str | None) -> bool:
        """Whether the presented key is acceptable (always, if none is configured)."""
        wanted = self.api_keys.get(provider)
        return not wanted or presented == wanted

    async def sleep_until(self, due_ns: int) -> None:
        """Wait on the sleeper until clock time ``due_ns``."""
        await self.sleeper.sleep_ns(due_ns - self.clock.now_ns())
