"""`huibao run` on Telegram, stopped with SIGTERM and killed with SIGKILL in the middle of a
conversation, and started again each time: a stop does not wait for the long poll, a reply
in flight goes out after the restart, pending updates are handled once each and the
conversation goes on. Real processes over real HTTP (the fake Bot API's server)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from bot.admin.cli import main
from tests.conftest import Clock, free_port
from tests.fakes.telegram_api import FakeTelegram, SimUser

LI = SimUser(1001, "李华")


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeTelegram]:
    # Telegram's dates are the clock's: what "昨天" means does not depend on today's date.
    with FakeTelegram(clock=clock) as server:
        yield server


@pytest.fixture
def env(fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        "HUIBAO_DATA_DIR": str(tmp_path),
        "HUIBAO_TELEGRAM__TOKEN": fake.token,
        "HUIBAO_TELEGRAM__BASE_URL": fake.base_url,
        "HUIBAO_TELEGRAM__BASE_FILE_URL": fake.base_file_url,
        "HUIBAO_TELEGRAM__POLL_TIMEOUT": "30",  # the default: a stop must not wait for it
        "HUIBAO_SERVER__PORT": str(free_port()),
        "HUIBAO_LOG_LEVEL": "WARNING",
    }
    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return values


def test_sigterm_and_sigkill_lose_nothing(
    fake: FakeTelegram, env: dict[str, str], project_root: Path
) -> None:
    def huibao(*args: str) -> str:
        """A CLI command, in process: the processes under test are the `run`s."""
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    huibao("org", "load", str(project_root / "examples" / "org.yaml"))
    # made on the real clock, used at the fixed one: an invite for any date
    invite = huibao("invite", "create", "--unit", "新华社区", "--expires", "never")
    code = invite.split()[0]
    assert f"https://t.me/huibao_test_bot?start={code}" in invite  # the join link

    def start() -> subprocess.Popen[bytes]:
        polls = len(fake.get_updates_offsets)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], env={**os.environ, **env}, cwd=os.getcwd()
        )
        fake.wait_for(lambda: len(fake.get_updates_offsets) > polls or None, 30)
        return process

    def stop(process: subprocess.Popen[bytes]) -> float:
        """SIGTERM; the seconds until the process has exited cleanly (a bound, not a pace)."""
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        return time.monotonic() - began

    def unsent_replies() -> int:
        engine = create_engine(env["HUIBAO_DATABASE_URL"])
        try:
            with engine.connect() as connection:
                return int(
                    connection.execute(
                        text("select count(*) from processed_messages where sent_at is null")
                    ).scalar_one()
                )
        finally:
            engine.dispose()

    def say(text: str, expect: str) -> None:
        mark = len(fake.sent(LI.id))
        fake.user_sends_text(LI, text)
        fake.wait_for_text(LI.id, expect, since=mark, timeout=20)

    first = start()
    try:
        say(f"/start {code}", "姓名")
        fake.wait_for(lambda: fake.pending_updates() == 0 or None, 20)
        assert stop(first) < 2.0  # idle in a 30 s long poll
    finally:
        if first.poll() is None:
            first.kill()

    second = start()
    try:
        fake.hold_next("sendMessage")  # the answer to the next message stays in flight
        fake.user_sends_text(LI, "李华")
        fake.wait_for(lambda: fake.held() == 1 or None, 20)
        assert stop(second) < 2.0
    finally:
        if second.poll() is None:
            second.kill()
    fake.release_held()
    assert not any("你已加入新华社区" in t for t in fake.messages_to(LI.id))

    third = start()
    try:
        fake.wait_for_text(LI.id, "你已加入新华社区", timeout=20)  # stored, sent after the restart
        # and recorded as sent (marks are written in batches, a moment later): the SIGKILL
        # below must not fall in that moment, where a resend after the restart is expected
        fake.wait_for(lambda: unsent_replies() == 0 or None, 20)
        say("/report", "哪一类工作")
        say("1", "活动叫什么名字")
        # three answers typed in a row; the bot dies while handling them
        for answer in ("端午主题党课", "昨天", "社区党群服务中心"):
            fake.user_sends_text(LI, answer)
        fake.wait_for_text(LI.id, "哪天办的", timeout=20)
    finally:
        third.send_signal(signal.SIGKILL)
        third.wait(10)

    fourth = start()
    try:
        fake.wait_for_text(LI.id, "几场学习", timeout=30)  # the three answers are all in
        say("3场", "多少人次")
        say("4000多人次", "做了什么")
    finally:
        stop(fourth)  # a clean stop on SIGTERM

    texts = fake.messages_to(LI.id)
    assert sum("你已加入新华社区" in t for t in texts) == 1
    assert sum("姓名" in t for t in texts) == 1
    # each question of the interrupted stretch was asked once (a reply may repeat only if
    # the kill fell between sending it and recording that it was sent)
    for question in ("哪天办的", "在哪里办的", "几场学习"):
        assert 1 <= sum(question in t for t in texts) <= 2, question
    engine = create_engine(env["HUIBAO_DATABASE_URL"])
    with engine.connect() as connection:
        data = connection.execute(text("select data from conversation_states")).scalar_one()
    engine.dispose()
    answers = data if isinstance(data, dict) else json.loads(data)
    assert answers["answers"]["title"] == {"text": "端午主题党课"}
    assert answers["answers"]["location"] == {"text": "社区党群服务中心"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", answers["answers"]["dates"]["start"])
    assert answers["answers"]["attendance"]["raw"] == "4000多人次"
