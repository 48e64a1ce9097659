"""Acceptance: every shipped scenario, every adapter, over loopback, under virtual time.

* each adapter yields the normalized event sequence the scenario implies for it;
* the truth engine reaches FINAL with the right winner, and only once a second primary
  source has confirmed the result;
* the wrong-winner scenario never finalizes the wrong team, nor anything while disputed;
* rate limits hold (requests counted per window of virtual time);
* an outage raises STALE within the configured time.
"""

from __future__ import annotations

from typing import Any

import pytest

from polyloly.domain.events import (
    FeedState,
    FeedStatus,
    MatchEvent,
    MatchEventKind,
    TruthAlert,
    TruthFinal,
)
from polyloly.domain.markets import normalize_team
from polyloly.runtime.clock import NS_PER_MS
from polyloly.sim.scenarios import Scenario, available_scenarios, load_scenario
from polyloly.sim.scenarios.model import StepKind

K = MatchEventKind
NO_PAUSE_SIGNAL = {"opendota", "liquipedia"}
RESULTS_ONLY = {"liquipedia"}


def expected_sequence(
    scenario: Scenario, provider: str
) -> list[tuple[str, int | None, str | None]]:
    """What ``provider`` should report, as (kind, game, winner), kills/objectives aside."""
    out: list[tuple[str, int | None, str | None]] = []
    if provider != "opendota":
        out.append((K.MATCH_SCHEDULED.value, None, None))
    need = scenario.wins_needed
    winners: dict[int, str] = {}
    started = False

    def team(side: str) -> str:
        return normalize_team(scenario.team(side).name)

    def start_match() -> None:
        nonlocal started
        if not started:
            out.append((K.MATCH_STARTED.value, None, None))
            started = True

    for step in scenario.timeline(provider):
        if step.kind is StepKind.GAME_START and provider not in RESULTS_ONLY:
            start_match()
            out.append((K.GAME_STARTED.value, step.game, None))
        elif step.kind in (StepKind.PAUSE, StepKind.RESUME) and provider not in NO_PAUSE_SIGNAL:
            kind = K.PAUSED if step.kind is StepKind.PAUSE else K.RESUMED
            out.append((kind.value, step.game, None))
        elif step.kind in (StepKind.GAME_END, StepKind.CORRECTION):
            start_match()
            winners[step.game] = step.team or ""
            out.append((K.GAME_ENDED.value, step.game, team(step.team or "a")))
            score = {s: sum(1 for w in winners.values() if w == s) for s in ("a", "b")}
            decided = [s for s in ("a", "b") if score[s] >= need]
            if decided:
                out.append((K.MATCH_ENDED.value, None, team(decided[0])))
    return out


def observed(run: Any, provider: str) -> list[tuple[str, int | None, str | None]]:
    return [
        (e.kind.value, e.game_number, e.winner)
        for e in run.match_events(provider)
        if e.kind not in (K.KILL, K.OBJECTIVE)
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", available_scenarios())
async def test_each_adapter_yields_the_scenario_sequence_and_truth_confirms(
    play: Any, name: str
) -> None:
    run = await play(name)
    scenario = run.scenario
    for provider in scenario.providers:
        assert observed(run, provider) == expected_sequence(scenario, provider), provider
        events = run.match_events(provider)
        assert all(e.match_id == scenario.match_id for e in events)
        assert {e.team_a for e in events} == {normalize_team(scenario.team_a.name)}
        assert {e.team_b for e in events} == {normalize_team(scenario.team_b.name)}
        seqs = [e.seq for e in events]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
        assert run.feeds[provider].core.stats.malformed == 0
    truth = scenario.state(None, scenario.end_ms)
    finals = run.of(TruthFinal)
    assert len(finals) == 1
    final = finals[0]
    assert final.winner == normalize_team(scenario.team(truth.winner).name)
    assert (final.score_a, final.score_b) == (truth.score_a, truth.score_b)
    # Only after confirmation: two primary sources had reported the decisive result.
    decisive = {
        e.source
        for e in run.of(MatchEvent)
        if e.ts_init <= final.ts_init
        and e.winner == final.winner
        and not e.detail.get("confirm_only")
        and (
            e.kind is K.MATCH_ENDED
            or (e.kind is K.GAME_ENDED and e.game_number == len(truth.games))
        )
    }
    assert len(decisive) >= 2, decisive


@pytest.mark.asyncio
async def test_kills_and_objectives_are_reported_with_totals(play: Any) -> None:
    run = await play("lol_bo3_pause", ["grid", "pandascore"])
    for provider in ("grid", "pandascore"):
        kills = [e for e in run.match_events(provider) if e.kind is K.KILL]
        by_game: dict[int, dict[str, int]] = {}
        for e in kills:
            by_game[e.game_number or 0] = {"a": e.detail["kills_a"], "b": e.detail["kills_b"]}
        assert by_game[1] == {"a": 4, "b": 2}
        assert by_game[2] == {"a": 0, "b": 2}
        towers = [
            e
            for e in run.match_events(provider)
            if e.kind is K.OBJECTIVE and e.detail["objective"] in ("towers", "tower")
        ]
        assert towers
        assert towers[0].detail["team"] == "t1"


@pytest.mark.asyncio
async def test_wrong_winner_never_finalizes_the_wrong_team(play: Any) -> None:
    run = await play("lol_bo3_wrong_winner", ticks=True)
    wrong = normalize_team("G2 Esports")
    right = normalize_team("Fnatic")
    assert all(f.winner != wrong for f in run.of(TruthFinal))
    grid = run.match_events("grid")
    wrong_report = next(e for e in grid if e.kind is K.MATCH_ENDED and e.winner == wrong)
    correction = next(e for e in grid if e.kind is K.MATCH_ENDED and e.winner == right)
    assert correction.detail["correction"] is True
    assert correction.detail["previous_winner"] == wrong
    finals = run.of(TruthFinal)
    assert [f.winner for f in finals] == [right]
    # No FINAL at all while the sources disagreed (timer ticks ran all along).
    assert finals[0].ts_init >= correction.ts_init > wrong_report.ts_init
    alerts = run.of(TruthAlert)
    assert any(a.blocked and "disputed" in a.reason for a in alerts)


@pytest.mark.asyncio
async def test_late_source_confirms_only_when_it_arrives(play: Any) -> None:
    run = await play("lol_bo1_late_source", ["grid", "pandascore"])
    final = run.of(TruthFinal)[0]
    late = next(e for e in run.match_events("pandascore") if e.kind is K.GAME_ENDED)
    fast = next(e for e in run.match_events("grid") if e.kind is K.GAME_ENDED)
    assert run.t_s(late) - run.t_s(fast) >= 239
    assert final.ts_init == late.ts_init


@pytest.mark.asyncio
async def test_rate_limits_hold_per_window_of_virtual_time(play: Any) -> None:
    overrides = {
        "lolesports": {"rate_limit_requests": 2, "rate_limit_window_ms": 10_000},
        "grid": {"rate_limit_requests": 3, "rate_limit_window_ms": 60_000},
    }
    run = await play(
        "lol_bo3_pause", ["lolesports", "grid", "liquipedia"], overrides=overrides, until_s=1200
    )
    limits = {"lolesports": (2, 10_000), "grid": (3, 60_000), "liquipedia": (1, 2_000)}
    for provider, (count, window_ms) in limits.items():
        stats = run.feeds[provider].core.stats
        times = list(stats.request_times_ns)
        assert len(times) > count
        for i in range(len(times) - count):
            assert times[i + count] - times[i] >= window_ms * NS_PER_MS, provider
        assert run.server_requests[provider] == stats.requests
    # Throttled, yet lolesports still saw the first game's result.
    assert any(e.kind is K.GAME_ENDED for e in run.match_events("lolesports"))


@pytest.mark.asyncio
async def test_outage_raises_staleness_within_configured_time(play: Any) -> None:
    run = await play("lol_bo3_outage", ["pandascore", "grid"])
    scenario = load_scenario("lol_bo3_outage")
    for provider in ("pandascore", "grid"):
        outage = scenario.providers[provider].outages[0]
        cfg = run.settings[provider]
        bound_ms = outage.from_ms + cfg["stale_after_ms"] + 2 * cfg["poll_interval_ms"]
        statuses = [s for s in run.of(FeedStatus) if s.source == provider]
        stale = [s for s in statuses if s.state is FeedState.STALE]
        assert stale, provider
        first = stale[0]
        assert outage.from_ms <= run.runtime.t_ms(first.ts_init) <= bound_ms, provider
        recovered = [s for s in statuses if s.state is FeedState.OK and s.ts_init > first.ts_init]
        assert recovered
        assert run.runtime.t_ms(recovered[0].ts_init) >= outage.to_ms
    pandascore = [s for s in run.of(FeedStatus) if s.source == "pandascore"]
    assert any(s.state is FeedState.DOWN for s in pandascore)  # HTTP 503 after retries


@pytest.mark.asyncio
async def test_pandascore_events_socket_recovers_without_double_counting(play: Any) -> None:
    run = await play(
        "lol_bo3_outage", ["pandascore"], overrides={"pandascore": {"live_events": True}}
    )
    scenario = run.scenario
    pushed = [e for e in run.match_events("pandascore") if e.kind in (K.KILL, K.OBJECTIVE)]
    assert pushed
    assert all(e.detail["feed"] == "events" for e in pushed)
    totals: dict[tuple[int, str, str], int] = {}
    for e in pushed:
        key = (e.game_number or 0, e.detail.get("objective", "kills"), e.detail["team"])
        totals[key] = totals.get(key, 0) + e.detail["delta"]
    expected: dict[tuple[int, str, str], int] = {}
    for step in scenario.steps:
        if step.kind in (StepKind.KILL, StepKind.OBJECTIVE):
            name = step.objective or "kills"
            key = (step.game, name, normalize_team(scenario.team(step.team or "a").name))
            expected[key] = expected.get(key, 0) + step.count
    assert totals == expected  # the kills pushed during the outage came back via recover, once
    assert run.feeds["pandascore"].core.stats.reconnects >= 1
