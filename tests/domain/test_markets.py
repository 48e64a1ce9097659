"""Market registry, team normalization and outcome-to-token mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import load_fixture

from polyloly.domain.markets import (
    MarketKind,
    MarketMapping,
    MarketMappingError,
    MarketRegistry,
    TeamAliases,
    map_outcomes_to_tokens,
    normalize_team,
)


def mapping(
    market_id: str = "0xm",
    match_id: str = "lol-1",
    game: int | None = None,
    tokens: tuple[str, str] = ("111", "222"),
    **kw: object,
) -> MarketMapping:
    return MarketMapping(
        match_id=match_id,
        market_id=market_id,
        question="LoL: T1 vs Gen.G (BO3)",
        kind=MarketKind.MATCH if game is None else MarketKind.GAME,
        game_number=game,
        team_a="t1",
        team_b="geng",
        token_a=tokens[0],
        token_b=tokens[1],
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("T1", "t1"),
        ("  Team   Liquid ", "team liquid"),
        ("Gen.G", "geng"),
        ("GEN.G Esports", "geng esports"),
        ("Fnatic-Rising", "fnatic rising"),
        ("BLG/Bilibili", "blg bilibili"),
        ("Movistar KOI\u00e9", "movistar koie"),
        ("Ésports Ünïted", "esports united"),
        ("Team\tSecret\n", "team secret"),
        ("100 Thieves!", "100 thieves"),
        ("", ""),
        ("...", ""),
    ],
)
def test_normalize_team_table(raw: str, norm: str) -> None:
    assert normalize_team(raw) == norm


@settings(max_examples=200)
@given(st.text())
def test_normalize_team_is_idempotent_and_clean(name: str) -> None:
    once = normalize_team(name)
    assert normalize_team(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert once == once.casefold()


def test_aliases_canonical_and_same() -> None:
    aliases = TeamAliases({"T1": ["SK Telecom T1", "SKT"], "Gen.G": ["GEN", "Gen.G Esports"]})
    assert aliases.canonical("skt") == "t1"
    assert aliases.canonical("SK Telecom T1") == "t1"
    assert aliases.canonical("GEN.G ESPORTS") == "geng"
    assert aliases.canonical("Unknown Team") == "unknown team"
    assert aliases.same("SKT", "t1")
    assert aliases.same("GEN", "Gen.G")
    assert not aliases.same("SKT", "GEN")
    assert not aliases.same("", "")
    assert len(aliases) == 6


def test_aliases_reject_conflicts_and_empty_names() -> None:
    with pytest.raises(MarketMappingError, match="points at both"):
        TeamAliases({"T1": ["SKT"], "Gen.G": ["skt"]})
    with pytest.raises(MarketMappingError, match="empty"):
        TeamAliases({"T1": ["..."]})


def test_map_outcomes_by_name_not_position() -> None:
    aliases = TeamAliases({"Gen.G": ["GEN"]})
    # The venue lists Gen.G first; team_a is T1: the tokens must follow the names.
    assert map_outcomes_to_tokens(["GEN", "T1"], ["9", "8"], "T1", "Gen.G", aliases) == ("8", "9")
    assert map_outcomes_to_tokens(["T1", "Gen.G"], ["8", "9"], "t1", "GEN", aliases) == ("8", "9")


@pytest.mark.parametrize(
    ("outcomes", "tokens", "team_a", "team_b", "message"),
    [
        (["Yes", "No"], ["1", "2"], "T1", "Gen.G", "matches no outcome"),
        (["T1", "T1"], ["1", "2"], "T1", "Gen.G", "matches both outcomes"),
        (["T1", "Gen.G"], ["1", "2"], "T1", "t1", "are the same team"),
        (["T1", "Gen.G", "Draw"], ["1", "2", "3"], "T1", "Gen.G", "expected 2 outcomes"),
        (["T1", "Gen.G"], ["1", "1"], "T1", "Gen.G", "two different"),
        (["T1", "Gen.G"], ["1", ""], "T1", "Gen.G", "two different"),
        (["T1", "Gen.G"], ["1", "2"], "T1", "DRX", "matches no outcome"),
    ],
)
def test_map_outcomes_errors(
    outcomes: list[str], tokens: list[str], team_a: str, team_b: str, message: str
) -> None:
    with pytest.raises(MarketMappingError, match=message):
        map_outcomes_to_tokens(outcomes, tokens, team_a, team_b)


def test_map_outcomes_alias_matches_one_outcome_only() -> None:
    aliases = TeamAliases({"T1": ["SKT"]})
    assert map_outcomes_to_tokens(["Gen.G", "SKT"], ["1", "2"], "T1", "Gen.G", aliases) == (
        "2",
        "1",
    )
    with pytest.raises(MarketMappingError, match="same team"):
        map_outcomes_to_tokens(["SKT", "Gen.G"], ["1", "2"], "T1", "SKT", aliases)


@settings(max_examples=50)
@given(st.booleans())
def test_map_outcomes_property_any_order(swap: bool) -> None:
    outcomes, tokens = ["Team Liquid", "OG"], ["tl", "og"]
    if swap:
        outcomes.reverse()
        tokens.reverse()
    assert map_outcomes_to_tokens(outcomes, tokens, "OG", "team liquid") == ("og", "tl")


def test_mapping_helpers_and_seed_names() -> None:
    m = mapping(resolution_time_ns=123, seconds_delay=3)
    assert m.token_for("T1") == "111"
    assert m.token_for("gen.g") == "222"
    assert m.other_token("111") == "222"
    assert m.other_token("222") == "111"
    assert m.team_for("222") == "geng"
    assert m.has_team("GEN.G")
    assert not m.has_team("DRX")
    assert (m.poly_market_id, m.poly_yes_token, m.poly_no_token) == ("0xm", "111", "222")
    assert (m.team_a_id, m.team_b_id) == ("t1", "geng")
    assert (m.tick, m.min_size, m.fee_rate, m.neg_risk) == (10_000, 5_000_000, 30_000, False)
    with pytest.raises(MarketMappingError):
        m.token_for("DRX")
    with pytest.raises(MarketMappingError):
        m.other_token("333")
    with pytest.raises(MarketMappingError):
        m.team_for("333")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"game": 0}, "game_number >= 1"),
        ({"tokens": ("1", "1")}, "two different token ids"),
        ({"match_id": ""}, "required"),
        ({"tick": 3}, "unknown tick"),
        ({"seconds_delay": -1}, "non-negative"),
    ],
)
def test_mapping_validation(kw: dict[str, object], message: str) -> None:
    with pytest.raises(MarketMappingError, match=message):
        mapping(**kw)  # type: ignore[arg-type]


def test_mapping_validation_kinds_and_teams() -> None:
    with pytest.raises(MarketMappingError, match="no game_number"):
        MarketMapping(
            match_id="m", market_id="x", question="", kind=MarketKind.MATCH, game_number=1,
            team_a="a", team_b="b", token_a="1", token_b="2",
        )  # fmt: skip
    with pytest.raises(MarketMappingError, match="two different teams"):
        MarketMapping(
            match_id="m", market_id="x", question="", kind=MarketKind.MATCH,
            team_a="a", team_b="a", token_a="1", token_b="2",
        )  # fmt: skip


def test_registry_lookups() -> None:
    reg = MarketRegistry()
    match = mapping("0xa")
    g1 = mapping("0xb", game=1, tokens=("3", "4"))
    g2 = mapping("0xc", game=2, tokens=("5", "6"))
    other = mapping("0xd", match_id="dota-9", tokens=("7", "8"))
    for m in (g2, match, other, g1):
        reg.add(m)
    assert len(reg) == 4
    assert "0xa" in reg
    assert reg.by_market("0xb") is g1
    assert reg.by_token("6") is g2
    assert reg.by_token("nope") is None
    assert reg.match_market("lol-1") is match
    assert reg.game_market("lol-1", 2) is g2
    assert reg.game_market("lol-1", 3) is None
    assert reg.markets_for_match("lol-1") == [match, g1, g2]
    assert reg.markets_for_match("none") == []
    assert reg.match_ids() == ["dota-9", "lol-1"]
    assert {m.market_id for m in reg} == {"0xa", "0xb", "0xc", "0xd"}


def test_registry_replace_and_remove() -> None:
    reg = MarketRegistry([mapping("0xa")])
    updated = mapping("0xa", tick=1_000, tokens=("111", "999"))
    reg.add(updated)
    assert reg.by_market("0xa") is updated
    assert reg.by_token("222") is None
    assert reg.by_token("999") is updated
    assert reg.remove("0xa") is updated
    assert reg.remove("0xa") is None
    assert reg.match_market("lol-1") is None
    assert reg.match_ids() == []


def test_registry_rejects_conflicts() -> None:
    reg = MarketRegistry([mapping("0xa"), mapping("0xb", game=1, tokens=("3", "4"))])
    with pytest.raises(MarketMappingError, match="already belongs"):
        reg.add(mapping("0xz", match_id="other", tokens=("111", "5")))
    with pytest.raises(MarketMappingError, match="already has market"):
        reg.add(mapping("0xy", game=1, tokens=("8", "9")))
    assert len(reg) == 2


def test_real_gamma_moneyline_maps_by_name(real_fixtures: Path) -> None:
    market = load_fixture(
        real_fixtures / "polymarket", "gamma_market_sports_market_money_line.json"
    )
    outcomes = json.loads(market["outcomes"])
    tokens = json.loads(market["clobTokenIds"])
    token_a, token_b = map_outcomes_to_tokens(outcomes, tokens, outcomes[1], outcomes[0])
    assert (token_a, token_b) == (tokens[1], tokens[0])
    m = MarketMapping(
        match_id="cs-1",
        market_id=market["conditionId"],
        question=market["question"],
        kind=MarketKind.MATCH,
        team_a=normalize_team(outcomes[0]),
        team_b=normalize_team(outcomes[1]),
        token_a=tokens[0],
        token_b=tokens[1],
        seconds_delay=int(market.get("secondsDelay") or 0),
    )
    assert m.token_for(outcomes[1]) == tokens[1]
    assert m.seconds_delay == 3
