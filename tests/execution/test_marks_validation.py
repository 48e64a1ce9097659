"""The ledger's marks: never from a crossed snapshot, never from a resolution whose winner is
not a token of its market (a position would be valued at nothing)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polyloly.domain.events import BookSnapshot, MarketResolved
from polyloly.domain.money import ONE, SCALE
from polyloly.execution.state import ExecutionState

PAIRS = {"0xm": ("ya", "na"), "0xn": ("yb", "nb")}


def _state() -> ExecutionState:
    state = ExecutionState()
    state.tokens_of = PAIRS.get
    state.token_market.update({"ya": "0xm", "yb": "0xn"})  # tokens the ledger has traded
    for token in ("ya", "na", "yb", "nb"):
        state.marks[token] = 500_000
    return state


def _resolved(market: str, winner: str) -> MarketResolved:
    return MarketResolved(ts_event=1, ts_init=1, market=market, winning_token_id=winner)


@given(
    st.sampled_from(["0xm", "0xn", "0xunknown"]), st.sampled_from(["ya", "na", "yb", "nb", "zz"])
)
def test_a_resolution_sets_marks_only_when_it_names_a_token_of_its_market(
    market: str, winner: str
) -> None:
    state = _state()
    state.apply(_resolved(market, winner))
    tokens = PAIRS.get(market, ())
    if winner in tokens:
        assert state.marks[winner] == ONE
        assert all(state.marks[t] == 0 for t in tokens if t != winner)
        assert market in state.resolved_markets
    else:
        assert dict(state.marks) == dict.fromkeys(("ya", "na", "yb", "nb"), 500_000)
        assert state.resolutions_refused == 1
        assert market not in state.resolved_markets


def test_a_crossed_snapshot_sets_no_mark() -> None:
    state = _state()
    crossed = BookSnapshot(
        ts_event=1,
        ts_init=1,
        market="0xm",
        token_id="ya",
        bids=((600_000, SCALE),),
        asks=((100_000, SCALE),),
    )
    state.apply(crossed)
    assert state.marks["ya"] == 500_000
    good = BookSnapshot(
        ts_event=2,
        ts_init=2,
        market="0xm",
        token_id="ya",
        bids=((400_000, SCALE),),
        asks=((420_000, SCALE),),
    )
    state.apply(good)
    assert state.marks["ya"] == 410_000
