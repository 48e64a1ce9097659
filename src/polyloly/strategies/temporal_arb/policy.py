"""When a result is confirmed enough to trade on: the confirmation policy (issue #15).

Declaring a result and acting on it are separate questions. The truth engine declares a
series FINAL when a second source confirms it *or* when one source's claim stood
``final_timeout`` without contradiction; temporal arbitrage must be stricter, because a
single provider that reports the wrong winner would otherwise be bought at 0.95.

A map or match result qualifies for an entry only when all of these hold:

* its confidence is at least ``min_confidence`` (0.90 by default, for maps *and* matches);
* at least ``min_sources`` distinct sources agree on it (2 by default: "one source plus a
  confirmation");
* at least one of them is not *confirm-only* (a post-game wiki, Polymarket's own sports
  feed: they confirm, they never lead);
* it is not a FINAL the engine reached by its timeout from one source (nobody confirming).

The operator can opt in, by name, to trading a FINAL that one source alone reported and that
stood unchallenged until the engine's timeout (``allow_single_source_final``); it is logged
loudly at start. Even then a result whose only sources are confirm-only never qualifies.
Contradicted results never reach this test: the truth engine blocks the match with a
``TruthAlert`` and the strategy disarms it.

Pure: :func:`refusal` says why a result does not qualify, or ``""`` if it does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["ConfirmationPolicy", "refusal"]

_BPS: Final = 10_000

BELOW_FLOOR: Final = "confidence below min_confidence"
TOO_FEW_SOURCES: Final = "fewer independent sources than min_sources"
CONFIRM_ONLY: Final = "only confirm-only sources report it"
TIMEOUT_FINAL: Final = "FINAL by timeout from one source (allow_single_source_final is off)"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmationPolicy:
    """Which results temporal arbitrage may act on.

    Attributes
    ----------
    min_confidence
        Floor on the result's confidence, basis points (maps and matches alike).
    min_sources
        Distinct agreeing sources needed (>= 1; 2 = a report plus a confirmation).
    allow_single_source_final
        Also trade a FINAL the engine declared by its timeout from one source (opt-in).
    confirm_only
        Sources that can confirm a result but never make it tradable alone.
    """

    min_confidence: int = 9_000
    min_sources: int = 2
    allow_single_source_final: bool = False
    confirm_only: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0 <= self.min_confidence <= _BPS:
            raise ValueError("min_confidence must be within [0, 10000] basis points")
        if self.min_sources < 1:
            raise ValueError("min_sources must be >= 1")


def refusal(
    policy: ConfirmationPolicy,
    *,
    confidence: int,
    sources: Iterable[str],
    timed_out: bool = False,
    final: bool = False,
) -> str:
    """Why a result must not be traded, or ``""`` if it may.

    Parameters
    ----------
    confidence
        The result's confidence (game confidence for a map, the FINAL's for a match), bps.
    sources
        The distinct sources agreeing on it.
    timed_out
        The FINAL came from the engine's timeout, not from a confirmation.
    final
        The result is a series FINAL (the opt-in applies to FINALs only).
    """
    distinct = frozenset(sources)
    if not distinct - policy.confirm_only:
        return CONFIRM_ONLY
    if final and timed_out and len(distinct) == 1:
        # One source, nobody confirming: only if the operator opted in by name.
        return "" if policy.allow_single_source_final else TIMEOUT_FINAL
    if confidence < policy.min_confidence:
        return BELOW_FLOOR
    if len(distinct) < policy.min_sources:
        return TOO_FEW_SOURCES
    return ""
