"""The venue's heartbeat chains: ``POST /v1/heartbeats`` and its dead-man switch (no I/O).

Each API key has at most one chain. The rules, as the venue and its official clients state
them (``docs/reference/polymarket.md`` §1; the official SDK's ``OrderHeartbeatMismatch``):

* a key starts its chain by sending ``heartbeat_id: ""``; the reply carries the id to send
  next, and **every valid beat rotates it** (``{"heartbeat_id": <next>}``);
* a beat with any other id is refused with HTTP 400
  ``{"error_msg": "Invalid Heartbeat ID", "heartbeat_id": <the id expected>}`` and does
  not count: the expected id is ``""`` when the key has no chain (never started, or
  expired), so a client that adopts what the refusal carries always recovers in one more
  request;
* once a chain has started, no valid beat for the window (10 s on the venue) cancels every
  open order of the key and drops the chain.

The window is enforced both by :meth:`HeartbeatChains.expire_due` (the venue's timer loop)
and before judging each beat, so a late beat is never accepted just because the timer had
not run yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from polyloly.runtime.clock import NS_PER_S
from polyloly.sim.exchange.frames import Json

__all__ = ["ERR_HEARTBEAT", "HeartbeatChains"]

ERR_HEARTBEAT: Final = "Invalid Heartbeat ID"


@dataclass(slots=True)
class _Chain:
    expected: str
    last_valid_ns: int


class HeartbeatChains:
    """Every key's chain, the window, and counts of what happened.

    Parameters
    ----------
    window_s
        Once a chain has started, this long without a valid beat expires it.
    new_id
        Makes the next id (seeded, so a run is reproducible).
    on_expired
        Called with the owner (API key) of a chain that expired: cancel its orders.
    """

    def __init__(
        self, window_s: float, new_id: Callable[[], str], on_expired: Callable[[str], None]
    ) -> None:
        self.window_ns = int(window_s * NS_PER_S)
        self._new_id = new_id
        self._on_expired = on_expired
        self._chains: dict[str, _Chain] = {}
        self.counts: Counter[str] = Counter()
        """``ok`` (valid beats), ``mismatch`` (refused ids), ``expired`` (window missed:
        the key's orders were cancelled), ``rotated`` (chains advanced by a fault)."""

    def expected(self, owner: str) -> str | None:
        """The id the key must send next (``None``: no chain, send ``""``)."""
        chain = self._chains.get(owner)
        return chain.expected if chain is not None else None

    def beat(self, owner: str, heartbeat_id: str, now_ns: int) -> tuple[int, Json]:
        """Judge one beat: ``(200, {"heartbeat_id": next})`` or the 400 mismatch."""
        self._expire(owner, now_ns)
        chain = self._chains.get(owner)
        expected = chain.expected if chain is not None else ""
        if heartbeat_id != expected:
            self.counts["mismatch"] += 1
            return 400, {"error_msg": ERR_HEARTBEAT, "heartbeat_id": expected}
        next_id = self._new_id()
        self._chains[owner] = _Chain(next_id, now_ns)
        self.counts["ok"] += 1
        return 200, {"heartbeat_id": next_id}

    def rotate(self, owner: str, now_ns: int) -> bool:
        """Accept a beat the client never hears of: the chain advances (fault injection).

        This is what a beat whose reply was lost, or a second process beating with the
        same key, does to a client: its next beat is refused with the new expected id.
        Returns whether the key had a live chain.
        """
        self._expire(owner, now_ns)
        chain = self._chains.get(owner)
        if chain is None:
            return False
        chain.expected = self._new_id()
        chain.last_valid_ns = now_ns
        self.counts["rotated"] += 1
        return True

    def expire_due(self, now_ns: int) -> int:
        """Expire every chain past its window (cancelling its key's orders); return how many."""
        due = [o for o, c in self._chains.items() if now_ns - c.last_valid_ns > self.window_ns]
        for owner in due:
            self._expire(owner, now_ns)
        return len(due)

    def _expire(self, owner: str, now_ns: int) -> None:
        chain = self._chains.get(owner)
        if chain is None or now_ns - chain.last_valid_ns <= self.window_ns:
            return
        del self._chains[owner]
        self.counts["expired"] += 1
        self._on_expired(owner)
