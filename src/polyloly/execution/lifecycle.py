"""Order and trade state machines: a transition table each, plus ``apply``.

Orders follow the venue: submitted → LIVE / DELAYED → PARTIALLY_MATCHED → MATCHED, or
CANCELED / EXPIRED / REJECTED, with UNKNOWN while a lost reply is being resolved. Trades
(fills) follow settlement: MATCHED → MINED → CONFIRMED, or RETRYING, or terminal FAILED.

Every (from, to) pair is in a table as :attr:`Edge.OK` (apply it) or :attr:`Edge.STALE`
(a reordered or duplicated frame: keep the newer state, drop the old news). Pairs not in
the table raise :class:`IllegalTransitionError`; the caller records an anomaly and asks
reconciliation for the venue's truth, which is applied with ``force=True``. The odd edges
real venues produce are commented where they appear in the tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final

from polyloly.domain.events import Side
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE, Rounding, cost_of
from polyloly.execution.ports import (
    MakerLeg,
    SignedOrder,
    TradeReport,
    TraderSide,
    TradeStatus,
    VenueOrder,
    VenueOrderStatus,
)

__all__ = [
    "OPEN_ORDER_STATES",
    "PENDING_TRADE_STATUSES",
    "Edge",
    "Fill",
    "IllegalTransitionError",
    "OrderRecord",
    "OrderState",
    "fill_cash",
    "fills_from_report",
    "order_edge",
    "state_for_venue",
    "taker_fee",
    "trade_edge",
    "venue_notional",
]


class IllegalTransitionError(ValueError):
    """An update that no real venue sequence explains (the caller reconciles)."""


class Edge(Enum):
    """How an update moving from one state to another is treated."""

    OK = "ok"
    STALE = "stale"


class OrderState(StrEnum):
    """Local lifecycle state of one order."""

    SUBMITTING = "SUBMITTING"  # logged and sent, no reply yet
    UNKNOWN = "UNKNOWN"  # reply lost and retries exhausted: reconciliation will look it up
    LIVE = "LIVE"
    DELAYED = "DELAYED"
    PARTIALLY_MATCHED = "PARTIALLY_MATCHED"
    MATCHED = "MATCHED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


S = OrderState
OPEN_ORDER_STATES: Final = frozenset(
    {S.SUBMITTING, S.UNKNOWN, S.LIVE, S.DELAYED, S.PARTIALLY_MATCHED}
)
"""States in which an order may still rest on (or be on its way to) the book."""

_PRE_VENUE = (S.SUBMITTING, S.UNKNOWN)
_ANY_VENUE_STATE = (
    S.LIVE,
    S.DELAYED,
    S.PARTIALLY_MATCHED,
    S.MATCHED,
    S.CANCELED,
    S.EXPIRED,
)


def _order_table() -> dict[tuple[OrderState, OrderState], Edge]:
    table: dict[tuple[OrderState, OrderState], Edge] = {}
    ok, stale = Edge.OK, Edge.STALE
    # SUBMITTING is only ever the first state: a resend after a lost reply or a restart
    # (``OrderResubmitted``) is a lookup followed, if the venue has nothing, by a post of the
    # same signed order; the order stays where it is until the venue answers.
    for src in _PRE_VENUE:
        # The user WebSocket often beats the REST reply: any venue state may come first.
        for dst in (*_ANY_VENUE_STATE, S.REJECTED, S.UNKNOWN):
            table[src, dst] = ok
    for src in (S.LIVE, S.DELAYED, S.PARTIALLY_MATCHED):
        for dst in (S.PARTIALLY_MATCHED, S.MATCHED, S.CANCELED, S.EXPIRED):
            table[src, dst] = ok
        # A submit whose reply was lost after the WebSocket already reported the order.
        table[src, S.UNKNOWN] = stale
    table[S.LIVE, S.LIVE] = ok
    table[S.DELAYED, S.DELAYED] = ok
    table[S.DELAYED, S.LIVE] = ok  # the taker delay ended and the remainder now rests
    table[S.PARTIALLY_MATCHED, S.LIVE] = stale  # an older placement frame, reordered
    table[S.PARTIALLY_MATCHED, S.DELAYED] = stale
    for src in (S.MATCHED, S.CANCELED, S.EXPIRED):
        # Reordered frames from before the order ended: size_matched is still merged (max).
        for dst in (S.LIVE, S.DELAYED, S.PARTIALLY_MATCHED, S.UNKNOWN, src):
            table[src, dst] = stale
    # A cancel that lost the race to the fill: the venue answers the cancel after the order
    # already matched in full. The fill stands; the order stays MATCHED.
    table[S.MATCHED, S.CANCELED] = stale
    table[S.MATCHED, S.EXPIRED] = stale
    # Real world possibility: a CANCELED update with size_matched > 0 arrives before its
    # trade, then the venue reports the order MATCHED when the racing fill was the rest of it.
    table[S.CANCELED, S.MATCHED] = ok
    table[S.EXPIRED, S.MATCHED] = ok
    table[S.CANCELED, S.EXPIRED] = stale
    table[S.EXPIRED, S.CANCELED] = stale
    table[S.REJECTED, S.REJECTED] = stale
    table[S.REJECTED, S.UNKNOWN] = stale
    # A FAK (or FOK) that finds nothing to match is refused by the REST reply (HTTP 400,
    # "no orders found to match"), yet the user channel still reports the same order as
    # CANCELED afterwards. The venue's own edge, not a contradiction: the order stays
    # REJECTED and the frame is dropped (size_matched still merges, as for every frame).
    table[S.REJECTED, S.CANCELED] = stale
    # The same killed FAK/FOK with the frames the other way round: the user channel's
    # CANCELED beats the REST reply's refusal (the venue publishes before it answers). The
    # ledger applies only a kill's refusal this way (``fak_no_match``, ``fok_killed``); any
    # other rejection of an order the venue already reported is reconciled instead.
    table[S.CANCELED, S.REJECTED] = stale
    return table


_ORDER_TABLE: Final = _order_table()


def order_edge(src: OrderState, dst: OrderState) -> Edge:
    """Return how moving an order from ``src`` to ``dst`` is treated, or raise."""
    edge = _ORDER_TABLE.get((src, dst))
    if edge is None:
        raise IllegalTransitionError(f"order {src.value} -> {dst.value}")
    return edge


def state_for_venue(status: VenueOrderStatus, size_matched: int) -> OrderState:
    """Map the venue's order status (and matched size) onto a local state."""
    if status is VenueOrderStatus.LIVE:
        return S.PARTIALLY_MATCHED if size_matched > 0 else S.LIVE
    if status is VenueOrderStatus.DELAYED:
        return S.DELAYED
    if status is VenueOrderStatus.MATCHED:
        return S.MATCHED
    if status is VenueOrderStatus.EXPIRED:
        return S.EXPIRED
    # UNMATCHED (a killed FOK/FAK), CANCELED, INVALID (venue-side cancel)
    return S.CANCELED


@dataclass(slots=True)
class OrderRecord:
    """Local knowledge of one order, keyed by its venue id (the order hash)."""

    order_hash: str
    client_id: str
    strategy: str
    market: str
    token_id: str
    side: Side
    price: int
    size: int
    order_type: OrderType
    state: OrderState
    created_ns: int
    signed: SignedOrder | None = None  # None for orders adopted from the venue
    size_matched: int = 0
    reason: str = ""
    cancel_requested: bool = False
    updated_ns: int = 0

    @property
    def is_open(self) -> bool:
        """Whether the order may still rest on (or be on its way to) the book."""
        return self.state in OPEN_ORDER_STATES

    @property
    def remaining(self) -> int:
        """Share-micros not yet matched (0 once the order is final)."""
        return max(self.size - self.size_matched, 0) if self.is_open else 0

    def move(self, dst: OrderState, ts_ns: int, *, force: bool = False) -> bool:
        """Apply a transition; return whether the state changed.

        Stale edges (reordered or repeated frames) are ignored. An illegal edge raises
        :class:`IllegalTransitionError`, unless ``force``: then the venue's truth found by
        reconciliation wins over the local belief.
        """
        try:
            edge = order_edge(self.state, dst)
        except IllegalTransitionError:
            if not force:
                raise
            edge = Edge.OK
        if edge is Edge.STALE or dst is self.state:
            return False
        self.state = dst
        self.updated_ns = ts_ns
        return True

    def apply_venue(self, venue: VenueOrder, ts_ns: int, *, force: bool = False) -> bool:
        """Merge a venue report into the record; return whether anything changed.

        ``size_matched`` only grows: an older frame never undoes a fill it did not know of.
        """
        before = (self.state, self.size_matched)
        matched = max(self.size_matched, venue.size_matched)
        dst = state_for_venue(venue.status, matched)
        if dst is S.PARTIALLY_MATCHED and matched >= self.size > 0:
            dst = S.MATCHED
        self.move(dst, ts_ns, force=force)
        self.size_matched = matched
        return (self.state, self.size_matched) != before


# ---------------------------------------------------------------------------------------------
# Trades
# ---------------------------------------------------------------------------------------------

T = TradeStatus
PENDING_TRADE_STATUSES: Final = frozenset({T.MATCHED, T.MINED, T.RETRYING})
"""Settlement not final yet: the fill counts provisionally."""


def _trade_table() -> dict[tuple[TradeStatus, TradeStatus], Edge]:
    ok, stale = Edge.OK, Edge.STALE
    table: dict[tuple[TradeStatus, TradeStatus], Edge] = {}
    for src in (T.MATCHED, T.MINED, T.RETRYING):
        for dst in (T.MINED, T.CONFIRMED, T.RETRYING, T.FAILED):
            table[src, dst] = ok
    table[T.MATCHED, T.MATCHED] = stale  # duplicate frames and duplicate trade ids happen
    table[T.MINED, T.MATCHED] = stale  # reordered
    # RETRYING means the venue resubmits the settlement transaction; a MATCHED seen after it
    # is an older frame.
    table[T.RETRYING, T.MATCHED] = stale
    for dst in (T.MATCHED, T.MINED, T.RETRYING, T.CONFIRMED):
        table[T.CONFIRMED, dst] = stale  # final on-chain; older frames are ignored
    for dst in (T.MATCHED, T.MINED, T.RETRYING, T.FAILED):
        table[T.FAILED, dst] = stale  # terminal; older frames are ignored
    # CONFIRMED -> FAILED and FAILED -> CONFIRMED are contradictions: IllegalTransitionError.
    return table


_TRADE_TABLE: Final = _trade_table()


def trade_edge(src: TradeStatus, dst: TradeStatus) -> Edge:
    """Return how moving a trade from ``src`` to ``dst`` is treated, or raise."""
    edge = _TRADE_TABLE.get((src, dst))
    if edge is None:
        raise IllegalTransitionError(f"trade {src.value} -> {dst.value}")
    return edge


@dataclass(slots=True)
class Fill:
    """One leg of a trade that belongs to one of our orders.

    ``token_id``/``side``/``price`` are those of *our* order (a maker leg of a mint or merge
    match sits on the other outcome token than the trade's headline ``asset_id``).
    """

    trade_id: str
    order_hash: str
    market: str
    token_id: str
    side: Side
    price: int
    size: int
    fee: int
    liquidity: TraderSide
    status: TradeStatus
    seq: int
    match_time_ns: int = 0
    cash: int = -1
    """pUSD-micros the trade moves for ``size`` at ``price`` (before the fee), summed over the
    venue's own fills and rounded as it rounds each (:func:`fill_cash`); ``-1``: one fill
    of ``size`` (:func:`venue_notional`)."""

    def __post_init__(self) -> None:
        if self.cash < 0:
            self.cash = venue_notional(self.size, self.price)

    @property
    def key(self) -> tuple[str, str]:
        """Identity of a fill: (trade id, order hash)."""
        return (self.trade_id, self.order_hash)

    @property
    def counts(self) -> bool:
        """Whether the fill moves positions (everything but FAILED)."""
        return self.status is not T.FAILED

    @property
    def confirmed(self) -> bool:
        """Whether the fill is final on-chain."""
        return self.status is T.CONFIRMED

    def signed_qty(self) -> int:
        """Share-micros the fill adds to (BUY) or removes from (SELL) the position."""
        return self.size if self.side is Side.BUY else -self.size

    def cash_flow(self) -> int:
        """pUSD-micros the fill adds to (SELL) or removes from (BUY) collateral, fee included."""
        if self.side is Side.BUY:
            return -self.cash - self.fee
        return self.cash - self.fee


def taker_fee(size: int, price: int, fee_rate_bps: int) -> int:
    """Polymarket's taker fee for ``size`` at ``price`` with a rate in basis points."""
    return PolymarketFeeModel(rate=fee_rate_bps * 100).taker_fee(size, price)


def venue_notional(size: int, price: int) -> int:
    """pUSD the venue moves for one fill of ``size`` at ``price``: rounded half up.

    The exchange settles every fill (one taker order against one maker order) on its own,
    so a trade of several fills is the sum of several roundings, not one rounding of the
    total (``sim/exchange`` settles exactly so; see ``domain/matching.py``).
    """
    return cost_of(size, price, Rounding.HALF_UP)


def fill_cash(size: int, price: int, other_price: int | None) -> int:
    """pUSD one venue fill moves for the side at ``price`` (before the fee).

    ``other_price`` is the counterparty order's price when it is on the *other* outcome
    token (a mint or merge match): the pair is worth exactly ``size``, the order at
    ``other_price`` gets its share rounded down and this side the rest. ``None`` for a
    complementary fill (both orders on one token), rounded half up.
    """
    if other_price is None:
        return venue_notional(size, price)
    return size - size * other_price // SCALE


def _taker_parts(report: TradeReport) -> list[tuple[int, int]]:
    """``(size, cash)`` of each venue fill of the report's taker order.

    One per maker leg (the venue lists every maker order the taker met); when the legs do
    not add up to the trade's size (a row that lists none), the trade is one fill.
    """
    legs = report.maker_legs
    if not legs or sum(leg.matched_amount for leg in legs) != report.size:
        return [(report.size, venue_notional(report.size, report.price))]
    parts = []
    for leg in legs:
        other = leg.price if leg.asset_id and leg.asset_id != report.asset_id else None
        parts.append((leg.matched_amount, fill_cash(leg.matched_amount, report.price, other)))
    return parts


def _maker_cash(report: TradeReport, leg: MakerLeg) -> int:
    """pUSD our maker order's fill moves: half up, or rounded down in a mint/merge match."""
    if leg.asset_id and leg.asset_id != report.asset_id:
        return leg.matched_amount * leg.price // SCALE
    return venue_notional(leg.matched_amount, leg.price)


def fills_from_report(
    report: TradeReport, orders: Mapping[str, OrderRecord], seq: int
) -> tuple[list[Fill], list[str]]:
    """Split a trade report into fills of our known orders.

    Returns the fills and, when none of the report's orders is known locally, every order
    id it names (the venue only reports our trades, so one of them is ours: the caller parks
    the report until reconciliation adopts that order). Our own order is the authority for
    token and side: the wire's ``maker_orders[].side`` is optional and has been seen
    inverted, and a maker leg can sit on the other outcome token than the trade's.
    """
    fills: list[Fill] = []
    taker = orders.get(report.taker_order_id)
    if taker is not None:
        parts = _taker_parts(report)
        fee = report.fee if report.fee is not None else 0
        if report.fee is None and report.fee_rate_bps:
            # The venue charges each fill its own fee (floored), never above its cash.
            bps = report.fee_rate_bps
            fee = sum(min(taker_fee(size, report.price, bps), cash) for size, cash in parts)
        fills.append(
            _fill(
                report,
                taker,
                price=report.price,
                size=report.size,
                fee=fee,
                liquidity=TraderSide.TAKER,
                seq=seq,
                cash=sum(cash for _, cash in parts),
            )
        )
    for leg in report.maker_legs:
        maker = orders.get(leg.order_id)
        if maker is not None:
            fills.append(
                _fill(
                    report,
                    maker,
                    price=leg.price,
                    size=leg.matched_amount,
                    fee=0,
                    liquidity=TraderSide.MAKER,
                    seq=seq,
                    cash=_maker_cash(report, leg),
                )
            )
    if fills:
        return fills, []
    return [], [report.taker_order_id, *(leg.order_id for leg in report.maker_legs)]


def _fill(
    report: TradeReport,
    order: OrderRecord,
    *,
    price: int,
    size: int,
    fee: int,
    liquidity: TraderSide,
    seq: int,
    cash: int,
) -> Fill:
    return Fill(
        trade_id=report.trade_id,
        order_hash=order.order_hash,
        market=order.market or report.market,
        token_id=order.token_id,
        side=order.side,
        price=price,
        size=size,
        fee=fee,
        liquidity=liquidity,
        status=report.status,
        seq=seq,
        match_time_ns=report.match_time_ns,
        cash=cash,
    )
