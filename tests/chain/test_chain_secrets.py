"""The chain's secrets — the RPC URL (provider keys ride in it), the builder credentials, the
wallet key — never reach a log line or a repr."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import structlog
from eth_account import Account

from polyloly.adapters.polymarket.config import Secret
from polyloly.adapters.polymarket.ctf import ChainConfig, EoaSender, connect
from polyloly.bot.chain import chain_config
from polyloly.bot.config_loader import load_settings
from polyloly.bot.logging import (
    Redactor,
    configure_logging,
    is_secret_key,
    reset_logging,
)
from polyloly.runtime.clock import VirtualClock

RPC = "https://polygon-mainnet.example/v2/prov1der-key-9f8e7d"
BUILDER_SECRET = "YnVpbGRlci1zZWNyZXQtdmFsdWU="
BUILDER_PASS = "builder-pass-phrase"
KEY = "0x" + "4d" * 32


@pytest.mark.parametrize(
    "key",
    ["rpc_url", "rpcUrl", "POLYMARKET_RPC_URL", "POLY_BUILDER_SECRET", "POLY_BUILDER_PASSPHRASE",
     "POLY_BUILDER_API_KEY", "POLY_BUILDER_SIGNATURE", "builder_secret", "builder_passphrase"],
)  # fmt: skip
def test_chain_secret_keys_are_secret(key: str) -> None:
    assert is_secret_key(key)


def test_settings_register_the_chain_secrets_and_logs_mask_them(tmp_path: Path) -> None:
    settings = load_settings(
        env="dev",
        environ={
            "POLYMARKET_RPC_URL": RPC,
            "POLYMARKET_BUILDER_SECRET": BUILDER_SECRET,
            "POLYMARKET_BUILDER_PASSPHRASE": BUILDER_PASS,
            "POLYMARKET_PRIVATE_KEY": KEY,
        },
        env_file=False,
        overrides={"storage.data_dir": str(tmp_path)},
    )
    found = settings.secret_values()
    assert {RPC, BUILDER_SECRET, BUILDER_PASS, KEY} <= set(found)
    stream = io.StringIO()
    try:
        configure_logging(
            level="DEBUG",
            clock=VirtualClock(0),
            secrets=found,
            stream=stream,
            redactor=Redactor(),
            cache_loggers=False,
        )
        log = structlog.get_logger("chain-test")
        log.error("chain.unreachable", detail=f"POST {RPC} failed", rpc_url=RPC)
        log.info("relayer.headers", headers={"POLY_BUILDER_SECRET": BUILDER_SECRET})
        log.info("sent", what="merge", tx_hash="0x" + "ab" * 32)
    finally:
        reset_logging()
    text = stream.getvalue()
    for secret in (RPC, BUILDER_SECRET, BUILDER_PASS, "prov1der-key-9f8e7d"):
        assert secret not in text
    assert "0x" + "ab" * 32 in text  # a transaction hash is public
    assert [json.loads(line)["event"] for line in text.splitlines()] == [
        "chain.unreachable",
        "relayer.headers",
        "sent",
    ]


def test_reprs_show_no_secret() -> None:
    config = ChainConfig(rpc_url=Secret(RPC))
    sender = EoaSender.of(connect(config), Secret(KEY), config)
    for shown in (repr(config), str(config), repr(sender)):
        assert "prov1der-key" not in shown
        assert KEY[2:] not in shown
    assert sender.address == Account.from_key(KEY).address


def test_chain_config_reads_a_local_deployment(tmp_path: Path) -> None:
    deployment = tmp_path / "chain.json"
    deployment.write_text(
        json.dumps(
            {
                "rpc_url": "http://127.0.0.1:8545",
                "chain_id": 137,
                "pusd": "0x" + "11" * 20,
                "ctf": "0x" + "22" * 20,
                "exchange": "0x" + "33" * 20,
                "neg_risk_exchange": "0x" + "44" * 20,
                "adapter": "0x" + "55" * 20,
                "neg_risk_adapter": "0x" + "66" * 20,
            }
        )
    )
    settings = load_settings(
        env="dev",
        environ={},
        env_file=False,
        overrides={"adapters.polymarket.chain.deployment": str(deployment)},
    )
    config = chain_config(settings)
    assert config is not None
    assert config.rpc_url.reveal() == "http://127.0.0.1:8545"
    assert config.contracts.adapter == "0x" + "55" * 20
    off = load_settings(env="dev", environ={}, env_file=False)
    assert chain_config(off) is None  # no RPC URL: the on-chain port is off
