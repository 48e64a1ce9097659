"""Settings: merge order, environment variables, validation messages, invariants."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from polyloly.bot.config_loader import ENV_VARS, load_settings, load_yaml, read_env_file
from polyloly.bot.invariants import INVARIANTS
from polyloly.bot.settings import Settings
from polyloly.domain.fees import FlatPayoutFeeModel, PolymarketFeeModel
from polyloly.domain.truth_table import TruthParams
from polyloly.runtime.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def make_config(tmp_path: Path, overlay: str = "", base: str | None = None) -> Path:
    """A config folder: the repo's base.yaml (or ``base``) plus a ``test`` overlay."""
    folder = tmp_path / "config"
    folder.mkdir(parents=True)
    if base is None:
        shutil.copy(CONFIG / "base.yaml", folder / "base.yaml")
    else:
        (folder / "base.yaml").write_text(base)
    (folder / "test.yaml").write_text(overlay)
    return folder


def load(folder: Path, environ: dict[str, str] | None = None, **kwargs: Any) -> Settings:
    return load_settings(
        env="test", config_dir=folder, environ=environ or {}, env_file=False, **kwargs
    )


def error_lines(folder: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(folder, **kwargs)
    return str(info.value).splitlines()


# -- the shipped configuration ----------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "demo"])
def test_shipped_overlays_load_without_secrets(env: str) -> None:
    settings = load_settings(env=env, config_dir=CONFIG, environ={}, env_file=False)
    assert settings.env == env


def test_dev_is_paper_trading_with_debug_logs() -> None:
    settings = load_settings(env="dev", config_dir=CONFIG, environ={}, env_file=False)
    assert settings.bot.paper_trading
    assert settings.bot.log_level == "DEBUG"


def test_prod_is_live_and_needs_a_key() -> None:
    with pytest.raises(ConfigError, match=r"adapters\.polymarket\.private_key: live trading"):
        load_settings(env="prod", config_dir=CONFIG, environ={}, env_file=False)
    settings = load_settings(
        env="prod", config_dir=CONFIG, environ={"POLYMARKET_PRIVATE_KEY": KEY}, env_file=False
    )
    assert settings.live
    base = Settings()
    assert settings.risk.max_daily_loss_usdc < base.risk.max_daily_loss_usdc  # stricter
    assert settings.storage.event_log_fsync


def test_demo_is_offline_and_every_url_is_loopback() -> None:
    settings = load_settings(env="demo", config_dir=CONFIG, environ={}, env_file=False)
    assert settings.bot.offline
    assert all(p.enabled for p in settings.adapters.esports.providers().values())
    assert "127.0.0.1" in settings.adapters.polymarket.host


def test_base_yaml_states_every_key_with_the_code_defaults(tmp_path: Path) -> None:
    settings = load(make_config(tmp_path))
    assert settings == Settings(env="test")

    def keys(data: Any, prefix: str = "") -> set[str]:
        if not isinstance(data, dict) or not data:
            return {prefix}
        return {k for name, v in data.items() for k in keys(v, f"{prefix}.{name}")}

    written = keys(yaml.safe_load((CONFIG / "base.yaml").read_text()))
    model = keys(Settings().model_dump(mode="json")) - {".env"}
    assert model - written == set()


def test_money_is_exact_and_exposed_as_micros_and_bps() -> None:
    settings = load_settings(env="dev", config_dir=CONFIG, environ={}, env_file=False)
    pair = settings.strategies.pair_arb
    assert pair.pair_cost_cap == Decimal("0.975")
    assert pair.pair_cost_cap_micros == 975_000
    assert settings.risk.max_daily_loss_micros == 200_000_000
    assert settings.risk.min_order_size_micros == 5_000_000
    assert settings.strategies.temporal_arb.min_confidence_bps == 9_000
    assert settings.truth.pending_confidence_bps == 8_000
    assert settings.truth.source_weights_bps["grid"] == 9_000
    assert settings.fees.rate_micros == 30_000
    assert settings.fees.fee_model() == PolymarketFeeModel(rate=30_000, exponent=1)


def test_flat_payout_fee_model_is_selectable(tmp_path: Path) -> None:
    folder = make_config(tmp_path, "fees: {model: flat_payout, rate: 0.02}")
    assert load(folder).fees.fee_model() == FlatPayoutFeeModel(payout_fee=20_000)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(pydantic.ValidationError):
        settings.risk.max_daily_loss_usdc = Decimal(1)  # type: ignore[misc]


# -- merge order ----------------------------------------------------------------------------


def test_merge_order_base_then_overlay_then_dotenv_then_environment_then_overrides(
    tmp_path: Path,
) -> None:
    folder = make_config(tmp_path, "risk:\n  max_daily_loss_usdc: 150\n")
    assert load(folder).risk.max_daily_loss_usdc == 150
    # the overlay deep-merges: its siblings keep base values
    assert load(folder).risk.max_total_exposure_usdc == 5000
    dotenv = tmp_path / ".env"
    dotenv.write_text("MAX_DAILY_LOSS=140\nLOG_LEVEL=warning\n")
    from_file = load_settings(env="test", config_dir=folder, environ={})
    assert from_file.risk.max_daily_loss_usdc == 140
    assert from_file.bot.log_level == "WARNING"
    environ = {"MAX_DAILY_LOSS": "120"}
    merged = load_settings(env="test", config_dir=folder, environ=environ)
    assert merged.risk.max_daily_loss_usdc == 120
    assert merged.bot.log_level == "WARNING"  # still from .env
    overridden = load_settings(
        env="test",
        config_dir=folder,
        environ=environ,
        overrides={"risk.max_daily_loss_usdc": "110", "bot": {"name": "x"}},
    )
    assert overridden.risk.max_daily_loss_usdc == 110
    assert overridden.bot.name == "x"
    assert overridden.bot.log_level == "WARNING"


def test_env_name_comes_from_polyloly_env(tmp_path: Path) -> None:
    folder = make_config(tmp_path)
    (folder / "other.yaml").write_text("bot: {name: other}")
    settings = load_settings(config_dir=folder, environ={"POLYLOLY_ENV": "other"}, env_file=False)
    assert (settings.env, settings.bot.name) == ("other", "other")
    with pytest.raises(ConfigError, match=r"env: no overlay nope\.yaml .*have: other, test"):
        load_settings(env="nope", config_dir=folder, environ={}, env_file=False)
    with pytest.raises(ConfigError, match="not a valid environment name"):
        load_settings(env="../etc", config_dir=folder, environ={}, env_file=False)


def test_config_dir_comes_from_polyloly_config_dir(tmp_path: Path) -> None:
    folder = make_config(tmp_path, "bot: {name: from-env-dir}")
    environ = {"POLYLOLY_CONFIG_DIR": str(folder), "POLYLOLY_ENV": "test"}
    assert load_settings(environ=environ, env_file=False).bot.name == "from-env-dir"


# -- environment variables ------------------------------------------------------------------

SAMPLES: dict[str, tuple[str, Any]] = {
    "POLYMARKET_PRIVATE_KEY": (KEY, KEY),
    "POLYMARKET_API_KEY": ("api-key-1234", "api-key-1234"),
    "POLYMARKET_API_SECRET": ("c2VjcmV0LXNlY3JldA==", "c2VjcmV0LXNlY3JldA=="),
    "POLYMARKET_API_PASSPHRASE": ("pass-phrase-99", "pass-phrase-99"),
    "POLYMARKET_FUNDER": ("0x" + "ab" * 20, "0x" + "ab" * 20),
    "POLYMARKET_SIGNATURE_TYPE": ("2", 2),
    "POLYMARKET_RPC_URL": (
        "https://polygon.example/v2/rpc-key-123",
        "https://polygon.example/v2/rpc-key-123",
    ),
    "POLYMARKET_BUILDER_API_KEY": ("builder-key-1", "builder-key-1"),
    "POLYMARKET_BUILDER_SECRET": ("YnVpbGRlci1zZWNyZXQ=", "YnVpbGRlci1zZWNyZXQ="),
    "POLYMARKET_BUILDER_PASSPHRASE": ("builder-pass-1", "builder-pass-1"),
    "OPENDOTA_API_KEY": ("od-key-123", "od-key-123"),
    "PANDASCORE_API_KEY": ("ps-key-123", "ps-key-123"),
    "GRID_API_KEY": ("grid-key-123", "grid-key-123"),
    "LIQUIPEDIA_API_KEY": ("lp-key-123", "lp-key-123"),
    "LOLESPORTS_API_KEY": ("le-key-123", "le-key-123"),
    "DATABASE_URL": (
        "postgresql+asyncpg://u:pw@db:5432/p",
        "postgresql+asyncpg://u:pw@db:5432/p",
    ),
    "REDIS_URL": ("redis://localhost:6379/0", "redis://localhost:6379/0"),
    "TELEGRAM_BOT_TOKEN": ("123:telegram-token", "123:telegram-token"),
    "TELEGRAM_CHAT_ID": ("-100123", "-100123"),
    "DISCORD_WEBHOOK_URL": (
        "https://discord.com/api/webhooks/1/abc",
        "https://discord.com/api/webhooks/1/abc",
    ),
    "MAX_DAILY_LOSS": ("75.5", Decimal("75.5")),
    "MAX_POSITION_PER_MARKET": ("1600", Decimal(1600)),
    "PAPER_TRADING": ("false", False),
    "LOG_LEVEL": ("debug", "DEBUG"),
    "POLYLOLY_CONTROL_TOKEN": ("control-token-0123456789", "control-token-0123456789"),
    "POLYLOLY_INSTANCE_ID": ("east-1", "east-1"),
}


def _reveal(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, pydantic.SecretStr) else value


def test_every_env_var_has_a_sample() -> None:
    assert set(SAMPLES) == set(ENV_VARS)


@pytest.mark.parametrize("name", sorted(ENV_VARS))
def test_every_env_var_lands_on_its_key(name: str, tmp_path: Path) -> None:
    raw, expected = SAMPLES[name]
    environ = {name: raw}
    if name == "PAPER_TRADING":
        environ["POLYMARKET_PRIVATE_KEY"] = KEY  # live trading needs a key
    if name.startswith("POLYMARKET_API_"):  # the credentials come as a set
        environ |= {n: SAMPLES[n][0] for n in SAMPLES if n.startswith("POLYMARKET_API_")}
    settings = load(make_config(tmp_path), environ)
    value: Any = settings
    for part in ENV_VARS[name]:
        value = getattr(value, part)
    assert _reveal(value) == expected


def test_empty_env_vars_count_as_unset(tmp_path: Path) -> None:
    settings = load(make_config(tmp_path), dict.fromkeys(ENV_VARS, ""))
    assert settings == Settings(env="test")


def test_env_example_lists_every_variable_with_an_empty_value() -> None:
    values = read_env_file(REPO / ".env.example")
    assert set(ENV_VARS) | {"POLYLOLY_ENV", "POLYLOLY_CONFIG_DIR"} <= set(values)
    assert all(value == "" for value in values.values())


def test_read_env_file_syntax(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# comment\n\nexport A=1\nB = 'two words'\nC=\"x # not a comment\"\n"
        "D=plain # trailing comment\nE=\nnot a pair\n"
    )
    assert read_env_file(path) == {
        "A": "1",
        "B": "two words",
        "C": "x # not a comment",
        "D": "plain",
        "E": "",
    }


# -- validation messages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ("risk: {max_daily_los_usdc: 5}", "risk.max_daily_los_usdc: unknown key (did you mean"),
        ("bogus: {a: 1}", "bogus: unknown key"),
        ("risk: {max_daily_loss_usdc: -5}", "risk.max_daily_loss_usdc: must be greater than 0"),
        ("adapters: {polymarket: {host: ftp://x}}", "adapters.polymarket.host: must be a http"),
        (
            "adapters: {polymarket: {ws_market_url: https://x}}",
            "adapters.polymarket.ws_market_url: must be a ws/wss URL",
        ),
        (
            "risk: {max_open_orders_per_market: five}",
            "risk.max_open_orders_per_market: must be a valid integer",
        ),
        ("risk: {max_open_orders_per_market: true}", "risk.max_open_orders_per_market: must be"),
        ("bot: {paper_trading: maybe}", "bot.paper_trading: must be a valid boolean"),
        ("bot: {log_level: LOUD}", "bot.log_level: must be 'DEBUG'"),
        ("risk: {min_order_size_usdc: 0.0000001}", "risk.min_order_size_usdc: must have no more"),
        ("strategies: {pair_arb: {pair_cost_cap: 1.5}}", "strategies.pair_arb.pair_cost_cap:"),
        ("truth: {source_weights: {grid: 2}}", "truth.source_weights.grid: must be less than"),
        ("alerts: {urls: [5]}", "alerts.urls[0]: must be a valid string"),
        ("metrics: {port: 70000}", "metrics.port: must be less than or equal to 65535"),
    ],
)
def test_bad_values_name_the_key_path(overlay: str, expected: str, tmp_path: Path) -> None:
    lines = error_lines(make_config(tmp_path, overlay))
    assert any(line.startswith(expected) for line in lines), lines
    assert all(line.endswith("[test.yaml]") for line in lines), lines


def test_message_shows_the_offending_value_and_its_source(tmp_path: Path) -> None:
    lines = error_lines(make_config(tmp_path), environ={"MAX_DAILY_LOSS": "-5"})
    assert lines == ["risk.max_daily_loss_usdc: must be greater than 0 (got '-5') [MAX_DAILY_LOSS]"]


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    overlay = "risk: {max_daily_loss_usdc: -1, max_slippage_bps: -1}\nmetrics: {port: -1}"
    assert len(error_lines(make_config(tmp_path, overlay))) == 3


def test_secrets_never_appear_in_error_messages(tmp_path: Path) -> None:
    secret = "0xdeadbeef" + "1" * 50  # not 64 hex digits: invalid, must not be echoed
    stray = "f" * 64
    overlay = f"adapters: {{polymarket: {{privat_key: '{stray}'}}}}"
    lines = error_lines(make_config(tmp_path, overlay), environ={"POLYMARKET_PRIVATE_KEY": secret})
    text = "\n".join(lines)
    assert "adapters.polymarket.private_key: must be 32 bytes of hex" in text
    assert "adapters.polymarket.privat_key: unknown key (did you mean 'private_key'?)" in text
    assert secret not in text
    assert stray not in text
    url_lines = error_lines(
        make_config(tmp_path / "b"), environ={"DATABASE_URL": "mysql://u:pw@h/db"}
    )
    assert "pw" not in "\n".join(url_lines)
    assert url_lines[0].startswith("storage.database_url: must be a database URL")


def test_yaml_floats_are_exact_decimals_and_duplicates_are_rejected() -> None:
    assert load_yaml("a: 0.1") == {"a": Decimal("0.1")}
    assert load_yaml("a: 1_000.5") == {"a": Decimal("1000.5")}
    with pytest.raises(ConfigError, match=r"x\.yaml: invalid YAML: .*duplicate key 'a'"):
        load_yaml("a: 1\na: 2\n", "x.yaml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_yaml("a: [1, 2", "x.yaml")


def test_overlay_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"test\.yaml: the top level must be a mapping"):
        load(make_config(tmp_path, "- a\n- b\n"))


def test_missing_base_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no base\.yaml"):
        load_settings(env="dev", config_dir=tmp_path, environ={}, env_file=False)


# -- cross-field invariants -----------------------------------------------------------------

_LIVE = {"bot": {"paper_trading": False}}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"risk": {"max_position_per_market_usdc": 6000}},
            "risk.max_position_per_market_usdc: must be <= risk.max_total_exposure_usdc "
            "(6000 > 5000)",
        ),
        (
            {"risk": {"min_order_size_usdc": 200}},
            "risk.min_order_size_usdc: must be <= risk.max_single_order_usdc",
        ),
        (
            {"strategies": {"pair_arb": {"step_usdc": 150}}},
            "strategies.pair_arb.step_usdc: must be <= risk.max_single_order_usdc",
        ),
        (
            {"strategies": {"pair_arb": {"max_total_cost_usdc": 2000}}},
            "strategies.pair_arb.max_total_cost_usdc: must be <= risk.max_position_per_market_usdc",
        ),
        (
            {"strategies": {"temporal_arb": {"enabled": True, "fixed_size_usdc": 300}}},
            "strategies.temporal_arb.fixed_size_usdc: must be <= risk.max_single_order_usdc",
        ),
        (_LIVE, "adapters.polymarket.private_key: live trading (bot.paper_trading: false)"),
        (
            {"adapters": {"polymarket": {"api_key": "k" * 10}}},
            "adapters.polymarket.api_secret: is required when any API credential is set",
        ),
        (
            {"adapters": {"polymarket": {"private_key": KEY, "signature_type": 2}}},
            "adapters.polymarket.funder: is required with signature_type 2",
        ),
        (
            {"truth": {"pending_confidence": "0.95"}},
            "truth.pending_confidence: must be < truth.final_confidence (0.95 >= 0.90)",
        ),
        (
            {"truth": {"source_weights": {"hltv": "0.5"}}},
            "truth.source_weights.hltv: unknown source",
        ),
        (
            {"adapters": {"esports": {"pandascore": {"enabled": True}}}},
            "adapters.esports.pandascore.api_key: is required when the provider is enabled",
        ),
        (
            {"truth": {"source_weights": {"opendota": 0}}},
            "truth.source_weights.opendota: an enabled provider needs a weight > 0",
        ),
        (
            {"teams": {"aliases": {"Team Liquid": ["TL"], "Team Lynx": ["tl"]}}},
            "teams.aliases.Team Lynx: 'tl' already belongs to 'Team Liquid'",
        ),
        (
            {"bot": {"offline": True}},
            "adapters.polymarket.host: must be a loopback URL",
        ),
        (
            {"control": {"host": "0.0.0.0"}},  # noqa: S104 - the misconfiguration under test
            "control.host: 0.0.0.0 is reachable from other machines: set control.allow_remote",
        ),
        (
            {"control": {"host": "0.0.0.0", "allow_remote": True}},  # noqa: S104
            "control.token: needs at least 16 characters when control.host is 0.0.0.0",
        ),
        ({"control": {"port": 9108}}, "control.port: is also metrics.port (9108)"),
        ({"control": {"token": "short"}}, "control.token: needs at least 16 characters"),
        (
            {"strategies": {"temporal_arb": {"min_sources": 1, "min_confidence": "0.80"}}},
            "strategies.temporal_arb.min_confidence: must be > truth.pending_confidence",
        ),
        (
            {"strategies": {"temporal_arb": {"min_sources": 0}}},
            "strategies.temporal_arb.min_sources:",
        ),
        ({"truth": {"confirm_only": ["hltv"]}}, "truth.confirm_only: unknown source 'hltv'"),
    ],
)
def test_invariants_name_the_key(overrides: dict[str, Any], expected: str, tmp_path: Path) -> None:
    lines = error_lines(make_config(tmp_path), overrides=overrides)
    assert any(line.startswith(expected) for line in lines), lines


@pytest.mark.parametrize(
    ("pending", "final", "accepted"),
    [("0.80", "0.90", True), ("0.8999", "0.90", True), ("0.90", "0.90", False)],
)
def test_truth_thresholds_are_strict_like_the_truth_engine(
    pending: str, final: str, accepted: bool, tmp_path: Path
) -> None:
    overrides = {"truth": {"pending_confidence": pending, "final_confidence": final}}
    if not accepted:
        lines = error_lines(make_config(tmp_path), overrides=overrides)
        rule = f"truth.pending_confidence: must be < truth.final_confidence ({pending} >= {final})"
        assert f"{rule} [overrides]" in lines, lines
        with pytest.raises(ValueError, match="pending_confidence < final_confidence"):
            TruthParams.from_config(
                source_weights={}, pending_confidence=pending, final_confidence=final
            )
        return
    truth = load(make_config(tmp_path), overrides=overrides).truth
    params = TruthParams.from_config(
        source_weights=truth.source_weights,
        pending_confidence=truth.pending_confidence,
        final_confidence=truth.final_confidence,
    )
    assert (params.pending_confidence, params.final_confidence) == (
        truth.pending_confidence_bps,
        truth.final_confidence_bps,
    )


def test_invariants_pass_on_good_combinations(tmp_path: Path) -> None:
    overrides = {
        "bot": {"paper_trading": False},
        "adapters": {
            "polymarket": {
                "private_key": KEY,
                "signature_type": 1,
                "funder": "0x" + "12" * 20,
                "api_key": "k" * 10,
                "api_secret": "s" * 10,
                "api_passphrase": "p" * 10,
            }
        },
        "control": {"host": "0.0.0.0", "token": "t" * 16, "allow_remote": True},  # noqa: S104
        "teams": {"aliases": {"Team Liquid": ["TL", "Liquid"], "OG": ["OG Esports"]}},
    }
    settings = load(make_config(tmp_path), overrides=overrides)
    assert settings.live
    assert all(check(settings) == [] for check in INVARIANTS)


def test_disabled_strategy_sizes_are_not_checked(tmp_path: Path) -> None:
    overrides = {"strategies": {"temporal_arb": {"enabled": False, "fixed_size_usdc": 300}}}
    assert load(make_config(tmp_path), overrides=overrides).strategies.temporal_arb.enabled is False


# -- secrets --------------------------------------------------------------------------------


def test_secret_values_and_masked_dump(tmp_path: Path) -> None:
    environ = {
        "POLYMARKET_PRIVATE_KEY": KEY,
        "TELEGRAM_BOT_TOKEN": "123:telegram-token",
        "TELEGRAM_CHAT_ID": "42",
    }
    settings = load(make_config(tmp_path), environ)
    assert KEY in settings.secret_values()
    assert "123:telegram-token" in settings.secret_values()
    dumped = yaml.safe_dump(settings.masked())
    assert KEY not in dumped
    assert "telegram-token" not in dumped
    assert settings.masked()["adapters"]["polymarket"]["private_key"] == "**********"
    assert KEY not in repr(settings)
    assert settings.alerts.apprise_urls() == ["tgram://123:telegram-token/42"]


def test_esports_bindings_pin_provider_ids_and_are_no_provider(tmp_path: Path) -> None:
    overrides = {"adapters": {"esports": {"bindings": {"lol-t1-gen": {"grid": 2578928}}}}}
    esports = load(make_config(tmp_path), overrides=overrides).adapters.esports
    assert esports.bindings == {"lol-t1-gen": {"grid": "2578928"}}
    assert "bindings" not in esports.providers()
