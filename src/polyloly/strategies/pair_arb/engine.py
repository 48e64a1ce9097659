"""The pair-arbitrage engine: book changes and fills in, buy and merge intents out.

Pure state machine, no I/O. Per market it holds the pair position (updated only from
fills it is told about), the intent in flight, and whether trading is stopped. On a book
change of either token it decides the next step:

1. nothing while an intent is in flight, the match is final or blocked, or either book
   is not tradable (out of sync or crossed);
2. merge complete pairs into pUSD once ``merge_min_pairs_shares`` are held;
3. if one leg lags by an orderable amount, **close**: buy the lagging leg, at most the
   gap, sized by ``step_usdc`` and by the depth under a price cap derived from the
   leading leg's average, approved by :func:`~.math.should_buy_more`;
4. otherwise **open** a pair step: size both legs by ``step_usdc`` and depth, approve the
   pair as a whole with :func:`~.math.should_buy_pair` (so the leading leg is bought only
   when the completed pair raises guaranteed PnL), and send the first leg — the lagging
   one if a dust gap exists, else the scarcer one. Its fill makes the other leg lag, and
   step 3 completes the pair on the next evaluation.

5. if the lagging leg stays impossible to buy for ``stuck_leg_timeout_ns``, **unwind**:
   sell the leading leg's excess into the bids, no lower than its average cost minus
   ``unwind_max_discount`` (selling unpaired shares raises the guaranteed PnL by the net
   proceeds; the floor bounds what it gives away in expected value).

A step the rules reject is halved (at most ``max_shrink_steps`` times) while the reason
is one a smaller size can cure. Orders are FAK/FOK at the worst walked price: BUYs, and
SELLs only to unwind. The caller reports fills (:meth:`PairArbEngine.on_fill`), merges
(:meth:`PairArbEngine.on_merged`) and the end of each intent
(:meth:`PairArbEngine.on_order_done`), and calls :meth:`PairArbEngine.on_book_change`
after ``BookSet.apply`` and :meth:`PairArbEngine.on_timer` on timer ticks.

Decisions are numbered per market: intent ids are ``pair_arb:<market>:<step>``. A restarted
engine is told (:meth:`PairArbEngine.restore`) the last step its market's log holds and the
intent still in flight, so it decides nothing while that order is out and numbers its next
decision after the old ones: the same decision keeps its id, a new one never takes an
old one's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from polyloly.domain.events import Side, TruthAlert, TruthFinal
from polyloly.domain.fees import FeeModel
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent, decision_key, intent_id_for
from polyloly.domain.money import SCALE, cost_of
from polyloly.domain.orderbook import OrderBook
from polyloly.domain.pairs import Leg, LegFill, PairPosition
from polyloly.strategies.pair_arb.math import (
    buy_fill,
    fee_per_share,
    max_price_under,
    order_lot,
    sell_fill,
    should_buy_more,
    should_buy_pair,
)
from polyloly.strategies.pair_arb.params import PairArbParams

__all__ = ["STRATEGY", "BookSource", "PairArbEngine", "PairArbError", "PairIntent"]

STRATEGY: Final = "pair_arb"

PairIntent = PlaceOrderIntent | MergeIntent
"""What the engine emits."""

_Plan = tuple[Leg, LegFill, Side, str]  # leg, priced walk, side, reason

_SHRINKABLE: Final = frozenset({"pair_cost_cap", "max_total_cost", "max_unpaired"})
_FINEST_GRID: Final = 1  # price grid for the cap search when a book's tick is unknown
_CAP_CACHE_SIZE: Final = 4_096


class PairArbError(ValueError):
    """The engine was told about a market or token it does not follow."""


class BookSource(Protocol):
    """Where the engine reads books (``BookSet`` is one)."""

    def get(self, token_id: str) -> OrderBook | None:
        """Return the book of ``token_id``, or ``None`` if unknown."""
        ...


@dataclass(slots=True)
class _Market:
    market: str
    yes_token: str
    no_token: str
    match_id: str
    position: PairPosition
    pending: str = ""  # intent id in flight
    stopped: str = ""  # why trading stopped for good ("" = running)
    seq: int = 0
    stuck_since: int = -1  # ts (ns) since the lagging leg could not be bought; -1 = not
    min_shares: int = (
        0  # the smallest order size: the params' and the market's, whichever is larger
    )
    quiet: bool = False  # its last evaluation read no more than the tops (see `hot`)
    wake_at: int = -1  # quiet only until this time (ns; -1: no deadline)


class PairArbEngine:
    """Pure pair-arbitrage decisions for any number of binary markets.

    Parameters
    ----------
    params
        The strategy parameters.
    fee_model
        Fee model used for every decision (real Polymarket fees by default upstream).
    strategy
        Name stamped on intents and used in intent ids (``<strategy>:<market>:<step>``).
    min_notional
        The risk gate's minimum order notional (``RiskParams.min_order_size``, pUSD micros):
        the engine never proposes an order below it (nor below ``params.min_order_usdc``),
        so a step the gate would refuse for its size is never emitted (it was, on every
        book change, while a small leg gap waited).
    """

    def __init__(
        self,
        params: PairArbParams,
        fee_model: FeeModel,
        strategy: str = STRATEGY,
        *,
        min_notional: int = 0,
    ) -> None:
        self.params = params
        self.fee_model = fee_model
        self.strategy = strategy
        self.min_usdc = max(params.min_order_usdc, min_notional)
        """The smallest order notional the engine proposes (pUSD micros)."""
        self._markets: dict[str, _Market] = {}
        self._by_token: dict[str, tuple[str, Leg]] = {}
        self._by_match: dict[str, list[_Market]] = {}  # match id -> its markets
        self._blocked: set[str] = set()  # match ids under a TruthAlert
        self._fps: dict[int, int] = {}  # price -> fee per share (cache; prices are discrete)
        self._caps: dict[tuple[int, int], int | None] = {}  # (target, tick) -> price cap
        self.hot: set[str] = set()
        """Tokens whose every book change must be evaluated: those of the markets that are
        not *quiet*. A market is quiet when its last evaluation decided nothing while
        reading no more of its books than their best asks and sync: an intent in
        flight, trading stopped or blocked, a book missing, a balanced position with no
        edge at the top, a book not tradable, or a lagging leg that its best ask prices
        out (under the stuck-leg timeout: until then, see :attr:`wake`). Anything it
        decides on changing heats it again (a fill, a merge, an order done, a restore, an
        unblock). Evaluating a quiet market again decides nothing and changes nothing
        unless a best ask or the sync of its books changed (a best bid is never read: an
        in-sync book is never crossed, a book that crosses loses sync) or its wake time
        came, so the node calls :meth:`on_book_change` only for book events that move a best
        ask or a sync (``BookSet.asks_moved``), touch a token in this set or come at a
        token's wake time (:meth:`due`), and :meth:`on_timer` skips quiet markets until
        theirs."""
        self.wake: dict[str, int] = {}
        """Tokens of quiet markets that decide again at a time of their own (ns): a lagging
        leg stuck under the cap unwinds once the stuck-leg timeout has passed."""
        self._deep = False  # the plan being made read more than the tops

    # -- registry --------------------------------------------------------------------------------

    def add_market(
        self,
        market: str,
        yes_token: str,
        no_token: str,
        match_id: str = "",
        *,
        min_size: int = 0,
    ) -> None:
        """Follow a binary market: ``yes_token`` pays if outcome 0 wins, ``no_token`` else.

        ``min_size`` is the market's minimum order size (share micros, ``orderMinSize``).
        """
        if not market or not yes_token or not no_token or yes_token == no_token:
            raise PairArbError("a market needs an id and two different token ids")
        if market in self._markets:
            raise PairArbError(f"market {market!r} is already followed")
        for token in (yes_token, no_token):
            if token in self._by_token:
                raise PairArbError(f"token {token!r} already belongs to a market")
        st = self._markets[market] = _Market(
            market,
            yes_token,
            no_token,
            match_id,
            PairPosition(),
            min_shares=max(self.params.min_order_shares, min_size),
        )
        if match_id:
            self._by_match.setdefault(match_id, []).append(st)
        self._by_token[yes_token] = (market, Leg.YES)
        self._by_token[no_token] = (market, Leg.NO)
        self.hot.update((yes_token, no_token))

    def _get(self, market: str) -> _Market:
        st = self._markets.get(market)
        if st is None:
            raise PairArbError(f"market {market!r} is not followed")
        return st

    def _heat(self, st: _Market) -> None:
        """Something the market decides on changed: evaluate it on every book change."""
        if st.quiet:
            st.quiet = False
            self.hot.update((st.yes_token, st.no_token))
            if st.wake_at >= 0:
                st.wake_at = -1
                self.wake.pop(st.yes_token, None)
                self.wake.pop(st.no_token, None)

    def _cool(self, st: _Market, wake_at: int = -1) -> None:
        """The market is quiet (see :attr:`hot`), until ``wake_at`` if not -1."""
        if not st.quiet:
            st.quiet = True
            hot = self.hot
            hot.discard(st.yes_token)
            hot.discard(st.no_token)
        if wake_at != st.wake_at:
            st.wake_at = wake_at
            if wake_at >= 0:
                self.wake[st.yes_token] = self.wake[st.no_token] = wake_at
            else:
                self.wake.pop(st.yes_token, None)
                self.wake.pop(st.no_token, None)

    def due(self, token_ids: Iterable[str], ts_ns: int) -> bool:
        """Whether one of ``token_ids`` belongs to a quiet market whose wake time has come."""
        wake = self.wake
        for token in token_ids:
            at = wake.get(token)
            if at is not None and at <= ts_ns:
                return True
        return False

    def follows(self, market: str) -> bool:
        """Whether the engine follows ``market``."""
        return market in self._markets

    def market_of(self, token_id: str) -> str | None:
        """The market a token belongs to, or ``None``."""
        found = self._by_token.get(token_id)
        return found[0] if found else None

    def position(self, market: str) -> PairPosition:
        """The market's current pair position."""
        return self._get(market).position

    def set_position(self, market: str, position: PairPosition) -> None:
        """Replace the position (restore at start-up from reconciled fills)."""
        st = self._get(market)
        st.position = position
        self._heat(st)

    def pending(self, market: str) -> str:
        """Intent id in flight for the market ("" when none)."""
        return self._get(market).pending

    def decision_key(self, market: str) -> str:
        """What the market's intent ids share before their step (``<strategy>:<market>``)."""
        return decision_key(self.strategy, market)

    def restore(self, market: str, *, last_step: int, pending: str = "") -> None:
        """Carry on after a restart: the log's last step, and the intent still in flight.

        ``pending`` blocks new decisions until :meth:`on_order_done`, as if this process
        had sent it; the next decision is step ``last_step + 1``. Call it after
        :meth:`add_market` and before the first evaluation.
        """
        st = self._get(market)
        st.seq = max(st.seq, last_step)
        st.pending = pending
        self._heat(st)

    def stop_reason(self, market: str) -> str:
        """Why the market stopped for good ("" while running)."""
        return self._get(market).stopped

    def blocked(self, match_id: str) -> bool:
        """Whether a truth alert blocks the match."""
        return match_id in self._blocked

    # -- what happened ------------------------------------------------------------------------

    def on_fill(
        self,
        market: str,
        token_id: str,
        shares: int,
        cost: int,
        fee: int,
        *,
        side: Side = Side.BUY,
    ) -> None:
        """Account a fill (micros): a BUY of ``shares`` for ``cost`` plus ``fee``, or a
        SELL of ``shares`` for proceeds ``cost`` minus ``fee``."""
        st = self._get(market)
        found = self._by_token.get(token_id)
        if found is None or found[0] != market:
            raise PairArbError(f"token {token_id!r} is not in market {market!r}")
        if side is Side.BUY:
            st.position = st.position.hypo_buy(found[1], shares, cost, fee)
        else:
            st.position = st.position.hypo_sell(found[1], shares, cost, fee)
        self._heat(st)

    def on_merged(self, market: str, pairs: int) -> None:
        """Account a confirmed merge of ``pairs`` YES+NO pairs into pUSD."""
        st = self._get(market)
        st.position = st.position.merged(pairs)
        self._heat(st)

    def on_order_done(self, market: str) -> None:
        """The intent in flight reached a final state (filled, killed, rejected, merged)."""
        st = self._get(market)
        st.pending = ""
        self._heat(st)

    def on_truth_final(self, event: TruthFinal) -> None:
        """The match is decided: stop pair-arb on all its markets for good."""
        for st in self._by_match.get(event.match_id, ()):
            if not st.stopped:
                st.stopped = "truth_final"

    def on_truth_alert(self, event: TruthAlert) -> None:
        """Sources contradict: block the match until :meth:`unblock_match`."""
        if event.blocked:
            self._blocked.add(event.match_id)

    def unblock_match(self, match_id: str) -> None:
        """Lift a truth-alert block (operator decision)."""
        self._blocked.discard(match_id)
        for st in self._by_match.get(match_id, ()):
            self._heat(st)

    def stop_market(self, market: str, reason: str) -> None:
        """Stop a market for good (operator, market resolved)."""
        self._get(market).stopped = reason or "stopped"

    # -- decisions ----------------------------------------------------------------------------

    def on_book_change(
        self, token_ids: Iterable[str], books: BookSource, ts_ns: int
    ) -> list[PairIntent]:
        """Evaluate every followed market touched by ``token_ids`` (once each)."""
        by_token = self._by_token
        if type(token_ids) is tuple and 0 < len(token_ids) <= 2:  # the common frames
            first = by_token.get(token_ids[0])
            last = by_token.get(token_ids[-1])
            if last is None or (first is not None and first[0] == last[0]):
                return [] if first is None else self.evaluate(first[0], books, ts_ns)
            if first is None:
                return self.evaluate(last[0], books, ts_ns)
            return self.evaluate(first[0], books, ts_ns) + self.evaluate(last[0], books, ts_ns)
        out: list[PairIntent] = []
        seen: set[str] = set()
        for token in token_ids:
            found = by_token.get(token)
            if found is None:
                continue
            market = found[0]
            if market in seen:
                continue
            seen.add(market)
            intents = self.evaluate(market, books, ts_ns)
            if intents:
                out.extend(intents)
        return out

    def evaluate(self, market: str, books: BookSource, ts_ns: int) -> list[PairIntent]:
        """Decide the market's next step now; at most one intent."""
        st = self._markets.get(market) or self._get(market)
        if st.pending or st.stopped or (self._blocked and st.match_id in self._blocked):
            if not st.quiet or st.wake_at >= 0:
                self._cool(st)  # decided on no book: until an order ends or it unblocks
            return []
        pos = st.position
        merge_at = self.params.merge_min_pairs_shares
        if merge_at and pos.q_yes >= merge_at and pos.q_no >= merge_at:
            return [self._merge(st, pos.q_min, ts_ns)]  # pending now: quiet next time
        yes, no = books.get(st.yes_token), books.get(st.no_token)
        if (
            yes is None
            or no is None
            or (pos.q_yes == pos.q_no and self._no_edge(st, yes, no))
            or not yes.tradable
            or not no.tradable
        ):
            # the hot path: a balanced position and no edge at the top of book
            if not st.quiet or st.wake_at >= 0:
                self._cool(st)
            return []
        self._deep = False
        plan = self._plan(st, yes, no, ts_ns)
        if plan is not None:
            self._heat(st)
            return [self._order(st, plan, ts_ns)]
        if self._deep:
            self._heat(st)
        else:  # priced out at the top; a stuck leg decides again at its timeout
            timeout = self.params.stuck_leg_timeout_ns
            self._cool(st, st.stuck_since + timeout if timeout and st.stuck_since >= 0 else -1)
        return []

    def _no_edge(self, st: _Market, yes: OrderBook, no: OrderBook) -> bool:
        """Whether the best asks plus fees already reach the pair cost cap (balanced)."""
        st.stuck_since = -1  # balanced: no leg is stuck
        ay, an = yes.best_ask_price, no.best_ask_price
        if ay is None or an is None:
            return True
        fps = self._fps
        fy, fn = fps.get(ay), fps.get(an)
        if fy is None:
            fy = self._fee_ps(ay)
        if fn is None:
            fn = self._fee_ps(an)
        return ay + fy + an + fn >= self.params.pair_cost_cap

    def on_timer(self, books: BookSource, ts_ns: int) -> list[PairIntent]:
        """Evaluate every market (drives the stuck-leg timeout when books are quiet)."""
        out: list[PairIntent] = []
        for market, st in self._markets.items():
            # a quiet market decides nothing until a book moves or its wake time (`hot`)
            if not st.quiet or 0 <= st.wake_at <= ts_ns:
                out.extend(self.evaluate(market, books, ts_ns))
        return out

    # -- planning -----------------------------------------------------------------------------

    def _fee_ps(self, price: int) -> int:
        f = self._fps.get(price)
        if f is None:
            f = self._fps[price] = fee_per_share(self.fee_model, price)
        return f

    def _price_cap(self, target: int, tick: int | None) -> int | None:
        """Cached :func:`~.math.max_price_under` (a binary search of fee evaluations)."""
        key = (target, tick or _FINEST_GRID)
        caps = self._caps
        if key in caps:
            return caps[key]
        if len(caps) >= _CAP_CACHE_SIZE:
            caps.clear()  # targets from leg averages are unbounded: keep the cache small
        cap = caps[key] = max_price_under(target, self.fee_model, key[1])
        return cap

    def _plan(self, st: _Market, yes: OrderBook, no: OrderBook, ts_ns: int) -> _Plan | None:
        pos = st.position
        lag = pos.lagging
        if lag is None or self._dust(st, lag, yes if lag is Leg.YES else no):
            st.stuck_since = -1
            opened = self._plan_open(st, yes, no)
            return None if opened is None else (*opened, Side.BUY, "pair_open")
        fill = self._plan_close(st, lag, yes if lag is Leg.YES else no)
        if fill is not None:
            st.stuck_since = -1
            return lag, fill, Side.BUY, "pair_close"
        # The lagging leg cannot be bought under the cap: after the timeout, sell the
        # leading leg's excess back (its guaranteed PnL value is zero; the floor limits
        # how much expected value an unwind may give away).
        if st.stuck_since < 0:
            st.stuck_since = ts_ns
        timeout = self.params.stuck_leg_timeout_ns
        if not timeout or ts_ns - st.stuck_since < timeout:
            return None
        lead = lag.other
        sold = self._plan_unwind(st, lead, yes if lead is Leg.YES else no)
        return None if sold is None else (lead, sold, Side.SELL, "unwind_stuck_leg")

    def _plan_unwind(self, st: _Market, lead: Leg, book: OrderBook) -> LegFill | None:
        self._deep = True  # it walks the bids
        p, pos = self.params, st.position
        avg = pos.basis(lead) * SCALE // pos.shares(lead)
        floor = max(avg - p.unwind_max_discount, book.tick or _FINEST_GRID)
        shares = abs(pos.gap)
        while shares > 0:
            fill = sell_fill(book.bid_levels_for(shares, floor), self.fee_model)
            lotted = fill.shares - fill.shares % order_lot(fill.price, p)
            if lotted == fill.shares:
                return fill if lotted >= 1 and self._orderable(st, fill) else None
            shares = lotted
        return None

    def _dust(self, st: _Market, lag: Leg, book: OrderBook) -> bool:
        """A gap too small to be an order of its own is closed by the next pair step."""
        gap = abs(st.position.gap)
        if gap < st.min_shares:
            return True
        ask = book.best_ask_price
        return ask is not None and cost_of(gap, ask) < self.min_usdc

    def _walk(self, book: OrderBook, shares: int, price_cap: int) -> LegFill | None:
        """Price a buy of up to ``shares`` under ``price_cap``, size snapped to the order lot."""
        while shares > 0:
            fill = buy_fill(book.ask_levels_for(shares, price_cap), self.fee_model)
            lotted = fill.shares - fill.shares % order_lot(fill.price, self.params)
            if lotted == fill.shares:
                return fill if lotted else None
            shares = lotted
        return None

    def _orderable(self, st: _Market, fill: LegFill) -> bool:
        """Whether the venue and the risk gate take an order this size (shares, notional)."""
        return fill.shares >= st.min_shares and fill.cost >= self.min_usdc

    def _close_cap(self, pos: PairPosition, lag: Leg, book: OrderBook) -> int | None:
        """Walk cap for the lagging leg: each new share's price + fee plus the leading
        leg's average (micros, rounded up) must stay under the pair cost cap."""
        lead = lag.other
        q_lead = pos.shares(lead)
        ask = book.best_ask_price
        if not q_lead or ask is None:
            return None
        target = self.params.pair_cost_cap - 1 - -(-pos.basis(lead) * SCALE // q_lead)
        if ask + self._fee_ps(ask) > target:
            return None
        return self._price_cap(target, book.tick)

    def _plan_close(self, st: _Market, lag: Leg, book: OrderBook) -> LegFill | None:
        pos = st.position
        price_cap = self._close_cap(pos, lag, book)
        if price_cap is None:
            return None  # priced out at the top of the book
        self._deep = True  # it walks the asks
        budget = min(self.params.step_usdc, self.params.max_total_cost_usdc - pos.total_cost)
        size = min(book.shares_for_budget(max(budget, 0), price_cap)[0], abs(pos.gap))
        for _ in range(self.params.max_shrink_steps + 1):
            fill = self._walk(book, size, price_cap)
            if fill is None or not self._orderable(st, fill):
                return None
            ok, reason = should_buy_more(pos, lag, fill, self.params, self.fee_model)
            if ok:
                return fill
            if reason not in _SHRINKABLE:
                return None
            size = fill.shares // 2
        return None

    def _open_caps(self, yes: OrderBook, no: OrderBook) -> tuple[int, int] | None:
        """Walk caps for a new pair: each leg's price + fee plus the other's best ask + fee
        must stay under the pair cost cap; ``None`` when the top of book has no edge."""
        ay, an = yes.best_ask_price, no.best_ask_price
        if ay is None or an is None:
            return None
        cost_y, cost_n = ay + self._fee_ps(ay), an + self._fee_ps(an)
        cap = self.params.pair_cost_cap
        if cost_y + cost_n >= cap:  # the hot-path exit
            return None
        cap_y = self._price_cap(cap - 1 - cost_n, yes.tick)
        cap_n = self._price_cap(cap - 1 - cost_y, no.tick)
        if cap_y is None or cap_n is None:
            return None
        return cap_y, cap_n

    def _plan_open(self, st: _Market, yes: OrderBook, no: OrderBook) -> tuple[Leg, LegFill] | None:
        pos = st.position
        caps = self._open_caps(yes, no)
        if caps is None:
            return None  # no edge at the top of the books
        self._deep = True  # it walks the asks
        cap_y, cap_n = caps
        p = self.params
        room = max(p.max_total_cost_usdc - pos.total_cost, 0)
        depth_y = yes.shares_for_budget(p.step_usdc, cap_y)[0]
        depth_n = no.shares_for_budget(p.step_usdc, cap_n)[0]
        size = min(depth_y, depth_n, room * SCALE // p.pair_cost_cap)
        first = pos.lagging or (Leg.YES if depth_y <= depth_n else Leg.NO)
        for _ in range(p.max_shrink_steps + 1):
            fills = self._pair_walk(yes, no, size, cap_y, cap_n)
            if fills is None or not (
                self._orderable(st, fills[0]) and self._orderable(st, fills[1])
            ):
                return None
            fy, fn = fills
            ok, reason = should_buy_pair(
                pos, fy, fn, first=first, params=p, fee_model=self.fee_model
            )
            if ok:
                return first, fy if first is Leg.YES else fn
            if reason not in _SHRINKABLE:
                return None
            size = fy.shares // 2
        return None

    def _pair_walk(
        self, yes: OrderBook, no: OrderBook, size: int, cap_y: int, cap_n: int
    ) -> tuple[LegFill, LegFill] | None:
        """Walk both legs for the same share count (each snapped to its lot)."""
        while size > 0:
            fy = self._walk(yes, size, cap_y)
            fn = self._walk(no, size, cap_n)
            if fy is None or fn is None:
                return None
            if fy.shares == fn.shares:
                return fy, fn
            size = min(fy.shares, fn.shares)  # strictly smaller: the loop ends
        return None

    # -- intents ----------------------------------------------------------------------------------

    def _next_id(self, st: _Market) -> str:
        st.seq += 1
        return intent_id_for(self.strategy, st.market, st.seq)

    def _order(self, st: _Market, plan: _Plan, ts_ns: int) -> PairIntent:
        leg, fill, side, reason = plan
        intent_id = self._next_id(st)
        st.pending = intent_id
        return PlaceOrderIntent(
            ts_event=ts_ns,
            ts_init=ts_ns,
            intent_id=intent_id,
            strategy=self.strategy,
            market=st.market,
            token_id=st.yes_token if leg is Leg.YES else st.no_token,
            side=side,
            price=fill.price,
            size=fill.shares,
            order_type=self.params.order_type,
            notional=fill.cost,
            match_id=st.match_id,
            reason=reason,
        )

    def _merge(self, st: _Market, pairs: int, ts_ns: int) -> PairIntent:
        intent_id = self._next_id(st)
        st.pending = intent_id
        return MergeIntent(
            ts_event=ts_ns,
            ts_init=ts_ns,
            intent_id=intent_id,
            strategy=self.strategy,
            market=st.market,
            size=pairs,
            reason="merge_pairs",
        )
