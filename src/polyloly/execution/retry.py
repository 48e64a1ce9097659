"""Retries: exponential backoff, and a submit that never sends an order twice.

* :class:`RetryPolicy` — pure delay schedule (exponential, capped, optional jitter from an
  injected random function).
* :func:`call_with_retry` — for idempotent calls (reads, cancels): retry transient errors
  with backoff, honour the venue's ``retry_after`` hint, give up after ``max_attempts``.
* :func:`call_unless_unknown` — for a call whose lost reply must never be resent (an on-chain
  transaction): retry only errors that certainly took no effect; return a :class:`CallFailure`
  (``unknown`` when it may have taken effect) instead of raising.
* :func:`submit_with_retry` — for order placement. After any outcome that may have taken
  effect (timeout, lost reply, 5xx, "duplicated") it **looks the order up first** and only
  resends the *same signed order* (same hash) when the venue does not know it. A 429 or a
  cancel-only 503 did not take effect, so the order is simply resent after the backoff.

Sleeping is injected (:data:`Sleep`), so tests drive time without waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from polyloly.execution.ports import (
    OrderVenue,
    RejectCode,
    SignedOrder,
    SubmitResult,
    VenueOrder,
)
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S
from polyloly.runtime.errors import (
    BackOffError,
    PolylolyError,
    RejectError,
    RetryableError,
    UnknownOutcomeError,
)
from polyloly.runtime.sleep import Sleep

__all__ = [
    "CallFailure",
    "RetryPolicy",
    "SubmitKind",
    "SubmitOutcome",
    "call_unless_unknown",
    "call_with_retry",
    "submit_with_retry",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base × multiplier^(attempt−1)``, capped, with optional jitter.

    Parameters
    ----------
    base_delay_ms, max_delay_ms
        First delay and the cap.
    multiplier
        Growth per attempt (whole number).
    max_attempts
        Attempts in total, the first included.
    jitter_pct
        Up to this percentage of each delay is removed at random (needs ``rand``).
    """

    base_delay_ms: int = 200
    max_delay_ms: int = 5_000
    multiplier: int = 2
    max_attempts: int = 6
    jitter_pct: int = 0

    def __post_init__(self) -> None:
        if self.base_delay_ms < 0 or self.max_delay_ms < self.base_delay_ms:
            raise ValueError("need 0 <= base_delay_ms <= max_delay_ms")
        if self.multiplier < 1 or self.max_attempts < 1 or not 0 <= self.jitter_pct <= 100:
            raise ValueError("need multiplier >= 1, max_attempts >= 1, jitter_pct in 0..100")

    def delay_ns(self, attempt: int, rand: Callable[[int], int] | None = None) -> int:
        """Delay after failed attempt number ``attempt`` (1-based), in ns."""
        growth: int = self.multiplier ** max(attempt - 1, 0)
        delay_ms = min(self.base_delay_ms * growth, self.max_delay_ms)
        delay = delay_ms * NS_PER_MS
        if self.jitter_pct and rand is not None:
            delay -= rand(delay * self.jitter_pct // 100 + 1)
        return delay


def _hinted(
    policy: RetryPolicy, attempt: int, exc: BaseException, rand: Callable[[int], int] | None
) -> int:
    delay = policy.delay_ns(attempt, rand)
    if isinstance(exc, BackOffError) and exc.retry_after_s is not None:
        hint: int = int(exc.retry_after_s * NS_PER_S)
        delay = max(delay, hint)
    return delay


async def call_with_retry(
    call: Callable[[], Awaitable[_T]],
    policy: RetryPolicy,
    sleep: Sleep,
    rand: Callable[[int], int] | None = None,
) -> _T:
    """Run an idempotent call, retrying :class:`RetryableError` with backoff.

    Raises the last error once ``policy.max_attempts`` are used; any other error (a
    :class:`RejectError`, a :class:`HaltError`) propagates at once.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except RetryableError as exc:
            if attempt >= policy.max_attempts:
                raise
            await sleep(_hinted(policy, attempt, exc, rand))


@dataclass(frozen=True, slots=True)
class CallFailure:
    """How :func:`call_unless_unknown` ended without a result."""

    error: str
    unknown: bool = False  # the call may have taken effect: look it up, never resend


async def call_unless_unknown(
    call: Callable[[], Awaitable[_T]], policy: RetryPolicy, sleep: Sleep
) -> _T | CallFailure:
    """Run a call that must never be sent twice (an on-chain transaction).

    A :class:`RetryableError` that certainly took no effect is retried with backoff; an
    :class:`UnknownOutcomeError` (the call may have taken effect) ends at once with
    ``unknown=True``; a refusal, or retries run out, ends with the error.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except UnknownOutcomeError as exc:
            return CallFailure(f"outcome unknown: {exc}", unknown=True)
        except RetryableError as exc:
            if attempt >= policy.max_attempts:
                return CallFailure(str(exc))
            await sleep(_hinted(policy, attempt, exc, None))
        except PolylolyError as exc:
            return CallFailure(str(exc))


class SubmitKind(Enum):
    """How a submit ended."""

    ACCEPTED = "accepted"  # the venue answered the submit
    FOUND = "found"  # a lookup after an uncertain attempt found the order
    CLOSED = "closed"  # "duplicated", yet not found: the venue had it and it is gone
    REJECTED = "rejected"  # refused, or every attempt was refused without effect
    UNKNOWN = "unknown"  # retries ran out while the outcome was uncertain


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """The result of :func:`submit_with_retry`."""

    kind: SubmitKind
    attempts: int
    result: SubmitResult | None = None
    found: VenueOrder | None = None
    reason: str = ""
    code: str = ""


async def submit_with_retry(
    venue: OrderVenue,
    order: SignedOrder,
    policy: RetryPolicy,
    sleep: Sleep,
    *,
    uncertain: bool = False,
    rand: Callable[[int], int] | None = None,
) -> SubmitOutcome:
    """Place ``order`` exactly once, whatever the venue does to the replies.

    Parameters
    ----------
    uncertain
        Start with a lookup (a recovered process resending an order it may have sent).
    """
    attempt = 0
    last_error = ""
    duplicate = False
    while True:
        attempt += 1
        try:
            if uncertain:
                found = await venue.lookup(order.order_hash)
                if found is not None:
                    return SubmitOutcome(SubmitKind.FOUND, attempt, found=found)
                if duplicate:
                    # The venue refused it as a duplicate, so it has (had) this exact order,
                    # yet lists it nowhere: it left the book without a trade (canceled).
                    return SubmitOutcome(SubmitKind.CLOSED, attempt, reason=last_error)
            result = await venue.submit(order)
            return SubmitOutcome(SubmitKind.ACCEPTED, attempt, result=result)
        except RejectError as exc:
            if exc.code != RejectCode.DUPLICATE:
                return SubmitOutcome(SubmitKind.REJECTED, attempt, reason=str(exc), code=exc.code)
            # The venue already has this exact order (an earlier attempt got through):
            # find it rather than report a reject.
            uncertain = duplicate = True
            last_error = str(exc)
            if attempt >= policy.max_attempts:
                break
            continue
        except BackOffError as exc:
            # 429 / cancel-only 503: refused before it took effect; the same order may be
            # resent after the wait. An earlier uncertain attempt keeps us uncertain.
            last_error = str(exc)
            error: RetryableError = exc
        except RetryableError as exc:
            uncertain = True  # timeout, lost reply, 5xx: it may have gone through
            last_error = str(exc)
            error = exc
        if attempt >= policy.max_attempts:
            break
        await sleep(_hinted(policy, attempt, error, rand))
    if uncertain:
        return SubmitOutcome(SubmitKind.UNKNOWN, attempt, reason=last_error)
    return SubmitOutcome(
        SubmitKind.REJECTED, attempt, reason=last_error, code=RejectCode.BACKOFF_EXHAUSTED
    )
