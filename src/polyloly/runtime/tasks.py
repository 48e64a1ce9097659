"""The owner of every asyncio task the execution layer starts (venue calls).

Venue calls run as tasks whose results come back into the kernel as events. A
:class:`TaskOwner` keeps a reference to each task (so none is garbage-collected mid-flight),
cancels them all on :meth:`TaskOwner.stop`, and never swallows a crash: an exception that
escapes a task is handed to ``on_crash`` (the engine turns it into an event and an
execution error) and kept in :attr:`TaskOwner.crashes`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

__all__ = ["TaskOwner"]


class TaskOwner:
    """Starts, tracks and stops the execution layer's tasks."""

    def __init__(self, on_crash: Callable[[str, BaseException], None] | None = None) -> None:
        self._tasks: dict[asyncio.Task[None], str] = {}
        self.running: Mapping[asyncio.Task[None], str] = self._tasks
        """The tasks still running and their names (read only; ``len`` is :attr:`pending`,
        for a caller that counts them on every event)."""
        self._on_crash = on_crash
        self.crashes: list[tuple[str, BaseException]] = []
        self.started = 0
        self.closed = False

    @property
    def pending(self) -> int:
        """Tasks still running."""
        return len(self._tasks)

    def names(self) -> list[str]:
        """Names of the running tasks."""
        return sorted(self._tasks.values())

    def spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Start ``coro`` as an owned task (``None``, and ``coro`` closed, once stopped)."""
        if self.closed:
            coro.close()
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks[task] = name
        self.started += 1
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        name = self._tasks.pop(task, "?")
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self.crashes.append((name, exc))
        if self._on_crash is not None:
            self._on_crash(name, exc)

    async def drain(self, max_rounds: int = 10_000) -> None:
        """Wait until no task is running (tasks may start more tasks)."""
        rounds = 0
        while self._tasks:
            rounds += 1
            if rounds > max_rounds:
                raise RuntimeError(f"tasks still running: {self.names()}")
            await asyncio.wait(list(self._tasks), return_when=asyncio.ALL_COMPLETED)
            await asyncio.sleep(0)  # let done-callbacks run

    async def stop(self) -> None:
        """Cancel every task, wait for them to finish, and start no new ones."""
        self.closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
