"""Merge complete YES+NO pairs back into pUSD, behind the :class:`Merger` port.

A ``MergeIntent`` approved by the risk gate becomes a :class:`MergeRequested` (after
checking that ``size`` pairs are held, confirmed, and not promised to open sell orders),
then a task calls the merger and publishes :class:`MergeCompleted` or
:class:`MergeFailed`. Strategies count a fill as soon as it is MATCHED, so a merge is often
asked for a moment before its last leg is CONFIRMED: when the shortfall is covered by trades
still settling, the merge *waits* for them (re-checked on each ``PositionChanged``) for up to
``confirm_wait_ns`` of event time, instead of being refused; only a real shortfall (or the
wait running out) is an ``ExecutionAnomaly`` ``merge_insufficient``. The ledger turns a
completed merge into −size of each token and +size pUSD.

A merge is an on-chain write and is *not* idempotent: a reply lost after the transaction
was sent is not retried blindly. It is reported as failed with an unknown outcome and a
reconciliation pass is requested; the balances then show whether it happened.

The on-chain implementation (CTF ``mergePositions`` through the V2 collateral adapter) is
described in ``docs/execution.md``; the paper venue and the test fakes implement the port
in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from polyloly.domain.events import TimerTick
from polyloly.domain.intents import MergeIntent, RiskDecision
from polyloly.execution.events import (
    ExecutionAnomaly,
    MergeCompleted,
    MergeFailed,
    MergeRequested,
    PositionChanged,
)
from polyloly.execution.ports import Merger
from polyloly.execution.retry import CallFailure, RetryPolicy, call_unless_unknown
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import Sleep
from polyloly.runtime.tasks import TaskOwner

__all__ = ["MergeManager", "mergeable_pairs"]

TokensOf = Callable[[str], tuple[str, str] | None]
"""A market's two outcome token ids (the market registry), or ``None`` if unknown."""


def mergeable_pairs(
    state: ExecutionState, tokens: tuple[str, str], *, settling: bool = False
) -> int:
    """Complete pairs that can be merged now: confirmed, not reserved by open sells.

    With ``settling=True``: the pairs there will be once every trade still settling
    (MATCHED, MINED, RETRYING) is confirmed.
    """
    free = []
    for token in tokens:
        position = state.position(token)
        held = position.confirmed
        pending = position.pending
        # shares already sold but not settled are not ours to burn; bought ones are ours to
        # wait for
        held += pending if settling else min(pending, 0)
        free.append(max(held - state.open_sells(token), 0))
    return min(free)


@dataclass(slots=True)
class _Waiting:
    intent: MergeIntent
    tokens: tuple[str, str]
    deadline_ns: int


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
        confirm_wait_ns: int = 60 * NS_PER_S,
    ) -> None:
        self.kernel = kernel
        self.state = state
        self.merger = merger
        self.tasks = tasks
        self.sleep = sleep
        self.retry = retry or RetryPolicy(max_attempts=4)
        self.tokens_of = tokens_of
        self.on_unknown = on_unknown
        self.confirm_wait_ns = confirm_wait_ns
        self._intents: dict[str, MergeIntent] = {}
        self._waiting: dict[str, _Waiting] = {}

    @property
    def waiting(self) -> list[str]:
        """Intent ids of approved merges waiting for their pairs to be confirmed."""
        return list(self._waiting)

    def attach(self) -> None:
        """Subscribe to merge intents, decisions, requests, position changes and the timer."""
        self.kernel.subscribe(MergeIntent, self._on_intent)
        self.kernel.subscribe(RiskDecision, self._on_decision)
        self.kernel.subscribe(MergeRequested, self._on_requested)
        self.kernel.subscribe(PositionChanged, self._on_position)
        self.kernel.subscribe(TimerTick, self._on_tick)

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
        if intent.size > 0 and intent.size <= mergeable_pairs(self.state, tokens):
            self._request(intent, tokens)
            return
        settled = mergeable_pairs(self.state, tokens, settling=True)
        if intent.size <= 0 or intent.size > settled:
            self._insufficient(intent, tokens)
            return
        # Enough pairs once the trades still settling are confirmed: wait for them.
        deadline = now + self.confirm_wait_ns
        self._waiting[intent.intent_id] = _Waiting(intent, tokens, deadline)

    def _request(self, intent: MergeIntent, tokens: tuple[str, str]) -> None:
        now = self.kernel.now_ns()
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

    def _insufficient(self, intent: MergeIntent, tokens: tuple[str, str]) -> None:
        available = mergeable_pairs(self.state, tokens)
        self._anomaly("merge_insufficient", intent.intent_id, f"size {intent.size} > {available}")

    def _on_position(self, event: PositionChanged) -> None:
        for intent_id, wait in list(self._waiting.items()):
            if event.token_id not in wait.tokens:
                continue
            intent = wait.intent
            if intent.size <= mergeable_pairs(self.state, wait.tokens):
                del self._waiting[intent_id]
                self._request(intent, wait.tokens)
            elif intent.size > mergeable_pairs(self.state, wait.tokens, settling=True):
                del self._waiting[intent_id]  # a settling trade failed: the pairs are gone
                self._insufficient(intent, wait.tokens)

    def _on_tick(self, tick: TimerTick) -> None:
        for intent_id, wait in list(self._waiting.items()):
            if tick.ts_init >= wait.deadline_ns:
                del self._waiting[intent_id]
                self._insufficient(wait.intent, wait.tokens)

    def _on_requested(self, event: MergeRequested) -> None:
        self.kernel.flush()
        self.tasks.spawn(f"merge:{event.intent_id}", self._merge(event))

    async def _merge(self, event: MergeRequested) -> None:
        result = await call_unless_unknown(
            lambda: self.merger.merge(event.market, event.size), self.retry, self.sleep
        )
        if isinstance(result, CallFailure):
            self._failed(event, result.error, unknown=result.unknown)
            if result.unknown and self.on_unknown is not None:
                self.on_unknown()
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

    def _failed(self, event: MergeRequested, error: str, *, unknown: bool = False) -> None:
        now = self.kernel.now_ns()
        self.kernel.publish(
            MergeFailed(
                ts_event=now,
                ts_init=now,
                intent_id=event.intent_id,
                market=event.market,
                size=event.size,
                error=error,
                unknown=unknown,
            )
        )

    def _anomaly(self, kind: str, subject: str, detail: str) -> None:
        now = self.kernel.now_ns()
        self.kernel.emit(
            ExecutionAnomaly(ts_event=now, ts_init=now, kind=kind, subject=subject, detail=detail)
        )
