"""Cross-field rules of :class:`~polyloly.bot.settings.Settings` (:data:`INVARIANTS`).

Each ``check_*`` function takes a fully typed ``Settings`` and returns one
``(key path, rule)`` pair per violation: :func:`polyloly.bot.config_loader.load_settings`
runs them all once the fields have validated and reports every violation at once, one line
each. The settings models themselves never call them (so this module imports the settings,
not the other way round).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from polyloly.bot.settings import Settings

__all__ = [
    "CONTROL_TOKEN_MIN",
    "INVARIANTS",
    "Violation",
    "check_confirmation_policy",
    "check_control_auth",
    "check_heartbeat_schedule",
    "check_live_trading_credentials",
    "check_offline_is_loopback",
    "check_ports_distinct",
    "check_presign_ages",
    "check_providers",
    "check_risk_limits_ordered",
    "check_strategies_within_risk",
    "check_team_aliases",
    "check_telegram",
    "check_truth_thresholds",
]

Violation = tuple[str, str]
"""``(key path, rule broken)``: what a cross-field invariant reports."""

CONTROL_TOKEN_MIN: Final = 16
"""Shortest control API bearer token accepted (characters)."""


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


def check_presign_ages(s: Settings) -> list[Violation]:
    """A pre-signed order is refreshed before it gets too old to send."""
    ta = s.strategies.temporal_arb
    if ta.presign_refresh_s < ta.presign_max_age_s:
        return []
    rule = (
        "must be < strategies.temporal_arb.presign_max_age_s "
        f"({ta.presign_refresh_s} >= {ta.presign_max_age_s})"
    )
    return [("strategies.temporal_arb.presign_refresh_s", rule)]


def check_heartbeat_schedule(s: Settings) -> list[Violation]:
    """Beats come often enough, and an attempt gives up soon enough, to hold the window.

    The venue cancels every order after ``heartbeat_window_s`` without a valid beat; a lost
    one is retried inside it, so one attempt may take at most half of it.
    """
    pm, p = s.adapters.polymarket, "adapters.polymarket."
    window = pm.heartbeat_window_s
    out: list[Violation] = []
    if pm.heartbeat_interval_s >= window:
        rule = f"must be < {p}heartbeat_window_s ({pm.heartbeat_interval_s} >= {window})"
        out.append((p + "heartbeat_interval_s", rule))
    if pm.heartbeat_attempt_timeout_s > window / 2:
        rule = (
            f"must be <= half of {p}heartbeat_window_s "
            f"({pm.heartbeat_attempt_timeout_s} > {window / 2:g})"
        )
        out.append((p + "heartbeat_attempt_timeout_s", rule))
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


def check_confirmation_policy(s: Settings) -> list[Violation]:
    """Temporal arbitrage never acts on one source's report unless the operator opted in.

    One source alone is capped at ``truth.pending_confidence``; with ``min_sources: 1`` a
    floor at or below that cap would let a single report trade. ``truth.confirm_only`` names
    known sources.
    """
    ta, truth = s.strategies.temporal_arb, s.truth
    out: list[Violation] = []
    if ta.min_sources < 2 and ta.min_confidence <= truth.pending_confidence:
        rule = (
            f"must be > truth.pending_confidence ({ta.min_confidence} <= "
            f"{truth.pending_confidence}) when min_sources is 1: one source's report would trade"
        )
        out.append(("strategies.temporal_arb.min_confidence", rule))
    known = set(s.adapters.esports.providers())
    for name in truth.confirm_only:
        if name not in known:
            rule = f"unknown source {name!r} (expected one of {', '.join(sorted(known))})"
            out.append(("truth.confirm_only", rule))
    return out


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
    """A configured control token is long enough; serving beyond loopback is asked for
    explicitly (``control.allow_remote``) and needs a configured token."""
    c = s.control
    if not c.enabled:
        return []
    if c.token is not None and len(c.token.get_secret_value()) < CONTROL_TOKEN_MIN:
        return [("control.token", f"needs at least {CONTROL_TOKEN_MIN} characters")]
    if not c.allow_remote and not _is_loopback(c.host):
        return [
            (
                "control.host",
                f"{c.host} is reachable from other machines: set control.allow_remote: true "
                "(and a control.token) to serve the control API and console there",
            )
        ]
    if c.token is None and not _is_loopback(c.host):
        return [
            (
                "control.token",
                f"needs at least {CONTROL_TOKEN_MIN} characters when control.host is {c.host}",
            )
        ]
    return []


def check_telegram(s: Settings) -> list[Violation]:
    """Telegram commands need a bot token and at least one allowed chat."""
    t = s.telegram
    if not t.enabled:
        return []
    out: list[Violation] = []
    if t.token(s.alerts) is None:
        out.append(("telegram.bot_token", "needed when telegram.enabled (or TELEGRAM_BOT_TOKEN)"))
    if not t.chats(s.alerts):
        out.append(("telegram.chat_ids", "needs at least one chat id when telegram.enabled"))
    return out


def check_ports_distinct(s: Settings) -> list[Violation]:
    """The metrics and control servers cannot share a port."""
    m, c = s.metrics, s.control
    if m.enabled and c.enabled and m.port and m.port == c.port:
        return [("control.port", f"is also metrics.port ({m.port})")]
    return []


def check_shared_budget_has_an_instance(s: Settings) -> list[Violation]:
    """Sharing a risk budget on Redis needs this instance's id (its orders carry it)."""
    if s.storage.redis_url is not None and s.instances.id is None and s.live:
        return [
            (
                "instances.id",
                "required when storage.redis_url (REDIS_URL) is set: several instances share "
                "the account; give each its own stable id",
            )
        ]
    return []


INVARIANTS: tuple[Callable[[Settings], list[Violation]], ...] = (
    check_confirmation_policy,
    check_risk_limits_ordered,
    check_strategies_within_risk,
    check_live_trading_credentials,
    check_presign_ages,
    check_heartbeat_schedule,
    check_truth_thresholds,
    check_providers,
    check_team_aliases,
    check_offline_is_loopback,
    check_control_auth,
    check_telegram,
    check_ports_distinct,
    check_shared_budget_has_an_instance,
)
"""Every cross-field rule, checked whenever a :class:`Settings` is built."""
