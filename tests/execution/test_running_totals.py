"""The ledger's running totals equal the full recomputation, on random event sequences.

:class:`ExecutionState` keeps collateral, equity, exposure and open orders per market (and
what each token's open sells reserve) up to date as events arrive, and the risk gate
refreshes a quote only when its book changed. The references below are the straightforward
recomputations over every order, fill, position and book (the code the totals replaced);
after every step of a random sequence of ledger events, market data and direct mark writes,
both must agree exactly, and every snapshot handed out earlier must still read as it did.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    FeedState,
    FeedStatus,
    LastTrade,
    LevelChange,
    MarketResolved,
    PriceChanges,
    Side,
    TickSizeChange,
)
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE
from polyloly.domain.risk import Quote, RiskParams, TradingState, kill_switch_reasons
from polyloly.execution.events import (
    BalanceBaseline,
    CancelCompleted,
    DayStarted,
    MergeCompleted,
    OrderAccepted,
    OrderClosed,
    OrderLookup,
    OrderRejected,
    OrderResubmitted,
    OrderSubmitted,
    OrderSubmitUnknown,
    OrderUpdate,
    TradeUpdate,
    UpdateSource,
    VenueSnapshot,
)
from polyloly.execution.pnl import equity as full_equity_of
from polyloly.execution.ports import (
    Balances,
    CancelResult,
    MakerLeg,
    MergeResult,
    OrderSpec,
    SignedOrder,
    TradeReport,
    TraderSide,
    TradeStatus,
    VenueOrder,
    VenueOrderStatus,
)
from polyloly.execution.risk_gate import RiskGate
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.tasks import TaskOwner
from polyloly.testing.fakes import FakeSigner, RecordingAlerts

START = 1_800_000_000 * NS_PER_S
MARKETS = ("0xm0", "0xm1", "0xm2")
TOKENS = {m: (f"{m}a", f"{m}b") for m in MARKETS}
ALL_TOKENS = tuple(t for pair in TOKENS.values() for t in pair)
PRICES = tuple(range(100_000, 1_000_000, 50_000))
NO_QUOTES: dict[str, Quote] = {}


# -- the references: full recomputations ---------------------------------------------------------


def full_collateral(state: ExecutionState, *, confirmed_only: bool = False) -> int:
    base = state.baseline.collateral if state.baseline is not None else 0
    total = base + state.merged_collateral
    for fill in state.fills.values():
        if fill.seq <= state.baseline_seq or not fill.counts:
            continue
        if confirmed_only and not fill.confirmed:
            continue
        total += fill.cash_flow()
    return total


def full_equity(state: ExecutionState) -> int:
    return full_equity_of(full_collateral(state), state.positions.values(), dict(state.marks))


def full_trading_state(gate: RiskGate, *, with_quotes: bool = True) -> TradingState:
    state = gate.state
    exposure: dict[str, int] = {}
    open_count: dict[str, int] = {}
    for view in state.positions.values():
        if view.expected > 0 and view.cost > 0:
            exposure[view.market] = exposure.get(view.market, 0) + view.cost
    for order in state.orders.values():
        if not order.is_open:
            continue
        open_count[order.market] = open_count.get(order.market, 0) + 1
        if order.side.value == "BUY":
            notional = -(-order.remaining * order.price // 1_000_000)
            exposure[order.market] = exposure.get(order.market, 0) + notional
    quotes: dict[str, Quote] = {}
    for token in gate.books.token_ids():
        book = gate.books.book(token)
        quotes[token] = Quote(
            best_bid=book.best_bid_price,
            best_ask=book.best_ask_price,
            tick=book.tick,
            in_sync=book.tradable,
        )
    exchange, esports = gate._feed_states()
    daily = state.daily.pnl(full_equity(state))
    return TradingState(
        market_exposure=exposure,
        open_orders=open_count,
        total_exposure=sum(exposure.values()),
        daily_pnl=daily,
        consecutive_exec_errors=gate.c.consecutive_errors,
        manual_halt=gate.c.manual_halt,
        halted=state.halted is not None,
        exchange_feed=exchange,
        esports_feeds=esports,
        quotes=quotes if with_quotes else NO_QUOTES,
    )


# -- a world driven by random steps ---------------------------------------------------------------


class NullSink:
    def append(self, event: Event) -> None:
        del event

    def flush(self) -> None:
        return None


@dataclass
class World:
    clock: VirtualClock
    kernel: Kernel
    state: ExecutionState
    gate: RiskGate
    signer: FakeSigner = field(default_factory=FakeSigner)
    specs: list[SignedOrder] = field(default_factory=list)  # signed, maybe not submitted yet
    submitted: list[str] = field(default_factory=list)
    trades: list[TradeReport] = field(default_factory=list)
    seq: int = 0
    snapshots: list[tuple[TradingState, TradingState]] = field(default_factory=list)

    def now(self) -> int:
        self.clock.advance_ns(1_000)
        return self.clock.now_ns()

    def ledger(self, event: Event) -> None:
        """What the engine's ledger handler does: apply, then tell the gate (disabled)."""
        self.state.apply(event)

    def market(self, event: Event) -> None:
        """Market data and feeds reach the gate through the kernel."""
        self.kernel.publish(event)


def build() -> World:
    clock = VirtualClock(START)
    kernel = Kernel(clock, NullSink())
    state = ExecutionState()
    params = RiskParams(max_daily_loss=10**15)
    gate = RiskGate(kernel, state, RecordingAlerts(), TaskOwner(), params=params)
    gate.attach()
    gate.enabled = False  # compare the conditions without firing (firing needs a loop)
    return World(clock, kernel, state, gate)


def _venue_view(w: World, order_hash: str, status: VenueOrderStatus, matched: int) -> VenueOrder:
    spec = next(s.spec for s in w.specs if s.order_hash == order_hash)
    return VenueOrder(
        order_hash=order_hash,
        market=spec.market,
        token_id=spec.token_id,
        side=spec.side,
        price=spec.price,
        original_size=spec.size,
        size_matched=matched,
        status=status,
        order_type=spec.order_type,
    )


def step_sign(w: World, data: st.DataObject) -> None:
    market = data.draw(st.sampled_from(MARKETS))
    w.seq += 1
    spec = OrderSpec(
        client_id=f"t:{w.seq}",
        market=market,
        token_id=data.draw(st.sampled_from(TOKENS[market])),
        side=data.draw(st.sampled_from(list(Side))),
        price=data.draw(st.sampled_from(PRICES)),
        size=data.draw(st.integers(1, 50)) * SCALE,
        order_type=data.draw(st.sampled_from([OrderType.GTC, OrderType.FAK])),
        salt=w.seq,
        timestamp_ms=w.seq,
    )
    w.specs.append(w.signer.sign(spec))


def step_submit(w: World, data: st.DataObject) -> None:
    if not w.specs:
        return step_sign(w, data)
    signed = data.draw(st.sampled_from(w.specs))
    now = w.now()
    w.ledger(OrderSubmitted(ts_event=now, ts_init=now, strategy="s", order=signed))
    w.submitted.append(signed.order_hash)
    return None


def _order(w: World, data: st.DataObject) -> str | None:
    return data.draw(st.sampled_from(w.submitted)) if w.submitted else None


def step_answer(w: World, data: st.DataObject) -> None:
    order_hash = _order(w, data)
    if order_hash is None:
        return
    now = w.now()
    kind = data.draw(st.sampled_from(["accept", "reject", "unknown", "resubmit", "cancel"]))
    if kind == "accept":
        w.ledger(
            OrderAccepted(
                ts_event=now,
                ts_init=now,
                client_id="c",
                order_hash=order_hash,
                status=data.draw(st.sampled_from(list(VenueOrderStatus))),
                size_matched=data.draw(st.integers(0, 50)) * SCALE,
            )
        )
    elif kind == "reject":
        w.ledger(
            OrderRejected(
                ts_event=now, ts_init=now, client_id="c", order_hash=order_hash, reason="no"
            )
        )
    elif kind == "unknown":
        w.ledger(
            OrderSubmitUnknown(
                ts_event=now,
                ts_init=now,
                client_id="c",
                order_hash=order_hash,
                error="lost",
                attempts=3,
            )
        )
    elif kind == "resubmit":
        w.ledger(OrderResubmitted(ts_event=now, ts_init=now, order_hash=order_hash, reason="r"))
    else:
        result = CancelResult(canceled=(order_hash,))
        w.ledger(CancelCompleted(ts_event=now, ts_init=now, result=result))


def step_venue_update(w: World, data: st.DataObject) -> None:
    if not w.specs:
        return
    # Any signed order: one never submitted here is unknown locally and gets adopted.
    order_hash = data.draw(st.sampled_from(w.specs)).order_hash
    status = data.draw(st.sampled_from(list(VenueOrderStatus)))
    matched = data.draw(st.integers(0, 50)) * SCALE
    source = data.draw(st.sampled_from([UpdateSource.WS, UpdateSource.RECONCILE]))
    now = w.now()
    order = _venue_view(w, order_hash, status, matched)
    w.ledger(OrderUpdate(ts_event=now, ts_init=now, order=order, source=source))


def step_close(w: World, data: st.DataObject) -> None:
    order_hash = _order(w, data)
    if order_hash is None:
        return
    state = data.draw(st.sampled_from(["REJECTED", "CANCELED", "MATCHED"]))
    now = w.now()
    w.ledger(OrderClosed(ts_event=now, ts_init=now, order_hash=order_hash, state=state, reason="x"))


def step_trade(w: World, data: st.DataObject) -> None:
    if not w.specs:
        return
    ours = data.draw(st.sampled_from(w.specs))  # maybe not submitted yet: an orphan
    spec = ours.spec
    size = data.draw(st.integers(1, 30)) * SCALE
    price = data.draw(st.sampled_from(PRICES))
    w.seq += 1
    now = w.now()
    as_maker = data.draw(st.booleans())
    other = TOKENS[spec.market][1] if spec.token_id == TOKENS[spec.market][0] else spec.token_id
    report = TradeReport(
        trade_id=f"trade-{w.seq}",
        market=spec.market,
        asset_id=other if as_maker else spec.token_id,
        side=spec.side,
        price=price,
        size=size,
        status=data.draw(st.sampled_from(list(TradeStatus))),
        taker_order_id="theirs" if as_maker else ours.order_hash,
        trader_side=TraderSide.MAKER if as_maker else TraderSide.TAKER,
        fee_rate_bps=data.draw(st.sampled_from([0, 300])),
        maker_legs=(
            (
                MakerLeg(
                    order_id=ours.order_hash,
                    asset_id=spec.token_id,
                    price=price,
                    matched_amount=size,
                ),
            )
            if as_maker
            else ()
        ),
        match_time_ns=now,
        last_update_ns=now,
    )
    w.trades.append(report)
    w.ledger(TradeUpdate(ts_event=now, ts_init=now, report=report))


def step_trade_status(w: World, data: st.DataObject) -> None:
    if not w.trades:
        return
    report = data.draw(st.sampled_from(w.trades))
    status = data.draw(st.sampled_from(list(TradeStatus)))
    source = data.draw(st.sampled_from([UpdateSource.WS, UpdateSource.RECONCILE]))
    now = w.now()
    moved = msgspec.structs.replace(report, status=status, last_update_ns=now)
    w.ledger(TradeUpdate(ts_event=now, ts_init=now, report=moved, source=source))


def step_merge_or_baseline(w: World, data: st.DataObject) -> None:
    now = w.now()
    market = data.draw(st.sampled_from(MARKETS))
    kind = data.draw(st.sampled_from(["merge", "baseline", "snapshot", "day", "resolved"]))
    if kind == "merge":
        result = MergeResult(condition_id=market, size=data.draw(st.integers(1, 20)) * SCALE)
        w.ledger(
            MergeCompleted(
                ts_event=now, ts_init=now, intent_id="m", token_ids=TOKENS[market], result=result
            )
        )
        return
    balances = Balances(
        collateral=data.draw(st.integers(0, 2_000)) * SCALE,
        tokens={t: data.draw(st.integers(0, 40)) * SCALE for t in TOKENS[market]},
    )
    if kind == "baseline":
        w.ledger(BalanceBaseline(ts_event=now, ts_init=now, balances=balances, reason="r"))
    elif kind == "snapshot":
        order_hash = _order(w, data)
        lookups: tuple[OrderLookup, ...] = ()
        if order_hash is not None:
            found = _venue_view(w, order_hash, VenueOrderStatus.LIVE, 0)
            lookups = (OrderLookup(order_hash=order_hash, found=found),)
        trades = tuple(w.trades[-2:])
        open_orders = tuple(
            _venue_view(w, s.order_hash, VenueOrderStatus.LIVE, 0) for s in w.specs[-1:]
        )
        w.ledger(
            VenueSnapshot(
                ts_event=now,
                ts_init=now,
                open_orders=open_orders,
                lookups=lookups,
                trades=trades,
                balances=balances,
                trades_after_ns=0,
            )
        )
    elif kind == "day":
        equity = data.draw(st.integers(0, 3_000)) * SCALE
        w.ledger(
            DayStarted(ts_event=now, ts_init=now, day=now // (86_400 * NS_PER_S), equity=equity)
        )
    else:
        winner = data.draw(st.sampled_from(TOKENS[market]))
        w.ledger(MarketResolved(ts_event=now, ts_init=now, market=market, winning_token_id=winner))


def step_book(w: World, data: st.DataObject) -> None:
    token = data.draw(st.sampled_from((*ALL_TOKENS, "unknown-token")))
    now = w.now()
    kind = data.draw(st.sampled_from(["snapshot", "change", "invalid", "tick", "last", "feed"]))
    bid = data.draw(st.sampled_from(PRICES[:-1]))
    ask = data.draw(st.sampled_from([p for p in PRICES if p > bid] or [bid + 10_000]))
    if kind == "snapshot":
        event: Event = BookSnapshot(
            ts_event=now,
            ts_init=now,
            market="x",
            token_id=token,
            bids=((bid, SCALE),),
            asks=((ask, SCALE),),
            tick=10_000,
        )
        if data.draw(st.booleans()):
            w.ledger(event)  # the ledger marks from snapshots too (backtests, projection)
    elif kind == "change":
        side = data.draw(st.sampled_from(list(Side)))
        size = data.draw(st.sampled_from([0, SCALE]))
        change = LevelChange(
            token_id=token, side=side, price=bid if side is Side.BUY else ask, size=size
        )
        event = PriceChanges(ts_event=now, ts_init=now, market="x", changes=(change,))
    elif kind == "invalid":
        event = BookInvalidated(ts_event=now, ts_init=now, token_id=token, reason="gap")
    elif kind == "tick":
        event = TickSizeChange(
            ts_event=now, ts_init=now, market="x", token_id=token, old_tick=10_000, new_tick=1_000
        )
    elif kind == "last":
        event = LastTrade(
            ts_event=now,
            ts_init=now,
            market="x",
            token_id=token,
            price=bid,
            size=SCALE,
            side=Side.BUY,
        )
    else:
        state = data.draw(st.sampled_from(list(FeedState)))
        event = FeedStatus(
            ts_event=now,
            ts_init=now,
            source=data.draw(st.sampled_from(["polymarket_ws", "opendota"])),
            state=state,
        )
    w.market(event)


def step_marks(w: World, data: st.DataObject) -> None:
    marks = w.state.marks
    token = data.draw(st.sampled_from(ALL_TOKENS))
    kind = data.draw(st.sampled_from(["set", "del", "pop", "update", "setdefault", "clear"]))
    price = data.draw(st.sampled_from(PRICES))
    if kind == "set":
        marks[token] = price
    elif kind == "del":
        if token in marks:
            del marks[token]
    elif kind == "pop":
        marks.pop(token, None)
    elif kind == "update":
        marks.update({token: price, ALL_TOKENS[0]: price // 2})
    elif kind == "setdefault":
        marks.setdefault(token, price)
    else:
        marks.clear()


def step_book_read(w: World, data: st.DataObject) -> None:
    """A book created by a read (``BookSet.book``), not by an event."""
    w.gate.books.book(data.draw(st.sampled_from(("read-only", *ALL_TOKENS))))


STEPS = (
    (step_sign, 2),
    (step_submit, 4),
    (step_answer, 3),
    (step_venue_update, 3),
    (step_close, 1),
    (step_trade, 4),
    (step_trade_status, 3),
    (step_merge_or_baseline, 2),
    (step_book, 5),
    (step_marks, 2),
    (step_book_read, 1),
)
WEIGHTED = [fn for fn, weight in STEPS for _ in range(weight)]


def check(w: World, data: st.DataObject) -> None:
    state, gate = w.state, w.gate
    for confirmed_only in (False, True):
        assert state.collateral(confirmed_only=confirmed_only) == full_collateral(
            state, confirmed_only=confirmed_only
        )
    assert state.equity() == full_equity(state)
    assert state.daily_pnl() == state.daily.pnl(full_equity(state))
    reference = full_trading_state(gate)
    snap = gate.trading_state()
    assert snap == reference
    exposure = state.exposure()
    for token in ALL_TOKENS:  # what open sells reserve (merges read it)
        assert state.open_sells(token) == sum(
            o.remaining for o in state.open_orders() if o.token_id == token and o.side is Side.SELL
        )
    assert exposure.exposure == reference.market_exposure
    assert exposure.open_orders == reference.open_orders
    assert exposure.total == reference.total_exposure
    # The kill switch reads the same state, without quotes (its conditions never use them).
    no_quotes = gate._trading_state(NO_QUOTES)
    assert no_quotes == full_trading_state(gate, with_quotes=False)
    assert kill_switch_reasons(no_quotes, gate.params) == kill_switch_reasons(
        reference, gate.params
    )
    if data.draw(st.booleans()):
        w.snapshots.append((snap, copy.deepcopy(snap)))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_running_totals_equal_the_full_recomputation(data: st.DataObject) -> None:
    w = build()
    for _ in range(data.draw(st.integers(1, 60))):
        data.draw(st.sampled_from(WEIGHTED))(w, data)
        check(w, data)
    for handed_out, as_it_was in w.snapshots:  # later events never changed a snapshot
        assert handed_out == as_it_was


def test_a_long_session_stays_exact() -> None:
    """Many orders and fills across markets (a deterministic walk, no hypothesis)."""
    w = build()
    signer = w.signer
    for n in range(300):
        market = MARKETS[n % 3]
        token = TOKENS[market][n % 2]
        spec = OrderSpec(
            client_id=f"long:{n}",
            market=market,
            token_id=token,
            side=Side.BUY if n % 5 else Side.SELL,
            price=PRICES[n % len(PRICES)],
            size=(n % 7 + 1) * SCALE,
            order_type=OrderType.GTC,
            salt=n,
            timestamp_ms=n,
        )
        signed = signer.sign(spec)
        w.specs.append(signed)
        now = w.now()
        w.ledger(OrderSubmitted(ts_event=now, ts_init=now, strategy="s", order=signed))
        w.ledger(
            OrderAccepted(
                ts_event=now,
                ts_init=now,
                client_id=spec.client_id,
                order_hash=signed.order_hash,
                status=VenueOrderStatus.LIVE,
            )
        )
        if n % 3 == 0:
            report = TradeReport(
                trade_id=f"lt-{n}",
                market=market,
                asset_id=token,
                side=spec.side,
                price=spec.price,
                size=spec.size,
                status=TradeStatus.MATCHED,
                taker_order_id=signed.order_hash,
                fee_rate_bps=300,
            )
            w.ledger(TradeUpdate(ts_event=now, ts_init=now, report=report))
            if n % 2:
                confirmed = msgspec.structs.replace(report, status=TradeStatus.CONFIRMED)
                w.ledger(TradeUpdate(ts_event=now, ts_init=now, report=confirmed))
        bid = PRICES[n % (len(PRICES) - 1)]
        w.market(
            BookSnapshot(
                ts_event=now,
                ts_init=now,
                market=market,
                token_id=token,
                bids=((bid, SCALE),),
                asks=((bid + 50_000, SCALE),),
                tick=10_000,
            )
        )
        if n % 50 == 0:
            w.ledger(DayStarted(ts_event=now, ts_init=now, day=n, equity=1_000 * SCALE))
    assert len(w.state.fills) == 100
    assert w.state.exposure().open_orders
    assert w.gate.trading_state() == full_trading_state(w.gate)
    assert w.state.equity() == full_equity(w.state)
    assert w.state.collateral(confirmed_only=True) == full_collateral(w.state, confirmed_only=True)
