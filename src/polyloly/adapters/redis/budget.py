"""The shared risk budget, kill switch and instance directory on a Redis server.

Every check-and-reserve is one server-side Lua script (:data:`RESERVE`): Redis runs a script
alone, so two instances can never both pass a cap that one alone would hit. Times are the
server's (``TIME``), so instances on machines whose clocks disagree see the same leases.

Keys (all under ``prefix``, e.g. ``polyloly:{main}:``; the braces keep every key in one
cluster slot):

=================  ===========================================================================
``res``            hash: order hash -> ``expires_ms|instance|market|amount`` (leased reservations)
``pos:<id>``       hash: market -> positions at cost the instance published (no lease)
``open:<id>``      hash: market -> open BUY notional it published (no lease: they rest on the book)
``hb:<id>``        the instance's heartbeat: its last sync's server time, expires after the lease
``info:<id>``      hash: last heartbeat, today's PnL, halt reason (for ``status --all-instances``)
``pnl:<day>``      hash: instance -> today's PnL (the day's loss is the account's)
``instances``      set of every instance id seen
``halt``           the shared halt's reason (absent: trading allowed)
``control``        pub/sub channel: ``halt <reason>`` / ``resume`` to every instance
=================  ===========================================================================

A lost connection, a timeout or a refused connection is a ``RetryableError`` (the budget's
store is unreachable: the keeper fails closed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from polyloly.execution.budget import BudgetLimits, Grant, InstanceInfo, InstanceReport
from polyloly.runtime.errors import RetryableError

__all__ = ["RESERVE", "SYNC", "RedisBudget"]

RESERVE: Final = """
local p = ARGV[1]
local inst, h, market = ARGV[2], ARGV[3], ARGV[4]
local amount = tonumber(ARGV[5])
local lease = tonumber(ARGV[6])
local max_total, max_market, max_loss = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local day = ARGV[10]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local halt = redis.call('GET', p .. 'halt')
if halt then return {'halted', halt, '0', '0'} end
local pnl = 0
local pnls = redis.call('HVALS', p .. 'pnl:' .. day)
for i = 1, #pnls do pnl = pnl + tonumber(pnls[i]) end
if pnl <= -max_loss then return {'daily_loss', tostring(pnl), '0', '0'} end
local total, in_market = 0, 0
local res = redis.call('HGETALL', p .. 'res')
for i = 1, #res, 2 do
  local e1 = string.find(res[i + 1], '|', 1, true)
  local e2 = string.find(res[i + 1], '|', e1 + 1, true)
  local e3 = string.find(res[i + 1], '|', e2 + 1, true)
  local expires = tonumber(string.sub(res[i + 1], 1, e1 - 1))
  if expires <= now then
    redis.call('HDEL', p .. 'res', res[i])
  else
    local m = string.sub(res[i + 1], e2 + 1, e3 - 1)
    local a = tonumber(string.sub(res[i + 1], e3 + 1))
    total = total + a
    if m == market then in_market = in_market + a end
  end
end
local insts = redis.call('SMEMBERS', p .. 'instances')
for _, id in ipairs(insts) do
  local figures = {
    redis.call('HGETALL', p .. 'pos:' .. id), redis.call('HGETALL', p .. 'open:' .. id)
  }
  for _, f in pairs(figures) do
    for i = 1, #f, 2 do
      local a = tonumber(f[i + 1])
      total = total + a
      if f[i] == market then in_market = in_market + a end
    end
  end
end
local mine = redis.call('HGET', p .. 'res', h)
if mine then
  return {'ok', '', tostring(total), tostring(in_market)}
end
if total + amount > max_total then
  return {'total', '', tostring(total), tostring(in_market)}
end
if in_market + amount > max_market then
  return {'market', '', tostring(total), tostring(in_market)}
end
if amount > 0 then
  redis.call('HSET', p .. 'res', h, (now + lease) .. '|' .. inst .. '|' .. market .. '|' .. amount)
end
return {'ok', '', tostring(total + amount), tostring(in_market + amount)}
"""
"""Check the halt, the day's loss and both caps; reserve when they allow (one atomic step)."""

SYNC: Final = """
local p = ARGV[1]
local inst = ARGV[2]
local lease = tonumber(ARGV[3])
local day, pnl, halted = ARGV[4], ARGV[5], ARGV[6]
local n_pos = tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local i = 8
redis.call('DEL', p .. 'pos:' .. inst)
for _ = 1, n_pos do
  redis.call('HSET', p .. 'pos:' .. inst, ARGV[i], ARGV[i + 1]); i = i + 2
end
local n_open = tonumber(ARGV[i]); i = i + 1
redis.call('DEL', p .. 'open:' .. inst)
for _ = 1, n_open do
  redis.call('HSET', p .. 'open:' .. inst, ARGV[i], ARGV[i + 1]); i = i + 2
end
local n_cov = tonumber(ARGV[i]); i = i + 1
for _ = 1, n_cov do
  redis.call('HDEL', p .. 'res', ARGV[i]); i = i + 1
end
local res = redis.call('HGETALL', p .. 'res')
local tag = '|' .. inst .. '|'
for j = 1, #res, 2 do
  local e1 = string.find(res[j + 1], '|', 1, true)
  if string.sub(res[j + 1], e1, e1 + #tag - 1) == tag then
    redis.call('HSET', p .. 'res', res[j], (now + lease) .. string.sub(res[j + 1], e1))
  end
end
redis.call('SET', p .. 'hb:' .. inst, now, 'PX', lease)
redis.call('SADD', p .. 'instances', inst)
redis.call('HSET', p .. 'pnl:' .. day, inst, pnl)
redis.call('PEXPIRE', p .. 'pnl:' .. day, 172800000)
redis.call('HSET', p .. 'info:' .. inst, 'heartbeat_ms', now, 'daily_pnl', pnl, 'halted', halted)
return now
"""
"""Publish one instance's figures, drop the reservations they cover, renew its leases."""

_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class RedisBudget:
    """:class:`~polyloly.execution.budget.RiskBudget`, ``SharedSwitch`` and
    ``InstanceDirectory`` on one Redis server."""

    def __init__(
        self,
        url: str,
        *,
        instance: str,
        limits: BudgetLimits,
        prefix: str = "polyloly:{main}:",
        timeout_s: float = 0.5,
    ) -> None:
        self.instance = instance
        self.limits = limits
        self.prefix = prefix
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            decode_responses=True,
            health_check_interval=5,
        )
        self._reserve = self.client.register_script(RESERVE)
        self._sync = self.client.register_script(SYNC)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except _ERRORS as exc:
            raise RetryableError(f"redis {what}: {type(exc).__name__}: {exc}") from exc

    # -- RiskBudget ------------------------------------------------------------------------

    async def reserve(self, order_hash: str, market: str, amount: int, day: str) -> Grant:
        """One round trip: the :data:`RESERVE` script."""
        lim = self.limits
        args: list[str | int] = [
            self.prefix,
            self.instance,
            order_hash,
            market,
            amount,
            lim.lease_ms,
            lim.max_total,
            lim.max_market,
            lim.max_daily_loss,
            day,
        ]
        verdict, detail, total, in_market = await self._call(
            "reserve", self._reserve(keys=[], args=args)
        )
        ok = verdict == "ok"
        return Grant(
            ok=ok,
            reason="" if ok else verdict,
            detail=detail,
            total=int(total),
            market=int(in_market),
        )

    async def sync(self, report: InstanceReport) -> None:
        """One round trip: the :data:`SYNC` script."""
        args: list[str | int] = [
            self.prefix,
            report.instance,
            self.limits.lease_ms,
            report.day,
            report.daily_pnl,
            report.halted,
            len(report.positions),
        ]
        for market, amount in sorted(report.positions.items()):
            args += [market, amount]
        args.append(len(report.open_orders))
        for market, amount in sorted(report.open_orders.items()):
            args += [market, amount]
        args.append(len(report.covered))
        args += list(report.covered)
        await self._call("sync", self._sync(keys=[], args=args))

    # -- SharedSwitch ----------------------------------------------------------------------

    async def set_halt(self, reason: str) -> None:
        """Set (or, with ``""``, clear) the halt key and broadcast it."""
        p = self.prefix
        async with self.client.pipeline(transaction=True) as pipe:
            if reason:
                pipe.set(p + "halt", reason)
                pipe.publish(p + "control", "halt " + reason)
            else:
                pipe.delete(p + "halt")
                pipe.publish(p + "control", "resume")
            await self._call("halt", pipe.execute())

    async def halted(self) -> str:
        """The halt key's reason, ``""`` when absent."""
        value = await self._call("halted", self.client.get(self.prefix + "halt"))
        return str(value) if value else ""

    async def watch(self, on_message: Callable[[str, str], None]) -> None:
        """Deliver each broadcast until cancelled (``RetryableError`` on a lost connection)."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._call("subscribe", pubsub.subscribe(self.prefix + "control"))
            while True:
                message = await self._call(
                    "listen", pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                )
                if message is None or message.get("type") != "message":
                    continue
                command, _, reason = str(message["data"]).partition(" ")
                on_message(command, reason)
        finally:
            with contextlib.suppress(*_ERRORS):
                await asyncio.shield(pubsub.aclose())

    # -- InstanceDirectory -----------------------------------------------------------------

    async def instances(self) -> list[InstanceInfo]:
        """Every instance seen, with its figures, live reservations and heartbeat."""
        p = self.prefix
        ids = sorted(await self._call("instances", self.client.smembers(p + "instances")))
        reservations = await self._call("instances", self.client.hgetall(p + "res"))
        now_s, now_us = await self._call("instances", self.client.time())
        now = now_s * 1000 + now_us // 1000
        reserved: dict[str, int] = {}
        for value in reservations.values():
            expires, inst, _market, amount = value.split("|")
            if int(expires) > now:
                reserved[inst] = reserved.get(inst, 0) + int(amount)
        out: list[InstanceInfo] = []
        for inst in ids:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(p + "info:" + inst)
                pipe.hgetall(p + "pos:" + inst)
                pipe.hgetall(p + "open:" + inst)
                pipe.exists(p + "hb:" + inst)
                info, pos, opened, alive = await self._call("instances", pipe.execute())
            out.append(
                InstanceInfo(
                    instance=inst,
                    alive=bool(alive),
                    last_heartbeat_ms=int(info.get("heartbeat_ms", 0)),
                    daily_pnl=int(info.get("daily_pnl", 0)),
                    positions={m: int(a) for m, a in pos.items()},
                    open_orders={m: int(a) for m, a in opened.items()},
                    reserved=reserved.get(inst, 0),
                    halted=info.get("halted", ""),
                )
            )
        return out
