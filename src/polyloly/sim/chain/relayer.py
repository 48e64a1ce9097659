"""A local stand-in for Polymarket's relayer, speaking the protocol of the official client.

``py-builder-relayer-client`` (the official Python client) talks to it unchanged:
``GET /nonce``, ``GET /relay-payload``, ``GET /deployed``, ``POST /submit``,
``GET /transaction?id=``, ``GET /transactions``, with builder HMAC headers
(``POLY_BUILDER_*``; the HMAC is checked against the credentials the stand-in was given).

What it checks, as the relayer and the wallet contracts would: the builder signature; the
owner's signature over the wallet transaction — the Safe transaction hash (type 2), the
``rlx:`` proxy hash (type 1), the EIP-712 ``Batch`` (type 3, deposit wallet) — recovered to
the request's ``from``; the wallet address derived from the owner exactly as the client
derives it; the wallet nonce (each nonce executes once). What it does: it executes the
wallet's calls *as the wallet* on the local chain (anvil's account impersonation), paying
the gas itself. What it does not do: run Polymarket's real wallet contracts (no Safe,
proxy or deposit-wallet bytecode is deployed; the signature check above stands in for
theirs) — so the wallet's address holds the funds and makes the calls exactly as on
Polygon, but the contract logic of the wallet itself is not exercised.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web
from eth_abi.abi import decode
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_typing import HexStr
from py_builder_relayer_client.builder.deposit_wallet import DEPOSIT_WALLET_TYPES
from py_builder_relayer_client.builder.derive import (
    derive,
    derive_proxy_wallet,
    derive_uups_deposit_wallet,
)
from py_builder_relayer_client.builder.proxy import create_proxy_struct_hash
from py_builder_relayer_client.builder.safe import create_struct_hash
from py_builder_relayer_client.config import get_contract_config
from py_builder_relayer_client.constants.constants import (
    DEPOSIT_WALLET_DOMAIN_NAME,
    DEPOSIT_WALLET_DOMAIN_VERSION,
)
from py_builder_relayer_client.models import OperationType
from web3 import AsyncWeb3

__all__ = ["BuilderCreds", "LocalRelayer"]

_PROXY_SELECTOR: Final = "0x34ee9791"  # proxy((uint8,address,uint256,bytes)[])


@dataclass(frozen=True, slots=True)
class BuilderCreds:
    """The builder API credentials the stand-in accepts."""

    key: str
    secret: str  # urlsafe base64
    passphrase: str


@dataclass
class _Tx:
    transaction_id: str
    kind: str
    owner: str
    wallet: str
    to: str
    data: str
    nonce: str
    state: str = "STATE_NEW"
    transaction_hash: str = ""
    hashes: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "transactionID": self.transaction_id,
            "transactionHash": self.transaction_hash,
            "from": self.owner,
            "to": self.to,
            "proxyAddress": self.wallet,
            "data": self.data,
            "nonce": self.nonce,
            "state": self.state,
            "type": self.kind,
        }


class LocalRelayer:
    """Serve the relayer on a loopback port, executing on ``w3``'s chain (anvil)."""

    def __init__(self, w3: AsyncWeb3[Any], creds: BuilderCreds, chain_id: int = 137) -> None:
        self.w3 = w3
        self.creds = creds
        self.chain_id = chain_id
        self.contracts = get_contract_config(chain_id)
        self.transactions: dict[str, _Tx] = {}
        self.nonces: dict[str, int] = {}  # wallet (lower) -> next nonce
        self.deployed: set[str] = set()
        self.submits = 0
        self.lose_next_reply = False  # fault: execute, then drop the connection
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (0 = a free port)."""
        app = web.Application()
        app.add_routes(
            [
                web.get("/nonce", self._nonce),
                web.get("/relay-payload", self._relay_payload),
                web.get("/deployed", self._deployed),
                web.post("/submit", self._submit),
                web.get("/transaction", self._transaction),
                web.get("/transactions", self._transactions),
            ]
        )
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- reads -------------------------------------------------------------------------------

    def _wallet_of(self, owner: str, kind: str) -> str:
        if kind in ("SAFE", "SAFE-CREATE"):
            return str(derive(owner, self.contracts.safe_factory))
        if kind == "PROXY":
            return str(derive_proxy_wallet(owner, self.contracts.proxy_factory))
        raise web.HTTPBadRequest(text=json.dumps({"error": f"unknown type {kind}"}))

    async def _nonce(self, request: web.Request) -> web.Response:
        owner, kind = request.query.get("address", ""), request.query.get("type", "SAFE")
        # a deposit wallet's nonce is asked by the wallet's address, the others by the owner's
        wallet = owner if kind == "WALLET" else self._wallet_of(owner, kind)
        return web.json_response({"nonce": str(self.nonces.get(wallet.lower(), 0))})

    async def _relay_payload(self, request: web.Request) -> web.Response:
        owner = request.query.get("address", "")
        wallet = self._wallet_of(owner, "PROXY")
        relay = list(await self.w3.eth.accounts)[1]
        return web.json_response(
            {"address": relay, "nonce": str(self.nonces.get(wallet.lower(), 0))}
        )

    async def _deployed(self, request: web.Request) -> web.Response:
        address = request.query.get("address", "").lower()
        return web.json_response({"deployed": address in self.deployed})

    async def _transaction(self, request: web.Request) -> web.Response:
        tx = self.transactions.get(request.query.get("id", ""))
        return web.json_response([tx.view()] if tx else [])

    async def _transactions(self, request: web.Request) -> web.Response:
        return web.json_response([tx.view() for tx in self.transactions.values()])

    # ---- submit ------------------------------------------------------------------------------

    def _authenticate(self, request: web.Request, method: str, path: str, body: Any) -> None:
        h = request.headers
        if h.get("POLY_BUILDER_API_KEY") != self.creds.key or (
            h.get("POLY_BUILDER_PASSPHRASE") != self.creds.passphrase
        ):
            raise web.HTTPUnauthorized(text=json.dumps({"error": "invalid builder credentials"}))
        message = h.get("POLY_BUILDER_TIMESTAMP", "") + method + path
        if body is not None:
            message += str(body).replace("'", '"')
        digest = hmac.new(
            base64.urlsafe_b64decode(self.creds.secret), message.encode(), hashlib.sha256
        ).digest()
        expected = base64.urlsafe_b64encode(digest).decode()
        if not hmac.compare_digest(expected, h.get("POLY_BUILDER_SIGNATURE", "")):
            raise web.HTTPUnauthorized(text=json.dumps({"error": "invalid builder signature"}))

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self._authenticate(request, "POST", "/submit", body)
        self.submits += 1
        kind = str(body.get("type", ""))
        if kind in ("SAFE-CREATE", "WALLET-CREATE"):
            owner = body["from"]
            if kind == "SAFE-CREATE":
                wallet = derive(owner, self.contracts.safe_factory)
            else:  # the factory's UUPS address (no beacon on the local chain)
                wallet = derive_uups_deposit_wallet(
                    owner,
                    self.contracts.deposit_wallet_factory,
                    self.contracts.deposit_wallet_implementation,
                )
            self.deployed.add(wallet.lower())
            tx = self._record(kind, owner, wallet, body)
            tx.state = "STATE_CONFIRMED"
            return web.json_response({"transactionID": tx.transaction_id, "transactionHash": ""})
        try:
            wallet, calls, nonce = self._verify(kind, body)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        tx = self._record(kind, body["from"], wallet, body)
        self.nonces[wallet.lower()] = nonce + 1
        try:
            for to, data in calls:
                tx.hashes.append(await self._execute(wallet, to, data))
            tx.transaction_hash = tx.hashes[-1] if tx.hashes else ""
            tx.state = "STATE_CONFIRMED"
        except Exception:  # a revert: the relayer reports the transaction failed
            tx.state = "STATE_FAILED"
        if self.lose_next_reply:
            self.lose_next_reply = False
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        return web.json_response(
            {"transactionID": tx.transaction_id, "transactionHash": tx.transaction_hash}
        )

    def _record(self, kind: str, owner: str, wallet: str, body: dict[str, Any]) -> _Tx:
        tx = _Tx(
            transaction_id=f"relay-{next(self._ids)}",
            kind=kind,
            owner=owner,
            wallet=wallet,
            to=str(body.get("to", "")),
            data=str(body.get("data", "")),
            nonce=str(body.get("nonce", "")),
        )
        self.transactions[tx.transaction_id] = tx
        return tx

    def _verify(self, kind: str, body: dict[str, Any]) -> tuple[str, list[tuple[str, str]], int]:
        owner_address = str(body["from"])
        nonce = int(body.get("nonce") or 0)
        if kind == "SAFE":
            wallet = derive(owner_address, self.contracts.safe_factory)
            self._need_deployed(wallet)
            params = body["signatureParams"]
            if int(params.get("operation", "0")) != OperationType.Call.value:
                raise ValueError("delegate calls (multisend) are not supported by the stand-in")
            struct_hash = create_struct_hash(
                self.chain_id,
                wallet,
                body["to"],
                str(body.get("value", "0")),
                body["data"],
                OperationType.Call,
                params["safeTxnGas"],
                params["baseGas"],
                params["gasPrice"],
                params["gasToken"],
                params["refundReceiver"],
                str(nonce),
            )
            signature = bytes.fromhex(body["signature"].removeprefix("0x"))
            r, s, v = signature[:32], signature[32:64], signature[64] - 4  # eth_sign: v + 4
            signer = Account.recover_message(
                encode_defunct(bytes.fromhex(struct_hash.removeprefix("0x"))),
                signature=r + s + bytes([v]),
            )
            calls = [(body["to"], body["data"])]
        elif kind == "PROXY":
            wallet = derive_proxy_wallet(owner_address, self.contracts.proxy_factory)
            params = body["signatureParams"]
            struct_hash = create_proxy_struct_hash(
                from_address=owner_address,
                to=body["to"],
                data=body["data"],
                tx_fee=params.get("relayerFee", "0"),
                gas_price=params["gasPrice"],
                gas_limit=params["gasLimit"],
                nonce=str(nonce),
                relay_hub_address=params["relayHub"],
                relay_address=params["relay"],
            )
            signer = Account.recover_message(
                encode_defunct(hexstr=struct_hash), signature=body["signature"]
            )
            calls = _proxy_calls(body["data"])
        elif kind == "WALLET":
            p = body["depositWalletParams"]
            wallet = str(p["depositWallet"])
            typed = {
                "primaryType": "Batch",
                "types": DEPOSIT_WALLET_TYPES,
                "domain": {
                    "name": DEPOSIT_WALLET_DOMAIN_NAME,
                    "version": DEPOSIT_WALLET_DOMAIN_VERSION,
                    "chainId": self.chain_id,
                    "verifyingContract": wallet,
                },
                "message": {
                    "wallet": wallet,
                    "nonce": nonce,
                    "deadline": int(p["deadline"]),
                    "calls": [
                        {"target": c["target"], "value": int(c["value"]), "data": c["data"]}
                        for c in p["calls"]
                    ],
                },
            }
            signer = Account.recover_message(
                encode_typed_data(full_message=typed), signature=body["signature"]
            )
            self._need_deployed(wallet)
            calls = [(c["target"], c["data"]) for c in p["calls"]]
        else:
            raise ValueError(f"unsupported transaction type {kind!r}")
        if signer.lower() != owner_address.lower():
            raise ValueError(f"invalid signature: signed by {signer}, not {owner_address}")
        expected = self.nonces.get(wallet.lower(), 0)
        if nonce != expected:
            raise ValueError(f"invalid nonce {nonce}: the wallet's next nonce is {expected}")
        return wallet, calls, nonce

    def _need_deployed(self, wallet: str) -> None:
        if wallet.lower() not in self.deployed:
            raise ValueError(f"wallet {wallet} is not deployed")

    async def _execute(self, wallet: str, to: str, data: str) -> str:
        w3 = self.w3
        address = w3.to_checksum_address(wallet)
        await w3.provider.make_request("anvil_impersonateAccount", [address])
        try:
            await w3.provider.make_request("anvil_setBalance", [address, hex(10**20)])
            tx = await w3.eth.send_transaction(
                {"from": address, "to": w3.to_checksum_address(to), "data": HexStr(data)}
            )
            receipt = await w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        finally:
            with contextlib.suppress(Exception):
                await w3.provider.make_request("anvil_stopImpersonatingAccount", [address])
        tx_hash = "0x" + bytes(tx).hex()
        if receipt["status"] != 1:
            raise RuntimeError(f"{tx_hash} reverted")
        return tx_hash


def _proxy_calls(data: str) -> list[tuple[str, str]]:
    raw = bytes.fromhex(data.removeprefix("0x"))
    if "0x" + raw[:4].hex() != _PROXY_SELECTOR:
        raise ValueError("not a proxy((uint8,address,uint256,bytes)[]) call")
    (calls,) = decode(["(uint8,address,uint256,bytes)[]"], raw[4:])
    return [(str(to), "0x" + bytes(payload).hex()) for _kind, to, _value, payload in calls]
