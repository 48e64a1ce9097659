"""``polyloly demo --chain``: the demo settling on a real local chain.

anvil (chain id 137) runs with the contracts written here (:mod:`polyloly.sim.chain`); the
exchange simulator settles every fill of the bot's wallet on it (:class:`ChainBridge`); the
wallet approves the exchange and the collateral adapters like a real one; the bot's own
on-chain port (``polymarket.chain.deployment`` → :mod:`polyloly.bot.chain`) merges pairs and
redeems resolved winners, each a logged intent through the risk gate. The run's summary
lists every merge and redemption with its transaction hash, read back from the chain.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyloly.bot.chain import build_onchain
from polyloly.domain.money import fmt
from polyloly.execution.events import MergeCompleted, ReconciliationCompleted, RedeemCompleted
from polyloly.sim.chain.anvil import Anvil
from polyloly.sim.chain.bridge import ChainBridge
from polyloly.sim.chain.deploy import LocalChain

if TYPE_CHECKING:
    from polyloly.bot.app import TradingNode
    from polyloly.bot.settings import Settings

__all__ = ["DemoChain"]

_RECYCLE_WAIT_S = 20.0


@dataclass
class DemoChain:
    """anvil, the deployment and the simulator's bridge for one demo run."""

    node: Anvil
    chain: LocalChain
    bridge: ChainBridge
    deployment_path: Path
    seen: list[MergeCompleted | RedeemCompleted] = field(default_factory=list)
    passes: list[ReconciliationCompleted] = field(default_factory=list)
    _passed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def start(cls, world: Any, out: Path) -> DemoChain:
        """Start anvil, deploy, attach the bridge to the world's exchange (before listing)."""
        node = Anvil(chain_id=137)
        await node.start()
        try:
            chain = await LocalChain.deploy(node.rpc_url)
        except BaseException:
            node.stop()
            raise
        path = out / "chain.json"
        await asyncio.to_thread(path.write_text, chain.deployment.to_json() + "\n")
        bridge = ChainBridge(chain, world.exchange.venue)
        bridge.attach()
        return cls(node, chain, bridge, path)

    def overrides(self) -> dict[str, Any]:
        """Settings that point the bot's on-chain port at this chain."""
        return {
            "adapters.polymarket.chain.deployment": str(self.deployment_path),
            "adapters.polymarket.chain.recycle.idle_s": "5",
            "adapters.polymarket.chain.recycle.gas_pusd": "0.01",
        }

    async def approve(self, settings: Settings, address: str) -> None:
        """Open (and so fund) the wallet, wait for the chain, set every approval."""
        self.bridge.venue.accounts.open(address)
        await self.bridge.settled()
        port = build_onchain(settings)
        try:
            await port.approve_missing()
            missing = [s.label for s in await port.read() if not s.ok]
        finally:
            await port.aclose()
        if missing:
            raise RuntimeError("approvals missing on the local chain: " + ", ".join(missing))

    async def wait_recycled(self, node: TradingNode) -> None:
        """Until the recycler has nothing in flight (or the wait runs out)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _RECYCLE_WAIT_S
        engine = node.engine
        while loop.time() < deadline:
            recycler = engine.recycler
            busy = recycler is not None and any(m.pending for m in recycler.markets.values())
            resolved_unredeemed = recycler is not None and any(
                m.winner and not m.redeemed and _holds(engine.state, m.tokens)
                for m in recycler.markets.values()
            )
            if not busy and not resolved_unredeemed:
                break
            await asyncio.sleep(0.2)
        await engine.idle()
        await self.bridge.settled()

    async def finish(self, node: TradingNode) -> str:
        """Wait for recycling, then reconcile the ledger against the chain's balances.

        Returns the problem, or ``""`` when the ledger matches the chain.
        """
        await self.wait_recycled(node)
        return await self.reconcile(node)

    async def reconcile(self, node: TradingNode) -> str:
        """A last reconciliation pass against the chain's balances; its verdict, one line."""
        seen = len(self.passes)
        self._passed.clear()
        node.engine.reconciler.request()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_RECYCLE_WAIT_S):
                while len(self.passes) == seen:
                    await self._passed.wait()
                    self._passed.clear()
        if len(self.passes) == seen:
            return "no reconciliation pass finished"
        last = self.passes[-1]
        if not last.ok:
            return f"reconciliation against the chain failed: {last.reason}"
        if not last.balances_checked:
            return "reconciliation passed but could not compare balances (trades settling)"
        return ""

    def watch(self, node: TradingNode) -> None:
        """Keep the node's completed merges and redemptions (subscribe once it started)."""
        kernel = node.kernel
        if kernel is not None:
            kernel.subscribe(MergeCompleted, self.seen.append)
            kernel.subscribe(RedeemCompleted, self.seen.append)
            kernel.subscribe(ReconciliationCompleted, self._on_pass)

    def _on_pass(self, event: ReconciliationCompleted) -> None:
        self.passes.append(event)
        self._passed.set()

    def transactions(self) -> list[str]:
        """``merge …`` / ``redeem …`` lines with their transaction hashes."""
        out = []
        for event in self.seen:
            if isinstance(event, MergeCompleted):
                r = event.result
                out.append(
                    f"merge  {fmt(r.size, 2)} pairs of {r.condition_id[:10]}… → "
                    f"+{fmt(r.size, 2)} pUSD  tx {r.transaction_hash}"
                )
            else:
                rr = event.result
                out.append(
                    f"redeem {fmt(sum(rr.burned.values()), 2)} tokens of {rr.condition_id[:10]}… "
                    f"→ +{fmt(rr.payout, 2)} pUSD  tx {rr.transaction_hash}"
                )
        return out

    async def stop(self) -> None:
        """Stop the bridge and anvil."""
        await self.bridge.stop()
        await self.chain.close()
        self.node.stop()


def _holds(state: Any, tokens: tuple[str, str] | None) -> bool:
    if tokens is None:
        return False
    return any(state.position(t).confirmed > 0 for t in tokens)
