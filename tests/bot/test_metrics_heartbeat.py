"""The venue heartbeat's outcomes, exported at scrape time as ``polyloly_heartbeats_total``."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from polyloly.adapters.polymarket.heartbeat import HeartbeatLoop
from polyloly.adapters.polymarket.heartbeat_chain import HeartbeatTiming
from polyloly.adapters.polymarket.http import HeartbeatAck
from polyloly.bot.metrics import HEARTBEAT_OUTCOMES, Metrics
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import RetryableError

START = 1_800_000_000 * NS_PER_S


def heartbeats(metrics: Metrics) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == "polyloly_heartbeats_total":
                out[sample.labels["outcome"]] = sample.value
    return out


class Venue:
    """Valid beats, one refusal of a stale id, failures on demand; the window of 3 s."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.expected = ""
        self.last_ns = 0
        self.n = 0
        self.failing = 0

    async def heartbeat(self, heartbeat_id: str) -> HeartbeatAck:
        if self.failing:
            self.failing -= 1
            raise RetryableError("HTTP 503")
        if self.expected and self.clock.now_ns() - self.last_ns > 3 * NS_PER_S:
            self.expected = ""
        if heartbeat_id != self.expected:
            return HeartbeatAck(heartbeat_id=self.expected, accepted=False)
        self.n += 1
        self.expected, self.last_ns = f"hb-{self.n}", self.clock.now_ns()
        return HeartbeatAck(heartbeat_id=self.expected)


@pytest.mark.asyncio
async def test_every_outcome_is_counted() -> None:
    clock = VirtualClock(START)
    venue = Venue(clock)
    timing = HeartbeatTiming.from_seconds(interval_s=1, window_s=3, attempt_timeout_s=1)
    loop = HeartbeatLoop(venue, lambda _e: None, clock, timing)
    metrics = Metrics(clock)
    assert heartbeats(metrics) == {}  # nothing watched: no samples
    metrics.watch_heartbeat(loop.stats.as_dict)
    assert heartbeats(metrics) == dict.fromkeys(HEARTBEAT_OUTCOMES, 0)
    await loop.beat()
    venue.expected = "moved-on"  # a beat we never heard of: refused, adopted
    clock.advance_ns(await loop.beat())
    venue.failing = 100  # the window is missed...
    while loop.stats.window_missed == 0:
        clock.advance_ns(await loop.beat())
    venue.failing = 0  # ...and the chain restarts
    await loop.beat()
    counted = heartbeats(metrics)
    assert counted["ok"] == 3
    assert counted["id_adopted"] == 2  # "moved-on", then "" once the venue dropped the chain
    assert counted["window_missed"] == 1
    assert counted["chains_started"] == 2
    assert counted["retried"] >= 3


def test_a_broken_source_exports_no_samples() -> None:
    metrics = Metrics(VirtualClock(START))

    def broken() -> dict[str, int]:
        raise RuntimeError("gone")

    metrics.watch_heartbeat(broken)
    assert heartbeats(metrics) == {}
