"""The Telegram adapter's flood limits (PacedRateLimiter) in virtual time: when each call
goes out, to the hundredth of a second, without waiting for any of it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.channels.telegram import PacedRateLimiter
from tests.fakes.virtual_time import VirtualTime


class Api:
    """Records when each call reached 'Telegram'; `refuse` answers the next calls with errors."""

    def __init__(self, time: VirtualTime) -> None:
        self.time = time
        self.calls: list[tuple[object, float]] = []
        self.refuse: list[Exception] = []

    async def call(self, chat: object) -> dict[str, Any]:
        self.calls.append((chat, self.time.now))
        if self.refuse:
            raise self.refuse.pop(0)
        return {"ok": True}


def send(
    limiter: PacedRateLimiter, api: Api, chat: object, endpoint: str = "sendMessage"
) -> Awaitable[object]:
    return limiter.process_request(api.call, (chat,), {}, endpoint, {"chat_id": chat}, None)


def run(time: VirtualTime, work: Callable[[], Awaitable[object]]) -> None:
    asyncio.run(time.run(work()))


def limiter_on(time: VirtualTime, **options: Any) -> PacedRateLimiter:
    return PacedRateLimiter(monotonic=time.monotonic, sleep=time.sleep, **options)


def test_a_private_chat_gets_a_burst_of_four_then_one_a_second() -> None:
    time = VirtualTime()
    api, limiter = Api(time), limiter_on(time)

    async def work() -> None:
        for _ in range(6):
            await send(limiter, api, 1001)
        await send(limiter, api, 1002)  # another chat does not wait for this one's pace

    run(time, work)
    assert [t for _, t in api.calls] == pytest.approx([0, 0, 0, 0, 1, 2, 2])


def test_a_group_gets_twenty_a_minute_and_all_chats_thirty_a_second() -> None:
    time = VirtualTime()
    api, limiter = Api(time), limiter_on(time)

    async def group() -> None:
        for _ in range(22):
            await send(limiter, api, -100777)

    run(time, group)
    assert [t for _, t in api.calls] == pytest.approx([0] * 20 + [3, 6])

    time = VirtualTime()
    api, limiter = Api(time), limiter_on(time)

    async def everyone() -> None:
        await asyncio.gather(*(send(limiter, api, 2000 + i) for i in range(32)))

    run(time, everyone)
    assert sorted(t for _, t in api.calls) == pytest.approx([0] * 30 + [1 / 30, 2 / 30])


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_a_flood_wait_holds_every_call_and_the_refused_one_is_tried_again() -> None:
    time = VirtualTime()
    api, limiter = Api(time), limiter_on(time)
    api.refuse = [RetryAfter(2)]

    async def work() -> None:
        refused = asyncio.ensure_future(send(limiter, api, 1001))
        await asyncio.sleep(0)
        await asyncio.gather(refused, send(limiter, api, 1002))

    run(time, work)
    assert api.calls[0] == (1001, 0)
    assert sorted(api.calls[1:]) == [(1001, pytest.approx(2.1)), (1002, pytest.approx(2.1))]


def test_network_errors_are_retried_with_backoff_and_a_bad_request_is_not() -> None:
    time = VirtualTime()
    api, limiter = Api(time), limiter_on(time, network_backoff=0.5)
    api.refuse = [NetworkError("Bad Gateway"), NetworkError("Bad Gateway")]
    run(time, lambda: send(limiter, api, 1001))
    assert [t for _, t in api.calls] == pytest.approx([0, 0.5, 1.5])

    api.refuse = [BadRequest("message is too long")]
    with pytest.raises(BadRequest):
        run(time, lambda: send(limiter, api, 1001))
    assert len(api.calls) == 4  # one try only

    api.refuse = [NetworkError("Bad Gateway")] * 5
    with pytest.raises(NetworkError):  # five tries; then it is the chat sender's to retry
        run(time, lambda: send(limiter, api, 1001))
    assert len(api.calls) == 9
