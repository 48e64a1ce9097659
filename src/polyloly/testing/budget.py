"""An in-memory shared risk budget (:mod:`polyloly.execution.budget`) for tests and bench.

:class:`MemoryBudget` is the Redis adapter's behaviour in one process: the same arithmetic
(:func:`~polyloly.execution.budget.decide`), leases on a clock given in milliseconds, a halt
key and a broadcast. Several :class:`MemoryBudget` handles on one :class:`MemoryStore` are
several instances on one server; ``store.down = True`` makes every call fail as an
unreachable server does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from polyloly.execution.budget import (
    BudgetLimits,
    BudgetView,
    Grant,
    InstanceInfo,
    InstanceReport,
    decide,
)
from polyloly.runtime.errors import RetryableError

__all__ = ["MemoryBudget", "MemoryStore"]


@dataclass
class MemoryStore:
    """What the Redis server holds (see :mod:`polyloly.adapters.redis.budget`)."""

    now_ms: Callable[[], int]
    reservations: dict[str, tuple[int, str, str, int]] = field(default_factory=dict)
    """order hash -> (expires_ms, instance, market, amount)"""
    positions: dict[str, dict[str, int]] = field(default_factory=dict)
    open_orders: dict[str, dict[str, int]] = field(default_factory=dict)
    heartbeat: dict[str, int] = field(default_factory=dict)  # instance -> expires_ms
    last_beat: dict[str, int] = field(default_factory=dict)
    pnl: dict[str, dict[str, int]] = field(default_factory=dict)  # day -> instance -> pnl
    halted_by: dict[str, str] = field(default_factory=dict)
    halt: str = ""
    listeners: list[Callable[[str, str], None]] = field(default_factory=list)
    down: bool = False

    def check(self) -> None:
        """Fail as an unreachable server does."""
        if self.down:
            raise RetryableError("redis reserve: ConnectionError: store is down")

    def view(self, day: str) -> BudgetView:
        """The live figures a reservation is checked against (expired leases dropped)."""
        now = self.now_ms()
        for h, (expires, *_rest) in list(self.reservations.items()):
            if expires <= now:
                del self.reservations[h]
        return BudgetView(
            reservations={h: (m, a) for h, (_e, _i, m, a) in self.reservations.items()},
            positions=self.positions,
            open_orders=self.open_orders,
            daily_pnl=self.pnl.get(day, {}),
            halted=self.halt,
        )


class MemoryBudget:
    """One instance's handle on a :class:`MemoryStore` (the three budget ports)."""

    def __init__(self, store: MemoryStore, *, instance: str, limits: BudgetLimits) -> None:
        self.store = store
        self.instance = instance
        self.limits = limits

    async def reserve(self, order_hash: str, market: str, amount: int, day: str) -> Grant:
        """Check and reserve (atomic: no await inside)."""
        store = self.store
        store.check()
        grant = decide(store.view(day), order_hash, market, amount, self.limits)
        if grant.ok and amount > 0 and order_hash not in store.reservations:
            expires = store.now_ms() + self.limits.lease_ms
            store.reservations[order_hash] = (expires, self.instance, market, amount)
        return grant

    async def sync(self, report: InstanceReport) -> None:
        """Publish the figures, drop covered reservations, renew leases."""
        store = self.store
        store.check()
        now = store.now_ms()
        inst = report.instance
        store.positions[inst] = dict(report.positions)
        store.open_orders[inst] = dict(report.open_orders)
        for h in report.covered:
            store.reservations.pop(h, None)
        for h, (_e, owner, market, amount) in list(store.reservations.items()):
            if owner == inst:
                store.reservations[h] = (now + self.limits.lease_ms, owner, market, amount)
        store.heartbeat[inst] = now + self.limits.lease_ms
        store.last_beat[inst] = now
        store.pnl.setdefault(report.day, {})[inst] = report.daily_pnl
        store.halted_by[inst] = report.halted

    async def set_halt(self, reason: str) -> None:
        """Set or clear the halt and broadcast it."""
        self.store.check()
        self.store.halt = reason
        for listener in list(self.store.listeners):
            listener("halt" if reason else "resume", reason)

    async def halted(self) -> str:
        """The halt's reason (``""``: none)."""
        self.store.check()
        return self.store.halt

    async def watch(self, on_message: Callable[[str, str], None]) -> None:
        """Receive broadcasts until cancelled."""
        self.store.check()
        self.store.listeners.append(on_message)
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            self.store.listeners.remove(on_message)

    async def instances(self) -> list[InstanceInfo]:
        """Every instance that synced."""
        store = self.store
        store.check()
        now = store.now_ms()
        reserved: dict[str, int] = {}
        for expires, inst, _m, amount in store.reservations.values():
            if expires > now:
                reserved[inst] = reserved.get(inst, 0) + amount
        return [
            InstanceInfo(
                instance=inst,
                alive=store.heartbeat.get(inst, 0) > now,
                last_heartbeat_ms=store.last_beat.get(inst, 0),
                positions=dict(store.positions.get(inst, {})),
                open_orders=dict(store.open_orders.get(inst, {})),
                reserved=reserved.get(inst, 0),
                halted=store.halted_by.get(inst, ""),
            )
            for inst in sorted(store.last_beat)
        ]
