"""The soak's operator: what the person on call does with a halted bot, over its control API.

Every half second the operator reads ``polyloly status``. A bot halted for ``hold_s`` is
resumed (a halt the bot clears by itself never reaches that point). A feed of the bot's
that stays down is different: the kill switch holds as long as it is down, and resuming is
pointless. When a feed has been down for ``stuck_s`` since the last fault that could take
it down (:func:`can_take_down`) — longer than any injected fault lasts — the operator
restarts the bot and the feed is counted as *stuck*: the bot did not recover by itself.
The share of polls that found the bot halted is kept as a measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.soak.chaos import FaultRecord
from polyloly.bot.control import ControlClient, ControlError
from polyloly.runtime.clock import NS_PER_S, Clock

__all__ = ["Operator", "StuckFeed", "can_halt", "can_take_down"]

_NOT_FEED_FAULTS = frozenset({"trade_failed", "trade_retrying", "lost_order_reply"})


def can_take_down(feed: str, fault: FaultRecord) -> bool:
    """Whether an injected fault can put one of the bot's feeds down or stale.

    Faults act on the exchange only: an esports feed is never their victim. Trade faults
    and a lost order reply touch no feed; an HTTP fault on order posts neither. The
    heartbeat is hit by heartbeat faults and HTTP faults on any path; the sockets by every
    other fault (a user-channel catch-up reads ``/data/``).
    """
    if not feed.startswith("polymarket.") or fault.kind in _NOT_FEED_FAULTS:
        return False
    if fault.kind.startswith("http_") and fault.args.get("path_prefix") == "/order":
        return False
    if feed == "polymarket.heartbeat":
        return fault.kind.startswith(("heartbeat_", "http_"))
    return True


_EXCHANGE_FEEDS = ("polymarket.market_ws", "polymarket.user_ws", "polymarket.heartbeat")


def can_halt(condition: str, fault: FaultRecord) -> bool:
    """Whether a fault can be the cause of a kill-switch firing for ``condition``.

    An ``exchange_feed`` halt needs a fault that takes one of the exchange feeds down; any
    other condition (execution errors, a manual halt…) may follow any fault.
    """
    if condition == "exchange_feed":
        return any(can_take_down(feed, fault) for feed in _EXCHANGE_FEEDS)
    return True


@dataclass(frozen=True, slots=True)
class StuckFeed:
    """A feed that stayed down with no fault to explain it."""

    feed: str
    state: str
    down_s: float


@dataclass(slots=True)
class Operator:
    """Polls the bot, resumes halts, reports stuck feeds (see module docstring)."""

    client: ControlClient
    clock: Clock
    faults: Sequence[FaultRecord]
    hold_s: float
    stuck_s: float
    polls: int = 0
    halted_polls: int = 0
    resumes: int = 0
    stuck: list[StuckFeed] = field(default_factory=list)
    _halted_since: int | None = None
    _down_since: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget what was seen (the bot restarted)."""
        self._halted_since = None
        self._down_since.clear()

    async def poll(self) -> StuckFeed | None:
        """One look at the bot; a stuck feed (the caller restarts the bot) or ``None``."""
        try:
            status = await self.client.status()
        except ControlError:
            return None
        self.polls += 1
        now = self.clock.now_ns()
        stuck = self._stuck(status.get("feeds") or {}, now)
        if stuck is not None:
            self.stuck.append(stuck)
            return stuck
        if not status.get("halted"):
            self._halted_since = None
            return None
        self.halted_polls += 1
        self._halted_since = self._halted_since or now
        if now - self._halted_since >= self.hold_s * NS_PER_S:
            try:
                await self.client.resume()
                self.resumes += 1
            except ControlError:
                pass
            self._halted_since = None
        return None

    def _stuck(self, feeds: dict[str, str], now: int) -> StuckFeed | None:
        for name, state in sorted(feeds.items()):
            if state == "ok":
                self._down_since.pop(name, None)
                continue
            since = self._down_since.setdefault(name, now)
            last = max((f.onset_ns for f in self.faults if can_take_down(name, f)), default=0)
            if now - max(since, last) >= self.stuck_s * NS_PER_S:
                return StuckFeed(name, state, (now - since) / NS_PER_S)
        return None
