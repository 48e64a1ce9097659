"""The bot as the benchmarks run it: the trading node's own wiring, on bench ports.

Everything decision-making is :class:`polyloly.node.core.Core` on a
:class:`~polyloly.node.core.NodeKernel` — the same object the live node
(:mod:`polyloly.bot.app`) and the backtest (:mod:`polyloly.bot.replay_core`) build: the
strategies' book set, the truth engine, pair and temporal arbitrage, the execution engine
(ledger, risk gate, pre-signed order pool, order manager) and the strategy feedback. The
market channel client publishes into the kernel by a plain call, as in the node. The core
configures itself from a ``SessionStarted`` event and learns markets from
``MarketDiscovered`` events, both published here first.

Every market is a series (match) moneyline: ``match_id`` ``bench-<m>``, teams ``alpha <m>``
(its first token) and ``beta <m>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.domain.intents import PlaceOrderIntent, RiskDecision
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.risk import RiskParams
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts
from polyloly.execution.risk_gate import GateConfig
from polyloly.node.core import Core, NodeKernel
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import Clock
from polyloly.runtime.kernel import EventSink
from polyloly.runtime.sleep import Sleep
from polyloly.strategies.pair_arb import PairArbParams
from polyloly.strategies.temporal_arb import TemporalArbParams

__all__ = [
    "BENCH_RISK",
    "Bot",
    "bench_params",
    "build_bot",
    "live_sleep",
    "market_mappings",
    "setup_events",
    "subscribe_all_tokens",
]

BENCH_RISK = RiskParams(max_position_per_market=10**15, max_total_exposure=10**15)
"""The seed's per-order limits, with exposure caps lifted so long runs keep trading."""


def bench_params(
    *,
    temporal: TemporalArbParams | None = None,
    gate: GateConfig | None = None,
    risk: RiskParams = BENCH_RISK,
) -> NodeParams:
    """Both strategies on (their defaults unless given), the bench's risk limits."""
    return NodeParams(
        pair_arb=PairArbParams(),
        temporal_arb=temporal or TemporalArbParams(),
        risk=risk,
        gate=gate or GateConfig(),
    )


def market_mappings(
    condition_ids: Sequence[str], tokens: Sequence[str], tick: int = 10_000
) -> list[MarketMapping]:
    """One match moneyline per market; token ``2m`` pays if ``alpha m`` wins."""
    return [
        MarketMapping(
            match_id=f"bench-{m}",
            market_id=cond,
            question=f"LoL: alpha {m} vs beta {m} (BO3)",
            kind=MarketKind.MATCH,
            team_a=f"alpha {m}",
            team_b=f"beta {m}",
            token_a=tokens[2 * m],
            token_b=tokens[2 * m + 1],
            tick=tick,
        )
        for m, cond in enumerate(condition_ids)
    ]


def setup_events(
    params: NodeParams, mappings: Sequence[MarketMapping], ts_ns: int
) -> list[SessionStarted | MarketDiscovered]:
    """What a node logs first: its session, then every market it follows."""
    out: list[SessionStarted | MarketDiscovered] = [
        SessionStarted(ts_event=ts_ns, ts_init=ts_ns, mode="bench", params=params)
    ]
    out += [
        MarketDiscovered(ts_event=ts_ns, ts_init=ts_ns, mapping=m, game="lol") for m in mappings
    ]
    return out


@dataclass(slots=True)
class Bot:
    """Everything one benchmark drives."""

    clock: Clock
    kernel: NodeKernel
    core: Core
    engine: ExecutionEngine
    market_ws: MarketWsClient | None
    intents: list[PlaceOrderIntent] = field(default_factory=list)
    decisions: list[RiskDecision] = field(default_factory=list)

    def record_decisions(self) -> None:
        """Keep every intent and risk decision (after the gate has answered)."""
        self.kernel.subscribe(PlaceOrderIntent, self.intents.append)
        self.kernel.subscribe(RiskDecision, self.decisions.append)


async def live_sleep(delay_ns: int) -> None:
    """The execution layer's ``Sleep`` on real time."""
    await asyncio.sleep(delay_ns / 1e9)


def build_bot(
    mappings: Sequence[MarketMapping],
    clock: Clock,
    *,
    ports: ExecutionPorts,
    params: NodeParams | None = None,
    sink: EventSink | None = None,
    flush_every: int = 1,
    market_ws_url: str | None = "ws://127.0.0.1:9/ws/market",
    sleep: Sleep | None = None,
    setup: bool = True,
) -> Bot:
    """The node's core on ``ports``, configured for ``mappings`` (session + markets published).

    With ``market_ws_url=None`` no market channel client is made (events are published
    straight into the kernel, as a replay does); with ``setup=False`` the session and market
    events are left to the caller (a recorded log carries its own).
    """
    kernel = NodeKernel(clock, sink, flush_every)
    core = Core(kernel)
    engine = core.attach_engine(ports, sleep=sleep or live_sleep, config=ExecutionConfig())
    if setup:
        for event in setup_events(params or bench_params(), mappings, clock.now_ns()):
            kernel.publish(event)
    client = None
    if market_ws_url is not None:
        client = MarketWsClient(market_ws_url, kernel.publish, clock, books=core.books)
    return Bot(clock, kernel, core, engine, client)


def subscribe_all_tokens(client: MarketWsClient, tokens: Sequence[str]) -> None:
    """Register every token with a client that is not connected (no socket is opened)."""
    asyncio.run(client.subscribe(tokens))
