"""The snapshot differ: table tests plus properties (no duplicates, strictly increasing seq)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.adapters.esports.identity import MatchRef
from polyloly.adapters.esports.tracker import (
    GamePhase,
    GameSnap,
    MatchPhase,
    MatchSnap,
    MatchTracker,
    wins_needed,
)
from polyloly.domain.events import MatchEventKind as K

REF = MatchRef("grid", "m1", "42", "lol", "t1", "geng", 3)
G = GamePhase
M = MatchPhase


def _kinds(events: list) -> list[tuple[str, int | None, str | None]]:
    return [(e.kind.value, e.game_number, e.winner) for e in events]


def test_full_series_in_order() -> None:
    t = MatchTracker(REF)
    steps = [
        (MatchSnap(phase=M.NOT_STARTED), [("match_scheduled", None, None)]),
        (
            MatchSnap(phase=M.RUNNING, games=(GameSnap(number=1, phase=G.RUNNING),)),
            [("match_started", None, None), ("game_started", 1, None)],
        ),
        (
            MatchSnap(phase=M.RUNNING, games=(GameSnap(number=1, phase=G.PAUSED),)),
            [("paused", 1, None)],
        ),
        (
            MatchSnap(phase=M.RUNNING, games=(GameSnap(number=1, phase=G.RUNNING),)),
            [("resumed", 1, None)],
        ),
        (
            MatchSnap(phase=M.RUNNING, games=(GameSnap(number=1, phase=G.FINISHED, winner="a"),)),
            [("game_ended", 1, "t1")],
        ),
        (
            MatchSnap(
                phase=M.FINISHED,
                winner="a",
                games=(
                    GameSnap(number=1, phase=G.FINISHED, winner="a"),
                    GameSnap(number=2, phase=G.FINISHED, winner="a"),
                ),
            ),
            [("game_ended", 2, "t1"), ("match_ended", None, "t1")],
        ),
    ]
    for snap, expected in steps:
        assert _kinds(t.update(snap, 1, 2)) == expected
        assert t.update(snap, 1, 2) == []  # the same picture again says nothing
    assert t.finished


def test_correction_of_a_winner_is_flagged() -> None:
    t = MatchTracker(REF)
    wrong = MatchSnap(
        phase=M.FINISHED, winner="b", games=(GameSnap(number=1, phase=G.FINISHED, winner="b"),)
    )
    right = MatchSnap(
        phase=M.FINISHED, winner="a", games=(GameSnap(number=1, phase=G.FINISHED, winner="a"),)
    )
    t.update(wrong, 1, 1)
    events = t.update(right, 2, 2, provider_seq=99)
    assert _kinds(events) == [("game_ended", 1, "t1"), ("match_ended", None, "t1")]
    assert all(e.detail["correction"] and e.detail["previous_winner"] == "geng" for e in events)
    assert all(e.detail["provider_seq"] == 99 for e in events)


def test_kills_and_objectives_emit_deltas() -> None:
    t = MatchTracker(REF)
    base = MatchSnap(
        phase=M.RUNNING, games=(GameSnap(number=1, phase=G.RUNNING, kills_a=0, kills_b=0),)
    )
    t.update(base, 0, 0)
    more = MatchSnap(
        phase=M.RUNNING,
        games=(
            GameSnap(
                number=1, phase=G.RUNNING, kills_a=3, kills_b=1, objectives=(("a", "towers", 2),)
            ),
        ),
    )
    events = t.update(more, 0, 0)
    assert [(e.kind, e.detail.get("team"), e.detail.get("delta")) for e in events] == [
        (K.KILL, "t1", 3),
        (K.KILL, "geng", 1),
        (K.OBJECTIVE, "t1", 2),
    ]
    assert events[0].detail["kills_a"] == 3
    assert events[0].detail["kills_b"] == 1


def test_first_seen_finished_game_is_only_an_end_and_cancel() -> None:
    t = MatchTracker(REF, {"confirm_only": True})
    events = t.update(
        MatchSnap(phase=M.RUNNING, games=(GameSnap(number=1, phase=G.FINISHED, winner="b"),)), 0, 0
    )
    assert _kinds(events) == [("match_started", None, None), ("game_ended", 1, "geng")]
    assert events[1].score_a == 0
    assert events[1].score_b == 1
    assert all(e.detail["confirm_only"] for e in events)
    assert _kinds(t.update(MatchSnap(phase=M.CANCELED), 0, 0)) == [("match_canceled", None, None)]


def test_wins_needed() -> None:
    assert [wins_needed(n) for n in (None, 0, 1, 3, 5)] == [None, None, 1, 2, 3]


_game = st.builds(
    GameSnap,
    number=st.integers(1, 3),
    phase=st.sampled_from(list(GamePhase)),
    winner=st.sampled_from([None, "a", "b"]),
    kills_a=st.integers(0, 30),
    kills_b=st.integers(0, 30),
)
_snap = st.builds(
    MatchSnap,
    phase=st.sampled_from(list(MatchPhase)),
    games=st.lists(_game, max_size=3, unique_by=lambda g: g.number).map(tuple),
    winner=st.sampled_from([None, "a", "b"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_snap, min_size=1, max_size=8))
def test_seq_strictly_increases_and_repeats_are_silent(snaps: list[MatchSnap]) -> None:
    t = MatchTracker(REF)
    seqs: list[int] = []
    for snap in snaps:
        seqs += [e.seq for e in t.update(snap, 0, 0)]
        assert t.update(snap, 0, 0) == []
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
