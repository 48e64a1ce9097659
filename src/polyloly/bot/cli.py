"""The ``polyloly`` command: a typer root that other parts mount their groups on.

``polyloly --help``, ``polyloly --version`` and ``polyloly config check`` live here. Other
modules expose their own ``typer.Typer`` and are mounted by adding one row to
:data:`MOUNTS` (``"name": "package.module:attribute"``); :func:`build_app` imports and
mounts them, so this file never grows with their code. Commands that need configuration
reuse :data:`EnvOption`, :data:`ConfigDirOption`, :data:`SetOption` and
:func:`settings_from_options`, so every command reads settings the same way.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from polyloly import __version__
from polyloly.bot.errors import ConfigError
from polyloly.bot.settings import Settings, load_settings, load_yaml, resolve_config_dir

__all__ = [
    "CONFIG_ERROR_EXIT",
    "MOUNTS",
    "ConfigDirOption",
    "EnvFileOption",
    "EnvOption",
    "SetOption",
    "app",  # noqa: F822 - provided lazily by the module __getattr__ below
    "build_app",
    "main",
    "parse_sets",
    "settings_from_options",
]

CONFIG_ERROR_EXIT = 2
"""Exit status when the configuration is invalid."""

MOUNTS: dict[str, str] = {
    "+run": "polyloly.bot.cli_run:app",
    "+ops": "polyloly.bot.cli_ops:app",
    "sim": "polyloly.sim.cli:app",
}
"""Sub-apps to mount: ``{"sim": "polyloly.sim.cli:app"}`` adds the group ``polyloly sim …``;
a name starting with ``+`` merges the sub-app's commands into the root instead."""

EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        envvar="POLYLOLY_ENV",
        help="Config overlay: dev, prod, demo.",
        show_default=False,
    ),
]
ConfigDirOption = Annotated[
    Path | None,
    typer.Option(
        "--config-dir",
        envvar="POLYLOLY_CONFIG_DIR",
        help="Folder holding base.yaml and the overlays.",
        file_okay=False,
        show_default=False,
    ),
]
EnvFileOption = Annotated[
    Path | None,
    typer.Option(
        "--env-file", help="A .env file (default: next to the config folder).", dir_okay=False
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override one key, e.g. --set risk.max_daily_loss_usdc=50 (repeatable).",
    ),
]


def parse_sets(pairs: list[str] | None) -> dict[str, Any]:
    """Turn ``["a.b=1", …]`` into dotted overrides.

    Values stay text, like environment variables (so ``0x…`` keys are not read as numbers),
    except ``null`` and YAML flow lists or mappings (``[a, b]``, ``{x: 1}``).
    """
    overrides: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        structured = raw == "null" or raw[:1] in ("[", "{")
        overrides[key] = load_yaml(raw, f"--set {key}") if structured else raw
    return overrides


def settings_from_options(
    env: str | None = None,
    config_dir: Path | None = None,
    sets: list[str] | None = None,
    env_file: Path | None = None,
) -> Settings:
    """Load settings the way every command does (raises :class:`ConfigError`)."""
    return load_settings(
        env=env, config_dir=config_dir, overrides=parse_sets(sets), env_file=env_file
    )


def fail_on_config_error(exc: ConfigError, header: str = "invalid configuration") -> None:
    """Print each problem on its own line to stderr and exit with status 2."""
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    err.print(f"[bold red]{header}[/]:")
    for line in str(exc).splitlines():
        err.print(f"  {line}", markup=False)
    raise typer.Exit(CONFIG_ERROR_EXIT)


# -- config ---------------------------------------------------------------------------------

config_app = typer.Typer(help="Inspect and validate configuration.", no_args_is_help=True)


@config_app.command("check")
def config_check(
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Validate the merged configuration and print it with secrets masked."""
    try:
        settings = settings_from_options(env, config_dir, sets, env_file)
    except ConfigError as exc:
        fail_on_config_error(exc)
        return
    folder = resolve_config_dir(config_dir, {})
    out = Console(soft_wrap=True, highlight=False)
    out.print(f"# polyloly {__version__}: env={settings.env}, config={folder}", markup=False)
    out.print(yaml.safe_dump(settings.masked(), sort_keys=False).rstrip(), markup=False)
    out.print("# configuration OK", markup=False)


# -- root -----------------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"polyloly {__version__}")
        raise typer.Exit


def build_app(mounts: dict[str, str] | None = None) -> typer.Typer:
    """Build the root app and mount every ``name -> "module:attribute"`` sub-app."""
    root = typer.Typer(
        name="polyloly",
        help="polyloly: an algorithmic trader for Polymarket's esports markets.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,  # locals may hold secrets
    )

    @root.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option(
                "--version", callback=_version, is_eager=True, help="Show the version and exit."
            ),
        ] = False,
    ) -> None:
        """polyloly: an algorithmic trader for Polymarket's esports markets."""

    root.add_typer(config_app, name="config")
    for name, target in (MOUNTS if mounts is None else mounts).items():
        module_name, _, attribute = target.partition(":")
        sub = getattr(importlib.import_module(module_name), attribute or "app")
        if not isinstance(sub, typer.Typer):
            raise TypeError(f"{target} is not a typer.Typer")
        root.add_typer(sub, name=None if name.startswith("+") else name)
    return root


_APP: list[typer.Typer] = []


def __getattr__(name: str) -> typer.Typer:
    """Build the root ``app`` on first use.

    Built lazily, not at import: the mounted sub-apps import this module for its shared
    options, so building at import time would be a circular import.
    """
    if name == "app":
        if not _APP:
            _APP.append(build_app())
        return _APP[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point (``polyloly``)."""
    __getattr__("app")()
