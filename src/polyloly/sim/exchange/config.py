"""Typed, frozen configuration of the local exchange and of the markets it lists.

Money fields are integer micro-units (:mod:`polyloly.domain.money`); durations carry their
unit in the name. :class:`SimMarket` describes a market to list; :meth:`ExchangeSimulator.
add_market` answers with a :class:`Listing`, the market's live state (ids, tick, live
flag, resolution).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from typing import Final

from polyloly.domain.money import ONE, VALID_TICKS

__all__ = [
    "CHAIN_CONTRACTS",
    "MAX_UINT256",
    "IdFactory",
    "Listing",
    "SimConfig",
    "SimMarket",
]

MAX_UINT256: Final = 2**256 - 1
"""An unlimited ERC-20 / ERC-1155 approval."""

CHAIN_CONTRACTS: Final = {
    137: {
        "exchange_v2": "0xE111180000d2663C0091e4f400237545B87B996B",
        "neg_risk_exchange_v2": "0xe2222d279d744050d28e00520010520000310F59",
        "collateral": "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB",
        "conditional_tokens": "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045",
    },
    80002: {
        "exchange_v2": "0xE111180000d2663C0091e4f400237545B87B996B",
        "neg_risk_exchange_v2": "0xe2222d279d744050d28e00520010520000310F59",
        "collateral": "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB",
        "conditional_tokens": "0x69308FB512518e39F9b16112fA8d994F4e2Bf8bB",
    },
}
"""The V2 exchange contracts orders are signed against, per chain (py-clob-client-v2 config)."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How the local exchange behaves.

    Parameters
    ----------
    seed
        Seeds every id, key and synthetic trader, so a run is reproducible.
    starting_balance
        pUSD micros credited to an address the first time it gets an API key (or first
        appears as an order's funder).
    starting_allowance
        Collateral and conditional-token approvals of a new address (unlimited by default;
        0 reproduces a wallet that has not approved the exchange yet).
    chain_id
        Selects the signing domain (137 Polygon, 80002 Amoy).
    heartbeat_timeout_s
        Once a key's heartbeat chain has started, this long without a valid beat cancels
        all its orders and drops the chain (10 s on the venue; tests may shorten it).
    trade_mined_delay_ms, trade_confirmed_delay_ms
        MATCHED → MINED and MINED → CONFIRMED delays of every trade.
    auth_window_s
        L1/L2 header timestamps further than this from the server clock are refused.
    gtd_threshold_s
        GTD orders are cancelled this long before their expiration (the venue's 1 minute).
    max_batch_orders
        ``POST /orders`` limit.
    max_assets_per_connection
        Market-channel subscriptions past this count get no initial ``book``.
    strict_market_precision
        Cap market orders' taker amount at 4 decimals whatever the tick ([V2] #99).
    tick_interval_ms
        How often the background loop runs timers (delays, expiry, heartbeats, traders).
    house_balance
        pUSD micros of each synthetic trader (``place_resting`` owners).
    taker_delay_ms_per_s
        Clock milliseconds the venue holds a delayed taker order per second of the
        market's ``secondsDelay`` (1000: real time; a time-compressed world, such as the
        demo playing games 47× faster, divides it by its speed so the delay stays 3 s of
        game time against every other lag).
    """

    seed: int = 1
    starting_balance: int = 10_000 * ONE
    starting_allowance: int = MAX_UINT256
    chain_id: int = 137
    heartbeat_timeout_s: float = 10.0
    trade_mined_delay_ms: int = 2_000
    trade_confirmed_delay_ms: int = 5_000
    auth_window_s: int = 300
    gtd_threshold_s: int = 60
    max_batch_orders: int = 15
    max_assets_per_connection: int = 500
    strict_market_precision: bool = False
    tick_interval_ms: int = 20
    house_balance: int = 1_000_000_000 * ONE
    taker_delay_ms_per_s: int = 1_000

    def __post_init__(self) -> None:
        if self.chain_id not in CHAIN_CONTRACTS:
            raise ValueError(f"unsupported chain_id {self.chain_id} (137 or 80002)")
        if self.starting_balance < 0 or self.starting_allowance < 0:
            raise ValueError("starting balance and allowance must be >= 0")
        if min(self.trade_mined_delay_ms, self.trade_confirmed_delay_ms) < 0:
            raise ValueError("trade delays must be >= 0")
        if self.taker_delay_ms_per_s < 0:
            raise ValueError("taker_delay_ms_per_s must be >= 0")
        if self.heartbeat_timeout_s <= 0 or self.tick_interval_ms <= 0:
            raise ValueError("heartbeat timeout and tick interval must be positive")


@dataclass(frozen=True, slots=True)
class SimMarket:
    """A binary market to list.

    ``outcomes`` are the two outcome names (team names on esports markets) in token order.
    ``tick``, ``min_size`` and ``fee_rate`` are micros (``10_000`` = 0.01; ``5_000_000`` = 5
    shares; ``30_000`` = 0.03). ``game_number`` is ``None`` for the match (series) market
    and N for its "Game N Winner" market. ``seconds_delay`` is the taker delay applied to
    marketable orders while the market is live. Leave ``condition_id`` / ``token_ids`` empty
    to have them generated from the seed.
    """

    question: str
    outcomes: tuple[str, str] = ("Yes", "No")
    tick: int = 10_000
    min_size: int = 5 * ONE
    fee_rate: int = 30_000
    fee_exponent: int = 1
    neg_risk: bool = False
    game: str = "lol"
    slug: str = ""
    game_number: int | None = None
    seconds_delay: int = 0
    live: bool = False
    event_slug: str = ""
    event_title: str = ""
    league: str = ""
    best_of: int = 3
    game_start_time: str = ""
    end_date: str = ""
    clear_book_on_start: bool = True
    accepting_orders: bool = True
    condition_id: str = ""
    token_ids: tuple[str, str] | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.tick not in VALID_TICKS:
            raise ValueError(f"unknown tick size {self.tick}")
        if self.min_size <= 0 or self.fee_rate < 0 or self.seconds_delay < 0:
            raise ValueError("min_size must be > 0, fee_rate and seconds_delay >= 0")
        if self.outcomes[0] == self.outcomes[1]:
            raise ValueError("the two outcomes must differ")


@dataclass(slots=True)
class Listing:
    """A listed market's ids and live state (what ``add_market`` returns)."""

    spec: SimMarket
    condition_id: str
    token_ids: tuple[str, str]
    question_id: str
    gamma_id: str
    event_id: str
    tick: int
    live: bool
    accepting_orders: bool
    closed: bool = False
    winner: str | None = None
    last_trade_price: dict[str, int] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """The market's slug."""
        return self.spec.slug

    def outcome_of(self, token_id: str) -> str:
        """The outcome name of one of this market's tokens."""
        return self.spec.outcomes[self.token_ids.index(token_id)]

    def other(self, token_id: str) -> str:
        """The complementary token."""
        a, b = self.token_ids
        return b if token_id == a else a


class IdFactory:
    """Deterministic ids shaped like the venue's (hashes, token ids, UUIDs), from a seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - reproducible simulation ids, not secrets
        self._seed_bytes = hashlib.sha256(f"polyloly-sim:{seed}".encode()).digest()

    def hex32(self) -> str:
        """A ``0x`` + 64 hex digits value (condition ids, hashes)."""
        return "0x" + self._rng.getrandbits(256).to_bytes(32, "big").hex()

    def token_id(self) -> str:
        """A decimal ERC-1155 position id (77-78 digits, like the venue's)."""
        return str(self._rng.getrandbits(256) | (1 << 255))

    def uuid(self) -> str:
        """A version-4-shaped UUID string (trade ids, API keys)."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def numeric(self, low: int = 1_000_000, high: int = 9_999_999) -> str:
        """A decimal id string (Gamma market / event ids)."""
        return str(self._rng.randint(low, high))

    def derived(self, *parts: str) -> bytes:
        """32 bytes derived from the seed and ``parts`` (the same inputs, the same bytes)."""
        return hashlib.sha256(self._seed_bytes + "|".join(parts).encode()).digest()
