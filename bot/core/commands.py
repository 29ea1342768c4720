"""The chat's commands, declared once.

Each `CommandSpec` says what a command is called (`/name`, other slash names, and the plain
words people type for it in Chinese and English), who may use it, whether it works in a group
chat, what it does while a report is being filled in, its menu and help text in both
languages, and the function that does it. The router (`bot.core.dispatch`), the Telegram
menus (`command_menu`, `default_menus`), `/help` and the access-matrix test all read this
table; adding a command is adding a row.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.core import interview, relief
from bot.core.dialogs import control, delete, join, queries, reflect, report, send_back, summary
from bot.core.dialogs.base import Next, Turn
from bot.core.dialogs.state import DELETE, INTERVIEW, REFLECT, RETURN
from bot.core.messages import text as msg
from bot.core.scope import is_admin, is_leader
from bot.core.types import Reply

Handler = Callable[[Turn, str], Next]
# A plain message read as the command: (the text, the text as a control word) -> the
# command's argument, or None when the message is not this command.
Reader = Callable[[str, str], str | None]


class Who(enum.IntEnum):
    """Who may use a command; each level includes the ones above it."""

    STRANGER = 0  # anyone, registered or not
    STAFF = 1  # any registered member
    LEADER = 2  # coordinators and admins
    ADMIN = 3


class InGroup(enum.Enum):
    """What a command does in a group chat."""

    ANSWER = "answer"  # answered in the group
    ANSWER_PRIVATELY = "privately"  # what it makes goes to the asker's private chat
    PRIVATE_ONLY = "private_only"  # "use it in a private chat" (group_private_only)
    REPORTING = "reporting"  # reporting happens in private (group_use_private)


class InInterview(enum.Enum):
    """What a command does while the person is filling in a report."""

    RESUME = "resume"  # runs, then the current question is asked again
    REFUSE = "refuse"  # "finish or cancel the report first", and the question again
    STEER = "steer"  # acts on the report itself (skip, back, cancel)
    # With answers in the report: "finish it first, or drop it (as 放弃 does) for the new
    # one?" (bot.core.dialogs.report.ask_first); with none, the command runs (a new report).
    ASK_FIRST = "ask_first"


@dataclass(frozen=True)
class Text:
    """A text in both languages."""

    zh: str
    en: str

    def __call__(self, locale: str) -> str:
        """The text in a language (Chinese unless English is asked for)."""
        return self.en if locale == "en" else self.zh


@dataclass(frozen=True)
class CommandSpec:
    """One chat command, everything about it in one place."""

    name: str
    handler: Handler
    who: Who = Who.STAFF
    group: InGroup = InGroup.PRIVATE_ONLY
    interview: InInterview = InInterview.RESUME
    aliases: tuple[str, ...] = ()  # other slash names: /new for /report
    words: frozenset[str] = frozenset()  # plain words standing for the command alone
    reads: Reader | None = None  # a plain message with an argument (我的 上半年); else `words`
    # The dialogs in which the plain words still mean the command (otherwise they are the
    # dialog's answer); without a dialog they always do.
    words_during: frozenset[str] = frozenset()
    refusal: str = "leaders_only"  # catalogue key, for those `who` leaves out
    stranger: Callable[[Turn, str], Next | None] | None = None  # for the not registered
    menu: Text | None = None
    menu_order: int = 0  # place in the Telegram menu (help comes last)
    help: Text | None = None  # its lines in /help
    group_help: Text | None = None  # its words in the group /help

    def read(self, text: str, word: str) -> str | None:
        """The argument a plain message gives this command, or None if it is not this one."""
        if self.reads is not None:
            return self.reads(text, word)
        return "" if word in self.words else None


# -- handlers that need the table itself ---------------------------------------------------


def level(session: Session, member_id: int) -> Who:
    """The highest level a member holds."""
    if is_admin(session, member_id):
        return Who.ADMIN
    if is_leader(session, member_id):
        return Who.LEADER
    return Who.STAFF


def help_text(locale: str, who: Who) -> str:
    """/help: the commands someone may use, staff's first, then the leaders' and admins'."""
    sections = []
    for section, header in (
        (Who.STAFF, "help"),
        (Who.LEADER, "help_leader"),
        (Who.ADMIN, "help_admin"),
    ):
        if section > who:
            break
        lines = [
            spec.help(locale)
            for spec in COMMANDS
            if spec.help is not None and max(spec.who, Who.STAFF) == section
        ]
        sections.append("\n".join([msg(locale, header), *lines]))
    return "\n".join(sections)


def group_help_text(locale: str) -> str:
    """/help in a group: what is answered there."""
    separator = ", " if locale == "en" else "，"
    said = [spec.group_help(locale) for spec in COMMANDS if spec.group_help is not None]
    return msg(locale, "help_group", commands=separator.join(said))


def _help(turn: Turn, argument: str) -> Next:
    """/help: in private, the person's commands; in a group, what leaders may ask there."""
    if turn.incoming.in_group:
        leader = not turn.scope().empty
        text = group_help_text(turn.locale) if leader else turn.t("group_use_private")
        return Next([Reply(text)])
    return Next([Reply(help_text(turn.locale, level(turn.session, turn.member_id)))])


def _start(turn: Turn, argument: str) -> Next:
    """/start: help; /start CODE: one more role."""
    return join.join_more(turn, argument) if argument else _help(turn, argument)


def _join_as_stranger(turn: Turn, argument: str) -> Next | None:
    return join.begin(turn, argument) if argument else None


# -- plain words with an argument ---------------------------------------------------------


def _reads_mine(text: str, word: str) -> str | None:
    """我的, 我的记录 上半年, mine 2026H1, 我的记录上半年."""
    if word in interview.MINE_WORDS:
        return ""
    head, _, rest = word.partition(" ")
    if head in interview.MINE_WORDS and rest:
        return rest
    if word.startswith("我的记录"):
        return word.removeprefix("我的记录")
    return None


def _reads_relief(name: str) -> Reader:
    """意见 …, 待办, 少提醒 [日期], 恢复提醒 (bot.core.relief reads them)."""

    def reads(text: str, word: str) -> str | None:
        said = relief.plain_words(text)
        return said.argument if said is not None and said.name == name else None

    return reads


ALL_DIALOGS = frozenset({INTERVIEW, DELETE, REFLECT, RETURN})

# In the order of /help; `menu_order` orders the Telegram menu.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "report",
        report.start,
        group=InGroup.REPORTING,
        interview=InInterview.ASK_FIRST,
        aliases=("new", "baogao"),
        words=report.REPORT_WORDS,
        reads=report.reads,  # 上报, and 上报 TEXT / 上报：TEXT
        words_during=frozenset({INTERVIEW}),  # never an answer (上报 alone or with a report)
        menu=Text("上报一次活动", "report an activity"),
        menu_order=1,
        help=Text("/report 上报一次活动（也可以直接发“上报”）", "/report report an activity"),
    ),
    CommandSpec(
        "mine",
        queries.mine,
        words=interview.MINE_WORDS,
        reads=_reads_mine,
        words_during=ALL_DIALOGS,
        menu=Text("我本期的记录", "my entries this period"),
        menu_order=2,
        help=Text(
            "/mine 查看我本期上报的记录（或回复“我的”；/mine 上个月、/mine 2026H1、/mine 全部）",
            "/mine my entries this period (or reply “mine”; /mine last month, /mine 2026H1, "
            "/mine all)",
        ),
    ),
    CommandSpec(
        "edit",
        report.edit,
        interview=InInterview.REFUSE,
        menu=Text("修改记录（/edit 编号）", "change an entry (/edit N)"),
        menu_order=4,
        help=Text("/edit 编号 修改一条记录", "/edit N change entry N"),
    ),
    CommandSpec(
        "delete",
        delete.begin,
        interview=InInterview.REFUSE,
        menu=Text("删除记录（/delete 编号）", "delete an entry (/delete N)"),
        menu_order=5,
        help=Text("/delete 编号 删除一条记录", "/delete N delete entry N"),
    ),
    CommandSpec(
        "skip",
        control.skip,
        group=InGroup.REPORTING,
        interview=InInterview.STEER,
        words=interview.SKIP_WORDS,
        words_during=frozenset({REFLECT}),
        help=Text(
            "/skip 跳过可选的问题（也可以直接回复“跳过”“没有”）",
            "/skip skip an optional question (or reply “skip”, “none”)",
        ),
    ),
    CommandSpec(
        "back",
        control.back,
        group=InGroup.REPORTING,
        interview=InInterview.STEER,
        words=interview.BACK_WORDS,
        help=Text(
            "/back 回到上一个问题（或回复“上一步”）", "/back go back one question (or reply “back”)"
        ),
    ),
    CommandSpec(
        "cancel",
        control.cancel,
        who=Who.STRANGER,
        group=InGroup.REPORTING,
        interview=InInterview.STEER,
        words=interview.CANCEL_WORDS,
        words_during=frozenset({DELETE, REFLECT, RETURN}),
        stranger=control.cancel_joining,
        menu=Text("放弃正在填写的内容", "drop what you are filling in"),
        menu_order=6,
        help=Text(
            "/cancel 放弃正在填写的内容（或回复“取消”；当天内回复“恢复”可以找回）",
            "/cancel drop what you are filling in (or reply “cancel”; “restore” brings it back "
            "the same day)",
        ),
    ),
    CommandSpec(
        "reflect",
        reflect.begin,
        interview=InInterview.REFUSE,
        words=reflect.REFLECT_WORDS,
        menu=Text("半年回顾：不足和打算", "half-year review: shortcomings and plans"),
        menu_order=10,
        help=Text(
            "/reflect 半年回顾：写下不足和打算", "/reflect half-year review: shortcomings and plans"
        ),
    ),
    CommandSpec(
        "lang",
        queries.language,
        menu=Text("切换语言 / language", "language / 语言"),
        menu_order=9,
        help=Text("/lang 切换语言（中文 / English）", "/lang language (中文 / English)"),
    ),
    CommandSpec(
        "help",
        _help,
        group=InGroup.ANSWER,
        words=interview.HELP_WORDS,
        words_during=ALL_DIALOGS,
        menu=Text("使用说明", "how to use"),
        menu_order=99,
        help=Text("/help 显示这条说明", "/help this text"),
    ),
    CommandSpec(
        "todo",
        queries.todo,
        words=relief.OWED_WORDS,
        reads=_reads_relief("todo"),
        menu=Text("我还有哪些待办", "what I still owe"),
        menu_order=3,
        help=Text(
            "/todo 我还有哪些待办（或回复“待办”）", "/todo what I still owe (or reply “todo”)"
        ),
    ),
    CommandSpec(
        "remind",
        queries.remind,
        words=frozenset(relief.MUTE_WORDS) | relief.UNMUTE_WORDS,
        reads=_reads_relief("remind"),
        menu=Text("少提醒 / 恢复提醒", "fewer reminders / back on"),
        menu_order=7,
        help=Text(
            "/remind off 少提醒：最近的截止事项不再提醒（或回复“少提醒”）；"
            "/remind off 2026-07-01 到那天之前都不提醒；/remind on 恢复",
            "/remind off  fewer reminders: none for the nearest deadline; "
            "/remind off 2026-07-01 none before that day; /remind on  back on",
        ),
    ),
    CommandSpec(
        "feedback",
        queries.feedback,
        words=frozenset(relief.FEEDBACK_WORDS),
        reads=_reads_relief("feedback"),
        menu=Text("提意见或投诉（只有管理员能看到）", "a suggestion or complaint (admins only)"),
        menu_order=8,
        help=Text(
            "/feedback 内容 提意见或投诉（或回复“意见 …”），只有管理员能看到",
            "/feedback TEXT  a suggestion or complaint, read by the admins only",
        ),
    ),
    CommandSpec(
        "status",
        queries.status,
        who=Who.LEADER,
        group=InGroup.ANSWER,
        menu=Text("本月谁报了、谁还没报", "who has reported this month"),
        menu_order=11,
        help=Text("/status 本月谁报了、谁还没报", "/status who has reported this month"),
        group_help=Text("/status 本月上报情况", "/status this month's reporting"),
    ),
    CommandSpec(
        "entries",
        queries.entries,
        who=Who.LEADER,
        group=InGroup.ANSWER,
        menu=Text("最近上报的记录", "the latest entries"),
        menu_order=12,
        help=Text("/entries 最近上报的记录", "/entries the latest entries"),
        group_help=Text("/entries 最近的记录", "/entries the latest entries"),
    ),
    CommandSpec(
        "summary",
        summary.summary,
        who=Who.LEADER,
        group=InGroup.ANSWER_PRIVATELY,
        menu=Text("生成半年工作总结", "the half-year summary"),
        menu_order=13,
        help=Text(
            "/summary [单位] [2026H1] 生成半年工作总结",
            "/summary [unit] [2026H1] the half-year summary",
        ),
        group_help=Text(
            "/summary 工作总结（私信发给你）", "/summary the summary (sent to you privately)"
        ),
    ),
    CommandSpec(
        "closing",
        queries.closing,
        who=Who.LEADER,
        menu=Text("审定总结的不足和打算", "review the summary's shortcomings and plans"),
        menu_order=14,
        help=Text(
            "/closing 审定总结里的不足和打算",
            "/closing review the summary's shortcomings and plans",
        ),
    ),
    CommandSpec(
        "return",
        send_back.begin,
        who=Who.LEADER,
        interview=InInterview.REFUSE,
        menu=Text("退回记录（/return 编号 理由）", "send an entry back (/return N reason)"),
        menu_order=15,
        help=Text(
            "/return 编号 理由 退回一条记录让填报人修改",
            "/return N reason  send an entry back to its reporter for correction",
        ),
    ),
    CommandSpec(
        "deadline",
        queries.deadline,
        who=Who.ADMIN,
        refusal="deadline_admins_only",
        menu=Text("截止时间（管理员）", "deadlines (admins)"),
        menu_order=16,
        help=Text(
            "/deadline 查看截止时间\n/deadline set 单位 期间 要求 截止时间 设置截止时间\n"
            "/deadline remove 编号 删除一个截止时间",
            "/deadline the deadlines\n/deadline set UNIT PERIOD REQUIREMENT DUE  set one\n"
            "/deadline remove N  remove one",
        ),
    ),
    # Not in the menu nor in /help: joining (with an invite's link or code) and 恢复.
    CommandSpec(
        "start",
        _start,
        who=Who.STRANGER,
        group=InGroup.ANSWER,
        stranger=_join_as_stranger,
    ),
    CommandSpec(
        "join",
        join.join_more,
        who=Who.STRANGER,
        group=InGroup.REPORTING,
        stranger=_join_as_stranger,
    ),
    CommandSpec(
        "restore",
        control.restore,
        group=InGroup.REPORTING,
        interview=InInterview.REFUSE,
        words=interview.RESTORE_WORDS,
    ),
)

BY_NAME: Mapping[str, CommandSpec] = {
    name: spec for spec in COMMANDS for name in (spec.name, *spec.aliases)
}


def command_menu(session: Session, member_id: int, locale: str) -> tuple[tuple[str, str], ...]:
    """The commands a member can use, with their descriptions, for a chat's menu."""
    return menu_for(level(session, member_id), locale)


def menu_for(who: Who, locale: str, *, in_group: bool = False) -> tuple[tuple[str, str], ...]:
    """The menu of someone at a level, in a private chat or in groups."""
    shown = [
        spec
        for spec in COMMANDS
        if spec.menu is not None
        and spec.who <= who
        and (not in_group or spec.group in (InGroup.ANSWER, InGroup.ANSWER_PRIVATELY))
    ]
    shown.sort(key=lambda spec: spec.menu_order)
    return tuple((spec.name, spec.menu(locale)) for spec in shown if spec.menu is not None)


def default_menus() -> dict[str, tuple[tuple[str, str], ...]]:
    """Command menus for everyone: private chats and groups, in Chinese and English.

    Keys are 'private:' / 'group:' followed by a language code ('' for the default).
    Everyone sees the staff's commands in private; in groups, those answered there.
    """
    menus: dict[str, tuple[tuple[str, str], ...]] = {}
    for language, locale in (("", "zh"), ("en", "en")):
        menus[f"private:{language}"] = menu_for(Who.STAFF, locale)
        menus[f"group:{language}"] = menu_for(Who.ADMIN, locale, in_group=True)
    return menus
