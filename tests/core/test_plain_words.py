"""Issue 12 as transcripts: plain words, near misses, the card, periods, English, bad input.

Each runs on SQLite and on PostgreSQL (see conftest.py). The clock stands at
Wednesday 24 June 2026, 10:00 in Shanghai: the current period is 2026年上半年.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.org import create_invite
from bot.core import interview
from bot.core.conversation import Conversation
from bot.core.messages import QUESTIONNAIRE_EN
from bot.core.questionnaire import load_questionnaires
from bot.shipped import templates_dir
from storage.db import transaction
from storage.models import ConversationState, Entry, Reflection
from tests.chat import Chat, play
from tests.conftest import Clock
from tests.core.test_dialog import HAPPY_PATH

# Up to the card, for 理论学习 (the card's items: 1 类别, 2 名称, 3 日期, 4 地点, 5 场次,
# 6 人次, 7 内容, 8 成效, 9 亮点, 10 照片).
TO_THE_CARD = HAPPY_PATH[:-1]


def entries(sessions: sessionmaker[Session]) -> list[Entry]:
    with transaction(sessions) as session:
        found = list(session.scalars(select(Entry).order_by(Entry.id)).all())
        for entry in found:
            _ = entry.metrics, entry.photos
        return found


def states(sessions: sessionmaker[Session]) -> list[str]:
    with transaction(sessions) as session:
        return list(session.scalars(select(ConversationState.kind)).all())


def texts_of(answers: dict[str, Any]) -> list[str]:
    return [str(v["text"]) for v in answers.values() if isinstance(v, dict) and "text" in v]


# -- 2. plain words ----------------------------------------------------------------------


def test_plain_words_skip_optional_questions_and_are_never_stored(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("宣传教育", "活动叫什么名字"),
            ("跳过", ["“活动名称”是必填的，不能跳过", "总结和台账要用活动名称"]),
            ("无", "“活动名称”是必填的"),
            ("反诈宣传进社区", "哪天"),
            ("昨天", ["在哪里", "可选，没有的话回复“跳过”"]),
        ],
    )
    assert staff_chat.buttons == ["跳过"]  # an optional question offers the button
    play(
        staff_chat,
        [
            ("不填", ["已跳过", "标语"]),  # the issue: each of these was "没看懂这个数字"
            ("跳过", ["已跳过", "宣传栏"]),
            ("没有", ["已跳过", "宣传资料"]),
            ("无", ["已跳过", "受到宣传教育"]),
            ("暂无", ["“受教育群众”是必填的", "如果确实是 0，请写 0"]),
            ("300多", "多少户"),
            ("不知道", ["已跳过", "做了什么"]),
            ("对的", "“对的”不能当作这一项的回答"),
            ("发放反诈资料，讲解典型案例。", "效果"),
            ("好", "不能当作这一项的回答"),
            ("居民防骗意识明显增强。", "亮点"),
            ("无", ["已跳过", "照片"]),  # the issue: 无 was saved and printed "其亮点在于：无。"
            ("[跳过]", ["已跳过", "请核对", "宣传标语：（未填）", "亮点特色：（未填）"]),
            ("对的", "已保存"),  # the issue: 对的 was refused at the card
        ],
    )
    (entry,) = entries(sessions)
    assert entry.location is None
    assert entry.answers["highlights"] == {"skipped": True}
    assert entry.answers["slogans"] == {"skipped": True}
    assert [m.question_id for m in entry.metrics] == ["audience"]
    assert not set(texts_of(entry.answers)) & interview.CONTROL_WORDS
    assert texts_of(entry.answers) == [
        "反诈宣传进社区",
        "发放反诈资料，讲解典型案例。",
        "居民防骗意识明显增强。",
    ]


def test_plain_words_go_back_cancel_and_restore_the_same_day(
    staff_chat: Chat, sessions: sessionmaker[Session], clock: Clock
) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("1", "活动叫什么名字"),
            ("读书会", "哪天"),
            ("上一步", ["活动叫什么名字", "当前：读书会"]),  # the issue: read as an answer
            ("返回", "哪一类"),
            ("1", ["活动叫什么名字", "当前：读书会"]),
            ("[保持不变]", "哪天"),
            ("昨天", "在哪里"),
            ("取消", ["确定放弃这份上报吗", "已经填了 3 项"]),  # asks before discarding
            ("不放弃，继续", ["接着填", "在哪里"]),
            ("算了", "确定放弃这份上报吗"),
            ("[确定放弃]", ["已放弃", "今天之内回复“恢复”"]),
            ("50", "现在没有进行中的上报"),
            ("恢复", ["已恢复刚才放弃的上报", "在哪里"]),
            ("不报了", "确定放弃"),
            ("是", "已放弃"),
            ("/back", ["已恢复", "在哪里"]),
            ("/cancel", "确定放弃"),
            ("确定", "已放弃"),
        ],
    )
    assert states(sessions) == ["discarded"]
    clock.advance(days=1)
    play(
        staff_chat,
        [("恢复", "只保留到当天"), ("恢复", "没有可以恢复的上报"), ("/back", "没有进行中")],
    )
    assert entries(sessions) == [] and states(sessions) == []


def test_plain_words_outside_a_report_and_in_the_other_dialogs(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("帮助", ["可以用的命令", "回复“跳过”"]),
            ("怎么用", "/report"),
            ("我的", "你在 2026年上半年 还没有上报记录"),
            ("我的记录", "还没有上报记录"),
            ("取消", "不需要取消"),
            ("跳过", "没有可以跳过的问题"),
            ("上一步", "没有进行中的上报"),
            ("/report", "哪一类"),
            ("1", "活动叫什么名字"),
            ("帮助", ["可以用的命令", "活动叫什么名字"]),
            ("我的", ["还没有上报记录", "活动叫什么名字"]),
            ("/cancel", "已取消"),  # nothing answered yet: nothing to ask about
            ("/reflect", "不足"),
            ("没有", ["已跳过", "打算"]),  # was stored as a shortcoming "没有"
            ("无", "谢谢"),
        ],
    )
    play(staff_chat, HAPPY_PATH)
    (entry,) = entries(sessions)
    play(
        staff_chat,
        [(f"/delete {entry.id}", "确定删除"), ("取消", f"记录 #{entry.id} 保留不动")],
    )
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Reflection)) == 0
    assert entries(sessions)[0].deleted_at is None


def test_cancel_while_joining(
    conversation: Conversation, sessions: sessionmaker[Session], demo_org: None, clock: Clock
) -> None:
    with transaction(sessions) as session:
        code = create_invite(
            session, "demo-xinhua", "staff", uses=1, expires_in=timedelta(days=7), now=clock()
        ).code
    newcomer = Chat(conversation, "zhang", clock)
    play(newcomer, [(f"/start {code}", "姓名"), ("算了", "已取消加入")])
    assert states(sessions) == []


# -- 4. near misses ------------------------------------------------------------------------


def test_a_typo_in_a_choice_gets_the_closest_options_as_buttons(staff_chat: Chat) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("志原服务", "没找到“志原服务”。你是说“志愿服务”吗？"),
        ],
    )
    assert staff_chat.buttons == ["志愿服务"]
    play(
        staff_chat,
        [
            ("是", "活动叫什么名字"),
            ("上一步", "哪一类"),
            ("文体获动", "你是说“文体活动”吗？"),
            ("[文体活动]", "活动叫什么名字"),
            ("返回", "哪一类"),
            ("其它", "你是说“其他”吗？"),
            ("不是", "请从下面的选项中选一个"),
            ("跳舞", "请从下面的选项中选一个"),  # nothing close: the whole list again
            ("5", "活动叫什么名字"),
        ],
    )


# -- 5. the card ---------------------------------------------------------------------------


def test_the_card_changes_items_by_word_or_number_and_asks_before_dropping(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(staff_chat, TO_THE_CARD)
    play(
        staff_chat,
        [
            # the issue: 3 threw 13 answers away without asking
            ("3", ["确定放弃这份上报吗", "要修改第 3 项的话，请回复“改3”"]),
            ("不放弃", ["接着填", "请核对"]),
            ("/skip", ["没有要跳过的问题", "请核对"]),  # the issue: "this item is required"
            ("10", "要修改第 10 项“活动照片”吗"),  # an item's number alone only offers it
            ("[✏️ 改第 10 项：活动照片]", "照片"),
            ("<photo>", "收到第 2 张照片"),
            ("完成", ["请核对", "活动照片：2 张"]),
            ("改3", ["活动是哪天办的", "当前：2026年6月19日（周五）"]),
            ("6月20日", ["请核对", "活动日期：2026年6月20日（周六）"]),
            ("修改地点", "在哪里办的"),
            ("社区文化广场", ["请核对", "地点：社区文化广场"]),
            ("修改活动日棋", "你是说“活动日期”吗？"),
            ("是", "活动是哪天办的"),
            ("[保持不变]", "请核对"),
            ("改99", "卡片上没有第 99 项（共 10 项）"),
            ("改人数", ["卡片上没有“人数”这一项", "要修改哪一项"]),
            ("取消", "请核对"),  # in the list of items: never mind, back to the card
            ("放弃", "确定放弃这份上报吗"),
            ("[确定放弃]", "已放弃"),
            ("/mine", "还没有上报记录"),
            ("/back", ["已恢复", "请核对", "地点：社区文化广场"]),
            ("对的", "已保存"),
        ],
    )
    (entry,) = entries(sessions)
    assert entry.location == "社区文化广场" and str(entry.start_date) == "2026-06-20"
    assert len(entry.photos) == 2


def test_on_a_card_of_13_items_11_is_an_item_and_3_asks_first(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    # 宣传教育: 1 类别, 2 名称, 3 日期, 4 地点, 5-9 five figures, 10 内容, 11 成效, 12 亮点, 13 照片
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("2", "活动叫什么名字"),
            ("反诈宣传", "哪天"),
            ("昨天", "在哪里"),
            ("社区广场", "标语"),
            ("20", "宣传栏"),
            ("2", "宣传资料"),
            ("500", "受到宣传教育"),
            ("600", "多少户"),
            ("80", "做了什么"),
            ("讲解案例。", "效果"),
            ("防骗意识增强。", "亮点"),
            ("联合派出所。", "照片"),
            ("跳过", ["请核对", "13. 活动照片"]),
            ("11", ["要修改第 11 项“取得成效”吗", "改11"]),  # no clash with 1-3 any more
            ("改11", ["效果怎么样", "当前：防骗意识增强。"]),
            ("居民防骗意识明显增强。", ["请核对", "居民防骗意识明显增强。"]),
            ("3", ["确定放弃这份上报吗？已经填了 12 项", "要修改第 3 项的话，请回复“改3”"]),
            ("改3", ["活动是哪天办的", "当前：2026年6月23日"]),  # anything else: not dropped
            ("[保持不变]", "请核对"),
            ("1", "已保存"),
        ],
    )
    (entry,) = entries(sessions)
    assert entry.answers["achievements"] == {"text": "居民防骗意识明显增强。"}


# -- 6. periods ----------------------------------------------------------------------------


def test_a_date_in_an_earlier_period_is_asked_about_and_mine_shows_any_period(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("1", "活动叫什么名字"),
            ("端午党课", "哪天"),
            (
                "2025年3月5日",  # the issue: a year typo, saved and then gone from /mine
                ["这是2025年的活动吗？", "会记入2025年上半年", "不在本期（2026年上半年）"],
            ),
            ("不是，重新填", ["请重新填写", "哪天"]),
            ("2024年12月1日", "这是2024年的活动吗？"),  # more than a year back
            ("2025年3月5日", "这是2025年的活动吗？"),
            ("[是，2025年上半年的活动]", "在哪里"),
            ("跳过", "几场"),
            ("2", "多少人次"),
            ("40", "做了什么"),
            ("讲党史。", "效果"),
            ("反响热烈。", "亮点"),
            ("跳过", "照片"),
            ("跳过", ["请核对", "2025年3月5日（周三）"]),
            ("对", ["已保存", "这条活动记入2025年上半年，发送 /mine 2025H1 查看"]),
            ("/mine", ["你在 2026年上半年 还没有上报记录", "另有 1 条记录在其他期间"]),
            ("/mine 2025H1", ["你在 2025年上半年 上报的记录（共 1 条）", "端午党课"]),
            ("/mine 2026H1", ["你在 2026年上半年 还没有上报记录", "另有 1 条"]),
            ("/mine 2025年上半年", "端午党课"),
            ("/mine 上半年", "你在 2026年上半年 还没有上报记录"),
            ("/mine 全部", ["全部期间", "【2025年上半年】", "端午党课"]),
            ("/mine all", "【2025年上半年】"),
            ("我的记录 2025H1", "端午党课"),
            ("/mine 上个月", "你在 2026年5月 还没有上报记录"),
            ("/mine 下雨天", "没看懂期间“下雨天”"),
        ],
    )
    (entry,) = entries(sessions)
    assert (str(entry.start_date), entry.period) == ("2025-03-05", "2025H1")


def test_a_date_of_the_first_half_given_in_the_second_is_asked_about_once(
    staff_chat: Chat, sessions: sessionmaker[Session], clock: Clock
) -> None:
    clock.advance(days=47)  # Monday 10 August 2026
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("1", "活动叫什么名字"),
            ("端午党课", "哪天"),
            ("6月5日", ["这是2026年上半年的活动吗？", "不在本期（2026年下半年）"]),
            ("6月5日", "在哪里"),  # the same date again is a yes
            ("上一步", "哪天"),
            ("8月3日", "在哪里"),  # this half-year: no question
        ],
    )


# -- bad input -----------------------------------------------------------------------------


def test_bad_input_gets_a_question_or_an_explanation_and_nothing_half_filled_is_saved(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("🎉🎉", "请从下面的选项中选一个"),
            ("x" * 10_000, ["太长了（10000 字）", "哪一类"]),
            ("1", "活动叫什么名字"),
            ("😀😀😀", "只发表情我看不懂"),
            ("读书会", "哪天"),
            ("🙂", "没看懂这个日期"),
            ("7月1日", ["还没到", "请上报已经开展的活动"]),
            ("明天", "还没到"),
            ("昨天", "在哪里"),
            ("跳过", "几场"),
            ("🎉", "没看懂这个数字"),
            ("-3", "数量不能是负数"),
            ("很多", ["“很多”是多少呢？写个大概的数就行", "例如"]),
            ("0", ["“学习场次”是 0 吗？", "不是的话请写实际的数"]),
            ("[不是，重新填]", ["请重新填写", "几场"]),
            ("3", "多少人次"),  # a number without its measure word
            ("50", "做了什么"),
            ("讲党史。", "效果"),
            ("很好。", "亮点"),
            ("跳过", "照片"),
            ("跳过", ["请核对", "学习场次：3场次", "参与人次：50人次"]),
            ("/cancel", "确定放弃"),
            ("是", "已放弃"),
        ],
    )
    assert entries(sessions) == []


def test_a_figure_of_zero_is_asked_about_once_then_kept(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("/report", "哪一类"),
            ("宣传教育", "活动叫什么名字"),
            ("反诈宣传", "哪天"),
            ("昨天", "在哪里"),
            ("跳过", "标语"),
            ("0", ["“宣传标语”是 0 吗？", "没有这一项的话，也可以回复“跳过”"]),
            ("是", "宣传栏"),
            ("零", "“宣传栏（板报）”是 0 吗？"),
            ("[跳过]", ["已跳过", "宣传资料"]),
        ],
    )
    assert staff_chat.replies[-1].text.startswith("已跳过。")
    play(
        staff_chat,
        [
            ("跳过", "受到宣传教育"),
            ("200", "多少户"),
            ("跳过", "做了什么"),
            ("发放资料。", "效果"),
            ("防骗意识增强。", "亮点"),
            ("跳过", "照片"),
            ("跳过", ["宣传标语：0条", "宣传栏（板报）：（未填）"]),
            ("确认", "已保存"),
        ],
    )
    (entry,) = entries(sessions)
    assert {m.question_id: m.low for m in entry.metrics} == {"slogans": 0, "audience": 200}


# -- 8. English ----------------------------------------------------------------------------


def test_english_covers_questions_choices_words_and_dates(
    staff_chat: Chat, sessions: sessionmaker[Session]
) -> None:
    play(
        staff_chat,
        [
            ("/lang en", "English"),
            ("/report", ["Which kind of work", "Theory study", "Volunteer service"]),
            ("volunter service", "Did you mean “Volunteer service”?"),
            ("yes", "What was the activity called?"),
            ("skip", ["“Name” is required", "refer to the activity by its name"]),
            ("Book club", "When was it?"),
            ("Nov 8", ["Was this activity in 2025?", "2025-11-08 (Sat)"]),
            ("no", ["please answer again", "When was it?"]),
            ("last Friday", ["Where was it?", "optional"]),
        ],
    )
    assert staff_chat.buttons == ["Skip"]
    play(
        staff_chat,
        [
            ("none", ["Skipped.", "How many volunteers"]),
            ("12", "How many hours"),
            ("lots", "How many is “lots”?"),
            ("skip", ["Skipped.", "people were served"]),
            ("60", "households"),
            ("skip", "What did the activity do?"),
            ("ok", "cannot be the answer"),
            ("We read together.", "How did it go?"),
            ("Residents enjoyed it.", "Anything special"),
            ("none", ["Skipped.", "photos"]),
            ("skip", ["Please check", "Category: Volunteer service", "Date: 2026-06-19 (Fri)"]),
            ("change 3", "When was it?"),
            ("yesterday", ["Please check", "Date: 2026-06-23 (Tue)"]),
            ("ok", "Saved as entry #"),
            ("mine", ["Your entries in H1 2026 (1)", "Book club"]),
            ("help", "Commands"),
            ("/mine last month", "You have no entries in 5/2026"),
            ("/report", "Which kind"),
            ("5", "What was the activity called?"),
            ("cancel", "Cancelled"),
        ],
    )
    (entry,) = entries(sessions)
    assert entry.area_name == "志愿服务"  # stored as the summary names it
    assert str(entry.start_date) == "2026-06-23"


def test_every_question_of_the_default_questionnaire_speaks_english() -> None:
    questionnaire = load_questionnaires(templates_dir() / "questionnaires")["community_culture"]
    qid = questionnaire.id
    missing = [f"{qid}:area:{a.key}" for a in questionnaire.areas]
    for area in questionnaire.areas:
        for question in area.questions:
            for part in ("label", "prompt"):
                missing.append(f"{qid}:{area.key}.{question.id}:{part}")
    for question in questionnaire.before + questionnaire.after:
        for part in ("label", "prompt"):
            missing.append(f"{qid}:{question.id}:{part}")
    assert [key for key in missing if key not in QUESTIONNAIRE_EN] == []
