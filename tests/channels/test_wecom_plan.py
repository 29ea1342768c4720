"""How replies become WeCom messages, and the keys that make retries count once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.wecom.adapter import (
    CARD_BODY_CHARS,
    CARD_TITLE_CHARS,
    TEXT_LIMIT,
    Card,
    message_key,
    plan,
    split_text,
)
from bot.channels.wecom.callback import CallbackMessage
from bot.core.types import Choice, Reply


def numbered(*labels: str) -> tuple[Choice, ...]:
    return tuple(Choice(label, f"v{i}~7", str(i)) for i, label in enumerate(labels, 1))


def test_a_long_text_is_split_under_2048_bytes_at_line_breaks() -> None:
    text = "\n".join(f"第{i}行：" + "字" * 50 for i in range(100))
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p.encode()) <= TEXT_LIMIT for p in parts)
    assert all(p.startswith("第") for p in parts)  # cut between lines, not inside one
    assert "\n".join(parts) == text


@given(st.text(min_size=1, max_size=6000))
def test_splitting_keeps_every_character(text: str) -> None:
    parts = split_text(text)
    assert all(len(p.encode()) <= TEXT_LIMIT for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_a_plain_reply_is_text() -> None:
    assert plan(Reply("你好")) == [("text", "你好")]


def test_a_short_question_goes_on_its_card() -> None:
    reply = Reply("确定删除记录 #3 吗？\n删除后不再计入总结。", numbered("是", "否"))
    [(kind, card)] = plan(reply)
    assert kind == "card" and isinstance(card, Card)
    assert card.title == "确定删除记录 #3 吗？" and card.body == "删除后不再计入总结。"
    assert [c.label for c in card.choices] == ["是", "否"]


def test_more_than_six_choices_take_two_cards_and_are_numbered_in_the_text() -> None:
    labels = (
        "理论学习",
        "宣传教育",
        "文明创建",
        "文体活动",
        "志愿服务",
        "阵地建设",
        "非遗保护",
        "全民阅读",
    )
    steps = plan(Reply("这次活动属于哪一类工作？", numbered(*labels)))
    cards = [step[1] for step in steps if isinstance(step[1], Card)]
    assert [len(c.choices) for c in cards] == [6, 2]
    assert "1) 理论学习" in cards[0].body and "8) 全民阅读" in cards[0].body
    assert cards[1].title == "这次活动属于哪一类工作？ (2/2)"


def test_a_long_text_goes_first_and_the_card_asks_its_last_line() -> None:
    lines = [f"{name}：{'内容' * 20}" for name in ("活动名称", "日期", "地点", "人数")]
    reply = Reply("\n".join(["请核对：", *lines, "确认无误就保存吧。"]), numbered("保存", "修改"))
    steps = plan(reply)
    assert [kind for kind, _ in steps] == ["text", "card"]
    text, card = steps[0][1], steps[1][1]
    assert isinstance(text, str) and isinstance(card, Card)
    assert text.startswith("请核对：") and "确认无误" not in text
    assert card.title == "确认无误就保存吧。" and card.body == ""
    assert len(card.title) <= CARD_TITLE_CHARS


@given(st.text(max_size=800), st.integers(1, 14))
def test_cards_always_fit(text: str, count: int) -> None:
    choices = numbered(*(f"选项{i}" for i in range(count)))
    cards = [step[1] for step in plan(Reply(text, choices)) if isinstance(step[1], Card)]
    assert sum(len(c.choices) for c in cards) == count
    for card in cards:
        assert 1 <= len(card.choices) <= 6
        assert card.title.strip()
        assert len(card.body) <= CARD_BODY_CHARS


def message(**fields: object) -> CallbackMessage:
    base: dict[str, object] = {
        "to_user": "ww1",
        "from_user": "lihua",
        "create_time": 1750000000,
        "msg_type": "event",
    }
    return CallbackMessage(**{**base, **fields})  # type: ignore[arg-type]


def test_message_keys_follow_wecoms_advice_for_retries() -> None:
    assert message_key(message(msg_type="text", msg_id="123")) == "lihua/123"
    click = message(event="click", event_key="report")
    assert message_key(click) == "lihua/1750000000/click/report"
    pressed = message(
        event="template_card_event", event_key="yes", task_id="hb-1", response_code="RC1"
    )
    assert message_key(pressed) == "lihua/1750000000/template_card_event/yes/hb-1/RC1"


def test_two_events_in_one_second_have_two_keys_and_a_retry_the_same() -> None:
    def press(key: str, code: str) -> CallbackMessage:
        return message(
            event="template_card_event", event_key=key, task_id="hb-1", response_code=code
        )

    clicks = {message_key(message(event="click", event_key=k)) for k in ("report", "mine")}
    presses = {message_key(press("yes", "RC1")), message_key(press("no", "RC2"))}
    again = {message_key(press("yes", "RC1")), message_key(press("yes", "RC2"))}
    assert len(clicks) == 2 and len(presses) == 2 and len(again) == 2
    assert message_key(press("yes", "RC1")) == message_key(press("yes", "RC1"))
    long = message_key(message(from_user="u" * 64, event="template_card_event", task_id="t" * 128))
    assert len(long) <= 128 and long.startswith("u" * 64 + "/")
