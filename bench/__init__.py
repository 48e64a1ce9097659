"""polyloly's benchmark suite (``python -m bench run [--smoke] [--only NAME]``).

Benchmarks, each reporting medians of repeated runs and ratios measured in the same run:

* ``hotpath`` — decode floor (typed msgspec structs, only the used fields) against the
  project's real hot path (frame → book → both strategies → risk gate), per message type;
* ``nautilus`` — the same stream through NautilusTrader's Python API (optional peer);
* ``replay`` — a recorded event log through the full kernel with a simulated venue;
* ``wire`` — from a ``TruthFinal`` to the order's POST leaving the socket (local exchange);
* ``scale`` — many markets at a fixed message rate over a WebSocket: decision latency and
  memory over time.

Nothing here is imported by the package; the suite is a measuring instrument. Modules that a
peer interpreter runs on its own (the stream generator, the decode floor, the NautilusTrader
peer, the feeder) import only the standard library and msgspec.
"""
