"""The CLI root: help, version, ``config check``, and mounting other groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from polyloly import __version__
from polyloly.bot.cli import app, build_app, parse_sets
from polyloly.bot.config_loader import ENV_VARS
from polyloly.runtime.errors import ConfigError, ExitCode

REPO = Path(__file__).resolve().parents[2]
KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def clean_env(**values: str) -> dict[str, str | None]:
    """An environment with none of polyloly's variables set except ``values``."""
    env: dict[str, str | None] = dict.fromkeys(
        [*ENV_VARS, "POLYLOLY_ENV", "POLYLOLY_CONFIG_DIR"], None
    )
    env.update(values)
    return env


def check(runner: CliRunner, *args: str, **env: str) -> tuple[int, str, str]:
    no_dotenv = str(REPO / "tests" / "no-such.env")
    result = runner.invoke(
        app,
        ["config", "check", "--config-dir", str(REPO / "config"), "--env-file", no_dotenv, *args],
        env=clean_env(**env),
    )
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_the_groups(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "config" in result.stdout
    assert runner.invoke(app, []).exit_code in (0, 2)  # no command: help is shown


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"polyloly {__version__}"


def test_config_check_prints_the_merged_config_with_secrets_masked(runner: CliRunner) -> None:
    code, out, _ = check(runner, "--env", "prod", POLYMARKET_PRIVATE_KEY=KEY, MAX_DAILY_LOSS="90")
    assert code == 0, out
    assert "env: prod" in out
    assert "max_daily_loss_usdc: '90'" in out
    assert "private_key: '**********'" in out
    assert KEY not in out
    assert KEY.removeprefix("0x") not in out
    assert out.rstrip().endswith("configuration OK")


def test_config_check_env_from_environment(runner: CliRunner) -> None:
    code, out, _ = check(runner, POLYLOLY_ENV="demo")
    assert code == 0
    assert "env: demo" in out


def test_config_check_fails_with_lines_naming_the_key(runner: CliRunner) -> None:
    code, out, err = check(runner, "--env", "prod")
    assert code == ExitCode.CONFIG
    assert "adapters.polymarket.private_key: live trading" in err
    assert "configuration OK" not in out


def test_config_check_reports_unknown_keys_and_bad_values(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "base.yaml").write_text((REPO / "config" / "base.yaml").read_text())
    (folder / "dev.yaml").write_text("risk:\n  max_daily_loss_usdc: -5\n  max_dayly: 1\n")
    result = runner.invoke(
        app,
        ["config", "check", "--config-dir", str(folder), "--env-file", str(tmp_path / "none")],
        env=clean_env(),
    )
    assert result.exit_code == ExitCode.CONFIG
    assert "risk.max_daily_loss_usdc: must be greater than 0 (got -5) [dev.yaml]" in result.stderr
    assert "risk.max_dayly: unknown key" in result.stderr


def test_config_check_set_overrides(runner: CliRunner) -> None:
    code, _, err = check(runner, "--set", "risk.max_daily_loss_usdc=-1")
    assert code == ExitCode.CONFIG
    assert "risk.max_daily_loss_usdc: must be greater than 0 (got '-1') [overrides]" in err
    code, out, _ = check(runner, "--set", "alerts.urls=[json://127.0.0.1/x]")
    assert code == 0
    assert "- '**********'" in out


def test_parse_sets() -> None:
    assert parse_sets(["a.b=0x12", "c=null", "d=[1, 2]", "e="]) == {
        "a.b": "0x12",
        "c": None,
        "d": [1, 2],
        "e": "",
    }
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_sets(["novalue"])


def test_other_groups_mount_by_table(runner: CliRunner) -> None:
    mounted = build_app({"cfg": "polyloly.bot.cli:config_app"})
    result = runner.invoke(mounted, ["--help"])
    assert "cfg" in result.stdout
    result = runner.invoke(
        mounted,
        ["cfg", "check", "--config-dir", str(REPO / "config"), "--env-file", "/nonexistent"],
        env=clean_env(),
    )
    assert result.exit_code == 0
    with pytest.raises(TypeError, match=r"not a typer\.Typer"):
        build_app({"bad": "polyloly.bot.cli:main"})


def test_app_accepts_add_typer() -> None:
    extra = typer.Typer()

    @extra.command()
    def hello() -> None:
        typer.echo("hi")

    root = build_app({})
    root.add_typer(extra, name="extra")
    assert CliRunner().invoke(root, ["extra", "hello"]).stdout.strip() == "hi"
