"""Build the enabled esports adapters, and wire the truth engine to the kernel.

::

    settings = load_esports_settings(config["esports"])
    directory = build_directory(settings)
    engine = wire_truth_engine(kernel, settings)
    feeds = build_feeds(settings, clock=clock, sleeper=AsyncioSleeper(),
                        publish=kernel.publish, directory=directory)
    async with asyncio.TaskGroup() as tg:
        for feed in feeds:
            tg.create_task(feed.run())
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

import httpx

from polyloly.adapters.esports.base import EsportsFeed, FeedCore, Publish
from polyloly.adapters.esports.config import (
    GRID,
    LIQUIPEDIA,
    LOLESPORTS,
    OPENDOTA,
    PANDASCORE,
    POLYMARKET_SPORTS,
    EsportsSettings,
)
from polyloly.adapters.esports.grid import GridFeed
from polyloly.adapters.esports.identity import MatchDirectory
from polyloly.adapters.esports.liquipedia import LiquipediaFeed
from polyloly.adapters.esports.lolesports import LolEsportsFeed
from polyloly.adapters.esports.opendota import OpenDotaFeed
from polyloly.adapters.esports.pandascore import PandaScoreFeed
from polyloly.adapters.esports.sports_ws import PolymarketSportsFeed
from polyloly.domain.events import Event, MatchEvent, TimerTick
from polyloly.domain.markets import TeamAliases
from polyloly.domain.truth_engine import TruthEngine
from polyloly.domain.truth_table import TruthParams
from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import Sleeper

__all__ = [
    "FEEDS",
    "build_directory",
    "build_feed",
    "build_feeds",
    "truth_params",
    "wire_truth_engine",
]

FeedFactory = Callable[[FeedCore, httpx.AsyncBaseTransport | None], EsportsFeed]

FEEDS: Final[dict[str, FeedFactory]] = {
    OPENDOTA: OpenDotaFeed,
    PANDASCORE: PandaScoreFeed,
    GRID: GridFeed,
    LIQUIPEDIA: LiquipediaFeed,
    LOLESPORTS: LolEsportsFeed,
    POLYMARKET_SPORTS: PolymarketSportsFeed,
}


def build_directory(settings: EsportsSettings) -> MatchDirectory:
    """The match directory with the configured alias table and match bindings."""
    return MatchDirectory(
        TeamAliases(settings.team_aliases),
        list(settings.matches),
        window_ns=settings.match_window_s * NS_PER_S,
    )


def build_feed(
    name: str,
    settings: EsportsSettings,
    *,
    clock: Clock,
    sleeper: Sleeper,
    publish: Publish,
    directory: MatchDirectory,
    rng: random.Random | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> EsportsFeed:
    """Build one provider's adapter."""
    core = FeedCore(
        name,
        settings.provider(name),
        clock=clock,
        sleeper=sleeper,
        publish=publish,
        directory=directory,
        rng=rng,
    )
    return FEEDS[name](core, transport)


def build_feeds(
    settings: EsportsSettings,
    *,
    clock: Clock,
    sleeper: Sleeper,
    publish: Publish,
    directory: MatchDirectory | None = None,
    rng: random.Random | None = None,
) -> list[EsportsFeed]:
    """Build every enabled provider's adapter (sharing one directory)."""
    shared = directory or build_directory(settings)
    return [
        build_feed(
            name,
            settings,
            clock=clock,
            sleeper=sleeper,
            publish=publish,
            directory=shared,
            rng=random.Random(rng.random()) if rng is not None else None,  # noqa: S311 - jitter
        )
        for name in settings.enabled()
    ]


def truth_params(settings: EsportsSettings, base: TruthParams | None = None) -> TruthParams:
    """Truth-engine params whose source weights and confirm-only set come from settings.

    Every provider in :data:`FEEDS` gets its configured (or default) ``weight_bp``; the
    thresholds and timeout come from ``base`` (engine defaults if ``None``).
    """
    template = base or TruthParams()
    weights = dict(template.source_weights)
    confirm = set(template.confirm_only)
    for name in FEEDS:
        provider = settings.provider(name)
        weights[name] = min(provider.weight_bp, 9_999)  # the engine needs w < 1.0
        if provider.confirm_only:
            confirm.add(name)
        else:
            confirm.discard(name)
    return TruthParams(
        source_weights=weights,
        default_weight=template.default_weight,
        pending_confidence=template.pending_confidence,
        final_confidence=template.final_confidence,
        final_timeout_ns=template.final_timeout_ns,
        confirm_only=frozenset(confirm),
    )


def wire_truth_engine(
    kernel: Kernel, settings: EsportsSettings, base: TruthParams | None = None
) -> TruthEngine:
    """Build the truth engine from settings and subscribe it to the kernel.

    ``MatchEvent`` and ``TimerTick`` go into the engine; its outputs (``TruthDelta``,
    ``TruthFinal``, ``TruthAlert``) are emitted back through the kernel, in order.
    """
    engine = TruthEngine(truth_params(settings, base), TeamAliases(settings.team_aliases))

    def on_event(event: Event) -> None:
        for out in engine.apply(event):
            kernel.emit(out)

    kernel.subscribe(MatchEvent, on_event)
    kernel.subscribe(TimerTick, on_event)
    return engine
