"""The replay benchmark's decision-heavy variant, on a small log with decisions in it.

``python -m bench run --only replay`` replays the demo's own log (recorded once into the
bench cache, ~25 s: not done here) ``DEMO_PASSES`` times, simulated and exact. Here the same
function replays a log a simulated run wrote (intents, orders, venue replies): every pass
decides the same, and the exact replay makes the recorded decisions.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.replay import DEMO_PASSES, replay_demo_once
from tests.backtest.test_replay import synthetic_log

from polyloly.backtest.replay import replay_simulated
from polyloly.bot.replay_core import core_factory
from polyloly.domain.money import SCALE


def test_the_decision_heavy_variant_replays_alike_every_pass(tmp_path: Path) -> None:
    synthetic_log(tmp_path / "recorded")
    run = replay_simulated(
        [tmp_path / "recorded"], core_factory(), collateral=1_000 * SCALE, out_dir=tmp_path / "log"
    )
    recorded = asyncio.run(run)
    assert recorded.counts().get("OrderSubmitted", 0) >= 1  # a log with decisions in it
    log = tmp_path / "log"
    for exact in (False, True):
        got = replay_demo_once(log, exact=exact)
        assert got["fed"] == DEMO_PASSES * got["inputs_per_pass"] > 0
        assert len(got["digests"]) == 1
        assert got["identical"]
        assert got["decisions"].get("OrderSubmitted", 0) >= 1
