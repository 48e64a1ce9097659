"""The Redis server the shared-budget tests use: ``POLYLOLY_TEST_REDIS_URL`` (CI sets it to
``redis://127.0.0.1:6379/0``). Unset: these tests are skipped; set and unreachable: they fail.
Each test works under its own key prefix and deletes its keys afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

REDIS_ENV = "POLYLOLY_TEST_REDIS_URL"


def redis_url() -> str:
    """The test server's URL (skips the test when the variable is unset)."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set (shared-budget tests need a Redis server)")
    return url


@pytest_asyncio.fixture
async def prefix() -> AsyncIterator[str]:
    """A fresh key prefix; every key under it is deleted after the test."""
    url = redis_url()
    name = f"polyloly:{{test-{uuid.uuid4().hex[:12]}}}:"
    client = aioredis.Redis.from_url(url, decode_responses=True)
    await client.ping()  # set and unreachable: fail here, never skip
    try:
        yield name
    finally:
        keys = [k async for k in client.scan_iter(match=name + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def url() -> Callable[[], str]:
    return redis_url
