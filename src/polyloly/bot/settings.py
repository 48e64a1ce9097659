"""Typed, frozen settings: the section models and their cross-field invariants.

Every section is a frozen pydantic model with ``extra="forbid"``, so a misspelt key stops
start-up. Units are in field names (``_s``, ``_ms``, ``_usdc``); money is ``Decimal`` here and
``int`` micro-units in the core (the ``*_micros`` and ``*_bps`` attributes). Cross-field rules
are named functions in :data:`INVARIANTS`.

:func:`load_settings` reads and merges the layers (``config/base.yaml`` < ``config/<env>.yaml``
< ``.env`` < the environment, :data:`ENV_VARS` < ``overrides``) through
:mod:`polyloly.bot.config_loader`, then validates them here. Every problem becomes one line of
a :class:`~polyloly.bot.errors.ConfigError`, naming the key path and the rule::

    risk.max_daily_loss_usdc: must be greater than 0 (got -5) [MAX_DAILY_LOSS]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, overload
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from polyloly.bot.config_loader import (
    ENV_VARS,
    InvariantError,
    Origins,
    Violation,
    load_yaml,
    merge_config,
    read_env_file,
    resolve_config_dir,
    validate_config,
    validation_error_lines,
)
from polyloly.bot.errors import ConfigError
from polyloly.domain.fees import FeeModel, fee_model_from_config
from polyloly.domain.money import parse_micros

__all__ = [
    "ENV_VARS",
    "INVARIANTS",
    "AdaptersSettings",
    "AlertsSettings",
    "BotSettings",
    "ConfigError",
    "ControlSettings",
    "EsportsSettings",
    "FeesSettings",
    "GridSettings",
    "InvariantError",
    "LiquipediaSettings",
    "LolEsportsSettings",
    "MetricsSettings",
    "OpenDotaSettings",
    "PairArbSettings",
    "PandaScoreSettings",
    "PolymarketSettings",
    "ProviderSettings",
    "RiskSettings",
    "Settings",
    "StorageSettings",
    "StrategiesSettings",
    "TeamsSettings",
    "TemporalArbSettings",
    "TruthSettings",
    "Violation",
    "format_validation_error",
    "load_settings",
    "load_yaml",
    "read_env_file",
    "resolve_config_dir",
]

# -- value types ----------------------------------------------------------------------------


def _no_bool(value: object) -> object:
    # pydantic's lax mode reads True as 1; a boolean where a number belongs is a typo.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _url_rule(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def check(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"must be a {'/'.join(schemes)} URL with a host")
        return url

    return check


def _secret_url_rule(schemes: tuple[str, ...]) -> Callable[[SecretStr], SecretStr]:
    check = _url_rule(schemes)

    def check_secret(value: SecretStr) -> SecretStr:
        check(value.get_secret_value())
        return value

    return check_secret


_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _database_url_rule(value: SecretStr) -> SecretStr:
    parts = urlsplit(value.get_secret_value())
    if parts.scheme not in DB_SCHEMES:
        raise ValueError(f"must be a database URL ({', '.join(DB_SCHEMES)})")
    if not parts.scheme.startswith("sqlite") and not parts.hostname:
        raise ValueError("must name a database host")
    return value


def _private_key_rule(value: SecretStr) -> SecretStr:
    if not _HEX_KEY.fullmatch(value.get_secret_value()):
        raise ValueError("must be 32 bytes of hex (64 hex digits, optional 0x)")
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


Usdc = Annotated[Decimal, BeforeValidator(_no_bool), Field(gt=0, decimal_places=6)]
Price = Annotated[Decimal, BeforeValidator(_no_bool), Field(gt=0, le=1, decimal_places=6)]
Rate = Annotated[Decimal, BeforeValidator(_no_bool), Field(ge=0, lt=1, decimal_places=6)]
Confidence = Annotated[Decimal, BeforeValidator(_no_bool), Field(gt=0, le=1, decimal_places=4)]
Weight = Annotated[Decimal, BeforeValidator(_no_bool), Field(ge=0, le=1, decimal_places=4)]
Seconds = Annotated[float, BeforeValidator(_no_bool), Field(gt=0, allow_inf_nan=False)]
Millis = Annotated[int, BeforeValidator(_no_bool), Field(ge=1)]
Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=1)]
Port = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=65535)]
Host = Annotated[str, Field(min_length=1)]
HttpUrl = Annotated[str, AfterValidator(_url_rule(("http", "https")))]
WsUrl = Annotated[str, AfterValidator(_url_rule(("ws", "wss")))]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)
]
DB_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgresql+asyncpg", "postgres")


class Micros:
    """Read-only view of a Decimal field as int micro-units (``0.975`` -> ``975_000``)."""

    def __init__(self, field: str) -> None:
        self.field = field

    def convert(self, value: Decimal) -> int:
        """Convert one value exactly."""
        return parse_micros(value)

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type) -> int: ...
    def __get__(self, obj: object | None, owner: type) -> int | Self:
        return self if obj is None else self.convert(getattr(obj, self.field))


class Bps(Micros):
    """Read-only view of a Decimal fraction as int basis points (``0.80`` -> ``8000``)."""

    def convert(self, value: Decimal) -> int:
        """Convert one value exactly (the field allows at most 4 decimal places)."""
        return int(value * 10_000)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(Micros,))


# -- sections -------------------------------------------------------------------------------


class BotSettings(_Section):
    """Process-wide switches: name, logging, paper or live, offline (demo) mode."""

    name: str = "polyloly"
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "console"] = "json"
    paper_trading: bool = True
    offline: bool = False  # True: every URL must be loopback (the demo's simulators)


class RiskSettings(_Section):
    """The risk gate's hard limits (the seed's RiskParams), in pUSD."""

    max_daily_loss_usdc: Usdc = Decimal(200)
    max_position_per_market_usdc: Usdc = Decimal(1500)
    max_total_exposure_usdc: Usdc = Decimal(5000)
    max_open_orders_per_market: Count = 5
    max_single_order_usdc: Usdc = Decimal(100)
    min_order_size_usdc: Usdc = Decimal(5)
    max_slippage_bps: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=10_000)] = 50
    kill_switch_enabled: bool = True
    max_consecutive_exec_errors: Count = 3

    max_daily_loss_micros = Micros("max_daily_loss_usdc")
    max_position_per_market_micros = Micros("max_position_per_market_usdc")
    max_total_exposure_micros = Micros("max_total_exposure_usdc")
    max_single_order_micros = Micros("max_single_order_usdc")
    min_order_size_micros = Micros("min_order_size_usdc")


class PairArbSettings(_Section):
    """Binary pair arbitrage: buy YES and NO in steps while the pair cost stays under the cap."""

    enabled: bool = True
    pair_cost_cap: Price = Decimal("0.975")
    max_total_cost_usdc: Usdc = Decimal(1500)
    step_usdc: Usdc = Decimal(25)
    max_unpaired_usdc: Usdc = Decimal(50)  # leg risk: cost of the unmatched side
    stuck_leg_timeout_s: Seconds = 30.0
    merge_enabled: bool = True

    pair_cost_cap_micros = Micros("pair_cost_cap")
    max_total_cost_micros = Micros("max_total_cost_usdc")
    step_micros = Micros("step_usdc")
    max_unpaired_micros = Micros("max_unpaired_usdc")


class TemporalArbSettings(_Section):
    """Temporal arbitrage: buy the known winner while its ask is under the entry cap."""

    enabled: bool = False
    min_confidence: Confidence = Decimal("0.90")
    max_entry_price: Price = Decimal("0.95")
    fixed_size_usdc: Usdc = Decimal(50)
    max_exposure_usdc: Usdc = Decimal(200)
    presign_orders: bool = True

    min_confidence_bps = Bps("min_confidence")
    max_entry_price_micros = Micros("max_entry_price")
    fixed_size_micros = Micros("fixed_size_usdc")
    max_exposure_micros = Micros("max_exposure_usdc")


class StrategiesSettings(_Section):
    """The two strategies."""

    pair_arb: PairArbSettings = PairArbSettings()
    temporal_arb: TemporalArbSettings = TemporalArbSettings()


class PolymarketSettings(_Section):
    """The CLOB V2 venue: endpoints, chain, signing identity and API credentials."""

    host: HttpUrl = "https://clob.polymarket.com"
    chain_id: Annotated[int, BeforeValidator(_no_bool), Field(ge=1)] = 137
    ws_market_url: WsUrl = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    ws_user_url: WsUrl = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
    gamma_url: HttpUrl = "https://gamma-api.polymarket.com"
    signature_type: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=3)] = 0
    funder: Annotated[str, Field(pattern=_ADDRESS.pattern)] | None = None
    private_key: Annotated[SecretStr, AfterValidator(_private_key_rule)] | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_passphrase: SecretStr | None = None
    request_timeout_s: Seconds = 10.0
    heartbeat_interval_s: Seconds = 5.0
    ws_ping_interval_s: Seconds = 10.0
    ws_stale_after_s: Seconds = 30.0
    max_assets_per_connection: Annotated[int, Field(ge=1, le=500)] = 200


class ProviderSettings(_Section):
    """One esports data provider (fields shared by all of them)."""

    requires_key: ClassVar[bool] = False

    enabled: bool = False
    base_url: HttpUrl
    api_key: SecretStr | None = None
    poll_interval_ms: Millis = 5000
    rate_limit_per_min: Count = 60
    request_timeout_s: Seconds = 10.0


class OpenDotaSettings(ProviderSettings):
    """OpenDota (Dota 2); the key is optional (raises the rate limit)."""

    enabled: bool = True
    base_url: HttpUrl = "https://api.opendota.com/api"


class PandaScoreSettings(ProviderSettings):
    """PandaScore (LoL and Dota 2): REST plus live WebSockets; needs a token."""

    requires_key: ClassVar[bool] = True
    base_url: HttpUrl = "https://api.pandascore.co"
    ws_url: WsUrl = "wss://live.pandascore.co"
    poll_interval_ms: Millis = 2000
    rate_limit_per_min: Count = 16  # 1k/hour on the smallest plan


class GridSettings(ProviderSettings):
    """GRID: Series State GraphQL (polled) and the Series Events socket; needs a key."""

    requires_key: ClassVar[bool] = True
    base_url: HttpUrl = "https://api.grid.gg/live-data-feed/series-state/graphql"
    central_data_url: HttpUrl = "https://api.grid.gg/central-data/graphql"
    ws_url: WsUrl = "wss://api.grid.gg/live-data-feed/series"
    poll_interval_ms: Millis = 1000


class LiquipediaSettings(ProviderSettings):
    """Liquipedia LPDB v3 (confirmation, not the fast trigger); needs a key and a UA."""

    requires_key: ClassVar[bool] = True
    base_url: HttpUrl = "https://api.liquipedia.net/api/v3"
    wiki_url: HttpUrl = "https://liquipedia.net"
    user_agent: Annotated[str, Field(min_length=8)] = (
        "polyloly/0.1 (https://github.com/polyloly/polyloly)"
    )
    poll_interval_ms: Millis = 30_000
    rate_limit_per_min: Count = 30  # terms of use: at most one request per 2 s


class LolEsportsSettings(ProviderSettings):
    """Riot's lolesports.com backend (unofficial) and its livestats feed."""

    enabled: bool = True
    base_url: HttpUrl = "https://esports-api.lolesports.com/persisted/gw"
    feed_url: HttpUrl = "https://feed.lolesports.com/livestats/v1"
    poll_interval_ms: Millis = 10_000


class EsportsSettings(_Section):
    """Every esports provider, by the name the truth engine weights it under."""

    opendota: OpenDotaSettings = OpenDotaSettings()
    pandascore: PandaScoreSettings = PandaScoreSettings()
    grid: GridSettings = GridSettings()
    liquipedia: LiquipediaSettings = LiquipediaSettings()
    lolesports: LolEsportsSettings = LolEsportsSettings()

    def providers(self) -> dict[str, ProviderSettings]:
        """Return every provider's settings by name."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class AdaptersSettings(_Section):
    """Venue and data-feed adapters."""

    polymarket: PolymarketSettings = PolymarketSettings()
    esports: EsportsSettings = EsportsSettings()


class FeesSettings(_Section):
    """Fallback fee model (the venue's per-market rate wins when it is known)."""

    model: Literal["polymarket", "flat_payout"] = "polymarket"
    rate: Rate = Decimal("0.03")  # polymarket: taker rate; flat_payout: fee on payout
    exponent: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=4)] = 1

    rate_micros = Micros("rate")

    def fee_model(self) -> FeeModel:
        """Build the configured :class:`~polyloly.domain.fees.FeeModel`."""
        return fee_model_from_config(self.model, self.rate_micros, self.exponent)


class TruthSettings(_Section):
    """Truth engine: per-source reliability weights and confirmation thresholds."""

    source_weights: dict[str, Weight] = Field(
        default_factory=lambda: {
            "opendota": Decimal("0.80"),
            "pandascore": Decimal("0.85"),
            "grid": Decimal("0.90"),
            "liquipedia": Decimal("0.60"),
            "lolesports": Decimal("0.85"),
        }
    )
    pending_confidence: Confidence = Decimal("0.80")
    final_confidence: Confidence = Decimal("0.90")
    final_timeout_s: Seconds = 10.0

    @property
    def source_weights_bps(self) -> dict[str, int]:
        """Weights in basis points by source name."""
        return {name: int(weight * 10_000) for name, weight in self.source_weights.items()}

    pending_confidence_bps = Bps("pending_confidence")
    final_confidence_bps = Bps("final_confidence")


class TeamsSettings(_Section):
    """Team-name normalization: canonical name -> the other spellings providers use."""

    aliases: dict[str, list[str]] = Field(default_factory=dict)


class StorageSettings(_Section):
    """Event log (source of truth) and the SQL projection."""

    event_log_dir: Path = Path("data/events")
    event_log_compress: bool = False
    event_log_fsync: bool = False
    flush_every: Count = 1
    database_url: Annotated[SecretStr, AfterValidator(_database_url_rule)] = SecretStr(
        "sqlite+aiosqlite:///data/polyloly.db"
    )
    redis_url: (
        Annotated[SecretStr, AfterValidator(_secret_url_rule(("redis", "rediss", "unix")))] | None
    ) = None


class MetricsSettings(_Section):
    """Prometheus exporter."""

    enabled: bool = True
    host: Host = "127.0.0.1"
    port: Port = 9108


class AlertsSettings(_Section):
    """Alert destinations: apprise URLs plus the seed's Telegram and Discord variables."""

    urls: list[SecretStr] = Field(default_factory=list)
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    discord_webhook_url: (
        Annotated[SecretStr, AfterValidator(_secret_url_rule(("https",)))] | None
    ) = None

    def apprise_urls(self) -> list[str]:
        """Every destination as an apprise URL (secrets revealed: pass them on, never log)."""
        urls = [url.get_secret_value() for url in self.urls]
        if self.telegram_bot_token is not None and self.telegram_chat_id:
            urls.append(
                f"tgram://{self.telegram_bot_token.get_secret_value()}/{self.telegram_chat_id}"
            )
        if self.discord_webhook_url is not None:
            urls.append(self.discord_webhook_url.get_secret_value())
        return urls


class ControlSettings(_Section):
    """The operator control API (halt, resume, cancel-all)."""

    enabled: bool = True
    host: Host = "127.0.0.1"
    port: Port = 8787
    token: SecretStr | None = None


# -- cross-field invariants -----------------------------------------------------------------


def _get(s: Settings, path: str) -> Any:
    value: Any = s
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _le(s: Settings, *pairs: tuple[str, str]) -> list[Violation]:
    """One violation per ``(a, b)`` pair of key paths where ``a > b``."""
    out: list[Violation] = []
    for a, b in pairs:
        va, vb = _get(s, a), _get(s, b)
        if va > vb:
            out.append((a, f"must be <= {b} ({va} > {vb})"))
    return out


def check_risk_limits_ordered(s: Settings) -> list[Violation]:
    """min order <= max single order <= per-market position <= total exposure."""
    return _le(
        s,
        ("risk.min_order_size_usdc", "risk.max_single_order_usdc"),
        ("risk.max_single_order_usdc", "risk.max_position_per_market_usdc"),
        ("risk.max_position_per_market_usdc", "risk.max_total_exposure_usdc"),
    )


def check_strategies_within_risk(s: Settings) -> list[Violation]:
    """An enabled strategy's sizes fit inside the risk gate's limits."""
    out: list[Violation] = []
    if s.strategies.pair_arb.enabled:
        pa = "strategies.pair_arb."
        out += _le(
            s,
            (pa + "max_total_cost_usdc", "risk.max_position_per_market_usdc"),
            (pa + "step_usdc", "risk.max_single_order_usdc"),
            ("risk.min_order_size_usdc", pa + "step_usdc"),
        )
    if s.strategies.temporal_arb.enabled:
        ta = "strategies.temporal_arb."
        out += _le(
            s,
            (ta + "fixed_size_usdc", "risk.max_single_order_usdc"),
            ("risk.min_order_size_usdc", ta + "fixed_size_usdc"),
            (ta + "fixed_size_usdc", ta + "max_exposure_usdc"),
            (ta + "max_exposure_usdc", "risk.max_total_exposure_usdc"),
        )
    return out


def check_live_trading_credentials(s: Settings) -> list[Violation]:
    """Live trading needs a signing key; API creds come as a set; proxy wallets need a funder."""
    pm, p = s.adapters.polymarket, "adapters.polymarket."
    out: list[Violation] = []
    if not s.bot.paper_trading and not s.bot.offline and pm.private_key is None:
        rule = "live trading (bot.paper_trading: false) needs a key: set POLYMARKET_PRIVATE_KEY"
        out.append((p + "private_key", rule))
    creds = {
        "api_key": pm.api_key,
        "api_secret": pm.api_secret,
        "api_passphrase": pm.api_passphrase,
    }
    if any(v is not None for v in creds.values()):
        out += [
            (p + k, "is required when any API credential is set")
            for k, v in creds.items()
            if v is None
        ]
    if pm.signature_type in (1, 2, 3) and pm.funder is None and pm.private_key is not None:
        out.append((p + "funder", f"is required with signature_type {pm.signature_type}"))
    return out


def check_truth_thresholds(s: Settings) -> list[Violation]:
    """A pending result needs strictly less confidence than a final one.

    Strict, as :class:`~polyloly.domain.truth_engine.TruthParams` requires: one source alone
    is capped at the pending confidence, so equal thresholds would let a single source make
    a result FINAL.
    """
    pending, final = s.truth.pending_confidence, s.truth.final_confidence
    if pending < final:
        return []
    rule = f"must be < truth.final_confidence ({pending} >= {final})"
    return [("truth.pending_confidence", rule)]


def check_providers(s: Settings) -> list[Violation]:
    """Weights name known providers; an enabled provider has a weight and, if needed, a key."""
    providers = s.adapters.esports.providers()
    out = [
        (f"truth.source_weights.{name}", f"unknown source (expected one of {', '.join(providers)})")
        for name in s.truth.source_weights
        if name not in providers
    ]
    for name, cfg in providers.items():
        if not cfg.enabled:
            continue
        if not s.truth.source_weights.get(name):
            out.append((f"truth.source_weights.{name}", "an enabled provider needs a weight > 0"))
        if cfg.requires_key and cfg.api_key is None:
            out.append(
                (f"adapters.esports.{name}.api_key", "is required when the provider is enabled")
            )
    return out


def check_team_aliases(s: Settings) -> list[Violation]:
    """Each spelling maps to one canonical team."""
    owner: dict[str, str] = {}
    out: list[Violation] = []
    for team, aliases in s.teams.aliases.items():
        for alias in (team, *aliases):
            key = alias.casefold().strip()
            if owner.setdefault(key, team) != team:
                out.append(
                    (f"teams.aliases.{team}", f"{alias!r} already belongs to {owner[key]!r}")
                )
    return out


_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


def _urls(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _urls(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _urls(item, f"{path}[{i}]")
    elif isinstance(value, SecretStr | str):
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if _URL_START.match(text):
            yield path, text


def check_offline_is_loopback(s: Settings) -> list[Violation]:
    """In offline (demo) mode every URL points at this machine: nothing reaches the internet."""
    if not s.bot.offline:
        return []
    out: list[Violation] = []
    if s.alerts.telegram_bot_token is not None:
        out.append(("alerts.telegram_bot_token", "must be unset when bot.offline is true"))
    for path, url in _urls(s, ""):
        parts = urlsplit(url)
        if parts.scheme.startswith("sqlite") or parts.scheme == "unix":
            continue
        if not _is_loopback(parts.hostname or ""):
            out.append((path, "must be a loopback URL (127.0.0.1) when bot.offline is true"))
    return out


def check_control_auth(s: Settings) -> list[Violation]:
    """A control API reachable from other hosts needs a long token."""
    c = s.control
    if not c.enabled or _is_loopback(c.host):
        return []
    if c.token is None or len(c.token.get_secret_value()) < 16:
        return [("control.token", f"needs at least 16 characters when control.host is {c.host}")]
    return []


def check_ports_distinct(s: Settings) -> list[Violation]:
    """The metrics and control servers cannot share a port."""
    m, c = s.metrics, s.control
    if m.enabled and c.enabled and m.port and m.port == c.port:
        return [("control.port", f"is also metrics.port ({m.port})")]
    return []


INVARIANTS: tuple[Callable[[Settings], list[Violation]], ...] = (
    check_risk_limits_ordered,
    check_strategies_within_risk,
    check_live_trading_credentials,
    check_truth_thresholds,
    check_providers,
    check_team_aliases,
    check_offline_is_loopback,
    check_control_auth,
    check_ports_distinct,
)
"""Every cross-field rule, checked whenever a :class:`Settings` is built."""


# -- the root model -------------------------------------------------------------------------


class Settings(_Section):
    """Everything polyloly is configured with. Build it with :func:`load_settings`."""

    env: str = "dev"
    bot: BotSettings = BotSettings()
    risk: RiskSettings = RiskSettings()
    strategies: StrategiesSettings = StrategiesSettings()
    adapters: AdaptersSettings = AdaptersSettings()
    fees: FeesSettings = FeesSettings()
    truth: TruthSettings = TruthSettings()
    teams: TeamsSettings = TeamsSettings()
    storage: StorageSettings = StorageSettings()
    metrics: MetricsSettings = MetricsSettings()
    alerts: AlertsSettings = AlertsSettings()
    control: ControlSettings = ControlSettings()

    @model_validator(mode="after")
    def _check_invariants(self) -> Settings:
        violations = [v for check in INVARIANTS for v in check(self)]
        if violations:
            raise InvariantError(violations)
        return self

    @property
    def live(self) -> bool:
        """True when orders are signed and sent to a venue (not paper trading)."""
        return not self.bot.paper_trading

    def secret_values(self) -> tuple[str, ...]:
        """Every secret that is set, revealed: register them with the log redactor."""
        found: list[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, SecretStr):
                if value.get_secret_value():
                    found.append(value.get_secret_value())
            elif isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    walk(getattr(value, name))
            elif isinstance(value, list | tuple):
                for item in value:
                    walk(item)

        walk(self)
        return tuple(found)

    def masked(self) -> dict[str, Any]:
        """The whole configuration as JSON-ready data, every secret shown as ``**********``."""
        return self.model_dump(mode="json")


# -- loading --------------------------------------------------------------------------------


def load_settings(
    env: str | None = None,
    config_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env_file: Path | str | Literal[False] | None = None,
) -> Settings:
    """Load, merge and validate the configuration.

    Parameters
    ----------
    env
        Overlay name (``dev``, ``prod``, ``demo``); default ``POLYLOLY_ENV``, then ``dev``.
    config_dir
        Folder with ``base.yaml`` and the overlays (see :func:`resolve_config_dir`).
    environ
        The environment to read (default ``os.environ``).
    overrides
        Highest-precedence values, nested or dotted (``{"risk.max_daily_loss_usdc": "50"}``).
    env_file
        A ``.env`` file; ``None`` reads ``<config_dir>/../.env`` if present, ``False`` none.

    Raises
    ------
    ConfigError
        One line per problem, each naming the key path and the rule it breaks.
    """
    merged = merge_config(env, config_dir, environ, overrides, env_file)
    return validate_config(Settings, merged)


def format_validation_error(exc: ValidationError, origins: Origins | None = None) -> list[str]:
    """Turn pydantic's errors into ``key.path: rule (got value) [source]`` lines."""
    return validation_error_lines(exc, Settings, origins)
