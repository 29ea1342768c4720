"""The `huibao` command line, as an admin and a newcomer use it."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.admin.cli import main
from tests.conftest import SHANGHAI, Clock, free_port

REPORT_SCRIPT = """/report
理论学习
端午主题党课
昨天
社区党群服务中心
3场
4000多人次
邀请老党员讲党史故事，组织居民观看专题片。
居民参与热情高，12人报名加入志愿队伍。
/skip
/photo
完成
1
/mine
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        "HUIBAO_LOG_LEVEL": "WARNING",
        "HUIBAO_SERVER__PORT": str(free_port()),  # `run` serves /healthz: not on a fixed port
    }
    for name in list(os.environ):
        if name.startswith("HUIBAO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return values


# The commands run at a fixed instant (passed as the click context's object), so what
# "昨天" means and which half-year a listing shows never depend on today's date.
CLOCK = Clock(datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI).astimezone(UTC))


def invoke(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner().invoke(
        main, list(args), env=env, input=input, catch_exceptions=False, obj=CLOCK
    )


def test_help_documents_every_subcommand(env: dict[str, str]) -> None:
    result = invoke(env, "--help")
    assert result.exit_code == 0
    for command in ("run", "shell", "db", "org", "invite", "entries"):
        assert re.search(rf"^\s+{command}\s+\S", result.output, re.MULTILINE), command
    for group, sub in (
        ("db", "upgrade"),
        ("org", "load"),
        ("invite", "create"),
        ("entries", "list"),
    ):
        assert sub in invoke(env, group, "--help").output


def test_run_opens_the_shell_with_a_demo_member_who_can_report(env: dict[str, str]) -> None:
    result = invoke(env, "run", input=REPORT_SCRIPT)
    assert result.exit_code == 0, result.output
    assert "已保存，记录编号 #1" in result.output
    assert "4000余人次" in result.output
    listing = invoke(env, "entries", "list", "--period", "2026H1")
    assert "端午主题党课" in listing.output
    assert "演示用户" in listing.output


def test_in_the_shell_an_entry_sent_back_is_shown_fixed_and_reported_back(
    env: dict[str, str],
) -> None:
    # The demo member is staff and coordinator of 新华社区: they send their own entry back.
    script = REPORT_SCRIPT + "/return 1 请补充活动照片\n/edit 1\n1\n"
    result = invoke(env, "run", input=script)
    assert result.exit_code == 0, result.output
    after_return = result.output.split("/return 1")[1]
    notice = after_return.split("你> /edit 1")[0]
    assert "汇报（通知）> " in notice and "理由：请补充活动照片" in notice
    after_save = result.output.split("你> /edit 1")[1]
    assert "已把新版本转给演示用户" in after_save
    assert after_save.count("汇报（通知）> ") == 1  # the coordinator's copy of the new version
    assert "已修改您退回的记录 #1（第 2 版）" in after_save
    again = invoke(env, "shell", "--as", "demo", input="/mine\n")
    assert "汇报（通知）" not in again.output  # each notice is shown once


def test_org_invite_join_and_list(env: dict[str, str], project_root: Path) -> None:
    org = project_root / "examples" / "org.yaml"
    first = invoke(env, "org", "load", str(org))
    assert first.exit_code == 0 and "6 created" in first.output
    again = invoke(env, "org", "load", str(org))
    assert "0 created, 0 updated, 6 unchanged" in again.output
    tree = invoke(env, "org", "show").output
    assert "河西区 [hexi]" in tree and "    新华社区" in tree

    created = invoke(
        env,
        "invite",
        "create",
        "--unit",
        "新华社区",
        "--role",
        "coordinator",
        "--uses",
        "2",
        "--expires",
        "3d",
    )
    assert created.exit_code == 0, created.output
    code = created.output.split()[0]
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)

    joined = invoke(env, "shell", "--as", "wang", input=f"/start {code}\n王芳\n/help\n")
    assert "王芳，你已加入新华社区，身份：负责人" in joined.output

    assert invoke(env, "entries", "list", "--unit", "hexi").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("invite", "create", "--unit", "nowhere"), "no unit 'nowhere'"),
        (("invite", "create", "--unit", "hexi", "--expires", "soon"), "7d, 12h"),
        (("invite", "create", "--unit", "hexi", "--role", "boss"), "'boss' is not one of"),
        (("entries", "list", "--period", "2026Q3"), "2026H1 or 2026H2"),
        (("entries", "list", "--unit", "nowhere"), "no unit 'nowhere'"),
    ],
)
def test_bad_arguments_are_explained(
    env: dict[str, str], project_root: Path, args, message
) -> None:
    invoke(env, "org", "load", str(project_root / "examples" / "org.yaml"))
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code != 0
    assert message in result.output


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HUIBAO_DATABASE_URL", "mysql://x@y/z", "HUIBAO_DATABASE_URL"),
        ("HUIBAO_DATABASE_URL", "not a url", "HUIBAO_DATABASE_URL"),
        ("HUIBAO_TIMEZONE", "Mars/Olympus", "HUIBAO_TIMEZONE"),
        ("HUIBAO_LOG_LEVEL", "LOUD", "HUIBAO_LOG_LEVEL"),
        ("HUIBAO_WECOM__AGENT_ID", "abc", "HUIBAO_WECOM__AGENT_ID"),
    ],
)
def test_a_wrong_setting_stops_the_start_and_is_named(
    env: dict[str, str], name, value, message
) -> None:
    result = CliRunner().invoke(main, ["run"], env={**env, name: value}, input="")
    assert result.exit_code != 0
    assert message in result.output
    assert "configuration error" in result.output


def test_an_unreachable_database_is_named(env: dict[str, str]) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    result = CliRunner().invoke(main, ["entries", "list"], env={**env, "HUIBAO_DATABASE_URL": url})
    assert result.exit_code != 0
    assert "HUIBAO_DATABASE_URL" in result.output


def test_an_unreachable_bot_api_is_named(env: dict[str, str]) -> None:
    settings = {
        "HUIBAO_TELEGRAM__TOKEN": "123:abc",
        "HUIBAO_TELEGRAM__BASE_URL": "http://127.0.0.1:9/bot",
    }
    result = CliRunner().invoke(main, ["run"], env={**env, **settings})
    assert result.exit_code != 0
    assert "HUIBAO_TELEGRAM__BASE_URL" in result.output


def test_a_malformed_token_is_named(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["run"], env={**env, "HUIBAO_TELEGRAM__TOKEN": "not-a-token"})
    assert result.exit_code != 0
    assert "HUIBAO_TELEGRAM__TOKEN" in result.output


class ShellProcess:
    """`huibao run` in a real process, spoken to through pipes."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
        )
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.seen = ""

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def wait_for(self, fragment: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while fragment not in self.seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {fragment!r} in:\n{self.seen}")
            if self.selector.select(remaining):
                chunk = self.process.stdout.read()
                if chunk:
                    self.seen += chunk.decode(errors="replace")
        found = self.seen
        self.seen = ""
        return found

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.selector.close()


QUESTIONS = [
    "活动叫什么名字",
    "活动是哪天办的",
    "在哪里办的",
    "几场学习",
    "多少人次",
    "做了什么",
    "效果怎么样",
]


@pytest.mark.parametrize("answered", [1, 3, 5])
def test_kill_9_in_the_middle_loses_at_most_the_message_in_flight(
    env: dict[str, str], tmp_path: Path, answered: int
) -> None:
    # A separate process runs on the real clock: "今天" is in the current half-year on any
    # day, where "昨天" asks first on 1 January and 1 July.
    answers = ["端午主题党课", "今天", "社区党群服务中心", "3场", "4000多人次", "讲党史故事"]
    first = ShellProcess(env, tmp_path)
    first.send("/report")
    first.wait_for("哪一类工作")
    first.send("理论学习")
    first.wait_for(QUESTIONS[0])
    for index in range(answered):
        first.send(answers[index])
        first.wait_for(QUESTIONS[index + 1])
    first.send(answers[answered])  # in flight when the process dies
    first.kill()

    second = ShellProcess(env, tmp_path)
    second.send("/help")
    shown = second.wait_for("题）")  # the help text, then the question it was on
    current = next(q for q in QUESTIONS if q in shown.split("/help 显示这条说明", 1)[-1])
    assert current in (QUESTIONS[answered], QUESTIONS[answered + 1])
    second.send("/quit")
    second.process.wait(timeout=10)


def test_a_broken_summary_template_stops_the_start_with_file_and_line(
    env: dict[str, str], tmp_path: Path, project_root: Path
) -> None:
    import shutil

    own = tmp_path / "my-templates"
    shutil.copytree(project_root / "templates" / "summary", own)
    (own / "summary.md.j2").write_text("# {{ summary.title }}\n{% for x in %}\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["run"], env={**env, "HUIBAO_SUMMARY_TEMPLATES_DIR": str(own)}, input=""
    )
    assert result.exit_code != 0
    assert "summary.md.j2, line 2" in result.output
