"""Typed, frozen configuration of the Polymarket adapter: wallet, API credentials, endpoints.

A real Polymarket account is one of four wallet kinds, told apart by the order
``signatureType`` and the ``funder`` (the address that holds the funds and is the order's
``maker``):

====  ==================  =====================================================
type  name                funder
====  ==================  =====================================================
0     EOA                 the signer's own address (default)
1     POLY_PROXY          the Polymarket proxy wallet (email / Magic accounts)
2     POLY_GNOSIS_SAFE    the Gnosis Safe owned by the signer (browser wallets)
3     POLY_1271           the deposit wallet (new accounts; it also signs)
====  ==================  =====================================================

Secrets (the private key, the API secret and passphrase) are held in :class:`Secret`,
whose ``repr``/``str`` never show the value, so a config object can be logged safely.
Cross-field rules are checked by :func:`validate_wallet` / :func:`validate_config`, which
raise :class:`~polyloly.runtime.errors.ConfigError` naming the offending key.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §1 (constructor, signature types,
auth), §8 (signature-type pitfalls); py-clob-client-v2 ``client.py``, ``signer.py``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Final

from eth_account import Account

from polyloly.adapters.polymarket.constants import HEARTBEAT_TIMEOUT_S
from polyloly.adapters.polymarket.heartbeat_chain import HeartbeatTiming
from polyloly.runtime.errors import ConfigError

__all__ = [
    "ApiCredentials",
    "PolymarketConfig",
    "Secret",
    "SignatureType",
    "WalletConfig",
    "WsConfig",
    "config_from_env",
    "heartbeat_timing",
    "signer_address",
    "validate_config",
    "validate_wallet",
]

_ADDRESS_RE: Final = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PRIVATE_KEY_RE: Final = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_REDACTED: Final = "**********"
_TIMING_KEYS: Final = {
    "interval": "heartbeat_interval_s",
    "attempt_timeout": "heartbeat_attempt_timeout_s",
}


class Secret:
    """A string that is never shown by ``repr``/``str`` (private keys, API secrets).

    Use :meth:`reveal` at the single point where the value is handed to a signer or a
    header builder.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a str")
        self._value = value

    def reveal(self) -> str:
        """Return the secret value (only where it is actually needed)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_REDACTED}')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))


class SignatureType(IntEnum):
    """Order ``signatureType``: which kind of wallet signs and holds the funds."""

    EOA = 0
    POLY_PROXY = 1
    POLY_GNOSIS_SAFE = 2
    POLY_1271 = 3


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """L2 API credentials (``POST /auth/api-key`` or ``GET /auth/derive-api-key``)."""

    api_key: Secret
    api_secret: Secret
    api_passphrase: Secret

    @classmethod
    def of(cls, api_key: str, api_secret: str, api_passphrase: str) -> ApiCredentials:
        """Wrap three plain strings."""
        return cls(Secret(api_key), Secret(api_secret), Secret(api_passphrase))


@dataclass(frozen=True, slots=True)
class WalletConfig:
    """The trading wallet: signer key, signature type and funder.

    Parameters
    ----------
    private_key
        The signer's private key (hex, with or without ``0x``).
    signature_type
        0 EOA, 1 proxy, 2 Gnosis Safe, 3 deposit wallet (POLY_1271).
    funder
        Address holding the funds (order ``maker``). Required for types 1–3; for an EOA
        it defaults to (and must equal) the signer address.
    chain_id
        137 (Polygon) in production; it only selects the signing domain and contracts.
    """

    private_key: Secret
    signature_type: SignatureType = SignatureType.EOA
    funder: str | None = None
    chain_id: int = 137


@dataclass(frozen=True, slots=True)
class WsConfig:
    """WebSocket behaviour (both channels). Intervals are seconds.

    ``ping_interval_s``: a text ``PING`` is sent this often; ``pong_timeout_s``: no ``PONG``
    for this long means the connection is stalled. Reconnects back off exponentially from
    ``reconnect_initial_s`` to ``reconnect_max_s`` with ``reconnect_jitter`` (0..1) of the
    delay randomised. ``resync_timeout_s``: a token waiting for a fresh snapshot longer than
    this forces its connection to reconnect. At most ``max_assets_per_connection`` tokens
    share one market connection. ``compression`` offers permessage-deflate (off by default:
    inflating every frame costs CPU on the hot path, and latency matters more than bytes).
    """

    ping_interval_s: float = 10.0
    pong_timeout_s: float = 30.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    reconnect_jitter: float = 0.5
    resync_timeout_s: float = 15.0
    open_timeout_s: float = 10.0
    max_assets_per_connection: int = 500
    max_frame_bytes: int = 16 * 1024 * 1024
    compression: bool = False


@dataclass(frozen=True, slots=True)
class PolymarketConfig:
    """Everything the adapter needs; defaults are the production endpoints."""

    clob_url: str = "https://clob.polymarket.com"
    market_ws_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    user_ws_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
    gamma_url: str = "https://gamma-api.polymarket.com"
    wallet: WalletConfig | None = None
    creds: ApiCredentials | None = None
    ws: WsConfig = field(default_factory=WsConfig)
    heartbeat_interval_s: float = 5.0
    heartbeat_attempt_timeout_s: float = 2.0
    heartbeat_window_s: float = HEARTBEAT_TIMEOUT_S
    http_timeout_s: float = 10.0
    gamma_page_limit: int = 100
    user_resync_lookback_s: int = 120


def signer_address(private_key: Secret) -> str:
    """Return the checksummed address of a private key (raises ConfigError if invalid)."""
    key = private_key.reveal()
    if not _PRIVATE_KEY_RE.match(key):
        raise ConfigError("polymarket.wallet.private_key: expected 32 bytes of hex")
    address: str = Account.from_key(key).address
    return address


def validate_wallet(wallet: WalletConfig) -> str:
    """Check a wallet's cross-field rules and return the funder (order maker) address.

    Raises
    ------
    ConfigError
        Invalid key, unknown signature type, missing or malformed funder, or an EOA whose
        funder is not its own address.
    """
    address = signer_address(wallet.private_key)
    if wallet.chain_id <= 0:
        raise ConfigError("polymarket.wallet.chain_id: must be a positive chain id")
    try:
        sig_type = SignatureType(int(wallet.signature_type))
    except ValueError as exc:
        raise ConfigError("polymarket.wallet.signature_type: must be 0, 1, 2 or 3") from exc
    funder = wallet.funder
    if funder is not None and not _ADDRESS_RE.match(funder):
        raise ConfigError("polymarket.wallet.funder: expected a 0x-prefixed 20-byte address")
    if sig_type is SignatureType.EOA:
        if funder is not None and funder.lower() != address.lower():
            raise ConfigError(
                "polymarket.wallet.funder: an EOA (signature_type 0) trades from its own "
                "address; leave funder empty or set it to the signer address"
            )
        return address
    if funder is None:
        raise ConfigError(
            f"polymarket.wallet.funder: signature_type {int(sig_type)} ({sig_type.name}) "
            "needs the funder address (proxy wallet, Safe or deposit wallet)"
        )
    return funder


def _validate_urls(config: PolymarketConfig) -> None:
    for name in ("clob_url", "gamma_url"):
        url: str = getattr(config, name)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"polymarket.{name}: expected an http(s) URL, got {url!r}")
    for name in ("market_ws_url", "user_ws_url"):
        url = getattr(config, name)
        if not url.startswith(("ws://", "wss://")):
            raise ConfigError(f"polymarket.{name}: expected a ws(s) URL, got {url!r}")


def _validate_ws(ws: WsConfig) -> None:
    if not 0 < ws.ping_interval_s < ws.pong_timeout_s:
        raise ConfigError("polymarket.ws: need 0 < ping_interval_s < pong_timeout_s")
    if not 0 < ws.reconnect_initial_s <= ws.reconnect_max_s:
        raise ConfigError("polymarket.ws: need 0 < reconnect_initial_s <= reconnect_max_s")
    if not 0 <= ws.reconnect_jitter <= 1:
        raise ConfigError("polymarket.ws.reconnect_jitter: must be within [0, 1]")
    if not 1 <= ws.max_assets_per_connection <= 500:
        raise ConfigError("polymarket.ws.max_assets_per_connection: must be within [1, 500]")
    if ws.resync_timeout_s <= 0 or ws.open_timeout_s <= 0:
        raise ConfigError("polymarket.ws: resync_timeout_s and open_timeout_s must be > 0")


def validate_config(config: PolymarketConfig) -> None:
    """Check URLs, intervals and the wallet; raise :class:`ConfigError` naming the key."""
    _validate_urls(config)
    _validate_ws(config.ws)
    heartbeat_timing(config)
    if config.http_timeout_s <= 0:
        raise ConfigError("polymarket.http_timeout_s: must be > 0")
    if not 1 <= config.gamma_page_limit <= 100:
        raise ConfigError("polymarket.gamma_page_limit: must be within [1, 100]")
    if config.wallet is not None:
        validate_wallet(config.wallet)


def heartbeat_timing(config: PolymarketConfig) -> HeartbeatTiming:
    """The heartbeat schedule of ``config``; raise :class:`ConfigError` naming the key."""
    window = config.heartbeat_window_s
    if not window > 0:
        raise ConfigError("polymarket.heartbeat_window_s: must be > 0 (the venue's is 10 s)")
    try:
        return HeartbeatTiming.from_seconds(
            interval_s=config.heartbeat_interval_s,
            window_s=window,
            attempt_timeout_s=config.heartbeat_attempt_timeout_s,
        )
    except ValueError as exc:
        field, _, rule = str(exc).partition(": ")
        key = _TIMING_KEYS.get(field, "heartbeat_window_s")
        raise ConfigError(
            f"polymarket.{key}: {rule} (the venue cancels every order after {window:g} s "
            "without a valid heartbeat)"
        ) from exc


def config_from_env(
    env: Mapping[str, str], base: PolymarketConfig | None = None
) -> PolymarketConfig:
    """Fill wallet and credentials from environment-style variables.

    Reads ``POLY_PRIVATE_KEY``, ``POLY_SIGNATURE_TYPE`` (0–3), ``POLY_FUNDER``,
    ``POLY_CHAIN_ID`` and ``POLY_API_KEY`` / ``POLY_API_SECRET`` / ``POLY_API_PASSPHRASE``
    (all three or none). Other fields come from ``base``.
    """
    cfg = base if base is not None else PolymarketConfig()
    wallet = cfg.wallet
    key = env.get("POLY_PRIVATE_KEY", "")
    if key:
        raw_type = env.get("POLY_SIGNATURE_TYPE", "0").strip() or "0"
        if not raw_type.isdigit():
            raise ConfigError("POLY_SIGNATURE_TYPE: must be 0, 1, 2 or 3")
        raw_chain = env.get("POLY_CHAIN_ID", "137").strip() or "137"
        if not raw_chain.isdigit():
            raise ConfigError("POLY_CHAIN_ID: must be a number")
        try:
            sig_type = SignatureType(int(raw_type))
        except ValueError as exc:
            raise ConfigError("POLY_SIGNATURE_TYPE: must be 0, 1, 2 or 3") from exc
        wallet = WalletConfig(
            private_key=Secret(key.strip()),
            signature_type=sig_type,
            funder=env.get("POLY_FUNDER", "").strip() or None,
            chain_id=int(raw_chain),
        )
    creds = cfg.creds
    parts = [
        env.get(name, "") for name in ("POLY_API_KEY", "POLY_API_SECRET", "POLY_API_PASSPHRASE")
    ]
    if any(parts):
        if not all(parts):
            raise ConfigError(
                "POLY_API_KEY / POLY_API_SECRET / POLY_API_PASSPHRASE: set all three or none"
            )
        creds = ApiCredentials.of(*parts)
    out = replace(cfg, wallet=wallet, creds=creds)
    validate_config(out)
    return out
