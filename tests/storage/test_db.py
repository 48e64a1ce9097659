"""Projection database: URL handling, ordered migrations, version table."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from polyloly.runtime.errors import ConfigError
from polyloly.storage.db import Database, async_url, redacted, url_from_env
from polyloly.storage.schema import MIGRATIONS, SCHEMA_VERSION

PG_ENV = "POLYLOLY_TEST_DATABASE_URL"


def test_async_url_forms() -> None:
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgres://u:p@h:5432/d") == "postgresql+asyncpg://u:p@h:5432/d"
    assert async_url("postgresql+asyncpg://h/d") == "postgresql+asyncpg://h/d"
    with pytest.raises(ConfigError) as exc:
        async_url("mysql://root:hunter2@h/d")
    assert "hunter2" not in str(exc.value)


def test_redacted_hides_the_password() -> None:
    assert redacted("postgresql://bot:s3cret@db:5432/x") == "postgresql://bot:***@db:5432/x"
    assert redacted("sqlite:///a.db") == "sqlite:///a.db"


def test_url_from_env(tmp_path: Path) -> None:
    assert url_from_env({}, tmp_path / "p.db") == f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    assert url_from_env({"DATABASE_URL": "postgresql://h/d"}) == "postgresql+asyncpg://h/d"


def test_migrations_are_ordered() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))
    assert versions[-1] == SCHEMA_VERSION


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'projection.db'}")
    else:
        url = os.environ.get(PG_ENV)
        if not url:
            pytest.skip(f"{PG_ENV} is not set (PostgreSQL projection tests need a server)")
        db = Database(url, prefix=f"t{uuid.uuid4().hex[:10]}_")
    try:
        yield db
    finally:
        await db.drop()
        await db.close()


@pytest.mark.asyncio
async def test_migrate_from_empty_records_every_version(database: Database) -> None:
    assert await database.version() == 0
    assert await database.migrate() == SCHEMA_VERSION
    assert await database.migrate() == SCHEMA_VERSION  # idempotent
    async with database.engine.connect() as conn:
        rows = (await conn.execute(select(database.tables.schema_version))).all()
    assert [r.version for r in rows] == [m.version for m in MIGRATIONS]


@pytest.mark.asyncio
async def test_partial_database_is_upgraded(database: Database) -> None:
    t = database.tables
    async with database.engine.begin() as conn:
        await conn.run_sync(lambda c: t.metadata.create_all(c, tables=[t.schema_version]))
        await conn.run_sync(lambda c: MIGRATIONS[0].apply(c, t))
        await conn.execute(t.schema_version.insert().values(version=1, description="v1"))
    assert await database.version() == 1
    assert await database.migrate() == SCHEMA_VERSION


@pytest.mark.asyncio
async def test_newer_database_is_refused(database: Database) -> None:
    await database.migrate()
    async with database.engine.begin() as conn:
        await conn.execute(
            database.tables.schema_version.insert().values(
                version=SCHEMA_VERSION + 1, description="x"
            )
        )
    with pytest.raises(ConfigError):
        await database.migrate()
