"""Harness: a scenario's local feeds + the real adapters + kernel + truth engine, virtual time.

Everything talks over real loopback sockets; only time is virtual. The harness advances the
shared :class:`VirtualClock` one due wake-up at a time, waiting until every adapter loop
and feed publisher has parked (see :class:`VirtualSleeper.run_until`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from polyloly.adapters.esports import (
    EsportsFeed,
    build_directory,
    build_feed,
    load_esports_settings,
    wire_truth_engine,
)
from polyloly.domain.events import Event, MatchEvent, TimerTick
from polyloly.domain.truth_engine import TruthEngine
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import VirtualSleeper
from polyloly.sim.esports import EsportsFeedServer, ScenarioRuntime
from polyloly.sim.esports.common import ProviderRule
from polyloly.sim.scenarios import Scenario, load_scenario

START_NS = 1_767_225_600 * NS_PER_S
API_KEYS = {
    "grid": "grid-key",
    "pandascore": "ps-token",
    "lolesports": "le-key",
    "liquipedia": "lp",
}


def provider_settings(urls: dict[str, str], game: str) -> dict[str, dict[str, Any]]:
    """Per-provider settings pointing at the local feed (tight but realistic cadences)."""
    return {
        "opendota": {
            "base_url": urls["opendota"],
            "poll_interval_ms": 15_000,
            "fast_poll_interval_ms": 0,
            "daily_budget": 0,
            "frozen_polls": 4,
            "stale_after_ms": 180_000,
        },
        "pandascore": {
            "base_url": urls["pandascore"],
            "ws_url": urls["pandascore_ws"],
            "api_key": API_KEYS["pandascore"],
            "poll_interval_ms": 30_000,
            "stale_after_ms": 30_000,
            "games": [game],
            "backoff_base_ms": 1_000,
        },
        "grid": {
            "base_url": urls["grid"],
            "ws_url": urls["grid_ws"],
            "api_key": API_KEYS["grid"],
            "poll_interval_ms": 15_000,
            "stale_after_ms": 30_000,
        },
        "liquipedia": {
            "base_url": urls["liquipedia"],
            "api_key": API_KEYS["liquipedia"],
            "poll_interval_ms": 60_000,
        },
        "polymarket_sports": {"ws_url": urls["polymarket_sports"], "stale_after_ms": 15_000},
        "lolesports": {
            "base_url": urls["lolesports"],
            "feed_url": urls["lolesports_feed"],
            "api_key": API_KEYS["lolesports"],
            "poll_interval_ms": 10_000,
            "stale_after_ms": 60_000,
        },
    }


@dataclass
class Run:
    """What one scenario run produced."""

    scenario: Scenario
    runtime: ScenarioRuntime
    events: list[Event]
    feeds: dict[str, EsportsFeed]
    server_requests: dict[str, int]
    engine: TruthEngine
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    request_log: list[tuple[str, str, int]] = field(default_factory=list)
    over_limit: dict[str, int] = field(default_factory=dict)

    def of(self, cls: type[Event]) -> list[Any]:
        """Events of one class, in kernel order."""
        return [e for e in self.events if isinstance(e, cls)]

    def match_events(self, source: str) -> list[MatchEvent]:
        """One adapter's match events, in order."""
        return [e for e in self.of(MatchEvent) if e.source == source]

    def t_s(self, event: Event) -> float:
        """Scenario seconds at the event's ``ts_init``."""
        return self.runtime.t_ms(event.ts_init) / 1000


async def run_scenario(
    name: str,
    providers: list[str] | None = None,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    ticks: bool = False,
    until_s: int | None = None,
    limits: dict[str, ProviderRule] | None = None,
    sports_delay_ms: int = 20_000,
) -> Run:
    """Play scenario ``name`` against the adapters of ``providers`` (default: all it has)."""
    scenario = load_scenario(name)
    names = providers or sorted(scenario.providers)
    clock = VirtualClock(START_NS)
    sleeper = VirtualSleeper(clock)
    runtime = ScenarioRuntime(scenario, clock)
    server = EsportsFeedServer(
        [runtime],
        clock=clock,
        sleeper=sleeper,
        api_keys=API_KEYS,
        limits=limits,
        sports_delay_ms=sports_delay_ms,
    )
    await server.start()
    all_settings = provider_settings(server.urls(), scenario.game)
    for provider, extra in (overrides or {}).items():
        all_settings[provider] = {**all_settings[provider], **extra}
    binding = {
        "match_id": scenario.match_id,
        "game": scenario.game,
        "team_a": scenario.team_a.name,
        "team_b": scenario.team_b.name,
        "best_of": scenario.best_of,
        "scheduled_at_s": runtime.wall_s(scenario.scheduled_ms),
        "provider_ids": {
            p: scenario.providers[p].match_id for p in names if p in scenario.providers
        },
    }
    settings = load_esports_settings(
        {
            "providers": {p: all_settings[p] for p in names},
            "team_aliases": scenario.aliases(),
            "matches": [binding],
        }
    )
    kernel = Kernel(clock)
    events: list[Event] = []
    kernel.subscribe_all(events.append)
    engine = wire_truth_engine(kernel, settings)
    directory = build_directory(settings)
    feeds = {
        p: build_feed(
            p,
            settings,
            clock=clock,
            sleeper=sleeper,
            publish=kernel.publish,
            directory=directory,
            rng=random.Random(7),
        )
        for p in names
    }
    tasks = [asyncio.create_task(feed.run()) for feed in feeds.values()]
    loops = len(feeds) + server.loops
    if ticks:

        async def tick() -> None:
            while True:
                await sleeper.sleep_ns(NS_PER_S)
                now = clock.now_ns()
                kernel.publish(TimerTick(ts_event=now, ts_init=now))

        tasks.append(asyncio.create_task(tick()))
        loops += 1
    end_ms = scenario.end_ms if until_s is None else until_s * 1000
    try:
        await sleeper.run_until(runtime.wall_ns(end_ms), loops=loops, timeout_s=50)
    finally:
        for feed in feeds.values():
            await feed.aclose()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()
    return Run(
        scenario=scenario,
        runtime=runtime,
        events=events,
        feeds=feeds,
        server_requests=dict(server.requests),
        engine=engine,
        settings=all_settings,
        request_log=list(server.ctx.request_log),
        over_limit=dict(server.ctx.over_limit),
    )


@pytest.fixture
def play() -> Callable[..., Awaitable[Run]]:
    """``await play("lol_bo3_pause", [...providers], overrides=..., ticks=...)``."""
    return run_scenario
