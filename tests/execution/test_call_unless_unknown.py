"""``call_unless_unknown``: the retry rule of calls that must never be sent twice (merges,
redemptions): retried only when the error certainly took no effect."""

from __future__ import annotations

import pytest

from polyloly.execution.retry import CallFailure, RetryPolicy, call_unless_unknown
from polyloly.runtime.errors import (
    BackOffError,
    RejectError,
    RetryableError,
    UnknownOutcomeError,
)

POLICY = RetryPolicy(base_delay_ms=100, max_delay_ms=1_000, max_attempts=3)


class Script:
    """A call that raises the scripted errors in turn, then answers ``"done"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.slept: list[int] = []

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"

    async def sleep(self, ns: int) -> None:
        self.slept.append(ns)


@pytest.mark.asyncio
async def test_a_retryable_error_is_retried_with_backoff() -> None:
    call = Script(RetryableError("502"), RetryableError("503"))
    assert await call_unless_unknown(call, POLICY, call.sleep) == "done"
    assert call.calls == 3
    assert call.slept == [100_000_000, 200_000_000]


@pytest.mark.asyncio
async def test_an_unknown_outcome_is_never_sent_again() -> None:
    call = Script(UnknownOutcomeError("reply lost"))
    result = await call_unless_unknown(call, POLICY, call.sleep)
    assert result == CallFailure("outcome unknown: reply lost", unknown=True)
    assert call.calls == 1
    assert call.slept == []


@pytest.mark.asyncio
async def test_a_refusal_ends_at_once_and_retries_run_out() -> None:
    refused = Script(RejectError("no allowance"))
    assert await call_unless_unknown(refused, POLICY, refused.sleep) == CallFailure("no allowance")
    assert refused.calls == 1
    busy = Script(*(RetryableError("429") for _ in range(5)))
    assert await call_unless_unknown(busy, POLICY, busy.sleep) == CallFailure("429")
    assert busy.calls == POLICY.max_attempts


@pytest.mark.asyncio
async def test_the_venues_retry_after_hint_is_honoured() -> None:
    call = Script(BackOffError("slow down", retry_after_s=2.0))
    assert await call_unless_unknown(call, POLICY, call.sleep) == "done"
    assert call.slept == [2_000_000_000]
