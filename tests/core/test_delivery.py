"""The core's delivery: kept messages and unsent replies handed back to their channel once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.conversation import Conversation
from bot.core.delivery import Delivery, SentMarks
from bot.core.types import Incoming, Kind, Reply


class RecordingChannel:
    """What a channel offers the sweep, recording what it was handed."""

    def __init__(self) -> None:
        self.in_hand: set[str] = set()
        self.failing: set[str] = set()  # their sends fail for a passing reason, once
        self.resent: list[tuple[str, list[str]]] = []
        self.taken_up: list[tuple[str, dict[str, Any]]] = []

    def busy(self, key: str) -> bool:
        return key in self.in_hand

    async def take_up(self, key: str, body: dict[str, Any]) -> None:
        self.taken_up.append((key, body))

    async def resend(self, key: str, replies: list[Reply]) -> bool:
        if key in self.failing:
            self.failing.discard(key)
            return False
        self.resent.append((key, [reply.text for reply in replies]))
        return True


def _said(delivery: Delivery, key: str, text: str) -> list[Reply]:
    incoming = Incoming("wecom", key.split("/")[0], key, datetime.now(UTC), Kind.TEXT, text)
    return delivery.process(incoming).replies


def test_unsent_replies_are_resent_once_in_their_turn(conversation: Conversation) -> None:
    delivery = Delivery(conversation, "wecom")
    channel = RecordingChannel()
    help_replies = _said(delivery, "lihua/1", "/help")
    _said(delivery, "lihua/2", "/help")
    _said(delivery, "zhou/3", "/help")
    assert help_replies
    channel.in_hand.add("zhou/3")  # still being handled here
    channel.failing.add("lihua/2")

    def sweep(after: float) -> int:
        return asyncio.run(delivery.sweep(channel, after=after))

    assert sweep(after=30) == 0  # too young: they may still be on their way
    assert channel.resent == []
    assert sweep(after=0) == 2
    assert channel.resent == [("lihua/1", [r.text for r in help_replies])]
    assert sweep(after=0) == 1  # the failed one, again; the sent one is marked
    assert [key for key, _ in channel.resent] == ["lihua/1", "lihua/2"]
    channel.in_hand.clear()
    assert sweep(after=0) == 1
    assert sweep(after=0) == 0
    assert [key for key, _ in channel.resent] == ["lihua/1", "lihua/2", "zhou/3"]


def test_replies_sent_by_the_channel_are_marked_and_not_swept(conversation: Conversation) -> None:
    delivery = Delivery(conversation, "wecom")
    channel = RecordingChannel()
    replies = _said(delivery, "lihua/1", "/help")

    async def sent() -> bool:
        return True

    async def failed() -> bool:
        return False

    assert not asyncio.run(delivery.send(["lihua/1"], failed()))
    assert asyncio.run(delivery.sweep(channel, after=0)) == 1  # a failed send waits for it
    _said(delivery, "lihua/2", "/help")
    assert asyncio.run(delivery.send(["lihua/2"], sent()))
    assert asyncio.run(delivery.sweep(channel, after=0)) == 0
    assert channel.resent == [("lihua/1", [r.text for r in replies])]


def test_kept_messages_are_taken_up_until_forgotten(conversation: Conversation) -> None:
    app = Delivery(conversation, "wecom")
    robot = Delivery(conversation, "wecom", kept_as="wecom_robot")
    channel = RecordingChannel()
    app.keep("lihua/7", {"content": "/mine"})
    app.keep("lihua/7", {"content": "again"})  # a retry of the same message: kept once
    app.keep("zhou/8", {"content": "/help"})
    channel.in_hand.add("zhou/8")
    robot.keep("lihua/9", {"cmd": "aibot_msg_callback"})

    asyncio.run(app.sweep(channel, after=0))
    assert channel.taken_up == [("lihua/7", {"content": "/mine"})]  # the robot's are its own
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert [key for key, _ in app.waiting(later)] == ["lihua/7", "zhou/8"]
    app.forget("lihua/7")
    assert [key for key, _ in app.waiting(later)] == ["zhou/8"]
    assert robot.waiting(later) == [("lihua/9", {"cmd": "aibot_msg_callback"})]


def test_marks_noted_together_are_written_in_one_statement(conversation: Conversation) -> None:
    delivery = Delivery(conversation, "wecom")
    keys = [f"lihua/{n}" for n in range(5)]
    for key in keys:
        _said(delivery, key, "/help")
    writes: list[list[str]] = []
    told: list[str] = []

    async def run(mark: Callable[[list[str]], None], marking: list[str]) -> None:
        writes.append(list(marking))
        await asyncio.to_thread(mark, marking)

    async def scenario() -> None:
        marks = SentMarks(delivery, run=run, marked=told.extend, delay=0.01)
        for key in keys[:3]:
            marks.add(key)
        await marks.now(keys[3])  # a webhook's: at once, on its own
        await asyncio.sleep(0.05)
        marks.add(keys[4])
        await marks.flush()  # a stop: no more waiting

    asyncio.run(scenario())
    assert writes == [keys[3:4], keys[:3], keys[4:]]
    assert sorted(told) == keys
    assert asyncio.run(delivery.sweep(RecordingChannel(), after=0)) == 0  # all marked sent
