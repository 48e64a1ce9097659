"""The exchange core: listings, order entry, settlement, cancels and queries (no I/O).

:class:`Venue` wraps the pure :class:`~polyloly.domain.matching.MatchingEngine` with what
a venue adds around it: API keys, signature and funds checks, order and trade records,
the taker delay of live sports markets, heartbeats, GTD expiry, resolution, merge and
redeem. It answers in the venue's reply shapes and publishes every state change through
a :class:`~polyloly.sim.exchange.feeds.Publisher`. The HTTP and WebSocket layers
(:mod:`~polyloly.sim.exchange.rest`, :mod:`~polyloly.sim.exchange.ws`) only translate.

Time comes from the injected clock; timers (trade lifecycle, delayed orders, expiry,
heartbeats) run when :meth:`Venue.run_due` is called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, Protocol

from polyloly.domain.events import Side
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import MatchingEngine, OrderRequest
from polyloly.domain.matching_book import BookOrder, LevelChange
from polyloly.domain.money import ONE, Rounding, cost_of
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, Clock
from polyloly.sim.exchange.accounts import COLLATERAL, Accounts
from polyloly.sim.exchange.auth import (
    ApiCredentials,
    ApiKeyStore,
    OrderSignatureError,
    SignedOrderFields,
    order_digest,
    verify_order_signature,
)
from polyloly.sim.exchange.config import CHAIN_CONTRACTS, IdFactory, Listing, SimConfig, SimMarket
from polyloly.sim.exchange.feeds import FeedSink, Publisher
from polyloly.sim.exchange.frames import Json
from polyloly.sim.exchange.heartbeats import HeartbeatChains
from polyloly.sim.exchange.lifecycle import Timers, TradeLifecycle
from polyloly.sim.exchange.orders import (
    ERR_INVALID_PAYLOAD,
    OrderRecord,
    PostOrderBody,
    TradeRecord,
    check_amounts,
    implied_price,
    signed_fields,
)
from polyloly.sim.exchange.settlement import Settlement

__all__ = [
    "ERR_BALANCE",
    "ERR_OWNER",
    "ERR_SIGNER",
    "Venue",
]

ERR_BALANCE: Final = "not enough balance / allowance"
ERR_OWNER: Final = "the order owner has to be the owner of the API KEY"
ERR_SIGNER: Final = "the order signer address has to be the address of the API KEY"
ERR_SIGNATURE: Final = "invalid signature"
NOT_CANCELED: Final = "already canceled or matched"
_MARKET_TYPES: Final = frozenset({OrderType.FOK, OrderType.FAK})


class ChainHooks(Protocol):
    """A local chain the venue settles on (:class:`polyloly.sim.chain.bridge.ChainBridge`)."""

    def ids(self, question_id: str) -> tuple[str, str, tuple[str, str]]:
        """(question id, condition id, token ids) of a new market, as the chain computes them."""
        ...

    def listed(self, listing: Listing) -> None:
        """A market was listed: prepare its condition."""
        ...

    def resolved(self, listing: Listing, winning_token_id: str) -> None:
        """A market resolved: report its payouts."""
        ...


class Venue:
    """State and rules of the local exchange (see module docstring)."""

    def __init__(self, config: SimConfig, clock: Clock, sink: FeedSink) -> None:
        self.config = config
        self.clock = clock
        self.ids = IdFactory(config.seed)
        self.engine = MatchingEngine(gtd_threshold_s=config.gtd_threshold_s)
        self.accounts = Accounts(config.starting_balance, config.starting_allowance)
        self.keys = ApiKeyStore()
        self.listings: dict[str, Listing] = {}
        self.by_token: dict[str, Listing] = {}
        self.orders: dict[str, OrderRecord] = {}
        self.trades: dict[str, TradeRecord] = {}
        self.timers = Timers()
        self.publisher = Publisher(sink, self.book, self.now_ms)
        self.lifecycle = TradeLifecycle(
            self.timers,
            clock.now_ns,
            mined_delay_ms=config.trade_mined_delay_ms,
            confirmed_delay_ms=config.trade_confirmed_delay_ms,
            on_status=self.publisher.trade,
            on_failed=self._reverse,
        )
        self.settlement = Settlement(
            engine=self.engine,
            accounts=self.accounts,
            publisher=self.publisher,
            lifecycle=self.lifecycle,
            orders=self.orders,
            trades=self.trades,
            by_token=self.by_token,
            ids=self.ids,
            clock=clock,
        )
        self.contracts = CHAIN_CONTRACTS[config.chain_id]
        self._delayed: dict[str, OrderRequest] = {}
        self.delayed_total: dict[str, int] = {}  # owner -> orders held by the taker delay
        self.catch_up: Callable[[], object] | None = None
        self.heartbeats = HeartbeatChains(config.heartbeat_timeout_s, self.ids.uuid, self._expired)
        self._events: dict[str, str] = {}
        self.funders: dict[str, str] = {}  # signer EOA (lower) -> funder address
        self.house: dict[str, str] = {}  # synthetic owner -> address
        self.chain: ChainHooks | None = None  # a local chain settling for the venue

    # -- time -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Clock time in ms."""
        return self.clock.now_ns() // NS_PER_MS

    def now_s(self) -> int:
        """Clock time in s."""
        return self.clock.now_ns() // NS_PER_S

    # -- markets ----------------------------------------------------------------------------

    def add_market(self, spec: SimMarket) -> Listing:
        """List a binary market; ids are generated from the seed unless given."""
        question_id = ""
        if self.chain is not None and not spec.condition_id:
            # listed under its on-chain ids: the chain prepares the condition
            question_id, condition_id, tokens = self.chain.ids(self.ids.hex32())
        else:
            condition_id = spec.condition_id or self.ids.hex32()
            tokens = spec.token_ids or (self.ids.token_id(), self.ids.token_id())
        event_key = spec.event_slug or condition_id
        if event_key not in self._events:
            self._events[event_key] = self.ids.numeric(10_000, 999_999)
        listing = Listing(
            spec=spec,
            condition_id=condition_id,
            token_ids=tokens,
            question_id=question_id or self.ids.hex32(),
            gamma_id=self.ids.numeric(),
            event_id=self._events[event_key],
            tick=spec.tick,
            live=spec.live,
            accepting_orders=spec.accepting_orders,
        )
        book = self.engine.add_market(
            condition_id,
            tokens[0],
            tokens[1],
            tick=spec.tick,
            min_size=spec.min_size,
            fee_model=PolymarketFeeModel(rate=spec.fee_rate, exponent=spec.fee_exponent),
        )
        book.accepting = spec.accepting_orders
        self.listings[condition_id] = listing
        for token in tokens:
            self.by_token[token] = listing
        self.publisher.new_market(listing)
        if self.chain is not None:
            self.chain.listed(listing)
        return listing

    def listing_of(self, token_id: str) -> Listing:
        """The listing of a token (``KeyError`` if unknown)."""
        return self.by_token[token_id]

    def book(self, token_id: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Aggregated ``(bids, asks)`` of a token, best first."""
        return self.engine.levels(token_id, Side.BUY), self.engine.levels(token_id, Side.SELL)

    def set_tick_size(self, token_id: str, tick: int) -> None:
        """Change a market's tick (both tokens) and publish ``tick_size_change``."""
        listing = self.by_token[token_id]
        old = self.engine.set_tick(listing.condition_id, tick)
        listing.tick = tick
        if old != tick:
            self.publisher.tick_change(listing, old, tick)

    def set_live(self, condition_id: str, live: bool) -> None:
        """Mark a market's game live (taker delay on) or not; clears the book on start."""
        listing = self.listings[condition_id]
        starting = live and not listing.live
        listing.live = live
        if starting and listing.spec.clear_book_on_start:
            orders, changes = self.engine.clear_market(condition_id)
            self._closed(orders, "CANCELED")
            self.publisher.level_changes(listing, changes, "")

    def set_accepting(self, condition_id: str, accepting: bool) -> None:
        """Open or close a market for new orders."""
        self.listings[condition_id].accepting_orders = accepting
        self.engine.market(condition_id).accepting = accepting

    def resolve(self, condition_id: str, winning_token_id: str) -> None:
        """Resolve a market: cancel its orders, stop trading, announce the winner."""
        listing = self.listings[condition_id]
        if winning_token_id not in listing.token_ids:
            raise ValueError(f"{winning_token_id} is not a token of {condition_id}")
        listing.winner = winning_token_id
        listing.closed = True
        self.set_accepting(condition_id, False)
        orders, changes = self.engine.clear_market(condition_id)
        self._closed(orders, "CANCELED_MARKET_RESOLVED")
        for order_id, request in list(self._delayed.items()):
            if request.token_id in listing.token_ids:
                self._cancel_delayed(order_id, "CANCELED_MARKET_RESOLVED")
        self.publisher.level_changes(listing, changes, "")
        self.publisher.resolved(listing, winning_token_id)
        if self.chain is not None:
            self.chain.resolved(listing, winning_token_id)

    def redeem(self, address: str, condition_id: str) -> int:
        """Pay 1 pUSD per winning share of a resolved market; return the payout."""
        listing = self.listings[condition_id]
        if listing.winner is None:
            raise ValueError(f"market {condition_id} is not resolved")
        return self.accounts.redeem(address, listing.winner, listing.other(listing.winner))

    def merge(self, address: str, condition_id: str, size: int) -> bool:
        """Merge ``size`` complete pairs into pUSD; False if the free pairs are short."""
        a, b = self.listings[condition_id].token_ids
        return size > 0 and self.accounts.merge(address, a, b, size)

    def split(self, address: str, condition_id: str, size: int) -> bool:
        """Split ``size`` pUSD into pairs; False if the free pUSD is short."""
        if size <= 0 or self.accounts.available(address, COLLATERAL) < size:
            return False
        a, b = self.listings[condition_id].token_ids
        self.accounts.split(address, a, b, size)
        return True

    # -- keys -------------------------------------------------------------------------------

    def create_api_key(self, address: str, nonce: int) -> ApiCredentials | None:
        """Create the key of ``(address, nonce)`` and fund a new address."""
        material = self.ids.derived("api-key", address.lower(), str(nonce))
        creds = self.keys.create(address, nonce, material)
        if creds is not None:
            self.accounts.open(creds.address)
            self.publisher.addresses[creds.api_key] = creds.address
        return creds

    def funder_of(self, creds: ApiCredentials, signature_type: int) -> str:
        """The funds holder of a key for a signature type (the EOA for type 0)."""
        if signature_type == 0:
            return creds.address
        return self.funders.get(creds.address.lower(), creds.address)

    # -- order entry ------------------------------------------------------------------------

    def post_order(self, creds: ApiCredentials, body: PostOrderBody) -> tuple[int, Json]:
        """Handle one ``POST /order``; return the HTTP status and the reply.

        ``catch_up`` (set by the simulator) first brings timers and synthetic traders to the
        clock's time: an order is matched against the market as it stands when it arrives,
        not as the last loop tick left it (a late tick must not keep a stale quote alive)."""
        if self.catch_up is not None:
            self.catch_up()
        prepared = self._prepare(creds, body)
        if isinstance(prepared, str):
            return 400, {"error": prepared}
        request, record = prepared
        error = self.engine.validate(request, self.now_s())
        if error is None:
            error = self._reserve(request)
        if error is not None:
            return 400, {"error": error}
        self.orders[record.id] = record
        return self._execute(request, record)

    def _execute(self, request: OrderRequest, record: OrderRecord) -> tuple[int, Json]:
        """Match now, or hold a marketable order for the taker delay of a live market."""
        listing = self.by_token[request.token_id]
        delay = listing.spec.seconds_delay if listing.live and not request.post_only else 0
        if delay > 0 and self.engine.is_marketable(request):
            return 200, self._delay(request, record, delay)
        return self.settlement.execute(request, record)

    def _prepare(
        self, creds: ApiCredentials, body: PostOrderBody
    ) -> tuple[OrderRequest, OrderRecord] | str:
        if body.owner != creds.api_key:
            return ERR_OWNER
        listing = self.by_token.get(body.order.tokenId)
        try:
            order_type = OrderType(body.orderType)
            fields = signed_fields(body.order)
            expiration = int(body.order.expiration or "0")
            if listing is None:
                raise ValueError("unknown token")
        except ValueError:
            return ERR_INVALID_PAYLOAD
        order_id = self._authenticate_order(creds, body, fields, listing)
        if not order_id.startswith("0x"):
            return order_id
        side = Side.BUY if fields.side == 0 else Side.SELL
        precision = check_amounts(
            side,
            order_type,
            fields.maker_amount,
            fields.taker_amount,
            listing.tick,
            strict_market_precision=self.config.strict_market_precision,
        )
        if precision is not None:
            return precision
        price, size = implied_price(
            side, fields.maker_amount, fields.taker_amount, order_type, listing.tick
        )
        if fields.signature_type != 0:
            self.funders[creds.address.lower()] = fields.maker
        self.accounts.open(fields.maker)
        request = OrderRequest(
            order_id=order_id,
            owner=creds.api_key,
            maker=fields.maker,
            token_id=body.order.tokenId,
            side=side,
            price=price,
            size=size,
            order_type=order_type,
            post_only=body.postOnly,
            expiration_s=expiration,
            notional=fields.maker_amount if side is Side.BUY else 0,
        )
        record = self._record(request, listing)
        record.metadata = "0x" + fields.metadata.hex()  # kept as signed, echoed on every read
        return request, record

    def _authenticate_order(
        self,
        creds: ApiCredentials,
        body: PostOrderBody,
        fields: SignedOrderFields,
        listing: Listing,
    ) -> str:
        """The order id (its EIP-712 hash), or the venue's error string."""
        contract = self.contracts[
            "neg_risk_exchange_v2" if listing.spec.neg_risk else "exchange_v2"
        ]
        order_id = order_digest(fields, chain_id=self.config.chain_id, contract=contract)
        try:
            eoa = verify_order_signature(
                fields, body.order.signature, chain_id=self.config.chain_id, contract=contract
            )
        except (OrderSignatureError, ValueError):
            return ERR_SIGNATURE
        if eoa.lower() != creds.address.lower():
            return ERR_SIGNER
        if order_id in self.orders or order_id in self._delayed:
            return f"order {order_id} is invalid. Duplicated."
        return order_id

    def _record(self, request: OrderRequest, listing: Listing) -> OrderRecord:
        return OrderRecord(
            id=request.order_id,
            owner=request.owner,
            maker_address=request.maker,
            market=listing.condition_id,
            asset_id=request.token_id,
            side=request.side,
            price=request.price,
            original_size=request.size,
            outcome=listing.outcome_of(request.token_id),
            order_type=request.order_type,
            created_at_s=self.now_s(),
            expiration_s=request.expiration_s,
            post_only=request.post_only,
            notional=request.notional,
        )

    def _reserve(self, request: OrderRequest) -> str | None:
        """Check and hold the funds an order needs; the venue's error string if short."""
        if request.side is Side.SELL:
            asset, need = request.token_id, request.size
        else:
            asset = COLLATERAL
            fees = self.engine.market_of(request.token_id).fee_model
            rate = self.by_token[request.token_id].spec.fee_rate
            if request.order_type in _MARKET_TYPES and request.notional:
                need = request.notional + cost_of(request.notional, rate, Rounding.UP)
            else:
                need = cost_of(request.size, request.price, Rounding.UP)
                need += fees.taker_fee(request.size, min(request.price, ONE // 2))
        if not self.accounts.can_reserve(request.maker, asset, need):
            return ERR_BALANCE
        self.accounts.reserve(request.order_id, request.maker, asset, need)
        return None

    def _delay(self, request: OrderRequest, record: OrderRecord, delay_s: int) -> Json:
        record.status = "DELAYED"
        self._delayed[request.order_id] = request
        self.publisher.order(record, "PLACEMENT")
        due = self.clock.now_ns() + delay_s * self.config.taker_delay_ms_per_s * NS_PER_MS
        self.delayed_total[request.owner] = self.delayed_total.get(request.owner, 0) + 1
        self.timers.at(due, lambda: self._run_delayed(request.order_id, due), "delayed")
        return {
            "success": True,
            "errorMsg": "",
            "orderID": request.order_id,
            "status": "delayed",
            "makingAmount": "",
            "takingAmount": "",
            "tradeIDs": [],
            "transactionsHashes": [],
        }

    def _run_delayed(self, order_id: str, due_ns: int) -> None:
        request = self._delayed.pop(order_id, None)
        if request is None:
            return  # cancelled while delayed
        self.settlement.as_of_ns = due_ns  # the match happened when the delay ended
        try:
            self.settlement.execute(request, self.orders[order_id])
        finally:
            self.settlement.as_of_ns = None

    def place_resting(
        self, token_id: str, side: Side, price: int, size: int, owner: str = "mm-1"
    ) -> str:
        """Rest a synthetic order without matching or auth; return its id.

        The owner's house account is funded on first use and splits pUSD into pairs when
        a SELL needs tokens it does not have.
        """
        listing = self.by_token[token_id]
        address = self.house_address(owner)
        if side is Side.SELL:
            missing = size - self.accounts.available(address, token_id)
            if missing > 0:
                self.split(address, listing.condition_id, missing)
        order_id = self.ids.hex32()
        request = OrderRequest(
            order_id=order_id,
            owner=owner,
            maker=address,
            token_id=token_id,
            side=side,
            price=price,
            size=size,
        )
        result = self.engine.rest(request)
        if not result.accepted:
            raise ValueError(result.error)
        record = self._record(request, listing)
        self.orders[order_id] = record
        self.accounts.reserve_for(
            order_id, address, token_id=token_id, side=side, price=price, remaining=size
        )
        self.publisher.level_changes(listing, result.changes, order_id)
        return order_id

    def submit(
        self,
        token_id: str,
        side: Side,
        price: int,
        size: int,
        *,
        owner: str = "taker-1",
        order_type: OrderType = OrderType.FAK,
    ) -> tuple[int, Json]:
        """Send a synthetic order through full matching (no auth); the venue's reply.

        The taker delay of a live market applies as to any order (rivals wait like us)."""
        listing = self.by_token[token_id]
        request = OrderRequest(
            order_id=self.ids.hex32(),
            owner=owner,
            maker=self.house_address(owner),
            token_id=token_id,
            side=side,
            price=price,
            size=size,
            order_type=order_type,
        )
        if side is Side.SELL:
            missing = size - self.accounts.available(request.maker, token_id)
            if missing > 0:
                self.split(request.maker, listing.condition_id, missing)
        error = self.engine.validate(request, self.now_s()) or self._reserve(request)
        if error is not None:
            return 400, {"error": error}
        record = self._record(request, listing)
        self.orders[record.id] = record
        return self._execute(request, record)

    def house_address(self, owner: str) -> str:
        """The address of a synthetic trader (funded with the house balance)."""
        address = self.house.get(owner)
        if address is None:
            address = "0x" + self.ids.derived("house", owner)[:20].hex()
            self.house[owner] = address
            self.accounts.open(address, self.config.house_balance)
        return address

    # -- cancels ----------------------------------------------------------------------------

    def cancel(self, owner: str | None, order_ids: Iterable[str]) -> Json:
        """Cancel orders (of ``owner``, or anyone's if ``None``); the venue's reply."""
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for order_id in order_ids:
            record = self.orders.get(order_id)
            if record is None or (owner is not None and record.owner != owner):
                not_canceled[order_id] = "order not found"
            elif order_id in self._delayed:
                self._cancel_delayed(order_id, "CANCELED")
                canceled.append(order_id)
            elif self._cancel_resting(order_id, "CANCELED"):
                canceled.append(order_id)
            else:
                not_canceled[order_id] = NOT_CANCELED
        return {"canceled": canceled, "not_canceled": not_canceled}

    def open_order_ids(self, owner: str, market: str = "", asset_id: str = "") -> list[str]:
        """Ids of an owner's open orders, optionally of one market / asset."""
        return [
            r.id
            for r in self.orders.values()
            if r.owner == owner
            and r.open
            and (not market or r.market == market)
            and (not asset_id or r.asset_id == asset_id)
        ]

    def _cancel_resting(self, order_id: str, status: str) -> bool:
        order, changes = self.engine.cancel(order_id)
        if order is None:
            return False
        self._closed([order], status)
        self.publisher.level_changes(self.by_token[order.token_id], changes, order_id)
        return True

    def _cancel_delayed(self, order_id: str, status: str) -> None:
        self._delayed.pop(order_id, None)
        self.accounts.release(order_id)
        record = self.orders[order_id]
        record.status = status
        self.publisher.order(record, "CANCELLATION")

    def _closed(self, orders: list[BookOrder], status: str) -> None:
        for order in orders:
            self.accounts.release(order.order_id)
            record = self.orders.get(order.order_id)
            if record is not None:
                record.status = status
                self.publisher.order(record, "CANCELLATION")

    # -- timers -----------------------------------------------------------------------------

    def run_due(self) -> int:
        """Fire due timers, expire GTD orders and enforce heartbeats; return the work done."""
        now_ns = self.clock.now_ns()
        done = self.timers.run_due(now_ns)
        expired, changes = self.engine.expire(now_ns // NS_PER_S)
        if expired:
            self._closed(expired, "CANCELED")
            self._publish_changes(changes)
            done += len(expired)
        return done + self.heartbeats.expire_due(now_ns)

    def _publish_changes(self, changes: tuple[LevelChange, ...]) -> None:
        by_market: dict[str, list[LevelChange]] = {}
        for change in changes:
            by_market.setdefault(self.by_token[change.token_id].condition_id, []).append(change)
        for condition_id, items in by_market.items():
            self.publisher.level_changes(self.listings[condition_id], tuple(items), "")

    def _expired(self, owner: str) -> None:
        """A key's heartbeat chain expired: the venue cancels every open order of the key."""
        self.cancel(owner, self.open_order_ids(owner))

    def heartbeat(self, owner: str, heartbeat_id: str) -> tuple[int, Json]:
        """Handle ``POST /v1/heartbeats``: rotate the id, or refuse any other with the id
        expected (see :mod:`~polyloly.sim.exchange.heartbeats`)."""
        return self.heartbeats.beat(owner, heartbeat_id, self.clock.now_ns())

    # -- failures ---------------------------------------------------------------------------

    def _reverse(self, trade: TradeRecord) -> None:
        for fill in trade.fills:
            self.accounts.apply_fill(fill, reverse=True)
