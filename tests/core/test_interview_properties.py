"""Properties of the pure interview: whatever a person sends, it answers sensibly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import interview
from bot.core.interview import Context, InterviewState
from bot.core.questionnaire import load_questionnaires
from bot.core.types import Incoming, Kind, Photo
from bot.shipped import templates_dir

QUESTIONNAIRE = load_questionnaires(templates_dir() / "questionnaires")["community_culture"]
NOW = datetime(2026, 6, 24, 2, 0, tzinfo=UTC)
CTX = Context(questionnaire=QUESTIONNAIRE, now=NOW, today=date(2026, 6, 24))
UNITS = [(1, "新华社区"), (2, "朝阳社区")]

plausible = st.sampled_from(
    [
        "1",
        "2",
        "4",
        "理论学习",
        "文体",
        "端午党课",
        "昨天",
        "6月1日至6月3日",
        "6.30",
        "3场",
        "4000多人次",
        "近百人",
        "三四十人",
        "完成",
        "确认",
        "修改",
        "放弃",
        "保持不变",
        "是",
        "否",
        "keep",
        "confirm:save",
        "photos:done",
        "edit:title",
        "area:reading",
        "unit:2",
        "第二期",
        "",
        "🎉",
        "\x00",
        "x" * 5000,
    ]
)
message = st.one_of(
    st.builds(lambda t: ("text", t), st.one_of(plausible, st.text(max_size=60))),
    st.builds(lambda t: ("button", t), plausible),
    st.builds(lambda i: ("press", str(i)), st.integers(min_value=0, max_value=12)),
    st.just(("photo", "")),
    st.just(("sticker", "")),
    st.just(("skip", "")),
    st.just(("back", "")),
)


def _incoming(kind: str, text: str) -> Incoming:
    kinds = {
        "text": Kind.TEXT,
        "button": Kind.BUTTON,
        "photo": Kind.PHOTO,
        "sticker": Kind.UNSUPPORTED,
    }
    photo = Photo("p") if kind == "photo" else None
    return Incoming("shell", "u", "m", NOW, kind=kinds[kind], text=text, photo=photo)


@settings(max_examples=300, deadline=None)
@given(st.lists(message, max_size=40), st.booleans())
def test_any_sequence_of_messages_gets_well_formed_replies(messages, two_units) -> None:
    step = interview.start(CTX, UNITS if two_units else UNITS[:1])
    state = step.state
    for kind, text in messages:
        assert state is not None
        if kind == "skip":
            step = interview.skip(CTX, state)
        elif kind == "back":
            step = interview.back(CTX, state)
        elif kind == "press":  # press one of the buttons the bot showed last
            shown = [c.value for r in step.replies for c in r.choices]
            value = shown[int(text) % len(shown)] if shown else "none"
            step = interview.answer(CTX, state, _incoming("button", value))
        else:
            step = interview.answer(CTX, state, _incoming(kind, text))
        assert step.replies or step.draft is not None
        for reply in step.replies:
            assert reply.text.strip()
            assert len(reply.text) <= 4096
            assert len({c.value for c in reply.choices}) == len(reply.choices)
            assert all(len(c.value.encode()) <= 64 for c in reply.choices)
        if step.state is None:
            if step.draft is not None:
                draft = step.draft
                assert draft.title and draft.start_date <= date(2026, 6, 24)
                flow = QUESTIONNAIRE.flow(draft.area)
                required = {q.id for q in flow if not q.optional}
                assert required <= set(draft.answers)
            step = interview.start(CTX, UNITS)
        state = step.state
        assert state is not None
        saved = json.loads(json.dumps(state.to_json()))
        assert InterviewState.from_json(saved) == state


def test_every_area_can_be_completed_with_typical_answers() -> None:
    typical = {"text": "居民积极参与", "count": "20余", "daterange": "昨天", "date": "昨天"}
    for number, area in enumerate(QUESTIONNAIRE.areas, 1):
        step = interview.start(CTX, UNITS[:1])
        step = interview.answer(CTX, step.state, _incoming("text", str(number)))
        while step.state is not None and step.state.cursor != interview.CONFIRM:
            question = interview._current_question(CTX, step.state)
            assert question is not None
            if question.optional:
                step = interview.skip(CTX, step.state)
            else:
                step = interview.answer(
                    CTX, step.state, _incoming("text", typical[question.type.value])
                )
        assert step.state is not None, area.name
        (save,) = [c.value for c in step.replies[-1].choices if c.value.startswith(interview.SAVE)]
        step = interview.answer(CTX, step.state, _incoming("button", save))
        assert step.draft is not None and step.draft.area_name == area.name
        assert step.draft.start_date == date(2026, 6, 23)
