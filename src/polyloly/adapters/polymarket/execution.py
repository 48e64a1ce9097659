"""Bridge: the Polymarket adapter as the execution layer's venue ports.

The execution layer (:mod:`polyloly.execution.ports`) cannot import adapters; this module
makes the adapter implement its ports, and the local exchange simulator with it (the
simulator speaks the venue's protocol over loopback, so the same bridge serves both).

* :class:`PolymarketSigner` — ``OrderSigner``: signs an :class:`~polyloly.execution.ports.
  OrderSpec` with the adapter's :class:`~polyloly.adapters.polymarket.signing.OrderSigner`,
  using the spec's deterministic salt and timestamp, so the same intent always yields the
  same order hash (the venue's ``orderID``); safe to call from several threads at once.
* :class:`PolymarketVenue` — ``OrderVenue`` + ``CancelAllVenue`` + ``AccountReader`` over
  :class:`~polyloly.adapters.polymarket.http.ClobRest`. ``lookup`` falls back to the trade
  history, because the real ``/data/order/{id}`` serves active orders only. ``submit``
  posts the order's ``POST /order`` body made when it was signed (:meth:`PolymarketVenue.
  prepare`, which the signer calls: for a pre-signed order that is in the presigner's worker
  thread), so a result costs the loop only the L2 headers and the write.
* :func:`translate` — the user channel's ``pm_order_update`` / ``pm_trade_update`` events
  as the execution layer's :class:`OrderUpdate` / :class:`TradeUpdate` (give it to
  ``ExecutionEngine.add_venue_events`` and to the SQL projection).
* :class:`SimControlMerger` — ``Merger`` through the simulator's ``POST /sim/merge``. The
  on-chain merger (CTF ``mergePositions`` through the V2 collateral adapter) is described
  in ``docs/execution.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

import httpx
import msgspec

from polyloly.adapters.polymarket import events as pm
from polyloly.adapters.polymarket.config import SignatureType
from polyloly.adapters.polymarket.factory import PolymarketAdapter
from polyloly.adapters.polymarket.http import ClobRest, OrderAck, PendingPost, PreparedPost
from polyloly.adapters.polymarket.signing import BYTES32_ZERO
from polyloly.adapters.polymarket.signing import OrderSigner as PmOrderSigner
from polyloly.adapters.polymarket.signing import OrderSpec as PmOrderSpec
from polyloly.adapters.polymarket.signing import SignedOrder as PmSignedOrder
from polyloly.domain.events import Event
from polyloly.domain.money import to_decimal
from polyloly.execution.engine import ExecutionEngine, ExecutionPorts
from polyloly.execution.events import OrderUpdate, TradeUpdate, UpdateSource
from polyloly.execution.ports import (
    AlertPort,
    Balances,
    CancelResult,
    MakerLeg,
    Merger,
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
from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.runtime.errors import (
    ConfigError,
    HaltError,
    PolylolyError,
    RejectError,
    RetryableError,
    UnknownOutcomeError,
)

__all__ = [
    "OrderBodies",
    "PolymarketSigner",
    "PolymarketVenue",
    "SimControlMerger",
    "attach_user_channel",
    "execution_ports",
    "trade_report",
    "translate",
    "venue_order",
]

_ORDER_STATUS: Final = {
    pm.OrderStatus.LIVE: VenueOrderStatus.LIVE,
    pm.OrderStatus.DELAYED: VenueOrderStatus.DELAYED,
    pm.OrderStatus.MATCHED: VenueOrderStatus.MATCHED,
    pm.OrderStatus.UNMATCHED: VenueOrderStatus.UNMATCHED,
    pm.OrderStatus.CANCELED: VenueOrderStatus.CANCELED,
    pm.OrderStatus.INVALID: VenueOrderStatus.INVALID,
}
_TRADE_STATUS: Final = {
    pm.TradeStatus.MATCHED: TradeStatus.MATCHED,
    pm.TradeStatus.MINED: TradeStatus.MINED,
    pm.TradeStatus.CONFIRMED: TradeStatus.CONFIRMED,
    pm.TradeStatus.RETRYING: TradeStatus.RETRYING,
    pm.TradeStatus.FAILED: TradeStatus.FAILED,
}
_ACK_STATUS: Final = {
    "live": VenueOrderStatus.LIVE,
    "matched": VenueOrderStatus.MATCHED,
    "delayed": VenueOrderStatus.DELAYED,
    "unmatched": VenueOrderStatus.UNMATCHED,
}
_SOURCES: Final = {pm.UpdateSource.WS: UpdateSource.WS, pm.UpdateSource.REST: UpdateSource.REST}


# ---------------------------------------------------------------------------------------------
# Translation of the adapter's events
# ---------------------------------------------------------------------------------------------


def venue_order(update: pm.OrderUpdate) -> VenueOrder | None:
    """The execution layer's view of an order update (``None`` for an unknown status)."""
    status = _ORDER_STATUS.get(update.status)
    if status is None:
        return None
    if status is VenueOrderStatus.CANCELED and "EXPIRED" in update.status_detail.upper():
        status = VenueOrderStatus.EXPIRED
    kwargs = {"order_type": update.order_type} if update.order_type is not None else {}
    return VenueOrder(
        order_hash=update.order_id,
        market=update.market,
        token_id=update.token_id,
        side=update.side,
        price=update.price,
        original_size=update.original_size,
        size_matched=update.size_matched,
        status=status,
        created_ns=update.created_at_ns or 0,
        trade_ids=update.associate_trades,
        metadata=update.metadata,
        **kwargs,
    )


def trade_report(update: pm.TradeUpdate) -> TradeReport | None:
    """The execution layer's view of a trade update (``None`` for an unknown status)."""
    status = _TRADE_STATUS.get(update.status)
    if status is None:
        return None
    return TradeReport(
        trade_id=update.trade_id,
        market=update.market,
        asset_id=update.token_id,
        side=update.side,
        price=update.price,
        size=update.size,
        status=status,
        taker_order_id=update.taker_order_id,
        trader_side=TraderSide(update.trader_side.value),
        fee_rate_bps=update.fee_rate_bps,
        maker_legs=tuple(
            MakerLeg(
                order_id=m.order_id,
                asset_id=m.token_id,
                price=m.price,
                matched_amount=m.matched_amount,
                side=m.side,
                fee_rate_bps=m.fee_rate_bps,
            )
            for m in update.maker_orders
        ),
        match_time_ns=update.match_time_ns or 0,
        last_update_ns=update.last_update_ns or 0,
        transaction_hash=update.transaction_hash,
    )


def translate(event: Event) -> OrderUpdate | TradeUpdate | None:
    """Translate a ``pm_order_update`` / ``pm_trade_update`` event (others: ``None``)."""
    if isinstance(event, pm.OrderUpdate):
        order = venue_order(event)
        if order is None:
            return None
        source = _SOURCES.get(event.source, UpdateSource.WS)
        return OrderUpdate(
            ts_event=event.ts_event, ts_init=event.ts_init, order=order, source=source
        )
    if isinstance(event, pm.TradeUpdate):
        report = trade_report(event)
        if report is None:
            return None
        source = _SOURCES.get(event.source, UpdateSource.WS)
        return TradeUpdate(
            ts_event=event.ts_event, ts_init=event.ts_init, report=report, source=source
        )
    return None


# ---------------------------------------------------------------------------------------------
# Signing
# ---------------------------------------------------------------------------------------------


class PolymarketSigner:
    """``OrderSigner`` over the adapter's V2 signer, deterministic per spec, thread-safe.

    The adapter's signer reads the order's salt and timestamp from callables given at
    construction. Each :meth:`sign` call hands them its own spec through a context variable,
    which every thread (and every asyncio task) sees separately, so concurrent calls from
    several threads each sign exactly their own spec.

    Parameters
    ----------
    private_key, chain_id, signature_type, funder
        The wallet (as for :class:`~polyloly.adapters.polymarket.signing.OrderSigner`).
    tick_of
        The token's current tick size in micros (the market registry or book).
    neg_risk_of
        Whether the token's market is neg-risk (selects the exchange contract).
    prepare
        Called with every order signed (in the signing thread), e.g.
        :meth:`PolymarketVenue.prepare` to make its ``POST`` body ahead of the send.
    """

    def __init__(
        self,
        private_key: str,
        chain_id: int,
        *,
        signature_type: SignatureType = SignatureType.EOA,
        funder: str | None = None,
        tick_of: Callable[[str], int],
        neg_risk_of: Callable[[str], bool] = lambda _token: False,
        prepare: Callable[[SignedOrder], object] | None = None,
        metadata: str = BYTES32_ZERO,
    ) -> None:
        self.metadata = metadata
        """The ``metadata`` bytes32 every order is signed with (the instance's tag)."""
        # One variable per signer: a call on another signer never sees this one's spec.
        self._spec: ContextVar[OrderSpec | None] = ContextVar(
            f"polymarket_signer_spec_{id(self):x}", default=None
        )
        self._signer = PmOrderSigner(
            private_key,
            chain_id,
            signature_type=signature_type,
            funder=funder,
            now_ms=self._timestamp_ms,
            salt=self._salt,
        )
        self._tick_of = tick_of
        self._neg_risk_of = neg_risk_of
        self._prepare = prepare
        self.funder = self._signer.funder

    def _current(self) -> OrderSpec:
        spec = self._spec.get()
        if spec is None:
            raise RuntimeError("salt/timestamp read outside sign()")
        return spec

    def _timestamp_ms(self) -> int:
        return self._current().timestamp_ms

    def _salt(self) -> int:
        return self._current().salt

    def sign(self, spec: OrderSpec) -> SignedOrder:
        """Sign ``spec``; the payload is the adapter's signed order, ready to post."""
        token = self._spec.set(spec)
        try:
            signed = self._signer.sign(
                PmOrderSpec(
                    token_id=spec.token_id,
                    side=spec.side,
                    price=spec.price,
                    size=spec.size,
                    tick=self._tick_of(spec.token_id),
                    order_type=spec.order_type,
                    neg_risk=self._neg_risk_of(spec.token_id),
                    post_only=spec.post_only,
                    expiration_s=spec.expiration_s,
                    metadata=self.metadata,
                )
            )
        finally:
            self._spec.reset(token)
        out = SignedOrder(
            order_hash=signed.order_hash, spec=spec, payload=msgspec.to_builtins(signed)
        )
        if self._prepare is not None:
            self._prepare(out)
        return out


# ---------------------------------------------------------------------------------------------
# The venue
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Body:
    """A ``POST /order`` body and what it was made from (the payload, the API key)."""

    payload: dict[str, Any]
    owner: str
    data: bytes


class OrderBodies:
    """``POST /order`` bodies by order hash, made once per order; bounded, thread-safe.

    A body is used only for the very payload it was made from and the current API key, so
    a relabelled pre-signed order (same payload) finds it and nothing else ever does.

    Parameters
    ----------
    rest
        Makes the bodies (:meth:`ClobRest.order_body`).
    capacity
        Bodies kept at most (the oldest go first: unused pre-signed orders, mostly).
    """

    def __init__(self, rest: ClobRest, capacity: int = 1_024) -> None:
        self.rest = rest
        self.capacity = capacity
        self.made = 0
        self._bodies: dict[str, _Body] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._bodies)

    def body(self, order: SignedOrder) -> bytes:
        """The order's body: the one made earlier for the same payload, else a new one."""
        owner = self.rest.owner()
        with self._lock:
            kept = self._bodies.get(order.order_hash)
        if (
            kept is not None
            and kept.owner == owner
            and (kept.payload is order.payload or kept.payload == order.payload)
        ):
            return kept.data
        data = self.rest.order_body(msgspec.convert(order.payload, PmSignedOrder))
        with self._lock:
            self.made += 1
            self._bodies[order.order_hash] = _Body(order.payload, owner, data)
            while len(self._bodies) > self.capacity:
                del self._bodies[next(iter(self._bodies))]
        return data

    def forget(self, order_hash: str) -> None:
        """Drop an order's body (it was answered: it is not needed again)."""
        with self._lock:
            self._bodies.pop(order_hash, None)


class PolymarketVenue:
    """``OrderVenue``, ``CancelAllVenue`` and ``AccountReader`` over :class:`ClobRest`.

    Parameters
    ----------
    rest
        The adapter's REST port (with a wallet and API credentials).
    clock
        For the trade-history window of :meth:`lookup`.
    lookup_window_s
        How far back :meth:`lookup` searches trades for an order no longer active.
    """

    def __init__(self, rest: ClobRest, clock: Clock, *, lookup_window_s: int = 3_600) -> None:
        self.rest = rest
        self.clock = clock
        self.lookup_window_s = lookup_window_s
        self.bodies = OrderBodies(rest)

    def prepare(self, order: SignedOrder) -> None:
        """Make the order's ``POST`` body now (the signer calls it, in its thread).

        A failure here is not the signer's: :meth:`submit` makes the body again and
        reports it as a failed submit.
        """
        try:
            self.bodies.body(order)
        except (PolylolyError, msgspec.ValidationError):
            return

    async def submit(self, order: SignedOrder) -> SubmitResult:
        """Post the signed order exactly as it was logged."""
        ack = await self.rest.post_order_body(self.bodies.body(order))
        return self._submitted(order, ack)

    # -- pre-decided orders: the request made ahead, written synchronously ----------------------

    def prepare_post(self, order: SignedOrder) -> _Prepared | None:
        """The order's whole ``POST /order`` made now (``None`` if it cannot be made ahead)."""
        try:
            post = self.rest.prepare_order_post(self.bodies.body(order))
        except (PolylolyError, msgspec.ValidationError, httpx.LocalProtocolError):
            return None
        return None if post is None else _Prepared(order, post)

    def post_now(self, prepared: _Prepared) -> _PendingSubmit | None:
        """Write a prepared order's post now, before any ``await`` (``None``: not written)."""
        pending = self.rest.post_order_now(prepared.post)
        return None if pending is None else _PendingSubmit(self, prepared.order, pending)

    def _submitted(self, order: SignedOrder, ack: OrderAck) -> SubmitResult:
        self.bodies.forget(order.order_hash)
        if ack.order_id != order.order_hash:
            # Our locally computed hash is how every later message is matched: if the
            # venue disagrees, nothing about this order can be tracked. Stop trading.
            raise HaltError(f"venue order id {ack.order_id} != local hash {order.order_hash}")
        status = _ACK_STATUS.get(ack.status, VenueOrderStatus.LIVE)
        return SubmitResult(
            order_hash=order.order_hash,
            status=status,
            making_amount=ack.making_amount,
            taking_amount=ack.taking_amount,
            trade_ids=ack.trade_ids,
        )

    async def lookup(self, order_hash: str) -> VenueOrder | None:
        """The order from ``/data/order``, else from the trades that filled it, else None."""
        try:
            update = await self.rest.get_order(order_hash)
        except RejectError as exc:
            if exc.code != RejectCode.NOT_FOUND:
                raise
            update = None
        if update is not None:
            return venue_order(update)
        after_ns = max(self.clock.now_ns() - self.lookup_window_s * NS_PER_S, 0)
        filled = 0
        found: TradeReport | None = None
        for report in await self.trades(after_ns):
            for size in _sizes_for(report, order_hash):
                filled += size
                found = report
        if found is None:
            return None
        return VenueOrder(
            order_hash=order_hash,
            market=found.market,
            token_id=found.asset_id,
            side=found.side,
            price=found.price,
            original_size=filled,
            size_matched=filled,
            status=VenueOrderStatus.MATCHED,
        )

    async def cancel(self, order_hashes: Sequence[str]) -> CancelResult:
        """Cancel by id."""
        ack = await self.rest.cancel(order_hashes)
        return CancelResult(canceled=ack.canceled, not_canceled=dict(ack.not_canceled))

    async def cancel_all(self) -> CancelResult:
        """Cancel everything open on the account."""
        ack = await self.rest.cancel_all()
        return CancelResult(canceled=ack.canceled, not_canceled=dict(ack.not_canceled))

    async def open_orders(self) -> list[VenueOrder]:
        """Every open order of the API key."""
        out = [venue_order(u) for u in await self.rest.open_orders()]
        return [o for o in out if o is not None]

    async def trades(self, after_ns: int) -> list[TradeReport]:
        """The account's trades matched at or after ``after_ns`` (second resolution)."""
        after_s = after_ns // NS_PER_S - 1 if after_ns else 0
        updates = await self.rest.trades(after_s if after_s > 0 else None)
        out = [trade_report(u) for u in updates]
        return [t for t in out if t is not None]

    async def balances(self, token_ids: Sequence[str]) -> Balances:
        """pUSD and the given tokens' balances."""
        found = await self.rest.balances(token_ids)
        return Balances(collateral=found.collateral, tokens=dict(found.tokens))


@dataclass(frozen=True, slots=True)
class _Prepared:
    order: SignedOrder
    post: PreparedPost


@dataclass(frozen=True, slots=True)
class _PendingSubmit:
    """A post :meth:`PolymarketVenue.post_now` wrote; :meth:`result` reads the reply."""

    venue: PolymarketVenue
    order: SignedOrder
    pending: PendingPost

    async def result(self) -> SubmitResult:
        """The venue's answer, checked as :meth:`PolymarketVenue.submit` checks it."""
        ack = await self.venue.rest.finish_order_post(self.pending)
        return self.venue._submitted(self.order, ack)


def _sizes_for(report: TradeReport, order_hash: str) -> list[int]:
    if report.status is TradeStatus.FAILED:
        return []
    sizes = [report.size] if report.taker_order_id == order_hash else []
    sizes += [leg.matched_amount for leg in report.maker_legs if leg.order_id == order_hash]
    return sizes


class SimControlMerger:
    """``Merger`` through the local simulator's control API (``POST /sim/merge``)."""

    def __init__(self, base_url: str, address: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.address = address
        self.http = http

    async def merge(self, condition_id: str, size: int) -> MergeResult:
        """Merge ``size`` pairs of ``condition_id`` for the configured address."""
        body = {
            "address": self.address,
            "condition_id": condition_id,
            "size": str(to_decimal(size)),
        }
        try:
            reply = await self.http.post(f"{self.base_url}/sim/merge", json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise RetryableError(f"merge: not sent ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise UnknownOutcomeError(f"merge: reply lost ({type(exc).__name__})") from exc
        if reply.status_code >= 500:
            raise UnknownOutcomeError(f"merge: HTTP {reply.status_code}")
        ok = False
        if reply.status_code == 200:
            try:
                ok = bool(reply.json().get("success"))
            except ValueError:
                ok = False
        if not ok:
            raise RejectError(f"merge refused: {reply.text[:200]}", code=RejectCode.MERGE_REFUSED)
        return MergeResult(condition_id=condition_id, size=size, transaction_hash="sim")


# ---------------------------------------------------------------------------------------------
# Wiring
# ---------------------------------------------------------------------------------------------


def execution_ports(
    adapter: PolymarketAdapter,
    clock: Clock,
    *,
    tick_of: Callable[[str], int],
    alerts: AlertPort,
    neg_risk_of: Callable[[str], bool] = lambda _token: False,
    merger: Merger | None = None,
    metadata: str = BYTES32_ZERO,
) -> ExecutionPorts:
    """The execution ports of a (wallet-configured) adapter; every order is signed with
    ``metadata`` (the instance's tag when several instances share the account)."""
    wallet = adapter.config.wallet
    if wallet is None:
        raise ConfigError("polymarket.wallet: trading needs a wallet")
    venue = PolymarketVenue(adapter.rest, clock)
    signer = PolymarketSigner(
        wallet.private_key.reveal(),
        wallet.chain_id,
        signature_type=wallet.signature_type,
        funder=wallet.funder,
        tick_of=tick_of,
        neg_risk_of=neg_risk_of,
        prepare=venue.prepare,
        metadata=metadata,
    )
    return ExecutionPorts(
        signer=signer,
        venue=venue,
        account=venue,
        alerts=alerts,
        cancel_all=venue,
        merger=merger,
    )


def attach_user_channel(engine: ExecutionEngine) -> None:
    """Feed the adapter's user-channel events into the engine's ledger.

    Call it before :meth:`~ExecutionEngine.recover` (the log holds these events too). A
    resync after a reconnect (``pm_user_resync``) also starts a reconciliation pass.
    """
    engine.add_venue_events(pm.OrderUpdate, translate)
    engine.add_venue_events(pm.TradeUpdate, translate)

    def on_resync(_event: pm.UserResync) -> None:
        engine.reconciler.request()

    engine.kernel.subscribe(pm.UserResync, on_resync)
