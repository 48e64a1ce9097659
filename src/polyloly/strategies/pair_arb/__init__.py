"""Binary pair arbitrage: buy YES and NO while the pair costs less than it pays.

See :mod:`polyloly.domain.pairs` (the exact pair position), :mod:`.math` (the buy rules),
:mod:`.engine` (the pure decision engine) and :mod:`.params` (parameters), and
``docs/03_BINARY_PAIR_ARB_MATH.md``.
"""

from polyloly.strategies.pair_arb.engine import BookSource, PairArbEngine, PairArbError
from polyloly.strategies.pair_arb.math import pair_edge, should_buy_more, should_buy_pair
from polyloly.strategies.pair_arb.params import PairArbParams, PairArbParamsError

__all__ = [
    "BookSource",
    "PairArbEngine",
    "PairArbError",
    "PairArbParams",
    "PairArbParamsError",
    "pair_edge",
    "should_buy_more",
    "should_buy_pair",
]
