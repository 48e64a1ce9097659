"""The truth engine's rules: its transition table, its parameters and its confidence math.

Kept apart from the machine that runs them (:mod:`polyloly.domain.truth_engine`, which
re-exports every name here):

* :data:`TRANSITIONS` maps ``(TruthState, MatchEventKind)`` to the :class:`Action` taken and
  its nominal target state, or to the reason the report is ignored;
* :class:`TruthParams` holds source weights, thresholds and the FINAL timeout, in basis points
  and nanoseconds, and rejects a configuration in which one source alone could make a result
  FINAL;
* :func:`combined_confidence` is ``1 - prod(1 - w_i)`` over the distinct agreeing sources, in
  exact integer arithmetic, with a single source capped at ``pending_confidence``.

The full rules, with examples, are in ``docs/02_TRUTH_ENGINE_STATE_MACHINE.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final

from polyloly.domain.events import MatchEventKind as K
from polyloly.domain.events import TruthState as S

__all__ = [
    "BPS",
    "DEFAULT_SOURCE_WEIGHTS",
    "TRANSITIONS",
    "Action",
    "Rule",
    "TruthParams",
    "combined_confidence",
]

BPS: Final = 10_000
"""Confidence 1.0 in basis points."""

DEFAULT_SOURCE_WEIGHTS: Final[Mapping[str, int]] = {
    "grid": 9_000,
    "pandascore": 8_500,
    "lolesports": 8_000,
    "opendota": 7_000,
    "liquipedia": 6_000,
    "polymarket_sports": 8_000,
}
"""Reliability of each provider, in basis points (configurable)."""


def _bps(value: Decimal | str | int) -> int:
    scaled = Decimal(value) * BPS
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value!r} has more precision than a basis point")
    return int(scaled)


@dataclass(frozen=True, slots=True)
class TruthParams:
    """Confidence and timeout configuration (confidences in basis points).

    Parameters
    ----------
    source_weights
        Reliability per source name; unknown sources get ``default_weight``.
    pending_confidence
        The most one source alone can give a claim (seed: MATCH_ENDED -> 0.80).
    final_confidence
        A match claim at or above this is FINAL at once (seed: 0.90).
    final_timeout_ns
        A POST_MATCH_PENDING match with no contradiction becomes FINAL this long after its
        winner was last established (seed: 10 s), measured in event ``ts_init`` time.
    confirm_only
        Sources that may confirm a claim but never establish one alone (post-game wikis).
    """

    source_weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SOURCE_WEIGHTS))
    default_weight: int = 5_000
    pending_confidence: int = 8_000
    final_confidence: int = 9_000
    final_timeout_ns: int = 10_000_000_000
    confirm_only: frozenset[str] = frozenset({"liquipedia", "polymarket_sports"})

    def __post_init__(self) -> None:
        weights = [*self.source_weights.values(), self.default_weight]
        if any(not 0 <= w < BPS for w in weights):
            raise ValueError("source weights must be within [0, 10000) basis points")
        if not 0 < self.pending_confidence < self.final_confidence <= BPS:
            raise ValueError(
                "need 0 < pending_confidence < final_confidence <= 10000 "
                "(so one source alone never makes a result FINAL)"
            )
        if self.final_timeout_ns < 0:
            raise ValueError("final_timeout_ns must be non-negative")

    def weight(self, source: str) -> int:
        """Return the weight of ``source`` in basis points."""
        return self.source_weights.get(source, self.default_weight)

    @classmethod
    def from_config(
        cls,
        *,
        source_weights: Mapping[str, Decimal | str | int],
        pending_confidence: Decimal | str | int = "0.80",
        final_confidence: Decimal | str | int = "0.90",
        final_timeout_s: Decimal | str | int = 10,
        confirm_only: Iterable[str] = ("liquipedia", "polymarket_sports"),
        default_weight: Decimal | str | int = "0.5",
    ) -> TruthParams:
        """Build params from decimal probabilities and seconds (as in the YAML config)."""
        timeout = Decimal(final_timeout_s)
        return cls(
            source_weights={name: _bps(w) for name, w in source_weights.items()},
            default_weight=_bps(default_weight),
            pending_confidence=_bps(pending_confidence),
            final_confidence=_bps(final_confidence),
            final_timeout_ns=int(timeout * 1_000_000_000),
            confirm_only=frozenset(confirm_only),
        )


def combined_confidence(weights: Iterable[int], pending_cap: int) -> int:
    """Return ``1 - prod(1 - w_i)`` in basis points, floored; one source is capped.

    ``weights`` are the distinct agreeing sources' weights. With a single source the result
    is ``min(w, pending_cap)``. The product is exact integer arithmetic, so the result does
    not depend on the order of the sources.
    """
    ws = list(weights)
    if not ws:
        return 0
    if len(ws) == 1:
        return min(ws[0], pending_cap)
    den = miss = 1
    for w in ws:
        den, miss = den * BPS, miss * (BPS - w)
    return (den - miss) * BPS // den


# ---------------------------------------------------------------------------------------------
# Transition table
# ---------------------------------------------------------------------------------------------


class Action(StrEnum):
    """What the engine does with a report that the table accepts."""

    SCHEDULE = "schedule"  # note best-of; no state change
    START = "start"
    ACTIVITY = "activity"  # kill / objective: proves the match is on
    GAME_START = "game_start"
    PAUSE = "pause"
    RESUME = "resume"
    GAME_END = "game_end"  # a vote on a game claim
    MATCH_END = "match_end"  # a vote on the match claim
    CANCEL = "cancel"
    AUDIT = "audit"  # a result after FINAL: recorded, alert if it contradicts


Rule = tuple[Action, S | None] | str
"""``(action, nominal target state or None to stay)``, or the reason the report is ignored."""

_STARTED = "match already started"
_ENDED = "match already ended (late or stale report)"
_FINAL = "match is FINAL"

# Result actions (GAME_END, MATCH_END) name a *nominal* target; the claims decide the real one:
# any claimed or disputed match winner -> POST_MATCH_PENDING; a withdrawn one -> back to LIVE.
TRANSITIONS: Final[dict[tuple[S, K], Rule]] = {
    # PRE_MATCH: anything in-game proves the match is on (a provider's MATCH_STARTED can be late).
    (S.PRE_MATCH, K.MATCH_SCHEDULED): (Action.SCHEDULE, None),
    (S.PRE_MATCH, K.MATCH_STARTED): (Action.START, S.LIVE),
    (S.PRE_MATCH, K.GAME_STARTED): (Action.GAME_START, S.LIVE),
    (S.PRE_MATCH, K.PAUSED): (Action.PAUSE, S.PAUSED),  # seed: a delay before the start
    (S.PRE_MATCH, K.RESUMED): (Action.RESUME, S.LIVE),
    (S.PRE_MATCH, K.GAME_ENDED): (Action.GAME_END, S.LIVE),
    (S.PRE_MATCH, K.MATCH_ENDED): (Action.MATCH_END, S.POST_MATCH_PENDING),
    (S.PRE_MATCH, K.KILL): (Action.ACTIVITY, S.LIVE),
    (S.PRE_MATCH, K.OBJECTIVE): (Action.ACTIVITY, S.LIVE),
    (S.PRE_MATCH, K.MATCH_CANCELED): (Action.CANCEL, None),
    # LIVE
    (S.LIVE, K.MATCH_SCHEDULED): _STARTED,
    (S.LIVE, K.MATCH_STARTED): "match already live (second source or repeat)",
    (S.LIVE, K.GAME_STARTED): (Action.GAME_START, S.LIVE),
    (S.LIVE, K.PAUSED): (Action.PAUSE, S.PAUSED),
    (S.LIVE, K.RESUMED): "match is not paused (resume already applied)",
    (S.LIVE, K.GAME_ENDED): (Action.GAME_END, S.LIVE),
    (S.LIVE, K.MATCH_ENDED): (Action.MATCH_END, S.POST_MATCH_PENDING),
    (S.LIVE, K.KILL): (Action.ACTIVITY, None),
    (S.LIVE, K.OBJECTIVE): (Action.ACTIVITY, None),
    (S.LIVE, K.MATCH_CANCELED): (Action.CANCEL, None),
    # PAUSED: a new game or a game result means play went on (the resume report was missed).
    (S.PAUSED, K.MATCH_SCHEDULED): _STARTED,
    (S.PAUSED, K.MATCH_STARTED): _STARTED,
    (S.PAUSED, K.GAME_STARTED): (Action.GAME_START, S.LIVE),
    (S.PAUSED, K.PAUSED): "match already paused (second source or repeat)",
    (S.PAUSED, K.RESUMED): (Action.RESUME, S.LIVE),
    (S.PAUSED, K.GAME_ENDED): (Action.GAME_END, S.LIVE),
    (S.PAUSED, K.MATCH_ENDED): (Action.MATCH_END, S.POST_MATCH_PENDING),
    (S.PAUSED, K.KILL): "in-game activity while paused (reported late)",
    (S.PAUSED, K.OBJECTIVE): "in-game activity while paused (reported late)",
    (S.PAUSED, K.MATCH_CANCELED): (Action.CANCEL, None),
    # POST_MATCH_PENDING: only results (confirmations, contradictions, corrections) count.
    (S.POST_MATCH_PENDING, K.MATCH_SCHEDULED): _ENDED,
    (S.POST_MATCH_PENDING, K.MATCH_STARTED): _ENDED,
    (S.POST_MATCH_PENDING, K.GAME_STARTED): _ENDED,
    (S.POST_MATCH_PENDING, K.PAUSED): _ENDED,
    (S.POST_MATCH_PENDING, K.RESUMED): _ENDED,
    (S.POST_MATCH_PENDING, K.GAME_ENDED): (Action.GAME_END, None),
    (S.POST_MATCH_PENDING, K.MATCH_ENDED): (Action.MATCH_END, None),
    (S.POST_MATCH_PENDING, K.KILL): _ENDED,
    (S.POST_MATCH_PENDING, K.OBJECTIVE): _ENDED,
    (S.POST_MATCH_PENDING, K.MATCH_CANCELED): (Action.CANCEL, None),
    # FINAL is terminal; results are still audited so a dissenting source raises an alert.
    (S.FINAL, K.MATCH_SCHEDULED): _FINAL,
    (S.FINAL, K.MATCH_STARTED): _FINAL,
    (S.FINAL, K.GAME_STARTED): _FINAL,
    (S.FINAL, K.PAUSED): _FINAL,
    (S.FINAL, K.RESUMED): _FINAL,
    (S.FINAL, K.GAME_ENDED): (Action.AUDIT, None),
    (S.FINAL, K.MATCH_ENDED): (Action.AUDIT, None),
    (S.FINAL, K.KILL): _FINAL,
    (S.FINAL, K.OBJECTIVE): _FINAL,
    (S.FINAL, K.MATCH_CANCELED): (Action.CANCEL, None),
}
