"""The presigner task (live only): keeps the pre-signed order pool stocked.

:class:`Presigner` asks the strategy which orders it may send next, signs the missing or
ageing ones **off the event loop** and publishes each as a
:class:`~polyloly.execution.presign.PresignReady` input event (or a
:class:`~polyloly.execution.presign.PresignDiscarded` for what is no longer wanted). The pool
it fills, the events and the rules live in :mod:`polyloly.execution.presign`, which a replay
imports; a replay must never import this module (it re-feeds the logged events instead).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

from polyloly.domain.events import (
    Event,
    MarketResolved,
    TickSizeChange,
    TimerTick,
    TruthAlert,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.intents import PlaceOrderIntent
from polyloly.domain.money import is_on_tick
from polyloly.execution.ports import OrderSigner, OrderSpec, SignedOrder, deterministic_salt
from polyloly.execution.presign import (
    OrderTarget,
    PresignDiscarded,
    PresignFailed,
    PresignKey,
    PresignPool,
    PresignReady,
    ReadyOrder,
    target_key,
)
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S
from polyloly.runtime.errors import PolylolyError
from polyloly.runtime.kernel import Kernel

__all__ = ["Presigner", "SignRunner", "thread_runner"]


SignRunner = Callable[[OrderSigner, OrderSpec], Awaitable[SignedOrder]]
"""Runs one signature away from the event loop."""


async def thread_runner(signer: OrderSigner, spec: OrderSpec) -> SignedOrder:
    """Sign in the default executor's worker thread (``asyncio.to_thread``)."""
    return await asyncio.to_thread(signer.sign, spec)


class Presigner:
    """Keeps the pool stocked with fresh signatures of the strategy's targets (live only).

    Parameters
    ----------
    kernel
        Where :class:`PresignReady` / :class:`PresignDiscarded` are published.
    pool
        The order manager's pool (its config gives the ages).
    signer
        The signer the order manager uses too (a :class:`SerialSigner`).
    targets
        Returns the orders the strategy may send next; called after the kernel's dispatch.
    run_sign
        Runs a signature off the loop (default: a worker thread).
    tick_of
        The token's current tick (micros); orders priced off it are discarded.
    """

    def __init__(
        self,
        kernel: Kernel,
        pool: PresignPool,
        signer: OrderSigner,
        targets: Callable[[], Iterable[OrderTarget]],
        *,
        run_sign: SignRunner = thread_runner,
        tick_of: Callable[[str], int] | None = None,
    ) -> None:
        self.kernel = kernel
        self.pool = pool
        self.signer = signer
        self.config = pool.config
        self._targets = targets
        self._run_sign = run_sign
        self._tick_of = tick_of
        self._wake = asyncio.Event()
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._task: asyncio.Task[None] | None = None
        self._failed: dict[str, tuple[PresignKey, int]] = {}  # token -> (key, retry at ns)
        self._tick_gen: dict[str, int] = {}  # token -> tick changes seen
        self._tick_done: dict[str, int] = {}  # token -> tick changes its ready order reflects
        self._seq = 0
        self.passes = 0
        self.errors = 0

    # -- wiring -----------------------------------------------------------------------------

    def attach(self) -> None:
        """Wake on every event that may change the targets or the tick, and on timer ticks."""
        k = self.kernel
        for cls in (TruthDelta, TruthFinal, TruthAlert, MarketResolved, TimerTick):
            k.subscribe(cls, self._poke)
        k.subscribe(PlaceOrderIntent, self._poke)
        k.subscribe(TickSizeChange, self._on_tick_size)

    def start(self) -> None:
        """Start the signing task (from a running event loop) and run a first pass."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="presigner")
            self.wake()

    async def stop(self) -> None:
        """Stop the signing task (a signature in flight finishes in its thread, unused)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._quiet.set()

    def wake(self) -> None:
        """Ask for a pass (e.g. after the strategy's parameters changed)."""
        self._quiet.clear()
        self._wake.set()

    async def idle(self) -> None:
        """Wait until every requested pass has finished (tests, benchmarks)."""
        if self._task is not None:
            await self._quiet.wait()

    def _poke(self, _event: Event) -> None:
        self.wake()

    def _on_tick_size(self, event: TickSizeChange) -> None:
        self._tick_gen[event.token_id] = self._tick_gen.get(event.token_id, 0) + 1
        self.wake()

    # -- the task -----------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                if not self._wake.is_set():
                    self._quiet.set()
                await self._wake.wait()
                # The event that woke us may have sent an order in the same dispatch: its
                # submit task was scheduled after our wake-up. Step behind it, so the order
                # is written to the socket before this pass takes the loop.
                await asyncio.sleep(0)
                self._wake.clear()
                try:
                    await self._pass()
                except Exception as exc:  # a bad pass must not end presigning; it is reported
                    self.errors += 1
                    self._failed_event("", f"presign pass: {type(exc).__name__}: {exc}")
        finally:
            self._quiet.set()

    def _wanted(self) -> dict[str, OrderTarget]:
        return {t.token_id: t for t in self._targets()}

    async def _pass(self) -> None:
        self.passes += 1
        wanted = self._wanted()
        self._discard(wanted, self.kernel.now_ns())
        for token in self._due(wanted, self.kernel.now_ns()):
            target = self._wanted().get(token)  # the world may have moved during a signature
            if target is not None:
                await self._sign(target)

    def _discard(self, wanted: dict[str, OrderTarget], now: int) -> None:
        groups: dict[str, list[str]] = {}
        for entry in self.pool.ready():
            reason = self._unfit(entry, wanted.get(entry.token_id), now)
            if reason:
                groups.setdefault(reason, []).append(entry.order.order_hash)
        for reason, hashes in sorted(groups.items()):
            now_ns = self.kernel.now_ns()
            self.kernel.publish(
                PresignDiscarded(
                    ts_event=now_ns, ts_init=now_ns, order_hashes=tuple(hashes), reason=reason
                )
            )

    def _unfit(self, entry: ReadyOrder, target: OrderTarget | None, now: int) -> str:
        if target is None:
            return "not wanted"
        if target_key(target) != entry.key:
            return "target changed"
        tick = self._tick_of(entry.token_id) if self._tick_of is not None else 0
        if tick > 0 and not is_on_tick(entry.order.spec.price, tick):
            return "off tick"
        if now - entry.signed_ns > self.config.max_age_ns:
            return "stale"
        return ""

    def _due(self, wanted: dict[str, OrderTarget], now: int) -> list[str]:
        """Tokens to sign: nothing ready first, then the oldest refreshes."""
        due: list[tuple[int, int, str]] = []
        for token, target in wanted.items():
            key = target_key(target)
            failed = self._failed.get(token)
            if failed is not None and failed[0] == key and now < failed[1]:
                continue
            tick = self._tick_of(token) if self._tick_of is not None else 0
            if tick > 0 and not is_on_tick(target.price, tick):
                continue  # the venue would refuse it; the strategy's intent fails the gate too
            entry = self.pool.get(token)
            if entry is None or entry.key != key:
                due.append((0, 0, token))
            elif now - entry.signed_ns >= self.config.refresh_after_ns or self._tick_gen.get(
                token, 0
            ) != self._tick_done.get(token, 0):
                due.append((1, entry.signed_ns, token))
        return [token for _, _, token in sorted(due)]

    async def _sign(self, target: OrderTarget) -> None:
        now = self.kernel.now_ns()
        token, key = target.token_id, target_key(target)
        tick_gen = self._tick_gen.get(token, 0)
        timestamp_ms = now // NS_PER_MS
        self._seq += 1
        client_id = f"presign:{token}:{timestamp_ms}:{self._seq}"
        spec = OrderSpec(
            client_id=client_id,
            market=target.market_id,
            token_id=token,
            side=target.side,
            price=target.price,
            size=target.size,
            order_type=target.order_type,
            salt=deterministic_salt(client_id),
            timestamp_ms=timestamp_ms,
        )
        try:
            signed = await self._run_sign(self.signer, spec)
        except (PolylolyError, ValueError) as exc:
            self.pool.stats.sign_failures += 1
            self._failed[token] = (key, now + self.config.failure_backoff_s * NS_PER_S)
            self._failed_event(token, str(exc))
            return
        self._failed.pop(token, None)
        self.pool.stats.signed += 1
        current = self._wanted().get(token)
        if current is None or target_key(current) != key:
            self.pool.stats.discarded += 1  # the target moved on while it was being signed
            return
        self._tick_done[token] = tick_gen
        self.kernel.publish(
            PresignReady(
                ts_event=timestamp_ms * NS_PER_MS,
                ts_init=self.kernel.now_ns(),
                match_id=target.match_id,
                order=signed,
            )
        )

    def _failed_event(self, token: str, error: str) -> None:
        now = self.kernel.now_ns()
        self.kernel.publish(PresignFailed(ts_event=now, ts_init=now, token_id=token, error=error))
