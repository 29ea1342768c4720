"""Asking for the summary in chat and on the CLI: who may, what they get."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.shell import render
from bot.core.conversation import Conversation
from bot.core.types import Reply
from bot.jobs import Worker
from bot.reminders.outbox import take_waiting
from bot.shipped import templates_dir
from bot.summary.service import SummaryKit
from storage.models import RoleName
from tests.chat import Chat, play
from tests.conftest import SHANGHAI, Clock, register
from tests.core.test_dialog import HAPPY_PATH


def _numbers(reply: str) -> dict[str, int]:
    """The points /closing lists, by text, with the numbers it shows."""
    return {m.group(2): int(m.group(1)) for m in re.finditer(r"^(\d+)\. (.+)$", reply, re.M)}


@pytest.fixture
def leader_conversation(sessions, questionnaires, clock: Clock) -> Conversation:
    kit = SummaryKit.load(templates_dir() / "summary")
    return Conversation(
        sessions, questionnaires, "community_culture", SHANGHAI, clock, summaries=kit
    )


Ask = Callable[[Chat, str], str]


@pytest.fixture
def ask(sessions: sessionmaker[Session], clock: Clock, tmp_path: Path) -> Ask:
    """Say something and wait for what a job sends: /summary answers at once ("正在生成"),
    the preview, chart and .docx follow from the worker (bot.jobs) through the outbox."""
    worker = Worker(sessions, SummaryKit.load(templates_dir() / "summary"), tmp_path, clock)

    def say(chat: Chat, text: str) -> str:
        chat.say(text)
        worker.run_due()
        chat.replies += take_waiting(sessions, chat.platform, chat.user, clock())
        return "\n".join(render(r) for r in chat.replies)

    return say


def test_a_coordinator_gets_a_preview_a_chart_and_the_docx(
    leader_conversation: Conversation,
    sessions: sessionmaker[Session],
    demo_org: None,
    clock: Clock,
    ask: Ask,
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    play(Chat(leader_conversation, "李华", clock), HAPPY_PATH)
    boss = Chat(leader_conversation, "周主任", clock)
    text = ask(boss, "/summary")
    assert boss.replies[0] == Reply("正在生成，请稍候")  # at once; the rest from the job
    assert "和平街道2026年上半年文化工作总结" in text
    assert "参学党员群众4000余人次" in text
    assert "截至6月24日，朝阳社区尚未填报本期活动。" in text
    assert "待补充" in text
    documents = [r.document for r in boss.replies if r.document is not None]
    images = [r.image for r in boss.replies if r.image is not None]
    assert len(documents) == 1 and len(images) == 1
    assert images[0].content.startswith(b"\x89PNG")
    opened = docx.Document(io.BytesIO(documents[0].content))
    body = "\n".join(p.text for p in opened.paragraphs)
    assert "和平街道2026年上半年文化工作总结" in body
    assert "4000余人次" in body
    # a community by name, and an earlier period
    assert "新华社区2026年上半年文化工作总结" in ask(boss, "/summary 新华社区 2026H1")


def test_summaries_are_limited_to_ones_own_units(
    leader_conversation: Conversation,
    sessions: sessionmaker[Session],
    demo_org: None,
    clock: Clock,
    ask: Ask,
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "孙书记", "demo-chaoyang", RoleName.COORDINATOR)
    play(Chat(leader_conversation, "李华", clock), HAPPY_PATH)
    chaoyang = Chat(leader_conversation, "孙书记", clock)
    for request in (
        "/summary 新华社区",
        "/summary 和平街道",
        "/summary demo-district",
        "/summary 不存在的社区",
    ):
        answer = ask(chaoyang, request)
        assert "你只能查看自己负责的单位" in answer
        assert "端午" not in answer and "4000" not in answer and "李华" not in answer
        assert all(r.document is None for r in chaoyang.replies)
    staff = Chat(leader_conversation, "李华", clock)
    assert "只有社区或街道负责人可以用" in ask(staff, "/summary")


def test_the_cli_writes_every_format(
    tmp_path: Path, project_root: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    from bot.admin.cli import main

    env = {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'h.sqlite3'}",
        "HUIBAO_LOG_LEVEL": "WARNING",
    }
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    script = (project_root / "examples" / "report.txt").read_text(encoding="utf-8")
    # the clock (the click context's object) fixes the day "昨天" and the current half-year
    assert runner.invoke(main, ["run"], env=env, input=script, obj=clock).exit_code == 0
    for fmt in ("docx", "md", "txt", "xlsx"):
        target = tmp_path / f"summary.{fmt}"
        result = runner.invoke(
            main,
            ["summary", "--unit", "新华社区", "--format", fmt, "-o", str(target)],
            env=env,
            obj=clock,
        )
        assert result.exit_code == 0, result.output
        assert target.stat().st_size > 0
    assert "端午主题党课" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    bad = runner.invoke(main, ["summary", "--unit", "nowhere"], env=env)
    assert bad.exit_code != 0 and "no unit 'nowhere'" in bad.output


def test_the_reflection_round_feeds_the_closing_sections(
    leader_conversation: Conversation,
    sessions: sessionmaker[Session],
    demo_org: None,
    clock: Clock,
    ask: Ask,
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "王强", "demo-xinhua")
    register(sessions, "周主任", "demo-xinhua", RoleName.COORDINATOR)
    play(
        Chat(leader_conversation, "李华", clock),
        [
            ("/reflect", "有哪些不足"),
            ("🙂", "请用文字写下你的想法"),
            ("1. 活动形式比较单一\n2. 青年人参与不多。", ["记下了 2 条", "下一步有什么工作打算"]),
            (
                "开展“我们的节日”系列活动；培育一支社区文艺队伍",
                ["记下了 2 条", "汇总进半年工作总结"],
            ),
        ],
    )
    play(
        Chat(leader_conversation, "王强", clock),
        [("/reflect", "不足"), ("活动形式比较单一。", "打算"), ("/skip", "已跳过")],
    )
    boss = Chat(leader_conversation, "周主任", clock)
    shown = boss.say("/closing")
    for line in ("【存在的不足】", "【工作打算】", "已合并重复内容"):
        assert line in shown
    numbers = _numbers(shown)
    # "活动形式比较单一" twice (李华, 王强): one point; each point a stable number
    assert list(numbers) == [
        "活动形式比较单一",
        "青年人参与不多",
        "开展“我们的节日”系列活动",
        "培育一支社区文艺队伍",
    ]
    # two quick drops by the numbers shown: nothing is renumbered in between
    after_first = boss.say(f"/closing drop {numbers['青年人参与不多']}")
    assert "青年人参与不多" not in after_first
    assert f"{numbers['培育一支社区文艺队伍']}. 培育一支社区文艺队伍" in after_first
    after_second = boss.say(f"/closing drop {numbers['培育一支社区文艺队伍']}")
    assert "培育一支社区文艺队伍" not in after_second
    assert f"{numbers['活动形式比较单一']}. 活动形式比较单一" in after_second
    assert f"{numbers['开展“我们的节日”系列活动']}. 开展“我们的节日”系列活动" in after_second
    play(
        boss,
        [
            ("/closing add 不足 宣传阵地利用不充分", "宣传阵地利用不充分"),
            ("/closing drop 99999", "没有编号为 99999 的条目"),
            ("/closing frobnicate", "/closing drop 编号"),
        ],
    )
    assert "青年人参与不多" not in boss.say("/closing")
    preview = ask(boss, "/summary")
    assert (
        "一是活动形式比较单一。二是宣传阵地利用不充分。" in preview
    )  # merged, edited, deduplicated
    assert "一是开展“我们的节日”系列活动。" in preview
    assert "培育一支社区文艺队伍" not in preview
    assert "【待补充：存在的不足】" not in preview
    assert "只有社区或街道负责人可以用" in Chat(leader_conversation, "王强", clock).say("/closing")


def test_in_a_group_the_summary_is_sent_privately_and_closing_is_private(
    leader_conversation: Conversation,
    sessions: sessionmaker[Session],
    demo_org: None,
    clock: Clock,
    tmp_path: Path,
) -> None:
    from sqlalchemy import select

    from storage.models import OutboxMessage as Outbox

    register(sessions, "李华", "demo-xinhua")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR, platform="telegram")
    play(Chat(leader_conversation, "李华", clock), HAPPY_PATH)
    group = Chat(leader_conversation, "周主任", clock, platform="telegram", in_group=True)
    answer = group.say("/summary")
    assert "稍后私信发给周主任" in answer
    assert "和平街道2026年上半年文化工作总结" not in answer  # nothing of it in the group
    assert all(r.document is None and r.image is None for r in group.replies)
    kit = SummaryKit.load(templates_dir() / "summary")
    assert Worker(sessions, kit, tmp_path, clock).run_due() == 1  # the job makes it
    with sessions() as session:
        queued = session.scalars(select(Outbox).where(Outbox.kind == "summary")).one()
    assert queued.platform == "telegram" and queued.address == "周主任"  # the private chat
    documents = [item["document"] for item in queued.payload if item["document"]]
    assert [d["filename"] for d in documents] == ["和平街道2026年上半年文化工作总结.docx"]

    assert "私聊" in group.say("/closing")
    assert "私聊" in group.say("/closing add 不足 形式单一")
    # a refusal in a group stays a plain answer, and queues nothing
    assert "只有社区或街道负责人" in Chat(leader_conversation, "李华", clock, in_group=True).say(
        "/summary"
    )


def test_a_point_added_in_review_is_not_the_coordinators_own_review(
    leader_conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    register(sessions, "周主任", "demo-xinhua", RoleName.COORDINATOR)
    boss = Chat(leader_conversation, "周主任", clock)
    assert "宣传阵地利用不充分" in boss.say("/closing add 不足 宣传阵地利用不充分")
    review = next(line for line in boss.say("/status").splitlines() if "已完成" in line)
    assert "已完成 0/1 人" in review and "⏳ 周主任" in review  # still owes their own review
    boss.say("/reflect")
    boss.say("人手不够")
    boss.say("/skip")
    review = next(line for line in boss.say("/status").splitlines() if "已完成" in line)
    assert "已完成 1/1 人" in review


def test_a_street_coordinator_picks_from_the_communities_points(
    leader_conversation: Conversation,
    sessions: sessionmaker[Session],
    demo_org: None,
    clock: Clock,
    ask: Ask,
) -> None:
    register(sessions, "李华", "demo-xinhua")
    register(sessions, "赵敏", "demo-chaoyang")
    register(sessions, "周主任", "demo-street", RoleName.COORDINATOR)
    for name, shortcoming in (
        ("李华", "活动形式比较单一，年轻人参与少"),
        ("赵敏", "年轻人参加的少，形式单一"),
    ):
        play(
            Chat(leader_conversation, name, clock),
            [("/reflect", "不足"), (shortcoming, "打算"), ("/skip", "已跳过")],
        )
    boss = Chat(leader_conversation, "周主任", clock)
    shown = boss.say("/closing")
    # the communities' points are material, grouped by theme, near-duplicates once
    assert "各单位反映（活动形式与参与，供选用）" in shown
    assert shown.count("形式单一") + shown.count("形式比较单一") == 1
    assert "（新华社区、朝阳社区）" in shown
    number = _numbers(shown)["活动形式比较单一，年轻人参与少（新华社区、朝阳社区）"]
    preview = ask(boss, "/summary")
    assert (
        "【待补充：存在的不足（请在 /closing 中审定，可从各单位反映的1条意见中选用）】" in preview
    )
    assert "一是活动形式比较单一" not in preview  # the communities' words are not pasted in
    boss.say(f"/closing use {number}")
    preview = ask(boss, "/summary")
    assert "一是活动形式比较单一，年轻人参与少。" in preview
    assert "还存在一些不足，主要是" in preview
    # a community's point is not the street's to drop
    assert "没有编号为" in boss.say(f"/closing drop {number}")
