"""The settings keys the commands read (demo, backtest, tick, strategies) and the esports URLs."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polyloly.adapters.esports.config import PROVIDER_DEFAULTS
from polyloly.bot.cli import build_app
from polyloly.bot.config_loader import load_settings
from polyloly.bot.config_map import execution_config, feed_settings, node_params, presign_config
from polyloly.bot.demo import demo_options
from polyloly.bot.settings import Settings
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE
from polyloly.runtime.errors import ConfigError, ExitCode

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
MOUNTS = {"": "polyloly.bot.cli_run:app"}


def load(env: str = "dev", **overrides: Any) -> Settings:
    return load_settings(
        env=env, config_dir=CONFIG, environ={}, env_file=False, overrides=overrides
    )


def problems(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(**overrides)
    return str(info.value)


def test_base_yaml_holds_every_new_key_at_its_default() -> None:
    shipped, model = load(), Settings()
    for section in ("demo", "backtest"):
        assert getattr(shipped, section) == getattr(model, section)
    assert shipped.bot.tick_interval_s == model.bot.tick_interval_s == 1.0
    assert shipped.strategies.pair_arb.delayed_markets is False
    ta = shipped.strategies.temporal_arb
    assert (ta.order_type, ta.presign_refresh_s, ta.presign_max_age_s) == ("FAK", 20, 45)
    assert shipped.demo.scenarios == ("lol_bo3_pause", "dota2_bo3_2_0")
    assert (shipped.demo.scenario_s, shipped.demo.market_lag_s) == (60.0, 4.0)
    assert (shipped.demo.warmup_s, shipped.demo.seed) == (3.0, 7)
    bt = shipped.backtest
    assert (bt.mode, bt.market_delay_ms, bt.esports_delay_ms, bt.jitter_ms) == ("exact", 0, 0, 0)
    assert (bt.request_ms, bt.reply_ms) == (25, 25)
    assert bt.collateral_micros == 10_000 * SCALE


def test_the_demo_overlay_ticks_faster() -> None:
    assert load("demo").bot.tick_interval_s == 0.5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"strategies.temporal_arb.presign_refresh_s": 45},
            "strategies.temporal_arb.presign_refresh_s: must be < strategies.temporal_arb."
            "presign_max_age_s (45 >= 45)",
        ),
        ({"strategies.temporal_arb.order_type": "GTC"}, "strategies.temporal_arb.order_type"),
        (
            {"adapters.polymarket.heartbeat_interval_s": 10},
            "adapters.polymarket.heartbeat_interval_s: must be < "
            "adapters.polymarket.heartbeat_window_s (10.0 >= 10.0)",
        ),
        (
            {"adapters.polymarket.heartbeat_attempt_timeout_s": 6},
            "adapters.polymarket.heartbeat_attempt_timeout_s: must be <= half of "
            "adapters.polymarket.heartbeat_window_s (6.0 > 5)",
        ),
        ({"strategies.temporal_arb.presign_max_age_s": 0}, "presign_max_age_s"),
        ({"bot.tick_interval_s": 0}, "bot.tick_interval_s"),
        ({"backtest.mode": "nope"}, "backtest.mode"),
        ({"backtest.request_ms": -1}, "backtest.request_ms"),
        ({"backtest.jitter_ms": True}, "backtest.jitter_ms"),
        ({"backtest.collateral_usdc": "0"}, "backtest.collateral_usdc"),
        ({"demo.scenarios": []}, "demo.scenarios"),
        ({"demo.market_lag_s": -1}, "demo.market_lag_s"),
        ({"demo.seed": -3}, "demo.seed"),
        ({"demo.nope": 1}, "demo.nope"),
    ],
)
def test_bad_values_are_refused_with_their_key(overrides: dict[str, Any], message: str) -> None:
    assert message in problems(**overrides)


def test_settings_are_frozen() -> None:
    settings = load()
    with pytest.raises(ValueError, match="frozen"):
        settings.backtest.mode = "simulated"
    with pytest.raises(ValueError, match="frozen"):
        settings.demo.seed = 1


def test_strategy_keys_reach_the_logged_parameters_and_the_pool() -> None:
    settings = load(
        "demo",
        **{
            "strategies.temporal_arb.order_type": "fok",
            "strategies.temporal_arb.presign_orders": False,
            "strategies.temporal_arb.presign_refresh_s": 7,
            "strategies.temporal_arb.presign_max_age_s": 11,
            "strategies.pair_arb.delayed_markets": True,
        },
    )
    params = node_params(settings)
    assert params.temporal_arb is not None
    assert params.temporal_arb.order_type is OrderType.FOK
    assert params.temporal_arb.presign is False
    assert params.pair_arb_delayed_markets is True
    assert (params.presign_refresh_s, params.presign_max_age_s) == (7, 11)
    pool = presign_config(settings)
    assert (pool.refresh_after_s, pool.max_age_s) == (7, 11)
    assert execution_config(settings).presign == pool
    assert execution_config(settings).risk == params.risk
    defaults = node_params(load("demo"))
    assert defaults.temporal_arb is not None
    assert defaults.temporal_arb.presign is True
    assert defaults.temporal_arb.order_type is OrderType.FAK


def test_demo_options_come_from_the_settings_and_the_command_line_wins() -> None:
    settings = load("demo", **{"demo.seed": 11, "demo.market_lag_s": 2, "demo.scenario_s": 30})
    options = demo_options(settings.demo)
    assert (options.seed, options.market_lag_s, options.scenario_s) == (11, 2.0, 30.0)
    assert options.scenarios == settings.demo.scenarios
    assert options.warmup_s == 3.0
    given = demo_options(settings.demo, seed=5, scenario_s=15.0, speed=Fraction(4))
    assert (given.seed, given.scenario_s, given.speed) == (5, 15.0, Fraction(4))
    assert given.market_lag_s == 2.0  # not given on the command line: the setting
    assert demo_options(settings.demo, seed=None).seed == 11  # an option not given


def test_backtest_reads_its_settings_and_options_override_them(tmp_path: Path) -> None:
    app = build_app(MOUNTS)
    logs = tmp_path / "empty"
    logs.mkdir()
    base = ["backtest", str(logs), "--config-dir", str(CONFIG), "--env", "dev"]
    simulated = CliRunner().invoke(app, [*base, "--set", "backtest.mode=simulated"])
    assert simulated.exit_code == 0, simulated.output
    assert "mode simulated" in simulated.output
    exact = CliRunner().invoke(app, [*base, "--set", "backtest.mode=simulated", "--mode", "exact"])
    assert exact.exit_code == ExitCode.NOTHING_TO_COMPARE, exact.output  # an empty log
    assert "mode exact" in exact.output
    bad_setting = CliRunner().invoke(app, [*base, "--set", "backtest.reply_ms=-5"])
    assert bad_setting.exit_code == 2
    assert "backtest.reply_ms" in bad_setting.output
    bad_option = CliRunner().invoke(app, [*base, "--request-ms", "-5"])
    assert bad_option.exit_code == 2


# -- esports URLs: the settings hold what the adapters take --------------------------------------


def test_esports_urls_pass_through_unchanged() -> None:
    for env in ("dev", "demo"):
        keyed = ("grid", "liquipedia")
        on = {f"adapters.esports.{p}.enabled": True for p in keyed}
        settings = load(env, **on, **{f"adapters.esports.{p}.api_key": "k" for p in keyed})
        feeds = feed_settings(settings)
        for name, cfg in settings.adapters.esports.providers().items():
            if not cfg.enabled:
                continue
            provider = feeds.provider(name)
            assert provider.base_url == cfg.base_url
            for key in ("ws_url", "feed_url"):
                if getattr(cfg, key, ""):
                    assert getattr(provider, key) == getattr(cfg, key)


def test_base_yaml_esports_urls_are_the_adapters_defaults() -> None:
    providers = load().adapters.esports.providers()
    for name, defaults in PROVIDER_DEFAULTS.items():
        for key in ("base_url", "ws_url", "feed_url"):
            if key in defaults:
                assert getattr(providers[name], key) == defaults[key], (name, key)


@pytest.mark.parametrize(
    ("key", "url", "suffix"),
    [
        ("grid.base_url", "https://api.grid.gg/live-data-feed/series-state/graphql",
         "/live-data-feed/series-state/graphql"),
        ("grid.ws_url", "wss://api.grid.gg/live-data-feed/series", "/live-data-feed/series"),
        ("liquipedia.base_url", "https://api.liquipedia.net/api/v3/", "/api/v3"),
        ("lolesports.base_url", "https://esports-api.lolesports.com/persisted/gw", "/persisted/gw"),
        ("lolesports.feed_url", "https://feed.lolesports.com/livestats/v1", "/livestats/v1"),
    ],
)  # fmt: skip
def test_a_full_endpoint_url_is_refused_with_the_fix(key: str, url: str, suffix: str) -> None:
    text = problems(**{f"adapters.esports.{key}": url})
    assert f"adapters.esports.{key}: must be the base URL the adapter appends {suffix}" in text


@pytest.mark.parametrize("key", ["grid.central_data_url", "liquipedia.wiki_url"])
def test_urls_no_adapter_takes_are_gone(key: str) -> None:
    assert f"adapters.esports.{key}" in problems(**{f"adapters.esports.{key}": "https://x.org"})


def test_money_stays_exact() -> None:
    settings = load(**{"backtest.collateral_usdc": "1234.567891"})
    assert settings.backtest.collateral_usdc == Decimal("1234.567891")
    assert settings.backtest.collateral_micros == 1_234_567_891
