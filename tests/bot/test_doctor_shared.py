"""``polyloly doctor`` with ``REDIS_URL``: the shared store answers, and a shared halt fails."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.adapters.redis.conftest import redis_url

from polyloly.adapters.redis.budget import RedisBudget
from polyloly.bot.config_loader import load_settings
from polyloly.bot.doctor import probe_shared
from polyloly.execution.budget import BudgetLimits, InstanceReport


@pytest.mark.asyncio
async def test_doctor_reports_the_instances_and_fails_on_a_shared_halt(tmp_path: Path) -> None:
    url = redis_url()
    prefix = f"polyloly:{{doctor-{uuid.uuid4().hex[:12]}}}:"
    settings = load_settings(
        env="demo",
        environ={},
        env_file=False,
        overrides={
            "storage.redis_url": url,
            "storage.data_dir": str(tmp_path),
            "instances.id": "east",
            "instances.key_prefix": prefix,
        },
    )
    limits = BudgetLimits(max_total=1, max_market=1, max_daily_loss=1)
    other = RedisBudget(url, instance="west", limits=limits, prefix=prefix)
    try:
        await other.sync(InstanceReport(instance="west", day="d", daily_pnl=0))
        detail = await probe_shared(settings)
        assert "1 instance(s) known, alive: west" in detail
        await other.set_halt("operator stop")
        with pytest.raises(RuntimeError, match="every instance is halted: operator stop"):
            await probe_shared(settings)
    finally:
        keys = [k async for k in other.client.scan_iter(match=prefix + "*")]
        if keys:
            await other.client.delete(*keys)
        await other.aclose()
