"""Typed, frozen settings: the section models and their cross-field invariants.

Every section is a frozen pydantic model with ``extra="forbid"``, so a misspelt key stops
start-up. Units are in field names (``_s``, ``_ms``, ``_usdc``); money is ``Decimal`` here and
``int`` micro-units in the core (the ``*_micros`` and ``*_bps`` attributes). Cross-field rules
are named functions in :data:`polyloly.bot.invariants.INVARIANTS`.

:func:`polyloly.bot.config_loader.load_settings` reads and merges the layers
(``config/base.yaml`` < ``config/<env>.yaml`` < ``.env`` < the environment < ``overrides``),
validates them against :class:`Settings`, then runs the invariants. Every problem becomes one
line of a :class:`~polyloly.runtime.errors.ConfigError`, naming the key path and the rule::

    risk.max_daily_loss_usdc: must be greater than 0 (got -5) [MAX_DAILY_LOSS]
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
)

from polyloly.bot.settings_types import (
    ADDRESS,
    Bps,
    Confidence,
    Count,
    DatabaseUrl,
    Host,
    HttpsSecretUrl,
    HttpUrl,
    LogLevel,
    Micros,
    Millis,
    NonNegMillis,
    Port,
    Price,
    PrivateKey,
    Rate,
    RedisUrl,
    Seconds,
    Section,
    Usdc,
    Weight,
    WholeSeconds,
    WsUrl,
    host_only,
    no_bool,
    upper,
)
from polyloly.domain.fees import FeeModel, fee_model_from_config
from polyloly.execution.instances import validate_instance_id

__all__ = [
    "GRID_EVENTS_PATH",
    "GRID_STATE_PATH",
    "LOLESPORTS_API_PATH",
    "LOLESPORTS_FEED_PATH",
    "LPDB_PATH",
    "AdaptersSettings",
    "AlertsSettings",
    "BacktestSettings",
    "BotSettings",
    "ControlSettings",
    "DemoSettings",
    "EsportsSettings",
    "FeesSettings",
    "GridSettings",
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
    "TelegramSettings",
    "TemporalArbSettings",
    "TruthSettings",
]

# -- sections -------------------------------------------------------------------------------


class BotSettings(Section):
    """Process-wide switches: name, logging, paper or live, offline (demo) mode."""

    name: str = "polyloly"
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "console"] = "json"
    paper_trading: bool = True
    offline: bool = False  # True: every URL must be loopback (the demo's simulators)
    tick_interval_s: Seconds = 1.0  # the node's TimerTick period (timeouts, re-evaluation)


class RiskSettings(Section):
    """The risk gate's hard limits (the seed's RiskParams), in pUSD."""

    max_daily_loss_usdc: Usdc = Decimal(200)
    max_position_per_market_usdc: Usdc = Decimal(1500)
    max_total_exposure_usdc: Usdc = Decimal(5000)
    max_open_orders_per_market: Count = 5
    max_single_order_usdc: Usdc = Decimal(100)
    min_order_size_usdc: Usdc = Decimal(5)
    max_slippage_bps: Annotated[int, BeforeValidator(no_bool), Field(ge=0, le=10_000)] = 50
    kill_switch_enabled: bool = True
    max_consecutive_exec_errors: Count = 3

    max_daily_loss_micros = Micros("max_daily_loss_usdc")
    max_position_per_market_micros = Micros("max_position_per_market_usdc")
    max_total_exposure_micros = Micros("max_total_exposure_usdc")
    max_single_order_micros = Micros("max_single_order_usdc")
    min_order_size_micros = Micros("min_order_size_usdc")


class PairArbSettings(Section):
    """Binary pair arbitrage: buy YES and NO in steps while the pair cost stays under the cap."""

    enabled: bool = True
    pair_cost_cap: Price = Decimal("0.975")
    max_total_cost_usdc: Usdc = Decimal(1500)
    step_usdc: Usdc = Decimal(25)
    max_unpaired_usdc: Usdc = Decimal(50)  # leg risk: cost of the unmatched side
    stuck_leg_timeout_s: Seconds = 30.0
    merge_enabled: bool = True
    delayed_markets: bool = False  # also trade markets with a taker delay (legs may re-price)

    pair_cost_cap_micros = Micros("pair_cost_cap")
    max_total_cost_micros = Micros("max_total_cost_usdc")
    step_micros = Micros("step_usdc")
    max_unpaired_micros = Micros("max_unpaired_usdc")


class TemporalArbSettings(Section):
    """Temporal arbitrage: buy the known winner while its ask is under the entry cap."""

    enabled: bool = False
    min_confidence: Confidence = Decimal("0.90")  # maps and matches alike
    min_sources: Annotated[int, BeforeValidator(no_bool), Field(ge=1, le=10)] = 2
    allow_single_source_final: bool = False  # opt-in: trade a one-source FINAL by timeout
    max_entry_price: Price = Decimal("0.95")
    fixed_size_usdc: Usdc = Decimal(50)
    max_exposure_usdc: Usdc = Decimal(200)
    order_type: Annotated[Literal["FAK", "FOK"], BeforeValidator(upper)] = "FAK"
    presign_orders: bool = True
    presign_refresh_s: WholeSeconds = 20  # re-sign a ready order this old
    presign_max_age_s: WholeSeconds = 45  # never send a pre-signed order older than this

    min_confidence_bps = Bps("min_confidence")
    max_entry_price_micros = Micros("max_entry_price")
    fixed_size_micros = Micros("fixed_size_usdc")
    max_exposure_micros = Micros("max_exposure_usdc")


class StrategiesSettings(Section):
    """The two strategies."""

    pair_arb: PairArbSettings = PairArbSettings()
    temporal_arb: TemporalArbSettings = TemporalArbSettings()


Address = Annotated[str, Field(pattern=ADDRESS.pattern)]


class RecycleSettings(Section):
    """Capital recycling in ``run``: merge complete pairs, redeem resolved winners.

    A merge (redemption) goes out when the pUSD it frees is at least ``min_gain_over_gas``
    times ``gas_pusd``, what one such transaction costs in pUSD (gas × gas price × POL
    price; 0 for a relayed, gasless wallet).
    """

    merge: bool = True
    redeem: bool = True
    gas_pusd: Usdc = Decimal("0.01")
    min_gain_over_gas: Annotated[int, BeforeValidator(no_bool), Field(ge=1)] = 2
    idle_s: Seconds = 60.0  # merge a market's leftover pairs after this long without activity


class ChainSettings(Section):
    """The on-chain port (merge, redeem, allowances): Polygon RPC, contracts, fees, relayer.

    Off while ``rpc_url`` is unset. ``deployment`` names the JSON a local chain wrote
    (``polyloly sim chain --out``): its RPC URL, chain id and contract addresses override
    the keys below.
    """

    rpc_url: SecretStr | None = None  # POLYMARKET_RPC_URL: provider URLs carry API keys
    deployment: Path | None = None
    pusd: Address = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
    ctf: Address = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
    exchange: Address = "0xE111180000d2663C0091e4f400237545B87B996B"
    neg_risk_exchange: Address = "0xe2222d279d744050d28e00520010520000310F59"
    adapter: Address = "0xAdA100Db00Ca00073811820692005400218FcE1f"
    neg_risk_adapter: Address = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"
    receipt_timeout_s: Seconds = 120.0
    gas_headroom_pct: Annotated[int, BeforeValidator(no_bool), Field(ge=0, le=200)] = 20
    max_fee_gwei: Annotated[Decimal, Field(gt=0)] = Decimal(2000)
    priority_fee_gwei: Annotated[Decimal, Field(ge=0)] | None = None
    relayer_url: HttpUrl | None = None  # None: Polymarket's relayer (RELAYER_URL below)
    builder_api_key: SecretStr | None = None  # POLYMARKET_BUILDER_API_KEY / _SECRET / _PASSPHRASE
    builder_secret: SecretStr | None = None
    builder_passphrase: SecretStr | None = None
    balances_from_chain: bool = True  # reconciliation reads pUSD and tokens from the chain
    recycle: RecycleSettings = RecycleSettings()


class PolymarketSettings(Section):
    """The CLOB V2 venue: endpoints, chain, signing identity and API credentials."""

    host: HttpUrl = "https://clob.polymarket.com"
    chain_id: Annotated[int, BeforeValidator(no_bool), Field(ge=1)] = 137
    ws_market_url: WsUrl = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    ws_user_url: WsUrl = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
    gamma_url: HttpUrl = "https://gamma-api.polymarket.com"
    signature_type: Annotated[int, BeforeValidator(no_bool), Field(ge=0, le=3)] = 0
    funder: Annotated[str, Field(pattern=ADDRESS.pattern)] | None = None
    private_key: PrivateKey | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_passphrase: SecretStr | None = None
    request_timeout_s: Seconds = 10.0
    heartbeat_interval_s: Seconds = 5.0
    heartbeat_attempt_timeout_s: Seconds = 2.0
    heartbeat_window_s: Seconds = 10.0
    ws_ping_interval_s: Seconds = 10.0
    ws_stale_after_s: Seconds = 30.0
    max_assets_per_connection: Annotated[int, Field(ge=1, le=500)] = 200
    ws_compression: bool = False
    chain: ChainSettings = ChainSettings()


# The paths the esports adapters append to their hosts: a URL ending with one is refused.
GRID_STATE_PATH = "/live-data-feed/series-state/graphql"
GRID_EVENTS_PATH = "/live-data-feed/series"
LPDB_PATH = "/api/v3"
LOLESPORTS_API_PATH = "/persisted/gw"
LOLESPORTS_FEED_PATH = "/livestats/v1"


class ProviderSettings(Section):
    """One esports data provider (fields shared by all of them)."""

    requires_key: ClassVar[bool] = False

    enabled: bool = False
    base_url: HttpUrl
    api_key: SecretStr | None = None
    poll_interval_ms: Millis = 5000
    rate_limit_per_min: Count = 60
    min_request_spacing_ms: NonNegMillis = 0  # least time between two requests
    daily_request_budget: Annotated[int, BeforeValidator(no_bool), Field(ge=0)] = 0  # 0 = none
    request_timeout_s: Seconds = 10.0


class OpenDotaSettings(ProviderSettings):
    """OpenDota (Dota 2); the key is optional (raises the rate limit)."""

    enabled: bool = True
    base_url: HttpUrl = "https://api.opendota.com/api"
    poll_interval_ms: Millis = 60_000  # /live is refreshed every 60 s
    fast_poll_interval_ms: Millis = 15_000  # while a bound game is suspected over
    daily_request_budget: Annotated[int, BeforeValidator(no_bool), Field(ge=0)] = 3_000


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
    base_url: Annotated[HttpUrl, AfterValidator(host_only(GRID_STATE_PATH))] = "https://api.grid.gg"
    ws_url: Annotated[WsUrl, AfterValidator(host_only(GRID_EVENTS_PATH))] = "wss://api.grid.gg"
    poll_interval_ms: Millis = 1000


class LiquipediaSettings(ProviderSettings):
    """Liquipedia LPDB v3 (confirmation, not the fast trigger); needs a key and a UA."""

    requires_key: ClassVar[bool] = True
    base_url: Annotated[HttpUrl, AfterValidator(host_only(LPDB_PATH))] = (
        "https://api.liquipedia.net"
    )
    user_agent: Annotated[str, Field(min_length=8)] = (
        "polyloly/0.1 (https://github.com/polyloly/polyloly)"
    )
    poll_interval_ms: Millis = 30_000
    rate_limit_per_min: Count = 30
    # Terms of use: at most one request every 2 s (a spacing, not a burst of 30 a minute).
    min_request_spacing_ms: Annotated[int, BeforeValidator(no_bool), Field(ge=2_000)] = 2_000


class LolEsportsSettings(ProviderSettings):
    """Riot's lolesports.com backend (unofficial) and its livestats feed."""

    enabled: bool = True
    base_url: Annotated[HttpUrl, AfterValidator(host_only(LOLESPORTS_API_PATH))] = (
        "https://esports-api.lolesports.com"
    )
    feed_url: Annotated[HttpUrl, AfterValidator(host_only(LOLESPORTS_FEED_PATH))] = (
        "https://feed.lolesports.com"
    )
    poll_interval_ms: Millis = 10_000


class PolymarketSportsSettings(ProviderSettings):
    """Polymarket's own Sports WebSocket: public, no key; confirms, and is the lead baseline."""

    enabled: bool = True
    base_url: HttpUrl = "https://sports-api.polymarket.com"  # (the channel is the socket)
    ws_url: WsUrl = "wss://sports-api.polymarket.com/ws"
    poll_interval_ms: Millis = 1000  # how often the socket's health is checked
    stale_after_s: Seconds = 15.0  # pings come every 5 s: 15 s of silence is a dead socket


class EsportsSettings(Section):
    """Every esports provider, by the name the truth engine weights it under."""

    opendota: OpenDotaSettings = OpenDotaSettings()
    pandascore: PandaScoreSettings = PandaScoreSettings()
    grid: GridSettings = GridSettings()
    liquipedia: LiquipediaSettings = LiquipediaSettings()
    lolesports: LolEsportsSettings = LolEsportsSettings()
    polymarket_sports: PolymarketSportsSettings = PolymarketSportsSettings()
    # Operator overrides: {market condition id or match id: {provider: provider's match id}};
    # they win over every search (GRID's series listing, LPDB by date, names while polling).
    bindings: dict[str, dict[str, Annotated[str, BeforeValidator(str)]]] = Field(
        default_factory=dict
    )

    def providers(self) -> dict[str, ProviderSettings]:
        """Return every provider's settings by name."""
        return {
            name: value
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), ProviderSettings)
        }


class AdaptersSettings(Section):
    """Venue and data-feed adapters."""

    polymarket: PolymarketSettings = PolymarketSettings()
    esports: EsportsSettings = EsportsSettings()


class FeesSettings(Section):
    """Fallback fee model (the venue's per-market rate wins when it is known)."""

    model: Literal["polymarket", "flat_payout"] = "polymarket"
    rate: Rate = Decimal("0.03")  # polymarket: taker rate; flat_payout: fee on payout
    exponent: Annotated[int, BeforeValidator(no_bool), Field(ge=0, le=4)] = 1

    rate_micros = Micros("rate")

    def fee_model(self) -> FeeModel:
        """Build the configured :class:`~polyloly.domain.fees.FeeModel`."""
        return fee_model_from_config(self.model, self.rate_micros, self.exponent)


class TruthSettings(Section):
    """Truth engine: per-source reliability weights and confirmation thresholds."""

    source_weights: dict[str, Weight] = Field(
        default_factory=lambda: {
            "opendota": Decimal("0.80"),
            "pandascore": Decimal("0.85"),
            "grid": Decimal("0.90"),
            "liquipedia": Decimal("0.60"),
            "lolesports": Decimal("0.85"),
            "polymarket_sports": Decimal("0.80"),
        }
    )
    pending_confidence: Confidence = Decimal("0.80")
    final_confidence: Confidence = Decimal("0.90")
    final_timeout_s: Seconds = 10.0
    # Sources that confirm a result but never make it true (or tradable) alone.
    confirm_only: list[str] = Field(default_factory=lambda: ["liquipedia", "polymarket_sports"])

    @property
    def source_weights_bps(self) -> dict[str, int]:
        """Weights in basis points by source name."""
        return {name: int(weight * 10_000) for name, weight in self.source_weights.items()}

    pending_confidence_bps = Bps("pending_confidence")
    final_confidence_bps = Bps("final_confidence")


class TeamsSettings(Section):
    """Team-name normalization: canonical name -> the other spellings providers use."""

    aliases: dict[str, list[str]] = Field(default_factory=dict)


class StorageSettings(Section):
    """The data folder: event log (source of truth) and the SQL projection.

    Each mode works in its own folder under ``data_dir`` (``live``, ``paper``, ``record``;
    see :mod:`polyloly.bot.datadir`): ``event_log_dir`` and ``database_url`` default to
    ``<data_dir>/<mode>/events`` and a SQLite file beside it.
    """

    data_dir: Path = Path("data")
    event_log_dir: Path | None = None
    event_log_compress: bool = False
    event_log_fsync: bool = False
    flush_every: Count = 256
    """Inputs per log flush; decisions are flushed at once and the node flushes on each tick."""
    database_url: DatabaseUrl | None = None
    redis_url: RedisUrl | None = None


class MetricsSettings(Section):
    """Prometheus exporter."""

    enabled: bool = True
    host: Host = "127.0.0.1"
    port: Port = 9108


class AlertsSettings(Section):
    """Alert destinations: apprise URLs plus the seed's Telegram and Discord variables."""

    urls: list[SecretStr] = Field(default_factory=list)
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    discord_webhook_url: HttpsSecretUrl | None = None

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


class TelegramSettings(Section):
    """Operator commands from Telegram (``/status``, ``/halt``, …; see ``bot/telegram.py``)."""

    enabled: bool = False
    bot_token: SecretStr | None = None
    """The bot's token; unset: ``alerts.telegram_bot_token`` (``TELEGRAM_BOT_TOKEN``)."""
    chat_ids: list[int] = Field(default_factory=list)
    """The chats allowed to command the bot; empty: ``alerts.telegram_chat_id``."""
    api_url: HttpUrl | None = None
    """The Bot API's root URL; unset: Telegram's own (a local stand-in in the tests)."""
    poll_timeout_s: Annotated[float, Field(gt=0, le=60)] = 10.0

    def token(self, alerts: AlertsSettings) -> str | None:
        """The bot token to poll with (revealed: pass it on, never log)."""
        secret = self.bot_token or alerts.telegram_bot_token
        return secret.get_secret_value() if secret is not None else None

    def chats(self, alerts: AlertsSettings) -> tuple[int, ...]:
        """The allowed chat ids."""
        if self.chat_ids:
            return tuple(self.chat_ids)
        chat = (alerts.telegram_chat_id or "").strip()
        return (int(chat),) if chat.lstrip("-").isdigit() else ()


class DemoSettings(Section):
    """``polyloly demo``: which scenarios, how fast, how far the market lags, the seed."""

    scenarios: Annotated[tuple[str, ...], Field(min_length=1)] = (
        "lol_bo3_pause",
        "dota2_bo3_2_0",
    )
    scenario_s: Seconds = 60.0  # real seconds the scenarios' games take (sets the speed)
    market_lag_s: Annotated[float, BeforeValidator(no_bool), Field(ge=0, allow_inf_nan=False)] = 4.0
    warmup_s: Annotated[float, BeforeValidator(no_bool), Field(ge=0, allow_inf_nan=False)] = 3.0
    seed: Annotated[int, BeforeValidator(no_bool), Field(ge=0)] = 7
    game_seconds_delay: Annotated[int, BeforeValidator(no_bool), Field(ge=0)] = 3
    """Taker delay of the "Game N Winner" markets (docs/05_SIMULATED_MARKET.md: an assumption;
    0 lets the bot win the game markets' races it is faster for)."""
    market_profile: Literal["honest", "trading"] = "honest"
    """``honest``: the market of docs/05_SIMULATED_MARKET.md; ``trading``: one careless maker,
    no rivals, game markets without a taker delay — a market that makes the bot trade, to
    exercise execution and settlement, not evidence of edge."""


class BacktestSettings(Section):
    """``polyloly backtest``: replay mode and the simulated mode's latencies and collateral."""

    mode: Literal["exact", "simulated"] = "exact"
    market_delay_ms: NonNegMillis = 0
    esports_delay_ms: NonNegMillis = 0
    request_ms: NonNegMillis = 25
    reply_ms: NonNegMillis = 25
    jitter_ms: NonNegMillis = 0
    collateral_usdc: Usdc = Decimal(10_000)

    collateral_micros = Micros("collateral_usdc")


class InstancesSettings(Section):
    """Several instances on one account (README, "Several bots").

    ``id`` names this instance in every order it signs (the order's ``metadata``): set it,
    different on each instance and the same across restarts, to share a wallet. With
    ``storage.redis_url`` (``REDIS_URL``) the instances also share one risk budget (the
    ``risk.*`` caps are the account's), the kill switch and their heartbeats, under
    ``key_prefix`` on that server. ``lease_s``: a dead instance's reservations lapse after
    it. ``on_redis_down``: ``cancel`` this instance's resting orders while the server is
    unreachable, or ``keep`` them; either way no new order is sent until it is back.
    """

    id: str | None = None
    key_prefix: str = "polyloly:{main}:"
    lease_s: Annotated[float, BeforeValidator(no_bool), Field(gt=0.5, le=3600)] = 15.0
    on_redis_down: Literal["cancel", "keep"] = "cancel"
    redis_timeout_s: Annotated[float, BeforeValidator(no_bool), Field(gt=0, le=30)] = 0.5

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str | None) -> str | None:
        return None if value is None else validate_instance_id(value)


class ControlSettings(Section):
    """The operator control API (halt, resume, cancel-all) and the web console."""

    enabled: bool = True
    host: Host = "127.0.0.1"
    port: Port = 8787
    token: SecretStr | None = None
    allow_remote: bool = False
    console: bool = True


# -- the root model -------------------------------------------------------------------------


class Settings(Section):
    """Everything polyloly is configured with.

    Build it with :func:`~polyloly.bot.config_loader.load_settings` (which also runs the
    cross-field invariants).
    """

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
    telegram: TelegramSettings = TelegramSettings()
    instances: InstancesSettings = InstancesSettings()
    demo: DemoSettings = DemoSettings()
    backtest: BacktestSettings = BacktestSettings()

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
