"""All synthetic traders of a simulator, and the parameters of an honest market.

:class:`MarketParams` gathers every parameter of the market around one listing — the
makers (spread, depth, refresh, what they know and when, how they react to news), the
noise takers, and the rival arbitrageurs (how many, their latency, what they read). Its
defaults are the *honest market* documented in ``docs/05_SIMULATED_MARKET.md`` (each
default's source or the assumption it is, and the results' sensitivity to it).
:meth:`TraderPool.add` keeps the older keyword form (no rivals, makers that lag in clock
time) for the standalone simulator and its tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Protocol

from polyloly.domain.money import ONE
from polyloly.sim.exchange.rivals import RivalPairTaker, RivalTemporalTaker
from polyloly.sim.exchange.traders import (
    FairValueSource,
    MarketMaker,
    RandomWalkFairValue,
    Taker,
)
from polyloly.sim.exchange.venue import Venue

__all__ = ["TRADING_MARKET", "MarketParams", "Trader", "TraderPool"]


class Trader(Protocol):
    """Anything the pool steps."""

    owner: str

    def step(self, venue: Venue, fair: FairValueSource, now_ns: int, rng: random.Random) -> int:
        """Act if due; return the number of orders sent."""
        ...


@dataclass(frozen=True, slots=True)
class MarketParams:
    """The synthetic market of one listing (micros; every ``*_ms`` in the fair-value
    source's time — game time for scenarios, so a world played 47× faster has makers and
    rivals 47× faster too: only the bot's own latency stays real).

    Makers: ``makers`` of them, ``spread`` wide (each further maker a tick wider),
    ``size`` shares on each of ``levels`` levels; maker *n* reads the game ``maker_lag_ms``
    plus a seeded draw up to ``maker_lag_spread_ms`` late; re-quotes every ``refresh_ms``
    and ``react_ms`` after news that moves its value; widens by ``news_widen_ticks`` for
    ``news_widen_ms`` after news, pulls its quotes for ``pull_ms`` when its value jumps by
    ``pull_threshold``; leaves a pair gap of ``gap_ticks`` with ``gap_probability`` a quote.
    Noise: ``takers`` takers of ``taker_size`` every ``taker_interval_ms``. Rivals:
    ``rival_pairs`` pair takers and ``rival_temporals`` temporal takers, latency log-normal
    (``rival_latency_ms`` median, ``rival_latency_sigma``); temporal rivals read the game
    ``rival_lag_ms`` plus up to ``rival_lag_spread_ms`` late and want ``rival_min_edge``.
    """

    makers: int = 2
    spread: int = 40_000
    size: int = 150 * ONE
    levels: int = 2
    maker_lag_ms: int = 3_000
    maker_lag_spread_ms: int = 3_000
    refresh_ms: int = 5_000
    react_ms: int = 200
    news_widen_ticks: int = 2
    news_widen_ms: int = 10_000
    pull_threshold: int = 100_000
    pull_ms: int = 1_000
    gap_probability: float = 0.1
    gap_ticks: int = 5
    takers: int = 1
    taker_size: int = 20 * ONE
    taker_interval_ms: int = 20_000
    rival_pairs: int = 1
    rival_temporals: int = 1
    rival_latency_ms: float = 300.0
    rival_latency_sigma: float = 0.5
    rival_lag_ms: int = 3_000
    rival_lag_spread_ms: int = 3_000
    rival_min_edge: int = 30_000
    rival_pair_min_edge: int = 5_000

    def __post_init__(self) -> None:
        for name in (
            "makers", "size", "levels", "maker_lag_ms", "maker_lag_spread_ms", "refresh_ms",
            "react_ms", "news_widen_ticks", "news_widen_ms", "pull_ms", "takers",
            "rival_pairs", "rival_temporals", "rival_lag_ms", "rival_lag_spread_ms",
        ):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"market.{name} must be >= 0, got {getattr(self, name)}")
        if self.rival_latency_ms < 0 or self.rival_latency_sigma < 0:
            raise ValueError("market.rival_latency_ms and rival_latency_sigma must be >= 0")

    def faster_rivals(self, factor: float) -> MarketParams:
        """The same market with rivals ``factor`` times faster (latency and feed lag)."""
        return replace(
            self,
            rival_latency_ms=self.rival_latency_ms / factor,
            rival_lag_ms=int(self.rival_lag_ms / factor),
            rival_lag_spread_ms=int(self.rival_lag_spread_ms / factor),
        )


TRADING_MARKET = MarketParams(
    makers=1,
    gap_probability=0.3,
    gap_ticks=5,
    refresh_ms=60_000,
    rival_pairs=0,
    rival_temporals=0,
)
"""A market built to make the bot trade — one careless maker leaving 5-tick pair gaps, no
rivals — for exercising execution and settlement (the soak, the chain demo, the console);
**not** evidence of edge (``demo.market_profile: trading``)."""


class TraderPool:
    """All synthetic traders of a simulator, stepped on its clock."""

    def __init__(self, venue: Venue, fair: FairValueSource | None, *, seed: int) -> None:
        self.venue = venue
        self.fair: FairValueSource = fair or RandomWalkFairValue(seed)
        self.rng = random.Random(seed)  # noqa: S311 - reproducible simulation
        self.makers: list[MarketMaker] = []
        self.takers: list[Trader] = []

    def add_market(self, condition_id: str, params: MarketParams) -> None:
        """Start the makers, noise takers and rivals of ``params`` on a market."""
        if condition_id not in self.venue.listings:
            raise KeyError(f"unknown market {condition_id}")
        short = condition_id[2:8]
        tick = self.venue.listings[condition_id].tick
        rng = random.Random(f"{self.rng.random()}:{condition_id}")  # noqa: S311 - simulation
        for n in range(params.makers):
            lag = params.maker_lag_ms + rng.randint(0, params.maker_lag_spread_ms)
            self.makers.append(
                MarketMaker(
                    owner=f"mm-{short}-{n + 1}",
                    condition_id=condition_id,
                    spread=params.spread + 2 * n * tick,
                    size=params.size,
                    levels=params.levels,
                    lag_ms=lag,
                    refresh_ms=params.refresh_ms,
                    gap_probability=params.gap_probability,
                    gap_ticks=params.gap_ticks,
                    react_ms=params.react_ms,
                    news_widen_ticks=params.news_widen_ticks,
                    news_widen_ms=params.news_widen_ms,
                    pull_threshold=params.pull_threshold,
                    pull_ms=params.pull_ms,
                )
            )
        for n in range(params.takers):
            self.takers.append(
                Taker(
                    owner=f"taker-{short}-{n + 1}",
                    condition_id=condition_id,
                    size=params.taker_size,
                    interval_ms=params.taker_interval_ms,
                )
            )
        for n in range(params.rival_pairs):
            self.takers.append(
                RivalPairTaker(
                    owner=f"rival-pair-{short}-{n + 1}",
                    condition_id=condition_id,
                    latency_median_ms=params.rival_latency_ms,
                    latency_sigma=params.rival_latency_sigma,
                    min_edge=params.rival_pair_min_edge,
                )
            )
        for n in range(params.rival_temporals):
            self.takers.append(
                RivalTemporalTaker(
                    owner=f"rival-temporal-{short}-{n + 1}",
                    condition_id=condition_id,
                    lag_ms=params.rival_lag_ms + rng.randint(0, params.rival_lag_spread_ms),
                    latency_median_ms=params.rival_latency_ms,
                    latency_sigma=params.rival_latency_sigma,
                    min_edge=params.rival_min_edge,
                )
            )

    def add(
        self,
        condition_id: str,
        *,
        makers: int = 1,
        takers: int = 1,
        spread: int = 40_000,
        size: int = 100 * ONE,
        lag_ms: int = 1_000,
        refresh_ms: int = 1_000,
        gap_probability: float = 0.1,
        gap_ticks: int = 1,
        taker_size: int = 20 * ONE,
        taker_interval_ms: int = 2_000,
        rival_pairs: int = 0,
        rival_temporals: int = 0,
        rival_latency_ms: float = 150.0,
    ) -> None:
        """Start ``makers`` market makers and ``takers`` takers on a market (the older
        keyword form: makers lag ``lag_ms``, re-quote every ``refresh_ms``, no rivals unless
        asked)."""
        self.add_market(
            condition_id,
            MarketParams(
                makers=makers,
                spread=spread,
                size=size,
                levels=2,
                maker_lag_ms=lag_ms,
                maker_lag_spread_ms=0,
                refresh_ms=refresh_ms,
                react_ms=0,
                news_widen_ticks=0,
                news_widen_ms=0,
                pull_threshold=ONE + 1,
                pull_ms=0,
                gap_probability=gap_probability,
                gap_ticks=gap_ticks,
                takers=takers,
                taker_size=taker_size,
                taker_interval_ms=taker_interval_ms,
                rival_pairs=rival_pairs,
                rival_temporals=rival_temporals,
                rival_latency_ms=rival_latency_ms,
            ),
        )

    def step(self, now_ns: int) -> int:
        """Let every due trader act; return the number of orders sent."""
        done = 0
        for maker in self.makers:
            done += maker.step(self.venue, self.fair, now_ns, self.rng)
        for taker in self.takers:
            done += taker.step(self.venue, self.fair, now_ns, self.rng)
        return done
