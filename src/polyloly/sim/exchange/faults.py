"""Fault injection: what a real venue and network do to a client on a bad day.

One :class:`Faults` object per simulator, driven in-process (``sim.faults.…``) or over
HTTP (``POST /sim/faults {"action": …}``, ``DELETE /sim/faults`` clears). WebSocket
faults act in the hub's writers (drop, stall, duplicate, reorder, malform); HTTP faults
act in a middleware (error statuses, hangs, a lost order reply); heartbeat faults act in
the ``POST /v1/heartbeats`` handler (a reply lost or late after the beat was accepted, a
chain advanced behind the client's back so its beat meets the mismatch); trade faults act
on the trade lifecycle (a matched trade fails and is reversed, or goes through RETRYING).

Error statuses and hangs aimed at heartbeats use ``http_errors`` / ``http_timeouts`` with
``path_prefix="/v1/heartbeats"``: those never reach the venue (the beat does not count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from polyloly.runtime.clock import NS_PER_S, Clock

__all__ = ["HTTP_ERROR_BODIES", "Faults", "HttpFault"]

HTTP_ERROR_BODIES: Final = {
    429: "Too Many Requests",
    500: "Internal server error",
    502: "Bad Gateway",
    503: "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed.",
    425: "Too Early",
}
"""The venue's error texts for injected statuses (``{"error": …}`` bodies)."""


@dataclass(slots=True)
class HttpFault:
    """``count`` more requests under ``path_prefix`` answer ``status`` (0: they hang)."""

    status: int
    count: int
    path_prefix: str | None = None

    def matches(self, path: str) -> bool:
        """Whether a request path is affected."""
        return self.count > 0 and (self.path_prefix is None or path.startswith(self.path_prefix))


class Faults:
    """Injected faults of one simulator (see module docstring).

    Parameters
    ----------
    clock
        The simulator's clock (stall deadlines).
    drop_ws
        Closes every WebSocket connection (the hub's).
    fail_trade, fail_next, retry_next
        The trade lifecycle's injection points.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        drop_ws: Callable[[], None],
        fail_trade: Callable[[str], bool],
        fail_next: Callable[[int], None],
        retry_next: Callable[[int], None],
        clear_trades: Callable[[], None],
    ) -> None:
        self._clock = clock
        self._drop_ws = drop_ws
        self._fail_trade = fail_trade
        self._fail_next = fail_next
        self._retry_next = retry_next
        self._clear_trades = clear_trades
        self.stall_until_ns: int | None = None
        self.stalled_forever = False
        self.duplicate = 0
        self.reorder = 0
        self.malform = 0
        self.http: list[HttpFault] = []
        self.lose_order_replies = 0
        self.hang_s = 60.0
        self.lose_heartbeat_replies = 0
        self.delay_heartbeat_replies = 0
        self.heartbeat_delay_s = 0.0
        self.heartbeat_mismatches = 0

    # -- WebSocket --------------------------------------------------------------------------

    def drop_ws_connections(self) -> None:
        """Close every open WebSocket connection now (clients must reconnect)."""
        self._drop_ws()

    def stall_ws(self, seconds: float | None = None) -> None:
        """Keep connections open but send nothing (and answer no PING) for ``seconds``.

        ``None`` stalls until :meth:`clear`.
        """
        if seconds is None:
            self.stalled_forever = True
        else:
            self.stall_until_ns = self._clock.now_ns() + int(seconds * NS_PER_S)

    def stalled(self) -> bool:
        """Whether WebSocket output is stalled right now."""
        if self.stalled_forever:
            return True
        return self.stall_until_ns is not None and self._clock.now_ns() < self.stall_until_ns

    def duplicate_frames(self, count: int) -> None:
        """Send each of the next ``count`` frames twice."""
        self.duplicate += count

    def reorder_frames(self, count: int) -> None:
        """Swap the order of the next ``count`` pairs of frames."""
        self.reorder += count

    def malform_frames(self, count: int) -> None:
        """Replace the next ``count`` frames by invalid JSON."""
        self.malform += count

    # -- HTTP -------------------------------------------------------------------------------

    def http_errors(self, status: int, count: int = 1, path_prefix: str | None = None) -> None:
        """Answer the next ``count`` requests (under ``path_prefix``) with ``status``."""
        self.http.append(HttpFault(status, count, path_prefix))

    def http_timeouts(self, count: int = 1, path_prefix: str | None = None) -> None:
        """Let the next ``count`` requests hang (``hang_s``) so the client times out."""
        self.http.append(HttpFault(0, count, path_prefix))

    def lose_next_order_reply(self, count: int = 1) -> None:
        """Accept the next order(s) but drop the connection instead of replying."""
        self.lose_order_replies += count

    def take_http(self, path: str) -> HttpFault | None:
        """Consume the first HTTP fault matching ``path``, if any."""
        for fault in self.http:
            if fault.matches(path):
                fault.count -= 1
                self.http = [f for f in self.http if f.count > 0]
                return fault
        return None

    def take_lost_reply(self) -> bool:
        """Consume one lost-reply injection."""
        if self.lose_order_replies > 0:
            self.lose_order_replies -= 1
            return True
        return False

    # -- heartbeats -------------------------------------------------------------------------

    def lose_next_heartbeat_reply(self, count: int = 1) -> None:
        """Take the next heartbeat(s) (the id rotates) but drop the connection unanswered.

        The client keeps the id it sent; its next beat is refused with ``Invalid Heartbeat
        ID`` (the reply names the id expected).
        """
        self.lose_heartbeat_replies += count

    def delay_next_heartbeat_reply(self, count: int = 1, seconds: float = 1.0) -> None:
        """Take the next heartbeat(s) (the id rotates), then hold each reply ``seconds``
        (wall time): a client that gives up first is in the lost reply's place."""
        self.delay_heartbeat_replies += count
        self.heartbeat_delay_s = seconds

    def heartbeat_mismatch(self, count: int = 1) -> None:
        """Advance the next ``count`` live chains before their beat is judged.

        As if a beat whose reply was lost (or a second process with the same key) had been
        accepted: the client's beat is refused with ``Invalid Heartbeat ID`` and the new
        expected id. A key without a live chain is left alone (the fault stays armed).
        """
        self.heartbeat_mismatches += count

    def take_heartbeat_mismatch(self, rotate: Callable[[], bool]) -> bool:
        """Consume one armed mismatch if ``rotate`` advanced a live chain."""
        if self.heartbeat_mismatches > 0 and rotate():
            self.heartbeat_mismatches -= 1
            return True
        return False

    def take_lost_heartbeat_reply(self) -> bool:
        """Consume one lost-heartbeat-reply injection."""
        if self.lose_heartbeat_replies > 0:
            self.lose_heartbeat_replies -= 1
            return True
        return False

    def take_heartbeat_delay(self) -> float:
        """Consume one delayed-heartbeat-reply injection: seconds to hold the reply (0: none)."""
        if self.delay_heartbeat_replies > 0:
            self.delay_heartbeat_replies -= 1
            return self.heartbeat_delay_s
        return 0.0

    # -- trades -----------------------------------------------------------------------------

    def fail_trade(self, trade_id: str) -> bool:
        """Fail a matched trade now (reversed in balances); False if it is already final."""
        return self._fail_trade(trade_id)

    def fail_next_trades(self, count: int = 1) -> None:
        """Fail the next ``count`` trades at their mining time (MATCHED → FAILED)."""
        self._fail_next(count)

    def retry_next_trades(self, count: int = 1) -> None:
        """Send the next ``count`` trades through RETRYING before they are mined."""
        self._retry_next(count)

    # -- control ----------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove every pending injection."""
        self.stall_until_ns = None
        self.stalled_forever = False
        self.duplicate = self.reorder = self.malform = 0
        self.http = []
        self.lose_order_replies = 0
        self.lose_heartbeat_replies = self.delay_heartbeat_replies = 0
        self.heartbeat_mismatches = 0
        self._clear_trades()

    def apply(self, command: dict[str, Any]) -> None:
        """Apply one HTTP control command ``{"action": name, …arguments}``.

        Raises
        ------
        ValueError
            If the action or its arguments are unknown.
        """
        action = command.get("action")
        args = {k: v for k, v in command.items() if k != "action"}
        handlers: dict[str, Callable[..., object]] = {
            "drop_ws_connections": self.drop_ws_connections,
            "stall_ws": self.stall_ws,
            "duplicate_frames": self.duplicate_frames,
            "reorder_frames": self.reorder_frames,
            "malform_frames": self.malform_frames,
            "http_errors": self.http_errors,
            "http_timeouts": self.http_timeouts,
            "lose_next_order_reply": self.lose_next_order_reply,
            "lose_next_heartbeat_reply": self.lose_next_heartbeat_reply,
            "delay_next_heartbeat_reply": self.delay_next_heartbeat_reply,
            "heartbeat_mismatch": self.heartbeat_mismatch,
            "fail_trade": self.fail_trade,
            "fail_next_trades": self.fail_next_trades,
            "retry_next_trades": self.retry_next_trades,
            "clear": self.clear,
        }
        handler = handlers.get(str(action))
        if handler is None:
            raise ValueError(f"unknown fault action {action!r}")
        try:
            handler(**args)
        except TypeError as exc:
            raise ValueError(f"bad arguments for {action}: {exc}") from exc

    def state(self) -> dict[str, Any]:
        """What is armed right now (``GET /sim/faults``)."""
        return {
            "stalled": self.stalled(),
            "duplicate": self.duplicate,
            "reorder": self.reorder,
            "malform": self.malform,
            "http": [
                {"status": f.status, "count": f.count, "path_prefix": f.path_prefix}
                for f in self.http
            ],
            "lose_order_replies": self.lose_order_replies,
            "lose_heartbeat_replies": self.lose_heartbeat_replies,
            "delay_heartbeat_replies": self.delay_heartbeat_replies,
            "heartbeat_mismatches": self.heartbeat_mismatches,
        }
