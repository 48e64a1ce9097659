"""Provider ids and team names resolve onto one canonical match."""

from __future__ import annotations

from polyloly.adapters.esports.config import MatchBindingSettings
from polyloly.adapters.esports.identity import MatchDirectory
from polyloly.domain.markets import TeamAliases
from polyloly.runtime.clock import NS_PER_S

ALIASES = TeamAliases({"Gen.G": ["GEN", "Gen.G Esports"], "T1": ["SK Telecom T1"]})
T0 = 1_767_225_600 * NS_PER_S


def test_binding_wins_and_sides_follow_the_binding() -> None:
    d = MatchDirectory(
        ALIASES,
        [
            MatchBindingSettings(
                match_id="m1", game="lol", team_a="Gen.G", team_b="T1", best_of=3,
                provider_ids={"grid": "2578928"},
            )
        ],
    )  # fmt: skip
    ref = d.resolve("grid", "2578928", game="lol", team_x="T1", team_y="GEN")
    assert ref is not None
    assert (ref.match_id, ref.team_a, ref.team_b, ref.best_of) == ("m1", "geng", "t1", 3)
    assert ref.side_of("t1") == "b"
    assert ref.side_of("nobody") is None
    assert d.lookup("grid", "2578928") == ref
    assert d.bound_ids("grid") == ["2578928"]


def test_two_providers_meet_on_one_match_by_teams_and_time() -> None:
    d = MatchDirectory(ALIASES)
    first = d.resolve(
        "pandascore", "1", game="lol", team_x="SK Telecom T1", team_y="Gen.G", start_ns=T0
    )
    second = d.resolve(
        "grid", "x", game="lol", team_x="Gen.G Esports", team_y="T1", start_ns=T0 + 600 * NS_PER_S
    )
    assert first is not None
    assert second is not None
    assert first.match_id == second.match_id == "lol-20260101-geng-vs-t1"
    assert (second.team_a, second.team_b) == ("t1", "geng")  # the first reporter's order
    assert d.provider_id(first.match_id, "grid") == "x"
    # A rematch a day later is another match; another game title too.
    later = d.resolve(
        "grid", "y", game="lol", team_x="T1", team_y="GEN", start_ns=T0 + 86_400 * NS_PER_S
    )
    dota = d.resolve("grid", "z", game="dota2", team_x="T1", team_y="GEN", start_ns=T0)
    assert later is not None
    assert later.match_id == "lol-20260102-geng-vs-t1"
    assert dota is not None
    assert dota.match_id.startswith("dota2-")


def test_unattributable_reports_are_refused() -> None:
    d = MatchDirectory(ALIASES)
    assert d.resolve("opendota", "1", game="dota2", team_x="", team_y="Newbee") is None
    assert d.resolve("opendota", "2", game="dota2", team_x="GEN", team_y="Gen.G") is None


def test_without_discovery_only_known_matches_resolve() -> None:
    d = MatchDirectory(
        ALIASES,
        [MatchBindingSettings(match_id="m1", game="lol", team_a="T1", team_b="Gen.G")],
    )
    known = d.resolve("opendota", "s9", game="lol", team_x="GEN", team_y="T1", create=False)
    assert known is not None
    assert known.match_id == "m1"  # joined the configured match by its teams
    assert d.resolve("pandascore", "7", game="lol", team_x="T1", team_y="DRX", create=False) is None
