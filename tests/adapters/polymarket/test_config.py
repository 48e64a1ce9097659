"""Wallet configuration as real users have it, validated; secrets never shown."""

from __future__ import annotations

import pytest

from polyloly.adapters.polymarket.config import (
    ApiCredentials,
    PolymarketConfig,
    Secret,
    SignatureType,
    WalletConfig,
    WsConfig,
    config_from_env,
    heartbeat_timing,
    signer_address,
    validate_config,
    validate_wallet,
)
from polyloly.adapters.polymarket.heartbeat_chain import HeartbeatTiming
from polyloly.runtime.errors import ConfigError

KEY = "0x" + "4c" * 32
SAFE = "0x" + "ab" * 20


def test_secret_is_never_shown() -> None:
    s = Secret("hunter2")
    creds = ApiCredentials.of("key-123", "c2VjcmV0", "pass-456")
    wallet = WalletConfig(private_key=Secret(KEY))
    cfg = PolymarketConfig(wallet=wallet, creds=creds)
    for text in (repr(s), str(s), repr(creds), repr(wallet), repr(cfg), f"{cfg}"):
        for value in ("hunter2", "key-123", "c2VjcmV0", "pass-456", KEY[2:]):
            assert value not in text
    assert s.reveal() == "hunter2"
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")


@pytest.mark.parametrize(
    "sig_type", [SignatureType.POLY_PROXY, SignatureType.POLY_GNOSIS_SAFE, SignatureType.POLY_1271]
)
def test_non_eoa_needs_a_funder(sig_type: SignatureType) -> None:
    with pytest.raises(ConfigError, match="funder"):
        validate_wallet(WalletConfig(private_key=Secret(KEY), signature_type=sig_type))
    assert (
        validate_wallet(WalletConfig(private_key=Secret(KEY), signature_type=sig_type, funder=SAFE))
        == SAFE
    )


def test_eoa_funder_is_the_signer() -> None:
    wallet = WalletConfig(private_key=Secret(KEY))
    address = signer_address(wallet.private_key)
    assert validate_wallet(wallet) == address
    assert validate_wallet(WalletConfig(private_key=Secret(KEY), funder=address.lower())) == address
    with pytest.raises(ConfigError, match="EOA"):
        validate_wallet(WalletConfig(private_key=Secret(KEY), funder=SAFE))


@pytest.mark.parametrize(
    "wallet",
    [
        WalletConfig(private_key=Secret("0x1234")),
        WalletConfig(private_key=Secret(KEY), funder="0xnothex"),
        WalletConfig(private_key=Secret(KEY), chain_id=0),
    ],
)
def test_bad_wallets(wallet: WalletConfig) -> None:
    with pytest.raises(ConfigError):
        validate_wallet(wallet)


def test_bad_key_message_does_not_leak_it() -> None:
    with pytest.raises(ConfigError) as err:
        signer_address(Secret("0xdeadbeefcafe"))
    assert "deadbeefcafe" not in str(err.value)


@pytest.mark.parametrize(
    "cfg",
    [
        PolymarketConfig(clob_url="ftp://x"),
        PolymarketConfig(market_ws_url="http://x"),
        PolymarketConfig(ws=WsConfig(ping_interval_s=30, pong_timeout_s=10)),
        PolymarketConfig(ws=WsConfig(max_assets_per_connection=501)),
        PolymarketConfig(ws=WsConfig(reconnect_jitter=2)),
        PolymarketConfig(heartbeat_interval_s=10),
        PolymarketConfig(heartbeat_attempt_timeout_s=6),
        PolymarketConfig(heartbeat_window_s=0),
        PolymarketConfig(heartbeat_window_s=4, heartbeat_interval_s=5),
        PolymarketConfig(gamma_page_limit=500),
    ],
)
def test_bad_configs(cfg: PolymarketConfig) -> None:
    with pytest.raises(ConfigError):
        validate_config(cfg)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"heartbeat_interval_s": 12}, "polymarket.heartbeat_interval_s"),
        ({"heartbeat_attempt_timeout_s": 0}, "polymarket.heartbeat_attempt_timeout_s"),
        ({"heartbeat_window_s": -1}, "polymarket.heartbeat_window_s"),
    ],
)
def test_a_heartbeat_schedule_that_cannot_hold_names_its_key(
    overrides: dict[str, float], key: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        validate_config(PolymarketConfig(**overrides))  # type: ignore[arg-type]


def test_the_heartbeat_schedule_scales_with_a_test_venues_window() -> None:
    timing = heartbeat_timing(
        PolymarketConfig(
            heartbeat_interval_s=0.5, heartbeat_window_s=2.0, heartbeat_attempt_timeout_s=0.4
        )
    )
    assert (timing.retry_initial_ns, timing.retry_max_ns) == (25_000_000, 400_000_000)
    assert heartbeat_timing(PolymarketConfig()) == HeartbeatTiming()


def test_defaults_are_valid() -> None:
    validate_config(PolymarketConfig())


def test_from_env() -> None:
    cfg = config_from_env(
        {
            "POLY_PRIVATE_KEY": KEY,
            "POLY_SIGNATURE_TYPE": "2",
            "POLY_FUNDER": SAFE,
            "POLY_API_KEY": "k",
            "POLY_API_SECRET": "s",
            "POLY_API_PASSPHRASE": "p",
        }
    )
    assert cfg.wallet is not None
    assert cfg.wallet.signature_type is SignatureType.POLY_GNOSIS_SAFE
    assert cfg.wallet.funder == SAFE
    assert cfg.creds is not None
    assert cfg.creds.api_key.reveal() == "k"
    with pytest.raises(ConfigError):
        config_from_env({"POLY_API_KEY": "k"})
    with pytest.raises(ConfigError):
        config_from_env({"POLY_PRIVATE_KEY": KEY, "POLY_SIGNATURE_TYPE": "7"})
    assert config_from_env({}).wallet is None
