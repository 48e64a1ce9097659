"""Temporal arbitrage: buy the winner's token before the book catches up (seed §6.2).

The truth engine says who won a map (a ``TruthDelta`` with ``change == "game_result"`` and
a game confidence) or the series (a ``TruthFinal``). If that winner's token still has asks
at or under ``max_entry_price``, this engine buys it with one FAK order:

* **armed signal** — a result for a market arms one signal (its winner token). The signal
  fires on the result itself or on any later book update of that token, as long as the
  token's ask is at or under the cap; it stays armed while the book is out of sync, empty,
  or priced above the cap ("while its ask is under max_entry_price"). A signal fires at
  most once: one entry per (market, result).
* **walking the book** — the size is the largest lot whose walk under the cap costs at most
  ``fixed_size_usdc`` (expected cost), whose average stays within ``max_slippage_bps`` of
  the best ask, and whose worst case (``size × limit``) fits the remaining
  ``max_exposure_usdc``.
* **taker delay** — esports markets delay marketable orders by ``seconds_delay`` while a game
  is live; the order is matched against the book as it is *after* the delay. The intent is
  still a FAK whose limit is the cap, so a book that moved during the delay can only fill
  less, never at a worse price than ``max_entry_price``; exposure is therefore counted at
  the worst case ``size × limit``.
* **blocks** — a ``TruthAlert(blocked=True)`` disarms every signal of its match and stops new
  ones until a ``TruthAlert(blocked=False)``.
* **presign mode** (``params.presign``) — a result should cost one HTTP request, not a
  signature, so the entry is made predictable: the *standard entry* of a market is a BUY at
  the cap (``max_entry_price`` on the market's tick) of ``fixed_size_usdc / limit`` shares
  rounded down to the lot, so that ``size × limit`` has at most two decimals. It is safe
  whatever the book: the order is marketable-only (FAK, or FOK), so it never spends more
  than ``size × limit`` ≤ ``fixed_size_usdc`` and never pays more than the cap per share;
  a short book only fills less. The engine sends the standard entry whenever it passes the
  same checks as a walked entry — it fits the exposure room and the market minimum, what
  the book has under the cap costs at least ``min_order_usdc`` and its real average stays
  within ``max_slippage_bps`` of the best ask (for FOK: the book fills it whole) — and
  otherwise falls back to the walked size (that order is then signed on demand).
  :meth:`TemporalArbEngine.presign_targets` lists the standard entries the engine may send
  next, for :mod:`polyloly.execution.presign` to keep signed: both tokens of the match
  market while the series is live (LIVE, PAUSED, or POST_MATCH_PENDING: the result is
  being confirmed) and both tokens of a "Game N winner" market while game N is in
  progress; once a result is known, only the winner's token; once an entry was sent, the
  match is FINAL with no armed signal left, the match is blocked or the market resolved,
  none.

Intent ids are deterministic (``temporal_arb:<market>:<token>:1``: one entry per result),
so a replay or a restart that sees the same result proposes the same id and the order
manager sends it at most once. A restarted engine is told (:meth:`TemporalArbEngine.
restore`) which results it already entered and what they commit, so it neither enters
them again nor forgets their exposure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from math import gcd
from typing import Final, Protocol

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    MarketResolved,
    PriceChanges,
    Side,
    TruthAlert,
    TruthDelta,
    TruthFinal,
    TruthState,
)
from polyloly.domain.intents import OrderType, PlaceOrderIntent, intent_id_for
from polyloly.domain.markets import MarketKind, MarketMapping, MarketMappingError, MarketRegistry
from polyloly.domain.money import ONE, SCALE, cost_of, fmt
from polyloly.strategies.temporal_arb.params import TemporalArbParams
from polyloly.strategies.temporal_arb.policy import ConfirmationPolicy, refusal

__all__ = [
    "AskBook",
    "BookLookup",
    "PresignTarget",
    "Signal",
    "TemporalArbEngine",
    "entry_limit",
    "size_lot",
    "standard_entry",
]

STRATEGY: Final = "temporal_arb"
_BPS: Final = 10_000
_ALL: Final = 10**18  # "every share the book has" for a depth walk
_LIVE_STATES: Final = frozenset({TruthState.LIVE, TruthState.PAUSED, TruthState.POST_MATCH_PENDING})
_GAME_LIVE_CHANGES: Final = frozenset({"game_started", "paused"})


def entry_limit(params: TemporalArbParams, tick: int) -> int:
    """The limit price of every entry: the cap, rounded down onto ``tick``, below 1."""
    return min(params.max_entry_price, ONE - tick) // tick * tick


def size_lot(params: TemporalArbParams, limit: int) -> int:
    """Smallest size step at ``limit``: a multiple of ``size_lot_shares`` whose cost is too.

    Size is a multiple of ``size_lot_shares`` and ``size × limit`` a multiple of
    ``amount_quantum_usdc`` (the venue rejects FAK/FOK BUY amounts with more decimals).
    """
    q = params.amount_quantum_usdc * SCALE
    lot = params.size_lot_shares
    return lot * (q // gcd(q, lot * limit))


def standard_entry(params: TemporalArbParams, mapping: MarketMapping) -> tuple[int, int] | None:
    """``(limit, size)`` of the market's standard entry, or None if it is below the minimum.

    The size is ``fixed_size_usdc / limit`` rounded down to :func:`size_lot`, so the order
    can never spend more than the budget.
    """
    limit = entry_limit(params, mapping.tick)
    if limit <= 0:
        return None
    lot = size_lot(params, limit)
    size = params.fixed_size_usdc * SCALE // limit // lot * lot
    if size <= 0 or size < mapping.min_size:
        return None
    return limit, size


class AskBook(Protocol):
    """The order-book reads this strategy needs (``domain.orderbook.OrderBook`` has them)."""

    @property
    def in_sync(self) -> bool:
        """Whether the book is known to match the venue's."""
        ...

    @property
    def best_bid(self) -> tuple[int, int] | None:
        """``(price, size)`` of the best bid, or None."""
        ...

    @property
    def best_ask(self) -> tuple[int, int] | None:
        """``(price, size)`` of the best ask, or None."""
        ...

    def cost_to_buy(self, shares: int, price_cap: int | None = None) -> tuple[int, int, int]:
        """Walk the asks up to ``price_cap``: ``(filled_shares, cost, avg_price)``."""
        ...


BookLookup = Callable[[str], AskBook | None]
"""Returns the book of a token id (e.g. ``BookSet.get``), or None if there is none."""


@dataclass(frozen=True, slots=True)
class Signal:
    """An armed result: buy ``token_id`` of ``market_id`` when the book allows."""

    match_id: str
    market_id: str
    token_id: str
    team: str
    kind: MarketKind
    game_number: int | None
    confidence: int

    @classmethod
    def of(cls, mapping: MarketMapping, token_id: str, confidence: int) -> Signal:
        """The signal to buy ``token_id`` of the market ``mapping`` maps."""
        return cls(
            match_id=mapping.match_id,
            market_id=mapping.market_id,
            token_id=token_id,
            team=mapping.team_for(token_id),
            kind=mapping.kind,
            game_number=mapping.game_number,
            confidence=confidence,
        )


@dataclass(frozen=True, slots=True)
class PresignTarget:
    """A standard entry the engine may send next: worth signing before the result."""

    match_id: str
    market_id: str
    token_id: str
    side: Side
    price: int
    size: int
    order_type: OrderType


class _Armed(MutableMapping[str, Signal]):
    """Armed signals by market id, indexed by token as they change (:attr:`tokens`).

    Every write goes through ``__setitem__`` / ``__delitem__`` (``pop``, ``clear``… are the
    mapping mixin's), so the index is always the signals' tokens.
    """

    __slots__ = ("_by_market", "tokens")

    def __init__(self) -> None:
        self._by_market: dict[str, Signal] = {}
        self.tokens: dict[str, Signal] = {}
        """Token id -> its armed signal."""

    def __getitem__(self, market_id: str) -> Signal:
        return self._by_market[market_id]

    def get(self, market_id: str, default: Signal | None = None) -> Signal | None:  # type: ignore[override]
        """The market's signal, or ``default`` (a dict lookup)."""
        return self._by_market.get(market_id, default)

    def __setitem__(self, market_id: str, signal: Signal) -> None:
        old = self._by_market.get(market_id)
        if old is not None:
            del self.tokens[old.token_id]
        self._by_market[market_id] = signal
        self.tokens[signal.token_id] = signal

    def __delitem__(self, market_id: str) -> None:
        signal = self._by_market.pop(market_id)
        del self.tokens[signal.token_id]

    def __contains__(self, market_id: object) -> bool:
        return market_id in self._by_market

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_market)

    def __len__(self) -> int:
        return len(self._by_market)


_Replan = tuple[Signal, MarketMapping, int, int]
"""What an armed token's last book-driven plan read: its signal and mapping, the highest ask
price it walked (0: only the top of book), and the engine's committed exposure then."""


@dataclass(slots=True)
class _Live:
    """What the truth engine said about one series, as far as presigning needs it."""

    state: TruthState | None = None
    games: dict[int, str | None] = field(default_factory=dict)  # started game -> winner
    final: str | None = None  # the TruthFinal winner


class TemporalArbEngine:
    """Pure decision engine: truth and book events in, ``PlaceOrderIntent``s out.

    Parameters
    ----------
    params
        Thresholds, sizes and caps.
    registry
        Which market and token belong to which match, game and team.
    books
        Book lookup by token id; the books must already reflect a book event when
        :meth:`on_event` sees it (subscribe the book set first).
    strategy
        Strategy name used in intents and their ids (``<strategy>:<market>:<token>:1``).
    min_notional
        The risk gate's minimum order notional (``RiskParams.min_order_size``, pUSD micros):
        no entry below it (nor below ``params.min_order_usdc``) is proposed, since the gate
        would refuse it and the signal fires only once.
    """

    def __init__(
        self,
        params: TemporalArbParams,
        registry: MarketRegistry,
        books: BookLookup,
        strategy: str = STRATEGY,
        *,
        min_notional: int = 0,
    ) -> None:
        self.params = params
        self._policy = params.policy
        self.registry = registry
        self.books = books
        self.strategy = strategy
        self.min_usdc = max(params.min_order_usdc, min_notional)
        """The smallest entry notional the engine proposes (pUSD micros)."""
        self._armed = _Armed()  # market_id -> signal
        self._replan: dict[str, _Replan] = {}  # armed token -> what its last plan read
        self._walk_cap = 0  # the ask price the plan being made walks up to (0: none)
        self._entered: set[tuple[str, str]] = set()  # (market_id, token_id)
        self._blocked: set[str] = set()  # match ids
        self._commit: dict[str, tuple[str, int]] = {}  # intent_id -> (market_id, worst case)
        self._committed = 0  # the sum of _commit's amounts (read on every entry decision)
        self._live: dict[str, _Live] = {}  # match id -> what the truth engine said
        self._resolved: set[str] = set()  # market ids
        self.skipped: dict[str, int] = {}

    # -- state -----------------------------------------------------------------------------

    @property
    def policy(self) -> ConfirmationPolicy:
        """The confirmation policy a result must pass (from the parameters)."""
        return self._policy

    @property
    def exposure(self) -> int:
        """Worst-case pUSD micros committed to unsettled temporal entries."""
        return self._committed

    def armed(self) -> list[Signal]:
        """Return the armed signals, by market id."""
        return [self._armed[k] for k in sorted(self._armed)]

    def is_blocked(self, match_id: str) -> bool:
        """Whether a truth alert currently blocks trading on ``match_id``."""
        return match_id in self._blocked

    def presign_targets(self) -> list[PresignTarget]:
        """The standard entries this engine may send next (empty unless in presign mode).

        See the module docstring for which markets and tokens are listed, and when.
        """
        if not self.params.presign:
            return []
        out: list[PresignTarget] = []
        for match_id in sorted(self._live):
            if match_id in self._blocked:
                continue
            live = self._live[match_id]
            for mapping in self.registry.markets_for_match(match_id):
                if mapping.market_id in self._resolved:
                    continue
                entry = standard_entry(self.params, mapping)
                if entry is None:
                    continue
                for token in self._presign_tokens(live, mapping):
                    if (mapping.market_id, token) in self._entered:
                        continue
                    out.append(
                        PresignTarget(
                            match_id=match_id,
                            market_id=mapping.market_id,
                            token_id=token,
                            side=Side.BUY,
                            price=entry[0],
                            size=entry[1],
                            order_type=self.params.order_type,
                        )
                    )
        return out

    def _presign_tokens(self, live: _Live, mapping: MarketMapping) -> tuple[str, ...]:
        armed = self._armed.get(mapping.market_id)
        if armed is not None:
            return (armed.token_id,)  # a known winner waiting for the book
        if live.final is not None:
            return ()  # the series is over: only armed signals can still fire
        if mapping.kind is MarketKind.MATCH:
            live_match = self.params.trade_match_markets and live.state in _LIVE_STATES
            return (mapping.token_a, mapping.token_b) if live_match else ()
        return self._game_tokens(live, mapping) if self.params.trade_game_markets else ()

    @staticmethod
    def _game_tokens(live: _Live, mapping: MarketMapping) -> tuple[str, ...]:
        number = mapping.game_number
        if number is None or number not in live.games:
            return ()  # game N has not started
        winner = live.games[number]
        if winner is None:
            return (mapping.token_a, mapping.token_b)  # in progress, or result withdrawn
        if not mapping.has_team(winner):
            return ()
        return (mapping.token_for(winner),)  # known, not yet confident enough to trade

    def restore(
        self, entries: Iterable[tuple[str, str, str, int]], resolved: Iterable[str] = ()
    ) -> None:
        """Carry on after a restart from the orders the log holds.

        ``entries`` are ``(intent id, market, token, committed)``: each result entered before
        (it is not entered again) and what it still commits (the worst case of an order in
        flight, what a finished one spent; 0 for a market paid out). ``resolved`` are markets
        already paid out. Call it before the first event.
        """
        self._resolved.update(resolved)
        for intent_id, market_id, token_id, committed in entries:
            self._entered.add((market_id, token_id))
            if committed > 0 and market_id not in self._resolved:
                self._set_commit(intent_id, market_id, committed)

    def settle_fill(self, intent_id: str, spent_usdc: int) -> None:
        """Record what an entry really cost (its FAK remainder was killed): frees the rest."""
        entry = self._commit.get(intent_id)
        if entry is not None:
            self._set_commit(intent_id, entry[0], max(0, min(entry[1], spent_usdc)))

    def _set_commit(self, intent_id: str, market_id: str, amount: int) -> None:
        old = self._commit.get(intent_id)
        self._committed += amount - (old[1] if old is not None else 0)
        self._commit[intent_id] = (market_id, amount)

    # -- inputs ----------------------------------------------------------------------------

    @property
    def has_armed(self) -> bool:
        """Whether any signal is armed (else book changes cannot trigger an entry)."""
        return bool(self._armed.tokens)

    def on_event(self, event: Event) -> list[PlaceOrderIntent]:
        """Dispatch one kernel event; return the intents it triggers."""
        if isinstance(event, TruthDelta):
            return self.on_truth_delta(event)
        if isinstance(event, TruthFinal):
            return self.on_truth_final(event)
        if isinstance(event, TruthAlert):
            self.on_truth_alert(event)
        elif isinstance(event, MarketResolved):
            self.on_market_resolved(event)
        elif isinstance(event, BookSnapshot):
            return self.on_book((event.token_id,), event)
        elif isinstance(event, PriceChanges):
            tokens = dict.fromkeys(c.token_id for c in event.changes)
            return self.on_book(tokens, event)
        return []

    def on_truth_delta(self, e: TruthDelta) -> list[PlaceOrderIntent]:
        """A map result (or its withdrawal) for the "Game N winner" market."""
        self._track(e)
        if e.change != "game_result" or e.game_number is None or not self.params.trade_game_markets:
            return []
        mapping = self.registry.game_market(e.match_id, e.game_number)
        if mapping is None:
            return []
        if e.game_winner is None:
            self._armed.pop(mapping.market_id, None)  # disputed or withdrawn
            return []
        why = refusal(self._policy, confidence=e.game_confidence, sources=e.game_sources)
        if why:
            self._armed.pop(mapping.market_id, None)  # not (or no longer) confirmed enough
            return self._skip(f"game result not confirmed: {why}")
        return self._arm(mapping, e.game_winner, e.game_confidence, e)

    def on_truth_final(self, e: TruthFinal) -> list[PlaceOrderIntent]:
        """A confirmed series result for the match market."""
        self._live.setdefault(e.match_id, _Live()).final = e.winner
        if not self.params.trade_match_markets:
            return []
        mapping = self.registry.match_market(e.match_id)
        if mapping is None:
            return []
        why = refusal(
            self._policy,
            confidence=e.confidence,
            sources=e.sources,
            timed_out=e.timed_out,
            final=True,
        )
        if why:
            return self._skip(f"match result not confirmed: {why}")
        return self._arm(mapping, e.winner, e.confidence, e)

    def on_truth_alert(self, e: TruthAlert) -> None:
        """Block (and disarm) or unblock a match."""
        if e.blocked:
            self._blocked.add(e.match_id)
            for market_id in [k for k, s in self._armed.items() if s.match_id == e.match_id]:
                del self._armed[market_id]
        else:
            self._blocked.discard(e.match_id)

    def on_market_resolved(self, e: MarketResolved) -> None:
        """The market paid out: disarm it and release its committed exposure."""
        self._armed.pop(e.market, None)
        for intent_id in [k for k, (m, _) in self._commit.items() if m == e.market]:
            self._committed -= self._commit.pop(intent_id)[1]
        self._resolved.add(e.market)
        mapping = self.registry.by_market(e.market)
        if mapping is not None and all(
            m.market_id in self._resolved for m in self.registry.markets_for_match(mapping.match_id)
        ):
            self._live.pop(mapping.match_id, None)  # every market of the series paid out

    def _track(self, e: TruthDelta) -> None:
        live = self._live.setdefault(e.match_id, _Live())
        live.state = e.state
        number = e.game_number
        if number is None:
            return
        if e.change in _GAME_LIVE_CHANGES:
            live.games.setdefault(number, None)
        elif e.change == "game_result":
            live.games[number] = e.game_winner

    def on_book(self, token_ids: Iterable[str], event: Event) -> list[PlaceOrderIntent]:
        """Re-check armed signals on tokens whose book just changed."""
        out: list[PlaceOrderIntent] = []
        for token in token_ids:
            mapping = self.registry.by_token(token)
            signal = self._armed.get(mapping.market_id) if mapping else None
            if mapping is not None and signal is not None and signal.token_id == token:
                self._walk_cap = 0
                fired = self._fire(signal, mapping, event)
                if fired:
                    out.extend(fired)
                else:  # still armed: what this plan read decides when to plan again
                    self._replan[token] = (signal, mapping, self._walk_cap, self._committed)
        return out

    # -- pre-decisions (issue 20): the entry a result would make, decided ahead ------------

    def predict(
        self, mapping: MarketMapping, token_id: str, ts_ns: int
    ) -> tuple[PlaceOrderIntent, int] | None:
        """The entry a result naming ``token_id``'s team would make now, and until when.

        Returns ``(intent, ceiling)``: the :class:`PlaceOrderIntent` that :meth:`on_event`
        would emit for a qualifying result arriving now (stamped ``ts_ns``; its ``reason``
        differs, since it names the result's confidence), provided the book and this
        engine's state do not change, and the largest :attr:`exposure` at which it stays
        the same. Nothing changes here. ``None`` unless in presign mode, the market may be
        entered and the entry would be the market's standard entry (a walked entry is
        signed on demand: nothing to decide ahead).
        """
        p = self.params
        if not p.presign or mapping.match_id in self._blocked:
            return None
        if (mapping.market_id, token_id) in self._entered or mapping.market_id in self._resolved:
            return None
        traded = p.trade_match_markets if mapping.kind is MarketKind.MATCH else p.trade_game_markets
        standard = standard_entry(p, mapping)
        if not traded or standard is None:
            return None
        signal = Signal.of(mapping, token_id, confidence=0)
        plan = self._plan(signal, mapping)
        if isinstance(plan, str) or (plan[0], plan[1]) != standard:
            return None
        limit, size, walk, best = plan
        book = self.books(token_id)
        room = p.max_exposure_usdc - self.exposure
        if book is None or self._standard(book, mapping, best, room) is None:
            return None  # a walked entry that happens to match: it depends on the room
        # _entry picks the standard entry while the room is at least the minimum order and
        # the entry's worst case: exposure up to this ceiling leaves the entry unchanged.
        ceiling = p.max_exposure_usdc - max(self.min_usdc, cost_of(size, limit))
        intent = self._intent(
            signal, mapping, ts_ns, ts_ns, limit=limit, size=size, walk=walk, best=best
        )
        return intent, ceiling

    def may_enter(self, market_id: str, token_id: str, match_id: str, ceiling: int) -> bool:
        """Whether a :meth:`predict` entry with this ``ceiling`` still stands (cheap)."""
        return (
            self._committed <= ceiling
            and match_id not in self._blocked
            and (market_id, token_id) not in self._entered
        )

    @property
    def armed_tokens(self) -> Mapping[str, Signal]:
        """The tokens of the armed signals (a book change of another token cannot fire)."""
        return self._armed.tokens

    def replans(self, token_id: str, event: Event) -> bool:
        """Whether ``event``, which moved no top of book, can change an armed token's plan.

        The node asks this for a book event that left every best bid, best ask, sync and
        tick as they were (``BookSet.moved`` false): the last plan of the token's signal
        then stands unless the signal, its market or the committed exposure changed since,
        or the event changed an ask at or under the highest price that plan walked. An
        armed token not planned on a book change yet is always planned.
        """
        last = self._replan.get(token_id)
        if last is None:
            return True
        signal, mapping, walk_cap, committed = last
        if (
            self._armed.get(signal.market_id) is not signal
            or committed != self._committed
            or self.registry.by_token(token_id) is not mapping
        ):
            return True
        if not walk_cap:
            return False  # it read the top of book only
        if type(event) is not PriceChanges:
            return True
        return any(
            c.token_id == token_id and c.side is not Side.BUY and c.price <= walk_cap
            for c in event.changes
        )

    # -- decisions -------------------------------------------------------------------------

    def _skip(self, reason: str) -> list[PlaceOrderIntent]:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        return []

    def _arm(
        self, mapping: MarketMapping, team: str, confidence: int, e: Event
    ) -> list[PlaceOrderIntent]:
        if mapping.match_id in self._blocked:
            return self._skip("match blocked by a truth alert")
        try:
            token = mapping.token_for(team)
        except MarketMappingError:
            return self._skip("winner is not one of the market's teams")
        if (mapping.market_id, token) in self._entered:
            return []
        signal = Signal.of(mapping, token, confidence)
        self._armed[mapping.market_id] = signal
        return self._fire(signal, mapping, e)

    def _fire(self, signal: Signal, mapping: MarketMapping, e: Event) -> list[PlaceOrderIntent]:
        # Blocked matches have no armed signals (an alert disarms them and _arm refuses them).
        plan = self._plan(signal, mapping)
        if isinstance(plan, str):
            return self._skip(plan)
        limit, size, walk, best = plan
        intent = self._intent(
            signal, mapping, e.ts_event, e.ts_init, limit=limit, size=size, walk=walk, best=best
        )
        self._entered.add((signal.market_id, signal.token_id))
        self._armed.pop(signal.market_id, None)
        self._set_commit(intent.intent_id, signal.market_id, cost_of(size, limit))
        return [intent]

    def _plan(
        self, signal: Signal, mapping: MarketMapping
    ) -> tuple[int, int, tuple[int, int, int], int] | str:
        """Return ``(limit, size, walk, best_ask)`` of the entry, or why there is none now."""
        book = self.books(signal.token_id)
        if book is None or not book.in_sync:
            return "book missing or out of sync"
        top, bid = book.best_ask, book.best_bid
        if top is not None and bid is not None and bid[0] >= top[0]:
            return "book crossed (an update was missed)"
        limit = entry_limit(self.params, mapping.tick)
        if top is None or limit <= 0 or top[0] > limit:
            return "no ask at or under the entry cap"
        return self._entry(book, mapping, limit, top[0])

    def _entry(
        self, book: AskBook, mapping: MarketMapping, limit: int, best: int
    ) -> tuple[int, int, tuple[int, int, int], int] | str:
        """The entry at or under ``limit`` that the exposure room and the book allow now."""
        room = self.params.max_exposure_usdc - self.exposure
        if room < self.min_usdc:
            # Every entry costs at most the room, so none can reach the minimum order: say
            # so without walking the book (an armed signal re-plans on each of its changes).
            return "no exposure room for a minimum order"
        self._walk_cap = limit  # the walks below read the asks up to the limit
        if self.params.presign:
            standard = self._standard(book, mapping, best, room)
            if standard is not None:
                return limit, standard[0], standard[1], best
        size, walk = self._size(book, limit, best, room, mapping.min_size)
        if size <= 0 or size < mapping.min_size or walk[1] < self.min_usdc:
            return "too little depth, budget or exposure room for a minimum order"
        return limit, size, walk, best

    def _standard(
        self, book: AskBook, mapping: MarketMapping, best: int, room: int
    ) -> tuple[int, tuple[int, int, int]] | None:
        """``(size, walk)`` of the standard entry if the book and the room allow it now."""
        p = self.params
        entry = standard_entry(p, mapping)
        if entry is None:
            return None
        limit, size = entry
        if cost_of(size, limit) > room:
            return None
        walk = book.cost_to_buy(size, limit)
        filled, cost = walk[0], walk[1]
        if filled <= 0 or cost < self.min_usdc:
            return None
        if p.order_type is OrderType.FOK and filled < size:
            return None  # the venue would kill it
        # The real average of what fills; the gate's notional / size is never above it.
        avg = -(-cost * SCALE // filled)
        if avg * _BPS > best * (_BPS + p.max_slippage_bps):
            return None
        return size, walk

    def _size(
        self, book: AskBook, limit: int, best: int, room: int, min_size: int
    ) -> tuple[int, tuple[int, int, int]]:
        p = self.params
        lot = size_lot(p, limit)
        depth = book.cost_to_buy(_ALL, limit)[0]
        # A marketable BUY spends up to size x limit (the venue fills a FAK/FOK BUY by its
        # amount, buying more shares when the asks are cheaper): the budget bounds that, not
        # the cost of `size` shares at today's asks.
        budget = min(p.fixed_size_usdc, max(room, 0))
        hi = min(depth, budget * SCALE // limit) // lot
        if hi * lot < min_size:
            return 0, (0, 0, 0)  # not even the market minimum fits: no search

        def fits(k: int) -> tuple[int, int, int] | None:
            walk = book.cost_to_buy(k * lot, limit)
            # The average as the risk gate computes it from the intent: notional / size, up.
            avg = -(-walk[1] * SCALE // (k * lot))
            ok = (
                walk[0] == k * lot
                and walk[1] <= p.fixed_size_usdc
                and avg * _BPS <= best * (_BPS + p.max_slippage_bps)
            )
            return walk if ok else None

        lo, best_walk = 0, (0, 0, 0)
        while lo < hi:  # largest k that fits; every constraint is monotone in k
            mid = (lo + hi + 1) // 2
            walk = fits(mid)
            if walk is None:
                hi = mid - 1
            else:
                lo, best_walk = mid, walk
        return lo * lot, best_walk

    @staticmethod
    def _id_key(signal: Signal) -> str:
        return f"{signal.market_id}:{signal.token_id}"

    def _intent(
        self,
        signal: Signal,
        mapping: MarketMapping,
        ts_event: int,
        ts_init: int,
        *,
        limit: int,
        size: int,
        walk: tuple[int, int, int],
        best: int,
    ) -> PlaceOrderIntent:
        what = "match" if signal.game_number is None else f"game {signal.game_number}"
        reason = (
            f"{what} won by {signal.team} (confidence {signal.confidence} bps); best ask "
            f"{fmt(best)}, walk avg {fmt(walk[2])}, limit {fmt(limit)}, worst case "
            f"{fmt(cost_of(size, limit), 2)} pUSD; taker delay {mapping.seconds_delay} s"
        )
        return PlaceOrderIntent(
            ts_event=ts_event,
            ts_init=ts_init,
            intent_id=intent_id_for(self.strategy, self._id_key(signal), 1),
            strategy=self.strategy,
            market=signal.market_id,
            token_id=signal.token_id,
            side=Side.BUY,
            price=limit,
            size=size,
            order_type=self.params.order_type,
            notional=walk[1],
            match_id=signal.match_id,
            reason=reason,
        )
