"""The confirmation policy: which results temporal arbitrage may act on (issue #15)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    MatchEvent,
    MatchEventKind,
    TimerTick,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.orderbook import BookSet
from polyloly.domain.truth_engine import TruthEngine, TruthParams
from polyloly.strategies.temporal_arb import (
    ConfirmationPolicy,
    TemporalArbEngine,
    TemporalArbParams,
    refusal,
)
from polyloly.strategies.temporal_arb.policy import (
    BELOW_FLOOR,
    CONFIRM_ONLY,
    TIMEOUT_FINAL,
    TOO_FEW_SOURCES,
)

K = MatchEventKind
SECOND = 1_000_000_000
CONFIRM = frozenset({"liquipedia", "polymarket_sports"})
POLICY = ConfirmationPolicy(confirm_only=CONFIRM)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"confidence": 9_850, "sources": ("grid", "pandascore")}, ""),
        ({"confidence": 9_600, "sources": ("grid", "liquipedia")}, ""),  # led, then confirmed
        ({"confidence": 8_900, "sources": ("opendota", "liquipedia")}, BELOW_FLOOR),
        ({"confidence": 9_500, "sources": ("liquipedia", "polymarket_sports")}, CONFIRM_ONLY),
        ({"confidence": 9_000, "sources": ("grid",)}, TOO_FEW_SOURCES),
        (
            {"confidence": 8_000, "sources": ("grid",), "timed_out": True, "final": True},
            TIMEOUT_FINAL,
        ),
        ({"confidence": 9_000, "sources": ("a", "b"), "timed_out": True, "final": True}, ""),
        ({"confidence": 0, "sources": ()}, CONFIRM_ONLY),
    ],
)
def test_refusal_table(kw: dict[str, object], expected: str) -> None:
    assert refusal(POLICY, **kw) == expected  # type: ignore[arg-type]


def test_single_source_final_only_by_opt_in_and_never_confirm_only() -> None:
    opted = ConfirmationPolicy(confirm_only=CONFIRM, allow_single_source_final=True)
    timeout = {"confidence": 8_000, "timed_out": True, "final": True}
    assert refusal(opted, sources=("opendota",), **timeout) == ""  # type: ignore[arg-type]
    assert refusal(opted, sources=("liquipedia",), **timeout) == CONFIRM_ONLY  # type: ignore[arg-type]
    # The opt-in names FINALs: a map result from one source still needs its confirmation.
    assert refusal(opted, confidence=8_000, sources=("grid",)) == BELOW_FLOOR


def test_policy_validates() -> None:
    with pytest.raises(ValueError, match="min_sources"):
        ConfirmationPolicy(min_sources=0)
    with pytest.raises(ValueError, match="min_confidence"):
        ConfirmationPolicy(min_confidence=10_001)


# -- property: the whole pipeline never trades an unconfirmed, contradicted or confirm-only result


MATCH = MarketMapping(
    match_id="m", market_id="0xM", question="LoL: T1 vs Gen.G (BO3)", kind=MarketKind.MATCH,
    team_a="t1", team_b="geng", token_a="ta", token_b="tb",
)  # fmt: skip
GAMES = [
    MarketMapping(
        match_id="m",
        market_id=f"0xG{n}",
        question=f"Game {n} Winner",
        kind=MarketKind.GAME,
        game_number=n,
        team_a="t1",
        team_b="geng",
        token_a=f"g{n}a",
        token_b=f"g{n}b",
    )
    for n in (1, 2, 3)
]
SOURCES = ("grid", "pandascore", "opendota", "liquipedia", "polymarket_sports")

report_st = st.tuples(
    st.sampled_from(SOURCES),
    st.sampled_from([K.GAME_ENDED, K.MATCH_ENDED]),
    st.integers(1, 3),  # game number
    st.sampled_from(["t1", "geng"]),  # the winner this source claims (it may be wrong)
    st.integers(0, 12),  # seconds since the previous input
    st.booleans(),  # a timer tick after it
)


def _books(tokens: list[str]) -> BookSet:
    books = BookSet()
    for token in tokens:
        books.apply(
            BookSnapshot(
                ts_event=0,
                ts_init=0,
                market="x",
                token_id=token,
                bids=((500_000, 100_000_000),),
                asks=((600_000, 100_000_000),),
                tick=10_000,
            )
        )
    return books


@settings(max_examples=300, deadline=None)
@given(st.lists(report_st, max_size=25), st.booleans())
def test_no_entry_on_an_unconfirmed_contradicted_or_confirm_only_result(
    reports: list[tuple[str, K, int, str, int, bool]], opt_in: bool
) -> None:
    truth = TruthEngine(TruthParams(confirm_only=CONFIRM))
    registry = MarketRegistry([MATCH, *GAMES])
    tokens = [t for m in (MATCH, *GAMES) for t in (m.token_a, m.token_b)]
    params = TemporalArbParams(
        max_slippage_bps=10_000, confirm_only=CONFIRM, allow_single_source_final=opt_in
    )
    temporal = TemporalArbEngine(params, registry, _books(tokens).get)
    t = SECOND
    inputs: list[Event] = [
        MatchEvent(
            ts_event=t,
            ts_init=t,
            source="grid",
            match_id="m",
            provider_match_id="x",
            kind=K.MATCH_STARTED,
            team_a="t1",
            team_b="geng",
            best_of=3,
        )
    ]
    for seq, (source, kind, game, winner, gap, tick) in enumerate(reports, start=1):
        t += gap * SECOND
        inputs.append(
            MatchEvent(
                ts_event=t,
                ts_init=t,
                source=source,
                match_id="m",
                provider_match_id="x",
                kind=kind,
                team_a="t1",
                team_b="geng",
                best_of=3,
                seq=seq,
                winner=winner,
                game_number=game if kind is K.GAME_ENDED else None,
            )
        )
        if tick:
            t += 11 * SECOND  # past the engine's 10 s timeout
            inputs.append(TimerTick(ts_event=t, ts_init=t))
    for event in inputs:
        for out in truth.apply(event):
            intents = temporal.on_event(out)
            if not intents:
                continue
            view = truth.view("m")
            assert view is not None
            assert not view.blocked, "an entry on a contradicted match"
            if isinstance(out, TruthFinal):
                assert set(out.sources) - CONFIRM
                if out.timed_out and len(out.sources) == 1:
                    assert opt_in, "a one-source timeout FINAL traded without the opt-in"
                else:
                    assert out.confidence >= params.min_confidence
                    assert len(out.sources) >= 2
            else:
                assert isinstance(out, TruthDelta)
                assert out.game_confidence >= params.min_confidence
                assert len(set(out.game_sources)) >= 2
                assert set(out.game_sources) - CONFIRM
                game = view.games[[g.number for g in view.games].index(out.game_number)]
                assert not game.contradicted


def test_two_sources_trade_what_one_source_cannot() -> None:
    """The same result: one source -> no entry (even after the timeout); two -> entries."""

    def run(sources: tuple[str, ...]) -> list[str]:
        truth = TruthEngine(TruthParams(confirm_only=CONFIRM))
        registry = MarketRegistry([MATCH, *GAMES])
        tokens = [t for m in (MATCH, *GAMES) for t in (m.token_a, m.token_b)]
        params = TemporalArbParams(max_slippage_bps=10_000, confirm_only=CONFIRM)
        temporal = TemporalArbEngine(params, registry, _books(tokens).get)
        markets: list[str] = []
        t = SECOND
        events: list[Event] = []
        for n in (1, 2):
            for source in sources:
                t += SECOND
                events.append(
                    MatchEvent(
                        ts_event=t,
                        ts_init=t,
                        source=source,
                        match_id="m",
                        provider_match_id="x",
                        kind=K.GAME_ENDED,
                        team_a="t1",
                        team_b="geng",
                        best_of=3,
                        game_number=n,
                        winner="t1",
                        seq=n,
                    )
                )
        events.append(TimerTick(ts_event=t + 20 * SECOND, ts_init=t + 20 * SECOND))
        for event in events:
            for out in truth.apply(event):
                markets += [i.market for i in temporal.on_event(out)]
        return markets

    assert run(("opendota",)) == []
    assert run(("opendota", "liquipedia")) == []  # 0.80 + 0.60 confirm-only -> 0.88 < 0.90
    assert run(("grid", "pandascore")) == ["0xG1", "0xG2", "0xM"]
