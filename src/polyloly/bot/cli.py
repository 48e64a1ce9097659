"""The ``polyloly`` command: a typer root that other parts mount their groups on.

``polyloly --help``, ``polyloly --version`` and ``polyloly config check`` live here. Other
modules expose their own ``typer.Typer`` and are mounted by adding one row to
:data:`MOUNTS` (``"name": "package.module:attribute"``); :func:`build_app` imports and
mounts them, so this file never grows with their code. Commands that need configuration
reuse :data:`EnvOption`, :data:`ConfigDirOption`, :data:`SetOption` and
:func:`settings_from_options`, so every command reads settings the same way.

Every command's expected failures become one line on stderr and an
:class:`~polyloly.runtime.errors.ExitCode` (the root group catches them, see
:mod:`polyloly.bot.cli_errors`); ``polyloly --debug …`` shows the traceback instead.

Start-up stays fast: this module and the mounted ones import only typer and light modules
at import time; what a command needs (the node, the simulators, matplotlib, the client
library, SQLAlchemy) is imported when the command runs, so ``--help`` never loads it
(``tests/bot/test_cli_imports.py`` checks).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from polyloly import __version__
from polyloly.runtime.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from polyloly.bot.settings import Settings

__all__ = [
    "EXIT_CODES_HELP",
    "MOUNTS",
    "ConfigDirOption",
    "EnvFileOption",
    "EnvOption",
    "RootGroup",
    "SetOption",
    "app",  # noqa: F822 - provided lazily by the module __getattr__ below
    "build_app",
    "main",
    "parse_sets",
    "settings_from_options",
]

MOUNTS: dict[str, str] = {
    "+run": "polyloly.bot.cli_run:app",
    "+ops": "polyloly.bot.cli_ops:app",
    "+optimize": "polyloly.bot.optimize_cmd:app",
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
    from polyloly.bot.config_loader import load_yaml  # noqa: PLC0415 - lazy: keeps --help fast

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
    from polyloly.bot.config_loader import load_settings  # noqa: PLC0415 - lazy: keeps --help fast

    return load_settings(
        env=env, config_dir=config_dir, overrides=parse_sets(sets), env_file=env_file
    )


def fail_on_config_error(exc: ConfigError, header: str = "invalid configuration") -> None:
    """Print each problem on its own line to stderr and exit with status 2."""
    typer.echo(typer.style(header, fg="red", bold=True) + ":", err=True)
    for line in str(exc).splitlines():
        typer.echo(f"  {line}", err=True)
    raise typer.Exit(ExitCode.CONFIG)


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
    import yaml  # noqa: PLC0415 - lazy: keeps --help fast

    from polyloly.bot.config_loader import resolve_config_dir  # noqa: PLC0415

    try:
        settings = settings_from_options(env, config_dir, sets, env_file)
    except ConfigError as exc:
        fail_on_config_error(exc)
        return
    folder = resolve_config_dir(config_dir, {})
    typer.echo(f"# polyloly {__version__}: env={settings.env}, config={folder}")
    typer.echo(yaml.safe_dump(settings.masked(), sort_keys=False).rstrip())
    typer.echo("# configuration OK")


# -- root -----------------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"polyloly {__version__}")
        raise typer.Exit


EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 failed, 2 configuration or usage, 3 refused, 4 unreachable, "
    "5 data folder in use, 6 port in use, 7 bad input file, 8 nothing to compare."
)


class RootGroup(TyperGroup):
    """The root command group: every command's failure becomes one line and an exit code.

    Typer's own signals (``typer.Exit``, usage errors, ``Abort``) pass through; with
    ``--debug`` (or ``POLYLOLY_DEBUG=1``) any other exception propagates with its traceback.
    """

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored click) Context
        """Run the command; report what it raised (see :func:`polyloly.bot.cli_errors.report`)."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            from polyloly.bot.cli_errors import report  # noqa: PLC0415 - the error path only

            raise typer.Exit(report(exc)) from None


def build_app(mounts: dict[str, str] | None = None) -> typer.Typer:
    """Build the root app and mount every ``name -> "module:attribute"`` sub-app."""
    root = typer.Typer(
        name="polyloly",
        help="polyloly: an algorithmic trader for Polymarket's esports markets.",
        cls=RootGroup,
        epilog=EXIT_CODES_HELP,
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
        debug: Annotated[
            bool,
            typer.Option(
                "--debug",
                envvar="POLYLOLY_DEBUG",
                help="Show the full traceback of a failure (default: one line).",
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
