"""The heartbeat chain as a pure state machine: which id to send, when, and whether it held.

The venue's rules (``docs/reference/polymarket.md`` §1; the official SDK's
``OrderHeartbeatMismatchError``): the first beat sends ``""``; every valid beat's reply
carries the id to send next; any other id is refused (HTTP 400 ``Invalid Heartbeat ID``)
with the id the venue expects — ``""`` when it holds no chain for the key — and does not
count; once the chain has started, no valid beat for 10 s cancels every open order of the
key and drops the chain. The SDK's advice is to beat every 5 s and, on the mismatch, send
again at once with the id it carries.

:class:`HeartbeatChain` folds the outcome of each attempt (:class:`Accepted`,
:class:`Mismatch`, :class:`Lost`) into the next id, the delay before the next attempt and
the chain's :class:`Health`. Times are the injected clock's monotonic nanoseconds; nothing
here reads a clock or does I/O (the loop in :mod:`.heartbeat` does).

Schedule
    A valid beat sent at ``t`` is followed by the next one at ``t + interval``. A lost
    attempt (timeout, 5xx, 425, 429, dropped connection…) is retried after a doubling
    back-off from ``retry_initial`` to ``retry_max``, but never more than half the time left
    before ``deadline − retry_initial`` (in the last ``retry_initial``, every quarter of
    it), even against a 429's ``Retry-After``: missing the window costs every resting
    order, so several attempts must still fit in it. With the defaults (5 s beats, 10 s
    window, 2 s attempts, 0.25–2 s back-off) the chain survives any two lost attempts in a
    row, each taking its whole timeout, or eight that fail fast (a 5xx, a refused
    connection); the property tests hold it to that against a model of the venue.

Health
    ``STARTING`` until the first valid beat; ``OK`` while the chain is inside its window
    (retries in progress included: the orders are still protected); ``MISSED`` once the
    window is really missed — an attempt lost at or after ``last valid send + window`` (the
    venue received that beat no earlier than it was sent, so the bot never believes in a
    chain the venue has dropped, and calls the miss at most one network latency before the
    venue acts on it), or the venue's refusal carrying ``""`` after the chain had started
    (it holds no chain for us: it cancelled our orders); ``UNARMED`` when no chain could be started
    within one window (the dead-man switch is off). A valid beat returns to ``OK``.

A mismatch carrying a non-empty id is proof the venue still holds our chain: a reply was
lost after the beat counted. The id is adopted and sent at once, within the same beat, and
the window is counted from the first attempt lost since the last valid beat (the one that
counted went out no earlier). Only ``max_adoptions`` such resends run back to back, then
the back-off applies. One process per API key: a second one beating with the same key
would move the chain under the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

__all__ = [
    "Accepted",
    "Health",
    "HeartbeatChain",
    "HeartbeatStats",
    "HeartbeatTiming",
    "Lost",
    "Mismatch",
    "Outcome",
    "Step",
]

_NS_PER_S: Final = 1_000_000_000


class Health(Enum):
    """Where the chain stands (see the module docstring)."""

    STARTING = "starting"
    OK = "ok"
    MISSED = "missed"
    UNARMED = "unarmed"


@dataclass(frozen=True, slots=True)
class HeartbeatTiming:
    """The schedule, in nanoseconds (:meth:`from_seconds` builds it from settings).

    Raises
    ------
    ValueError
        If the schedule cannot keep a chain inside its window (naming the field).
    """

    interval_ns: int = 5 * _NS_PER_S
    window_ns: int = 10 * _NS_PER_S
    attempt_timeout_ns: int = 2 * _NS_PER_S
    retry_initial_ns: int = _NS_PER_S // 4
    retry_max_ns: int = 2 * _NS_PER_S
    max_adoptions: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.interval_ns < self.window_ns:
            raise ValueError("interval: must be > 0 and shorter than the window")
        if not 0 < self.attempt_timeout_ns <= self.window_ns // 2:
            raise ValueError("attempt_timeout: must be > 0 and at most half the window")
        if not 0 < self.retry_initial_ns <= self.retry_max_ns < self.window_ns:
            raise ValueError("retry: need 0 < retry_initial <= retry_max < window")
        if self.max_adoptions < 1:
            raise ValueError("max_adoptions: must be at least 1")

    @classmethod
    def from_seconds(
        cls,
        *,
        interval_s: float = 5.0,
        window_s: float = 10.0,
        attempt_timeout_s: float = 2.0,
        retry_initial_s: float | None = None,
        retry_max_s: float | None = None,
    ) -> HeartbeatTiming:
        """The schedule from seconds (settings are in seconds).

        The back-off, unless given, scales with the schedule: it starts at a twentieth of
        the interval and grows to a fifth of the window (0.25 s and 2 s for the venue's).
        """
        initial = interval_s / 20 if retry_initial_s is None else retry_initial_s
        most = window_s / 5 if retry_max_s is None else retry_max_s
        return cls(
            interval_ns=round(interval_s * _NS_PER_S),
            window_ns=round(window_s * _NS_PER_S),
            attempt_timeout_ns=round(attempt_timeout_s * _NS_PER_S),
            retry_initial_ns=round(initial * _NS_PER_S),
            retry_max_ns=round(most * _NS_PER_S),
        )


@dataclass(frozen=True, slots=True)
class Accepted:
    """The beat was valid; ``next_id`` is the id to send next."""

    next_id: str


@dataclass(frozen=True, slots=True)
class Mismatch:
    """``Invalid Heartbeat ID``: the beat did not count; ``expected_id`` is what the venue
    expects (``""``: it holds no chain for the key)."""

    expected_id: str


@dataclass(frozen=True, slots=True)
class Lost:
    """No usable answer (timeout, 5xx, 425, 429, connection error, a bad reply).

    ``retry_after_ns`` is the venue's hint (429), honoured unless it would miss the window.
    """

    reason: str
    retry_after_ns: int = 0


Outcome = Accepted | Mismatch | Lost


@dataclass(frozen=True, slots=True)
class Step:
    """What one outcome leads to: wait ``delay_ns`` (0: send now), the health after it,
    whether the health changed, and what happened (``ok``, ``id_adopted``, ``retried``)."""

    delay_ns: int
    health: Health
    changed: bool
    kind: str


@dataclass(slots=True)
class HeartbeatStats:
    """Counters of outcomes (exported as ``polyloly_heartbeats_total{outcome}``)."""

    sent: int = 0
    ok: int = 0
    retried: int = 0
    id_adopted: int = 0
    window_missed: int = 0
    chains_started: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {
            "sent": self.sent,
            "ok": self.ok,
            "retried": self.retried,
            "id_adopted": self.id_adopted,
            "window_missed": self.window_missed,
            "chains_started": self.chains_started,
        }


@dataclass(slots=True)
class HeartbeatChain:
    """The chain's state, folded from attempt outcomes (see the module docstring).

    Parameters
    ----------
    timing
        The schedule and the venue's window.
    start_ns
        Monotonic time the loop started (``UNARMED`` is judged from it).
    """

    timing: HeartbeatTiming
    start_ns: int
    heartbeat_id: str = ""
    """The id the next attempt sends."""
    health: Health = Health.STARTING
    last_valid_ns: int | None = None
    """Send time of the last valid beat of the current chain (``None``: no chain)."""
    first_unanswered_ns: int | None = None
    """Send time of the first attempt lost since the last valid or refused one."""
    lost_in_row: int = 0
    adopted_in_row: int = 0
    stats: HeartbeatStats = field(default_factory=HeartbeatStats)

    @property
    def deadline_ns(self) -> int | None:
        """When the window of the current chain ends, by our count (``None``: no chain)."""
        last = self.last_valid_ns
        return None if last is None else last + self.timing.window_ns

    def sending(self) -> str:
        """Count an attempt about to go out; return the id it carries."""
        self.stats.sent += 1
        return self.heartbeat_id

    def apply(self, outcome: Outcome, sent_ns: int, now_ns: int) -> Step:
        """Fold the outcome of the attempt sent at ``sent_ns`` (answered at ``now_ns``)."""
        before = self.health
        if isinstance(outcome, Accepted):
            delay, kind = self._accepted(outcome, sent_ns, now_ns), "ok"
        elif isinstance(outcome, Mismatch):
            delay, kind = self._mismatch(outcome, now_ns), "id_adopted"
        else:
            delay, kind = self._lost(outcome, sent_ns, now_ns), "retried"
        return Step(delay, self.health, self.health is not before, kind)

    # -- transitions ----------------------------------------------------------------------------

    def _accepted(self, outcome: Accepted, sent_ns: int, now_ns: int) -> int:
        if not self.heartbeat_id:
            self.stats.chains_started += 1
        self.stats.ok += 1
        self.heartbeat_id = outcome.next_id
        self.last_valid_ns = sent_ns
        self.first_unanswered_ns = None
        self.lost_in_row = self.adopted_in_row = 0
        self.health = Health.OK
        return max(sent_ns + self.timing.interval_ns - now_ns, 0)

    def _mismatch(self, outcome: Mismatch, now_ns: int) -> int:
        self.stats.id_adopted += 1
        if self.health is Health.OK:
            if not outcome.expected_id:
                self._missed()  # the venue holds no chain of ours: it expired
            elif self.first_unanswered_ns is not None and self.last_valid_ns is not None:
                # The chain moved on without us: one of the attempts lost since our last
                # valid beat counted (its reply was lost), so the venue's window runs at
                # least from the first of them.
                self.last_valid_ns = max(self.last_valid_ns, self.first_unanswered_ns)
        self._unarmed_after_a_window(now_ns)
        self.first_unanswered_ns = None
        self.heartbeat_id = outcome.expected_id
        self.adopted_in_row += 1
        if self.adopted_in_row <= self.timing.max_adoptions:
            return 0
        self.lost_in_row += 1
        return self._backoff(now_ns, 0)

    def _lost(self, outcome: Lost, sent_ns: int, now_ns: int) -> int:
        self.stats.retried += 1
        if self.first_unanswered_ns is None:
            self.first_unanswered_ns = sent_ns
        self.lost_in_row += 1
        self.adopted_in_row = 0
        deadline = self.deadline_ns
        if self.health is Health.OK and deadline is not None and now_ns >= deadline:
            self._missed()
        self._unarmed_after_a_window(now_ns)
        return self._backoff(now_ns, outcome.retry_after_ns)

    def _unarmed_after_a_window(self, now_ns: int) -> None:
        # No valid beat a whole window after starting: whatever chain the venue may hold
        # for the key (one whose reply was lost, a previous process's) is past its window.
        if self.health is Health.STARTING and now_ns - self.start_ns >= self.timing.window_ns:
            self.health = Health.UNARMED

    def _missed(self) -> None:
        self.stats.window_missed += 1
        self.health = Health.MISSED
        self.last_valid_ns = None

    def _backoff(self, now_ns: int, retry_after_ns: int) -> int:
        t = self.timing
        doubling = t.retry_initial_ns << min(self.lost_in_row - 1, 16)
        delay = max(min(doubling, t.retry_max_ns), retry_after_ns)
        deadline = self.deadline_ns
        if self.health is Health.OK and deadline is not None and now_ns < deadline:
            # At most half the time left before ``deadline − retry_initial``, so that more
            # than one attempt still fits; in the last ``retry_initial``, every quarter of it
            # (a last chance, not a spin).
            room = deadline - now_ns - t.retry_initial_ns
            delay = min(delay, max(room // 2, t.retry_initial_ns // 4))
        return delay
