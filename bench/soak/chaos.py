"""What goes wrong during a soak, decided by the seed: faults at the exchange, and SIGKILLs.

:func:`plan_faults` draws the faults of a run — the issue's list: dropped and stalled
sockets; HTTP 425/429/500/502/503 and timeouts; lost order replies; trades FAILED after
MATCHED (and RETRYING); duplicated, reordered and malformed frames; lost heartbeats and
lost heartbeat replies (the venue rotates the id, the bot's next beat gets ``Invalid
Heartbeat ID``). :class:`FaultInjector` arms them on the simulator at their time (through
the simulator's own :class:`~polyloly.sim.exchange.faults.Faults`, as ``POST /sim/faults``
does) and journals each onset. A failed trade is aimed at the bot: armed, it fails the
bot's next trade right after it matched.

:func:`plan_kills` draws the SIGKILLs: half are timed on an order (``post``: the instant the
exchange records one of the bot's orders, before its reply is written; ``reply``: a few
milliseconds after, when the reply is on its way and maybe not logged; ``logged``: when the
bot's event log shows ``order_submitted``, around the post), half at a random moment.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from bench.soak.world import OrderWatch
from polyloly.runtime.clock import Clock
from polyloly.sim.exchange.faults import Faults

__all__ = [
    "FAULT_WEIGHTS",
    "ORDER_KILL_MODES",
    "FaultInjector",
    "FaultRecord",
    "FaultSpec",
    "KillSpec",
    "fault_args",
    "plan_faults",
    "plan_kills",
]

FAULT_WEIGHTS: Final = {
    "drop_ws": 8,
    "stall_ws": 7,
    "duplicate_frames": 7,
    "reorder_frames": 7,
    "malform_frames": 7,
    "http_425": 4,
    "http_429": 5,
    "http_500": 5,
    "http_502": 4,
    "http_503": 4,
    "http_timeout": 5,
    "lost_order_reply": 9,
    "trade_failed": 9,
    "trade_retrying": 3,
    "heartbeat_lost": 4,
    "heartbeat_reply_lost": 5,
}
"""Relative frequency of each fault kind."""

ORDER_KILL_MODES: Final = ("post", "reply", "logged")
_HTTP_PATHS: Final = ("/order", "/data/", None)  # order posts and cancels, lookups, anything
_HEARTBEATS: Final = "/v1/heartbeats"


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One planned fault: when (seconds after the plan's start), what, with what arguments."""

    at_s: float
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KillSpec:
    """One planned SIGKILL: when, and how it is timed (``random`` or an order mode)."""

    at_s: float
    mode: str


def fault_args(kind: str, rng: random.Random) -> dict[str, Any]:  # noqa: PLR0911 - one per kind
    """The arguments of one fault of ``kind``, drawn from ``rng``."""
    if kind == "stall_ws":
        return {"seconds": round(rng.uniform(1.0, 6.0), 1)}
    if kind == "duplicate_frames":
        return {"count": rng.randint(1, 20)}
    if kind == "reorder_frames":
        return {"count": rng.randint(1, 10)}
    if kind == "malform_frames":
        return {"count": rng.randint(1, 5)}
    if kind.startswith("http_") and kind != "http_timeout":
        return {"count": rng.randint(1, 3), "path_prefix": rng.choice(_HTTP_PATHS)}
    if kind == "http_timeout":
        return {"count": 1, "path_prefix": rng.choice(_HTTP_PATHS[:2])}
    if kind == "heartbeat_lost":
        return {"count": 2, "status": rng.choice((0, 500, 503))}  # 0: the beat hangs
    if kind == "heartbeat_reply_lost":
        return {"count": rng.randint(1, 2)}
    if kind == "trade_retrying":
        return {"count": 2}
    return {"count": 1}


def plan_faults(rng: random.Random, count: int, span_s: float) -> list[FaultSpec]:
    """``count`` faults at random times over ``span_s`` seconds, kinds by weight."""
    kinds = list(FAULT_WEIGHTS)
    weights = [FAULT_WEIGHTS[k] for k in kinds]
    times = sorted(rng.uniform(0.0, span_s) for _ in range(count))
    plan = []
    for at in times:
        kind = rng.choices(kinds, weights)[0]
        plan.append(FaultSpec(round(at, 3), kind, fault_args(kind, rng)))
    return plan


def plan_kills(rng: random.Random, count: int, span_s: float) -> list[KillSpec]:
    """``count`` kills spread over ``span_s`` (one per slot, jittered), half order-timed."""
    modes = [rng.choice(ORDER_KILL_MODES) for _ in range((count + 1) // 2)]
    modes += ["random"] * (count - len(modes))
    rng.shuffle(modes)
    slot = span_s / max(count, 1)
    return [
        KillSpec(round(slot * (i + rng.uniform(0.15, 0.85)), 3), mode)
        for i, mode in enumerate(modes)
    ]


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """A fault as injected: its onset (wall-clock ns), kind and arguments."""

    onset_ns: int
    kind: str
    args: dict[str, Any]


class FaultInjector:
    """Arms planned faults on the simulator and journals them (see module docstring)."""

    def __init__(self, faults: Faults, watch: OrderWatch, clock: Clock) -> None:
        self.faults = faults
        self.clock = clock
        self.records: list[FaultRecord] = []
        self.trades_failed: list[str] = []
        self._fail_bot_trades = 0
        self._seen_trades: set[str] = set()
        watch.on_trade.append(self._on_bot_trade)

    def inject(self, spec: FaultSpec) -> FaultRecord:
        """Arm one fault now."""
        f, a = self.faults, spec.args
        actions: dict[str, Callable[[], object]] = {
            "drop_ws": f.drop_ws_connections,
            "stall_ws": lambda: f.stall_ws(a["seconds"]),
            "duplicate_frames": lambda: f.duplicate_frames(a["count"]),
            "reorder_frames": lambda: f.reorder_frames(a["count"]),
            "malform_frames": lambda: f.malform_frames(a["count"]),
            "http_timeout": lambda: f.http_timeouts(a["count"], a["path_prefix"]),
            "lost_order_reply": lambda: f.lose_next_order_reply(a["count"]),
            "trade_failed": lambda: self._arm_trade_failure(a["count"]),
            "trade_retrying": lambda: f.retry_next_trades(a["count"]),
            "heartbeat_reply_lost": lambda: f.lose_next_heartbeat_reply(a["count"]),
            "heartbeat_lost": lambda: self._lose_heartbeats(a["count"], a["status"]),
        }
        if spec.kind.startswith("http_") and spec.kind not in actions:
            status = int(spec.kind.removeprefix("http_"))
            actions[spec.kind] = lambda: f.http_errors(status, a["count"], a["path_prefix"])
        actions[spec.kind]()
        record = FaultRecord(self.clock.now_ns(), spec.kind, dict(a))
        self.records.append(record)
        return record

    def _lose_heartbeats(self, count: int, status: int) -> None:
        if status == 0:
            self.faults.http_timeouts(count, _HEARTBEATS)
        else:
            self.faults.http_errors(status, count, _HEARTBEATS)

    def _arm_trade_failure(self, count: int) -> None:
        self._fail_bot_trades += count

    def _on_bot_trade(self, trade_id: str, status: str) -> None:
        if status != "MATCHED" or trade_id in self._seen_trades:
            return
        self._seen_trades.add(trade_id)
        if self._fail_bot_trades > 0:
            self._fail_bot_trades -= 1
            # after the request that matched it has finished: MATCHED, then FAILED
            asyncio.get_running_loop().call_soon(self._fail, trade_id)

    def _fail(self, trade_id: str) -> None:
        if self.faults.fail_trade(trade_id):
            self.trades_failed.append(trade_id)

    def clear(self) -> None:
        """Disarm everything still pending."""
        self.faults.clear()
        self._fail_bot_trades = 0
