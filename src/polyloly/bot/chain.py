"""The on-chain port from the settings: ``polymarket.chain`` → :class:`OnChainCtf`.

Used by ``polyloly doctor`` (allowances read from the chain), ``polyloly approve`` (set the
missing ones) and ``run`` (merges and redemptions on-chain). A local chain's deployment JSON
(``polyloly sim chain --out FILE``) named by ``polymarket.chain.deployment`` overrides the
RPC URL, chain id and contract addresses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

import structlog

from polyloly.adapters.polymarket.config import Secret, signer_address
from polyloly.adapters.polymarket.ctf import (
    ChainConfig,
    ChainContracts,
    EoaSender,
    OnChainCtf,
    connect,
)
from polyloly.bot.settings import Settings
from polyloly.domain.money import parse_micros
from polyloly.execution.ports import AccountReader, Balances, TradeReport, VenueOrder
from polyloly.execution.recycle import RecycleConfig
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import ConfigError

__all__ = [
    "ChainBalancesAccount",
    "build_onchain",
    "chain_config",
    "live_onchain",
    "recycle_config",
]

_log = structlog.get_logger(__name__)
_GWEI = Decimal(10**9)
_CONTRACT_KEYS = ("pusd", "ctf", "exchange", "neg_risk_exchange", "adapter", "neg_risk_adapter")


def chain_config(settings: Settings) -> ChainConfig | None:
    """The chain settings, or ``None`` while ``polymarket.chain.rpc_url`` is unset."""
    pm = settings.adapters.polymarket
    cs = pm.chain
    rpc_url = cs.rpc_url.get_secret_value() if cs.rpc_url else ""
    chain_id = pm.chain_id
    contracts = {key: getattr(cs, key) for key in _CONTRACT_KEYS}
    if cs.deployment is not None:
        try:
            deployed = json.loads(cs.deployment.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"adapters.polymarket.chain.deployment: cannot read {cs.deployment} ({exc})"
            ) from exc
        rpc_url = str(deployed.get("rpc_url") or rpc_url)
        chain_id = int(deployed.get("chain_id") or chain_id)
        contracts |= {k: str(deployed[k]) for k in _CONTRACT_KEYS if deployed.get(k)}
    if not rpc_url:
        return None
    priority = cs.priority_fee_gwei
    return ChainConfig(
        rpc_url=Secret(rpc_url),
        chain_id=chain_id,
        contracts=ChainContracts(**contracts),
        receipt_timeout_s=cs.receipt_timeout_s,
        request_timeout_s=pm.request_timeout_s,
        gas_headroom_pct=cs.gas_headroom_pct,
        priority_fee_wei=None if priority is None else int(priority * _GWEI),
        max_fee_per_gas_wei=int(cs.max_fee_gwei * _GWEI),
    )


def build_onchain(
    settings: Settings,
    *,
    neg_risk_of: Callable[[str], bool] = lambda _cid: False,
    tokens_of: Callable[[str], tuple[str, str] | None] = lambda _cid: None,
    on_sent: Callable[[str, str], object] | None = None,
) -> OnChainCtf:
    """The wallet's on-chain port: an EOA sends itself; types 1–3 go through the relayer."""
    config = chain_config(settings)
    if config is None:
        raise ConfigError("adapters.polymarket.chain.rpc_url: unset (POLYMARKET_RPC_URL)")
    pm = settings.adapters.polymarket
    if pm.private_key is None:
        raise ConfigError("adapters.polymarket.private_key: on-chain calls need the wallet key")
    key = Secret(pm.private_key.get_secret_value())
    w3 = connect(config)
    sender: Any
    holder = None
    if pm.signature_type == 0:
        sender = EoaSender.of(w3, key, config, on_sent=on_sent)
    else:
        from polyloly.adapters.polymarket.relayer import RelayerSender  # noqa: PLC0415

        sender = RelayerSender.from_settings(w3, key, config, pm, on_sent=on_sent)
        holder = sender.wallet
    signer_address(key)  # a malformed key fails here, naming no value
    return OnChainCtf(
        w3, config, sender, holder=holder, neg_risk_of=neg_risk_of, tokens_of=tokens_of
    )


class _Markets(Protocol):
    def tokens_of(self, market: str) -> tuple[str, str] | None: ...

    def neg_risk_of(self, token_id: str) -> bool: ...


def live_onchain(settings: Settings, core: _Markets) -> OnChainCtf | None:
    """``run``'s on-chain port (merges and redemptions), or ``None`` when the chain is off."""
    if chain_config(settings) is None or settings.adapters.polymarket.private_key is None:
        return None

    def neg_risk(condition_id: str) -> bool:
        tokens = core.tokens_of(condition_id)
        return bool(tokens) and core.neg_risk_of(tokens[0])  # type: ignore[index]

    def logged(what: str, tx_hash: str) -> None:
        _log.info("chain.sent", what=what, tx_hash=tx_hash)

    return build_onchain(settings, neg_risk_of=neg_risk, tokens_of=core.tokens_of, on_sent=logged)


def recycle_config(settings: Settings) -> RecycleConfig:
    """``polymarket.chain.recycle`` in the engine's units."""
    r = settings.adapters.polymarket.chain.recycle
    return RecycleConfig(
        merge=r.merge,
        redeem=r.redeem,
        gas_pusd=parse_micros(str(r.gas_pusd)),
        min_gain_over_gas=r.min_gain_over_gas,
        idle_ns=int(r.idle_s * NS_PER_S),
    )


class ChainBalancesAccount:
    """Reconciliation's account reader with the balances read from the chain.

    Orders and trades come from the venue (the CLOB knows them); pUSD and outcome tokens from
    the chain, which holds them: an on-chain merge or redemption, or a transfer, shows at
    once, and the CLOB's balance cache is never taken for the truth. Reconciliation compares
    balances only when no trade is still settling, so a fill not yet mined is no mismatch.
    """

    def __init__(self, venue: AccountReader, chain: OnChainCtf) -> None:
        self.venue = venue
        self.chain = chain

    async def open_orders(self) -> list[VenueOrder]:
        """The venue's open orders."""
        return await self.venue.open_orders()

    async def trades(self, after_ns: int) -> list[TradeReport]:
        """The venue's trades."""
        return await self.venue.trades(after_ns)

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """pUSD and ``token_ids`` of the wallet, from the chain."""
        return await self.chain.balances(token_ids)
