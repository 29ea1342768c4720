"""bot.runner: the core's sweep of the WeCom app's unsent replies runs on the leader only.

Callbacks reach every instance; a reply committed but not sent (the instance died between
commit and send) must go out once, so only the leading instance looks for them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from bot.app import App
from bot.core.conversation import Conversation
from bot.core.questionnaire import Questionnaire
from bot.core.types import Incoming, Kind
from bot.instances import Leadership
from bot.runner import run_platforms
from bot.settings import Settings
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit
from storage.db import transaction
from storage.models import ProcessedMessage
from tests.conftest import free_port, register
from tests.fakes.wecom_api import FakeWecom
from tests.wecom_client import AES_KEY, TOKEN

LI = "lihua"


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    with FakeWecom() as server:
        yield server


def _app(
    engine: Engine,
    sessions: sessionmaker[Session],
    questionnaires: dict[str, Questionnaire],
    conversation: Conversation,
    fake: FakeWecom,
    tmp_path: Path,
) -> App:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        wecom={
            "corp_id": fake.corp_id,
            "agent_id": fake.agent_id,
            "secret": fake.secret,
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "base_url": fake.base_url,
        },
        server={"host": "127.0.0.1", "port": free_port()},
        leader={"retry_seconds": 0.2, "check_seconds": 0.2},
    )
    kit = SummaryKit.load(templates_dir() / "summary")
    return App(
        settings, engine, sessions, questionnaires, conversation, lambda: datetime.now(UTC), kit
    )


def _committed_not_sent(conversation: Conversation, sessions: sessionmaker[Session]) -> None:
    """/mine processed and committed a minute ago; the instance died before sending."""
    register(sessions, "李华", "demo-xinhua", platform="wecom", external_id=LI)
    crashed = Incoming("wecom", LI, f"{LI}/10001", datetime.now(UTC), Kind.TEXT, "/mine")
    assert conversation.process(crashed).replies
    with transaction(sessions) as session:  # older than the sweep's "still on its way"
        session.execute(
            update(ProcessedMessage).values(processed_at=datetime.now(UTC) - timedelta(minutes=1))
        )


def _times_shown(fake: FakeWecom) -> int:
    return sum("还没有上报记录" in message.text for message in fake.messages_to(LI))


def test_the_leader_sends_the_replies_committed_before_a_restart(
    engine, sessions, questionnaires, conversation, demo_org, fake: FakeWecom, tmp_path: Path
) -> None:
    _committed_not_sent(conversation, sessions)
    app = _app(engine, sessions, questionnaires, conversation, fake, tmp_path)

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(run_platforms(app, stop))
        try:
            await asyncio.to_thread(fake.wait_for_text, LI, "还没有上报记录")
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await running

    asyncio.run(main())
    assert _times_shown(fake) == 1


def test_an_instance_that_does_not_lead_leaves_them_to_the_leader(
    engine, sessions, questionnaires, conversation, demo_org, fake: FakeWecom, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several instances share PostgreSQL; SQLite runs one, which leads")
    _committed_not_sent(conversation, sessions)
    app = _app(engine, sessions, questionnaires, conversation, fake, tmp_path)

    async def main() -> None:
        other_stop, leading = asyncio.Event(), asyncio.Event()

        async def other_leads(ended: asyncio.Event) -> None:  # another instance's term
            leading.set()
            await ended.wait()

        other = asyncio.create_task(Leadership(engine, check=0.2).run(other_stop, other_leads))
        await leading.wait()
        stop = asyncio.Event()
        running = asyncio.create_task(run_platforms(app, stop))
        try:
            started = time.monotonic()
            await asyncio.sleep(1.5)  # standing by: it would have swept at once
            assert _times_shown(fake) == 0
            other_stop.set()  # the leader goes: this instance leads and sends them, once
            await other
            await asyncio.to_thread(fake.wait_for_text, LI, "还没有上报记录")
            assert time.monotonic() - started > 1.5
            await asyncio.sleep(0.3)
        finally:
            other_stop.set()
            stop.set()
            await running

    asyncio.run(main())
    assert _times_shown(fake) == 1
