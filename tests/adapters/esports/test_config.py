"""Settings: defaults per provider, overrides, validation naming the key, secrets hidden."""

from __future__ import annotations

import pytest

from polyloly.adapters.esports import (
    MatchDirectory,
    build_directory,
    build_feeds,
    load_esports_settings,
    truth_params,
)
from polyloly.adapters.esports.config import PROVIDER_DEFAULTS, ProviderSettings
from polyloly.runtime.clock import VirtualClock
from polyloly.runtime.errors import ConfigError
from polyloly.runtime.sleep import VirtualSleeper


def test_defaults_and_overrides() -> None:
    s = load_esports_settings(
        {
            "providers": {"opendota": {"api_key": "sekrit", "poll_interval_ms": 20_000}},
            "team_aliases": {"T1": ["SKT"]},
            "matches": [
                {"match_id": "m", "game": "lol", "team_a": "T1", "team_b": "GEN",
                 "provider_ids": {"pandascore": 1000450}}
            ],
        }
    )  # fmt: skip
    od = s.provider("opendota")
    assert od.base_url == "https://api.opendota.com/api"
    assert od.poll_interval_ms == 20_000
    assert od.rate_limit_requests == 60
    assert od.rate_limit_window_ms == 60_000
    assert "sekrit" not in repr(od)
    assert "sekrit" not in repr(s)
    assert s.matches[0].provider_ids == {"pandascore": "1000450"}
    lp = s.provider("liquipedia")  # not configured: its defaults
    assert lp.confirm_only
    assert lp.rate_limit_requests == 1
    assert lp.rate_limit_window_ms == 2_000
    assert s.enabled() == ["opendota"]
    assert set(PROVIDER_DEFAULTS) == {
        "opendota",
        "pandascore",
        "grid",
        "liquipedia",
        "lolesports",
        "polymarket_sports",
    }


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"providers": {"nope": {}}}, "unknown provider"),
        ({"providers": {"grid": {"poll_interval_ms": 0}}}, "poll_interval_ms"),
        ({"providers": {"grid": {"weight_bp": 12_000}}}, "weight_bp"),
        ({"providers": {"grid": {"poll_interval_ms": "soon"}}}, "providers.grid"),
        ({"matches": [{"match_id": "a", "game": "cs2", "team_a": "x", "team_b": "y"}]}, "game"),
        (
            {
                "matches": [
                    {
                        "match_id": "a",
                        "game": "lol",
                        "team_a": "x",
                        "team_b": "y",
                        "provider_ids": {"grid": "1"},
                    },
                    {
                        "match_id": "b",
                        "game": "lol",
                        "team_a": "x",
                        "team_b": "y",
                        "provider_ids": {"grid": "1"},
                    },
                ]
            },
            "bound to",
        ),
        ({"match_window_s": 0}, "match_window_s"),
    ],
)
def test_bad_config_names_the_key(raw: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_esports_settings(raw)


def test_truth_params_take_weights_and_confirm_only_from_settings() -> None:
    s = load_esports_settings(
        {"providers": {"grid": {"weight_bp": 9_500}, "opendota": {"confirm_only": True}}}
    )
    params = truth_params(s)
    assert params.weight("grid") == 9_500
    assert params.weight("liquipedia") == PROVIDER_DEFAULTS["liquipedia"]["weight_bp"]
    assert params.confirm_only == frozenset({"liquipedia", "opendota", "polymarket_sports"})
    assert isinstance(s.provider("grid"), ProviderSettings)


@pytest.mark.asyncio
async def test_build_feeds_builds_the_enabled_providers_only() -> None:
    settings = load_esports_settings(
        {"providers": {"grid": {}, "opendota": {}, "liquipedia": {"enabled": False}}}
    )
    clock = VirtualClock(0)
    feeds = build_feeds(settings, clock=clock, sleeper=VirtualSleeper(clock), publish=print)
    assert sorted(f.source for f in feeds) == ["grid", "opendota"]
    assert isinstance(build_directory(settings), MatchDirectory)
    for feed in feeds:
        await feed.aclose()
