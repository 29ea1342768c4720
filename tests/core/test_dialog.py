"""Dialog tests, read as transcripts: (what the person says, what the bot's reply contains).

Each runs on SQLite and on PostgreSQL (see conftest.py). The clock stands at
Wednesday 24 June 2026, 10:00 in Shanghai.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.conversation import Conversation
from storage.db import transaction
from storage.models import ConversationState, Entry, EntryRevision, Invite, Member
from tests.chat import Chat, play
from tests.conftest import Clock

HAPPY_PATH = [
    ("/report", ["这次活动属于哪一类工作", "理论学习"]),
    ("理论学习", "活动叫什么名字"),
    ("“我们的节日·端午”主题党课", "活动是哪天办的"),
    ("上周五", ["在哪里办的", "可选"]),
    ("社区党群服务中心", "几场学习"),
    ("3场", "多少人次"),
    ("4000多人次", "做了什么"),
    ("邀请老党员讲党史故事，组织居民观看专题片。", "效果怎么样"),
    ("居民参与热情高，12人报名加入志愿队伍。", "亮点"),
    ("/skip", ["已跳过", "照片"]),
    ("<photo>", "收到第 1 张照片"),
    ("完成", ["请核对", "理论学习", "2026年6月19日（周五）", "4000余人次", "不少于 4000", "1 张"]),
    ("[✅ 确认保存]", "已保存，记录编号 #"),
]


def only_entry(sessions: sessionmaker[Session]) -> Entry:
    with transaction(sessions) as session:
        entry = session.scalars(select(Entry)).one()
        _ = entry.metrics, entry.photos, entry.unit
        return entry


def test_report_an_activity_from_start_to_saved_entry(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(staff_chat, HAPPY_PATH)

    entry = only_entry(sessions)
    assert entry.title == "“我们的节日·端午”主题党课"
    assert entry.area_name == "理论学习"
    assert entry.unit.name == "新华社区"
    assert str(entry.start_date) == str(entry.end_date) == "2026-06-19"
    assert entry.period == "2026H1"
    assert entry.location == "社区党群服务中心"
    figures = {m.label: (m.low, m.approx, m.unit, m.raw) for m in entry.metrics}
    assert figures == {
        "学习场次": (Decimal(3), "exact", "场次", "3场"),
        "参与人次": (Decimal(4000), "more_than", "人次", "4000多人次"),
    }
    assert [p.file_ref for p in entry.photos] == ["photo-11"]
    assert entry.answers["highlights"] == {"skipped": True}
    # Chinese punctuation is kept as typed
    assert entry.answers["content"] == {"text": "邀请老党员讲党史故事，组织居民观看专题片。"}


def test_the_bot_shows_what_it_understood_before_saving(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(staff_chat, HAPPY_PATH[:-1])
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 0
    assert staff_chat.buttons == ["✅ 确认保存", "✏️ 修改", "❌ 放弃"]


def test_wrong_answers_get_a_specific_reask_with_an_example(staff_chat: Chat) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("跳舞", "请从下面的选项中选一个"),
            ("4", "活动叫什么名字"),  # 4 = 文体活动
            ("", "回答不能为空"),
            ("🎉🎉🎉", "只发表情我看不懂"),
            ("x" * 61, "控制在 60 字以内"),
            ("广场舞展演", "哪天办的"),
            ("下雨那天", "没看懂这个日期"),
            ("6月", "请写到具体哪一天"),
            ("2月30日", "这个日期不存在"),
            ("6月28日", "还没到"),
            ("6月20日", "在哪里"),
            ("/skip", "几场"),
            ("第二场", ["“第几”是序号", "例如"]),
            ("一是", "条目编号"),
            ("<photo>", "需要文字回答"),
            ("<sticker>", "只能识别文字和照片"),
            ("20余场", "参与"),
            ("50场", "单位是“人次”"),
            ("近百人", "参演"),
        ],
    )


def test_back_and_skip_move_through_the_questions(staff_chat: Chat) -> None:
    play(
        staff_chat,
        [
            ("/back", "没有进行中的上报"),
            ("/report", "哪一类"),
            ("/back", "已经是第一个问题了"),
            ("理论", "活动叫什么名字"),  # a unique part of the name is enough
            ("/skip", "必填"),
            ("读书分享会", "哪天"),
            ("/back", ["活动叫什么名字", "当前：读书分享会"]),
            ("[保持不变]", "哪天"),
            ("6月1日至6月3日", "在哪里"),
            ("/back", ["哪天", "2026年6月1日（周一） 至 2026年6月3日（周三）"]),
        ],
    )


def test_change_a_field_at_the_confirmation(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(staff_chat, HAPPY_PATH[:-1])
    play(
        staff_chat,
        [
            ("[✏️ 修改]", "要修改哪一项"),
            ("[参与人次]", ["多少人次", "当前：4000余人次"]),
            ("三四十人", ["请核对", "30—40人次", "30 到 40"]),
            ("修改", "要修改哪一项"),
            ("工作类别", "哪一类"),
            # figures the new area shares (场次, 人次) are kept; its own ones are asked
            ("文体活动", "参演"),
            ("/skip", "队伍"),
            ("/skip", "节目"),
            ("/skip", "奖"),
            ("/skip", ["请核对", "文体活动", "30—40人次"]),
            ("[✏️ 修改]", "要修改哪一项"),
            ("5", "几场"),  # fields are numbered as on the card: 5 = the first figure
            ("2", "请核对"),
            ("1", "已保存"),
        ],
    )
    entry = only_entry(sessions)
    assert entry.area_name == "文体活动"
    labels = {m.question_id: m.label for m in entry.metrics}
    assert {m.question_id: (m.low, m.high, m.approx) for m in entry.metrics} == {
        "sessions": (Decimal(2), None, "exact"),
        "attendance": (Decimal(30), Decimal(40), "range"),
    }
    assert labels["attendance"] == "参与群众"  # the new area's name for the figure


def test_cancel_drops_the_draft_and_later_answers_are_explained(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("1", "活动叫什么名字"),
            ("/cancel", "已取消"),
            ("50", "现在没有进行中的上报"),
            ("/cancel", "不需要取消"),
            ("/skip", "没有可以跳过的问题"),
        ],
    )
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(ConversationState)) == 0
        assert session.scalar(select(func.count()).select_from(Entry)) == 0


def test_bad_messages_outside_an_interview(staff_chat: Chat) -> None:
    play(
        staff_chat,
        [
            ("", "没有收到文字内容"),
            ("😀", "发送 /report"),
            ("\x00\x07\x1b\u200b", "没有收到文字内容"),
            ("x" * 10_000, "太长了（10000 字）"),
            ("/frobnicate", "不认识“/frobnicate”"),
            ("<sticker>", "发送 /report"),
            ("<photo>", "发送 /report"),
            ("/edit", "请写上记录编号"),
            ("/edit 999", "找不到编号为 #999"),
            ("/delete abc", "请写上记录编号"),
            ("上报", "哪一类"),
        ],
    )


def test_a_command_in_the_middle_keeps_the_question(staff_chat: Chat) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("1", "活动叫什么名字"),
            ("/help", ["/report", "活动叫什么名字"]),
            ("/mine", ["还没有上报记录", "活动叫什么名字"]),
            ("读书会", "哪天"),
            # a new report is asked about once: this one holds an answer
            ("/report", "你正在填写“读书会”（还差 8 项）。先报完这一条，还是放弃它、改报新的？"),
            ("[继续填写]", ["接着填", "哪天"]),
            ("/edit 1", ["还没有完成", "哪天"]),
            ("/nonsense", ["不认识", "哪天"]),
        ],
    )


def test_mine_edit_keeps_the_previous_revision(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(staff_chat, HAPPY_PATH)
    entry_id = only_entry(sessions).id
    play(
        staff_chat,
        [
            ("/mine", [f"#{entry_id} 6月19日 理论学习", "参与人次 4000余人次"]),
            (f"/edit {entry_id}", [f"正在修改记录 #{entry_id}", "请核对"]),
            ("修改", "要修改哪一项"),
            ("活动名称", "当前："),
            ("端午主题党课", "请核对"),
            ("[✅ 确认保存]", f"已更新记录 #{entry_id}（第 2 版）"),
            ("/mine", "端午主题党课"),
        ],
    )
    with transaction(sessions) as session:
        entry = session.get(Entry, entry_id)
        assert entry is not None and entry.title == "端午主题党课" and entry.revision == 2
        revisions = session.scalars(select(EntryRevision)).all()
        assert [r.snapshot["title"] for r in revisions] == ["“我们的节日·端午”主题党课"]
        assert revisions[0].snapshot["metrics"][1]["raw"] == "4000多人次"


def test_delete_asks_first_and_keeps_the_record(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(staff_chat, HAPPY_PATH)
    entry_id = only_entry(sessions).id
    play(
        staff_chat,
        [
            (f"/delete {entry_id}", "确定删除"),
            ("也许", "请回答“是”或“否”"),
            ("否", "保留不动"),
            (f"/delete #{entry_id}", "确定删除"),
            ("[是]", f"已删除记录 #{entry_id}"),
            ("/mine", "还没有上报记录"),
            (f"/edit {entry_id}", "找不到"),
        ],
    )
    with transaction(sessions) as session:
        entry = session.get(Entry, entry_id)
        assert entry is not None and entry.deleted_at is not None
        assert session.scalar(select(func.count()).select_from(EntryRevision)) == 1


def test_nobody_edits_or_deletes_another_persons_entry(
    staff_chat: Chat, conversation: Conversation, sessions: sessionmaker[Session], clock: Clock
) -> None:
    from tests.conftest import register

    play(staff_chat, HAPPY_PATH)
    entry_id = only_entry(sessions).id
    register(sessions, "王强", "demo-chaoyang")
    other = Chat(conversation, "王强", clock)
    play(
        other,
        [(f"/edit {entry_id}", "找不到"), (f"/delete {entry_id}", "找不到"), ("/mine", "还没有")],
    )


def test_duplicate_delivery_is_processed_once(
    staff_chat: Chat, conversation: Conversation, sessions: sessionmaker[Session]
) -> None:
    play(staff_chat, HAPPY_PATH[:-1])
    save = staff_chat.incoming("1")
    first = staff_chat.send(save)
    assert "已保存" in first
    # Delivered again before its replies were sent (a crash after the commit):
    # the same replies, and nothing stored twice.
    assert staff_chat.send(save) == first
    conversation.mark_sent("shell", [save.message_id])
    assert staff_chat.send(save) == ""  # delivered again after the replies went out
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 1


def test_a_restart_continues_at_the_same_question(
    staff_chat: Chat, sessions: sessionmaker[Session], questionnaires, clock: Clock
) -> None:
    from tests.conftest import SHANGHAI

    play(staff_chat, HAPPY_PATH[:5])
    # a new process: a new Conversation on the same database
    restarted = Conversation(sessions, questionnaires, "community_culture", SHANGHAI, clock)
    again = Chat(restarted, staff_chat.user, clock)
    play(again, [("/help", "几场学习"), ("3", "多少人次")])


def test_join_with_an_invite_code(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    from datetime import timedelta

    from bot.admin.org import create_invite

    with transaction(sessions) as session:
        code = create_invite(
            session, "demo-xinhua", "staff", uses=1, expires_in=timedelta(days=7), now=clock()
        ).code
    newcomer = Chat(conversation, "zhang", clock)
    play(
        newcomer,
        [
            ("你好", ["还没有加入任何单位", "/start 邀请码"]),
            ("/report", "还没有加入任何单位"),
            ("/start WRONG123", "邀请码“WRONG123”无效"),
            (f"/start {code.lower()}", ["欢迎加入新华社区（工作人员）", "姓名"]),
            ("🙂", "姓名需要"),
            ("张丽", ["张丽，你已加入新华社区", "/report"]),
            ("/report", "哪一类"),
        ],
    )
    late = Chat(conversation, "late", clock)
    play(late, [(code, "使用次数已用完")])
    with transaction(sessions) as session:
        member = session.scalars(select(Member).where(Member.name == "张丽")).one()
        assert [(g.unit.name, g.role.value) for g in member.roles] == [("新华社区", "staff")]
        assert session.scalars(select(Invite)).one().uses == 1


def test_an_expired_invite_is_refused(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    from datetime import timedelta

    from bot.admin.org import create_invite

    with transaction(sessions) as session:
        code = create_invite(
            session,
            "demo-street",
            "coordinator",
            uses=None,
            expires_in=timedelta(hours=1),
            now=clock(),
        ).code
    clock.advance(hours=2)
    play(Chat(conversation, "late", clock), [(f"/start {code}", "已过期")])


def test_a_member_in_two_units_is_asked_which(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    from bot.admin.org import create_invite
    from tests.conftest import register

    register(sessions, "赵敏", "demo-xinhua")
    with transaction(sessions) as session:
        code = create_invite(
            session, "demo-chaoyang", "staff", uses=None, expires_in=None, now=clock()
        ).code
    chat = Chat(conversation, "赵敏", clock)
    play(
        chat,
        [
            (f"/start {code}", "已为你添加身份：朝阳社区"),
            (f"/start {code}", "不需要重复加入"),
            ("/report", ["哪个单位", "新华社区", "朝阳社区"]),
            ("朝阳社区", "哪一类"),
        ],
    )


def test_group_messages(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    from tests.conftest import register

    register(sessions, "钱进", "demo-xinhua")
    stranger = Chat(conversation, "nobody", clock, in_group=True)
    assert stranger.say("/report") == ""  # a stranger in a group gets a deliberate silence
    member = Chat(conversation, "钱进", clock, in_group=True)
    assert "私聊" in member.say("/report")
    assert member.say("大家好") == ""


def test_a_skip_is_noted_above_the_next_question_in_one_message(staff_chat: Chat) -> None:
    skip_at = [said for said, _ in HAPPY_PATH].index("/skip")
    for said, _ in HAPPY_PATH[:skip_at]:
        staff_chat.say(said)
    staff_chat.say("/skip")
    assert len(staff_chat.replies) == 1  # one notification on the phone, not two
    assert staff_chat.replies[0].text.startswith("已跳过。\n")
    assert "照片" in staff_chat.replies[0].text


def test_a_group_command_does_not_post_ones_private_question_in_the_group(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    from storage.models import RoleName
    from tests.conftest import register

    register(sessions, "周主任", "demo-xinhua", RoleName.COORDINATOR)
    private = Chat(conversation, "周主任", clock)
    group = Chat(conversation, "周主任", clock, in_group=True)
    play(private, [("/report", "哪一类"), ("1", "活动叫什么名字")])
    answer = group.say("/status")
    assert "截止事项" in answer and "活动叫什么名字" not in answer
    assert "活动叫什么名字" not in group.say("/help")
    play(private, [("/status", ["截止事项", "活动叫什么名字"]), ("端午主题党课", "哪天")])
