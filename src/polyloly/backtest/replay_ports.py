"""Venue ports for replays: signers that need no key, a venue that never answers, alerts kept.

* :class:`DigestSigner` — the order hash is a SHA-256 of the spec (paper trading and
  simulated replays);
* :class:`RecordedSigner` — an exact replay's signer: the recorded signed order when the
  spec is the recorded one;
* :class:`InertVenue` — every call waits forever (in an exact replay the recording answers);
* :class:`KeptAlerts` — alerts are kept, never sent.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence

import msgspec

from polyloly.execution.chain_ports import RedeemResult
from polyloly.execution.ports import (
    Alert,
    Balances,
    CancelResult,
    MergeResult,
    OrderSpec,
    SignedOrder,
    SubmitResult,
    TradeReport,
    VenueOrder,
)

__all__ = ["DigestSigner", "InertVenue", "KeptAlerts", "RecordedSigner"]


class DigestSigner:
    """Signs nothing: the order hash is a SHA-256 of the spec (paper trading, simulations)."""

    def sign(self, spec: OrderSpec) -> SignedOrder:
        """Return the order with a hash that identifies its spec."""
        digest = hashlib.sha256(msgspec.json.encode(spec)).hexdigest()
        return SignedOrder(order_hash="0x" + digest, spec=spec)


class RecordedSigner:
    """Returns the recorded signed order when the spec is the recorded one, else a digest.

    Signing is deterministic per spec (the salt and timestamp come from the intent, and
    the signature scheme is deterministic), so a recorded order *is* what signing the
    same spec gives; the key is not needed, and never stored.
    """

    def __init__(self, recorded: Mapping[str, SignedOrder]) -> None:
        self.recorded = dict(recorded)
        self.fallback = DigestSigner()
        self.reused = 0
        self.unrecorded = 0

    def sign(self, spec: OrderSpec) -> SignedOrder:
        """The recorded order for an identical spec, or a digest-hashed one."""
        found = self.recorded.get(spec.client_id)
        if found is not None and found.spec == spec:
            self.reused += 1
            return found
        self.unrecorded += 1
        return self.fallback.sign(spec)


class InertVenue:
    """Every venue call waits forever: in an exact replay, the recording answers."""

    async def _never(self) -> None:
        await asyncio.Event().wait()

    async def submit(self, order: SignedOrder) -> SubmitResult:
        """Never answers."""
        await self._never()
        raise AssertionError("unreachable")

    async def lookup(self, order_hash: str) -> VenueOrder | None:
        """Never answers."""
        await self._never()
        return None

    async def cancel(self, order_hashes: Sequence[str]) -> CancelResult:
        """Never answers."""
        await self._never()
        return CancelResult()

    async def cancel_all(self) -> CancelResult:
        """Never answers."""
        await self._never()
        return CancelResult()

    async def open_orders(self) -> list[VenueOrder]:
        """Never answers."""
        await self._never()
        return []

    async def trades(self, after_ns: int) -> list[TradeReport]:
        """Never answers."""
        await self._never()
        return []

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """Never answers."""
        await self._never()
        return Balances(collateral=0)

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        """Never answers."""
        await self._never()
        return MergeResult(condition_id=condition_id, size=0)

    async def redeem(self, condition_id: str) -> RedeemResult:
        """Never answers."""
        await self._never()
        return RedeemResult(condition_id=condition_id, payout=0)


class KeptAlerts:
    """An alert port that keeps alerts (a replay never notifies anyone)."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        """Keep the alert."""
        self.sent.append(alert)
