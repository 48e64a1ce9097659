"""Capital recycling: redeem resolved winners, merge idle pairs — each an intent, gated, logged.

* :class:`Recycler` decides. On a resolved market it holds tokens of, it emits a
  ``RedeemIntent`` (``recycle:<market>:<step>``) when the pUSD the winning shares pay is at
  least ``threshold`` (``gas_pusd`` × ``min_gain_over_gas``: what the transaction costs,
  with a margin). Complete pairs of a market without activity (no open order, no position
  change for ``idle_ns``) are merged by a ``MergeIntent`` when the pUSD they free clears the
  same threshold: pair arbitrage merges its own pairs as it goes; this catches what is left
  (pairs below its merge size, pairs from before a restart). Decisions read only the ledger
  and logged inputs (the timer's event time), so a replay takes them again.
* :class:`RedeemManager` executes an approved ``RedeemIntent`` through the
  :class:`~polyloly.execution.chain_ports.Redeemer` port, as :class:`MergeManager` does
  merges: ``RedeemRequested`` (logged and flushed) → the port → ``RedeemCompleted`` (the
  ledger burns the tokens and books the payout) or ``RedeemFailed``. A lost reply is never
  resent: it fails with the outcome unknown and asks for a reconciliation pass, whose balance
  read shows whether it happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from polyloly.domain.events import MarketResolved, TimerTick
from polyloly.domain.intents import MergeIntent, RedeemIntent, RiskDecision, intent_id_for
from polyloly.execution.chain_ports import Redeemer
from polyloly.execution.events import (
    MergeCompleted,
    MergeFailed,
    PositionChanged,
    RedeemCompleted,
    RedeemFailed,
    RedeemRequested,
)
from polyloly.execution.merge import TokensOf, mergeable_pairs
from polyloly.execution.retry import CallFailure, RetryPolicy, call_unless_unknown
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.sleep import Sleep
from polyloly.runtime.tasks import TaskOwner

__all__ = ["STRATEGY", "RecycleConfig", "Recycler", "RedeemManager"]

STRATEGY = "recycle"


@dataclass(frozen=True, slots=True)
class RecycleConfig:
    """When recycling acts (``polymarket.chain.recycle``); amounts in pUSD-micros."""

    merge: bool = True
    redeem: bool = True
    gas_pusd: int = 10_000  # 0.01 pUSD per transaction
    min_gain_over_gas: int = 2
    idle_ns: int = 60 * NS_PER_S

    @property
    def threshold(self) -> int:
        """The least pUSD a merge or redemption must free to be worth its gas."""
        return self.gas_pusd * self.min_gain_over_gas


@dataclass(slots=True)
class _Market:
    tokens: tuple[str, str] | None = None
    winner: str | None = None
    last_activity_ns: int = 0
    pending: str | None = None  # intent id in flight
    redeemed: bool = False
    failures: int = 0
    retry_at_ns: int = 0  # after a failure: not before this


@dataclass
class Recycler:
    """Emits redeem and merge intents for capital that can come back (see module doc)."""

    kernel: Kernel
    state: ExecutionState
    config: RecycleConfig = field(default_factory=RecycleConfig)
    tokens_of: TokensOf | None = None
    markets: dict[str, _Market] = field(default_factory=dict)
    emitted: list[str] = field(default_factory=list)

    def attach(self) -> None:
        """Subscribe to resolutions, position changes, outcomes and the timer."""
        k = self.kernel
        k.subscribe(MarketResolved, self._on_resolved)
        k.subscribe(PositionChanged, self._on_position)
        k.subscribe(TimerTick, self._on_tick)
        k.subscribe(MergeCompleted, self._on_done)
        k.subscribe(MergeFailed, self._on_done)
        k.subscribe(RedeemCompleted, self._on_done)
        k.subscribe(RedeemFailed, self._on_done)
        k.subscribe(RiskDecision, self._on_decision)

    def _market(self, market: str) -> _Market:
        st = self.markets.get(market)
        if st is None:
            st = self.markets[market] = _Market()
        if st.tokens is None:
            found = self.tokens_of(market) if self.tokens_of is not None else None
            seen = self.state.market_tokens(market)
            st.tokens = found or ((seen[0], seen[1]) if len(seen) == 2 else None)
        return st

    def _on_resolved(self, event: MarketResolved) -> None:
        st = self._market(event.market)
        st.winner = event.winning_token_id
        self._consider(event.market, event.ts_init)

    def _on_position(self, event: PositionChanged) -> None:
        st = self._market(event.market)
        st.last_activity_ns = max(st.last_activity_ns, event.ts_init)
        if st.winner is not None:
            self._consider(event.market, event.ts_init)

    def _on_tick(self, tick: TimerTick) -> None:
        for market in list(self.markets):
            self._consider(market, tick.ts_init)

    def _on_decision(self, decision: RiskDecision) -> None:
        if decision.approved:
            return
        for st in self.markets.values():
            if st.pending == decision.intent_id:
                st.pending = None

    def _on_done(
        self, event: MergeCompleted | MergeFailed | RedeemCompleted | RedeemFailed
    ) -> None:
        for st in self.markets.values():
            if st.pending == event.intent_id:
                st.pending = None
                if isinstance(event, RedeemCompleted):
                    st.redeemed = True
                if isinstance(event, MergeFailed | RedeemFailed):
                    # back off: 10 s, doubling, at most 10 min (a resolution can lag on-chain)
                    st.failures += 1
                    backoff = min(10 * NS_PER_S << (st.failures - 1), 600 * NS_PER_S)
                    st.retry_at_ns = event.ts_init + backoff
                else:
                    st.failures = 0

    def _consider(self, market: str, now_ns: int) -> None:
        st = self._market(market)
        if st.pending is not None or st.tokens is None or st.redeemed or now_ns < st.retry_at_ns:
            return
        if st.winner is not None:
            if self.config.redeem:
                self._redeem(market, st, now_ns)
            return
        if not self.config.merge or now_ns - st.last_activity_ns < self.config.idle_ns:
            return
        if any(o.token_id in st.tokens for o in self.state.open_orders()):
            return
        pairs = mergeable_pairs(self.state, st.tokens)
        if pairs > 0 and pairs >= self.config.threshold:  # n pairs free n pUSD
            intent_id = self._next_id(market)
            st.pending = intent_id
            self.emitted.append(intent_id)
            self.kernel.emit(
                MergeIntent(
                    ts_event=now_ns,
                    ts_init=now_ns,
                    intent_id=intent_id,
                    strategy=STRATEGY,
                    market=market,
                    size=pairs,
                    reason=f"recycle idle pairs (threshold {self.config.threshold})",
                )
            )

    def _redeem(self, market: str, st: _Market, now_ns: int) -> None:
        if st.tokens is None or st.winner is None:
            return
        held = {t: max(self.state.position(t).confirmed, 0) for t in st.tokens}
        if not any(held.values()):
            return
        if any(self.state.position(t).pending for t in st.tokens):
            return  # wait until every trade of the market has settled
        payout = held.get(st.winner, 0)
        if payout < self.config.threshold:
            return  # losers pay nothing; dust is not worth the gas
        intent_id = self._next_id(market)
        st.pending = intent_id
        self.emitted.append(intent_id)
        self.kernel.emit(
            RedeemIntent(
                ts_event=now_ns,
                ts_init=now_ns,
                intent_id=intent_id,
                strategy=STRATEGY,
                market=market,
                winning_token_id=st.winner,
                payout=payout,
                reason="redeem resolved winner",
            )
        )

    def _next_id(self, market: str) -> str:
        key = f"{STRATEGY}:{market}"
        step = self.state.last_step.get(key, 0) + 1
        self.state.last_step[key] = step
        return intent_id_for(STRATEGY, market, step)


class RedeemManager:
    """Turns approved redeem intents into redemptions through the port."""

    def __init__(
        self,
        kernel: Kernel,
        state: ExecutionState,
        redeemer: Redeemer,
        tasks: TaskOwner,
        *,
        sleep: Sleep,
        retry: RetryPolicy | None = None,
        tokens_of: TokensOf | None = None,
        on_unknown: Callable[[], object] | None = None,
    ) -> None:
        self.kernel = kernel
        self.state = state
        self.redeemer = redeemer
        self.tasks = tasks
        self.sleep = sleep
        self.retry = retry or RetryPolicy(max_attempts=4)
        self.tokens_of = tokens_of
        self.on_unknown = on_unknown
        self._intents: dict[str, RedeemIntent] = {}

    def attach(self) -> None:
        """Subscribe to redeem intents, decisions and requests."""
        self.kernel.subscribe(RedeemIntent, self._on_intent)
        self.kernel.subscribe(RiskDecision, self._on_decision)
        self.kernel.subscribe(RedeemRequested, self._on_requested)

    def _on_intent(self, intent: RedeemIntent) -> None:
        self._intents[intent.intent_id] = intent

    def _on_decision(self, decision: RiskDecision) -> None:
        intent = self._intents.pop(decision.intent_id, None)
        if intent is None or not decision.approved:
            return
        found = self.tokens_of(intent.market) if self.tokens_of is not None else None
        seen = self.state.market_tokens(intent.market)
        tokens = found or ((seen[0], seen[1]) if len(seen) == 2 else None)
        now = self.kernel.now_ns()
        if tokens is None:
            self.kernel.emit(
                RedeemFailed(
                    ts_event=now,
                    ts_init=now,
                    intent_id=intent.intent_id,
                    market=intent.market,
                    error="unknown market tokens",
                )
            )
            return
        self.kernel.emit(
            RedeemRequested(
                ts_event=now,
                ts_init=now,
                intent_id=intent.intent_id,
                market=intent.market,
                token_ids=tokens,
                winning_token_id=intent.winning_token_id,
            )
        )

    def _on_requested(self, event: RedeemRequested) -> None:
        self.kernel.flush()
        self.tasks.spawn(f"redeem:{event.intent_id}", self._redeem(event))

    async def _redeem(self, event: RedeemRequested) -> None:
        result = await call_unless_unknown(
            lambda: self.redeemer.redeem(event.market), self.retry, self.sleep
        )
        if isinstance(result, CallFailure):
            self._failed(event, result.error, unknown=result.unknown)
            if result.unknown and self.on_unknown is not None:
                self.on_unknown()
            return
        now = self.kernel.now_ns()
        self.kernel.publish(
            RedeemCompleted(
                ts_event=now,
                ts_init=now,
                intent_id=event.intent_id,
                token_ids=event.token_ids,
                winning_token_id=event.winning_token_id,
                result=result,
            )
        )

    def _failed(self, event: RedeemRequested, error: str, *, unknown: bool = False) -> None:
        now = self.kernel.now_ns()
        self.kernel.publish(
            RedeemFailed(
                ts_event=now,
                ts_init=now,
                intent_id=event.intent_id,
                market=event.market,
                error=error,
                unknown=unknown,
                winning_token_id=event.winning_token_id,
            )
        )
