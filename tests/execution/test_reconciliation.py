"""Reconciliation's balance check: a rounding difference is adopted, a real one fails the pass."""

from __future__ import annotations

from typing import Any

import pytest

from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionConfig
from polyloly.execution.events import ReconciliationCompleted, ReconciliationCorrection
from polyloly.execution.ports import TradeStatus
from polyloly.execution.reconciliation import ReconcileConfig

from .conftest import YES, Harness


async def _reconcile(h: Harness) -> ReconciliationCompleted:
    h.engine.reconciler.request()
    await h.settle()
    return h.sink.of(ReconciliationCompleted)[-1]


async def _filled(make_harness: Any, tolerance: int) -> Harness:
    config = ExecutionConfig(reconcile=ReconcileConfig(balance_tolerance=tolerance))
    h: Harness = await make_harness(config=config)
    order = await h.place(size=20 * SCALE)
    h.venue.fill(order, 20 * SCALE)
    h.venue.settle_all(TradeStatus.CONFIRMED)
    await h.settle()
    assert (await _reconcile(h)).ok
    return h


@pytest.mark.asyncio
async def test_a_difference_within_the_tolerance_is_adopted_once(make_harness: Any) -> None:
    h = await _filled(make_harness, tolerance=10)
    h.venue.balances_map["collateral"] -= 7  # the venue rounded a fill or a fee differently
    done = await _reconcile(h)
    assert done.ok
    kinds = [c.kind for c in h.sink.of(ReconciliationCorrection)]
    assert kinds.count("collateral_rounding") == 1
    h.assert_positions_match_venue()  # adopted: the difference is gone, not carried
    # Further differences never add up past the tolerance: each is adopted in its pass.
    for _ in range(3):
        h.venue.balances_map["collateral"] -= 7
        assert (await _reconcile(h)).ok
    h.assert_positions_match_venue()


@pytest.mark.asyncio
async def test_a_difference_beyond_the_tolerance_fails_the_pass(make_harness: Any) -> None:
    h = await _filled(make_harness, tolerance=10)
    h.venue.balances_map["collateral"] -= 11
    done = await _reconcile(h)
    assert not done.ok
    assert "collateral" in done.reason


@pytest.mark.asyncio
async def test_token_balances_have_no_tolerance(make_harness: Any) -> None:
    h = await _filled(make_harness, tolerance=10 * SCALE)
    h.venue.balances_map[YES] -= 1  # one share-micro missing is a missing fill, not rounding
    done = await _reconcile(h)
    assert not done.ok
    assert YES in done.reason


def test_the_default_tolerance_is_a_cent() -> None:
    assert ReconcileConfig().balance_tolerance == SCALE // 100
