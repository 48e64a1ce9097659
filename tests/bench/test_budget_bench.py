"""``python -m bench.budget`` runs end to end (a few calls) against the test Redis."""

from __future__ import annotations

import asyncio

import pytest
from bench.budget import main_async
from tests.adapters.redis.conftest import redis_url


def test_the_budget_bench_measures_both_tables(capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(main_async(redis_url(), 50, 6))
    out = capsys.readouterr().out
    assert "| reserve (check-and-reserve script) | 50 |" in out
    assert "| with the shared budget | 50 |" in out
    assert "added by the reservation" in out
