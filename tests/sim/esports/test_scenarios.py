"""Scenario files, the timeline fold, provider views and the fair value."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.money import ONE
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.sim.esports import ScenarioFairValue, ScenarioRuntime
from polyloly.sim.scenarios import ScenarioError, available_scenarios, load_scenario, parse_scenario
from polyloly.sim.scenarios.model import StepKind, game_probability, series_probability


def test_shipped_scenarios_cover_the_brief() -> None:
    names = available_scenarios()
    assert {
        "lol_bo3_pause",
        "dota2_bo3_2_0",
        "lol_bo1_late_source",
        "lol_bo3_wrong_winner",
        "lol_bo3_outage",
    } <= set(names)
    pause = load_scenario("lol_bo3_pause")
    assert pause.game == "lol"
    assert pause.best_of == 3
    assert any(s.kind is StepKind.PAUSE for s in pause.steps)
    dota = load_scenario("dota2_bo3_2_0")
    end = dota.state(None, dota.end_ms)
    assert (dota.game, end.winner, end.score_a, end.score_b) == ("dota2", "a", 2, 0)
    late = load_scenario("lol_bo1_late_source")
    assert max(p.delay_ms for p in late.providers.values()) >= 240_000
    wrong = load_scenario("lol_bo3_wrong_winner")
    assert any(p.wrong for p in wrong.providers.values())
    outage = load_scenario("lol_bo3_outage")
    assert {o.mode for p in outage.providers.values() for o in p.outages} == {"error", "frozen"}


def test_fold_tracks_pause_clock_and_kills() -> None:
    s = load_scenario("lol_bo3_pause")
    at_pause = s.state(None, 360_000)
    g1 = at_pause.current
    assert g1 is not None
    assert g1.paused
    assert at_pause.status == "running"
    assert g1.clock_ms(360_000) == 240_000  # 60 s start, paused since 300 s
    after = s.state(None, 780_000)
    g1 = after.games[0]
    assert (g1.winner, g1.kills_a, g1.kills_b, g1.paused_total_ms) == ("a", 4, 2, 120_000)
    assert g1.clock_ms(900_000) == 600_000  # stops at the end
    assert g1.objective("a", "towers") == 1


def test_provider_timeline_applies_delay_and_correction() -> None:
    s = load_scenario("lol_bo3_wrong_winner")
    grid = [x for x in s.timeline("grid") if x.kind in (StepKind.GAME_END, StepKind.CORRECTION)]
    assert [(x.at_ms, x.kind, x.game, x.team) for x in grid] == [
        (701_000, StepKind.GAME_END, 1, "a"),
        (1_701_000, StepKind.GAME_END, 2, "b"),
        (2_701_000, StepKind.GAME_END, 3, "b"),
        (2_791_000, StepKind.CORRECTION, 3, "a"),
    ]
    assert s.state("grid", 2_750_000).winner == "b"
    assert s.state("grid", 2_800_000).winner == "a"
    assert s.state(None, 2_750_000).winner == "a"


def test_frozen_outage_stops_the_view() -> None:
    s = load_scenario("lol_bo3_outage")
    frozen = s.state("grid", 1_650_000)
    assert frozen.t_ms == 1_400_000
    assert s.outage("grid", 1_650_000) is not None
    assert s.outage("pandascore", 500_000).mode == "error"  # type: ignore[union-attr]


def test_fair_value_moves_with_the_game_and_lags() -> None:
    s = load_scenario("lol_bo3_pause")
    p = s.map_win_prob_a
    assert s.fair_value(0) == series_probability(p, 2, 2)
    assert s.fair_value(0, game_number=1) == p
    # Game 1 ends at 780 s; the market lags 30 s.
    before = s.fair_value(790_000)
    after = s.fair_value(811_000)
    assert before is not None
    assert after is not None
    assert after > before
    assert s.fair_value(811_000, game_number=1) == ONE
    assert s.fair_value(s.end_ms) == ONE
    assert s.fair_value(s.end_ms, game_number=2) == 0


@settings(max_examples=100, deadline=None)
@given(st.integers(20_000, 980_000), st.integers(0, 3), st.integers(0, 3))
def test_series_probability_is_a_probability_and_monotone(p: int, na: int, nb: int) -> None:
    value = series_probability(p, na, nb)
    assert 0 <= value <= ONE
    if na > 0 and nb > 0:
        assert series_probability(p, na - 1, nb) >= value >= series_probability(p, na, nb - 1)
    assert 0 < game_probability(p, na * 10, nb * 10, 10_000) < ONE


def test_runtime_speed_and_fair_value_source() -> None:
    clock = VirtualClock(1_000 * NS_PER_S)
    s = load_scenario("dota2_bo3_2_0")
    rt = ScenarioRuntime(s, clock, speed=10)
    assert rt.t_ms() == 0
    clock.advance_ns(100 * NS_PER_S)
    assert rt.t_ms() == 1_000_000
    assert rt.wall_ns(1_000_000) == clock.now_ns()
    source = ScenarioFairValue([rt], {"0xmatch": (s.match_id, None)})
    source.bind("0xgame2", s.match_id, 2)
    assert source.fair_value("0xmatch", clock.now_ns()) == s.fair_value(1_000_000)
    assert source.fair_value("0xgame2", clock.now_ns()) == s.map_win_prob_a
    assert source.fair_value("0xunknown", clock.now_ns()) is None
    with pytest.raises(ValueError, match="speed"):
        ScenarioRuntime(s, clock, speed=0)


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"game": "cs2"}, "game"),
        ({"timeline": [{"at_s": 5, "do": "kill", "team": "a"}]}, "before the first game_start"),
        ({"timeline": [{"at_s": 5, "do": "explode"}]}, "unknown step"),
        ({"timeline": [{"at_s": 9, "do": "game_start"}, {"at_s": 5, "do": "pause"}]}, "time order"),
        (
            {
                "timeline": [
                    {"at_s": 1, "do": "game_start"},
                    {"at_s": 2, "do": "game_end", "winner": "c"},
                ]
            },
            "team",
        ),
        ({"providers": {"grid": {"delay_s": 1}}}, "id is required"),
        ({"providers": {"grid": {"id": 1, "outages": [{"from_s": 5, "to_s": 1}]}}}, "outages"),
        ({"market": {"map_win_prob_a": "1.5"}}, "map_win_prob_a"),
    ],
)
def test_bad_scenarios_name_the_key(patch: dict, needle: str) -> None:
    raw = {
        "name": "x", "game": "lol", "match_id": "m", "best_of": 1,
        "teams": {"a": {"name": "A"}, "b": {"name": "B"}},
        "timeline": [{"at_s": 1, "do": "game_start"}, {"at_s": 2, "do": "game_end", "winner": "a"}],
    }  # fmt: skip
    with pytest.raises(ScenarioError, match=needle):
        parse_scenario({**raw, **patch})


def test_load_by_path_and_unknown_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\ngame: dota2\nmatch_id: m\nbest_of: 1\n"
        "teams: {a: {name: A}, b: {name: B}}\n"
        "timeline: [{at_s: 1, do: game_start}, {at_s: 60, do: game_end, winner: b}]\n"
    )
    assert load_scenario(path).state(None, 61_000).winner == "b"
    with pytest.raises(ScenarioError, match="unknown scenario"):
        load_scenario("no_such_scenario")
