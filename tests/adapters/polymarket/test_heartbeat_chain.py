"""The heartbeat chain's state machine: a transition table, and properties against a model
of the venue under random faults (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.adapters.polymarket.heartbeat_chain import (
    Accepted,
    Health,
    HeartbeatChain,
    HeartbeatTiming,
    Lost,
    Mismatch,
    Outcome,
)

S = 1_000_000_000
MS = 1_000_000
T = HeartbeatTiming()  # the defaults: 5 s beats, 10 s window, 2 s attempts, 0.25-2 s back-off


def chain_ok_at(sent_ns: int = 0, heartbeat_id: str = "a") -> HeartbeatChain:
    """A chain whose last valid beat went out at ``sent_ns``."""
    chain = HeartbeatChain(T, start_ns=0)
    chain.apply(Accepted(heartbeat_id), sent_ns, sent_ns + 10 * MS)
    return chain


# -- the table ------------------------------------------------------------------------------------


def test_a_valid_beat_rotates_the_id_and_the_next_goes_one_interval_after_it_was_sent() -> None:
    chain = HeartbeatChain(T, start_ns=0)
    assert chain.sending() == ""
    step = chain.apply(Accepted("a"), 0, 300 * MS)
    assert (step.health, step.changed, step.kind) == (Health.OK, True, "ok")
    assert step.delay_ns == 5 * S - 300 * MS
    assert chain.heartbeat_id == "a"
    assert chain.deadline_ns == 10 * S
    assert chain.sending() == "a"
    step = chain.apply(Accepted("b"), 5 * S, 5 * S + 20 * MS)
    assert not step.changed
    assert chain.heartbeat_id == "b"
    assert chain.deadline_ns == 15 * S
    assert chain.stats.as_dict() == {
        "sent": 2,
        "ok": 2,
        "retried": 0,
        "id_adopted": 0,
        "window_missed": 0,
        "chains_started": 1,
    }


@pytest.mark.parametrize(
    ("health", "expected", "after"),
    [
        (Health.OK, "x", Health.OK),  # a reply was lost: the venue still holds our chain
        (Health.OK, "", Health.MISSED),  # the venue holds no chain: the window was missed
        (Health.STARTING, "x", Health.STARTING),  # a chain from before a restart
        (Health.STARTING, "", Health.STARTING),
        (Health.MISSED, "", Health.MISSED),
        (Health.MISSED, "x", Health.MISSED),  # alive after all: the resend will tell
        (Health.UNARMED, "", Health.UNARMED),
    ],
)
def test_a_mismatch_is_adopted_and_sent_again_at_once(
    health: Health, expected: str, after: Health
) -> None:
    chain = chain_ok_at() if health is Health.OK else HeartbeatChain(T, start_ns=0)
    chain.health = health
    step = chain.apply(Mismatch(expected), 3 * S, 3 * S + 10 * MS)
    assert step.delay_ns == 0
    assert step.kind == "id_adopted"
    assert chain.heartbeat_id == expected
    assert chain.health is after
    assert chain.stats.window_missed == (1 if after is not health else 0)


def test_back_to_back_mismatches_fall_back_to_the_back_off() -> None:
    chain = chain_ok_at()
    delays = [chain.apply(Mismatch(f"x{n}"), S, S).delay_ns for n in range(4)]
    assert delays[:2] == [0, 0]
    assert delays[2] == T.retry_initial_ns
    assert delays[3] == 2 * T.retry_initial_ns
    assert chain.health is Health.OK


def test_lost_attempts_back_off_and_stay_inside_the_window() -> None:
    chain = chain_ok_at()  # deadline at 10 s
    now = 5 * S
    sent = []
    while now < 10 * S:
        sent.append(now)
        step = chain.apply(Lost("HTTP 503"), now, now + MS)
        assert step.health is Health.OK
        now += MS + step.delay_ns
    assert sent[:4] == [5 * S, 5 * S + 251 * MS, 5 * S + 752 * MS, 5 * S + 1753 * MS]
    assert len(sent) >= 8  # several attempts fit in the window
    assert chain.stats.retried == len(sent)
    step = chain.apply(Lost("HTTP 503"), now, now + MS)  # lost at or after the deadline
    assert (step.health, step.changed) == (Health.MISSED, True)
    assert chain.stats.window_missed == 1
    assert chain.deadline_ns is None


def test_a_throttle_hint_is_honoured_only_while_the_window_allows() -> None:
    chain = chain_ok_at()
    step = chain.apply(Lost("HTTP 429", retry_after_ns=30 * S), 5 * S, 5 * S + 10 * MS)
    assert step.delay_ns == (10 * S - (5 * S + 10 * MS) - T.retry_initial_ns) // 2
    fresh = HeartbeatChain(T, start_ns=0)  # no chain to protect yet: the hint stands
    assert fresh.apply(Lost("HTTP 429", retry_after_ns=30 * S), 0, 10 * MS).delay_ns == 30 * S


def test_a_lost_attempt_answered_late_counts_the_window_from_the_valid_send() -> None:
    chain = chain_ok_at(sent_ns=S)
    assert chain.apply(Lost("timeout"), 9 * S, 11 * S - 1).health is Health.OK
    assert chain.apply(Lost("timeout"), 11 * S - 1, 11 * S).health is Health.MISSED


def test_a_lost_reply_learnt_from_the_mismatch_moves_the_window_on() -> None:
    """Valid at 0; lost at 5 (it counted: its reply was lost) and at 7.25; the stale id
    meets the mismatch at 9.5: the venue's window runs from 5 at least, so the next loss,
    at 11.5, is no miss."""
    chain = chain_ok_at()
    chain.apply(Lost("timeout"), 5 * S, 7 * S)
    chain.apply(Lost("timeout"), 7 * S + 250 * MS, 9 * S + 250 * MS)
    step = chain.apply(Mismatch("moved-on"), 9 * S + 500 * MS, 9 * S + 510 * MS)
    assert (step.delay_ns, chain.heartbeat_id, chain.deadline_ns) == (0, "moved-on", 15 * S)
    assert chain.apply(Lost("timeout"), 9 * S + 510 * MS, 11 * S + 500 * MS).health is Health.OK


def test_a_valid_beat_after_a_miss_restarts_the_chain() -> None:
    chain = chain_ok_at()
    chain.apply(Mismatch(""), 12 * S, 12 * S)
    assert chain.health is Health.MISSED
    assert chain.sending() == ""
    step = chain.apply(Accepted("fresh"), 12 * S, 12 * S + 5 * MS)
    assert (step.health, step.changed) == (Health.OK, True)
    assert chain.stats.chains_started == 2
    assert chain.deadline_ns == 22 * S


def test_no_chain_within_one_window_of_starting_is_unarmed() -> None:
    chain = HeartbeatChain(T, start_ns=100 * S)
    assert chain.apply(Lost("connect"), 100 * S, 100 * S + MS).health is Health.STARTING
    assert chain.apply(Lost("connect"), 109 * S, 110 * S).health is Health.UNARMED
    assert chain.stats.window_missed == 0  # nothing was protected: nothing was cancelled
    assert chain.apply(Accepted("a"), 111 * S, 111 * S).health is Health.OK


def test_a_chain_learnt_of_but_never_beaten_is_unarmed_after_a_window() -> None:
    """Our first beat counted but its reply was lost; every resend of the id we learn is
    lost too: that chain runs out a window after we started at the latest."""
    chain = HeartbeatChain(T, start_ns=0)
    chain.apply(Lost("reply lost"), 0, 10 * MS)
    assert chain.apply(Mismatch("x"), S, S).health is Health.STARTING
    chain.apply(Lost("timeout"), S, 3 * S)
    assert chain.apply(Mismatch(""), 10 * S, 10 * S).health is Health.UNARMED


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval_s": 10},
        {"interval_s": 0},
        {"attempt_timeout_s": 6},
        {"retry_initial_s": 3, "retry_max_s": 2},
        {"retry_max_s": 10},
    ],
)
def test_a_schedule_that_cannot_hold_the_window_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"\w+: "):
        HeartbeatTiming.from_seconds(**kwargs)


# -- properties against a model of the venue -----------------------------------------------------


@dataclass
class Venue:
    """The venue's rules (what sim/exchange/heartbeats.py implements), on model time."""

    window_ns: int
    expected: str | None = None
    last_ns: int = 0
    seq: int = 0
    expiries: list[int] = field(default_factory=list)

    def expire(self, now_ns: int) -> None:
        if self.expected is not None and now_ns - self.last_ns > self.window_ns:
            self.expiries.append(self.last_ns + self.window_ns)
            self.expected = None

    def alive(self, now_ns: int) -> bool:
        self.expire(now_ns)
        return self.expected is not None

    def beat(self, heartbeat_id: str, now_ns: int) -> Accepted | Mismatch:
        self.expire(now_ns)
        expected = self.expected or ""
        if heartbeat_id != expected:
            return Mismatch(expected)
        return self._rotate(now_ns)

    def rotate(self, now_ns: int) -> None:
        """A beat accepted behind the client's back (another process, a lost reply)."""
        self.expire(now_ns)
        if self.expected is not None:
            self._rotate(now_ns)

    def _rotate(self, now_ns: int) -> Accepted:
        self.seq += 1
        self.expected = f"id-{self.seq}"
        self.last_ns = now_ns
        return Accepted(self.expected)


@dataclass(frozen=True)
class Fault:
    """What happens to one attempt: ``ok`` (answered after ``2 × latency``), ``drop`` (never
    reaches the venue, lost after ``took``), ``reply_lost`` (the venue judges it, the reply
    is lost after ``took``), ``rotate`` (someone else beat just before), ``throttle`` (a 429
    answered fast, with a ``Retry-After``)."""

    kind: str
    latency_ns: int
    took_ns: int
    retry_after_ns: int = 0


FAILING = ("drop", "reply_lost", "throttle")
NOT_VALID = (*FAILING, "rotate")
"""Attempts that are not a valid beat (a rotation makes the attempt meet the mismatch)."""
MAX_LATENCY_NS = 100 * MS
latency = st.integers(1 * MS, MAX_LATENCY_NS)
took = st.integers(1 * MS, T.attempt_timeout_ns)
faults = st.one_of(
    st.builds(Fault, st.just("ok"), latency, st.just(0)),
    st.builds(Fault, st.just("rotate"), latency, st.just(0)),
    st.builds(Fault, st.sampled_from(("drop", "reply_lost")), latency, took),
    st.builds(
        Fault, st.just("throttle"), latency, st.integers(MS, 200 * MS), st.integers(0, 60 * S)
    ),
)


@dataclass
class Run:
    chain: HeartbeatChain
    venue: Venue
    misses_declared: list[int] = field(default_factory=list)
    now_ns: int = 0
    last_ns: int = -1
    seen_valid_ns: int = -1
    """When the venue took the last beat whose acceptance reached the chain."""


def _attempt(run: Run, fault: Fault) -> tuple[Outcome, int, int]:
    sent = run.now_ns
    heartbeat_id = run.chain.sending()
    venue = run.venue
    if fault.kind in ("ok", "rotate"):
        if fault.kind == "rotate":
            venue.rotate(sent)
        return venue.beat(heartbeat_id, sent + fault.latency_ns), sent, sent + 2 * fault.latency_ns
    if fault.kind == "reply_lost":
        venue.beat(heartbeat_id, sent + min(fault.latency_ns, fault.took_ns))
    outcome = Lost(fault.kind, retry_after_ns=fault.retry_after_ns)
    return outcome, sent, sent + fault.took_ns


def _attempts(run: Run, fault_list: list[Fault]) -> Iterator[Fault]:
    """The attempts: an answered one (``ok``) includes its resends after a mismatch."""
    for fault in fault_list:
        yield fault
        while fault.kind == "ok" and run.chain.adopted_in_row and run.now_ns == run.last_ns:
            yield fault


def _drive(fault_list: list[Fault]) -> Run:
    """Run the chain against the venue; check the invariants after every attempt."""
    run = Run(HeartbeatChain(T, start_ns=0), Venue(T.window_ns))
    for fault in _attempts(run, fault_list):
        before_id, deadline_before = run.chain.heartbeat_id, run.chain.deadline_ns
        outcome, sent, now = _attempt(run, fault)
        step = run.chain.apply(outcome, sent, now)
        run.now_ns, run.last_ns = now + step.delay_ns, now
        if step.changed and step.health is Health.MISSED:
            run.misses_declared.append(now)
            # Really missed: the venue dropped our chain, or will within one network latency
            # (our window runs from the send, the venue's from the receipt), or it took a
            # beat whose reply we never had (we cannot know; the next refusal tells, heals).
            assert (
                not run.venue.alive(now)
                or now + MAX_LATENCY_NS > run.venue.last_ns + T.window_ns
                or run.venue.last_ns > run.seen_valid_ns
            )
            if isinstance(outcome, Lost):  # by the clock: a whole window after a valid send
                assert deadline_before is not None
                assert now >= deadline_before
        # Never healthy while the venue holds no chain for us (it cancelled our orders).
        if run.venue.expiries and not run.venue.alive(now):
            assert step.health in (Health.MISSED, Health.UNARMED), (fault, step)
        # A refusal is adopted and sent again at once (unless two processes fight).
        if isinstance(outcome, Mismatch):
            assert run.chain.heartbeat_id == outcome.expected_id
            assert step.delay_ns == 0 or run.chain.adopted_in_row > T.max_adoptions
        if isinstance(outcome, Accepted):
            run.seen_valid_ns = run.venue.last_ns
            assert step.health is Health.OK
            assert run.chain.heartbeat_id == run.venue.expected != before_id
        # While the chain is inside its window, the next attempt goes out before its end (in
        # its last moments: a quarter of the first back-off later at most).
        deadline = run.chain.deadline_ns
        if step.health is Health.OK and deadline is not None and now < deadline:
            assert run.now_ns < deadline or step.delay_ns <= T.retry_initial_ns // 4
        assert 0 <= step.delay_ns <= max(T.interval_ns, T.retry_max_ns, fault.retry_after_ns)
    return run


def _bursts_at_most(fault_list: list[Fault], limit: int) -> bool:
    run = 0
    for fault in fault_list:
        run = run + 1 if fault.kind in NOT_VALID else 0
        if run > limit:
            return False
    return True


@settings(max_examples=400, deadline=None)
@given(st.lists(faults, max_size=60))
def test_the_chain_never_claims_health_the_venue_does_not_grant(fault_list: list[Fault]) -> None:
    run = _drive(fault_list)
    assert run.chain.stats.window_missed == len(run.misses_declared)
    # Once the faults stop, the chain heals within three attempts, in step with the venue.
    healed = _drive([*fault_list, *[Fault("ok", 5 * MS, 0)] * 3])
    assert healed.chain.health is Health.OK
    assert healed.venue.expected == healed.chain.heartbeat_id


not_valid = faults.filter(lambda f: f.kind in NOT_VALID)
answered = st.builds(Fault, st.just("ok"), latency, st.just(0))


def bursts(longest: int, failing: st.SearchStrategy[Fault] = not_valid) -> st.SearchStrategy:
    """Runs of at most ``longest`` attempts that are not a valid beat, each then answered."""
    segment = st.tuples(st.lists(failing, max_size=longest), answered)
    return st.lists(segment, min_size=1, max_size=25).map(
        lambda segs: [f for run, ok in segs for f in (*run, ok)]
    )


@settings(max_examples=500, deadline=None)
@given(bursts(2))
def test_two_lost_attempts_in_a_row_never_cost_the_window(fault_list: list[Fault]) -> None:
    """Each lost attempt may take its whole timeout; a lost reply's beat still counted."""
    assert _bursts_at_most(fault_list, 2)
    run = _drive([Fault("ok", 5 * MS, 0), *fault_list])
    assert run.venue.expiries == []
    assert run.misses_declared == []
    assert run.chain.stats.window_missed == 0


fast_failures = st.builds(
    Fault, st.sampled_from(("drop", "reply_lost")), latency, st.integers(MS, 100 * MS)
)


@settings(max_examples=300, deadline=None)
@given(bursts(8, fast_failures))
def test_eight_fast_failures_in_a_row_never_cost_the_window(fault_list: list[Fault]) -> None:
    """A 5xx, a 425, a refused connection: answered at once, retried well inside the window."""
    run = _drive([Fault("ok", 5 * MS, 0), *fault_list])
    assert run.venue.expiries == []
    assert run.misses_declared == []
