"""The projection database: SQLite file by default, PostgreSQL when ``DATABASE_URL`` says so.

SQLAlchemy Core on an async engine (``aiosqlite`` / ``asyncpg``). :func:`async_url` turns
the URL forms people write (``sqlite:///x.db``, ``postgresql://…``, ``postgres://…``) into
the async driver's; :meth:`Database.migrate` brings the schema to
:data:`~polyloly.storage.schema.SCHEMA_VERSION` through the ordered migrations, each in its
own transaction, recording each in ``schema_version``.

The URL may hold a password: it is never logged or put in an error message (use
:func:`redacted`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from polyloly.runtime.errors import ConfigError
from polyloly.storage.schema import MIGRATIONS, SCHEMA_VERSION, Tables, make_tables

__all__ = ["DEFAULT_SQLITE_PATH", "Database", "async_url", "redacted", "url_from_env"]

DEFAULT_SQLITE_PATH: Final = Path("data/polyloly.db")

_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """Return ``url`` with the async driver of its database (raise on an unknown scheme)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError("DATABASE_URL: not a URL (expected sqlite:///… or postgresql://…)")
    driver = _DRIVERS.get(scheme)
    if driver is None:
        raise ConfigError(f"DATABASE_URL: unsupported scheme {scheme!r} (sqlite or postgresql)")
    return f"{driver}://{rest}"


def redacted(url: str) -> str:
    """``url`` without its password (safe to log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, *parts[2:]))


def url_from_env(env: Mapping[str, str], default_path: Path = DEFAULT_SQLITE_PATH) -> str:
    """``DATABASE_URL`` if set, else a SQLite file at ``default_path``."""
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return async_url(url)
    return f"sqlite+aiosqlite:///{default_path}"


class Database:
    """One projection database (an async engine plus the prefixed tables).

    Parameters
    ----------
    url
        A SQLAlchemy URL (any form :func:`async_url` accepts).
    prefix
        Prefix of every table name (parallel projections in one database).
    """

    def __init__(self, url: str, *, prefix: str = "") -> None:
        self.url = async_url(url)
        self.tables: Tables = make_tables(prefix)
        self._engine: AsyncEngine | None = None
        if self.url.startswith("sqlite") and "///" in self.url:
            path = self.url.split("///", 1)[1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)

    @property
    def engine(self) -> AsyncEngine:
        """The async engine (created on first use)."""
        if self._engine is None:
            self._engine = create_async_engine(self.url)
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    async def version(self) -> int:
        """The schema version applied (0 for an empty database)."""
        async with self.engine.connect() as conn:
            has = await conn.run_sync(
                lambda c: c.dialect.has_table(c, self.tables.schema_version.name)
            )
            if not has:
                return 0
            found = await conn.scalar(select(func.max(self.tables.schema_version.c.version)))
            return int(found or 0)

    async def migrate(self) -> int:
        """Apply every pending migration, in order; return the version reached.

        Raises
        ------
        ConfigError
            The database was written by a newer build (its version is above ours).
        """
        t = self.tables
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda c: t.metadata.create_all(c, tables=[t.schema_version]))
        current = await self.version()
        if current > SCHEMA_VERSION:
            raise ConfigError(
                f"projection schema is at version {current}, newer than this build's "
                f"{SCHEMA_VERSION}: upgrade polyloly or rebuild the projection"
            )
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            async with self.engine.begin() as conn:
                await conn.run_sync(lambda c, m=migration: m.apply(c, t))  # type: ignore[misc]
                await conn.execute(
                    t.schema_version.insert().values(
                        version=migration.version, description=migration.description
                    )
                )
            current = migration.version
        return current

    async def drop(self) -> None:
        """Drop every projection table of this prefix (tests, or a full rebuild)."""
        t = self.tables
        async with self.engine.begin() as conn:
            await conn.run_sync(t.metadata.drop_all)

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
