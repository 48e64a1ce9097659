"""The kill switch's incremental check decides exactly what the full re-check decides.

:meth:`RiskGate.evaluate` runs :func:`~polyloly.domain.risk.kill_switch_reasons` over a full
:class:`~polyloly.domain.risk.TradingState` only when a condition other than the daily loss
might hold (errors, an operator's halt, a feed not OK, silent market data) or today's PnL
is beyond the limit; otherwise it only computes the PnL. Two gates fed the same random
sequence of ledger events, market data, feed statuses, execution errors, operator commands
and ticks — one incremental, one re-checking everything every time (``full_check``) —
must fire, hold and resume identically at every step, with the same reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.execution.test_running_totals import (
    ALL_TOKENS,
    START,
    WEIGHTED,
    World,
    full_trading_state,
)

from polyloly.domain.events import Event, OperatorCommand, TimerTick
from polyloly.domain.money import SCALE
from polyloly.domain.risk import RiskParams, kill_switch_reasons
from polyloly.execution.events import (
    ExecutionAnomaly,
    KillSwitchFired,
    KillSwitchResumed,
    OrderAccepted,
    OrderRejected,
)
from polyloly.execution.ports import VenueOrderStatus
from polyloly.execution.risk_gate import GateConfig, RiskGate
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.runtime.tasks import TaskOwner
from polyloly.testing.fakes import RecordingAlerts


class NullSink:
    def append(self, event: Event) -> None:
        del event

    def flush(self) -> None:
        return None


@dataclass
class Twin(World):
    """A world whose every event (and mark written) also reaches a second gate."""

    other: World | None = None

    def ledger(self, event: Event) -> None:
        super().ledger(event)
        if self.other is not None:
            self.other.clock.set_ns(self.clock.now_ns())
            self.other.ledger(event)

    def market(self, event: Event) -> None:
        if self.other is not None:
            self.other.clock.set_ns(self.clock.now_ns())
            self.other.market(event)
        super().market(event)


def gate_world(
    params: RiskParams, config: GateConfig, *, full: bool
) -> tuple[VirtualClock, Kernel, RiskGate]:
    clock = VirtualClock(START)
    kernel = Kernel(clock, NullSink())
    state = ExecutionState()
    gate = RiskGate(kernel, state, RecordingAlerts(), TaskOwner(), params=params, config=config)
    gate.attach()
    gate.full_check = full
    for cls in (KillSwitchFired, KillSwitchResumed):
        kernel.subscribe(cls, state.apply)  # the ledger latches and clears the switch
    gate.request_reconcile = lambda: None
    return clock, kernel, gate


def build_twins(data: st.DataObject) -> tuple[Twin, World]:
    params = RiskParams(
        max_daily_loss=data.draw(st.integers(1, 400)) * SCALE,
        max_consecutive_exec_errors=data.draw(st.integers(0, 3)),
    )
    config = GateConfig(exchange_silence_s=data.draw(st.sampled_from([0, 1, 5])))
    c_full, k_full, g_full = gate_world(params, config, full=True)
    full = World(c_full, k_full, g_full.state, g_full)
    c_inc, k_inc, g_inc = gate_world(params, config, full=False)
    inc = Twin(c_inc, k_inc, g_inc.state, g_inc, other=full)
    return inc, full


def step_gate_input(w: World, data: st.DataObject) -> None:
    """What moves the other conditions: execution errors, the operator, ticks, silence."""
    kind = data.draw(st.sampled_from(["reject", "accept", "anomaly", "halt", "resume", "tick"]))
    if kind == "tick":  # sometimes long after the last market data: a silent exchange
        w.clock.advance_ns(data.draw(st.sampled_from([1, 2 * NS_PER_S, 9 * NS_PER_S])))
    now = w.now()
    event: Event
    if kind == "reject":
        event = OrderRejected(
            ts_event=now, ts_init=now, client_id="c", order_hash="0xh", reason="venue error"
        )
    elif kind == "accept":
        event = OrderAccepted(
            ts_event=now,
            ts_init=now,
            client_id="c",
            order_hash="0xh",
            status=VenueOrderStatus.LIVE,
        )
    elif kind == "anomaly":
        event = ExecutionAnomaly(
            ts_event=now, ts_init=now, kind="signing_failed", subject="s", detail="d"
        )
    elif kind == "tick":
        event = TimerTick(ts_event=now, ts_init=now)
    else:
        event = OperatorCommand(ts_event=now, ts_init=now, command=kind, reason="op")
    w.market(event)  # through the kernels: the gates' own handlers


def step_exposure_change(w: World, data: st.DataObject) -> None:
    """What the engine does after a fill or an order change: the gate evaluates."""
    del data
    w.gate.on_exposure_change()
    twin = w.other if isinstance(w, Twin) else None
    if twin is not None:
        twin.gate.on_exposure_change()


STEPS: list[Callable[[World, st.DataObject], None]] = [
    *WEIGHTED,
    step_gate_input,
    step_gate_input,
    step_gate_input,
    step_exposure_change,
    step_exposure_change,
]


def sync_marks(inc: World, full: World) -> None:
    """Marks written straight into the ledger (a step does that) go to both ledgers."""
    marks = full.state.marks
    for token in ALL_TOKENS:
        mine = inc.state.marks.get(token)
        if mine is None:
            marks.pop(token, None)
        elif marks.get(token) != mine:
            marks[token] = mine


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_incremental_kill_switch_decides_as_the_full_check(data: st.DataObject) -> None:
    async def body() -> None:
        inc, full = build_twins(data)
        for _ in range(data.draw(st.integers(1, 80))):
            data.draw(st.sampled_from(STEPS))(inc, data)
            sync_marks(inc, full)
            assert inc.gate.evaluate() == full.gate.evaluate()
            assert inc.state.halted == full.state.halted
            assert inc.gate.fired == full.gate.fired
            # and the shortcut never hides a condition the full check sees
            if inc.state.halted is None and inc.gate._only_loss_can_fire():
                reasons = kill_switch_reasons(
                    full_trading_state(inc.gate, with_quotes=False), inc.gate.params
                )
                loss = inc.state.daily_pnl() < -inc.gate.params.max_daily_loss
                assert len(reasons) == int(loss)

    asyncio.run(body())
