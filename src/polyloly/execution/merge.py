"""Merge complete YES+NO pairs back into pUSD, behind the :class:`Merger` port.

A ``MergeIntent`` approved by the risk gate becomes a :class:`MergeRequested` (after
checking that ``size`` pairs are held, confirmed, and not promised to open sell orders),
then a task calls the merger and publishes :class:`MergeCompleted` or
:class:`MergeFailed`. The ledger turns a completed merge into −size of each token and
+size pUSD.

A merge is an on-chain write and is *not* idempotent: a reply lost after the transaction
was sent is not retried blindly. It is reported as failed with an unknown outcome and a
reconciliation pass is requested; the balances then show whether it happened.

The on-chain implementation (CTF ``mergePositions`` through the V2 collateral adapter) is
described in ``docs/execution.md``; the paper venue and the test fakes implement the port
in memory.
"""

from __future__ import annotations

from collections.abc import Callable

from polyloly.bot.errors import PolylolyError, RetryableError, UnknownOutcomeError
from polyloly.bot.kernel import Kernel
from polyloly.domain.events import Side
from polyloly.domain.intents import MergeIntent, RiskDecision
from polyloly.execution.events import (
    ExecutionAnomaly,
    MergeCompleted,
    MergeFailed,
    MergeRequested,
)
from polyloly.execution.ports import Merger
from polyloly.execution.retry import RetryPolicy, Sleep
from polyloly.execution.state import ExecutionState
from polyloly.execution.tasks import TaskOwner

__all__ = ["MergeManager", "mergeable_pairs"]

TokensOf = Callable[[str], tuple[str, str] | None]
"""A market's two outcome token ids (the market registry), or ``None`` if unknown."""


def mergeable_pairs(state: ExecutionState, tokens: tuple[str, str]) -> int:
    """Complete pairs that can be merged now: confirmed, not reserved by open sells."""
    free = []
    for token in tokens:
        held = state.position(token).confirmed
        pending = state.position(token).pending
        held += min(pending, 0)  # shares already sold but not settled are not ours to burn
        reserved = sum(
            o.remaining for o in state.open_orders() if o.token_id == token and o.side is Side.SELL
        )
        free.append(max(held - reserved, 0))
    return min(free)


class MergeManager:
    """Turns approved merge intents into merges through the port."""

    def __init__(
        self,
        kernel: Kernel,
        state: ExecutionState,
        merger: Merger,
        tasks: TaskOwner,
        *,
        sleep: Sleep,
        retry: RetryPolicy | None = None,
        tokens_of: TokensOf | None = None,
        on_unknown: Callable[[], object] | None = None,
    ) -> None:
        self.kernel = kernel
        self.state = state
        self.merger = merger
        self.tasks = tasks
        self.sleep = sleep
        self.retry = retry or RetryPolicy(max_attempts=4)
        self.tokens_of = tokens_of
        self.on_unknown = on_unknown
        self._intents: dict[str, MergeIntent] = {}

    def attach(self) -> None:
        """Subscribe to merge intents, decisions and requests."""
        self.kernel.subscribe(MergeIntent, self._on_intent)
        self.kernel.subscribe(RiskDecision, self._on_decision)
        self.kernel.subscribe(MergeRequested, self._on_requested)

    def tokens(self, market: str) -> tuple[str, str] | None:
        """The market's two tokens, from the registry or else from what the ledger saw."""
        if self.tokens_of is not None:
            found = self.tokens_of(market)
            if found is not None:
                return found
        seen = self.state.market_tokens(market)
        return (seen[0], seen[1]) if len(seen) == 2 else None

    def _on_intent(self, intent: MergeIntent) -> None:
        self._intents[intent.intent_id] = intent

    def _on_decision(self, decision: RiskDecision) -> None:
        intent = self._intents.pop(decision.intent_id, None)
        if intent is None or not decision.approved:
            return
        now = self.kernel.now_ns()
        tokens = self.tokens(intent.market)
        if tokens is None:
            self._anomaly("merge_unknown_market", intent.intent_id, intent.market)
            return
        available = mergeable_pairs(self.state, tokens)
        if intent.size <= 0 or intent.size > available:
            self._anomaly(
                "merge_insufficient", intent.intent_id, f"size {intent.size} > {available}"
            )
            return
        self.kernel.emit(
            MergeRequested(
                ts_event=now,
                ts_init=now,
                intent_id=intent.intent_id,
                market=intent.market,
                token_ids=tokens,
                size=intent.size,
            )
        )

    def _on_requested(self, event: MergeRequested) -> None:
        self.kernel.flush()
        self.tasks.spawn(f"merge:{event.intent_id}", self._merge(event))

    async def _merge(self, event: MergeRequested) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self.merger.merge(event.market, event.size)
            except UnknownOutcomeError as exc:
                self._failed(event, f"outcome unknown: {exc}")
                if self.on_unknown is not None:
                    self.on_unknown()
                return
            except RetryableError as exc:
                if attempt >= self.retry.max_attempts:
                    self._failed(event, str(exc))
                    return
                await self.sleep(self.retry.delay_ns(attempt))
                continue
            except PolylolyError as exc:
                self._failed(event, str(exc))
                return
            now = self.kernel.now_ns()
            self.kernel.publish(
                MergeCompleted(
                    ts_event=now,
                    ts_init=now,
                    intent_id=event.intent_id,
                    token_ids=event.token_ids,
                    result=result,
                )
            )
            return

    def _failed(self, event: MergeRequested, error: str) -> None:
        now = self.kernel.now_ns()
        self.kernel.publish(
            MergeFailed(
                ts_event=now,
                ts_init=now,
                intent_id=event.intent_id,
                market=event.market,
                size=event.size,
                error=error,
            )
        )

    def _anomaly(self, kind: str, subject: str, detail: str) -> None:
        now = self.kernel.now_ns()
        self.kernel.emit(
            ExecutionAnomaly(ts_event=now, ts_init=now, kind=kind, subject=subject, detail=detail)
        )
