"""The soak's verdicts: the exchange's records against the bot's, after the final reconcile.

Each check is a pure function of :class:`~bench.soak.records.ExchangeRecords` and
:class:`~bench.soak.records.BotView` (and, for the kill switch, the harness's fault
journal), returning counts and the details that back them:

* **orders the log never knew** — an order of the bot's on the exchange with no
  ``OrderSubmitted`` in its log (the log-before-send rule broken: nothing could dedupe it);
* **duplicate orders** — one decision on the exchange more than once, where it took effect
  more than once (both orders traded: a trade of each that did not fail), by the
  decision's identity:

  - *decision key*: two orders whose intents carry the same ``decision_key`` (a key stable
    across restarts: strategy, market, step) — read when the bot logs one;
  - *temporal decision*: ``temporal_arb`` decides at most once per (market, token): its
    intent id is ``temporal_arb:<session>:<market>:<token>:1``, a second intent of a session
    is dropped, so two orders of one (market, token) are the decision made again after a
    restart;
  - *same intent*: two exchange orders for one intent id;

* **repeats after a restart** (measured, not judged) — an order in flight when the bot was
  SIGKILLed (sent, outcome not in the log) that traded, whose strategy's next traded order
  on that market, sent after the kill, has the same token, side, price and size: the
  issue's symptom of a strategy deciding again what it did not know was in flight. Without
  a decision key it cannot be told from a legitimate next step: pair arbitrage repeats
  identical legs (two opens in a row, several closes after a restart), so
  :func:`same_params_baseline` counts the same pattern with no kill in between, and an
  in-flight order that never traded, repeated, is a *re-decision*;
* **lost fills** — the bot's part of an exchange trade that did not fail, missing from the
  ledger (or counted at another size); **ghost fills** — a fill the ledger counts that the
  exchange failed or never had;
* **balance mismatches** — each token's position and the collateral, ledger against
  exchange; positions must be equal, collateral within the rounding allowance
  (:func:`rounding_allowance`);
* **kill-switch reaction** — for each ``KillSwitchFired``, the time since the last fault
  that could cause it, injected while the bot was trading (since its session start or
  its last resume).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from bench.soak.chaos import FaultRecord
from bench.soak.records import BotOrder, BotView, ExchangeRecords

__all__ = [
    "BalanceAudit",
    "DuplicateAudit",
    "FillAudit",
    "HaltAudit",
    "audit_balances",
    "audit_duplicates",
    "audit_fills",
    "audit_halts",
    "rounding_allowance",
    "same_params_baseline",
]

TEMPORAL = "temporal_arb"


@dataclass(slots=True)
class DuplicateAudit:
    """Duplicate orders (see module docstring); ``duplicates`` holds the repeated hashes."""

    unlogged: list[str] = field(default_factory=list)
    decision: list[str] = field(default_factory=list)
    temporal: list[str] = field(default_factory=list)
    same_intent: list[str] = field(default_factory=list)
    after_restart: list[tuple[str, str]] = field(default_factory=list)  # (in flight, repeat)
    redecided: list[tuple[str, str]] = field(default_factory=list)  # repeats that did not fill

    @property
    def duplicates(self) -> set[str]:
        """Every exchange order that repeats a decision already placed (counted once)."""
        return {*self.decision, *self.temporal, *self.same_intent}


def audit_duplicates(view: BotView, ex: ExchangeRecords, kills_ns: Sequence[int]) -> DuplicateAudit:
    """Find orders placed twice for one decision (see module docstring)."""
    out = DuplicateAudit()
    mine = {h: view.orders[h] for h in ex.orders if h in view.orders}
    out.unlogged = sorted(h for h in ex.orders if h not in view.orders)
    by_intent: defaultdict[str, list[BotOrder]] = defaultdict(list)
    by_decision: defaultdict[str, list[BotOrder]] = defaultdict(list)
    by_temporal: defaultdict[tuple[str, str], list[BotOrder]] = defaultdict(list)
    for order in mine.values():
        by_intent[order.client_id].append(order)
        if order.decision:
            by_decision[order.decision].append(order)
        if order.strategy == TEMPORAL:
            by_temporal[(order.market, order.token_id)].append(order)
    for group in by_decision.values():
        out.decision += _repeats(group, ex)
    for group in by_temporal.values():
        out.temporal += _repeats(group, ex)
    for group in by_intent.values():
        out.same_intent += _repeats(group, ex)
    filled = _filled_by_market(mine, ex)
    kills = sorted(kills_ns)
    for k, kill in enumerate(kills):
        in_flight = view.in_flight_at_kill[k] if k < len(view.in_flight_at_kill) else frozenset()
        until = kills[k + 1] if k + 1 < len(kills) else None
        for a_hash in sorted(in_flight):
            first = mine.get(a_hash)
            if first is None:
                continue  # never reached the exchange: a new order is no repeat of it
            if ex.traded(a_hash):
                again = _next_filled(filled[(first.strategy, first.market)], first)
                if again is not None and again.ts_ns > kill and again.params == first.params:
                    out.after_restart.append((a_hash, again.order_hash))
                continue
            out.redecided += [
                (a_hash, o.order_hash)
                for o in mine.values()
                if o.ts_ns > kill
                and (until is None or o.ts_ns < until)
                and o.params == first.params
            ]
    return out


def _filled_by_market(
    mine: dict[str, BotOrder], ex: ExchangeRecords
) -> defaultdict[tuple[str, str], list[BotOrder]]:
    """Each (strategy, market)'s orders that traded, in the order the bot sent them."""
    out: defaultdict[tuple[str, str], list[BotOrder]] = defaultdict(list)
    for order in sorted(mine.values(), key=_ts):
        if ex.traded(order.order_hash):
            out[(order.strategy, order.market)].append(order)
    return out


def _next_filled(sequence: list[BotOrder], order: BotOrder) -> BotOrder | None:
    """The strategy's next order on that market that traded, after ``order``."""
    i = sequence.index(order)
    return sequence[i + 1] if i + 1 < len(sequence) else None


def _repeats(group: list[BotOrder], ex: ExchangeRecords) -> list[str]:
    """Every order of one decision after the first that traded, if that one traded too."""
    filled = sorted((o for o in group if ex.traded(o.order_hash)), key=_ts)
    return [o.order_hash for o in filled[1:]]


def same_params_baseline(view: BotView, ex: ExchangeRecords, kills_ns: Sequence[int]) -> int:
    """How often, with no kill in between, the repeat-after-a-restart pattern occurs anyway.

    Counts, within each stretch between two kills, a traded order whose strategy's next
    traded order on that market has the same token, side, price and size: the rate at
    which the strategies make such a repeat on their own (reported beside the repeats after
    a restart, to judge them by).
    """
    kills = sorted(kills_ns)
    mine = {h: view.orders[h] for h in ex.orders if h in view.orders}
    repeats = 0
    for sequence in _filled_by_market(mine, ex).values():
        for a, b in pairwise(sequence):
            same_stretch = bisect_right(kills, a.ts_ns) == bisect_right(kills, b.ts_ns)
            if same_stretch and a.params == b.params:
                repeats += 1
    return repeats


def _ts(order: BotOrder) -> int:
    return order.ts_ns


# ---------------------------------------------------------------------------------------------
# Fills and balances
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class FillAudit:
    """Fills: the exchange's against the ledger's, by (trade id, order hash)."""

    exchange_fills: int = 0
    failed_trades: int = 0
    lost: list[tuple[str, str]] = field(default_factory=list)
    wrong_size: list[tuple[str, str]] = field(default_factory=list)
    ghost: list[tuple[str, str]] = field(default_factory=list)
    unsettled: list[tuple[str, str]] = field(default_factory=list)  # final there, pending here


def audit_fills(view: BotView, ex: ExchangeRecords) -> FillAudit:
    """Every fill of the bot's on the exchange must be in its ledger, and nothing else."""
    out = FillAudit()
    ledger = view.state.fills
    keys = set()
    for fill in ex.fills:
        key = (fill.trade_id, fill.order_id)
        keys.add(key)
        mine = ledger.get(key)
        if not fill.counts:
            out.failed_trades += 1
            if mine is not None and mine.counts:
                out.ghost.append(key)
            continue
        out.exchange_fills += 1
        if mine is None or not mine.counts:
            out.lost.append(key)
        elif mine.size != fill.size:
            out.wrong_size.append(key)
        elif fill.status == "CONFIRMED" and not mine.confirmed:
            out.unsettled.append(key)
    out.ghost += sorted(k for k, f in ledger.items() if f.counts and k not in keys)
    return out


def rounding_allowance(ex: ExchangeRecords) -> int:
    """Micro-units of pUSD by which the ledger's collateral may honestly differ.

    The exchange rounds each settled leg's cost and fee on its own; the ledger rounds each
    fill's cash flow once: at most one micro-unit per rounding on either side, i.e. two per
    exchange leg plus one per fill. Shares are never rounded: positions must be equal.
    """
    counted = [f for f in ex.fills if f.counts]
    return sum(2 * f.legs + 1 for f in counted)


@dataclass(slots=True)
class BalanceAudit:
    """Ledger against exchange balances (micro-units)."""

    collateral_ledger: int = 0
    collateral_exchange: int = 0
    allowance: int = 0
    positions: list[tuple[str, int, int]] = field(default_factory=list)  # token, ledger, venue

    @property
    def collateral_diff(self) -> int:
        """Ledger minus exchange."""
        return self.collateral_ledger - self.collateral_exchange

    @property
    def collateral_mismatch(self) -> bool:
        """A difference rounding cannot explain."""
        return abs(self.collateral_diff) > self.allowance

    @property
    def mismatches(self) -> int:
        """Tokens whose positions differ, plus one for the collateral."""
        return len(self.positions) + int(self.collateral_mismatch)


def audit_balances(view: BotView, ex: ExchangeRecords) -> BalanceAudit:
    """Compare every position and the collateral (after the final reconcile)."""
    state = view.state
    out = BalanceAudit(
        collateral_ledger=state.collateral(),
        collateral_exchange=ex.balances.get("collateral", 0),
        allowance=rounding_allowance(ex),
    )
    tokens = sorted({t for t in ex.balances if t != "collateral"} | set(state.positions))
    for token in tokens:
        mine = state.position(token).expected
        theirs = ex.balances.get(token, 0)
        if mine != theirs:
            out.positions.append((token, mine, theirs))
    return out


# ---------------------------------------------------------------------------------------------
# Kill switch
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class HaltAudit:
    """Kill-switch firings and how long after a fault each came."""

    halts: int = 0
    reactions_ms: list[tuple[str, float]] = field(default_factory=list)  # (fault kind, ms)
    untimed: int = 0  # no fault since the session started or trading resumed
    by_condition: dict[str, int] = field(default_factory=dict)
    resumed_by_operator: int = 0
    resumed_by_itself: int = 0


OPERATOR_RESUME = "operator resume"


def audit_halts(
    view: BotView,
    faults: Sequence[FaultRecord],
    can_halt: Callable[[str, FaultRecord], bool] = lambda _condition, _fault: True,
) -> HaltAudit:
    """Time each ``KillSwitchFired`` from the last fault that could cause it.

    A halt is timed from the last fault, among those ``can_halt(condition, fault)`` admits,
    injected while trading ran: the window starts at the later of the halt's session start
    and the last resume before it, so a halt is never timed from a fault the bot had already
    halted for (or from one before it was running). A halt with no such fault is *untimed*
    (the latch rebuilt at a start, a condition still true after a resume).
    """
    out = HaltAudit(halts=len(view.halts))
    onsets = sorted(faults, key=lambda f: f.onset_ns)
    times = [f.onset_ns for f in onsets]
    starts = sorted([*view.sessions, *(ts for ts, _ in view.resumes)])
    for halt in view.halts:
        out.by_condition[halt.condition] = out.by_condition.get(halt.condition, 0) + 1
        i = bisect_right(starts, halt.ts_ns)
        since = starts[i - 1] if i else 0
        j = bisect_right(times, halt.ts_ns)
        cause = next(
            (
                f
                for f in reversed(onsets[:j])
                if f.onset_ns >= since and can_halt(halt.condition, f)
            ),
            None,
        )
        if cause is None:
            out.untimed += 1
        else:
            out.reactions_ms.append((cause.kind, (halt.ts_ns - cause.onset_ns) / 1e6))
    for _, reason in view.resumes:
        if reason == OPERATOR_RESUME:
            out.resumed_by_operator += 1
        else:
            out.resumed_by_itself += 1
    return out
