"""Settings value types: constrained numbers, URLs, secrets, micro-unit views, the base model.

The building blocks of :mod:`polyloly.bot.settings`: every ``Annotated`` type carries its
own rule (a boolean where a number belongs is refused, URLs need a scheme and a host,
money has at most six decimals), and :class:`Micros` / :class:`Bps` expose a ``Decimal``
field as the core's ``int`` micro-units or basis points.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Literal, Self, overload
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from polyloly.domain.money import parse_micros

__all__ = [
    "ADDRESS",
    "DB_SCHEMES",
    "Bps",
    "Confidence",
    "Count",
    "DatabaseUrl",
    "Host",
    "HttpUrl",
    "HttpsSecretUrl",
    "LogLevel",
    "Micros",
    "Millis",
    "NonNegMillis",
    "Port",
    "Price",
    "PrivateKey",
    "Rate",
    "RedisUrl",
    "Seconds",
    "Section",
    "Usdc",
    "Weight",
    "WholeSeconds",
    "WsUrl",
    "host_only",
    "no_bool",
    "upper",
]


def no_bool(value: object) -> object:
    # pydantic's lax mode reads True as 1; a boolean where a number belongs is a typo.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _url_rule(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def check(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"must be a {'/'.join(schemes)} URL with a host")
        return url

    return check


def _secret_url_rule(schemes: tuple[str, ...]) -> Callable[[SecretStr], SecretStr]:
    check = _url_rule(schemes)

    def check_secret(value: SecretStr) -> SecretStr:
        check(value.get_secret_value())
        return value

    return check_secret


_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _database_url_rule(value: SecretStr) -> SecretStr:
    parts = urlsplit(value.get_secret_value())
    if parts.scheme not in DB_SCHEMES:
        raise ValueError(f"must be a database URL ({', '.join(DB_SCHEMES)})")
    if not parts.scheme.startswith("sqlite") and not parts.hostname:
        raise ValueError("must name a database host")
    return value


def _private_key_rule(value: SecretStr) -> SecretStr:
    if not _HEX_KEY.fullmatch(value.get_secret_value()):
        raise ValueError("must be 32 bytes of hex (64 hex digits, optional 0x)")
    return value


def upper(value: object) -> object:
    """Upper-case a string (``fak`` -> ``FAK``); anything else unchanged."""
    return value.upper() if isinstance(value, str) else value


Usdc = Annotated[Decimal, BeforeValidator(no_bool), Field(gt=0, decimal_places=6)]
Price = Annotated[Decimal, BeforeValidator(no_bool), Field(gt=0, le=1, decimal_places=6)]
Rate = Annotated[Decimal, BeforeValidator(no_bool), Field(ge=0, lt=1, decimal_places=6)]
Confidence = Annotated[Decimal, BeforeValidator(no_bool), Field(gt=0, le=1, decimal_places=4)]
Weight = Annotated[Decimal, BeforeValidator(no_bool), Field(ge=0, le=1, decimal_places=4)]
Seconds = Annotated[float, BeforeValidator(no_bool), Field(gt=0, allow_inf_nan=False)]
Millis = Annotated[int, BeforeValidator(no_bool), Field(ge=1)]
Count = Annotated[int, BeforeValidator(no_bool), Field(ge=1)]
Port = Annotated[int, BeforeValidator(no_bool), Field(ge=0, le=65535)]
Host = Annotated[str, Field(min_length=1)]
HttpUrl = Annotated[str, AfterValidator(_url_rule(("http", "https")))]
WsUrl = Annotated[str, AfterValidator(_url_rule(("ws", "wss")))]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(upper)
]
NonNegMillis = Annotated[int, BeforeValidator(no_bool), Field(ge=0)]
WholeSeconds = Annotated[int, BeforeValidator(no_bool), Field(ge=1)]
DatabaseUrl = Annotated[SecretStr, AfterValidator(_database_url_rule)]
PrivateKey = Annotated[SecretStr, AfterValidator(_private_key_rule)]
RedisUrl = Annotated[SecretStr, AfterValidator(_secret_url_rule(("redis", "rediss", "unix")))]
HttpsSecretUrl = Annotated[SecretStr, AfterValidator(_secret_url_rule(("https",)))]


def host_only(*suffixes: str) -> Callable[[str], str]:
    """A rule refusing a URL that ends with a path the adapter appends itself.

    The esports adapters take a host (or a base URL) and add their endpoints' paths; a
    full endpoint URL here would double the path, so it is refused with the fix.
    """

    def check(url: str) -> str:
        for suffix in suffixes:
            if url.rstrip("/").endswith(suffix):
                raise ValueError(
                    f"must be the base URL the adapter appends {suffix} to (drop {suffix})"
                )
        return url

    return check


DB_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgresql+asyncpg", "postgres")


class Micros:
    """Read-only view of a Decimal field as int micro-units (``0.975`` -> ``975_000``)."""

    def __init__(self, field: str) -> None:
        self.field = field

    def convert(self, value: Decimal) -> int:
        """Convert one value exactly."""
        return parse_micros(value)

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type) -> int: ...
    def __get__(self, obj: object | None, owner: type) -> int | Self:
        return self if obj is None else self.convert(getattr(obj, self.field))


class Bps(Micros):
    """Read-only view of a Decimal fraction as int basis points (``0.80`` -> ``8000``)."""

    def convert(self, value: Decimal) -> int:
        """Convert one value exactly (the field allows at most 4 decimal places)."""
        return int(value * 10_000)


class Section(BaseModel):
    """Base of every settings section: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(Micros,))
