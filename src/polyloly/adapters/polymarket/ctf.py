"""The on-chain port: merge, redeem, allowances and balances on Polygon, through web3.py.

* :class:`OnChainCtf` implements :class:`~polyloly.execution.ports.Merger`,
  :class:`~polyloly.execution.chain_ports.Redeemer`,
  :class:`~polyloly.execution.chain_ports.Allowances` and
  :class:`~polyloly.execution.chain_ports.ChainBalances`. Merge and redeem call the CLOB V2
  **collateral adapter** (neg-risk markets: the neg-risk one) with the CTF's own signatures —
  ``mergePositions(pUSD, 0x0, conditionId, [1, 2], amount)`` and
  ``redeemPositions(pUSD, 0x0, conditionId, [1, 2])`` — which unwraps/wraps pUSD (Polymarket
  reference §5). The adapter moves the wallet's positions itself, so the CTF
  ``setApprovalForAll(adapter)`` must be set first.
* Who sends: an EOA (signature type 0) signs and sends its own EIP-1559 transactions
  (:class:`EoaSender`: gas estimated, fees from the latest base fee, nonces kept locally and
  re-read from the chain after any doubt, a receipt wait with a timeout); a proxy, Safe or
  deposit wallet (types 1–3) sends through Polymarket's relayer
  (:mod:`polyloly.adapters.polymarket.relayer`), gasless.
* **A lost reply is never resent.** The transaction hash is known before the transaction
  leaves (it is the hash of the signed bytes); when the node's reply is lost the hash is
  looked up: found, its receipt is awaited as usual; not found, the call raises
  :class:`~polyloly.runtime.errors.UnknownOutcomeError` naming the hash, and reconciliation
  settles it from balances. Errors: RPC unreachable before sending → ``RetryableError``;
  sent but no receipt in time → ``UnknownOutcomeError``; a revert (at estimation or mined)
  → ``RejectError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import aiohttp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import AsyncHTTPProvider, AsyncWeb3, Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from polyloly.adapters.polymarket.config import Secret
from polyloly.execution.chain_ports import AllowanceKind, AllowanceStatus, RedeemResult
from polyloly.execution.ports import Balances, MergeResult, RejectCode
from polyloly.runtime.errors import RejectError, RetryableError, UnknownOutcomeError

__all__ = [
    "POLYGON_CONTRACTS",
    "ChainConfig",
    "ChainContracts",
    "EoaSender",
    "OnChainCtf",
    "Sender",
    "TxOutcome",
    "connect",
]

PARTITION: Final = [1, 2]
"""Binary markets: index sets of YES (outcome 0) and NO (outcome 1)."""
ZERO32: Final = b"\x00" * 32
UNLIMITED: Final = 2**256 - 1
ENOUGH_ALLOWANCE: Final = 2**128
"""A pUSD allowance at or above this is shown as unlimited and never runs out."""


@dataclass(frozen=True, slots=True)
class ChainContracts:
    """Contract addresses (Polygon mainnet by default; the local chain prints its own)."""

    pusd: str
    ctf: str
    exchange: str
    neg_risk_exchange: str
    adapter: str
    neg_risk_adapter: str

    def spenders(self) -> list[AllowanceKind]:
        """Every approval a trading wallet needs (Polymarket reference §5, §8)."""
        kinds = []
        for name in ("exchange", "neg_risk_exchange", "adapter", "neg_risk_adapter"):
            address = getattr(self, name)
            kinds.append(AllowanceKind(asset="pusd", spender_name=name, spender=address))
            kinds.append(AllowanceKind(asset="ctf", spender_name=name, spender=address))
        return kinds


POLYGON_CONTRACTS: Final = ChainContracts(
    pusd="0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB",
    ctf="0x4D97DCd97eC945f40cF65F87097ACe5EA0476045",
    exchange="0xE111180000d2663C0091e4f400237545B87B996B",
    neg_risk_exchange="0xe2222d279d744050d28e00520010520000310F59",
    adapter="0xAdA100Db00Ca00073811820692005400218FcE1f",
    neg_risk_adapter="0xadA2005600Dec949baf300f4C6120000bDB6eAab",
)


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """How to reach the chain and how to pay for it.

    ``rpc_url`` is a :class:`Secret`: provider URLs often carry an API key. Fees: the max fee
    is ``base_fee_multiplier`` × the latest base fee plus the tip (the node's
    ``eth_maxPriorityFeePerGas``, or ``priority_fee_wei``); a max fee above
    ``max_fee_per_gas_wei`` is refused instead of sent. The gas limit is the estimate plus
    ``gas_headroom_pct`` %.
    """

    rpc_url: Secret
    chain_id: int = 137
    contracts: ChainContracts = POLYGON_CONTRACTS
    receipt_timeout_s: float = 120.0
    poll_interval_s: float = 0.5
    request_timeout_s: float = 10.0
    gas_headroom_pct: int = 20
    base_fee_multiplier: int = 2
    priority_fee_wei: int | None = None
    max_fee_per_gas_wei: int = 2_000 * 10**9


_ERC20_ABI: Final = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "allowance",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "approve",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]
_POSITIONS_ARGS: Final = [
    {"name": "collateralToken", "type": "address"},
    {"name": "parentCollectionId", "type": "bytes32"},
    {"name": "conditionId", "type": "bytes32"},
]
_CTF_ABI: Final = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "id", "type": "uint256"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "isApprovedForAll",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "operator", "type": "address"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "name": "setApprovalForAll",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "operator", "type": "address"}, {"name": "approved", "type": "bool"}],
        "outputs": [],
    },
    {
        "name": "payoutDenominator",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "conditionId", "type": "bytes32"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]
_ADAPTER_ABI: Final = [
    {
        "name": "mergePositions",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [
            *_POSITIONS_ARGS,
            {"name": "partition", "type": "uint256[]"},
            {"name": "amount", "type": "uint256"},
        ],
        "outputs": [],
    },
    {
        "name": "redeemPositions",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [*_POSITIONS_ARGS, {"name": "indexSets", "type": "uint256[]"}],
        "outputs": [],
    },
]


def connect(config: ChainConfig) -> AsyncWeb3[Any]:
    """An async web3 on the RPC endpoint, with web3's own retries off (never a blind resend)."""
    provider = AsyncHTTPProvider(
        config.rpc_url.reveal(),
        request_kwargs={"timeout": aiohttp.ClientTimeout(total=config.request_timeout_s)},
        exception_retry_configuration=None,
    )
    return AsyncWeb3(provider)


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """A mined transaction: hash, gas used, the price paid per gas, block, wall time."""

    transaction_hash: str
    gas_used: int
    effective_gas_price: int
    block_number: int
    logs: tuple[Any, ...] = ()
    looked_up: bool = False  # the send's reply was lost; found by its hash

    @property
    def fee_wei(self) -> int:
        """What the transaction cost in the native token (wei)."""
        return self.gas_used * self.effective_gas_price


class Sender(Protocol):
    """Sends one contract call from the trading wallet and waits until it is mined."""

    address: str

    async def send(self, call: Any, what: str) -> TxOutcome:
        """Send ``call`` (a web3 contract function with its arguments); the mined outcome."""
        ...


SentHook = Callable[[str, str], object]
"""Called with (what, transaction hash) just before the signed transaction leaves."""


def _revert_reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return str(message).removeprefix("execution reverted: ").strip()[:200] or "reverted"


_NOT_SENT: Final = (aiohttp.ClientConnectorError,)
"""The connection could not be opened: the request never left."""
_MAYBE_SENT: Final = (
    TimeoutError,
    aiohttp.ClientError,  # a dropped connection, a reply cut short: it may have arrived
    ConnectionError,
)


@dataclass
class EoaSender:
    """Signature type 0: the wallet signs and pays for its own EIP-1559 transactions."""

    w3: AsyncWeb3[Any]
    account: LocalAccount
    config: ChainConfig
    on_sent: SentHook | None = None
    address: str = field(init=False)
    _nonce: int | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self.address = self.account.address

    @classmethod
    def of(
        cls, w3: AsyncWeb3[Any], private_key: Secret, config: ChainConfig, **kw: Any
    ) -> EoaSender:
        """From the wallet's private key (kept inside the eth-account signer)."""
        return cls(w3, Account.from_key(private_key.reveal()), config, **kw)

    async def send(self, call: Any, what: str) -> TxOutcome:
        """Estimate, price, sign, send once, then wait for the receipt."""
        async with self._lock:  # one nonce at a time
            tx_hash, looked_up = await self._send_locked(call, what)
        outcome = await wait_receipt(self.w3, tx_hash, what, self.config)
        return TxOutcome(
            transaction_hash=outcome.transaction_hash,
            gas_used=outcome.gas_used,
            effective_gas_price=outcome.effective_gas_price,
            block_number=outcome.block_number,
            logs=outcome.logs,
            looked_up=looked_up,
        )

    async def _send_locked(self, call: Any, what: str) -> tuple[str, bool]:
        sender = self.account.address
        try:
            gas = await call.estimate_gas({"from": sender})
            nonce = self._nonce
            if nonce is None:
                nonce = await self.w3.eth.get_transaction_count(sender, "pending")
            tip, max_fee = await self._fees()
        except ContractLogicError as exc:
            raise RejectError(
                f"{what} would revert: {_revert_reason(exc)}", code=_code(what)
            ) from exc
        except Web3RPCError as exc:
            raise RejectError(
                f"{what} refused by the node: {_revert_reason(exc)}", code=_code(what)
            ) from exc
        except (*_NOT_SENT, *_MAYBE_SENT) as exc:  # reads only so far: nothing was sent
            raise RetryableError(f"{what}: RPC unreachable ({type(exc).__name__})") from exc
        tx = await call.build_transaction(
            {
                "from": sender,
                "nonce": nonce,
                "gas": gas * (100 + self.config.gas_headroom_pct) // 100,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip,
                "chainId": self.config.chain_id,
                "type": 2,
            }
        )
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        if self.on_sent is not None:
            self.on_sent(what, tx_hash)
        try:
            await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except _NOT_SENT as exc:
            raise RetryableError(f"{what}: RPC unreachable ({type(exc).__name__})") from exc
        except _MAYBE_SENT as exc:
            # The reply is lost: the transaction may be in the pool. Never resend: look it up.
            self._nonce = None
            if await self._known(tx_hash):
                self._nonce = nonce + 1
                return tx_hash, True
            raise UnknownOutcomeError(
                f"{what}: reply lost ({type(exc).__name__}); {tx_hash} not found by its hash"
            ) from exc
        except Web3RPCError as exc:
            self._nonce = None
            if await self._known(tx_hash):  # "already known": the same bytes arrived before
                return tx_hash, True
            raise RejectError(
                f"{what} refused by the node: {_revert_reason(exc)}", code=_code(what)
            ) from exc
        self._nonce = nonce + 1
        return tx_hash, False

    async def _known(self, tx_hash: str) -> bool:
        try:
            await self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        except (*_NOT_SENT, *_MAYBE_SENT):
            return False
        return True

    async def _fees(self) -> tuple[int, int]:
        block = await self.w3.eth.get_block("latest")
        base = int(block.get("baseFeePerGas", 0) or 0)
        tip = self.config.priority_fee_wei
        if tip is None:
            tip = int(await self.w3.eth.max_priority_fee)
        max_fee = base * self.config.base_fee_multiplier + tip
        if max_fee > self.config.max_fee_per_gas_wei:
            raise RejectError(
                f"gas price {max_fee / 1e9:.1f} gwei above the cap "
                f"{self.config.max_fee_per_gas_wei / 1e9:.1f} gwei (polymarket.chain.max_fee_gwei)",
                code=RejectCode.REJECTED,
            )
        return tip, max_fee


def _code(what: str) -> str:
    return RejectCode.MERGE_REFUSED if what.startswith("merge") else RejectCode.REJECTED


async def wait_receipt(
    w3: AsyncWeb3[Any], tx_hash: str, what: str, config: ChainConfig
) -> TxOutcome:
    """Poll for the receipt until ``receipt_timeout_s``; a revert is a ``RejectError``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.receipt_timeout_s
    while True:
        receipt = None
        with contextlib.suppress(TransactionNotFound, *_NOT_SENT, *_MAYBE_SENT):
            receipt = await w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        if receipt is not None:
            break
        if loop.time() >= deadline:
            raise UnknownOutcomeError(
                f"{what}: sent as {tx_hash}, no receipt within {config.receipt_timeout_s:g} s"
            )
        await asyncio.sleep(config.poll_interval_s)
    if receipt["status"] != 1:
        raise RejectError(f"{what}: {tx_hash} reverted on-chain", code=_code(what))
    return TxOutcome(
        transaction_hash=tx_hash,
        gas_used=int(receipt["gasUsed"]),
        effective_gas_price=int(receipt.get("effectiveGasPrice", 0) or 0),
        block_number=int(receipt["blockNumber"]),
        logs=tuple(receipt.get("logs", ())),
    )


class OnChainCtf:
    """Merge, redeem, allowances and balances of one wallet, on-chain.

    ``neg_risk_of(condition_id)`` says which adapter a market goes through. ``sender`` is an
    :class:`EoaSender` or a relayer sender; ``holder`` is the address holding the funds (the
    EOA itself, or the proxy / Safe / deposit wallet).
    """

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        config: ChainConfig,
        sender: Sender,
        *,
        holder: str | None = None,
        neg_risk_of: Callable[[str], bool] = lambda _cid: False,
        tokens_of: Callable[[str], tuple[str, str] | None] = lambda _cid: None,
    ) -> None:
        self.w3 = w3
        self.config = config
        self.sender = sender
        self.holder = w3.to_checksum_address(holder or sender.address)
        self.neg_risk_of = neg_risk_of
        self.tokens_of = tokens_of
        c = config.contracts
        self.pusd = w3.eth.contract(address=w3.to_checksum_address(c.pusd), abi=_ERC20_ABI)
        self.ctf = w3.eth.contract(address=w3.to_checksum_address(c.ctf), abi=_CTF_ABI)
        self.last: TxOutcome | None = None

    def adapter(self, condition_id: str) -> Any:
        """The collateral adapter contract for this market (neg-risk or not)."""
        c = self.config.contracts
        address = c.neg_risk_adapter if self.neg_risk_of(condition_id) else c.adapter
        return self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=_ADAPTER_ABI)

    async def aclose(self) -> None:
        """Close the RPC connection pool."""
        with contextlib.suppress(Exception):
            await self.w3.provider.disconnect()

    # ---- Merger / Redeemer -------------------------------------------------------------------

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        """``mergePositions(pUSD, 0x0, conditionId, [1, 2], size)`` through the adapter."""
        if size <= 0:
            raise RejectError(f"merge size {size} must be > 0", code=RejectCode.MERGE_REFUSED)
        await self._need_operator(condition_id, "merge")
        call = self.adapter(condition_id).functions.mergePositions(
            self.pusd.address, ZERO32, _bytes32(condition_id), PARTITION, size
        )
        outcome = await self.sender.send(call, f"merge {size} of {condition_id}")
        self.last = outcome
        return MergeResult(
            condition_id=condition_id, size=size, transaction_hash=outcome.transaction_hash
        )

    async def redeem(self, condition_id: str) -> RedeemResult:
        """``redeemPositions(pUSD, 0x0, conditionId, [1, 2])``: all positions for their payout."""
        resolved = await self._call(self.ctf.functions.payoutDenominator(_bytes32(condition_id)))
        if not resolved:  # the oracle's report may land after the CLOB closes the market
            raise RetryableError(f"redeem {condition_id}: the market is not resolved on-chain yet")
        await self._need_operator(condition_id, "redeem")
        call = self.adapter(condition_id).functions.redeemPositions(
            self.pusd.address, ZERO32, _bytes32(condition_id), PARTITION
        )
        outcome = await self.sender.send(call, f"redeem {condition_id}")
        self.last = outcome
        payout, burned = self._moved(outcome.logs)
        return RedeemResult(
            condition_id=condition_id,
            payout=payout,
            transaction_hash=outcome.transaction_hash,
            burned=burned,
        )

    def _moved(self, logs: Sequence[Any]) -> tuple[int, dict[str, int]]:
        """pUSD received and positions given up by the holder, from the receipt's own logs."""
        holder = self.holder.lower()
        received = 0
        given: dict[str, int] = {}
        for log in logs:
            topics = [bytes(t) for t in log["topics"]]
            if not topics:
                continue
            address = str(log["address"]).lower()
            data = bytes(log["data"])
            if address == self.pusd.address.lower() and topics[0] == _TRANSFER:
                if _topic_address(topics[2]) == holder:
                    received += int.from_bytes(data[:32], "big")
                if _topic_address(topics[1]) == holder:
                    received -= int.from_bytes(data[:32], "big")
            elif (
                address == self.ctf.address.lower()
                and topics[0] == _TRANSFER_SINGLE
                and _topic_address(topics[2]) == holder
            ):
                token = str(int.from_bytes(data[:32], "big"))
                given[token] = given.get(token, 0) + int.from_bytes(data[32:64], "big")
        return received, given

    async def _need_operator(self, condition_id: str, what: str) -> None:
        adapter = self.adapter(condition_id).address
        approved = await self._call(self.ctf.functions.isApprovedForAll(self.holder, adapter))
        if not approved:
            name = "neg_risk_adapter" if self.neg_risk_of(condition_id) else "adapter"
            raise RejectError(
                f"{what} {condition_id}: missing allowance CTF setApprovalForAll → {name} "
                f"({adapter}) for {self.holder}; run `polyloly approve` (doctor lists it)",
                code=RejectCode.MERGE_REFUSED if what == "merge" else RejectCode.REJECTED,
            )

    # ---- Allowances --------------------------------------------------------------------------

    async def read(self) -> list[AllowanceStatus]:
        """Every approval the wallet needs, read from the chain."""
        out = []
        for kind in self.config.contracts.spenders():
            spender = self.w3.to_checksum_address(kind.spender)
            if kind.asset == "pusd":
                amount = int(await self._call(self.pusd.functions.allowance(self.holder, spender)))
                out.append(AllowanceStatus(kind=kind, amount=amount, ok=amount >= ENOUGH_ALLOWANCE))
            else:
                approved = bool(
                    await self._call(self.ctf.functions.isApprovedForAll(self.holder, spender))
                )
                out.append(AllowanceStatus(kind=kind, amount=int(approved), ok=approved))
        return out

    async def approve_missing(self) -> list[str]:
        """Send one approval per missing one (pUSD: unlimited; CTF: operator)."""
        sent = []
        for status in await self.read():
            if status.ok:
                continue
            spender = self.w3.to_checksum_address(status.kind.spender)
            if status.kind.asset == "pusd":
                call = self.pusd.functions.approve(spender, UNLIMITED)
            else:
                call = self.ctf.functions.setApprovalForAll(spender, True)
            outcome = await self.sender.send(call, f"approve {status.label}")
            sent.append(outcome.transaction_hash)
        return sent

    # ---- Balances ----------------------------------------------------------------------------

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """pUSD and the given outcome tokens of the holder, from the chain."""
        collateral = int(await self._call(self.pusd.functions.balanceOf(self.holder)))
        tokens = {}
        for token in token_ids:
            held = await self._call(self.ctf.functions.balanceOf(self.holder, int(token)))
            tokens[token] = int(held)
        return Balances(collateral=collateral, tokens=tokens)

    async def _call(self, fn: Any) -> Any:
        try:
            return await fn.call()
        except (*_NOT_SENT, *_MAYBE_SENT) as exc:
            raise RetryableError(f"chain read failed ({type(exc).__name__})") from exc


_TRANSFER: Final = bytes(Web3.keccak(text="Transfer(address,address,uint256)"))
_TRANSFER_SINGLE: Final = bytes(
    Web3.keccak(text="TransferSingle(address,address,address,uint256,uint256)")
)


def _topic_address(topic: bytes) -> str:
    return "0x" + topic[-20:].hex()


def _bytes32(hex_id: str) -> bytes:
    raw = bytes.fromhex(hex_id.removeprefix("0x"))
    if len(raw) != 32:
        raise RejectError(f"condition id {hex_id!r} is not 32 bytes of hex")
    return raw
