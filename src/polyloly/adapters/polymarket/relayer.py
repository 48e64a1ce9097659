"""Gasless on-chain calls for proxy, Safe and deposit wallets, through Polymarket's relayer.

:class:`RelayerSender` is the :class:`~polyloly.adapters.polymarket.ctf.Sender` of a wallet
of signature type 1 (POLY_PROXY), 2 (POLY_GNOSIS_SAFE) or 3 (POLY_1271, the deposit
wallet). Each call is handed to the official client (``py-builder-relayer-client``): the
owner key signs the wallet transaction locally, the builder credentials sign the request,
the relayer pays the gas and executes it from the wallet. The holder of the funds is the
wallet (``POLYMARKET_FUNDER`` for type 3; derived from the owner for types 1–2, and checked
against the funder when one is configured).

Idempotency, as for an EOA: the wallet nonce is read before the submit; if the reply to
``POST /submit`` is lost, the relayer's transactions are searched for ours (same wallet,
nonce, target and data) and never submitted again; not found → ``UnknownOutcomeError``.
The client is synchronous (``requests``): it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

from eth_account import Account
from py_builder_relayer_client.builder.derive import derive, derive_proxy_wallet
from py_builder_relayer_client.client import RelayClient
from py_builder_relayer_client.exceptions import RelayerApiException, RelayerClientException
from py_builder_relayer_client.models import DepositWalletCall, RelayerTxType, Transaction
from py_builder_signing_sdk.config import BuilderConfig
from py_builder_signing_sdk.sdk_types import BuilderApiKeyCreds
from web3 import AsyncWeb3

from polyloly.adapters.polymarket.config import Secret, SignatureType
from polyloly.adapters.polymarket.ctf import ChainConfig, SentHook, TxOutcome, wait_receipt
from polyloly.execution.ports import RejectCode
from polyloly.runtime.clock import NS_PER_S, LiveClock
from polyloly.runtime.errors import ConfigError, RejectError, RetryableError, UnknownOutcomeError

__all__ = ["RELAYER_URL", "RelayerSender"]

RELAYER_URL: Final = "https://relayer-v2.polymarket.com"
_DONE: Final = frozenset({"STATE_MINED", "STATE_CONFIRMED"})
_FAILED: Final = frozenset({"STATE_FAILED", "STATE_INVALID"})
_KIND: Final = {
    SignatureType.POLY_PROXY: "PROXY",
    SignatureType.POLY_GNOSIS_SAFE: "SAFE",
    SignatureType.POLY_1271: "WALLET",
}
_DEADLINE_S: Final = 600


@dataclass
class RelayerSender:
    """Sends a wallet's contract calls through the relayer (signature types 1–3)."""

    w3: AsyncWeb3[Any]
    client: RelayClient
    signature_type: SignatureType
    config: ChainConfig
    wallet: str
    on_sent: SentHook | None = None
    address: str = field(init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self.address = str(self.client.signer.address())

    @classmethod
    def create(
        cls,
        w3: AsyncWeb3[Any],
        private_key: Secret,
        config: ChainConfig,
        *,
        signature_type: SignatureType,
        relayer_url: str,
        builder: tuple[Secret, Secret, Secret],
        funder: str | None = None,
        on_sent: SentHook | None = None,
    ) -> RelayerSender:
        """Build the official client for this wallet; check the funder against the derivation."""
        if signature_type not in _KIND:
            raise ConfigError("adapters.polymarket.signature_type: the relayer serves types 1-3")
        key, secret, passphrase = (s.reveal() for s in builder)
        if not (key and secret and passphrase):
            raise ConfigError(
                "adapters.polymarket.chain.builder_api_key: the relayer needs the builder "
                "credentials (POLYMARKET_BUILDER_API_KEY / _SECRET / _PASSPHRASE)"
            )
        builder_config = BuilderConfig(
            local_builder_creds=BuilderApiKeyCreds(key=key, secret=secret, passphrase=passphrase)
        )
        tx_type = RelayerTxType.PROXY if signature_type is SignatureType.POLY_PROXY else None
        try:
            client = RelayClient(
                relayer_url,
                config.chain_id,
                private_key.reveal(),
                builder_config,
                relay_tx_type=tx_type,
            )
        except RelayerClientException as exc:
            raise ConfigError(f"adapters.polymarket.chain: {exc}") from exc
        owner = Account.from_key(private_key.reveal()).address
        contracts = client.contract_config
        if signature_type is SignatureType.POLY_GNOSIS_SAFE:
            wallet = derive(owner, contracts.safe_factory)
        elif signature_type is SignatureType.POLY_PROXY:
            wallet = derive_proxy_wallet(owner, contracts.proxy_factory)
        else:
            if not funder:
                raise ConfigError("adapters.polymarket.funder: type 3 needs the deposit wallet")
            wallet = funder
        if funder and funder.lower() != wallet.lower():
            raise ConfigError(
                f"adapters.polymarket.funder: {funder} is not this key's wallet ({wallet})"
            )
        return cls(w3, client, signature_type, config, wallet, on_sent)

    @classmethod
    def from_settings(
        cls,
        w3: AsyncWeb3[Any],
        private_key: Secret,
        config: ChainConfig,
        pm: Any,
        *,
        on_sent: SentHook | None = None,
    ) -> RelayerSender:
        """From ``adapters.polymarket`` settings."""
        cs = pm.chain

        def secret(value: Any) -> Secret:
            return Secret(value.get_secret_value() if value else "")

        return cls.create(
            w3,
            private_key,
            config,
            signature_type=SignatureType(pm.signature_type),
            relayer_url=str(cs.relayer_url or RELAYER_URL),
            builder=(
                secret(cs.builder_api_key),
                secret(cs.builder_secret),
                secret(cs.builder_passphrase),
            ),
            funder=pm.funder,
            on_sent=on_sent,
        )

    # ---- wallet set-up -----------------------------------------------------------------------

    async def deployed(self) -> bool:
        """Whether the relayer knows the wallet as deployed."""
        kind = (
            None
            if self.signature_type is SignatureType.POLY_GNOSIS_SAFE
            else _KIND[self.signature_type]
        )
        return bool(await asyncio.to_thread(self.client.get_deployed, self.wallet, kind))

    async def deploy(self) -> None:
        """Deploy the Safe (type 2) or deposit wallet (type 3) through the relayer, once."""
        if self.signature_type is SignatureType.POLY_PROXY or await self.deployed():
            return
        if self.signature_type is SignatureType.POLY_GNOSIS_SAFE:
            await asyncio.to_thread(self.client.deploy)
        else:
            await asyncio.to_thread(self.client.deploy_deposit_wallet)

    # ---- Sender ------------------------------------------------------------------------------

    async def send(self, call: Any, what: str) -> TxOutcome:
        """Submit ``call`` from the wallet; wait until the relayer has it mined."""
        to = str(call.address)
        data = str(call._encode_transaction_data())
        async with self._lock:  # one wallet nonce at a time
            nonce = await self._wallet_nonce()
            try:
                reply = await asyncio.to_thread(self._submit, to, data, nonce)
                transaction_id = str(reply.transaction_id or "")
            except RelayerApiException as exc:
                status = getattr(exc, "status_code", None)
                if status is not None and 400 <= int(status) < 500:
                    raise RejectError(
                        f"{what}: relayer refused ({status}: {_message(exc)})",
                        code=RejectCode.MERGE_REFUSED if what.startswith("merge") else "",
                    ) from exc
                # no answer (or a 5xx): it may have been executed — look it up, never resend
                found = await self._find(to, data, nonce)
                if found is None:
                    raise UnknownOutcomeError(
                        f"{what}: relayer reply lost; no transaction of nonce {nonce} found"
                    ) from exc
                transaction_id = found
        if self.on_sent is not None:
            self.on_sent(what, transaction_id)
        tx_hash = await self._wait(transaction_id, what)
        outcome = await wait_receipt(self.w3, tx_hash, what, self.config)
        return outcome

    def _submit(self, to: str, data: str, nonce: int) -> Any:
        if self.signature_type is SignatureType.POLY_1271:
            deadline = LiveClock().now_ns() // NS_PER_S + _DEADLINE_S  # a signed field
            return self.client.execute_deposit_wallet_batch(
                [DepositWalletCall(target=to, value="0", data=data)],
                self.wallet,
                str(nonce),
                str(deadline),
            )
        return self.client.execute([Transaction(to=to, data=data, value="0")], metadata="")

    async def _wallet_nonce(self) -> int:
        kind = _KIND[self.signature_type]
        address = self.wallet if kind == "WALLET" else self.address
        try:
            if kind == "PROXY":
                payload = await asyncio.to_thread(self.client.get_relay_payload, address, kind)
            else:
                payload = await asyncio.to_thread(self.client.get_nonce, address, kind)
        except RelayerApiException as exc:
            raise RetryableError(f"relayer unreachable ({_message(exc)})") from exc
        return int(payload.get("nonce") or 0)

    async def _find(self, to: str, data: str, nonce: int) -> str | None:
        try:
            listed = await asyncio.to_thread(self.client.get_transactions)
        except RelayerApiException:
            return None
        for tx in listed or []:
            same_wallet = str(tx.get("proxyAddress", "")).lower() == self.wallet.lower()
            if same_wallet and str(tx.get("nonce")) == str(nonce):
                return str(tx.get("transactionID"))
        return None

    async def _wait(self, transaction_id: str, what: str) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.receipt_timeout_s
        while True:
            try:
                found = await asyncio.to_thread(self.client.get_transaction, transaction_id)
            except RelayerApiException:
                found = None
            if found:
                state = str(found[0].get("state", ""))
                if state in _DONE:
                    return str(found[0].get("transactionHash", ""))
                if state in _FAILED:
                    raise RejectError(
                        f"{what}: relayer transaction {transaction_id} {state}",
                        code=RejectCode.MERGE_REFUSED if what.startswith("merge") else "",
                    )
            if loop.time() >= deadline:
                raise UnknownOutcomeError(
                    f"{what}: relayer transaction {transaction_id} not mined within "
                    f"{self.config.receipt_timeout_s:g} s"
                )
            await asyncio.sleep(self.config.poll_interval_s)


def _message(exc: RelayerApiException) -> str:
    return str(getattr(exc, "error_msg", "") or exc)[:200]
