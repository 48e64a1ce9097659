"""Deploy the local contracts on a chain (anvil) and drive them as the operator and oracle.

Anvil's first unlocked account deploys everything, is the oracle of every condition, mints
the underlying collateral (the USDC.e stand-in) and is the exchange stand-ins' operator: no
private key is needed or handled here. pUSD is only ever created by wrapping underlying, so
every pUSD is backed.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from eth_typing import ChecksumAddress, HexStr
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract

from polyloly.sim.chain.tools import Artifact, compile_contracts

__all__ = ["Deployment", "LocalChain", "Market"]

ETHER = 10**18


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where everything is: the JSON ``polyloly sim chain`` prints and writes."""

    rpc_url: str
    chain_id: int
    operator: str
    underlying: str
    pusd: str
    ctf: str
    adapter: str
    neg_risk_adapter: str
    exchange: str
    neg_risk_exchange: str

    def to_json(self) -> str:
        """One JSON object."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        """Parse :meth:`to_json`'s output."""
        return cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class Market:
    """A binary condition on the chain: its id and its two position (token) ids."""

    question_id: str
    condition_id: str
    yes_token: str
    no_token: str


def _hex32(value: bytes) -> str:
    return "0x" + value.hex()


class LocalChain:
    """The deployed contracts of one chain, driven by its operator account."""

    def __init__(
        self, w3: AsyncWeb3[Any], deployment: Deployment, artifacts: dict[str, Artifact]
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.artifacts = artifacts
        self.operator: ChecksumAddress = w3.to_checksum_address(deployment.operator)
        self.sent: set[str] = set()  # hashes of the operator's transactions

    # ---- construction ------------------------------------------------------------------------

    @staticmethod
    def connect_w3(rpc_url: str) -> AsyncWeb3[Any]:
        """An async web3 on ``rpc_url``."""
        return AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 10}))

    @classmethod
    async def deploy(cls, rpc_url: str) -> LocalChain:
        """Compile (or reuse) and deploy every contract; return the driver."""
        artifacts = compile_contracts()
        w3 = cls.connect_w3(rpc_url)
        accounts = await w3.eth.accounts
        operator = accounts[0]
        chain_id = await w3.eth.chain_id

        async def new(name: str, *args: object) -> str:
            art = artifacts[name]
            factory = w3.eth.contract(abi=art.abi, bytecode=HexStr(art.bytecode))
            tx = await factory.constructor(*args).transact({"from": operator})
            receipt = await w3.eth.wait_for_transaction_receipt(tx, timeout=30)
            address = receipt["contractAddress"]
            if receipt["status"] != 1 or address is None:
                raise RuntimeError(f"deploying {name} failed")
            return str(address)

        underlying = await new("TestCollateral", "USD Coin (PoS) stand-in", "USDC.e")
        pusd = await new("PolyUSD", underlying)
        ctf = await new("ConditionalTokens")
        adapter = await new("CollateralAdapter", ctf, pusd)
        neg_risk_adapter = await new("CollateralAdapter", ctf, pusd)
        exchange = await new("SimExchange", pusd, ctf, adapter)
        neg_risk_exchange = await new("SimExchange", pusd, ctf, neg_risk_adapter)
        deployment = Deployment(
            rpc_url=rpc_url,
            chain_id=chain_id,
            operator=str(operator),
            underlying=underlying,
            pusd=pusd,
            ctf=ctf,
            adapter=adapter,
            neg_risk_adapter=neg_risk_adapter,
            exchange=exchange,
            neg_risk_exchange=neg_risk_exchange,
        )
        return cls(w3, deployment, artifacts)

    @classmethod
    def attach(cls, deployment: Deployment) -> LocalChain:
        """Drive an already deployed chain."""
        return cls(cls.connect_w3(deployment.rpc_url), deployment, compile_contracts())

    async def close(self) -> None:
        """Close the RPC connection pool."""
        with contextlib.suppress(Exception):
            await self.w3.provider.disconnect()

    def contract(self, name: str, address: str) -> AsyncContract:
        """A contract object of artifact ``name`` at ``address``."""
        return self.w3.eth.contract(
            address=self.w3.to_checksum_address(address), abi=self.artifacts[name].abi
        )

    @property
    def ctf(self) -> AsyncContract:
        """The Conditional Tokens contract."""
        return self.contract("ConditionalTokens", self.deployment.ctf)

    @property
    def pusd(self) -> AsyncContract:
        """The pUSD-like collateral."""
        return self.contract("PolyUSD", self.deployment.pusd)

    @property
    def underlying(self) -> AsyncContract:
        """The USDC.e stand-in the positions are collateralised with."""
        return self.contract("TestCollateral", self.deployment.underlying)

    def exchange(self, *, neg_risk: bool = False) -> AsyncContract:
        """The exchange stand-in (the neg-risk one with ``neg_risk``)."""
        d = self.deployment
        return self.contract("SimExchange", d.neg_risk_exchange if neg_risk else d.exchange)

    async def send(self, call: Any) -> str:
        """Send ``call`` from the operator and wait for it to be mined; the hash."""
        tx = await call.transact({"from": self.operator})
        tx_hash = "0x" + bytes(tx).hex()
        self.sent.add(tx_hash)
        receipt = await self.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        if receipt["status"] != 1:
            raise RuntimeError(f"operator transaction {tx_hash} reverted")
        return tx_hash

    # ---- operator and oracle -----------------------------------------------------------------

    async def fund(self, address: str, pusd: int = 0, gas_wei: int = 0) -> None:
        """Give ``address`` ``pusd`` micro-pUSD (wrapped from fresh underlying) and gas."""
        to = self.w3.to_checksum_address(address)
        if pusd:
            await self.send(self.underlying.functions.mint(self.operator, pusd))
            await self.send(self.underlying.functions.approve(self.deployment.pusd, pusd))
            await self.send(self.pusd.functions.wrap(to, pusd))
        if gas_wei:
            tx = await self.w3.eth.send_transaction(
                {"from": self.operator, "to": to, "value": self.w3.to_wei(gas_wei, "wei")}
            )
            self.sent.add("0x" + bytes(tx).hex())
            await self.w3.eth.wait_for_transaction_receipt(tx, timeout=30)

    async def new_market(self, question: str) -> Market:
        """Prepare a binary condition (oracle: the operator) and return its ids."""
        question_id = self.w3.keccak(text=question)
        await self.send(self.ctf.functions.prepareCondition(self.operator, question_id, 2))
        condition_id = await self.ctf.functions.getConditionId(self.operator, question_id, 2).call()
        yes, no = [await self.position_id(condition_id, index_set) for index_set in (1, 2)]
        return Market(
            question_id=_hex32(question_id),
            condition_id=_hex32(condition_id),
            yes_token=str(yes),
            no_token=str(no),
        )

    async def position_id(self, condition_id: bytes | str, index_set: int) -> int:
        """The ERC-1155 id of one outcome (collateral: the underlying, as through the adapter)."""
        collection = await self.ctf.functions.getCollectionId(
            b"\x00" * 32, condition_id, index_set
        ).call()
        return int(
            await self.ctf.functions.getPositionId(self.deployment.underlying, collection).call()
        )

    async def resolve(self, market: Market, winner_index: int) -> str:
        """Report the payouts: ``winner_index`` 0 (YES) or 1 (NO) takes everything."""
        payouts = [1 if i == winner_index else 0 for i in range(2)]
        return await self.send(
            self.ctf.functions.reportPayouts(bytes.fromhex(market.question_id[2:]), payouts)
        )

    async def stock(self, market: Market, amount: int, *, neg_risk: bool = False) -> None:
        """Give the exchange stand-in ``amount`` of both outcomes (from fresh pUSD)."""
        exchange = self.exchange(neg_risk=neg_risk)
        await self.fund(exchange.address, pusd=amount)
        await self.send(exchange.functions.stock(bytes.fromhex(market.condition_id[2:]), amount))

    async def settle(
        self,
        wallet: str,
        token_id: str,
        *,
        buy: bool,
        shares: int,
        cash: int,
        neg_risk: bool = False,
    ) -> str:
        """Settle one fill of ``wallet`` at the exchange stand-in; the transaction hash."""
        exchange = self.exchange(neg_risk=neg_risk)
        call = exchange.functions.settle(
            self.w3.to_checksum_address(wallet), int(token_id), buy, shares, cash
        )
        return await self.send(call)

    # ---- reads -------------------------------------------------------------------------------

    async def pusd_balance(self, address: str) -> int:
        """pUSD micro-units held by ``address``."""
        return int(await self.pusd.functions.balanceOf(self.w3.to_checksum_address(address)).call())

    async def token_balance(self, address: str, token_id: str | int) -> int:
        """Outcome-token micro-units held by ``address``."""
        owner = self.w3.to_checksum_address(address)
        return int(await self.ctf.functions.balanceOf(owner, int(token_id)).call())
