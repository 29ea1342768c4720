"""Shell accounts get reminders too: `huibao run` without a platform ticks for the shell and
shows them as notices; `huibao remind preview` lists them, and says why nothing would be sent
when nothing would. The clock is the click context's object; nothing sleeps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.admin.cli import main
from tests.conftest import Clock
from tests.reminders.test_reminders import at

NOTICE = "汇报（通知）> 演示用户，您好！2026年上半年工作总结快要汇总了"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        "HUIBAO_LOG_LEVEL": "WARNING",
    }


def huibao(env: dict[str, str], when: str, *args: str, input: str | None = None):
    return CliRunner().invoke(
        main, list(args), env=env, input=input, catch_exceptions=False, obj=Clock(at(when))
    )


def test_run_without_a_platform_shows_the_reminder_ladder_in_the_shell(
    env: dict[str, str],
) -> None:
    # Wednesday 24 June: the reflection (due Thursday 18:00) is at its 3-day step
    result = huibao(env, "2026-06-24 10:00", "run", input="/help\n/mine\n")
    assert result.exit_code == 0, result.output
    assert result.output.count(NOTICE) == 1  # once, not at every line
    assert "点下面的按钮就能开始" in result.output and "回顾) ✍️ 开始回顾" in result.output
    # the demo member also coordinates 新华社区: the digest of who is missing
    assert "汇报（通知）> 演示用户，您好！“2026年上半年工作回顾”将于" in result.output
    # the next step, a day before: once more, in a new session
    later = huibao(env, "2026-06-24 18:30", "shell", input="/mine\n")
    assert later.output.count(NOTICE) == 1 and "还有 24 小时" in later.output
    # preview lists the shell account's next reminder
    preview = huibao(env, "2026-06-25 16:00", "remind", "preview")
    assert "reminder to 演示用户 (shell demo)" in preview.output
    assert "step 2h before" in preview.output


def test_preview_says_why_nothing_would_be_sent(env: dict[str, str]) -> None:
    huibao(env, "2026-06-24 10:00", "run", input="/help\n")  # the demo member, reminded
    sent = huibao(env, "2026-06-24 11:00", "remind", "preview").output
    assert "nothing would be sent:" in sent
    assert "reflection:2026H1 (reflection 2026H1, due 2026-06-25 18:00): the step 3d" in sent
    assert (
        "monthly-entry:2026-06 (monthly-entry 2026-06, due 2026-07-05 18:00): no step has " in sent
    )
    assert "the first, 7d before, goes out 2026-06-28 18:00" in sent

    off = huibao(
        {**env, "HUIBAO_REMINDERS__ENABLED": "false"}, "2026-06-25 16:00", "remind", "preview"
    )
    assert "reminders are switched off (HUIBAO_REMINDERS__ENABLED=false)" in off.output

    quiet = huibao(env, "2026-06-28 07:00", "remind", "preview").output
    assert "quiet hours: nothing goes out before 2026-06-28 08:00" in quiet

    # on National Day a step long due would be queued, but waits for the first working day
    holiday = huibao(env, "2026-10-02 10:00", "remind", "preview").output
    assert "holiday: 国庆节: nothing goes out before 2026-10-08 08:00" in holiday
    assert "would be queued, to go out from 2026-10-08 08:00:" in holiday
    huibao(env, "2026-10-02 10:00", "shell", input="/help\n")  # (the person typing sees it)
    holiday = huibao(env, "2026-10-03 10:00", "remind", "preview").output
    assert "2026-10-03 is a holiday (国庆节)" in holiday
    assert "monthly-entry:2026-10 (monthly-entry 2026-10, due 2026-11-05 18:00): no step" in holiday

    huibao(env, "2026-06-24 12:00", "shell", input="少提醒\n")
    muted = huibao(env, "2026-06-25 16:00", "remind", "preview", "--text").output
    assert "reminder to 演示用户" not in muted  # no reminder for the one who muted it
    assert "digest to 演示用户" in muted  # the coordinator still learns who is missing
    assert "🔕 以下人员关闭了提醒，这次没有提醒他们：演示用户" in muted

    huibao(env, "2026-06-24 12:00", "shell", input="/remind on\n/reflect\n宣传不够\n/skip\n")
    done = huibao(env, "2026-06-25 16:00", "remind", "preview").output
    assert "reflection 2026H1, due 2026-06-25 18:00): everyone held to it has done it" in done


def test_the_shell_shows_the_chat_without_log_lines_unless_asked(env: dict[str, str]) -> None:
    """The terminal is the chat: the tick's INFO lines do not land between its messages,
    unless HUIBAO_LOG_LEVEL asks for them."""
    quiet = {k: v for k, v in env.items() if k != "HUIBAO_LOG_LEVEL"}
    result = huibao(quiet, "2026-06-24 10:00", "run", input="/mine\n")
    assert result.exit_code == 0, result.output
    assert NOTICE in result.output  # the tick ran and reminded
    assert " INFO " not in result.output + result.stderr
    other = quiet["HUIBAO_DATABASE_URL"].replace("huibao.sqlite3", "other.sqlite3")
    info = {**quiet, "HUIBAO_DATABASE_URL": other, "HUIBAO_LOG_LEVEL": "INFO"}
    asked = huibao(info, "2026-06-24 10:00", "run", input="/mine\n")
    assert "INFO bot.reminders.tick: tick:" in asked.output + asked.stderr
