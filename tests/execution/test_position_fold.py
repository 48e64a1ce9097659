"""Positions kept by folding each new fill and merge equal the full fold, always.

:class:`~polyloly.execution.positions.PositionFold` folds a token's entries one at a time as
they arrive; :class:`~polyloly.execution.state.ExecutionState` drops a token's fold when a
folded fill starts or stops counting and moves shares between confirmed and pending when
one becomes final. The reference is :func:`~polyloly.execution.positions.fold_position`
over every entry (the code the running fold replaced): on random sequences of fills,
settlement changes (FAILED and corrections included), merges and baselines, both must
agree exactly after every step.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.execution.test_running_totals import WEIGHTED, build, step_trade, step_trade_status

from polyloly.domain.events import Side
from polyloly.domain.money import SCALE
from polyloly.execution.lifecycle import Fill
from polyloly.execution.ports import TraderSide, TradeStatus
from polyloly.execution.positions import MergeEntry, PositionFold, fold_position
from polyloly.execution.state import ExecutionState

T = TradeStatus


def full_fold(state: ExecutionState, token: str, market: str) -> object:
    """The position of ``token`` folded from scratch (what the ledger did before).

    ``market`` is the view's: a view names the market the ledger knew when it was folded.
    """
    baseline = state.baseline.tokens.get(token, 0) if state.baseline is not None else 0
    return fold_position(
        market,
        token,
        [f for f in state.fills_by_token.get(token, ()) if f.seq > state.baseline_seq],
        state.merges_by_token.get(token, ()),
        baseline_qty=baseline,
        baseline_cost=state.baseline_costs.get(token, 0),
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_the_ledger_positions_equal_the_full_fold(data: st.DataObject) -> None:
    w = build()
    # more trades and settlement changes than the running-totals mix: they move folds
    steps = [*WEIGHTED, *([step_trade, step_trade_status] * 3)]
    for _ in range(data.draw(st.integers(1, 80))):
        data.draw(st.sampled_from(steps))(w, data)
        for token, view in w.state.positions.items():
            assert view == full_fold(w.state, token, view.market), token


_entry = st.one_of(
    st.tuples(
        st.just("fill"),
        st.sampled_from(list(Side)),
        st.integers(1, 40),
        st.integers(1, 99),
        st.integers(0, 3),
        st.sampled_from(list(T)),
    ),
    st.tuples(st.just("merge"), st.integers(1, 30), st.integers(0, 30)),
    st.tuples(st.just("status"), st.integers(0, 1_000), st.sampled_from(list(T))),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_entry, max_size=40),
    st.integers(0, 50),
    st.integers(0, 30),
)
def test_a_running_fold_equals_the_full_fold(
    entries: list[tuple[object, ...]], baseline: int, baseline_cost: int
) -> None:
    """Folding one entry at a time (and redoing the fold when counting changes) matches."""
    fills: list[Fill] = []
    merges: list[MergeEntry] = []
    fold = PositionFold.start(baseline * SCALE, baseline_cost * SCALE)
    seq = 0
    for entry in entries:
        if entry[0] == "status":
            if not fills:
                continue
            _, index, status = entry
            fill = fills[int(index) % len(fills)]  # type: ignore[call-overload]
            counted, confirmed = fill.counts, fill.confirmed
            fill.status = status  # type: ignore[assignment]
            if fill.counts is not counted:  # the ledger drops the fold and folds again
                fold = PositionFold.start(baseline * SCALE, baseline_cost * SCALE)
                for item in sorted([*fills, *merges], key=lambda e: e.seq):
                    if isinstance(item, Fill):
                        fold.add_fill(item)
                    else:
                        fold.add_merge(item)
            elif counted and fill.confirmed is not confirmed:
                fold.confirm(fill, fill.confirmed)
        else:
            seq += 1
            if entry[0] == "fill":
                _, side, size, cents, fee, status = entry
                fill = Fill(
                    trade_id=f"t{seq}",
                    order_hash=f"o{seq}",
                    market="m",
                    token_id="yes",
                    side=side,  # type: ignore[arg-type]
                    price=int(cents) * SCALE // 100,  # type: ignore[call-overload]
                    size=int(size) * SCALE,  # type: ignore[call-overload]
                    fee=int(fee) * 1_000,  # type: ignore[call-overload]
                    liquidity=TraderSide.TAKER,
                    status=status,  # type: ignore[arg-type]
                    seq=seq,
                )
                fills.append(fill)
                fold.add_fill(fill)
            else:
                _, size, proceeds = entry
                merge = MergeEntry(seq, int(size) * SCALE, int(proceeds) * SCALE)  # type: ignore[call-overload]
                merges.append(merge)
                fold.add_merge(merge)
        expected = fold_position(
            "m",
            "yes",
            fills,
            merges,
            baseline_qty=baseline * SCALE,
            baseline_cost=baseline_cost * SCALE,
        )
        assert fold.view("m", "yes") == expected
