"""Every user-facing sentence, one catalogue per language (zh is the default)."""

from __future__ import annotations

from typing import Any

ZH: dict[str, str] = {
    # registration
    "not_registered": (
        "你好！我是汇报助手，帮社区工作人员上报活动、生成半年工作总结。\n"
        "你还没有加入任何单位。请向社区或街道负责人要一个邀请码，"
        "然后发送：/start 邀请码（例如 /start K7QM3XPD）。"
    ),
    "invite_invalid": "邀请码“{code}”无效。请核对后重新发送，或向负责人要一个新的邀请码。",
    "invite_expired": "邀请码“{code}”已过期，请向负责人要一个新的邀请码。",
    "invite_used_up": "邀请码“{code}”的使用次数已用完，请向负责人要一个新的邀请码。",
    "join_ask_name": "欢迎加入{unit}（{role}）！请告诉我你的姓名，用于填报记录，例如：张丽。",
    "join_bad_name": "姓名需要 1 到 30 个字，只写名字即可，例如：张丽。请再发一次。",
    "join_done": "好的，{name}，你已加入{unit}，身份：{role}。\n发送 /report 上报一次活动，/help 查看全部命令。",
    "join_role_added": "已为你添加身份：{unit}（{role}）。",
    "join_already": "你已经是{unit}的{role}了，不需要重复加入。",
    "join_cancelled": "已取消加入。需要时再发送 /start 邀请码。",
    "role_staff": "工作人员",
    "role_coordinator": "负责人",
    "role_admin": "管理员",
    # general
    "help": (
        "可以用的命令：\n"
        "/report 上报一次活动（也可以直接发“上报”）\n"
        "/mine 查看我本期上报的记录\n"
        "/edit 编号 修改一条记录\n"
        "/delete 编号 删除一条记录\n"
        "/skip 跳过可选的问题\n"
        "/back 回到上一个问题\n"
        "/cancel 放弃正在填写的内容\n"
        "/help 显示这条说明"
    ),
    "idle": "现在没有进行中的上报。发送 /report 开始上报一次活动，/help 查看全部命令。",
    "unknown_command": "我不认识“{command}”这个命令。发送 /help 查看可以用的命令。",
    "empty_message": "没有收到文字内容，请再发一次。",
    "unsupported_message": "暂时只能识别文字和照片，请用文字回答。",
    "too_long_message": "这条消息太长了（{length} 字），请精简到 {limit} 字以内再发。",
    "cancelled": "已取消，本次填写的内容没有保存。",
    "nothing_to_cancel": "现在没有进行中的操作，不需要取消。",
    "nothing_to_skip": "现在没有可以跳过的问题。发送 /report 开始上报。",
    "nothing_to_go_back": "现在没有进行中的上报。发送 /report 开始上报。",
    "busy_reporting": "你有一条上报还没有完成。请继续回答，或发送 /cancel 放弃。",
    "group_use_private": "请在和我的私聊中上报活动，群里只回答负责人的查询命令。",
    "internal_error": "抱歉，处理这条消息时出了问题，已记录下来。你填写的内容没有丢失，请稍后再试。",
    # interview
    "ask_unit": "这次活动是哪个单位开展的？",
    "ask_area_hint": "请选择一个类别（回复编号或名称）。",
    "choose_one": "请从下面的选项中选一个（回复编号或名称）。",
    "required": "这一项是必填的，不能跳过。",
    "skipped": "已跳过。",
    "first_question": "已经是第一个问题了。",
    "current_answer": "（当前：{value}。不改请选“保持不变”）",
    "keep": "保持不变",
    "progress": "（第 {index}/{total} 题）",
    "optional_hint": "（可选，发送 /skip 跳过）",
    "bad_text_empty": "回答不能为空，请用文字回答。",
    "bad_text_no_words": "请用文字回答，只发表情我看不懂。",
    "bad_text_too_long": "回答太长了（{length} 字），这一项请控制在 {limit} 字以内。",
    "bad_count": "没看懂这个数字：{reason}\n请只写数量，{example}",
    "bad_count_empty": "没有写数字",
    "bad_count_no_number": "没有找到数字",
    "bad_count_ordinal": "“第几”是序号，不是数量",
    "bad_count_list_marker": "这像是条目编号（如“一是”），不是数量",
    "bad_count_negative": "数量不能是负数",
    "bad_count_too_large": "数字太大了，请核对",
    "bad_count_other": "格式不对",
    "bad_count_trailing_text": "数字后面多了别的字",
    "bad_count_leading_text": "数字前面多了别的字",
    "bad_count_ambiguous": "写了好几个数字，不知道用哪一个",
    "bad_count_range_reversed": "范围写反了（前面的数应该小一些）",
    "bad_count_at_most": "“不到……”只说了上限，请写一个大概的数",
    "bad_count_malformed": "数字写法不对",
    "bad_unit": "这一项的单位是“{expected}”，你写的是“{got}”。请按“{expected}”填写，{example}",
    "count_example_default": "例如：50、4000多、近百、20余",
    "bad_date": "没看懂这个日期。{example}",
    "date_example": "例如：6月30日、2026年6月30日、6.30、昨天、上周五",
    "range_example": "例如：6月30日，或 6月1日至6月3日",
    "bad_date_invalid": "这个日期不存在，请核对。{example}",
    "bad_date_reversed": "结束日期早于开始日期，请核对。{example}",
    "bad_date_incomplete": "请写到具体哪一天。{example}",
    "bad_date_weekday_mismatch": "日期和星期对不上，请核对。{example}",
    "bad_date_future": "活动日期 {date} 还没到，请上报已经开展的活动。",
    "bad_date_too_long": "活动时间跨度超过一年，请核对日期。",
    "bad_date_too_old": "日期 {date} 太早了，请核对年份。",
    "bad_yes_no": "请回答“是”或“否”。",
    "photo_received": "收到第 {count} 张照片。可以继续发送，发完后回复“完成”。",
    "photo_limit": "最多 {limit} 张照片，已经够了。",
    "photo_expected": "请发送照片，发完后回复“完成”；不需要照片请发送 /skip。",
    "photo_not_expected": "这一步需要文字回答，不需要照片。",
    "photo_done": "完成",
    "photos_count": "{count} 张",
    "confirm_intro": "请核对我理解的内容：",
    "confirm_question": "确认无误就保存吧。",
    "confirm_save": "✅ 确认保存",
    "confirm_edit": "✏️ 修改",
    "confirm_cancel": "❌ 放弃",
    "confirm_hint": "请选择：确认保存、修改，或放弃。",
    "pick_field": "要修改哪一项？回复编号或名称。",
    "field_area": "工作类别",
    "field_unit": "单位",
    "skipped_value": "（未填）",
    "approx_more_than": "按“{raw}”理解为不少于 {low}",
    "approx_about": "按“{raw}”理解为约 {low}",
    "approx_range": "按“{raw}”理解为 {low} 到 {high}",
    "saved": "已保存，记录编号 #{id}。谢谢！\n发送 /mine 查看本期记录，/report 再报一条。",
    "saved_edit": "已更新记录 #{id}（第 {revision} 版），原来的版本已保留。",
    "yes": "是",
    "no": "否",
    # entries
    "mine_header": "你在 {period} 上报的记录（共 {count} 条）：",
    "mine_empty": "你在 {period} 还没有上报记录。发送 /report 开始上报。",
    "entry_not_found": "找不到编号为 #{id} 的记录，或它不是你上报的。发送 /mine 查看你的记录。",
    "entry_number_missing": "请写上记录编号，例如：{command} 12。发送 /mine 查看编号。",
    "edit_intro": "正在修改记录 #{id}。",
    "delete_confirm": "确定删除记录 #{id}“{title}”吗？删除后不计入总结，但原记录会保留备查。",
    "deleted": "已删除记录 #{id}。",
    "delete_kept": "好的，记录 #{id} 保留不动。",
    "weekday_0": "周一",
    "weekday_1": "周二",
    "weekday_2": "周三",
    "weekday_3": "周四",
    "weekday_4": "周五",
    "weekday_5": "周六",
    "weekday_6": "周日",
    "date_format": "{year}年{month}月{day}日（{weekday}）",
    "range_format": "{start} 至 {end}",
}

EN: dict[str, str] = {
    "not_registered": (
        "Hello! I am Huibao: I help community staff report activities and compose the "
        "half-year work summary.\nYou have not joined a unit yet. Ask your coordinator for "
        "an invite code, then send: /start CODE (for example /start K7QM3XPD)."
    ),
    "invite_invalid": "The invite code “{code}” is not valid. Check it, or ask for a new one.",
    "invite_expired": "The invite code “{code}” has expired. Please ask for a new one.",
    "invite_used_up": "The invite code “{code}” has been used up. Please ask for a new one.",
    "join_ask_name": "Welcome to {unit} ({role})! What is your name (for the records)?",
    "join_bad_name": "A name has 1 to 30 characters. Please send it again.",
    "join_done": "Thank you, {name}: you have joined {unit} as {role}.\n"
    "Send /report to report an activity, /help for all commands.",
    "join_role_added": "Added your role: {unit} ({role}).",
    "join_already": "You are already {role} of {unit}.",
    "join_cancelled": "Joining cancelled. Send /start CODE when you are ready.",
    "role_staff": "staff",
    "role_coordinator": "coordinator",
    "role_admin": "admin",
    "help": (
        "Commands:\n"
        "/report report an activity\n"
        "/mine my entries this period\n"
        "/edit N change entry N\n"
        "/delete N delete entry N\n"
        "/skip skip an optional question\n"
        "/back go back one question\n"
        "/cancel drop what you are filling in\n"
        "/help this text"
    ),
    "idle": "Nothing in progress. Send /report to report an activity, /help for all commands.",
    "unknown_command": "I do not know the command “{command}”. Send /help for the list.",
    "empty_message": "I received no text. Please send it again.",
    "unsupported_message": "I can only read text and photos. Please answer in text.",
    "too_long_message": "This message is too long ({length} characters); keep it under {limit}.",
    "cancelled": "Cancelled. Nothing of this report was saved.",
    "nothing_to_cancel": "Nothing is in progress.",
    "nothing_to_skip": "There is no question to skip. Send /report to start.",
    "nothing_to_go_back": "Nothing is in progress. Send /report to start.",
    "busy_reporting": "You have a report in progress. Answer the question, or send /cancel.",
    "group_use_private": "Please report in a private chat with me; in groups I answer "
    "coordinators' queries only.",
    "internal_error": "Sorry, something went wrong with this message. Nothing you entered "
    "is lost; please try again in a moment.",
    "ask_unit": "Which unit ran this activity?",
    "ask_area_hint": "Choose a category (reply with its number or name).",
    "choose_one": "Please choose one of the options (reply with its number or name).",
    "required": "This question is required and cannot be skipped.",
    "skipped": "Skipped.",
    "first_question": "This is already the first question.",
    "current_answer": "(Now: {value}. Choose “Keep” to leave it.)",
    "keep": "Keep",
    "progress": "(question {index}/{total})",
    "optional_hint": "(optional, /skip to skip)",
    "bad_text_empty": "The answer cannot be empty. Please answer in text.",
    "bad_text_no_words": "Please answer in words; I cannot read emoji only.",
    "bad_text_too_long": "The answer is too long ({length} characters); keep it under {limit}.",
    "bad_count": "I could not read this number: {reason}\nWrite the amount only, {example}",
    "bad_count_empty": "no number given",
    "bad_count_no_number": "no number found",
    "bad_count_ordinal": "“第…” is an ordinal, not an amount",
    "bad_count_list_marker": "this looks like a list marker, not an amount",
    "bad_count_negative": "an amount cannot be negative",
    "bad_count_too_large": "the number is too large",
    "bad_count_other": "the format is not right",
    "bad_count_trailing_text": "there are other words after the number",
    "bad_count_leading_text": "there are other words before the number",
    "bad_count_ambiguous": "there are several numbers",
    "bad_count_range_reversed": "the range is reversed",
    "bad_count_at_most": "“less than …” gives only an upper bound; give an estimate",
    "bad_count_malformed": "the number is malformed",
    "bad_unit": "This figure is counted in “{expected}”, you wrote “{got}”. {example}",
    "count_example_default": "for example: 50, 4000多, 近百, 20余",
    "bad_date": "I could not read this date. {example}",
    "date_example": "For example: 6月30日, 2026-06-30, 6.30, 昨天, 上周五",
    "range_example": "For example: 6月30日, or 6月1日至6月3日",
    "bad_date_invalid": "This date does not exist. {example}",
    "bad_date_reversed": "The end is before the start. {example}",
    "bad_date_incomplete": "Please give the exact day. {example}",
    "bad_date_weekday_mismatch": "The date and the weekday do not match. {example}",
    "bad_date_future": "{date} is still ahead; please report activities already held.",
    "bad_date_too_long": "The activity spans more than a year; please check the dates.",
    "bad_date_too_old": "{date} is too long ago; please check the year.",
    "bad_yes_no": "Please answer yes or no.",
    "photo_received": "Photo {count} received. Send more, or reply “done”.",
    "photo_limit": "At most {limit} photos; that is enough.",
    "photo_expected": "Please send a photo and reply “done” when finished; /skip for none.",
    "photo_not_expected": "This question needs a text answer, not a photo.",
    "photo_done": "done",
    "photos_count": "{count} photo(s)",
    "confirm_intro": "Please check what I understood:",
    "confirm_question": "Save it if everything is right.",
    "confirm_save": "✅ Save",
    "confirm_edit": "✏️ Change",
    "confirm_cancel": "❌ Drop",
    "confirm_hint": "Please choose: save, change, or drop.",
    "pick_field": "Which item do you want to change? Reply with its number or name.",
    "field_area": "Category",
    "field_unit": "Unit",
    "skipped_value": "(not given)",
    "approx_more_than": "read “{raw}” as at least {low}",
    "approx_about": "read “{raw}” as about {low}",
    "approx_range": "read “{raw}” as {low} to {high}",
    "saved": "Saved as entry #{id}. Thank you!\nSend /mine to see this period's entries.",
    "saved_edit": "Entry #{id} updated (version {revision}); the earlier version is kept.",
    "yes": "yes",
    "no": "no",
    "mine_header": "Your entries in {period} ({count}):",
    "mine_empty": "You have no entries in {period} yet. Send /report to start.",
    "entry_not_found": "There is no entry #{id} of yours. Send /mine to see your entries.",
    "entry_number_missing": "Please add the entry number, e.g. {command} 12.",
    "edit_intro": "Changing entry #{id}.",
    "delete_confirm": "Delete entry #{id} “{title}”? It leaves the summary; the record is kept.",
    "deleted": "Entry #{id} deleted.",
    "delete_kept": "Fine, entry #{id} stays as it is.",
    "weekday_0": "Mon",
    "weekday_1": "Tue",
    "weekday_2": "Wed",
    "weekday_3": "Thu",
    "weekday_4": "Fri",
    "weekday_5": "Sat",
    "weekday_6": "Sun",
    "date_format": "{year}-{month:02d}-{day:02d} ({weekday})",
    "range_format": "{start} to {end}",
}

CATALOGUES: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}


def text(locale: str, key: str, **params: Any) -> str:
    """Return the sentence `key` in `locale` (falling back to Chinese), filled with params."""
    catalogue = CATALOGUES.get(locale, ZH)
    return catalogue.get(key, ZH[key]).format(**params)
