"""What the soak compares: the exchange's own records and the bot's event log, as plain data.

The exchange side (:class:`ExchangeRecords`) is taken from the simulator's state at the end
of a run (every order and trade the bot's address took part in, and its balances); the bot
side (:class:`BotView`) is read back from the bot's event log the way a restarted bot
recovers it: every ledger event through a fresh
:class:`~polyloly.execution.state.ExecutionState`, with the Polymarket user-channel events
translated as the node translates them. :func:`read_bot_log` also notes, at each SIGKILL,
which orders the bot had sent without knowing their outcome ("in flight at the kill").

Nothing here does I/O except reading the log files; the audit (:mod:`bench.soak.audit`)
is a pure function of these records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from polyloly.bot.node_options import PM_TRANSLATORS
from polyloly.domain.events import Event
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.execution.engine import LEDGER_EVENTS
from polyloly.execution.events import (
    KillSwitchFired,
    KillSwitchResumed,
    OrderSubmitted,
    ReconciliationCompleted,
)
from polyloly.execution.lifecycle import OrderState
from polyloly.execution.state import ExecutionState
from polyloly.node.session import SessionStarted

__all__ = [
    "BotOrder",
    "BotView",
    "ExchangeFill",
    "ExchangeOrder",
    "ExchangeRecords",
    "Halt",
    "read_bot_log",
]

_IN_FLIGHT = frozenset({OrderState.SUBMITTING, OrderState.UNKNOWN})
_LEDGER = frozenset(LEDGER_EVENTS)


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """One of the bot's orders as the exchange recorded it (amounts in micro-units)."""

    order_id: str
    token_id: str
    side: str
    price: int
    size: int
    size_matched: int
    status: str
    order_type: str


@dataclass(frozen=True, slots=True)
class ExchangeFill:
    """The bot's part of one exchange trade: one of its orders, in one trade.

    ``legs`` is how many price levels the exchange settled it in (each is rounded on its
    own, see :func:`bench.soak.audit.rounding_allowance`).
    """

    trade_id: str
    order_id: str
    token_id: str
    size: int
    status: str
    legs: int = 1

    @property
    def counts(self) -> bool:
        """Whether it moves positions on the exchange (every status but FAILED)."""
        return self.status != "FAILED"


@dataclass(slots=True)
class ExchangeRecords:
    """Everything the exchange knows about the bot's account at the end of a run."""

    orders: dict[str, ExchangeOrder] = field(default_factory=dict)
    fills: list[ExchangeFill] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)  # "collateral" and token ids

    def traded(self, order_id: str) -> bool:
        """Whether the order took effect: a trade of it that did not fail.

        Not ``size_matched``: the exchange keeps what was matched when a trade then fails
        (MATCHED → FAILED reverses the balances, not the order's record).
        """
        return any(f.order_id == order_id and f.counts for f in self.fills)


@dataclass(frozen=True, slots=True)
class BotOrder:
    """An order the bot logged as sent (``OrderSubmitted``), with the decision behind it."""

    order_hash: str
    client_id: str
    strategy: str
    market: str
    token_id: str
    side: str
    price: int
    size: int
    ts_ns: int
    decision: str = ""  # the intent's stable decision key, when the bot logs one

    @property
    def params(self) -> tuple[str, str, str, str, int, int]:
        """What makes two orders the same trade: strategy, market, token, side, price, size."""
        return (self.strategy, self.market, self.token_id, self.side, self.price, self.size)


@dataclass(frozen=True, slots=True)
class Halt:
    """A ``KillSwitchFired`` the bot logged."""

    ts_ns: int
    condition: str
    reason: str


@dataclass(slots=True)
class BotView:
    """The bot's knowledge, as its event log holds it (see module docstring)."""

    state: ExecutionState
    orders: dict[str, BotOrder] = field(default_factory=dict)
    in_flight_at_kill: list[frozenset[str]] = field(default_factory=list)
    halts: list[Halt] = field(default_factory=list)
    resumes: list[tuple[int, str]] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)  # SessionStarted times
    reconciliations: list[tuple[int, bool, bool, str]] = field(default_factory=list)
    events: int = 0


def read_bot_log(events: Iterable[Event], kills_ns: Sequence[int]) -> BotView:
    """Fold the bot's event log into a :class:`BotView`.

    ``kills_ns`` are the wall-clock times (ns) the harness SIGKILLed the bot, ascending; for
    each, ``in_flight_at_kill`` holds the hashes of the orders the log had as sent but not
    yet answered (``SUBMITTING`` / ``UNKNOWN``) when the kill came: what the bot had durably
    learnt by then (anything buffered and not flushed died with the process).
    """
    view = BotView(state=ExecutionState())
    kills = sorted(kills_ns)
    intents: dict[str, PlaceOrderIntent] = {}
    k = 0
    for event in events:
        while k < len(kills) and kills[k] <= event.ts_init:
            view.in_flight_at_kill.append(_in_flight(view.state))
            k += 1
        view.events += 1
        _note(view, event, intents)
        translate = PM_TRANSLATORS.get(type(event))
        if translate is not None:
            translated = translate(event)
            if translated is not None:
                view.state.apply(translated)
        elif type(event) in _LEDGER:
            view.state.apply(event)
    while k < len(kills):
        view.in_flight_at_kill.append(_in_flight(view.state))
        k += 1
    return view


def _in_flight(state: ExecutionState) -> frozenset[str]:
    return frozenset(h for h, o in state.orders.items() if o.state in _IN_FLIGHT)


def _decision_key(intent: PlaceOrderIntent | None) -> str:
    """``strategy|key`` when the intent carries a ``decision_key`` (stable across restarts)."""
    key = getattr(intent, "decision_key", "") if intent is not None else ""
    return f"{intent.strategy}|{key}" if intent is not None and key else ""


def _note(view: BotView, event: Event, intents: dict[str, PlaceOrderIntent]) -> None:
    if isinstance(event, PlaceOrderIntent):
        intents[event.intent_id] = event
    elif isinstance(event, OrderSubmitted):
        spec = event.order.spec
        intent = intents.get(spec.client_id)
        view.orders.setdefault(
            event.order.order_hash,
            BotOrder(
                order_hash=event.order.order_hash,
                client_id=spec.client_id,
                strategy=event.strategy or (intent.strategy if intent else ""),
                market=spec.market or (intent.market if intent else ""),
                token_id=spec.token_id,
                side=spec.side.value,
                price=spec.price,
                size=spec.size,
                ts_ns=event.ts_init,
                decision=_decision_key(intent),
            ),
        )
    elif isinstance(event, KillSwitchFired):
        view.halts.append(Halt(event.ts_init, event.condition, event.reason))
    elif isinstance(event, KillSwitchResumed):
        view.resumes.append((event.ts_init, event.reason))
    elif isinstance(event, SessionStarted):
        view.sessions.append(event.ts_init)
    elif isinstance(event, ReconciliationCompleted):
        view.reconciliations.append((event.ts_init, event.ok, event.balances_checked, event.reason))
