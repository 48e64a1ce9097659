"""Each provider's published limits hold for a full match, judged by the provider's side.

Real loopback sockets, virtual time: the local feeds log every request they receive and answer
429 exactly as the provider would (OpenDota unkeyed: 60 a minute, 3,000 a day; Liquipedia: one
request every 2 s). The adapters run with their production defaults.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from polyloly.adapters.esports import PROVIDER_DEFAULTS
from polyloly.adapters.esports.ratelimit import NS_PER_DAY
from polyloly.domain.events import FeedState, MatchEventKind, TruthFinal
from polyloly.runtime.clock import NS_PER_S
from polyloly.sim.esports.common import PUBLISHED_LIMITS, ProviderRule

K = MatchEventKind
MINUTE = 60 * NS_PER_S


def _production(provider: str) -> dict[str, Any]:
    keep = (
        "poll_interval_ms",
        "fast_poll_interval_ms",
        "rate_limit_requests",
        "rate_limit_window_ms",
        "min_spacing_ms",
        "daily_budget",
        "frozen_polls",
        "stale_after_ms",
    )
    return {k: v for k, v in PROVIDER_DEFAULTS[provider].items() if k in keep}


def _times(run: Any, provider: str, path: str = "") -> list[int]:
    return [t for p, at, t in run.request_log if p == provider and path in at]


@pytest.mark.asyncio
async def test_opendota_and_liquipedia_stay_within_their_rules_for_a_full_match(
    play: Any,
) -> None:
    overrides = {
        "opendota": _production("opendota"),
        # Asked to poll every 500 ms, Liquipedia's adapter still never goes under 2 s.
        "liquipedia": {**_production("liquipedia"), "poll_interval_ms": 500},
    }
    run = await play(
        "dota2_bo3_2_0", ["opendota", "liquipedia", "grid"], overrides=overrides,
        limits=PUBLISHED_LIMITS, ticks=True,
    )  # fmt: skip
    assert run.over_limit == {}  # the providers never had to refuse a request

    lp = _times(run, "liquipedia")
    assert len(lp) > 100
    assert min(b - a for a, b in itertools.pairwise(lp)) >= 2 * NS_PER_S  # a spacing, no burst

    od = _times(run, "opendota")
    live = _times(run, "opendota", "/live")
    assert min(b - a for a, b in itertools.pairwise(live)) >= 59 * NS_PER_S  # /live cadence
    for i in range(len(od) - 60):
        assert od[i + 60] - od[i] >= MINUTE  # 60 a minute
    per_day = Counter(t // NS_PER_DAY for t in od)
    assert max(per_day.values()) <= 3_000
    # ~50 minutes at the 60 s cadence, plus the /matches confirmations near each game's end.
    assert len(live) <= 52
    assert len(od) - len(live) >= 2
    # And the feeds still did their job: both games, and the match, confirmed.
    od_results = [e for e in run.match_events("opendota") if e.kind is K.GAME_ENDED]
    assert [e.game_number for e in od_results] == [1, 2]
    finals = run.of(TruthFinal)
    assert finals
    assert not finals[-1].timed_out  # confirmed by a second source


@pytest.mark.asyncio
async def test_a_spent_daily_budget_degrades_the_feed_visibly_and_is_never_exceeded(
    play: Any,
) -> None:
    # A budget of 12 calls a day, the provider enforcing 12 too: the adapter paces its polls
    # over what is left of the day (one every two hours here), so the provider never refuses
    # one.
    budget = 12
    overrides = {"opendota": {**_production("opendota"), "daily_budget": budget}}
    limits = {"opendota": ProviderRule(per_minute=60, per_day=budget)}
    run = await play("dota2_bo3_2_0", ["opendota"], overrides=overrides, limits=limits)
    assert run.over_limit == {}
    assert 0 < len(_times(run, "opendota")) <= budget
    feed = run.feeds["opendota"]
    assert feed.core.limiter.remaining_today() >= 0
    # Force the budget spent: the next round is refused before any request and says so.
    feed.core.limiter.used_today = budget
    before = feed.core.stats.requests
    failures = feed.core.health.failures
    clock = feed.core.clock
    for _ in range(feed.core.settings.down_after_failures):
        clock.advance_ns(MINUTE)  # /live is due again
        await feed.poll_once()
    assert feed.core.stats.throttled == feed.core.settings.down_after_failures  # the metric
    assert feed.core.stats.requests == before  # refused before anything was sent
    assert feed.core.health.failures > failures
    assert feed.core.health.state is FeedState.DOWN  # a FeedStatus the operator sees
