"""Time the tests control, for the WeCom channels' pacing, retries and deadlines.

    time = VirtualTime()
    bot = WecomBot(..., monotonic=time.monotonic, sleep=time.sleep)
    await time.advance(60)  # every sleeper due within the minute wakes, in order

`sleep` waits until a test moves the clock past it. With `jump_up_to`, a sleep of at most
that many seconds moves the clock itself and returns at once: pacing and retry pauses then
take no real time while still spacing messages in virtual time, and longer sleeps (a sweep
every hour) wait for the test.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class VirtualTime:
    """A clock tests move by hand; `sleep` returns when the clock has been advanced past it."""

    def __init__(self, *, jump_up_to: float = 0.0) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._jump_up_to = jump_up_to
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    @property
    def waiting(self) -> int:
        """How many sleepers wait for the clock to be moved."""
        return sum(1 for _, _, waiter in self._waiting if not waiter.done())

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        if seconds <= self._jump_up_to:
            await self.advance(seconds)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (self.now + seconds, next(self._order), waiter))
        await waiter

    async def advance(self, seconds: float) -> None:
        """Move the clock, waking every sleeper due by then (in order)."""
        target = self.now + seconds
        while self._waiting and self._waiting[0][0] <= target:
            due, _, waiter = heapq.heappop(self._waiting)
            self.now = max(self.now, due)
            if not waiter.done():
                waiter.set_result(None)
                await settle()
        self.now = target
        await settle()

    async def run(self, work: Awaitable[T]) -> T:
        """Await `work` alone, moving the clock to the next sleeper whenever one waits.

        Only for work that waits on nothing but this clock and the event loop (an
        in-process fake), so that a pending sleeper means the work is waiting for it.
        """
        task = asyncio.ensure_future(work)
        while not task.done():
            if self._waiting:
                await self.advance(max(0.0, self._waiting[0][0] - self.now))
            else:
                await asyncio.sleep(0)
        return task.result()


async def settle(rounds: int = 20) -> None:
    """Let the tasks that can run, run."""
    for _ in range(rounds):
        await asyncio.sleep(0)
