"""Tests of the fake Bot API, with the real python-telegram-bot as the client: in process
(PTB's request seam) unless HTTP is the subject (its parsing, dropped connections, the
webhook, stopping the server)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_api import UNREADABLE, FakeTelegram, SimUser, group_chat, poll_while
from tests.fakes.virtual_time import VirtualTime, settle

WANG = SimUser(1001, "小王", username="xiaowang")
LI = SimUser(1002, "李姐")


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
def http_fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def transport(fake: FakeTelegram) -> dict[str, Any]:
    """PTB's requests for `fake`: in process unless it serves HTTP (then PTB's own)."""
    if fake.serving:
        return {}
    return {"request": fake.in_process(), "get_updates_request": fake.in_process()}


def with_bot(fake: FakeTelegram, body: Callable[[Bot], Awaitable[Any]], token: str = "") -> Any:
    async def main() -> Any:
        bot = Bot(
            token or fake.token,
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            **transport(fake),
        )
        async with bot:
            return await body(bot)

    return asyncio.run(main())


def build_app(fake: FakeTelegram) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = ApplicationBuilder().token(fake.token)
    builder = builder.base_url(fake.base_url).base_file_url(fake.base_file_url)
    requests = transport(fake)
    if requests:
        builder = builder.request(requests["request"])
        builder = builder.get_updates_request(requests["get_updates_request"])
    return builder.build()


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_chat is not None
    await update.effective_chat.send_message(update.effective_message.text or "")


# --------------------------------------------------------------------------------- basics


def test_get_me_parses(fake: FakeTelegram) -> None:
    me = with_bot(fake, lambda bot: bot.get_me())
    assert me.id == 123456
    assert me.is_bot and me.username == "huibao_test_bot" and me.first_name == "Huibao"
    assert me.can_join_groups is True and me.supports_inline_queries is False


def test_wrong_token_and_unknown_method(http_fake: FakeTelegram) -> None:
    fake = http_fake
    with pytest.raises(InvalidToken):
        with_bot(fake, lambda bot: bot.get_me(), token="999:WRONG")
    response = httpx.post(f"{fake.base_url}{fake.token}/sendSticker", json={"chat_id": 1})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    response = httpx.get(f"{fake.base_url}999:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_json_body_and_get_query_are_accepted(http_fake: FakeTelegram) -> None:
    fake = http_fake
    url = f"{fake.base_url}{fake.token}"
    markup = {"inline_keyboard": [[{"text": "好", "callback_data": "ok"}]]}
    sent = httpx.post(
        f"{url}/sendMessage", json={"chat_id": 1001, "text": "你好", "reply_markup": markup}
    ).json()
    assert sent["ok"] and sent["result"]["reply_markup"] == markup
    assert sent["result"]["from"]["is_bot"] is True and isinstance(sent["result"]["date"], int)
    got = httpx.get(f"{url}/getMe").json()
    assert got["result"]["username"] == "huibao_test_bot"
    assert fake.sent(1001)[0].buttons == [[("好", "ok")]]


def test_send_message_with_inline_keyboard_round_trips(fake: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("是", callback_data="yes")],
            [InlineKeyboardButton("说明", url="https://example.org/help")],
        ]
    )

    async def body(bot: Bot) -> tuple[Message, Message]:
        first = await bot.send_message(WANG.id, "要保存吗？", reply_markup=keyboard)
        second = await bot.send_message(WANG.id, "第二条")
        return first, second

    first, second = with_bot(fake, body)
    assert first.text == "要保存吗？" and first.reply_markup == keyboard
    assert first.from_user is not None and first.from_user.id == fake.bot_id
    assert second.message_id == first.message_id + 1
    sent = fake.sent(WANG.id)
    assert [m.text for m in sent] == ["要保存吗？", "第二条"]
    assert sent[0].buttons == [[("是", "yes")], [("说明", "https://example.org/help")]]
    assert fake.messages_to(WANG.id) == ["要保存吗？", "第二条"]


def test_text_limits_and_trimming(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> None:
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(WANG.id, "字" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(WANG.id, "  \n ")
        long_html = await bot.send_message(WANG.id, "<b>" + "字" * 4096 + "</b>", parse_mode="HTML")
        assert long_html.text == "字" * 4096
        trimmed = await bot.send_message(WANG.id, "\n  好的 \n")
        assert trimmed.text == "好的"

    with_bot(fake, body)


def test_html_parse_mode(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> Message:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities: Unsupported start tag"):
            await bot.send_message(WANG.id, "人数 <100", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)Can't find end tag"):
            await bot.send_message(WANG.id, "<b>未闭合", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)Unmatched end tag"):
            await bot.send_message(WANG.id, "<b>x</i>", parse_mode="HTML")
        return await bot.send_message(
            WANG.id,
            '<b>标题</b> &lt;x&gt; &#26469; <a href="https://e.org/?a=1&amp;b=2">链接</a>',
            parse_mode="HTML",
        )

    message = with_bot(fake, body)
    assert message.text == "标题 <x> 来 链接"
    assert fake.sent(WANG.id)[0].params["text"].startswith("<b>标题</b>")


def test_callback_data_is_validated(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> None:
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="数" * 22)]])
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(WANG.id, "x", reply_markup=too_long)
        await bot.send_message(
            WANG.id,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("是", callback_data="数" * 21)]]
            ),
        )

    with_bot(fake, body)


# --------------------------------------------------------------------------------- edits


def test_edit_message_text_returns_message(fake: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="yes")]])

    async def body(bot: Bot) -> None:
        original = await bot.send_message(WANG.id, "第一版", reply_markup=keyboard)
        edited = await bot.edit_message_text(
            "第二版", chat_id=WANG.id, message_id=original.message_id, reply_markup=keyboard
        )
        assert isinstance(edited, Message)
        assert edited.text == "第二版" and edited.edit_date is not None
        assert edited.reply_markup == keyboard
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text(
                "第二版", chat_id=WANG.id, message_id=original.message_id, reply_markup=keyboard
            )
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=WANG.id, message_id=999)
        # Like Telegram: editing the text without reply_markup removes the inline keyboard.
        plain = await bot.edit_message_text(
            "第三版", chat_id=WANG.id, message_id=original.message_id
        )
        assert isinstance(plain, Message) and plain.reply_markup is None
        back = await bot.edit_message_reply_markup(
            chat_id=WANG.id, message_id=original.message_id, reply_markup=keyboard
        )
        assert isinstance(back, Message)
        assert back.text == "第三版" and back.reply_markup == keyboard

    with_bot(fake, body)
    assert [m.method for m in fake.sent(WANG.id)] == [
        "sendMessage",
        "editMessageText",
        "editMessageText",
        "editMessageReplyMarkup",
    ]
    assert fake.messages_to(WANG.id) == ["第一版", "第二版", "第三版"]
    assert fake.current_message(WANG.id, 1)["reply_markup"] == keyboard.to_dict()


def test_the_clock_dates_messages_edits_and_forwards() -> None:
    now = [datetime(2026, 12, 1, 0, 30, tzinfo=UTC)]
    seconds = int(now[0].timestamp())
    fake = FakeTelegram(clock=lambda: now[0])
    fake.user_sends_text(WANG, "第一条")
    fake.user_forwards_text(WANG, "转发", origin=LI)
    now[0] += timedelta(minutes=5)
    fake.user_edits_message(WANG, 1, "改过")

    async def body(bot: Bot) -> tuple[tuple[Update, ...], Message, Message | bool]:
        updates = await bot.get_updates(timeout=0)
        sent = await bot.send_message(WANG.id, "回复")
        edited = await bot.edit_message_text("回复2", chat_id=WANG.id, message_id=sent.id)
        return updates, sent, edited

    updates, sent, edited = with_bot(fake, body)
    first, forwarded, edit = updates
    assert first.message is not None and first.message.date == now[0] - timedelta(minutes=5)
    assert forwarded.message is not None and forwarded.message.forward_origin is not None
    assert forwarded.message.forward_origin.date == datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert edit.edited_message is not None and edit.edited_message.edit_date == now[0]
    assert edit.edited_message.date == now[0] - timedelta(minutes=5)
    assert sent.date == now[0]
    assert isinstance(edited, Message) and edited.edit_date == now[0]
    assert seconds == int(first.message.date.timestamp())


def test_user_messages_cannot_be_edited_by_the_bot(fake: FakeTelegram) -> None:
    fake.user_sends_text(WANG, "我的消息")

    async def body(bot: Bot) -> None:
        with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
            await bot.edit_message_text("改", chat_id=WANG.id, message_id=1)

    with_bot(fake, body)


# --------------------------------------------------------------------------------- updates


def test_get_updates_honours_offset_and_limit(fake: FakeTelegram) -> None:
    ids = [fake.user_sends_text(WANG, f"第{i}条") for i in range(3)]

    async def body(bot: Bot) -> None:
        assert [u.update_id for u in await bot.get_updates(timeout=0)] == ids
        assert [u.update_id for u in await bot.get_updates(timeout=0, limit=1)] == ids[:1]
        again = await bot.get_updates(offset=ids[1], timeout=0)
        assert [u.message.text for u in again if u.message] == ["第1条", "第2条"]
        assert fake.pending_updates() == 2
        assert await bot.get_updates(offset=ids[2] + 1, timeout=0) == ()
        assert fake.pending_updates() == 0

    with_bot(fake, body)
    assert fake.get_updates_offsets == [None, None, ids[1], ids[2] + 1]


def test_get_updates_long_polls() -> None:
    time = VirtualTime()
    fake = FakeTelegram(monotonic=time.monotonic, sleep=time.sleep)

    async def body(bot: Bot) -> None:
        # nothing to hand out: the poll answers when its timeout has passed, not before
        poll = asyncio.ensure_future(bot.get_updates(timeout=1))
        await settle()
        await time.advance(0.9)
        assert not poll.done()
        await time.advance(0.1)
        assert await poll == ()

        poll = asyncio.ensure_future(bot.get_updates(timeout=5))
        await settle()
        assert not poll.done()
        fake.user_sends_text(WANG, "醒醒")
        updates = await poll
        assert [u.message.text for u in updates if u.message] == ["醒醒"]
        assert time.now == 1.0  # woken by the update, not by the 5 s timeout

    with_bot(fake, body)


def test_simulated_update_shapes_parse(fake: FakeTelegram) -> None:
    group = group_chat()
    first = fake.user_sends_text(WANG, "/report@huibao_test_bot 明天")
    fake.user_sends_text(WANG, "大家好", chat=group)
    for content in UNREADABLE:
        fake.user_sends_message(WANG, content)
    fake.user_forwards_text(WANG, "转发的通知")
    fake.user_forwards_text(WANG, "李姐说的", origin=LI)
    fake.user_edits_message(WANG, 1, "/report 今天")
    fake.user_sends_message(WANG, {"document": DOCUMENT, "caption": "附件"})
    fake.user_sends_update({"my_chat_member": _my_chat_member()})

    async def body(bot: Bot) -> tuple[Update, ...]:
        return await bot.get_updates(timeout=0)

    updates = with_bot(fake, body)
    assert updates[0].update_id == first
    messages = [u.message for u in updates]
    command = messages[0]
    assert command is not None and command.entities[0].type == "bot_command"
    assert command.entities[0].length == len("/report@huibao_test_bot")
    assert messages[1] is not None and messages[1].chat.type == "supergroup"
    assert messages[1].chat.id == -100123
    assert messages[2] is not None and messages[2].sticker is not None
    assert messages[3] is not None and messages[3].voice is not None
    assert fake.update(updates[3].update_id)["message"]["voice"]["duration"] == 4
    assert messages[4] is not None and messages[4].location is not None
    assert messages[5] is not None and messages[5].contact is not None
    assert messages[5].contact.user_id == WANG.id
    assert messages[6] is not None and messages[6].forward_origin is not None
    assert messages[6].forward_origin.type == "hidden_user"
    assert messages[7] is not None and messages[7].forward_origin is not None
    assert messages[7].forward_origin.type == "user"
    edited = updates[8].edited_message
    assert edited is not None and edited.text == "/report 今天" and edited.edit_date is not None
    assert messages[9] is not None and messages[9].document is not None
    assert messages[9].document.file_name == "名单.xlsx" and messages[9].caption == "附件"
    assert updates[10].my_chat_member is not None


DOCUMENT = {"file_id": "BQACAgUAAxkBAAI3", "file_unique_id": "AgADd3", "file_name": "名单.xlsx"}


def _my_chat_member() -> dict[str, Any]:
    bot_user = {"id": 123456, "is_bot": True, "first_name": "Huibao"}
    return {
        "chat": {"id": WANG.id, "type": "private", "first_name": WANG.first_name},
        "from": WANG.as_dict(),
        "date": 1_780_000_000,
        "old_chat_member": {"status": "member", "user": bot_user},
        "new_chat_member": {"status": "kicked", "user": bot_user, "until_date": 0},
    }


# --------------------------------------------------------------------------------- files


def test_photo_download(fake: FakeTelegram) -> None:
    fake.user_sends_photo(WANG, size_bytes=70_000, caption="活动照片")

    async def body(bot: Bot) -> tuple[str, bytearray]:
        (update,) = await bot.get_updates(timeout=0)
        assert update.message is not None and update.message.caption == "活动照片"
        photo = update.message.photo
        assert len(photo) == 2 and photo[-1].file_size == 70_000
        assert photo[0].file_size is not None and photo[0].file_size < photo[-1].file_size
        file = await bot.get_file(photo[-1].file_id)
        return photo[-1].file_id, await file.download_as_bytearray()

    file_id, data = with_bot(fake, body)
    assert len(data) == 70_000 and data.startswith(b"\xff\xd8\xff")
    assert bytes(data) == fake.file_bytes(file_id)


def test_get_file_refuses_files_over_20_mb(fake: FakeTelegram) -> None:
    fake.user_sends_photo(WANG, size_bytes=20 * 1024 * 1024 + 1)
    fake.user_sends_photo(WANG, size_bytes=20 * 1024 * 1024)

    async def body(bot: Bot) -> None:
        big, limit = await bot.get_updates(timeout=0)
        assert big.message is not None and limit.message is not None
        with pytest.raises(BadRequest, match=r"(?i)file is too big"):
            await bot.get_file(big.message.photo[-1].file_id)
        file = await bot.get_file(limit.message.photo[-1].file_id)
        assert file.file_size == 20 * 1024 * 1024

    with_bot(fake, body)


def test_send_document_multipart_stores_bytes(fake: FakeTelegram) -> None:
    data = b"\x00\x01binary\r\n--not-a-boundary\r\n" * 1000

    async def body(bot: Bot) -> None:
        message = await bot.send_document(
            WANG.id,
            document=data,
            filename="半年总结.docx",
            caption="<b>请查收</b>",
            parse_mode="HTML",
        )
        assert message.document is not None and message.document.file_name == "半年总结.docx"
        assert message.document.file_size == len(data)
        assert message.caption == "请查收"
        file = await bot.get_file(message.document.file_id)
        assert bytes(await file.download_as_bytearray()) == data
        with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):  # uploads only
            await bot.send_document(WANG.id, document=message.document.file_id)
        photo = await bot.send_photo(WANG.id, photo=b"\xff\xd8\xff" + bytes(500), filename="x.jpg")
        assert len(photo.photo) == 2 and photo.photo[-1].file_size == 503

    with_bot(fake, body)
    sent = fake.sent(WANG.id)
    assert sent[0].method == "sendDocument" and sent[0].file_bytes == data
    assert sent[0].filename == "半年总结.docx" and sent[0].text == "请查收"
    assert sent[1].method == "sendPhoto" and sent[1].file_bytes == b"\xff\xd8\xff" + bytes(500)


# --------------------------------------------------------------------------------- faults


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_fail_next_429_raises_retry_after_then_recovers(fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", error_code=429, retry_after=1)

    async def body(bot: Bot) -> None:
        with pytest.raises(RetryAfter):
            await bot.send_message(WANG.id, "第一次")
        await bot.send_message(WANG.id, "第二次")

    with_bot(fake, body)
    assert fake.messages_to(WANG.id) == ["第二次"]
    assert [r.method for r in fake.requests_for("sendMessage")] == ["sendMessage"] * 2


def test_fail_next_other_codes(fake: FakeTelegram) -> None:
    fake.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )
    fake.fail_next("sendMessage", error_code=500)
    fake.fail_next("sendMessage", error_code=502)

    async def body(bot: Bot) -> None:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(WANG.id, "x")
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(WANG.id, "x")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(WANG.id, "x")
        await bot.send_message(WANG.id, "好了")

    with_bot(fake, body)
    assert fake.messages_to(WANG.id) == ["好了"]


@pytest.mark.parametrize("served", [False, True], ids=["in_process", "http"])
def test_drop_connection_next(served: bool) -> None:
    fake = FakeTelegram()
    if served:
        fake.start()
    fake.drop_connection_next("sendMessage")

    async def body(bot: Bot) -> None:
        with pytest.raises(NetworkError, match="disconnected"):
            await bot.send_message(WANG.id, "丢了")
        await bot.send_message(WANG.id, "到了")

    try:
        with_bot(fake, body)
    finally:
        fake.stop()
    assert fake.messages_to(WANG.id) == ["到了"]


def test_requests_are_recorded_with_monotonic_times(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> None:
        for i in range(3):
            await bot.send_message(WANG.id, str(i))

    with_bot(fake, body)
    records = fake.requests
    assert [r.method for r in records] == ["getMe", "sendMessage", "sendMessage", "sendMessage"]
    assert all(a.time <= b.time for a, b in itertools.pairwise(records))
    assert records[1].params["text"] == "0"


# --------------------------------------------------------------------------------- commands


def test_my_commands_are_stored_per_scope_and_language(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> None:
        await bot.set_my_commands([BotCommand("report", "汇报活动")])
        await bot.set_my_commands(
            [BotCommand("start", "开始"), BotCommand("help", "帮助")],
            scope=BotCommandScopeAllPrivateChats(),
            language_code="zh",
        )
        assert fake.command_list() == [("report", "汇报活动")]
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand("Report", "大写不行")])
        await bot.set_my_commands([])  # an empty list removes the menu
        assert fake.command_list() == []

    with_bot(fake, body)
    assert fake.command_list({"type": "all_private_chats"}, "zh") == [
        ("start", "开始"),
        ("help", "帮助"),
    ]
    assert len(fake.commands) == 1


# --------------------------------------------------------------------------------- observing


def test_wait_for_text_timeout_lists_what_was_sent(fake: FakeTelegram) -> None:
    with_bot(fake, lambda bot: bot.send_message(WANG.id, "只有这一条"))
    assert fake.wait_for_text(WANG.id, "这一").text == "只有这一条"
    with pytest.raises(AssertionError, match="只有这一条"):
        fake.wait_for_text(WANG.id, "不存在", timeout=0.2)
    with pytest.raises(AssertionError, match="expected 2 messages"):
        fake.wait_for_messages(WANG.id, 2, timeout=0.2)


# --------------------------------------------------------------------------------- applications


def test_echo_application_and_restart_does_not_redeliver(fake: FakeTelegram) -> None:
    first_app = build_app(fake)
    first_app.add_handler(MessageHandler(filters.TEXT, echo))

    def first_user() -> None:
        fake.user_sends_text(WANG, "你好")
        fake.wait_for_text(WANG.id, "你好")

    asyncio.run(poll_while(first_app, first_user))
    assert fake.pending_updates() == 0  # PTB's final getUpdates on stop confirmed it

    fake.user_sends_text(WANG, "再见")
    second_app = build_app(fake)
    second_app.add_handler(MessageHandler(filters.TEXT, echo))

    def second_user() -> None:
        fake.wait_for_text(WANG.id, "再见")
        fake.user_sends_text(WANG, "第三条")  # a wrong redelivery would come before it
        fake.wait_for_text(WANG.id, "第三条")

    asyncio.run(poll_while(second_app, second_user))
    assert fake.messages_to(WANG.id) == ["你好", "再见", "第三条"]


def test_buttons_through_an_application(fake: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("保存", callback_data="save")],
            [InlineKeyboardButton("取消", callback_data="cancel")],
        ]
    )

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await update.effective_chat.send_message("要保存吗？", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        await query.answer("已保存")
        await query.edit_message_text(f"你选了 {query.data}（原消息：{query.message.text}）")

    app = build_app(fake)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))

    def user() -> None:
        fake.user_sends_text(WANG, "/start")
        fake.wait_for_text(WANG.id, "要保存吗")
        fake.press_button(WANG, "保存")
        fake.wait_for_text(WANG.id, "你选了 save")
        with pytest.raises(AssertionError, match="不存在的按钮"):
            fake.press_button(WANG, "不存在的按钮")

    asyncio.run(poll_while(app, user))
    (answer,) = fake.callback_answers
    assert answer.text == "已保存" and not answer.show_alert
    assert fake.messages_to(WANG.id) == ["要保存吗？", "你选了 save（原消息：要保存吗？）"]
    assert "reply_markup" not in fake.current_message(WANG.id, 2)

    async def again(bot: Bot) -> None:
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(answer.callback_query_id)

    with_bot(fake, again)


def test_many_updates_from_several_threads(fake: FakeTelegram) -> None:
    app = build_app(fake)
    app.add_handler(MessageHandler(filters.TEXT, echo))
    users = [SimUser(2000 + i, f"用户{i}") for i in range(4)]
    per_user = 75

    def user() -> None:
        def send(u: SimUser) -> None:
            for i in range(per_user):
                fake.user_sends_text(u, f"{u.id}-{i}")

        threads = [threading.Thread(target=send, args=(u,)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for u in users:
            fake.wait_for_messages(u.id, per_user, timeout=15)

    asyncio.run(poll_while(app, user))
    for u in users:
        assert fake.messages_to(u.id) == [f"{u.id}-{i}" for i in range(per_user)]


# --------------------------------------------------------------------------------- webhook


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str | None, dict[str, Any]]]
    failures_left: int

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        if getattr(server, "failures_left", 0) > 0:
            server.failures_left -= 1  # type: ignore[attr-defined]
            self.send_response(500)
        else:
            server.received.append(  # type: ignore[attr-defined]
                (self.headers.get("X-Telegram-Bot-Api-Secret-Token"), body)
            )
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_webhook_delivery_with_secret_and_retry(http_fake: FakeTelegram) -> None:
    fake = http_fake
    fake.webhook_retry_delay = 0.05
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.received = []  # type: ignore[attr-defined]
    receiver.failures_left = 1  # type: ignore[attr-defined]
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    try:

        async def setup(bot: Bot) -> None:
            assert await bot.set_webhook(url, secret_token="s3cret-token")
            assert fake.webhook_url == url
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates(timeout=0)

        with_bot(fake, setup)
        update_id = fake.user_sends_text(WANG, "经由 webhook")
        fake.wait_for(lambda: fake.pending_updates() == 0, timeout=5)
        received: list[tuple[str | None, dict[str, Any]]] = receiver.received  # type: ignore[attr-defined]
        assert received == [("s3cret-token", fake.update(update_id))]
        assert [d.status for d in fake.webhook_deliveries] == [500, 200]

        async def teardown(bot: Bot) -> None:
            assert await bot.delete_webhook()
            fake.user_sends_text(WANG, "改回轮询")
            (update,) = await bot.get_updates(timeout=0)
            assert update.message is not None and update.message.text == "改回轮询"

        with_bot(fake, teardown)
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_stop_wakes_a_waiting_long_poll() -> None:
    fake = FakeTelegram()
    fake.start()
    result: list[Any] = []

    def long_poll() -> None:
        result.append(with_bot(fake, lambda bot: bot.get_updates(timeout=30)))

    poller = threading.Thread(target=long_poll)
    poller.start()
    fake.wait_for(lambda: fake.get_updates_offsets, timeout=5)
    started = time.monotonic()
    fake.stop()
    poller.join(timeout=5)
    assert time.monotonic() - started < 1.0
    assert not poller.is_alive() and result == [()]
