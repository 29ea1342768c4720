"""The command table (bot.core.commands): one row per command, and what is derived from it."""

from __future__ import annotations

from itertools import combinations

from bot.core.commands import BY_NAME, COMMANDS, InGroup, Who, default_menus, help_text, menu_for
from bot.core.dispatch import plain_command


def test_every_name_and_plain_word_belongs_to_one_command() -> None:
    names = [name for spec in COMMANDS for name in (spec.name, *spec.aliases)]
    assert len(names) == len(set(names)) == len(BY_NAME)
    for first, second in combinations(COMMANDS, 2):
        assert not first.words & second.words, (first.name, second.name)


def test_each_plain_word_of_the_table_reads_as_its_command() -> None:
    for spec in COMMANDS:
        for word in spec.words:
            said = plain_command(word)
            assert said is not None and said.name == spec.name, (word, spec.name)


def test_plain_words_with_an_argument() -> None:
    assert plain_command("我的记录 上半年") == plain_command("我的记录上半年")
    said = plain_command("我的 2026H1")
    assert said is not None and (said.name, said.argument) == (
        "mine",
        "2026h1",
    )  # parse_span reads either
    said = plain_command("意见：表格太长")
    assert said is not None and (said.name, said.argument) == ("feedback", "表格太长")
    said = plain_command("少提醒 7月1日")
    assert said is not None and (said.name, said.argument) == ("remind", "off 7月1日")


def test_in_a_dialog_only_the_words_kept_for_it_steer() -> None:
    said = plain_command("跳过", "reflect")
    assert said is not None and said.name == "skip"
    assert plain_command("跳过", "delete") is None  # there it is an answer (否)
    said = plain_command("取消", "return")
    assert said is not None and said.name == "cancel"
    said = plain_command("帮助", "interview")
    assert said is not None and said.name == "help"
    assert plain_command("取消", "interview") is None  # the interview reads it itself


def test_the_menus_are_the_table_in_menu_order_with_help_last() -> None:
    for who in (Who.STAFF, Who.LEADER, Who.ADMIN):
        menu = [name for name, _ in menu_for(who, "zh")]
        expected = [s for s in COMMANDS if s.menu is not None and s.who <= who]
        assert sorted(menu) == sorted(s.name for s in expected)
        assert menu[-1] == "help"
    menus = default_menus()
    assert [n for n, _ in menus["group:"]] == ["status", "entries", "summary", "help"]
    assert all(
        BY_NAME[n].group in (InGroup.ANSWER, InGroup.ANSWER_PRIVATELY) for n, _ in menus["group:"]
    )
    assert dict(menus["private:en"])["report"] == "report an activity"
    assert "deadline" in dict(menu_for(Who.ADMIN, "zh"))
    assert "deadline" not in dict(menu_for(Who.LEADER, "zh"))


def test_help_has_a_section_per_level() -> None:
    staff, leader, admin = (help_text("zh", who) for who in (Who.STAFF, Who.LEADER, Who.ADMIN))
    assert staff.startswith("可以用的命令：\n/report ")
    assert "负责人命令：" not in staff and leader.startswith(staff + "\n负责人命令：\n/status")
    assert admin.startswith(leader + "\n管理员命令：\n/deadline")
    assert help_text("en", Who.STAFF).startswith("Commands:\n/report report an activity")
