"""In-memory implementations of the execution ports, with fault injection, for tests.

* :class:`FakeVenue` — one account on a scripted exchange: implements
  :class:`~polyloly.execution.ports.OrderVenue`, ``CancelAllVenue``, ``AccountReader`` and
  ``Merger``. Orders rest until the test fills them (:meth:`FakeVenue.fill`), settles the
  trades (:meth:`FakeVenue.settle`) or cancels them. Updates go to ``publish`` (the "user
  WebSocket"), which can be disconnected; REST reads always see the truth. Faults: errors
  before or after an order is processed (a lost reply), duplicates, rejects.
* :class:`FakeSigner` — deterministic "signing" (the hash is a digest of the spec).
* :class:`RecordingAlerts` — keeps every alert.
* :class:`VirtualSleep` — a :data:`~polyloly.runtime.sleep.Sleep` that advances a
  :class:`~polyloly.runtime.clock.VirtualClock` instead of waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from polyloly.domain.events import Event, Side
from polyloly.domain.money import SCALE
from polyloly.execution.events import OrderUpdate, TradeUpdate, UpdateSource
from polyloly.execution.lifecycle import taker_fee, venue_notional
from polyloly.execution.ports import (
    Alert,
    Balances,
    CancelResult,
    MakerLeg,
    MergeResult,
    OrderSpec,
    RejectCode,
    SignedOrder,
    SubmitResult,
    TradeReport,
    TraderSide,
    TradeStatus,
    VenueOrder,
    VenueOrderStatus,
)
from polyloly.runtime.clock import VirtualClock
from polyloly.runtime.errors import PolylolyError, RejectError, UnknownOutcomeError

__all__ = ["FakeSigner", "FakeVenue", "RecordingAlerts", "VirtualSleep"]


class FakeSigner:
    """Signs nothing; the order hash is a SHA-256 of the spec (same spec, same hash)."""

    def __init__(self) -> None:
        self.signed = 0

    def sign(self, spec: OrderSpec) -> SignedOrder:
        """Return the "signed" order."""
        self.signed += 1
        digest = hashlib.sha256(msgspec.json.encode(spec)).hexdigest()
        return SignedOrder(order_hash="0x" + digest, spec=spec, payload=msgspec.to_builtins(spec))


class RecordingAlerts:
    """An alert port that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        """Keep the alert."""
        self.sent.append(alert)


class VirtualSleep:
    """Sleep by advancing a virtual clock (and yielding once to the event loop)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.calls: list[int] = []

    async def __call__(self, delay_ns: int) -> None:
        """Advance the clock by ``delay_ns``."""
        self.calls.append(delay_ns)
        self.clock.advance_ns(delay_ns)
        await asyncio.sleep(0)


@dataclass(slots=True)
class _Fault:
    method: str
    error: PolylolyError
    after: bool  # raise after the request took effect (a lost reply)


@dataclass(slots=True)
class _Trade:
    report: TradeReport
    deltas: dict[str, int] = field(default_factory=dict)  # asset -> signed change


class FakeVenue:
    """A scripted one-account exchange (see the module docstring).

    Parameters
    ----------
    markets
        ``condition_id -> (token_a, token_b)``.
    collateral
        Starting pUSD micros of the account.
    now_ns
        Clock for trade timestamps.
    """

    def __init__(
        self,
        markets: dict[str, tuple[str, str]],
        *,
        collateral: int = 1_000 * SCALE,
        now_ns: Callable[[], int] = lambda: 0,
    ) -> None:
        self.markets = markets
        self.now_ns = now_ns
        self.publish: Callable[[Event], None] | None = None
        self.ws_connected = True
        self.cancel_all_calls = 0
        self.orders: dict[str, VenueOrder] = {}
        self.specs: dict[str, OrderSpec] = {}
        self.trade_log: dict[str, _Trade] = {}
        self.balances_map: dict[str, int] = {"collateral": collateral}
        self.faults: deque[_Fault] = deque()
        self.calls: dict[str, int] = {}
        self.submissions = 0  # submits that reached the matching stage (duplicates included)
        self._trade_seq = 0

    # -- fault injection --------------------------------------------------------------------

    def fail_next(self, method: str, error: PolylolyError, count: int = 1) -> None:
        """Make the next ``count`` calls of ``method`` raise ``error`` without effect."""
        self.faults.extend(_Fault(method, error, after=False) for _ in range(count))

    def lose_next_reply(self, method: str = "submit") -> None:
        """Process the next ``method`` call, then raise as if the reply was lost."""
        self.faults.append(_Fault(method, UnknownOutcomeError("reply lost"), after=True))

    def _fault(self, method: str) -> _Fault | None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.faults and self.faults[0].method == method:
            return self.faults.popleft()
        return None

    def _send(self, event: Event) -> None:
        if self.ws_connected and self.publish is not None:
            self.publish(event)

    def _order_update(self, order: VenueOrder) -> None:
        now = self.now_ns()
        self._send(OrderUpdate(ts_event=now, ts_init=now, order=order, source=UpdateSource.WS))

    # -- OrderVenue ---------------------------------------------------------------------------

    async def submit(self, order: SignedOrder) -> SubmitResult:
        """Rest the order (LIVE), or refuse a duplicate."""
        fault = self._fault("submit")
        if fault is not None and not fault.after:
            raise fault.error
        self.submissions += 1
        if order.order_hash in self.orders:
            raise RejectError(
                f"order {order.order_hash} is invalid. Duplicated.", RejectCode.DUPLICATE
            )
        spec = order.spec
        venue = VenueOrder(
            order_hash=order.order_hash,
            market=spec.market,
            token_id=spec.token_id,
            side=spec.side,
            price=spec.price,
            original_size=spec.size,
            size_matched=0,
            status=VenueOrderStatus.LIVE,
            order_type=spec.order_type,
            created_ns=self.now_ns(),
        )
        self.orders[order.order_hash] = venue
        self.specs[order.order_hash] = spec
        self._order_update(venue)
        if fault is not None:
            raise fault.error
        return SubmitResult(order_hash=order.order_hash, status=VenueOrderStatus.LIVE)

    async def lookup(self, order_hash: str) -> VenueOrder | None:
        """The order as the venue has it, or ``None``."""
        fault = self._fault("lookup")
        if fault is not None:
            raise fault.error
        return self.orders.get(order_hash)

    async def cancel(self, order_hashes: Sequence[str]) -> CancelResult:
        """Cancel open orders; others are reported as not canceled."""
        fault = self._fault("cancel")
        if fault is not None and not fault.after:
            raise fault.error
        result = self._cancel(order_hashes)
        if fault is not None:
            raise fault.error
        return result

    def _cancel(self, order_hashes: Sequence[str]) -> CancelResult:
        canceled: list[str] = []
        refused: dict[str, str] = {}
        for order_hash in order_hashes:
            order = self.orders.get(order_hash)
            if order is None or order.status is not VenueOrderStatus.LIVE:
                refused[order_hash] = "already canceled or matched"
                continue
            updated = msgspec.structs.replace(order, status=VenueOrderStatus.CANCELED)
            self.orders[order_hash] = updated
            canceled.append(order_hash)
            self._order_update(updated)
        return CancelResult(canceled=tuple(canceled), not_canceled=refused)

    async def cancel_all(self) -> CancelResult:
        """Cancel every open order."""
        self.cancel_all_calls += 1
        fault = self._fault("cancel_all")
        if fault is not None:
            raise fault.error
        return self._cancel(
            [h for h, o in self.orders.items() if o.status is VenueOrderStatus.LIVE]
        )

    # -- AccountReader ------------------------------------------------------------------------

    async def open_orders(self) -> list[VenueOrder]:
        """Every LIVE order."""
        fault = self._fault("open_orders")
        if fault is not None:
            raise fault.error
        return [o for o in self.orders.values() if o.status is VenueOrderStatus.LIVE]

    async def trades(self, after_ns: int) -> list[TradeReport]:
        """Trades matched or updated at or after ``after_ns``."""
        fault = self._fault("trades")
        if fault is not None:
            raise fault.error
        return [
            t.report
            for t in self.trade_log.values()
            if max(t.report.match_time_ns, t.report.last_update_ns) >= after_ns
        ]

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """Collateral and every token balance."""
        fault = self._fault("balances")
        if fault is not None:
            raise fault.error
        tokens = {k: v for k, v in self.balances_map.items() if k != "collateral"}
        for token in token_ids:
            tokens.setdefault(token, 0)
        return Balances(collateral=self.balances_map["collateral"], tokens=tokens)

    # -- Merger -------------------------------------------------------------------------------

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        """Burn ``size`` of each token for ``size`` pUSD."""
        fault = self._fault("merge")
        if fault is not None:
            raise fault.error
        a, b = self.markets[condition_id]
        if min(self.balances_map.get(a, 0), self.balances_map.get(b, 0)) < size:
            raise RejectError("not enough tokens to merge", RejectCode.NO_BALANCE)
        self._credit(a, -size)
        self._credit(b, -size)
        self._credit("collateral", size)
        return MergeResult(condition_id=condition_id, size=size, transaction_hash="0xmerge")

    # -- scripting the market -----------------------------------------------------------------

    def _credit(self, asset: str, amount: int) -> None:
        self.balances_map[asset] = self.balances_map.get(asset, 0) + amount

    def other_token(self, token_id: str) -> str:
        """The complement of ``token_id``."""
        for a, b in self.markets.values():
            if token_id in (a, b):
                return b if token_id == a else a
        raise KeyError(token_id)

    def fill(
        self,
        order_hash: str,
        size: int,
        *,
        price: int | None = None,
        taker: bool = False,
        fee_rate_bps: int = 0,
        opposite_token: bool = False,
        status: TradeStatus = TradeStatus.MATCHED,
        send_order_update: bool = True,
    ) -> str:
        """Match ``size`` of one of our orders; return the trade id.

        ``taker``: our order took liquidity (pays the fee); otherwise it was a maker, and
        ``opposite_token`` makes the taker a buyer of the *other* outcome (a mint match).
        """
        order = self.orders[order_hash]
        fill_price = order.price if price is None else price
        self._trade_seq += 1
        trade_id = f"trade-{self._trade_seq}"
        now = self.now_ns()
        fee = taker_fee(size, fill_price, fee_rate_bps) if taker else 0
        report = self._report(
            trade_id, order, size, fill_price, fee_rate_bps, taker=taker, opposite=opposite_token
        )
        report = msgspec.structs.replace(
            report, status=status, match_time_ns=now, last_update_ns=now
        )
        notional = venue_notional(size, fill_price)  # one fill, rounded as the exchange does
        sign = 1 if order.side is Side.BUY else -1
        cash = -notional - fee if sign > 0 else notional - fee
        trade = _Trade(report, {"collateral": cash, order.token_id: sign * size})
        self.trade_log[trade_id] = trade
        for asset, amount in trade.deltas.items():
            self._credit(asset, amount)
        matched = order.size_matched + size
        done = matched >= order.original_size
        updated = msgspec.structs.replace(
            order,
            size_matched=matched,
            status=VenueOrderStatus.MATCHED if done else order.status,
            trade_ids=(*order.trade_ids, trade_id),
        )
        self.orders[order_hash] = updated
        self._send(TradeUpdate(ts_event=now, ts_init=now, report=report))
        if send_order_update:
            self._order_update(updated)
        return trade_id

    def _report(
        self,
        trade_id: str,
        order: VenueOrder,
        size: int,
        price: int,
        fee_rate_bps: int,
        *,
        taker: bool,
        opposite: bool,
    ) -> TradeReport:
        if taker:
            return TradeReport(
                trade_id=trade_id,
                market=order.market,
                asset_id=order.token_id,
                side=order.side,
                price=price,
                size=size,
                status=TradeStatus.MATCHED,
                taker_order_id=order.order_hash,
                trader_side=TraderSide.TAKER,
                fee_rate_bps=fee_rate_bps,
                maker_legs=(
                    MakerLeg(
                        order_id="external",
                        asset_id=order.token_id,
                        price=price,
                        matched_amount=size,
                    ),
                ),
            )
        leg = MakerLeg(
            order_id=order.order_hash,
            asset_id=order.token_id,
            price=price,
            matched_amount=size,
            side=order.side,
        )
        flip = Side.SELL if order.side is Side.BUY else Side.BUY
        taker_asset = self.other_token(order.token_id) if opposite else order.token_id
        taker_side = order.side if opposite else flip
        taker_price = SCALE - price if opposite else price
        return TradeReport(
            trade_id=trade_id,
            market=order.market,
            asset_id=taker_asset,
            side=taker_side,
            price=taker_price,
            size=size,
            status=TradeStatus.MATCHED,
            taker_order_id=f"external-{trade_id}",
            trader_side=TraderSide.MAKER,
            fee_rate_bps=fee_rate_bps,
            maker_legs=(leg,),
        )

    def settle(self, trade_id: str, status: TradeStatus) -> None:
        """Move a trade to a settlement status (FAILED reverses its balance changes)."""
        trade = self.trade_log[trade_id]
        if status is TradeStatus.FAILED and trade.report.status is not TradeStatus.FAILED:
            for asset, amount in trade.deltas.items():
                self._credit(asset, -amount)
        now = self.now_ns()
        trade.report = msgspec.structs.replace(trade.report, status=status, last_update_ns=now)
        self._send(TradeUpdate(ts_event=now, ts_init=now, report=trade.report))

    def settle_all(self, status: TradeStatus = TradeStatus.CONFIRMED) -> None:
        """Move every trade that is not final to ``status``."""
        for trade_id, trade in self.trade_log.items():
            if trade.report.status not in (TradeStatus.CONFIRMED, TradeStatus.FAILED):
                self.settle(trade_id, status)

    def expire(self, order_hash: str) -> None:
        """The venue expires (GTD) an open order."""
        order = self.orders[order_hash]
        updated = msgspec.structs.replace(order, status=VenueOrderStatus.EXPIRED)
        self.orders[order_hash] = updated
        self._order_update(updated)

    def live_orders(self) -> list[VenueOrder]:
        """Orders resting right now."""
        return [o for o in self.orders.values() if o.status is VenueOrderStatus.LIVE]
