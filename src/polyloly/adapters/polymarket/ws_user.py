"""User-channel client: our order and trade updates, with a REST catch-up on every connect.

The user channel is authenticated by the API key, secret and passphrase in the subscribe
message and is filtered per key. ``order`` and ``trade`` messages become
:class:`~.events.OrderUpdate` / :class:`~.events.TradeUpdate` (``source="ws"``).

The venue does not replay updates missed while disconnected, so every time the socket
opens the client reads ``/data/orders`` (open orders) and ``/data/trades`` (since the
last trade seen, minus a look-back) and publishes what is new (``source="rest"``),
followed by one :class:`~.events.UserResync` listing the orders open at the venue.

Updates are de-duplicated: an order update identical to the last one published for that
order (status, matched size, kind) and a trade at a status already published are
dropped, and a REST row never moves an order or trade *back* (a REST read can lag a
WebSocket update that arrived meanwhile).

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §3 (user channel, no replay),
§8 (status races, ghost fills).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import msgspec
import structlog

from polyloly.adapters.polymarket.config import ApiCredentials, WsConfig
from polyloly.adapters.polymarket.constants import PONG_TEXT
from polyloly.adapters.polymarket.errors import ParseError
from polyloly.adapters.polymarket.events import (
    OrderStatus,
    OrderUpdate,
    TradeStatus,
    TradeUpdate,
    UpdateSource,
    UserResync,
)
from polyloly.adapters.polymarket.http import UserRecoveryPort
from polyloly.adapters.polymarket.parsing import order_update, trade_update
from polyloly.adapters.polymarket.schemas.user import UserMessage, WsUserOrder, WsUserTrade
from polyloly.adapters.polymarket.ws_common import (
    ReconnectingSocket,
    backoff_delay,
    cancel_and_wait,
    frame_payload,
)
from polyloly.domain.events import Event, FeedState, FeedStatus
from polyloly.runtime.clock import Clock
from polyloly.runtime.errors import PolylolyError

__all__ = ["UserWsClient", "decode_user_frame"]

_log = structlog.get_logger(__name__)
_V = TypeVar("_V")
_FRAME_DECODER: Final = msgspec.json.Decoder(UserMessage | list[UserMessage], strict=False)
_ONE_DECODER: Final = msgspec.json.Decoder(UserMessage, strict=False)
_RAW_LIST: Final = msgspec.json.Decoder(list[msgspec.Raw])
_SOURCE: Final = "polymarket.user_ws"
_NS_PER_S: Final = 1_000_000_000
_MAX_TRACKED: Final = 50_000
_TERMINAL_ORDER: Final = frozenset({OrderStatus.MATCHED, OrderStatus.CANCELED, OrderStatus.INVALID})
_TRADE_RANK: Final = {
    TradeStatus.UNKNOWN: -1,
    TradeStatus.MATCHED: 0,
    TradeStatus.RETRYING: 1,
    TradeStatus.MINED: 2,
    TradeStatus.CONFIRMED: 3,
    TradeStatus.FAILED: 3,
}


def _reason_of(exc: msgspec.DecodeError) -> str:
    if not isinstance(exc, msgspec.ValidationError):
        return "invalid_json"
    return "unknown_event_type" if "event_type" in str(exc) else "schema"


def decode_user_frame(data: str | bytes) -> tuple[list[WsUserOrder | WsUserTrade], list[str]]:
    """Decode one frame into messages plus one reason per element that failed."""
    try:
        msgs = _FRAME_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        first_error = exc
    else:
        return (msgs if isinstance(msgs, list) else [msgs]), []
    try:
        parts = _RAW_LIST.decode(data)
    except msgspec.DecodeError:
        return [], [_reason_of(first_error)]
    good: list[WsUserOrder | WsUserTrade] = []
    bad: list[str] = []
    for part in parts:
        try:
            good.append(_ONE_DECODER.decode(part))
        except msgspec.DecodeError as exc:
            bad.append(_reason_of(exc))
    return good, bad


class UserWsClient:
    """Our orders and trades, live, with catch-up after every (re)connect.

    Parameters
    ----------
    url
        User channel endpoint (``…/ws/user``).
    creds
        API credentials (sent in the subscribe message; never logged).
    recovery
        REST reads for the catch-up (``open_orders``, ``trades``).
    publish
        Synchronous event sink (the kernel's ``publish``).
    clock
        Injected clock.
    config
        WebSocket intervals.
    markets
        Condition ids to filter on; empty means every market of the key.
    own_address
        Our funder address, to recognise our maker orders when a message lacks ``owner``.
    lookback_s
        How far before the last trade seen the catch-up reads ``/data/trades``.
    """

    def __init__(
        self,
        url: str,
        creds: ApiCredentials,
        recovery: UserRecoveryPort,
        publish: Callable[[Event], None],
        clock: Clock,
        *,
        config: WsConfig | None = None,
        rand: Callable[[], float] | None = None,
        markets: Sequence[str] = (),
        own_address: str = "",
        lookback_s: int = 120,
    ) -> None:
        self.url = url
        self.malformed: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.events = 0
        self.frames = 0
        self.resyncs = 0
        self.resync_failures = 0
        self._creds = creds
        self._recovery = recovery
        self._publish = publish
        self._clock = clock
        self._cfg = config if config is not None else WsConfig()
        self._rand = rand if rand is not None else random.Random().random  # noqa: S311 - jitter
        self._markets = list(markets)
        self._own_address = own_address
        self._lookback_s = lookback_s
        self._orders: OrderedDict[str, tuple[OrderStatus, int, str]] = OrderedDict()
        self._trades: OrderedDict[str, TradeStatus] = OrderedDict()
        self._last_trade_s = 0
        self._sock: ReconnectingSocket | None = None
        self._catchup: asyncio.Task[None] | None = None
        self._connects = 0

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def socket(self) -> ReconnectingSocket | None:
        """The connection (``None`` before :meth:`start`)."""
        return self._sock

    def start(self) -> None:
        """Connect and keep connected (call inside the event loop)."""
        if self._sock is None:
            self._sock = ReconnectingSocket(
                self.url, self, clock=self._clock, config=self._cfg, rand=self._rand, name="user"
            )
        self._sock.start()

    async def stop(self) -> None:
        """Close the connection and cancel any catch-up in flight."""
        await self._cancel_catchup()
        if self._sock is not None:
            await self._sock.stop()

    async def _cancel_catchup(self) -> None:
        task, self._catchup = self._catchup, None
        if task is not None and not task.done():
            await cancel_and_wait(task)

    async def wait_caught_up(self) -> None:
        """Wait for the catch-up started by the latest connect (if any) to finish.

        A catch-up cancelled by a newer connect or by :meth:`stop` counts as finished; a
        cancellation of the caller propagates (the catch-up itself is left running).
        """
        task = self._catchup
        if task is not None:
            await asyncio.wait({task})
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc

    # -- SocketOwner ---------------------------------------------------------------------------

    async def on_open(self, sock: ReconnectingSocket) -> None:
        """Authenticate, subscribe, then catch up over REST in the background."""
        creds = self._creds
        msg = {
            "auth": {
                "apiKey": creds.api_key.reveal(),
                "secret": creds.api_secret.reveal(),
                "passphrase": creds.api_passphrase.reveal(),
            },
            "type": "user",
            "markets": self._markets,
        }
        await sock.send(msgspec.json.encode(msg).decode())
        self._connects += 1
        now = self._clock.now_ns()
        self._emit(FeedStatus(ts_event=now, ts_init=now, source=_SOURCE, state=FeedState.OK))
        reason = "connect" if self._connects == 1 else "reconnect"
        previous = self._catchup
        if previous is not None and not previous.done():
            previous.cancel()
        self._catchup = asyncio.create_task(self._catch_up(reason), name="user-catchup")

    def on_close(self, sock: ReconnectingSocket, reason: str) -> None:
        """Report the feed down; updates from now on are fetched on reconnect."""
        now = self._clock.now_ns()
        self._emit(
            FeedStatus(
                ts_event=now, ts_init=now, source=_SOURCE, state=FeedState.DOWN, detail=reason
            )
        )

    def watchdog(self, sock: ReconnectingSocket) -> str | None:
        """Nothing beyond the keepalive."""
        return None

    def on_frame(self, sock: ReconnectingSocket, data: str | bytes) -> None:
        """Handle one frame from ``sock`` (``PONG`` feeds its keepalive)."""
        if data == PONG_TEXT:
            self.frames += 1
            sock.note_pong()
            return
        self.handle_frame(data)

    def handle_frame(self, data: str | bytes) -> None:
        """Handle one frame (keepalive text, or one object / an array). Never raises."""
        self.frames += 1
        payload = frame_payload(data, self.ignored)
        if payload is None:
            return
        msgs, bad = decode_user_frame(payload)
        for reason in bad:
            self._bad(reason, len(payload))
        for msg in msgs:
            try:
                self._dispatch(msg, UpdateSource.WS)
            except ParseError as exc:
                self._bad(exc.reason, len(payload))
            except Exception:  # one bad message must not end the feed
                self.malformed["internal_error"] += 1
                _log.exception("user_ws.handler_failed", kind=type(msg).__name__)

    # -- handling ------------------------------------------------------------------------------

    def _bad(self, reason: str, size: int) -> None:
        # Never log the frame itself: user frames carry our API key as ``owner``.
        self.malformed[reason] += 1
        _log.warning("user_ws.malformed", reason=reason, frame_bytes=size)

    def _emit(self, event: Event) -> None:
        self.events += 1
        try:
            self._publish(event)
        except Exception:  # a failing consumer must not stop the feed
            self.malformed["publish_error"] += 1
            _log.exception("user_ws.publish_failed", event_type=type(event).__name__)

    def _dispatch(self, msg: WsUserOrder | WsUserTrade, source: UpdateSource) -> bool:
        now = self._clock.now_ns()
        if isinstance(msg, WsUserOrder):
            return self.offer_order(order_update(msg, now, source))
        return self.offer_trade(
            trade_update(
                msg,
                now,
                source,
                own_owner=self._creds.api_key.reveal(),
                own_address=self._own_address,
            )
        )

    def offer_order(self, update: OrderUpdate) -> bool:
        """Publish an order update unless it repeats or (from REST) regresses the last one."""
        key = update.order_id
        state = (update.status, update.size_matched, update.kind.value)
        last = self._orders.get(key)
        if last == state:
            self.ignored["duplicate_order"] += 1
            return False
        if update.source is UpdateSource.REST and last is not None:
            last_status, last_matched, _ = last
            if (
                last_status in _TERMINAL_ORDER
                or last_matched > update.size_matched
                or (last_status == update.status and last_matched == update.size_matched)
            ):
                self.ignored["stale_rest_order"] += 1
                return False
        self._remember(self._orders, key, state)
        self._emit(update)
        return True

    def offer_trade(self, update: TradeUpdate) -> bool:
        """Publish a trade update unless its status was already published (or is older)."""
        key = update.trade_id
        last = self._trades.get(key)
        if last is not None:
            if last == update.status:
                self.ignored["duplicate_trade"] += 1
                return False
            if (
                update.source is UpdateSource.REST
                and _TRADE_RANK[last] >= _TRADE_RANK[update.status]
            ):
                self.ignored["stale_rest_trade"] += 1
                return False
        if update.match_time_ns is not None:
            self._last_trade_s = max(self._last_trade_s, update.match_time_ns // _NS_PER_S)
        self._remember(self._trades, key, update.status)
        self._emit(update)
        return True

    @staticmethod
    def _remember(table: OrderedDict[str, _V], key: str, value: _V) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > _MAX_TRACKED:
            table.popitem(last=False)

    async def _catch_up(self, reason: str) -> None:
        after = max(0, self._last_trade_s - self._lookback_s) if self._last_trade_s else 0
        attempt = 0
        while True:
            try:
                orders = await self._recovery.open_orders()
                trades = await self._recovery.trades(after_s=after or None)
                break
            except PolylolyError as exc:
                # Until the catch-up succeeds, updates may be missing: say so, retry with backoff
                # (the task is cancelled by the next connect or by stop()).
                self.resync_failures += 1
                _log.warning("user_ws.catchup_failed", reason=reason, error=type(exc).__name__)
                if attempt == 0:
                    now = self._clock.now_ns()
                    self._emit(
                        FeedStatus(
                            ts_event=now,
                            ts_init=now,
                            source=_SOURCE,
                            state=FeedState.STALE,
                            detail=f"catch-up failed: {type(exc).__name__}",
                        )
                    )
                cfg = self._cfg
                await asyncio.sleep(
                    backoff_delay(
                        attempt,
                        cfg.reconnect_initial_s,
                        cfg.reconnect_max_s,
                        cfg.reconnect_jitter,
                        self._rand,
                    )
                )
                attempt += 1
        if attempt:
            now = self._clock.now_ns()
            self._emit(
                FeedStatus(
                    ts_event=now,
                    ts_init=now,
                    source=_SOURCE,
                    state=FeedState.OK,
                    detail="caught up",
                )
            )
        emitted_trades = sum(self.offer_trade(t) for t in trades)
        emitted_orders = sum(self.offer_order(o) for o in orders)
        self.resyncs += 1
        now = self._clock.now_ns()
        self._emit(
            UserResync(
                ts_event=now,
                ts_init=now,
                open_order_ids=tuple(sorted(o.order_id for o in orders)),
                trades_after_s=after,
                orders_emitted=emitted_orders,
                trades_emitted=emitted_trades,
                reason=reason,
            )
        )
