"""Settings → component configuration: what each part of the node is built with.

Pure translations of a validated :class:`~polyloly.bot.settings.Settings` into the
configuration objects the components take: the decision parameters logged in
``SessionStarted`` (:func:`node_params`), the execution engine's configuration
(:func:`execution_config`), the Polymarket adapter's (:func:`polymarket_config`) and the
esports adapters' (:func:`feed_settings`). Money goes from the settings' ``Decimal`` to the
core's int micros through the settings' ``*_micros`` / ``*_bps`` views.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyloly.adapters.esports import EsportsSettings as FeedSettings
from polyloly.adapters.esports import load_esports_settings
from polyloly.adapters.polymarket.config import (
    ApiCredentials,
    PolymarketConfig,
    Secret,
    SignatureType,
    WalletConfig,
    WsConfig,
)
from polyloly.bot.settings import Settings
from polyloly.domain.intents import OrderType
from polyloly.domain.risk import RiskParams
from polyloly.domain.truth_table import TruthParams
from polyloly.execution.engine import ExecutionConfig
from polyloly.execution.presign import PresignConfig
from polyloly.execution.risk_gate import GateConfig
from polyloly.node.session import NodeParams
from polyloly.runtime.clock import NS_PER_S
from polyloly.strategies.pair_arb import PairArbParams
from polyloly.strategies.temporal_arb import TemporalArbParams

__all__ = [
    "execution_config",
    "feed_settings",
    "node_params",
    "polymarket_config",
    "presign_config",
]

_WEIGHT_CAP = 9_999  # the truth engine wants a source weight strictly below 1


def _pair_params(settings: Settings, *, merges: bool) -> PairArbParams | None:
    pa = settings.strategies.pair_arb
    if not pa.enabled:
        return None
    return PairArbParams(
        pair_cost_cap=pa.pair_cost_cap_micros,
        max_total_cost_usdc=pa.max_total_cost_micros,
        step_usdc=pa.step_micros,
        max_unpaired_usdc=pa.max_unpaired_micros,
        merge_min_pairs_shares=(
            PairArbParams().merge_min_pairs_shares if pa.merge_enabled and merges else 0
        ),
        stuck_leg_timeout_ns=int(pa.stuck_leg_timeout_s * NS_PER_S),
    )


def _temporal_params(settings: Settings) -> TemporalArbParams | None:
    ta = settings.strategies.temporal_arb
    if not ta.enabled:
        return None
    return TemporalArbParams(
        min_confidence=ta.min_confidence_bps,
        min_sources=ta.min_sources,
        allow_single_source_final=ta.allow_single_source_final,
        confirm_only=frozenset(settings.truth.confirm_only),
        max_entry_price=ta.max_entry_price_micros,
        fixed_size_usdc=ta.fixed_size_micros,
        max_exposure_usdc=ta.max_exposure_micros,
        max_slippage_bps=settings.risk.max_slippage_bps,
        order_type=OrderType(ta.order_type),
        presign=ta.presign_orders,
    )


def node_params(
    settings: Settings, *, merges: bool = True, aliases: Mapping[str, list[str]] | None = None
) -> NodeParams:
    """The decision parameters of ``settings`` (merging pairs only when ``merges``)."""
    risk, truth, ta = settings.risk, settings.truth, settings.strategies.temporal_arb
    table = {**{k: list(v) for k, v in settings.teams.aliases.items()}, **dict(aliases or {})}
    return NodeParams(
        pair_arb=_pair_params(settings, merges=merges),
        pair_arb_delayed_markets=settings.strategies.pair_arb.delayed_markets,
        temporal_arb=_temporal_params(settings),
        risk=RiskParams(
            max_position_per_market=risk.max_position_per_market_micros,
            max_open_orders_per_market=risk.max_open_orders_per_market,
            max_total_exposure=risk.max_total_exposure_micros,
            max_daily_loss=risk.max_daily_loss_micros,
            max_single_order=risk.max_single_order_micros,
            min_order_size=risk.min_order_size_micros,
            max_slippage_bps=risk.max_slippage_bps,
            max_consecutive_exec_errors=risk.max_consecutive_exec_errors,
        ),
        gate=GateConfig(),
        truth=TruthParams(
            source_weights={k: min(v, _WEIGHT_CAP) for k, v in truth.source_weights_bps.items()},
            pending_confidence=truth.pending_confidence_bps,
            final_confidence=truth.final_confidence_bps,
            final_timeout_ns=int(truth.final_timeout_s * NS_PER_S),
            confirm_only=frozenset(truth.confirm_only),
        ),
        aliases=table,
        fee_model=settings.fees.model,
        fee_rate=settings.fees.rate_micros,
        fee_exponent=settings.fees.exponent,
        presign_refresh_s=ta.presign_refresh_s,
        presign_max_age_s=ta.presign_max_age_s,
    )


def presign_config(settings: Settings) -> PresignConfig:
    """The pre-signed order pool's ages (``strategies.temporal_arb.presign_*``)."""
    ta = settings.strategies.temporal_arb
    return PresignConfig(refresh_after_s=ta.presign_refresh_s, max_age_s=ta.presign_max_age_s)


def execution_config(settings: Settings) -> ExecutionConfig:
    """The execution engine's configuration: risk limits and the pre-signed order ages."""
    return ExecutionConfig(
        risk=node_params(settings).risk,
        presign=presign_config(settings),
        instance_id=settings.instances.id,
    )


def polymarket_config(settings: Settings, *, trading: bool) -> PolymarketConfig:
    """The adapter's configuration (with the wallet only when ``trading``)."""
    pm_cfg = settings.adapters.polymarket
    wallet = None
    if trading and pm_cfg.private_key is not None:
        wallet = WalletConfig(
            private_key=Secret(pm_cfg.private_key.get_secret_value()),
            signature_type=SignatureType(pm_cfg.signature_type),
            funder=pm_cfg.funder,
            chain_id=pm_cfg.chain_id,
        )
    creds = None
    if trading and pm_cfg.api_key and pm_cfg.api_secret and pm_cfg.api_passphrase:
        creds = ApiCredentials.of(
            pm_cfg.api_key.get_secret_value(),
            pm_cfg.api_secret.get_secret_value(),
            pm_cfg.api_passphrase.get_secret_value(),
        )
    return PolymarketConfig(
        clob_url=pm_cfg.host,
        market_ws_url=pm_cfg.ws_market_url,
        user_ws_url=pm_cfg.ws_user_url,
        gamma_url=pm_cfg.gamma_url,
        wallet=wallet,
        creds=creds,
        ws=WsConfig(
            ping_interval_s=pm_cfg.ws_ping_interval_s,
            pong_timeout_s=pm_cfg.ws_stale_after_s,
            max_assets_per_connection=pm_cfg.max_assets_per_connection,
            compression=pm_cfg.ws_compression,
        ),
        heartbeat_interval_s=pm_cfg.heartbeat_interval_s,
        heartbeat_attempt_timeout_s=pm_cfg.heartbeat_attempt_timeout_s,
        heartbeat_window_s=pm_cfg.heartbeat_window_s,
        http_timeout_s=pm_cfg.request_timeout_s,
    )


def feed_settings(settings: Settings) -> FeedSettings:
    """The esports adapters' settings from the ``adapters.esports`` section.

    The settings hold exactly the URLs the adapters take (hosts or base URLs; the adapters
    append their endpoints' paths), so they are passed through unchanged.
    """
    providers: dict[str, dict[str, Any]] = {}
    weights = settings.truth.source_weights_bps
    for name, cfg in settings.adapters.esports.providers().items():
        if not cfg.enabled:
            continue
        row: dict[str, Any] = {
            "base_url": cfg.base_url,
            "poll_interval_ms": cfg.poll_interval_ms,
            "rate_limit_requests": cfg.rate_limit_per_min,
            "rate_limit_window_ms": 60_000,
            "min_spacing_ms": cfg.min_request_spacing_ms,
            "daily_budget": cfg.daily_request_budget,
            "request_timeout_ms": int(cfg.request_timeout_s * 1000),
            "weight_bp": weights.get(name, 5_000),
        }
        fast = getattr(cfg, "fast_poll_interval_ms", None)
        if isinstance(fast, int):
            row["fast_poll_interval_ms"] = fast
        stale = getattr(cfg, "stale_after_s", None)
        if isinstance(stale, float):
            row["stale_after_ms"] = int(stale * 1000)
        for key in ("ws_url", "feed_url", "user_agent"):
            value = getattr(cfg, key, None)
            if isinstance(value, str) and value:
                row[key] = value
        if cfg.api_key is not None:
            row["api_key"] = cfg.api_key.get_secret_value()
        providers[name] = row
    confirm = set(settings.truth.confirm_only)
    for name, row in providers.items():
        row["confirm_only"] = name in confirm
    return load_esports_settings(
        {"providers": providers, "team_aliases": dict(settings.teams.aliases)}
    )
