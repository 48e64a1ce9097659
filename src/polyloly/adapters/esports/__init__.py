"""Esports live-result providers (OpenDota, PandaScore, GRID, Liquipedia, lolesports).

Each adapter turns its provider's payloads into normalized
:class:`~polyloly.domain.events.MatchEvent` s (and ``FeedStatus`` health events) and hands
them to the kernel's synchronous ``publish``. Start with :mod:`.factory`.
"""

from polyloly.adapters.esports.base import EsportsFeed, FeedCore, FeedHealth, FeedStats
from polyloly.adapters.esports.config import (
    PROVIDER_DEFAULTS,
    EsportsSettings,
    MatchBindingSettings,
    ProviderSettings,
    load_esports_settings,
)
from polyloly.adapters.esports.factory import (
    build_directory,
    build_feed,
    build_feeds,
    truth_params,
    wire_truth_engine,
)
from polyloly.adapters.esports.identity import MatchDirectory, MatchRef

__all__ = [
    "PROVIDER_DEFAULTS",
    "EsportsFeed",
    "EsportsSettings",
    "FeedCore",
    "FeedHealth",
    "FeedStats",
    "MatchBindingSettings",
    "MatchDirectory",
    "MatchRef",
    "ProviderSettings",
    "build_directory",
    "build_feed",
    "build_feeds",
    "load_esports_settings",
    "truth_params",
    "wire_truth_engine",
]
