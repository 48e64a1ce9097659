"""The exchange simulator's settlement on a local chain, both ways.

With a bridge attached (``polyloly sim exchange --chain``), the simulator:

* lists every market under its on-chain ids (:mod:`.ids`; the oracle is the chain's
  operator) and prepares its condition, then stocks the exchange stand-in with both outcomes;
* funds a wallet on the chain with what its account starts with (fresh, fully backed pUSD,
  plus gas), and mirrors every later change of a wallet's ledger — fills, fees, voided
  fills — as one ``SimExchange.move`` per wallet and flush: pUSD through the wallet's
  ``approve``, positions through its ``setApprovalForAll`` (a missing approval reverts, and
  is counted in :attr:`ChainBridge.failures`);
* takes a wallet's allowances from the chain (0 until its own ``approve`` /
  ``setApprovalForAll`` for the exchange stand-in is mined), so an order of a wallet that has
  not approved is refused with ``not enough balance / allowance``, as on Polymarket;
* reports the payouts when a market resolves;
* reads back what the wallet itself did on the chain (a merge or redemption through the
  collateral adapter, a transfer): every pUSD or position transfer touching a wallet in a
  transaction the operator did not send is applied to the ledger, so balances seen through
  the CLOB and through the chain agree.

Synthetic traders have no chain accounts: the exchange stand-in's inventory is their side.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Final

from eth_abi.abi import decode
from eth_utils.crypto import keccak

from polyloly.sim.chain import ids
from polyloly.sim.chain.deploy import ETHER, LocalChain, Market
from polyloly.sim.exchange.accounts import COLLATERAL
from polyloly.sim.exchange.config import MAX_UINT256

if TYPE_CHECKING:
    from polyloly.sim.exchange.config import Listing
    from polyloly.sim.exchange.venue import Venue

__all__ = ["ChainBridge"]

_TRANSFER: Final = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
_SINGLE: Final = "0x" + keccak(text="TransferSingle(address,address,address,uint256,uint256)").hex()
_BATCH: Final = (
    "0x" + keccak(text="TransferBatch(address,address,address,uint256[],uint256[])").hex()
)
_APPROVAL: Final = "0x" + keccak(text="Approval(address,address,uint256)").hex()
_APPROVAL_FOR_ALL: Final = "0x" + keccak(text="ApprovalForAll(address,address,bool)").hex()
_STOCK: Final = 10_000_000 * 1_000_000
"""Shares of each outcome the exchange stand-in holds per market (its synthetic side)."""
_FLOAT: Final = 100_000_000 * 1_000_000
"""pUSD the exchange stand-in holds to pay sellers."""


def _addr(topic: Any) -> str:
    return "0x" + bytes(topic)[-20:].hex()


class ChainBridge:
    """Settles a :class:`~polyloly.sim.exchange.venue.Venue` on a :class:`LocalChain`."""

    def __init__(self, chain: LocalChain, venue: Venue, *, flush_interval_s: float = 0.05) -> None:
        self.chain = chain
        self.venue = venue
        self.flush_interval_s = flush_interval_s
        self.markets: dict[str, Market] = {}
        self.failures: list[str] = []
        self.moves = 0
        self._jobs: list[Any] = []
        self._pending: dict[str, defaultdict[str, int]] = {}
        self._applying = False
        self._next_block = 0
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._wallets: set[str] = set()
        self._funded: set[str] = set()

    def attach(self) -> None:
        """Hook into the venue: ids, listings, resolutions and every ledger change."""
        self.venue.chain = self
        self.venue.accounts.observer = self._observed

    async def start(self) -> None:
        """Fund the exchange stand-in and start the settling loop."""
        await self._own_tx(self.chain.fund(self.chain.deployment.exchange, pusd=_FLOAT))
        self._next_block = int(await self.chain.w3.eth.block_number) + 1
        self._task = asyncio.create_task(self._run(), name="chain-bridge")

    async def stop(self) -> None:
        """Stop the loop (pending moves are dropped)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def settled(self, timeout_s: float = 10.0) -> None:
        """Wait until every change so far is on the chain (and the chain's read back)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._jobs or self._pending or not self._idle.is_set():
            if loop.time() > deadline:
                raise TimeoutError("the chain bridge did not settle in time")
            await asyncio.sleep(self.flush_interval_s / 2)
        self._idle.clear()
        while not self._idle.is_set():  # one more full pass, reading the chain's latest blocks
            if loop.time() > deadline:
                raise TimeoutError("the chain bridge did not settle in time")
            await asyncio.sleep(self.flush_interval_s / 2)

    # ---- venue hooks (synchronous) -----------------------------------------------------------

    def ids(self, question_id: str) -> tuple[str, str, tuple[str, str]]:
        """On-chain ids of a market whose question id is ``question_id``."""
        d = self.chain.deployment
        condition = ids.condition_id(d.operator, bytes.fromhex(question_id.removeprefix("0x")))
        tokens = tuple(
            str(ids.position_id(d.underlying, ids.collection_id(condition, index_set)))
            for index_set in (1, 2)
        )
        return question_id, "0x" + condition.hex(), (tokens[0], tokens[1])

    def listed(self, listing: Listing) -> None:
        """Prepare the condition and stock the exchange stand-in."""
        market = Market(
            question_id=listing.question_id,
            condition_id=listing.condition_id,
            yes_token=listing.token_ids[0],
            no_token=listing.token_ids[1],
        )
        self.markets[listing.condition_id] = market
        self._jobs.append(("list", market))

    def resolved(self, listing: Listing, winning_token_id: str) -> None:
        """Report the payouts."""
        market = self.markets.get(listing.condition_id)
        if market is not None:
            self._jobs.append(("resolve", market, listing.token_ids.index(winning_token_id)))

    def _observed(self, address: str, asset: str, amount: int, kind: str) -> None:
        if self._applying or address.lower() in self._house():
            return
        key = address.lower()
        self._wallets.add(key)
        if kind == "deposit" and asset == COLLATERAL:
            if key not in self._funded:  # a new wallet: no approval on the chain yet
                self._funded.add(key)
                self.venue.accounts.set_allowance(address, "COLLATERAL", 0)
                self.venue.accounts.set_allowance(address, "CONDITIONAL", 0)
            self._jobs.append(("fund", key, amount))
            return
        self._pending.setdefault(key, defaultdict(int))[asset] += amount
        self._idle.clear()

    def _house(self) -> set[str]:
        return {a.lower() for a in self.venue.house.values()}

    # ---- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._pass()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the simulator keeps running; the failure is counted
                self.failures.append(f"{type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(self.flush_interval_s)

    async def _pass(self) -> None:
        while self._jobs:
            job = self._jobs.pop(0)
            await self._job(job)
        pending, self._pending = self._pending, {}
        for wallet, deltas in pending.items():
            await self._move(wallet, deltas)
        await self._read_back()
        if not self._jobs and not self._pending:
            self._idle.set()

    async def _job(self, job: tuple[Any, ...]) -> None:
        kind = job[0]
        if kind == "list":
            market: Market = job[1]
            question = bytes.fromhex(market.question_id.removeprefix("0x"))
            ctf = self.chain.ctf
            await self._own_tx(
                self.chain.send(ctf.functions.prepareCondition(self.chain.operator, question, 2))
            )
            await self._own_tx(self.chain.stock(market, _STOCK))
        elif kind == "fund":
            await self._own_tx(self.chain.fund(job[1], pusd=job[2], gas_wei=10 * ETHER))
        elif kind == "resolve":
            await self._own_tx(self.chain.resolve(job[1], job[2]))

    async def _move(self, wallet: str, deltas: dict[str, int]) -> None:
        cash = deltas.pop(COLLATERAL, 0)
        tokens = [t for t, n in deltas.items() if n]
        if not tokens and not cash:
            return
        exchange = self.chain.exchange()
        call = exchange.functions.move(
            self.chain.w3.to_checksum_address(wallet),
            [int(t) for t in tokens],
            [deltas[t] for t in tokens],
            cash,
        )
        try:
            await self._own_tx(self.chain.send(call))
            self.moves += 1
        except Exception as exc:  # a missing approval or balance: the chain refused
            self.failures.append(f"move for {wallet}: {exc}"[:300])

    async def _own_tx(self, sending: Any) -> None:
        await sending  # the operator's hashes are kept in ``chain.sent``

    async def _read_back(self) -> None:
        w3 = self.chain.w3
        latest = int(await w3.eth.block_number)
        if latest < self._next_block:
            return
        d = self.chain.deployment
        logs = await w3.eth.get_logs(
            {
                "fromBlock": self._next_block,
                "toBlock": latest,
                "address": [w3.to_checksum_address(d.pusd), w3.to_checksum_address(d.ctf)],
            }
        )
        self._next_block = latest + 1
        for log in logs:
            self._approval(log)
            if "0x" + bytes(log["transactionHash"]).hex() in self.chain.sent:
                continue
            for address, asset, amount in self._changes(log):
                if address in self._wallets:
                    self._apply(address, asset, amount)

    def _approval(self, log: Any) -> None:
        """A wallet's approval of the exchange stand-in: the CLOB's allowance follows it."""
        topics = ["0x" + bytes(t).hex() for t in log["topics"]]
        if len(topics) < 3 or topics[0] not in (_APPROVAL, _APPROVAL_FOR_ALL):
            return
        owner, spender = _addr(log["topics"][1]), _addr(log["topics"][2])
        if owner not in self._wallets or spender != self.chain.deployment.exchange.lower():
            return
        (value,) = decode(["uint256"], bytes(log["data"]))
        if topics[0] == _APPROVAL:
            self.venue.accounts.set_allowance(owner, "COLLATERAL", int(value))
        else:
            self.venue.accounts.set_allowance(owner, "CONDITIONAL", MAX_UINT256 if value else 0)

    def _changes(self, log: Any) -> list[tuple[str, str, int]]:
        topics = ["0x" + bytes(t).hex() for t in log["topics"]]
        data = bytes(log["data"])
        pusd = log["address"].lower() == self.chain.deployment.pusd.lower()
        out: list[tuple[str, str, int]] = []
        if pusd and topics[0] == _TRANSFER:
            sender, receiver = _addr(log["topics"][1]), _addr(log["topics"][2])
            (value,) = decode(["uint256"], data)
            out += [(sender, COLLATERAL, -value), (receiver, COLLATERAL, value)]
        elif topics[0] in (_SINGLE, _BATCH):
            sender, receiver = _addr(log["topics"][2]), _addr(log["topics"][3])
            if topics[0] == _SINGLE:
                token_id, value = decode(["uint256", "uint256"], data)
                pairs = [(token_id, value)]
            else:
                id_list, values = decode(["uint256[]", "uint256[]"], data)
                pairs = list(zip(id_list, values, strict=True))
            for token_id, value in pairs:
                out += [(sender, str(token_id), -value), (receiver, str(token_id), value)]
        return out

    def _apply(self, address: str, asset: str, amount: int) -> None:
        self._applying = True
        try:
            self.venue.accounts.credit(address, asset, amount)
        finally:
            self._applying = False
