"""The session's input events and the decision parameters they carry.

Everything a decision depends on travels through the event log, so that a replay makes the
same decisions: :class:`SessionStarted` (first input of every run) carries the
:class:`NodeParams`, and :class:`MarketDiscovered` carries each market's mapping to its match
and teams. :class:`~polyloly.node.core.Core` configures itself from them, live and in replay.
"""

from __future__ import annotations

import msgspec

from polyloly.domain.events import Event, register_event
from polyloly.domain.fees import FeeModel, fee_model_from_config
from polyloly.domain.markets import MarketMapping
from polyloly.domain.risk import RiskParams
from polyloly.domain.truth_table import TruthParams
from polyloly.execution.recycle import RecycleConfig
from polyloly.execution.risk_gate import GateConfig
from polyloly.strategies.pair_arb import PairArbParams
from polyloly.strategies.temporal_arb import TemporalArbParams

__all__ = ["MarketDiscovered", "NodeParams", "SessionStarted"]


class NodeParams(msgspec.Struct, frozen=True, kw_only=True):
    """Every parameter a decision depends on (logged in :class:`SessionStarted`).

    ``pair_arb`` / ``temporal_arb`` are ``None`` when the strategy is disabled.
    ``pair_arb_delayed_markets``: whether pair arbitrage trades markets with a taker delay
    (off by default: both legs must fill at the quoted prices, which a delayed, re-priced
    FAK cannot promise). ``aliases`` is the team alias table (canonical → spellings).
    ``presign_refresh_s`` / ``presign_max_age_s``: the pre-signed order pool's ages (a
    replay must judge an order stale exactly as the live node did).
    """

    pair_arb: PairArbParams | None = None
    pair_arb_delayed_markets: bool = False
    temporal_arb: TemporalArbParams | None = None
    risk: RiskParams = msgspec.field(default_factory=RiskParams)
    gate: GateConfig = msgspec.field(default_factory=GateConfig)
    truth: TruthParams = msgspec.field(default_factory=TruthParams)
    aliases: dict[str, list[str]] = msgspec.field(default_factory=dict)
    fee_model: str = "polymarket"
    fee_rate: int = 30_000
    fee_exponent: int = 1
    order_grace_s: int = 10
    presign_refresh_s: int = 20
    presign_max_age_s: int = 45
    recycle: RecycleConfig | None = None  # capital recycling (on-chain merges, redemptions)

    def fees(self) -> FeeModel:
        """The configured fee model."""
        return fee_model_from_config(self.fee_model, self.fee_rate, self.fee_exponent)


@register_event
class SessionStarted(Event, frozen=True, tag="session_started"):
    """A node started: how it runs and with which decision parameters (an input event)."""

    mode: str
    params: NodeParams
    version: str = ""
    address: str = ""  # the funder address orders are signed for (public)


@register_event
class MarketDiscovered(Event, frozen=True, tag="market_discovered"):
    """A market joined the registry (Gamma discovery or configuration; an input event)."""

    mapping: MarketMapping
    game: str = ""
    best_of: int | None = None
