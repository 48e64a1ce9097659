"""One LoL Bo3 (match m1) and its first game's market: the world of the pre-signing and
pre-decision tests."""

from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.runtime.clock import NS_PER_S

START_NS = 1_800_000_000 * NS_PER_S
MATCH = MarketMapping(
    match_id="m1", market_id="0xM", question="LoL: T1 vs Gen.G (BO3)", kind=MarketKind.MATCH,
    team_a="t1", team_b="geng", token_a="ma", token_b="mb",
)  # fmt: skip
GAME1 = MarketMapping(
    match_id="m1", market_id="0xG1", question="Game 1 Winner", kind=MarketKind.GAME,
    game_number=1, team_a="t1", team_b="geng", token_a="g1a", token_b="g1b",
)  # fmt: skip
