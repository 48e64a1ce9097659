"""Properties of the truth engine over random provider report streams (hypothesis)."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.domain.test_truth_engine import SECOND, Feed

from polyloly.domain.events import (
    Event,
    MatchEvent,
    MatchEventKind,
    TimerTick,
    TruthFinal,
)
from polyloly.domain.markets import normalize_team
from polyloly.domain.truth_engine import MatchView, TruthEngine
from polyloly.domain.truth_table import TruthParams

K = MatchEventKind
SOURCES = ["grid", "pandascore", "opendota", "liquipedia", "lolesports"]
RESULTS = (K.GAME_ENDED, K.MATCH_ENDED)
PARAMS = TruthParams()


@st.composite
def streams(draw: st.DrawFn, winners: tuple[str, ...] = ("T1", "Gen.G")) -> list[Event]:
    """Random reports about two matches from five sources, with timer ticks in between.

    Results name the match's "true" winner most of the time (so FINALs do happen) and the
    other team sometimes (so disputes and corrections happen too).
    """
    truth = {m: draw(st.sampled_from(winners)) for m in ("m1", "m2")}
    kinds = [*K, *RESULTS, *RESULTS, *RESULTS]
    events: list[Event] = []
    t = 0
    for _ in range(draw(st.integers(1, 45))):
        t += draw(st.integers(0, 6 * SECOND))
        if draw(st.integers(0, 4)) == 0:
            events.append(TimerTick(ts_event=t, ts_init=t))
            continue
        match_id = draw(st.sampled_from(["m1", "m2"]))
        kind = draw(st.sampled_from(kinds))
        honest = draw(st.integers(0, 9)) < 8
        winner = None
        if kind in RESULTS:
            winner = truth[match_id] if honest else draw(st.sampled_from(winners))
        swap = draw(st.booleans())
        events.append(
            MatchEvent(
                ts_event=t - draw(st.integers(0, SECOND)),
                ts_init=t,
                source=draw(st.sampled_from(SOURCES)),
                match_id=match_id,
                provider_match_id="p",
                kind=kind,
                team_a="Gen.G" if swap else "T1",
                team_b="T1" if swap else "Gen.G",
                best_of=draw(st.sampled_from([None, 1, 3, 5])),
                game_number=draw(st.none() | st.integers(1, 5)),
                winner=winner,
                seq=draw(st.none() | st.integers(0, 15)),
            )
        )
    return events


def views(engine: TruthEngine) -> dict[str, MatchView]:
    out: dict[str, MatchView] = {}
    for match_id in engine.match_ids():
        v = engine.view(match_id)
        assert v is not None
        out[match_id] = v
    return out


@settings(max_examples=300, deadline=None)
@given(streams())
def test_same_events_same_outputs(events: list[Event]) -> None:
    a, b = TruthEngine(), TruthEngine()
    out_a = [msgspec.json.encode(o) for e in events for o in a.apply(e)]
    out_b = [msgspec.json.encode(o) for e in events for o in b.apply(e)]
    assert out_a == out_b
    assert a.ignored_counts == b.ignored_counts


@settings(max_examples=300, deadline=None)
@given(streams())
def test_final_only_with_confirmation_or_timeout(events: list[Event]) -> None:
    engine = TruthEngine(PARAMS)
    reported: dict[str, set[str]] = {"m1": set(), "m2": set()}
    final_seen: dict[str, TruthFinal] = {}
    for e in events:
        before = views(engine)
        if isinstance(e, MatchEvent) and e.kind in RESULTS and e.winner:
            reported[e.match_id].add(normalize_team(e.winner))
        for out in engine.apply(e):
            if not isinstance(out, TruthFinal):
                continue
            first = final_seen.get(out.match_id)
            if first is not None:
                # A second FINAL only confirms one the timeout declared: same winner, now
                # confirmed by a second source.
                assert first.timed_out, "FINAL twice for a confirmed match"
                assert not out.timed_out
                assert out.winner == first.winner
                assert isinstance(e, MatchEvent)
            final_seen[out.match_id] = out
            after = engine.view(out.match_id)
            assert after is not None
            assert not after.blocked  # never FINAL while contradicted
            assert out.winner in reported[out.match_id]  # FINAL's winner was reported
            if first is not None:
                assert out.confidence >= PARAMS.final_confidence
                assert len(out.sources) >= 2
            elif isinstance(e, TimerTick):
                prior = before[out.match_id]
                assert not prior.blocked
                assert prior.pending_since_ns is not None
                assert e.ts_init - prior.pending_since_ns >= PARAMS.final_timeout_ns
                assert out.winner == prior.winner
            else:
                assert out.confidence >= PARAMS.final_confidence
                assert len(out.sources) >= 2  # one source alone never confirms


@settings(max_examples=200, deadline=None)
@given(streams(winners=("T1",)))
def test_unanimous_reports_final_winner_is_the_reported_one(events: list[Event]) -> None:
    engine = TruthEngine(PARAMS)
    for e in events:
        for out in engine.apply(e):
            if isinstance(out, TruthFinal):
                assert out.winner == "t1"


@st.composite
def disputed_reports(draw: st.DrawFn) -> tuple[dict[str, str], list[Event]]:
    """Each source always names the same match winner; at least two sources disagree."""
    names = draw(st.lists(st.sampled_from(SOURCES), min_size=2, max_size=5, unique=True))
    opinion = {s: draw(st.sampled_from(["T1", "Gen.G"])) for s in names}
    opinion[names[0]], opinion[names[1]] = "T1", "Gen.G"
    order = draw(st.permutations(names)) + draw(st.lists(st.sampled_from(names), max_size=10))
    feed = Feed(best_of=None)
    events: list[Event] = []
    for source in order:
        events.append(feed.report(source, K.MATCH_ENDED, winner=opinion[source]))
        gaps = draw(st.lists(st.integers(0, 12 * SECOND), max_size=3))
        events.extend(feed.tick(at=feed.now + gap) for gap in gaps)
    return opinion, events


@settings(max_examples=200, deadline=None)
@given(disputed_reports())
def test_no_final_once_sources_contradict(case: tuple[dict[str, str], list[Event]]) -> None:
    _, events = case
    engine = TruthEngine(PARAMS)
    seen: set[str] = set()
    for e in events:
        if isinstance(e, MatchEvent) and e.winner:
            seen.add(e.winner)
        out = engine.apply(e)
        if len(seen) > 1:
            assert not [o for o in out if isinstance(o, TruthFinal)]
    view = engine.view("m1")
    assert view is not None
    assert view.blocked
