"""Configuration loading: YAML layers, the environment overlay, merging and error messages.

The model-agnostic half of :mod:`polyloly.bot.settings`. Precedence, lowest first:
``config/base.yaml`` < ``config/<env>.yaml`` (``--env`` / ``POLYLOLY_ENV``, default ``dev``)
< a ``.env`` file < the process environment (the seed's variable names, :data:`ENV_VARS`)
< explicit ``overrides``. Mappings are deep-merged; lists and scalars replace. The merge
remembers which layer set every key (:data:`Origins`), so a validation problem is reported
as one line naming the key path, the rule, the value (never a secret) and its source::

    risk.max_daily_loss_usdc: must be greater than 0 (got -5) [dev.yaml]

:func:`merge_config` returns plain data, and :func:`validate_config` /
:func:`validation_error_lines` take the root model class; :func:`load_settings` puts them
together for :class:`~polyloly.bot.settings.Settings` and then runs the cross-field rules
of :data:`polyloly.bot.invariants.INVARIANTS` on the validated settings, one line per
violation.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from polyloly.bot.invariants import INVARIANTS, Violation
from polyloly.bot.logging import is_secret_key, redact_text
from polyloly.bot.settings import Settings
from polyloly.runtime.errors import ConfigError

__all__ = [
    "ENV_VARS",
    "MergedConfig",
    "Origins",
    "format_validation_error",
    "invariant_error_lines",
    "load_settings",
    "load_yaml",
    "merge_config",
    "nest",
    "overlay",
    "read_env_file",
    "resolve_config_dir",
    "validate_config",
    "validation_error_lines",
]

ENV_VARS: dict[str, tuple[str, ...]] = {
    "POLYMARKET_PRIVATE_KEY": ("adapters", "polymarket", "private_key"),
    "POLYMARKET_API_KEY": ("adapters", "polymarket", "api_key"),
    "POLYMARKET_API_SECRET": ("adapters", "polymarket", "api_secret"),
    "POLYMARKET_API_PASSPHRASE": ("adapters", "polymarket", "api_passphrase"),
    "POLYMARKET_FUNDER": ("adapters", "polymarket", "funder"),
    "POLYMARKET_SIGNATURE_TYPE": ("adapters", "polymarket", "signature_type"),
    "POLYMARKET_RPC_URL": ("adapters", "polymarket", "chain", "rpc_url"),
    "POLYMARKET_BUILDER_API_KEY": ("adapters", "polymarket", "chain", "builder_api_key"),
    "POLYMARKET_BUILDER_SECRET": ("adapters", "polymarket", "chain", "builder_secret"),
    "POLYMARKET_BUILDER_PASSPHRASE": ("adapters", "polymarket", "chain", "builder_passphrase"),
    "OPENDOTA_API_KEY": ("adapters", "esports", "opendota", "api_key"),
    "PANDASCORE_API_KEY": ("adapters", "esports", "pandascore", "api_key"),
    "GRID_API_KEY": ("adapters", "esports", "grid", "api_key"),
    "LIQUIPEDIA_API_KEY": ("adapters", "esports", "liquipedia", "api_key"),
    "LOLESPORTS_API_KEY": ("adapters", "esports", "lolesports", "api_key"),
    "DATABASE_URL": ("storage", "database_url"),
    "REDIS_URL": ("storage", "redis_url"),
    "POLYLOLY_INSTANCE_ID": ("instances", "id"),
    "TELEGRAM_BOT_TOKEN": ("alerts", "telegram_bot_token"),
    "TELEGRAM_CHAT_ID": ("alerts", "telegram_chat_id"),
    "DISCORD_WEBHOOK_URL": ("alerts", "discord_webhook_url"),
    "MAX_DAILY_LOSS": ("risk", "max_daily_loss_usdc"),
    "MAX_POSITION_PER_MARKET": ("risk", "max_position_per_market_usdc"),
    "PAPER_TRADING": ("bot", "paper_trading"),
    "LOG_LEVEL": ("bot", "log_level"),
    "POLYLOLY_CONTROL_TOKEN": ("control", "token"),
}
"""Environment variable -> key path. An empty value counts as unset."""

Origins = dict[tuple[str, ...], str]
"""Key path -> the layer that last set it (``base.yaml``, ``dev.yaml``, a variable name...)."""


_M = TypeVar("_M", bound=BaseModel)
_ENV_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_REPO_CONFIG = Path(__file__).resolve().parents[3] / "config"  # src layout: <repo>/config


@dataclass(frozen=True, slots=True)
class MergedConfig:
    """Every layer merged into one nested mapping, plus where each key came from."""

    data: dict[str, Any]
    origins: Origins


# -- reading --------------------------------------------------------------------------------


class _DecimalLoader(yaml.SafeLoader):
    """YAML loader that reads floats as exact Decimals and rejects duplicate keys."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    return Decimal(text)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_DecimalLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str = "<yaml>") -> Any:
    """Parse YAML with exact decimals; raise :class:`ConfigError` naming ``source``."""
    try:
        return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None


def _load_file(path: Path) -> dict[str, Any]:
    data = load_yaml(path.read_text(encoding="utf-8"), path.name) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: the top level must be a mapping of sections")
    return data


def read_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (``#`` comments, optional ``export``, optional quotes)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()  # noqa: PLW2901 - normalizing the loop variable is the point
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def resolve_config_dir(config_dir: Path | str | None, environ: Mapping[str, str]) -> Path:
    """Pick the config folder: argument, ``POLYLOLY_CONFIG_DIR``, ``./config``, the repo's."""
    if config_dir is not None:
        return Path(config_dir)
    if environ.get("POLYLOLY_CONFIG_DIR"):
        return Path(environ["POLYLOLY_CONFIG_DIR"])
    local = Path("config")
    return local if (local / "base.yaml").is_file() else _REPO_CONFIG


# -- merging --------------------------------------------------------------------------------


def _merge(
    into: dict[str, Any],
    layer: Mapping[str, Any],
    origin: str,
    origins: Origins,
    prefix: tuple[str, ...] = (),
) -> None:
    for key, value in layer.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value, origin, origins, path)
            continue
        into[key] = _plain(value)
        origins[path] = origin


def overlay(into: dict[str, Any], *layers: Mapping[str, Any]) -> None:
    """Merge ``layers`` into ``into`` in order, as the loader merges its own: later wins, a
    mapping merged key by key, every merged value a copy."""
    for layer in layers:
        _merge(into, layer, "", {})


def _plain(value: Any) -> Any:
    # copy mappings so later layers never mutate an earlier layer's dicts
    return {k: _plain(v) for k, v in value.items()} if isinstance(value, Mapping) else value


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` → ``{"a": {"b": 1}}`` (dotted keys, as ``--set`` takes them)."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _env_layers(environ: Mapping[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, path in ENV_VARS.items():
        value = environ.get(name, "")
        if value.strip():
            yield name, nest({".".join(path): value.strip()})


def merge_config(
    env: str | None = None,
    config_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env_file: Path | str | Literal[False] | None = None,
) -> MergedConfig:
    """Read every layer and deep-merge them, lowest precedence first (not yet validated).

    Parameters
    ----------
    env
        Overlay name (``dev``, ``prod``, ``demo``); default ``POLYLOLY_ENV``, then ``dev``.
        The chosen name is stored under the ``env`` key.
    config_dir
        Folder with ``base.yaml`` and the overlays (see :func:`resolve_config_dir`).
    environ
        The environment to read (default ``os.environ``).
    overrides
        Highest-precedence values, nested or dotted (``{"risk.max_daily_loss_usdc": "50"}``).
    env_file
        A ``.env`` file; ``None`` reads ``<config_dir>/../.env`` if present, ``False`` none.

    Raises
    ------
    ConfigError
        The environment name is invalid, a file is missing, or a file is not valid YAML.
    """
    environ = dict(os.environ if environ is None else environ)
    folder = resolve_config_dir(config_dir, environ)
    dotenv_path = folder.parent / ".env" if env_file is None else env_file
    if dotenv_path and Path(dotenv_path).is_file():
        environ = {**read_env_file(Path(dotenv_path)), **environ}
    name = env or environ.get("POLYLOLY_ENV") or "dev"
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(f"env: {name!r} is not a valid environment name")
    base_path, overlay_path = folder / "base.yaml", folder / f"{name}.yaml"
    if not base_path.is_file():
        raise ConfigError(f"config_dir: no base.yaml in {folder}")
    if not overlay_path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "base")
        raise ConfigError(
            f"env: no overlay {overlay_path.name} in {folder} (have: {', '.join(known)})"
        )
    merged: dict[str, Any] = {}
    origins: Origins = {}
    for origin, layer in (
        (base_path.name, _load_file(base_path)),
        (overlay_path.name, _load_file(overlay_path)),
        *_env_layers(environ),
        ("overrides", nest(overrides or {})),
    ):
        _merge(merged, layer, origin, origins)
    merged["env"] = name
    return MergedConfig(merged, origins)


def validate_config(model: type[_M], config: MergedConfig) -> _M:
    """Validate merged data against the root ``model``.

    Raises
    ------
    ConfigError
        One line per problem, each naming the key path and the rule it breaks.
    """
    try:
        return model.model_validate(config.data)
    except ValidationError as exc:
        # ``from None``: pydantic's own text shows raw inputs, which may be secrets
        lines = validation_error_lines(exc, model, config.origins)
        raise ConfigError("\n".join(lines)) from None


# -- error messages -------------------------------------------------------------------------


def _annotation_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> Any:
    """The annotation at ``loc`` (a model class while inside models), or ``None``."""
    current: Any = root
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:
            args = get_args(current)
            current = args[-1] if args else None  # list[X] / dict[str, X] -> X
    return current


def _has_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_has_secret(arg) for arg in get_args(annotation))


def _path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _rule(root: type[BaseModel], error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        parent = _annotation_at(root, loc[:-1])
        is_model = isinstance(parent, type) and issubclass(parent, BaseModel)
        allowed = list(parent.model_fields) if is_model else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
        return f"unknown key ({hint})"
    if error["type"] == "missing":
        return "is required"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = message.replace("Input should be", "must be").replace("input should be", "must be")
    return message.replace("Decimal input should have", "must have")


def _got(root: type[BaseModel], error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] in ("extra_forbidden", "missing"):
        return ""  # an unknown key's value may be a misplaced secret: never echo it
    last = str(loc[-1]) if loc else ""
    if _has_secret(_annotation_at(root, loc)) or is_secret_key(last):
        return " (got ***)"
    value = error.get("input")
    text = repr(value) if isinstance(value, str) else str(value)
    text = redact_text(text)
    return f" (got {text[:77] + '...' if len(text) > 80 else text})"


def validation_error_lines(
    exc: ValidationError, root: type[BaseModel], origins: Origins | None = None
) -> list[str]:
    """Turn pydantic's errors on ``root`` into ``key.path: rule (got value) [source]`` lines.

    Parameters
    ----------
    exc
        The error raised while validating ``root``.
    root
        The model that was validated (its fields tell unknown keys and secrets apart).
    origins
        Where each key came from (:attr:`MergedConfig.origins`); ``None`` omits sources.
    """
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = _origin(origins, tuple(str(part) for part in loc))
        lines.append(f"{_path(loc) or '<root>'}: {_rule(root, error)}{_got(root, error)}{where}")
    return lines


def _origin(origins: Origins | None, parts: tuple[str, ...]) -> str:
    """`` [source]`` of the value at ``parts`` (or of its closest parent), else empty."""
    for end in range(len(parts), 0, -1):
        if origins and parts[:end] in origins:
            return f" [{origins[parts[:end]]}]"
    return ""


# -- loading --------------------------------------------------------------------------------


def load_settings(
    env: str | None = None,
    config_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env_file: Path | str | Literal[False] | None = None,
) -> Settings:
    """Load, merge and validate the configuration.

    Parameters
    ----------
    env
        Overlay name (``dev``, ``prod``, ``demo``); default ``POLYLOLY_ENV``, then ``dev``.
    config_dir
        Folder with ``base.yaml`` and the overlays (see :func:`resolve_config_dir`).
    environ
        The environment to read (default ``os.environ``).
    overrides
        Highest-precedence values, nested or dotted (``{"risk.max_daily_loss_usdc": "50"}``).
    env_file
        A ``.env`` file; ``None`` reads ``<config_dir>/../.env`` if present, ``False`` none.

    Raises
    ------
    ConfigError
        One line per problem, each naming the key path and the rule it breaks.
    """
    merged = merge_config(env, config_dir, environ, overrides, env_file)
    settings = validate_config(Settings, merged)
    violations = [v for check in INVARIANTS for v in check(settings)]
    if violations:
        raise ConfigError("\n".join(invariant_error_lines(violations, merged.origins)))
    return settings


def invariant_error_lines(violations: list[Violation], origins: Origins | None = None) -> list[str]:
    """One ``key.path: rule [source]`` line per broken cross-field rule."""
    lines: list[str] = []
    for path, rule in violations:
        where = _origin(origins, tuple(re.sub(r"\[\d+\]", "", path).split(".")))
        lines.append(f"{path}: {rule}{where}")
    return lines


def format_validation_error(exc: ValidationError, origins: Origins | None = None) -> list[str]:
    """Turn pydantic's errors into ``key.path: rule (got value) [source]`` lines."""
    return validation_error_lines(exc, Settings, origins)
