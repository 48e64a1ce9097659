"""Temporal arbitrage: trade confirmed map and match results before the book adjusts.

See :mod:`.engine` (the pure decision engine) and :mod:`.params` (parameters), and seed §6.2.
"""

from polyloly.strategies.temporal_arb.engine import AskBook, BookLookup, Signal, TemporalArbEngine
from polyloly.strategies.temporal_arb.params import TemporalArbParams, TemporalArbParamsError
from polyloly.strategies.temporal_arb.policy import ConfirmationPolicy, refusal

__all__ = [
    "AskBook",
    "BookLookup",
    "ConfirmationPolicy",
    "Signal",
    "TemporalArbEngine",
    "TemporalArbParams",
    "TemporalArbParamsError",
    "refusal",
]
