"""Truth engine: the transition table, confidence, duplicates, order, contradictions.

The :class:`Feed` builder at the top is also used by ``test_truth_engine_properties.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from polyloly.domain.events import (
    Event,
    MatchEvent,
    MatchEventKind,
    OperatorCommand,
    TimerTick,
    TruthAlert,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.events import MatchEventKind as K
from polyloly.domain.events import TruthState as S
from polyloly.domain.markets import TeamAliases
from polyloly.domain.truth_engine import GameState, MatchView, TruthEngine, TruthStep
from polyloly.domain.truth_table import TRANSITIONS, Action, TruthParams, combined_confidence

SECOND = 1_000_000_000


@dataclass
class Feed:
    """Makes reports for one match with a shared, advancing clock (1 s per report)."""

    match_id: str = "m1"
    team_a: str = "T1"
    team_b: str = "Gen.G"
    best_of: int | None = 3
    now: int = 0
    step_ns: int = SECOND
    seqs: dict[str, int] = field(default_factory=dict)

    def report(
        self,
        source: str,
        kind: MatchEventKind,
        *,
        game: int | None = None,
        winner: str | None = None,
        seq: int | None = None,
        auto_seq: bool = True,
        swap: bool = False,
        score: tuple[int, int] | None = None,
        at: int | None = None,
    ) -> MatchEvent:
        self.now = at if at is not None else self.now + self.step_ns
        if seq is None and auto_seq:
            seq = self.seqs.get(source, 0) + 1
        if seq is not None:
            self.seqs[source] = max(seq, self.seqs.get(source, 0))
        team_a, team_b = (self.team_b, self.team_a) if swap else (self.team_a, self.team_b)
        return MatchEvent(
            ts_event=self.now,
            ts_init=self.now,
            source=source,
            match_id=self.match_id,
            provider_match_id=f"{source}-{self.match_id}",
            kind=kind,
            team_a=team_a,
            team_b=team_b,
            best_of=self.best_of,
            game_number=game,
            winner=winner,
            score_a=score[0] if score else None,
            score_b=score[1] if score else None,
            seq=seq,
        )

    def tick(self, at: int | None = None) -> TimerTick:
        self.now = at if at is not None else self.now + self.step_ns
        return TimerTick(ts_event=self.now, ts_init=self.now)


def run(engine: TruthEngine, events: list[Event]) -> list[TruthStep]:
    """Apply every event; return each step."""
    return [engine.step(e) for e in events]


def outputs(engine: TruthEngine, events: list[Event]) -> list[Event]:
    """Apply every event; return all outputs in order."""
    return [o for s in run(engine, events) for o in s.outputs]


# =============================================================================================
# Tests
# =============================================================================================


def finals(events: list[Event]) -> list[TruthFinal]:
    return [e for e in events if isinstance(e, TruthFinal)]


def alerts(events: list[Event]) -> list[TruthAlert]:
    return [e for e in events if isinstance(e, TruthAlert)]


def deltas(events: list[Event]) -> list[TruthDelta]:
    return [e for e in events if isinstance(e, TruthDelta)]


def state(engine: TruthEngine, match_id: str = "m1") -> S:
    view = engine.view(match_id)
    assert view is not None
    return view.state


def view(engine: TruthEngine, match_id: str = "m1") -> MatchView:
    v = engine.view(match_id)
    assert v is not None
    return v


# -- confidence and params ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([], 0),
        ([9_000], 8_000),  # one source is capped at the pending confidence
        ([7_000], 7_000),
        ([9_000, 8_500], 9_850),  # 1 - 0.1 * 0.15
        ([7_000, 6_000], 8_800),  # 1 - 0.3 * 0.4
        ([5_000, 5_000], 7_500),
        ([9_000, 8_500, 7_000], 9_955),
        ([1, 1], 1),  # floored: 1 - 0.9999^2 = 0.00019999 -> 1 bp
    ],
)
def test_combined_confidence(weights: list[int], expected: int) -> None:
    assert combined_confidence(weights, 8_000) == expected
    assert combined_confidence(list(reversed(weights)), 8_000) == expected


def test_params_from_config_and_validation() -> None:
    p = TruthParams.from_config(
        source_weights={"grid": "0.9", "opendota": Decimal("0.7")},
        pending_confidence="0.80",
        final_confidence="0.90",
        final_timeout_s="2.5",
    )
    assert p.weight("grid") == 9_000
    assert p.weight("opendota") == 7_000
    assert p.weight("unknown") == 5_000
    assert p.final_timeout_ns == 2_500_000_000
    assert p.confirm_only == frozenset({"liquipedia", "polymarket_sports"})
    with pytest.raises(ValueError, match="basis point"):
        TruthParams.from_config(source_weights={"grid": "0.90001"})
    with pytest.raises(ValueError, match="one source alone"):
        TruthParams(pending_confidence=9_000, final_confidence=9_000)
    with pytest.raises(ValueError, match="weights"):
        TruthParams(source_weights={"x": 10_000})
    with pytest.raises(ValueError, match="timeout"):
        TruthParams(final_timeout_ns=-1)


# -- the seed's transitions ----------------------------------------------------------------------


def test_seed_transition_table() -> None:
    eng, f = TruthEngine(), Feed()
    out = eng.apply(f.report("grid", K.MATCH_STARTED))
    assert state(eng) is S.LIVE
    assert [d.change for d in deltas(out)] == ["match_started"]
    eng.apply(f.report("grid", K.PAUSED))
    assert state(eng) is S.PAUSED
    eng.apply(f.report("grid", K.RESUMED))
    assert state(eng) is S.LIVE
    out = eng.apply(f.report("grid", K.MATCH_ENDED, winner="T1", score=(2, 1)))
    assert state(eng) is S.POST_MATCH_PENDING
    ended = deltas(out)[-1]
    assert (ended.change, ended.state, ended.confidence) == (
        "match_ended",
        S.POST_MATCH_PENDING,
        8_000,
    )
    out = eng.apply(f.report("pandascore", K.MATCH_ENDED, winner="t1", score=(2, 1)))
    (final,) = finals(out)
    assert state(eng) is S.FINAL
    assert (final.winner, final.confidence, final.sources) == ("t1", 9_850, ("grid", "pandascore"))
    assert (final.score_a, final.score_b) == (2, 1)


def test_seed_timeout_finalizes_single_source_after_10s() -> None:
    eng, f = TruthEngine(), Feed()
    eng.apply(f.report("grid", K.MATCH_STARTED))
    ended_at = f.now + SECOND
    eng.apply(f.report("grid", K.MATCH_ENDED, winner="Gen.G", at=ended_at))
    assert view(eng).pending_since_ns == ended_at
    assert eng.apply(f.tick(at=ended_at + 10 * SECOND - 1)) == []
    assert state(eng) is S.POST_MATCH_PENDING
    (final,) = finals(eng.apply(f.tick(at=ended_at + 10 * SECOND)))
    assert (final.winner, final.confidence) == ("geng", 8_000)
    assert state(eng) is S.FINAL
    assert eng.apply(f.tick()) == []  # FINAL is emitted once


# -- every entry of the transition table ---------------------------------------------------------

_SETUP: dict[S, list[tuple[str, MatchEventKind, dict[str, object]]]] = {
    S.PRE_MATCH: [("grid", K.MATCH_SCHEDULED, {})],
    S.LIVE: [("grid", K.MATCH_STARTED, {}), ("grid", K.GAME_STARTED, {"game": 1})],
    S.PAUSED: [
        ("grid", K.MATCH_STARTED, {}),
        ("grid", K.GAME_STARTED, {"game": 1}),
        ("grid", K.PAUSED, {}),
    ],
    S.POST_MATCH_PENDING: [
        ("grid", K.MATCH_STARTED, {}),
        ("grid", K.GAME_STARTED, {"game": 1}),
        ("grid", K.MATCH_ENDED, {"winner": "T1"}),
    ],
    S.FINAL: [
        ("grid", K.MATCH_STARTED, {}),
        ("grid", K.MATCH_ENDED, {"winner": "T1"}),
        ("pandascore", K.MATCH_ENDED, {"winner": "T1"}),
    ],
}


@pytest.mark.parametrize(("start", "kind"), sorted(TRANSITIONS, key=str))
def test_every_table_entry(start: S, kind: MatchEventKind) -> None:
    eng, f = TruthEngine(), Feed()
    for source, k, kw in _SETUP[start]:
        eng.apply(f.report(source, k, **kw))  # type: ignore[arg-type]
    assert state(eng) is start
    game = 2 if kind is K.GAME_STARTED else 1
    step = eng.step(f.report("lolesports", kind, game=game, winner="T1"))
    rule = TRANSITIONS[(start, kind)]
    if isinstance(rule, str):
        assert step.ignored == rule
        assert step.outputs == []
        assert state(eng) is start
    else:
        action, target = rule
        assert step.ignored == ""
        if (start, kind) == (S.POST_MATCH_PENDING, K.MATCH_ENDED):
            target = S.FINAL  # the second source agreeing confirms the result
        assert state(eng) is (target or start)
        if action is Action.CANCEL:
            assert [a.blocked for a in alerts(step.outputs)] == [True]


def test_table_is_total() -> None:
    assert set(TRANSITIONS) == {(s, k) for s in S for k in K}


# -- games, best-of and score ---------------------------------------------------------------------


def test_bo3_two_nil_is_decided_without_match_ended() -> None:
    eng, f = TruthEngine(), Feed(best_of=3)
    events: list[Event] = [f.report("grid", K.MATCH_STARTED)]
    for game in (1, 2):
        events += [
            f.report("grid", K.GAME_STARTED, game=game),
            f.report("grid", K.GAME_ENDED, game=game, winner="T1"),
            f.report("pandascore", K.GAME_ENDED, game=game, winner="T1"),
        ]
    out = outputs(eng, events)
    results = [d for d in deltas(out) if d.change == "game_result"]
    assert [(d.game_number, d.game_winner, d.game_confidence) for d in results] == [
        (1, "t1", 8_000),
        (1, "t1", 9_850),
        (2, "t1", 8_000),
        (2, "t1", 9_850),
    ]
    assert "match_ended" in [d.change for d in deltas(out)]
    (final,) = finals(out)
    assert (final.winner, final.score_a, final.score_b, final.confidence) == ("t1", 2, 0, 9_850)
    v = view(eng)
    assert [(g.number, g.state, g.winner) for g in v.games] == [
        (1, GameState.ENDED, "t1"),
        (2, GameState.ENDED, "t1"),
    ]


def test_bo5_three_one() -> None:
    eng, f = TruthEngine(), Feed(best_of=5)
    winners = ["T1", "Gen.G", "T1", "T1"]
    events: list[Event] = []
    for n, w in enumerate(winners, start=1):
        events.append(f.report("grid", K.GAME_ENDED, game=n, winner=w))
        events.append(f.report("lolesports", K.GAME_ENDED, game=n, winner=w))
    out = outputs(eng, events)
    (final,) = finals(out)
    assert (final.winner, final.score_a, final.score_b) == ("t1", 3, 1)
    # Score after game 3 was 2-1 and not decided yet.
    after_g3 = [d for d in deltas(out) if d.game_number == 3][-1]
    assert (after_g3.score_a, after_g3.score_b, after_g3.state, after_g3.leader) == (
        2, 1, S.LIVE, "t1",
    )  # fmt: skip


def test_single_source_games_decide_then_timeout() -> None:
    eng, f = TruthEngine(), Feed(best_of=3)
    outputs(eng, [f.report("grid", K.GAME_ENDED, game=1, winner="T1")])
    out = eng.apply(f.report("grid", K.GAME_ENDED, game=2, winner="T1"))
    assert state(eng) is S.POST_MATCH_PENDING
    assert not finals(out)
    assert view(eng).confidence == 8_000
    (final,) = finals(eng.apply(f.tick(at=f.now + 10 * SECOND)))
    assert (final.winner, final.score_a, final.score_b) == ("t1", 2, 0)


def test_pause_and_resume_of_a_game() -> None:
    eng, f = TruthEngine(), Feed()
    outputs(eng, [f.report("grid", K.GAME_STARTED, game=1)])
    out = eng.apply(f.report("grid", K.PAUSED))
    assert [(d.change, d.game_number) for d in deltas(out)] == [("paused", 1)]
    assert view(eng).games[0].state is GameState.PAUSED
    eng.apply(f.report("grid", K.RESUMED))
    assert view(eng).games[0].state is GameState.LIVE
    # A game result while paused ends the pause (the resume report was missed).
    eng.apply(f.report("grid", K.PAUSED))
    eng.apply(f.report("grid", K.GAME_ENDED, winner="T1"))  # no number: the live game
    assert state(eng) is S.LIVE
    assert view(eng).games[0].state is GameState.ENDED


def test_game_ended_without_number_and_nothing_live_is_ignored() -> None:
    eng, f = TruthEngine(), Feed()
    eng.apply(f.report("grid", K.MATCH_STARTED))
    step = eng.step(f.report("grid", K.GAME_ENDED, winner="T1"))
    assert step.ignored.startswith("game_ended without a game number")


def test_game_started_without_number_is_the_next_game() -> None:
    eng, f = TruthEngine(), Feed()
    outputs(eng, [f.report("grid", K.GAME_STARTED), f.report("grid", K.GAME_STARTED)])
    assert [(g.number, g.state) for g in view(eng).games] == [
        (1, GameState.ENDED),
        (2, GameState.LIVE),
    ]
    assert (
        eng.step(f.report("pandascore", K.GAME_STARTED, game=1)).ignored == "game 1 already ended"
    )
    assert eng.step(f.report("pandascore", K.GAME_STARTED, game=2)).ignored == "game 2 already live"


# -- duplicates and order ------------------------------------------------------------------------


def test_duplicates_are_ignored() -> None:
    eng, f = TruthEngine(), Feed()
    first = f.report("grid", K.GAME_ENDED, game=1, winner="T1", seq=7)
    assert eng.step(first).outputs
    assert eng.step(first).ignored.startswith("duplicate report")
    again = f.report("grid", K.GAME_ENDED, game=1, winner="T1", seq=8)
    assert eng.step(again).ignored.startswith("duplicate claim")
    assert view(eng).games[0].confidence == 8_000
    assert eng.ignored_counts == {
        "duplicate report (same source, seq, kind and game)": 1,
        "duplicate claim (source already reported this winner)": 1,
    }


def test_same_seq_different_kind_is_not_a_duplicate() -> None:
    # GRID puts several events in one envelope with one sequence number.
    eng, f = TruthEngine(), Feed(best_of=1)
    eng.apply(f.report("grid", K.GAME_ENDED, game=1, winner="T1", seq=5))
    step = eng.step(f.report("grid", K.MATCH_ENDED, winner="T1", seq=5))
    assert step.ignored == ""


def test_stale_status_report_is_ignored() -> None:
    eng, f = TruthEngine(), Feed()
    eng.apply(f.report("grid", K.GAME_STARTED, game=1, seq=10))
    eng.apply(f.report("grid", K.PAUSED, seq=12))
    eng.apply(f.report("grid", K.RESUMED, seq=13))
    late_pause = f.report("grid", K.PAUSED, seq=11)
    assert eng.step(late_pause).ignored.startswith("stale report")
    assert state(eng) is S.LIVE
    # Without seq the provider's ts_event orders reports.
    f2 = Feed(match_id="m2")
    eng.apply(f2.report("opendota", K.MATCH_STARTED, auto_seq=False, at=100))
    eng.apply(f2.report("opendota", K.PAUSED, auto_seq=False, at=300))
    stale = f2.report("opendota", K.RESUMED, auto_seq=False, at=200)
    assert eng.step(stale).ignored.startswith("stale report")


def test_game_two_result_before_game_one() -> None:
    eng, f = TruthEngine(), Feed(best_of=3)
    eng.apply(f.report("grid", K.GAME_STARTED, game=1))
    eng.apply(f.report("grid", K.GAME_ENDED, game=2, winner="T1"))
    v = view(eng)
    assert [(g.number, g.state, g.winner) for g in v.games] == [
        (1, GameState.ENDED, None),  # must be over; its winner is not known yet
        (2, GameState.ENDED, "t1"),
    ]
    assert (v.score_a, v.score_b, v.state) == (1, 0, S.LIVE)
    eng.apply(f.report("grid", K.GAME_ENDED, game=1, winner="T1", seq=1))  # late, lower seq
    v = view(eng)
    assert (v.score_a, v.score_b, v.state) == (2, 0, S.POST_MATCH_PENDING)


def test_swapped_team_order_across_providers() -> None:
    eng, f = TruthEngine(), Feed(best_of=None)
    eng.apply(f.report("grid", K.MATCH_ENDED, winner="Gen.G", score=(1, 2)))
    out = eng.apply(f.report("pandascore", K.MATCH_ENDED, winner="Gen.G", swap=True, score=(2, 1)))
    (final,) = finals(out)
    assert (final.team_a, final.team_b, final.winner) == ("t1", "geng", "geng")
    assert (final.score_a, final.score_b) == (1, 2)


def test_swapped_scores_from_the_top_source_are_reoriented() -> None:
    eng, f = TruthEngine(), Feed(best_of=None)
    eng.apply(f.report("opendota", K.MATCH_ENDED, winner="Gen.G"))
    out = eng.apply(f.report("grid", K.MATCH_ENDED, winner="Gen.G", swap=True, score=(2, 0)))
    (final,) = finals(out)
    assert (final.score_a, final.score_b) == (0, 2)


@pytest.mark.parametrize(
    ("team_a", "team_b", "winner", "reason"),
    [
        ("T1", "DRX", "T1", "teams do not match"),
        ("T1", "T1", "T1", "two different teams"),
        ("T1", "Gen.G", "DRX", "result without a winner"),
        ("T1", "Gen.G", None, "result without a winner"),
    ],
)
def test_bad_reports_are_ignored(team_a: str, team_b: str, winner: str | None, reason: str) -> None:
    eng, f = TruthEngine(), Feed()
    eng.apply(f.report("grid", K.MATCH_STARTED))
    f.team_a, f.team_b = team_a, team_b
    step = eng.step(f.report("pandascore", K.MATCH_ENDED, winner=winner))
    assert reason in step.ignored
    assert state(eng) is S.LIVE


def test_aliases_unify_provider_names() -> None:
    eng = TruthEngine(aliases=TeamAliases({"T1": ["SK Telecom T1"], "Gen.G": ["GEN"]}))
    f = Feed(best_of=None)
    eng.apply(f.report("grid", K.MATCH_ENDED, winner="T1"))
    f.team_a, f.team_b = "SK Telecom T1", "GEN"
    (final,) = finals(eng.apply(f.report("pandascore", K.MATCH_ENDED, winner="SK Telecom T1")))
    assert final.winner == "t1"


# -- contradictions -------------------------------------------------------------------------------


def test_contradicting_match_winners_block_final_until_corrected() -> None:
    eng, f = TruthEngine(), Feed(best_of=None)
    eng.apply(f.report("grid", K.MATCH_ENDED, winner="T1"))
    out = eng.apply(f.report("pandascore", K.MATCH_ENDED, winner="Gen.G", seq=5))
    (alert,) = alerts(out)
    assert alert.blocked
    assert alert.reason == "match winner disputed: grid=t1, pandascore=geng"
    assert view(eng).blocked
    assert view(eng).winner is None
    assert state(eng) is S.POST_MATCH_PENDING
    for _ in range(30):
        assert not finals(eng.apply(f.tick()))
    # An older report from the dissenting source cannot resolve it.
    old = eng.step(f.report("pandascore", K.MATCH_ENDED, winner="T1", seq=4))
    assert old.ignored.startswith("superseded")
    # A correction (higher seq) resolves it, and two agreeing sources confirm at once.
    out = eng.apply(f.report("pandascore", K.MATCH_ENDED, winner="T1", seq=6))
    assert [a.blocked for a in alerts(out)] == [False]
    (final,) = finals(out)
    assert (final.winner, final.confidence) == ("t1", 9_850)


def test_after_a_dispute_final_needs_fresh_confirmation() -> None:
    params = TruthParams(source_weights={"a": 5_000, "b": 5_000})  # two agree: 0.75 < 0.90
    eng, f = TruthEngine(params), Feed(best_of=None)
    eng.apply(f.report("a", K.MATCH_ENDED, winner="T1", at=0))
    eng.apply(f.report("b", K.MATCH_ENDED, winner="Gen.G", at=5 * SECOND))
    assert not finals(eng.apply(f.tick(at=15 * SECOND)))  # timeout blocked by the dispute
    out = eng.apply(f.report("b", K.MATCH_ENDED, winner="T1", at=20 * SECOND))
    assert not finals(out)
    assert view(eng).confidence == 7_500
    assert view(eng).pending_since_ns == 20 * SECOND
    assert not finals(eng.apply(f.tick(at=29 * SECOND)))
    (final,) = finals(eng.apply(f.tick(at=30 * SECOND)))
    assert final.winner == "t1"


def test_disputed_game_blocks_match_final() -> None:
    eng, f = TruthEngine(), Feed(best_of=3)
    eng.apply(f.report("grid", K.GAME_ENDED, game=1, winner="T1"))
    out = eng.apply(f.report("pandascore", K.GAME_ENDED, game=1, winner="Gen.G"))
    assert [(a.blocked, a.reason) for a in alerts(out)] == [
        (True, "game 1 winner disputed: grid=t1, pandascore=geng")
    ]
    (delta,) = [d for d in deltas(out) if d.change == "game_result"]
    assert (delta.game_winner, delta.game_confidence) == (None, 0)
    out = outputs(
        eng,
        [
            f.report("grid", K.MATCH_ENDED, winner="T1"),
            f.report("pandascore", K.MATCH_ENDED, winner="T1"),
            f.tick(at=f.now + 60 * SECOND),
        ],
    )
    assert not finals(out)
    assert view(eng).blocked


def test_game_results_contradicting_the_match_result() -> None:
    eng, f = TruthEngine(), Feed(best_of=3)
    for n in (1, 2):
        eng.apply(f.report("grid", K.GAME_ENDED, game=n, winner="T1"))
        eng.apply(f.report("pandascore", K.GAME_ENDED, game=n, winner="T1"))
    eng2, f2 = TruthEngine(), Feed(best_of=3)
    eng2.apply(f2.report("opendota", K.MATCH_ENDED, winner="Gen.G"))
    out = outputs(
        eng2,
        [
            f2.report("grid", K.GAME_ENDED, game=1, winner="T1"),
            f2.report("pandascore", K.GAME_ENDED, game=1, winner="T1"),
            f2.report("grid", K.GAME_ENDED, game=2, winner="T1"),
            f2.report("pandascore", K.GAME_ENDED, game=2, winner="T1"),
        ],
    )
    assert any(a.blocked and a.reason.startswith("match winner disputed") for a in alerts(out))
    assert not finals(out)
    assert state(eng) is S.FINAL  # the undisputed twin finalized


def test_correction_withdraws_a_decision() -> None:
    eng, f = TruthEngine(), Feed(best_of=3)
    eng.apply(f.report("grid", K.GAME_ENDED, game=1, winner="T1"))
    eng.apply(f.report("grid", K.GAME_ENDED, game=2, winner="T1"))
    assert state(eng) is S.POST_MATCH_PENDING
    out = eng.apply(f.report("grid", K.GAME_ENDED, game=2, winner="Gen.G"))
    assert deltas(out)[-1].change == "decision_withdrawn"
    v = view(eng)
    assert (v.state, v.score_a, v.score_b, v.winner, v.pending_since_ns) == (
        S.LIVE,
        1,
        1,
        None,
        None,
    )
    assert not finals(eng.apply(f.tick(at=f.now + 60 * SECOND)))


def test_report_contradicting_final_raises_alert() -> None:
    eng, f = TruthEngine(), Feed(best_of=None)
    outputs(
        eng,
        [
            f.report("grid", K.MATCH_ENDED, winner="T1"),
            f.report("pandascore", K.MATCH_ENDED, winner="T1"),
        ],
    )
    assert state(eng) is S.FINAL
    assert eng.apply(f.report("lolesports", K.MATCH_ENDED, winner="T1")) == []
    (alert,) = alerts(eng.apply(f.report("opendota", K.MATCH_ENDED, winner="Gen.G")))
    assert alert.blocked
    assert alert.reason.startswith("opendota contradicts the FINAL result (t1)")
    assert state(eng) is S.FINAL


def test_cancel_blocks_everything() -> None:
    eng, f = TruthEngine(), Feed(best_of=None)
    eng.apply(f.report("grid", K.MATCH_ENDED, winner="T1"))
    (alert,) = alerts(eng.apply(f.report("pandascore", K.MATCH_CANCELED)))
    assert alert.blocked
    assert "canceled" in alert.reason
    assert eng.step(f.report("grid", K.MATCH_CANCELED)).ignored == "match already canceled"
    out = outputs(
        eng, [f.report("opendota", K.MATCH_ENDED, winner="T1"), f.tick(at=f.now + 60 * SECOND)]
    )
    assert not finals(out)
    assert view(eng).canceled


# -- sources -------------------------------------------------------------------------------------


def test_confirm_only_source_never_establishes_a_result() -> None:
    eng, f = TruthEngine(), Feed(best_of=None)
    eng.apply(f.report("grid", K.MATCH_STARTED))
    out = eng.apply(f.report("liquipedia", K.MATCH_ENDED, winner="T1"))
    assert out == []
    assert state(eng) is S.LIVE
    assert not finals(eng.apply(f.tick(at=f.now + 60 * SECOND)))
    # ...but it confirms: grid + liquipedia = 1 - 0.1 * 0.4.
    (final,) = finals(eng.apply(f.report("grid", K.MATCH_ENDED, winner="T1")))
    assert (final.confidence, final.sources) == (9_600, ("grid", "liquipedia"))


def test_weak_pair_needs_timeout() -> None:
    eng, f = TruthEngine(), Feed(best_of=None)
    eng.apply(f.report("opendota", K.MATCH_ENDED, winner="T1"))
    out = eng.apply(f.report("liquipedia", K.MATCH_ENDED, winner="T1"))  # 1-0.3*0.4 = 0.88
    assert not finals(out)
    assert view(eng).confidence == 8_800
    (final,) = finals(eng.apply(f.tick(at=f.now + 10 * SECOND)))
    assert final.confidence == 8_800


def test_views_ticks_and_other_events() -> None:
    eng, f = TruthEngine(), Feed()
    assert eng.view("m1") is None
    assert eng.apply(f.tick()) == []
    assert eng.apply(TimerTick(ts_event=1, ts_init=1)) == []
    assert eng.apply(OperatorCommand(ts_event=1, ts_init=1, command="halt")) == []
    eng.apply(f.report("grid", K.MATCH_SCHEDULED))
    assert eng.match_ids() == ["m1"]
    assert view(eng).best_of == 3
    eng.forget("m1")
    assert eng.view("m1") is None


def test_state_changes_caused_by_results_are_named() -> None:
    eng, f = TruthEngine(), Feed()
    out = eng.apply(f.report("grid", K.GAME_ENDED, game=1, winner="T1"))
    assert [d.change for d in deltas(out)] == ["game_result", "match_started"]
    eng.apply(f.report("grid", K.PAUSED))
    out = eng.apply(f.report("grid", K.GAME_ENDED, game=2, winner="Gen.G"))
    assert [d.change for d in deltas(out)] == ["game_result", "resumed"]
    assert state(eng) is S.LIVE
