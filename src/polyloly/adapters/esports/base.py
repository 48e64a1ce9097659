"""The provider port and the machinery every esports adapter shares.

* :class:`EsportsFeed` — the port: ``run()`` until ``aclose()``; ``poll_once()`` does one
  polling round (tests and replays call it directly).
* :class:`FeedHealth` — the feed's health as ``FeedStatus`` events: ``STALE`` when a game is
  live and no fresh data arrived within ``stale_after_ms``, ``DOWN`` after
  ``down_after_failures`` failed rounds, ``OK`` again on recovery.
* :class:`ProviderHttp` — httpx with a base URL (tests point it at the local feed), the
  provider's rate limit on the injected clock, retries with jittered backoff, and vendor
  errors translated into :mod:`polyloly.runtime.errors` classes.
* :class:`FeedCore` — what an adapter is given: settings, clock, sleeper, the kernel's
  synchronous ``publish``, the match directory, injected randomness, per-match trackers.

Malformed payloads are counted in :class:`FeedStats` and skipped, never published.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
import msgspec
import structlog

from polyloly.adapters.esports.config import ProviderSettings
from polyloly.adapters.esports.identity import MatchDirectory, MatchRef
from polyloly.adapters.esports.ratelimit import (
    Backoff,
    BudgetExhaustedError,
    ProviderLimiter,
    paced_interval_ns,
)
from polyloly.adapters.esports.tracker import MatchSnap, MatchTracker
from polyloly.domain.events import Event, FeedState, FeedStatus, MatchEvent
from polyloly.runtime.clock import NS_PER_MS, Clock
from polyloly.runtime.errors import BackOffError, RejectError, RetryableError
from polyloly.runtime.sleep import Sleeper

__all__ = [
    "EsportsFeed",
    "FeedCore",
    "FeedHealth",
    "FeedStats",
    "ProviderHttp",
    "Publish",
    "decode",
    "run_polling",
]

_log = structlog.get_logger(__name__)

Publish = Callable[[Event], None]
"""The kernel's synchronous ``publish``."""

_T = TypeVar("_T")

_HTTP_OK = 200
_HTTP_NO_CONTENT = 204
_HTTP_NOT_FOUND = 404
_HTTP_TOO_MANY = 429
_HTTP_SERVER_ERROR = 500
_AUTH_STATUSES = frozenset({401, 403})


class EsportsFeed(Protocol):
    """One provider adapter."""

    source: str

    async def poll_once(self) -> None:
        """Do one polling round (fetch, normalize, publish, update health)."""
        ...

    async def run(self) -> None:
        """Poll (and keep sockets open) until :meth:`aclose`."""
        ...

    async def aclose(self) -> None:
        """Stop and release connections."""
        ...


@dataclass
class FeedStats:
    """Counters an adapter keeps (exported as metrics by the shell)."""

    requests: int = 0
    failures: int = 0
    malformed: int = 0
    events: int = 0
    frames: int = 0
    reconnects: int = 0
    throttled: int = 0  # rounds refused by the provider's daily budget
    request_times_ns: deque[int] = field(default_factory=lambda: deque(maxlen=100_000))


def decode(data: bytes, typ: type[_T], stats: FeedStats) -> _T | None:
    """Decode ``data`` into ``typ``; count and return ``None`` if it is malformed."""
    try:
        return msgspec.json.decode(data, type=typ)
    except (msgspec.ValidationError, msgspec.DecodeError):
        stats.malformed += 1
        return None


class FeedHealth:
    """Publishes ``FeedStatus`` transitions for one source.

    Parameters
    ----------
    source
        Provider name.
    clock, publish
        Injected clock and the kernel's publish.
    stale_after_ns
        Longest gap without fresh data, while a game is live, before ``STALE``.
    down_after_failures
        Consecutive failed rounds before ``DOWN``.
    """

    def __init__(
        self,
        source: str,
        clock: Clock,
        publish: Publish,
        stale_after_ns: int,
        down_after_failures: int,
    ) -> None:
        self.source = source
        self._clock = clock
        self._publish = publish
        self.stale_after_ns = stale_after_ns
        self.down_after_failures = down_after_failures
        self.state: FeedState | None = None
        self.last_fresh_ns = clock.now_ns()
        self.failures = 0

    def _set(self, state: FeedState, detail: str = "") -> None:
        if state is self.state:
            return
        self.state = state
        now = self._clock.now_ns()
        self._publish(
            FeedStatus(ts_event=now, ts_init=now, source=self.source, state=state, detail=detail)
        )

    def fresh(self) -> None:
        """New data arrived (the provider's state moved on)."""
        self.last_fresh_ns = self._clock.now_ns()
        self.failures = 0
        self._set(FeedState.OK)

    def reachable(self) -> None:
        """A round succeeded (the provider answered), fresh or not."""
        self.failures = 0
        if self.state in (None, FeedState.DOWN):
            gap = self._clock.now_ns() - self.last_fresh_ns
            # Back from DOWN with nothing fresh yet: STALE, not OK, until data moves again.
            recovered = (
                FeedState.STALE
                if self.state is FeedState.DOWN and gap > (self.stale_after_ns)
                else FeedState.OK
            )
            self._set(recovered, "reachable")

    def failure(self, detail: str) -> None:
        """A round failed after its retries."""
        self.failures += 1
        if self.failures >= self.down_after_failures:
            self._set(FeedState.DOWN, detail)

    def disconnected(self, detail: str) -> None:
        """A push connection dropped and is not back yet."""
        self._set(FeedState.DOWN, detail)

    def check(self, live: bool) -> None:
        """Raise ``STALE`` if a game is live and data stopped coming."""
        now = self._clock.now_ns()
        if not live:
            # Nothing should be moving (between games, paused, over): restart the timer, and
            # a STALE flag raised while live no longer says anything.
            self.last_fresh_ns = max(self.last_fresh_ns, now - self.stale_after_ns // 2)
            if self.state is FeedState.STALE:
                self._set(FeedState.OK, "not live")
            return
        if self.state is not FeedState.DOWN and now - self.last_fresh_ns > self.stale_after_ns:
            gap_ms = (now - self.last_fresh_ns) // NS_PER_MS
            self._set(FeedState.STALE, f"no fresh data for {gap_ms} ms while live")


class ProviderHttp:
    """Rate-limited, retrying JSON-over-HTTP client for one provider.

    Parameters
    ----------
    core
        The adapter's core (settings, clock, sleeper, randomness, stats).
    headers
        Headers for every request (auth goes here; never logged).
    base_url
        Overrides ``settings.base_url`` (lolesports' second host).
    limiter
        The provider's limiter (default: the core's, shared by every call to the provider).
    transport
        An httpx transport for tests that do not use sockets.
    """

    def __init__(
        self,
        core: FeedCore,
        headers: Mapping[str, str] | None = None,
        base_url: str | None = None,
        limiter: ProviderLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        s = core.settings
        self._core = core
        self.limiter = limiter or core.limiter
        self._backoff = Backoff(s.backoff_base_ms, s.backoff_max_ms, core.rng)
        all_headers = {"User-Agent": s.user_agent, "Accept-Encoding": "gzip"}
        all_headers.update(headers or {})
        self._client = httpx.AsyncClient(
            base_url=base_url if base_url is not None else s.base_url,
            headers=all_headers,
            timeout=s.request_timeout_ms / 1000,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> bytes | None:
        """GET ``path``; return the body, or ``None`` on 404/204 (not there yet)."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> bytes | None:
        """POST ``body`` to ``path``."""
        return await self.request("POST", path, content=body, headers=headers)

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes | None:
        """Send with rate limiting and retries.

        Raises
        ------
        RetryableError, BackOffError
            Still failing after ``retry_max_attempts``.
        RejectError
            Auth refused or another 4xx: do not retry.
        """
        attempts = self._core.settings.retry_max_attempts
        for attempt in range(attempts):
            try:
                return await self._once(method, path, params, content, headers)
            except BudgetExhaustedError:
                raise  # retrying cannot help before the budget resets
            except RetryableError as exc:
                if attempt + 1 >= attempts:
                    raise
                hint = exc.retry_after_s if isinstance(exc, BackOffError) else None
                hint_ns = None if hint is None else int(hint * 1000) * NS_PER_MS
                await self._core.sleeper.sleep_ns(self._backoff.delay_ns(attempt, hint_ns))
        raise RetryableError("unreachable: no attempts configured")  # pragma: no cover

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> bytes | None:
        await self.limiter.acquire()
        stats = self._core.stats
        stats.requests += 1
        stats.request_times_ns.append(self._core.clock.now_ns())
        try:
            resp = await self._client.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise RetryableError(f"{self._core.source}: timeout") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"{self._core.source}: {type(exc).__name__}") from exc
        return _classify(self._core.source, resp)


def _classify(source: str, resp: httpx.Response) -> bytes | None:
    status = resp.status_code
    if status == _HTTP_OK:
        return resp.content
    if status in (_HTTP_NOT_FOUND, _HTTP_NO_CONTENT):
        return None
    if status == _HTTP_TOO_MANY:
        retry_after = resp.headers.get("Retry-After")
        hint = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise BackOffError(f"{source}: rate limited", retry_after_s=hint)
    if status >= _HTTP_SERVER_ERROR:
        raise RetryableError(f"{source}: HTTP {status}")
    if status in _AUTH_STATUSES:
        raise RejectError(f"{source}: auth refused (HTTP {status})", code=str(status))
    raise RejectError(f"{source}: HTTP {status}", code=str(status))


class FeedCore:
    """Shared state and helpers of one adapter.

    Parameters
    ----------
    source
        Provider name (the ``source`` of its events).
    settings
        The provider's settings.
    clock, sleeper
        Injected time.
    publish
        The kernel's synchronous ``publish``.
    directory
        Canonical match ids and team identity.
    rng
        Injected randomness (backoff jitter).
    """

    def __init__(
        self,
        source: str,
        settings: ProviderSettings,
        *,
        clock: Clock,
        sleeper: Sleeper,
        publish: Publish,
        directory: MatchDirectory,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self.settings = settings
        self.clock = clock
        self.sleeper = sleeper
        self.publish = publish
        self.directory = directory
        self.rng = rng or random.Random(0)  # noqa: S311 - jitter, not security
        self.stats = FeedStats()
        self.health = FeedHealth(
            source,
            clock,
            publish,
            settings.stale_after_ms * NS_PER_MS,
            settings.down_after_failures,
        )
        self.trackers: dict[str, MatchTracker] = {}
        self._extra = {"confirm_only": True} if settings.confirm_only else {}
        self.limiter = ProviderLimiter(
            clock,
            sleeper,
            windows=[(settings.rate_limit_requests, settings.rate_limit_window_ms * NS_PER_MS)],
            min_spacing_ns=settings.min_spacing_ms * NS_PER_MS,
            daily_budget=settings.daily_budget,
        )
        self.requests_per_poll = 1  # measured by run_polling (paces the daily budget)

    def poll_interval_ns(self, *, urgent: bool = False) -> int:
        """The next pause between polls: the cadence (the fast one while ``urgent``), stretched
        so that what is left of the daily budget lasts the day."""
        s = self.settings
        fast = urgent and s.fast_poll_interval_ms > 0
        base = (s.fast_poll_interval_ms if fast else s.poll_interval_ms) * NS_PER_MS
        limiter = self.limiter
        remaining = limiter.remaining_today()
        return paced_interval_ns(
            base, remaining, limiter.ns_until_reset(), max(self.requests_per_poll, 1)
        )

    def tracker(self, ref: MatchRef) -> MatchTracker:
        """The tracker of a match for this source (created on first use)."""
        found = self.trackers.get(ref.match_id)
        if found is None:
            found = MatchTracker(ref, self._extra)
            self.trackers[ref.match_id] = found
        return found

    def apply(
        self, ref: MatchRef, snap: MatchSnap, ts_event: int, provider_seq: int | None = None
    ) -> list[MatchEvent]:
        """Diff ``snap`` against the match's last one and publish the resulting events."""
        events = self.tracker(ref).update(snap, ts_event, self.clock.now_ns(), provider_seq)
        self.emit(events)
        return events

    def emit(self, events: list[MatchEvent]) -> None:
        """Publish events in order."""
        for event in events:
            self.stats.events += 1
            self.publish(event)

    def live(self) -> bool:
        """Whether any tracked match has a game in play."""
        return any(t.live for t in self.trackers.values())

    def round_failed(self, exc: Exception) -> None:
        """Count a failed round and update health (no secrets in the detail)."""
        self.stats.failures += 1
        detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, BudgetExhaustedError):
            self.stats.throttled += 1
            _log.warning(
                "esports_feed_over_budget",
                source=self.source,
                detail=f"{exc}; the feed is degraded until the budget resets",
            )
            self.health.failure(detail)
            return
        _log.warning("esports_feed_round_failed", source=self.source, error=detail)
        self.health.failure(detail)


async def run_polling(
    feed: EsportsFeed,
    core: FeedCore,
    is_running: Callable[[], bool],
    urgent: Callable[[], bool] | None = None,
) -> None:
    """Call ``feed.poll_once()`` while ``is_running()``, pausing :meth:`FeedCore.poll_interval_ns`.

    ``urgent`` says whether a bound game is near its end (the fast cadence applies); the
    requests each round costs are measured, so a daily budget is paced by what polls cost.
    """
    while is_running():
        before = core.stats.requests
        await feed.poll_once()
        spent = core.stats.requests - before
        if spent > 0:
            core.requests_per_poll = spent
        await core.sleeper.sleep_ns(core.poll_interval_ns(urgent=urgent is not None and urgent()))
