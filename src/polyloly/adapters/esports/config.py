"""Typed, frozen settings of the esports provider adapters (units in the field names).

Each provider has a default row in :data:`PROVIDER_DEFAULTS` (real base URLs, the rate
limits from the protocol reference, polling and staleness times); configuration overrides
any field per provider. Secrets (``api_key``) come only from settings, are never part of a
``repr`` and are never logged.

Source weights (``weight_bp``, basis points) tell the truth engine how much one report from
the provider counts. Liquipedia is ``confirm_only``: a volunteer-edited wiki that may lag
minutes, so its reports can confirm what a live source said but never trigger on their own
(the truth engine's ``confirm_only`` set gives it no confidence on its own, and its events
carry ``detail["confirm_only"] = True``). The default weights equal the truth engine's
``DEFAULT_SOURCE_WEIGHTS``.

References
----------
``docs/reference/esports.md`` §1 (OpenDota 60 req/min unkeyed, 300 keyed), §2 (PandaScore
1k-10k req/hour), §3 (GRID, limits not public), §4 (Liquipedia ≤ 1 request / 2 s, custom
User-Agent), §5 (lolesports ``x-api-key``, ``hl``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import msgspec

from polyloly.runtime.errors import ConfigError

__all__ = [
    "GRID",
    "LIQUIPEDIA",
    "LOLESPORTS",
    "OPENDOTA",
    "PANDASCORE",
    "POLYMARKET_SPORTS",
    "PROVIDER_DEFAULTS",
    "EsportsSettings",
    "MatchBindingSettings",
    "ProviderSettings",
    "load_esports_settings",
]

OPENDOTA: Final = "opendota"
PANDASCORE: Final = "pandascore"
GRID: Final = "grid"
LIQUIPEDIA: Final = "liquipedia"
LOLESPORTS: Final = "lolesports"
POLYMARKET_SPORTS: Final = "polymarket_sports"

DEFAULT_USER_AGENT: Final = "polyloly/0.1 (esports result checker; +https://github.com/polyloly)"


@dataclass(frozen=True, kw_only=True)
class ProviderSettings:
    """Settings of one provider adapter.

    Attributes
    ----------
    base_url
        REST (or GraphQL) base URL; tests point it at the local feed.
    ws_url
        WebSocket base URL (PandaScore live, GRID series events); empty = no socket.
    feed_url
        Second REST host where a provider has one (lolesports livestats).
    api_key
        Secret; sent the way the provider wants it; excluded from ``repr``.
    weight_bp
        Source reliability weight for the truth engine, basis points.
    confirm_only
        Reports can confirm but never trigger a result (Liquipedia).
    """

    enabled: bool = True
    base_url: str = ""
    ws_url: str = ""
    feed_url: str = ""
    api_key: str = field(default="", repr=False)
    user_agent: str = DEFAULT_USER_AGENT
    games: tuple[str, ...] = ("lol", "dota2")
    poll_interval_ms: int = 10_000
    stale_after_ms: int = 60_000
    rate_limit_requests: int = 60
    rate_limit_window_ms: int = 60_000
    min_spacing_ms: int = 0  # least time between two requests (0 = none)
    daily_budget: int = 0  # requests per UTC day (0 = no budget)
    fast_poll_interval_ms: int = 0  # poll this often while a bound game is near its end
    retry_max_attempts: int = 3
    backoff_base_ms: int = 500
    backoff_max_ms: int = 30_000
    request_timeout_ms: int = 10_000
    down_after_failures: int = 3
    frozen_polls: int = 2
    weight_bp: int = 8_000
    confirm_only: bool = False
    locale: str = "en-US"
    live_events: bool = False  # PandaScore Pro: kills/objectives from the events socket
    discover: bool = False  # also report matches nobody configured (else: bound ones only)

    def __post_init__(self) -> None:
        for name in (
            "poll_interval_ms",
            "stale_after_ms",
            "rate_limit_requests",
            "rate_limit_window_ms",
            "retry_max_attempts",
            "backoff_base_ms",
            "request_timeout_ms",
            "down_after_failures",
            "frozen_polls",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("min_spacing_ms", "daily_budget", "fast_poll_interval_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.backoff_max_ms < self.backoff_base_ms:
            raise ConfigError("backoff_max_ms must be >= backoff_base_ms")
        if not 0 <= self.weight_bp <= 10_000:
            raise ConfigError(f"weight_bp must be within 0..10000, got {self.weight_bp}")


PROVIDER_DEFAULTS: Final[Mapping[str, Mapping[str, Any]]] = {
    # /live is refreshed by OpenDota's worker every 60 s: polling faster only burns quota.
    # Unkeyed: 60 requests a minute and 3,000 a day; a game suspected over is confirmed by
    # /matches/{id}, asked every 15 s until OpenDota has it.
    OPENDOTA: {
        "base_url": "https://api.opendota.com/api",
        "games": ("dota2",),
        "poll_interval_ms": 60_000,
        "fast_poll_interval_ms": 15_000,
        "stale_after_ms": 240_000,
        "rate_limit_requests": 60,
        "rate_limit_window_ms": 60_000,
        "daily_budget": 3_000,
        "frozen_polls": 2,
        "weight_bp": 7_000,
    },
    PANDASCORE: {
        "base_url": "https://api.pandascore.co",
        "ws_url": "wss://live.pandascore.co",
        "poll_interval_ms": 30_000,
        "stale_after_ms": 30_000,
        "rate_limit_requests": 1_000,
        "rate_limit_window_ms": 3_600_000,
        "weight_bp": 8_500,
    },
    GRID: {
        "base_url": "https://api.grid.gg",
        "ws_url": "wss://api.grid.gg",
        "poll_interval_ms": 5_000,
        "stale_after_ms": 30_000,
        "rate_limit_requests": 120,
        "rate_limit_window_ms": 60_000,
        "weight_bp": 9_000,
    },
    LIQUIPEDIA: {
        "base_url": "https://api.liquipedia.net",
        "poll_interval_ms": 60_000,
        "stale_after_ms": 3_600_000,
        "rate_limit_requests": 1,
        "rate_limit_window_ms": 2_000,
        "min_spacing_ms": 2_000,  # terms of use: at most one request every 2 s
        "weight_bp": 6_000,
        "confirm_only": True,
    },
    LOLESPORTS: {
        "base_url": "https://esports-api.lolesports.com",
        "feed_url": "https://feed.lolesports.com",
        "games": ("lol",),
        "poll_interval_ms": 10_000,
        "stale_after_ms": 60_000,
        "rate_limit_requests": 60,
        "rate_limit_window_ms": 60_000,
        "weight_bp": 8_000,
    },
    # Polymarket's own Sports WebSocket: pings every 5 s, so 15 s of silence is a dead
    # socket; "may be delayed": it confirms results, it never makes one tradable alone.
    POLYMARKET_SPORTS: {
        "ws_url": "wss://sports-api.polymarket.com/ws",
        "poll_interval_ms": 1_000,  # how often the socket's health is checked
        "stale_after_ms": 15_000,
        "backoff_base_ms": 1_000,
        "weight_bp": 8_000,
        "confirm_only": True,
    },
}


@dataclass(frozen=True, kw_only=True)
class MatchBindingSettings:
    """One match known in advance: its canonical id, teams (team_a = the market's first
    team) and each provider's own id for it."""

    match_id: str
    game: str
    team_a: str
    team_b: str
    best_of: int | None = None
    scheduled_at_s: int | None = None
    provider_ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EsportsSettings:
    """Everything the esports adapters need, frozen."""

    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    team_aliases: dict[str, list[str]] = field(default_factory=dict)
    matches: list[MatchBindingSettings] = field(default_factory=list)
    match_window_s: int = 6 * 3600

    def provider(self, name: str) -> ProviderSettings:
        """Return the settings of ``name`` (its defaults if not configured)."""
        found = self.providers.get(name)
        if found is not None:
            return found
        if name not in PROVIDER_DEFAULTS:
            raise ConfigError(f"unknown esports provider {name!r}")
        return _convert(ProviderSettings, dict(PROVIDER_DEFAULTS[name]), f"providers.{name}")

    def enabled(self) -> list[str]:
        """Names of the configured, enabled providers."""
        return [name for name, cfg in self.providers.items() if cfg.enabled]


_C = TypeVar("_C")


def _convert(cls: type[_C], raw: Mapping[str, Any], where: str) -> _C:
    try:
        return msgspec.convert(dict(raw), cls, strict=False)
    except (msgspec.ValidationError, ConfigError) as exc:
        raise ConfigError(f"esports.{where}: {exc}") from exc


def check_bindings(matches: list[MatchBindingSettings]) -> None:
    """Reject duplicate canonical ids and one provider id bound to two matches."""
    seen_ids: set[str] = set()
    seen_provider: dict[tuple[str, str], str] = {}
    for m in matches:
        if not m.match_id or m.match_id in seen_ids:
            raise ConfigError(f"esports.matches: duplicate or empty match_id {m.match_id!r}")
        seen_ids.add(m.match_id)
        if m.game not in ("lol", "dota2"):
            raise ConfigError(f"esports.matches[{m.match_id}].game must be lol or dota2")
        for source, pid in m.provider_ids.items():
            owner = seen_provider.setdefault((source, pid), m.match_id)
            if owner != m.match_id:
                raise ConfigError(
                    f"esports.matches: {source} id {pid!r} bound to {owner!r} and {m.match_id!r}"
                )


def _stringify_ids(raw: Mapping[str, Any]) -> dict[str, Any]:
    # Provider ids are numbers for some providers (PandaScore 1000450) and strings for
    # others (LPDB match2id); YAML keeps the number, the directory compares strings.
    out = dict(raw)
    out["provider_ids"] = {str(k): str(v) for k, v in dict(raw.get("provider_ids") or {}).items()}
    return out


def load_esports_settings(raw: Mapping[str, Any] | None) -> EsportsSettings:
    """Build :class:`EsportsSettings` from the ``esports`` section of the YAML config.

    Each provider's mapping is laid over its :data:`PROVIDER_DEFAULTS` row.

    Raises
    ------
    ConfigError
        On an unknown provider, a bad value, or inconsistent match bindings (names the key).
    """
    raw = dict(raw or {})
    providers: dict[str, ProviderSettings] = {}
    for name, section in dict(raw.get("providers") or {}).items():
        if name not in PROVIDER_DEFAULTS:
            raise ConfigError(f"esports.providers: unknown provider {name!r}")
        merged = {**PROVIDER_DEFAULTS[name], **dict(section or {})}
        providers[name] = _convert(ProviderSettings, merged, f"providers.{name}")
    matches = [
        _convert(MatchBindingSettings, _stringify_ids(m), f"matches[{i}]")
        for i, m in enumerate(raw.get("matches") or [])
    ]
    check_bindings(matches)
    raw_aliases = raw.get("team_aliases") or {}
    aliases = {str(k): [str(a) for a in v or []] for k, v in raw_aliases.items()}
    window = int(raw.get("match_window_s", 6 * 3600))
    if window <= 0:
        raise ConfigError("esports.match_window_s must be positive")
    return EsportsSettings(
        providers=providers, team_aliases=aliases, matches=matches, match_window_s=window
    )
