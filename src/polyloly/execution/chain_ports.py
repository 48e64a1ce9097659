"""The on-chain ports beside :class:`~polyloly.execution.ports.Merger`: redeem and allowances.

Same contract as every venue port (:mod:`polyloly.execution.ports`): frozen structs in
integer micro-units, vendor failures translated into :mod:`polyloly.runtime.errors`. A
redemption is, like a merge, a non-idempotent on-chain write: a lost reply is looked up by
its transaction hash and never resent (``UnknownOutcomeError`` when it cannot be found).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from polyloly.execution.ports import Balances

__all__ = [
    "AllowanceKind",
    "AllowanceStatus",
    "Allowances",
    "ChainBalances",
    "RedeemResult",
    "Redeemer",
]


class RedeemResult(msgspec.Struct, frozen=True, kw_only=True):
    """A redemption of every position of ``condition_id``: ``payout`` pUSD-micros received."""

    condition_id: str
    payout: int
    transaction_hash: str = ""
    burned: dict[str, int] = msgspec.field(default_factory=dict)


class Redeemer(Protocol):
    """Redeems a resolved market's positions for pUSD (winners 1, losers 0)."""

    async def redeem(self, condition_id: str) -> RedeemResult:
        """Burn every outcome token of ``condition_id`` held for its payout."""
        ...


class AllowanceKind(msgspec.Struct, frozen=True, kw_only=True):
    """One approval the wallet needs: ``asset`` (``pusd`` or ``ctf``) for ``spender``."""

    asset: str  # "pusd": ERC-20 approve; "ctf": ERC-1155 setApprovalForAll
    spender_name: str  # "exchange", "neg_risk_exchange", "adapter", "neg_risk_adapter"
    spender: str


class AllowanceStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What the chain says about one approval: ``amount`` (pUSD) or 0/1 (CTF operator)."""

    kind: AllowanceKind
    amount: int
    ok: bool

    @property
    def label(self) -> str:
        """``pUSD approve → exchange`` / ``CTF setApprovalForAll → adapter``."""
        what = "pUSD approve" if self.kind.asset == "pusd" else "CTF setApprovalForAll"
        return f"{what} → {self.kind.spender_name}"


class Allowances(Protocol):
    """Reads and sets the wallet's pUSD allowances and CTF operator approvals."""

    async def read(self) -> list[AllowanceStatus]:
        """Every approval the wallet needs, as the chain has it now."""
        ...

    async def approve_missing(self) -> list[str]:
        """Set every missing approval; the transaction hashes sent."""
        ...


class ChainBalances(Protocol):
    """The wallet's pUSD and outcome-token balances read from the chain."""

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """pUSD and the given tokens' balances (micro-units)."""
        ...
