"""The kernel: one ordered stream of events, the same code path live and in replay.

Adapters hand each event to :meth:`Kernel.publish` by a plain synchronous call. The kernel
appends it to the event log *before* any handler sees it, then dispatches it to the
handlers subscribed to its class, in subscription order. Events a handler emits while
handling (truth updates, intents, risk decisions) are queued and dispatched after the
current one, first in first out, so the whole system sees one total order with no
asyncio queue hop per message.

Replay feeds a recorded log's *input* events through the same kernel with a
:class:`~polyloly.runtime.clock.VirtualClock`; derived events are regenerated, not re-fed, so a
backtest shows whether the code makes the same decisions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from polyloly.domain.events import Event
from polyloly.runtime.clock import Clock, VirtualClock

__all__ = ["EventSink", "Handler", "Kernel"]

_E = TypeVar("_E", bound=Event)
Handler = Callable[[Any], None]


class EventSink(Protocol):
    """Where the kernel appends events before dispatching them (the event log)."""

    def append(self, event: Event) -> None:
        """Append one event (may be buffered)."""
        ...

    def flush(self) -> None:
        """Make buffered events durable."""
        ...


class Kernel:
    """Stamps, logs and dispatches events in one total order.

    Parameters
    ----------
    clock
        The injected clock; ``now_ns()`` is what adapters use for ``ts_init``.
    sink
        The event log, or ``None`` to log nothing (unit tests).
    flush_every
        Flush the sink after this many top-level publishes (1 = every input is flushed
        before ``publish`` returns; larger values batch the writes of busy market data).
        Whatever the value, an input that caused a *derived* event (a truth update, an
        intent, a risk decision, an order about to be submitted…) is flushed, with
        everything before it, before ``publish`` returns — so before any task a handler
        started can run — and so is one whose handler raised. Every event is *appended*
        before its handlers run either way.
    """

    def __init__(self, clock: Clock, sink: EventSink | None = None, flush_every: int = 1) -> None:
        self.clock = clock
        self._sink = sink
        self._handlers: dict[type[Event], list[Handler]] = {}
        self._all: list[Handler] = []
        self._dispatch_cache: dict[type[Event], tuple[Handler, ...]] = {}
        self._pending: deque[Event] = deque()
        self._draining = False
        self._flush_every = max(1, flush_every)
        self._since_flush = 0
        self._replaying = False
        self._pin_time = False  # a subclass pins now_ns() to the dispatched input's time
        self._pinned: int | None = None  # that input's ts_init while it is dispatched
        self.published = 0
        """Events dispatched (counted when each input's dispatch ends)."""
        self.handler_errors = 0
        self.on_handler_error: Callable[[Event, BaseException], None] | None = None

    # -- subscription -----------------------------------------------------------------------

    def subscribe(self, event_type: type[_E], handler: Callable[[_E], None]) -> None:
        """Call ``handler`` for every event of ``event_type`` or of a subclass of it.

        An event's handlers run most-specific class first (its own class, then each base
        along the MRO), each group in subscription order, then the ``subscribe_all`` ones.
        """
        self._handlers.setdefault(event_type, []).append(handler)
        self._dispatch_cache.clear()

    def subscribe_all(self, handler: Handler) -> None:
        """Call ``handler`` for every event (after the typed handlers)."""
        self._all.append(handler)
        self._dispatch_cache.clear()

    def _handlers_for(self, cls: type[Event]) -> tuple[Handler, ...]:
        cached = self._dispatch_cache.get(cls)
        if cached is None:
            found: list[Handler] = []
            for base in cls.__mro__:
                found.extend(self._handlers.get(base, ()))
            found.extend(self._all)
            cached = tuple(found)
            self._dispatch_cache[cls] = cached
        return cached

    # -- publishing -------------------------------------------------------------------------

    def now_ns(self) -> int:
        """Current time from the injected clock (use it for ``ts_init``)."""
        return self.clock.now_ns()

    @property
    def replaying(self) -> bool:
        """True while :meth:`replay` is feeding a recorded log."""
        return self._replaying

    def publish(self, event: Event) -> None:
        """Log ``event`` and dispatch it, then everything it causes, before returning."""
        pending = self._pending
        if self._draining:
            pending.append(event)  # a handler emitted it: it runs after the current one
            return
        # The drain loop lives here (one call per input on the hot path, not two); the
        # input itself is dispatched first, then what its handlers emitted, in order.
        self._draining = True
        if self._pin_time:
            self._pinned = event.ts_init
        sink = self._sink
        cache = self._dispatch_cache
        failed = True
        derived = False
        dispatched = 0
        try:
            while True:
                cls = type(event)
                if sink is not None:
                    sink.append(event)
                    if cls.derived:
                        derived = True
                dispatched += 1
                for handler in cache.get(cls) or self._handlers_for(cls):
                    try:
                        handler(event)
                    except Exception as exc:  # one bad handler must not stop the stream
                        self.handler_raised(event, exc)
                if not pending:
                    break
                event = pending.popleft()
            failed = False
        finally:
            self._draining = False
            self._pinned = None
            self.published += dispatched
            if failed:
                pending.clear()
            # when a handler raises, flush anyway: the event that broke it must reach disk
            if sink is not None:
                self._since_flush += 1
                if failed or derived or self._since_flush >= self._flush_every:
                    sink.flush()
                    self._since_flush = 0

    emit = publish
    """Handlers emit derived events through the same path (they are queued, FIFO)."""

    def handler_raised(self, event: Event, exc: Exception) -> None:
        """What a handler's exception becomes: counted, then ``on_handler_error`` (or raised).

        A handler that calls several components in turn for one event (the node's book
        handler) hands each one's exception here, so that one failing does not stop the
        others — the isolation the kernel gives separate handlers.
        """
        self.handler_errors += 1
        if self.on_handler_error is None:
            raise exc
        self.on_handler_error(event, exc)

    def flush(self) -> None:
        """Flush the event log now."""
        if self._sink is not None:
            self._sink.flush()
            self._since_flush = 0

    # -- replay -----------------------------------------------------------------------------

    def replay(self, events: Iterable[Event]) -> int:
        """Feed recorded *input* events in order, advancing a virtual clock to each ``ts_init``.

        Derived events in the recording are skipped: the handlers regenerate them. Returns the
        number of input events fed.
        """
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("replay needs a VirtualClock")
        fed = 0
        self._replaying = True
        try:
            for event in events:
                if type(event).derived:
                    continue
                clock.set_ns(event.ts_init)
                self.publish(event)
                fed += 1
        finally:
            self._replaying = False
        self.flush()
        return fed
