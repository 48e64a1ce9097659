"""polyloly's benchmark suite (``python -m bench run [--smoke] [--only NAME]``).

Benchmarks, each reporting medians of repeated runs and ratios measured in the same run:

* ``hotpath`` — the node's hot path as it runs (frame → books → both strategies → risk gate,
  the event log on, positions held, temporal arbitrage armed, results arriving), per message
  type, with the decode floor and a minimal pipeline as calibration;
* ``nautilus`` — the same stream through NautilusTrader's Python API (optional peer), bare and
  at the same scope (its adapter path, data engine, message bus, an actor's handler);
* ``replay`` — a recorded event log through the full kernel with a simulated venue;
* ``wire`` — from a ``TruthFinal`` to the order's POST leaving the socket (local exchange);
* ``scale`` — many markets at a fixed message rate over a WebSocket: decision latency and
  memory over time.

Nothing here is imported by the package; the suite is a measuring instrument. Modules that a
peer interpreter runs on its own (the stream generator, the decode floor, the NautilusTrader
peer, the feeder) import only the standard library and msgspec.
"""
