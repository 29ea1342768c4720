"""Tests for bot.core.questionnaire: the default questionnaire and the validation messages."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from bot.core.parsing import Approx, UnitMismatch, parse_count, to_unit
from bot.core.questionnaire import (
    Question,
    Questionnaire,
    QuestionnaireError,
    QuestionType,
    Role,
    load_questionnaire,
    load_questionnaires,
    match_figure,
)

QUESTIONNAIRE_DIR = Path(__file__).resolve().parents[2] / "templates" / "questionnaires"
DEFAULT_FILE = QUESTIONNAIRE_DIR / "community_culture.yaml"

AREA_NAMES = [
    "理论学习",
    "宣传教育",
    "文明创建",
    "文体活动",
    "志愿服务",
    "阵地建设",
    "非遗保护",
    "全民阅读",
    "其他",
]


@pytest.fixture(scope="module")
def default() -> Questionnaire:
    return load_questionnaire(DEFAULT_FILE)


# --- the default questionnaire ---------------------------------------------------------


def test_default_has_the_nine_areas_in_order(default: Questionnaire) -> None:
    assert default.id == "community_culture"
    assert default.version >= 1
    assert [area.name for area in default.areas] == AREA_NAMES


@pytest.mark.parametrize("name", AREA_NAMES)
def test_every_flow_has_one_title_and_one_dates_question(default: Questionnaire, name: str) -> None:
    area = next(a for a in default.areas if a.name == name)
    flow = default.flow(area.key)

    titles = [q for q in flow if q.role is Role.TITLE]
    dates = [q for q in flow if q.role is Role.DATES]
    assert len(titles) == 1
    assert len(dates) == 1
    assert dates[0].type in (QuestionType.DATE, QuestionType.DATE_RANGE)
    assert titles[0] in default.before and dates[0] in default.before


@pytest.mark.parametrize("name", AREA_NAMES)
def test_every_area_counts_at_least_one_figure(default: Questionnaire, name: str) -> None:
    area = next(a for a in default.areas if a.name == name)
    counts = [q for q in area.questions if q.type is QuestionType.COUNT]
    assert counts, f"{name} has no count question"
    assert all(q.unit for q in counts)
    required = [q for q in area.questions if not q.optional]
    assert len(required) <= 3, "keep a report to about two minutes"
    assert len(area.questions) <= 6, "optional figures are for what real ledgers carry"


def test_default_count_questions_are_metrics_with_an_example(default: Questionnaire) -> None:
    counts = [q for area in default.areas for q in area.questions if q.type is QuestionType.COUNT]
    for question in counts:
        assert question.role is Role.METRIC, question.id
        assert question.example and question.example.startswith("例如"), question.id


def test_default_common_questions(default: Questionnaire) -> None:
    assert [(q.label, q.role) for q in default.before] == [
        ("活动名称", Role.TITLE),
        ("活动日期", Role.DATES),
        ("地点", Role.LOCATION),
    ]
    assert [(q.label, q.role, q.optional) for q in default.after] == [
        ("主要内容", Role.CONTENT, False),
        ("取得成效", Role.ACHIEVEMENTS, False),
        ("亮点特色", Role.HIGHLIGHTS, True),
        ("活动照片", Role.PHOTOS, True),
    ]
    assert default.before[0].max_length <= 60
    assert "6月1日至6月3日" in default.before[1].prompt


def test_default_prompts_fit_on_a_phone(default: Questionnaire) -> None:
    questions = {q for area in default.areas for q in default.flow(area.key)}
    assert all(len(q.prompt) <= 40 for q in questions)


def test_flow_and_lookups(default: Questionnaire) -> None:
    key = default.areas[0].key
    flow = default.flow(key)
    assert flow == default.before + default.area(key).questions + default.after
    assert default.question(key, flow[-1].id) is flow[-1]
    with pytest.raises(KeyError):
        default.area("no_such_area")
    with pytest.raises(KeyError):
        default.question(key, "no_such_question")


def test_load_questionnaires_finds_the_default() -> None:
    loaded = load_questionnaires(QUESTIONNAIRE_DIR)
    assert "community_culture" in loaded
    assert loaded["community_culture"] == load_questionnaire(DEFAULT_FILE)


# --- the model itself ------------------------------------------------------------------


def test_count_questions_default_to_metric() -> None:
    count = Question(id="n", type=QuestionType.COUNT, prompt="几个？", label="数量", unit="个")
    text = Question(id="t", type=QuestionType.TEXT, prompt="说说？", label="说明")
    other = Question.model_validate(
        {
            "id": "x",
            "type": "count",
            "prompt": "几个？",
            "label": "数量",
            "unit": "个",
            "role": "other",
        }
    )
    assert count.role is Role.METRIC
    assert text.role is Role.OTHER
    assert other.role is Role.OTHER


def test_models_are_frozen(default: Questionnaire) -> None:
    with pytest.raises(pydantic.ValidationError):
        default.before[0].prompt = "changed"  # type: ignore[misc]


def test_models_built_in_code_are_validated_too() -> None:
    with pytest.raises(pydantic.ValidationError, match="needs a unit"):
        Question(id="n", type=QuestionType.COUNT, prompt="几个？", label="数量")


# --- measure words ---------------------------------------------------------------------

# Figures real ledgers carry: (area, question id, unit) of the optional questions added for them.
LEDGER_FIGURES = [
    ("publicity", "households", "户"),
    ("civility", "families", "户"),
    ("civility", "spots", "处"),
    ("recreation", "teams", "支"),
    ("recreation", "programmes", "个"),
    ("recreation", "awards", "项"),
    ("volunteer", "households", "户"),
    ("venues", "new_books", "册"),
    ("venues", "furniture", "张"),
    ("heritage", "works", "幅"),
    ("reading", "families", "户"),
]


@pytest.mark.parametrize(("area", "qid", "unit"), LEDGER_FIGURES)
def test_the_figures_ledgers_carry_are_optional_questions(
    default: Questionnaire, area: str, qid: str, unit: str
) -> None:
    question = default.question(area, qid)
    assert (question.type, question.unit, question.optional) == (QuestionType.COUNT, unit, True)
    assert question.role is Role.METRIC and question.cues


# (area, question, typed, low, high, approx, stored unit)
READ_AS: list[tuple[str, str, str, str, str | None, Approx, str]] = [
    ("recreation", "attendance", "300多人", "300", None, Approx.MORE_THAN, "人次"),
    ("recreation", "attendance", "五十来个", "50", None, Approx.ABOUT, "人次"),
    ("recreation", "performers", "30名", "30", None, Approx.EXACT, "名"),
    ("recreation", "teams", "8个", "8", None, Approx.EXACT, "支"),
    ("recreation", "programmes", "12首", "12", None, Approx.EXACT, "个"),
    ("recreation", "awards", "2个", "2", None, Approx.EXACT, "项"),
    ("volunteer", "volunteers", "二十几个", "20", None, Approx.MORE_THAN, "名"),
    ("volunteer", "hours", "40个小时", "40", None, Approx.EXACT, "小时"),
    ("volunteer", "hours", "大概40个小时", "40", None, Approx.ABOUT, "小时"),
    ("volunteer", "hours", "三个钟头", "3", None, Approx.EXACT, "小时"),
    ("volunteer", "hours", "40小时左右", "40", None, Approx.ABOUT, "小时"),
    ("volunteer", "households", "五十多户", "50", None, Approx.MORE_THAN, "户"),
    ("volunteer", "households", "10家", "10", None, Approx.EXACT, "户"),
    ("civility", "families", "40户", "40", None, Approx.EXACT, "户"),
    ("civility", "honoured", "10户", "10", None, Approx.EXACT, "个"),
    ("civility", "spots", "15处", "15", None, Approx.EXACT, "处"),
    ("publicity", "slogans", "20幅", "20", None, Approx.EXACT, "条"),
    ("publicity", "leaflets", "五百张", "500", None, Approx.EXACT, "份"),
    ("venues", "furniture", "一百二十张", "120", None, Approx.EXACT, "张"),
    ("venues", "furniture", "十多套", "10", None, Approx.MORE_THAN, "张"),
    ("venues", "funding", "3.9万元", "3.9", None, Approx.EXACT, "万元"),
    ("venues", "funding", "39000块", "3.9", None, Approx.EXACT, "万元"),
    ("venues", "funding", "3.9万", "3.9", None, Approx.EXACT, "万元"),
    ("venues", "floor_area", "200平米", "200", None, Approx.EXACT, "平方米"),
    ("venues", "new_books", "500本", "500", None, Approx.EXACT, "册"),
    ("heritage", "works", "80幅", "80", None, Approx.EXACT, "幅"),
    ("heritage", "works", "一百多件", "100", None, Approx.MORE_THAN, "幅"),
    ("heritage", "projects", "3项", "3", None, Approx.EXACT, "个"),
    ("theory", "sessions", "2期", "2", None, Approx.EXACT, "场次"),
    ("theory", "attendance", "三四十人", "30", "40", Approx.RANGE, "人次"),
]


@pytest.mark.parametrize(("area", "qid", "typed", "low", "high", "approx", "unit"), READ_AS)
def test_a_figure_is_read_by_the_measure_words_its_question_declares(
    default: Questionnaire,
    area: str,
    qid: str,
    typed: str,
    low: str,
    high: str | None,
    approx: Approx,
    unit: str,
) -> None:
    count = default.question(area, qid).convert(parse_count(typed))
    assert (count.low, count.high, count.approx, count.unit) == (
        Decimal(low),
        None if high is None else Decimal(high),
        approx,
        unit,
    )
    assert count.raw == typed  # the card shows what was typed: 按“300多人”理解为…


# (area, question, typed, the word refused): households are households, not people
REFUSED = [
    ("recreation", "attendance", "50户", "户"),
    ("volunteer", "served", "10户", "户"),
    ("volunteer", "volunteers", "30户", "户"),
    ("volunteer", "hours", "3天", "天"),
    ("theory", "sessions", "50人", "人"),
    ("civility", "families", "40人", "人"),
    ("venues", "funding", "3平米", "平米"),
]


@pytest.mark.parametrize(("area", "qid", "typed", "word"), REFUSED)
def test_a_measure_word_the_question_does_not_declare_is_refused(
    default: Questionnaire, area: str, qid: str, typed: str, word: str
) -> None:
    question = default.question(area, qid)
    with pytest.raises(UnitMismatch) as caught:
        question.convert(parse_count(typed))
    assert (caught.value.expected, caught.value.got) == (question.unit, word)


ANSWERS_BEFORE = [
    "50", "4000多人次", "近百人", "三四十人", "30-40人", "20余场", "3场", "两期", "50条",
    "二十多条", "1800余份", "200份", "300本", "1000多册", "3.9万", "3.9万元", "39000元", "100块",
    "40小时", "二十人", "12名", "5位", "3支", "2个", "200平方米", "10多", "近2000", "五六个",
]  # fmt: skip


def test_every_answer_the_built_in_rules_took_is_read_the_same(default: Questionnaire) -> None:
    counts = [q for area in default.areas for q in area.questions if q.type is QuestionType.COUNT]
    checked = 0
    for question in counts:
        assert question.unit is not None
        for typed in ANSWERS_BEFORE:
            try:
                before = to_unit(parse_count(typed), question.unit)
            except UnitMismatch:
                continue
            assert question.convert(parse_count(typed)) == before, (question.id, typed)
            checked += 1
    assert checked > 200


def test_accepted_words_fall_back_to_the_built_in_aliases() -> None:
    plain = Question(id="n", type=QuestionType.COUNT, prompt="几人？", label="人数", unit="人次")
    assert plain.accepted_words == {"人次", "人", "名", "位"}
    declared = Question.model_validate(
        {
            "id": "n",
            "type": "count",
            "prompt": "?",
            "label": "户数",
            "unit": "户",
            "measures": ["家"],
        }
    )
    assert declared.accepted_words == {"户", "家"}


# (area, ledger phrase, the question it fills): the most specific figure, never a catch-all
LEDGER_PHRASES = [
    ("recreation", "参赛3名", "performers"),
    ("recreation", "参演人员30人", "performers"),
    ("recreation", "观众300名", "attendance"),
    ("recreation", "参与群众4000多人次", "attendance"),
    ("recreation", "节目12个", "programmes"),
    ("recreation", "获奖2项", "awards"),
    ("recreation", "参演队伍8支", "teams"),
    ("recreation", "舞蹈队8个", "teams"),
    ("civility", "参与家庭40户", "families"),
    ("civility", "评选文明家庭10户", "honoured"),
    ("civility", "整治点位15处", "spots"),
    ("venues", "添置书画桌一百二十张", "furniture"),
    ("venues", "新增图书500册", "new_books"),
    ("venues", "改造活动室2间", "sites"),
    ("heritage", "展出剪纸作品80幅", "works"),
    ("volunteer", "志愿者20人", "volunteers"),
    ("volunteer", "服务群众300多人次", "served"),
    ("volunteer", "走访独居老人家庭12户", "households"),
]


@pytest.mark.parametrize(("area", "phrase", "qid"), LEDGER_PHRASES)
def test_match_figure_picks_the_most_specific_question(
    default: Questionnaire, area: str, phrase: str, qid: str
) -> None:
    start = next(i for i, ch in enumerate(phrase) if ch.isdigit() or ch in "一二三四五六七八九十")
    label, count = phrase[:start], parse_count(phrase[start:])
    found = match_figure(default.area(area).questions, label, count)
    assert found is not None
    assert found[0].id == qid
    assert found[1].unit == found[0].unit


def test_match_figure_finds_nothing_for_a_word_no_question_takes(default: Questionnaire) -> None:
    assert match_figure(default.area("theory").questions, "横幅", parse_count("5幅")) is None


# --- broken files ----------------------------------------------------------------------


def minimal() -> dict[str, Any]:
    """A small valid questionnaire, as the dict a YAML file would hold."""
    return {
        "id": "mini",
        "title": "测试问卷",
        "version": 1,
        "area_prompt": "这次活动属于哪一类工作？",
        "areas": [
            {
                "key": "theory",
                "name": "理论学习",
                "questions": [
                    {
                        "id": "attendance",
                        "type": "count",
                        "label": "参与人次",
                        "unit": "人次",
                        "prompt": "大约多少人次参加？",
                    }
                ],
            },
            {"key": "other", "name": "其他", "questions": []},
        ],
        "before": [
            {
                "id": "name",
                "type": "text",
                "role": "title",
                "label": "活动名称",
                "prompt": "叫什么？",
            },
            {
                "id": "when",
                "type": "daterange",
                "role": "dates",
                "label": "日期",
                "prompt": "哪天？",
            },
        ],
        "after": [
            {
                "id": "content",
                "type": "text",
                "role": "content",
                "label": "内容",
                "prompt": "做了啥？",
            },
        ],
    }


def area_question(data: dict[str, Any]) -> dict[str, Any]:
    question: dict[str, Any] = data["areas"][0]["questions"][0]
    return question


def write(directory: Path, name: str, data: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_minimal_questionnaire_is_valid(tmp_path: Path) -> None:
    questionnaire = load_questionnaire(write(tmp_path, "mini.yaml", minimal()))
    assert [q.id for q in questionnaire.flow("theory")] == ["name", "when", "attendance", "content"]


def _count_without_unit(d: dict[str, Any]) -> None:
    del area_question(d)["unit"]


def _choice_without_choices(d: dict[str, Any]) -> None:
    d["before"].append({"id": "kind", "type": "choice", "label": "形式", "prompt": "什么形式？"})


def _choice_with_duplicate_choices(d: dict[str, Any]) -> None:
    d["before"].append(
        {
            "id": "kind",
            "type": "choice",
            "label": "形式",
            "prompt": "？",
            "choices": ["线上", "线上"],
        }
    )


def _duplicate_id_in_area(d: dict[str, Any]) -> None:
    area_question(d)["id"] = "content"


def _duplicate_id_in_before(d: dict[str, Any]) -> None:
    d["before"][1]["id"] = "name"


def _unknown_field(d: dict[str, Any]) -> None:
    area_question(d)["colour"] = "red"


def _misspelt_field(d: dict[str, Any]) -> None:
    area_question(d)["unti"] = area_question(d).pop("unit")


def _unknown_type(d: dict[str, Any]) -> None:
    area_question(d)["type"] = "number"


def _no_title_question(d: dict[str, Any]) -> None:
    d["before"][0]["role"] = "other"


def _title_question_in_after(d: dict[str, Any]) -> None:
    d["after"].append(
        {"id": "headline", "type": "text", "role": "title", "label": "名", "prompt": "？"}
    )


def _two_dates_questions(d: dict[str, Any]) -> None:
    d["before"].append(
        {"id": "day", "type": "date", "role": "dates", "label": "日", "prompt": "？"}
    )


def _dates_of_wrong_type(d: dict[str, Any]) -> None:
    d["before"][1]["type"] = "text"


def _photo_not_optional(d: dict[str, Any]) -> None:
    d["after"].append(
        {"id": "pics", "type": "photo", "role": "photos", "label": "照片", "prompt": "？"}
    )


def _unit_on_text(d: dict[str, Any]) -> None:
    d["before"][0]["unit"] = "条"


def _bad_question_id(d: dict[str, Any]) -> None:
    area_question(d)["id"] = "Attendance-Count"


def _missing_questionnaire_title(d: dict[str, Any]) -> None:
    del d["title"]


def _version_zero(d: dict[str, Any]) -> None:
    d["version"] = 0


def _no_areas(d: dict[str, Any]) -> None:
    d["areas"] = []


def _duplicate_area_key(d: dict[str, Any]) -> None:
    d["areas"][1]["key"] = "theory"


def _measures_on_text(d: dict[str, Any]) -> None:
    d["before"][0]["measures"] = ["条"]


def _measure_listed_twice(d: dict[str, Any]) -> None:
    area_question(d)["measures"] = ["人", "名", "人"]


def _measure_is_the_unit(d: dict[str, Any]) -> None:
    area_question(d)["measures"] = ["人次"]


def _measure_the_parser_never_sees(d: dict[str, Any]) -> None:
    area_question(d)["measures"] = ["块钱"]


def _measure_with_a_number(d: dict[str, Any]) -> None:
    area_question(d)["measures"] = ["3个"]


def _measure_factor_zero(d: dict[str, Any]) -> None:
    area_question(d)["measures"] = [{"word": "人", "factor": 0}]


def _cue_listed_twice(d: dict[str, Any]) -> None:
    area_question(d)["cues"] = ["观众", "观众"]


def _keyword_in_two_areas(d: dict[str, Any]) -> None:
    d["areas"][0]["keywords"] = ["宣讲", "学习"]
    d["areas"][1]["keywords"] = ["学习"]


# (break the minimal questionnaire, fragments the error message must contain)
BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], list[str]]] = {
    "count without unit": (
        _count_without_unit,
        ["question 'attendance' (area 'theory')", "a count question needs a unit"],
    ),
    "choice without choices": (
        _choice_without_choices,
        ["question 'kind' (in 'before')", "needs at least 2 choices"],
    ),
    "choice listed twice": (
        _choice_with_duplicate_choices,
        ["question 'kind'", "choice '线上' is listed twice"],
    ),
    "duplicate id across the flow": (
        _duplicate_id_in_area,
        ["question 'content' (area 'theory')", "id 'content' is already used in 'after'"],
    ),
    "duplicate id in before": (
        _duplicate_id_in_before,
        ["question 'name' (in 'before')", "id 'name' is already used in 'before'"],
    ),
    "unknown field": (
        _unknown_field,
        ["question 'attendance' (area 'theory')", "unknown field 'colour'"],
    ),
    "misspelt field": (
        _misspelt_field,
        ["question 'attendance' (area 'theory')", "unknown field 'unti' (did you mean 'unit'?)"],
    ),
    "unknown type": (
        _unknown_type,
        ["question 'attendance' (area 'theory')", "unknown type 'number'", "'count'"],
    ),
    "missing title question": (
        _no_title_question,
        ["needs exactly one question with role 'title'", "none of 'name' or 'when' has it"],
    ),
    "title question outside before": (
        _title_question_in_after,
        ["question 'headline' (in 'after')", "role 'title' is already taken by question 'name'"],
    ),
    "two dates questions": (
        _two_dates_questions,
        ["'before' needs exactly one question with role 'dates'", "found 'when' and 'day'"],
    ),
    "dates of the wrong type": (
        _dates_of_wrong_type,
        ["question 'when' (in 'before')", "role 'dates' needs a question of type"],
    ),
    "photo not optional": (
        _photo_not_optional,
        [
            "question 'pics' (in 'after')",
            "a photo question must be optional",
            "基层减负 rules",
            "forbid compulsory photo uploads",
        ],
    ),
    "unit on a text question": (
        _unit_on_text,
        ["question 'name' (in 'before')", "only a count question has a unit"],
    ),
    "malformed question id": (
        _bad_question_id,
        ["question 'Attendance-Count' (area 'theory')", "field 'id'", "not a valid identifier"],
    ),
    "missing questionnaire title": (
        _missing_questionnaire_title,
        ["missing required field 'title'"],
    ),
    "version zero": (_version_zero, ["field 'version'", "greater than or equal to 1"]),
    "no areas": (_no_areas, ["field 'areas'", "needs at least 1 item, has 0"]),
    "duplicate area key": (
        _duplicate_area_key,
        ["area 'theory'", "area key 'theory' is used twice"],
    ),
    "measures on a text question": (
        _measures_on_text,
        ["question 'name' (in 'before')", "only a count question has measures"],
    ),
    "measure word listed twice": (
        _measure_listed_twice,
        ["question 'attendance' (area 'theory')", "measure word '人' is listed twice"],
    ),
    "measure word that is the unit": (
        _measure_is_the_unit,
        ["question 'attendance'", "measure word '人次' is the unit itself"],
    ),
    "measure word the parser never reports": (
        _measure_the_parser_never_sees,
        ["question 'attendance'", "measure word '块钱' is never seen", "with the unit '元'"],
    ),
    "measure word with a number": (
        _measure_with_a_number,
        ["question 'attendance'", "measure word '3个' contains a number"],
    ),
    "measure factor zero": (
        _measure_factor_zero,
        ["question 'attendance'", "field 'measures[0].factor'", "greater than 0"],
    ),
    "cue listed twice": (
        _cue_listed_twice,
        ["question 'attendance'", "cue '观众' is listed twice"],
    ),
    "keyword of two areas": (
        _keyword_in_two_areas,
        ["area 'other'", "keyword '学习' is already a keyword of area 'theory'"],
    ),
}


@pytest.mark.parametrize(("breakage", "fragments"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_questionnaire_is_reported_clearly(
    tmp_path: Path, breakage: Callable[[dict[str, Any]], None], fragments: list[str]
) -> None:
    data = minimal()
    breakage(data)
    path = write(tmp_path, "broken.yaml", data)

    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)

    message = str(caught.value)
    assert message.startswith("broken.yaml: ")
    for fragment in fragments:
        assert fragment in message
    assert "pydantic" not in message and "Traceback" not in message
    assert len(message.splitlines()) == 1, "one breakage, one problem"
    assert caught.value.path == path


def test_the_same_breakage_in_code_raises_validation_error() -> None:
    data = copy.deepcopy(minimal())
    _count_without_unit(data)
    with pytest.raises(pydantic.ValidationError):
        Questionnaire.model_validate(data)


def test_every_problem_is_listed_on_its_own_line(tmp_path: Path) -> None:
    data = minimal()
    _count_without_unit(data)
    data["before"][0]["colour"] = "red"
    _missing_questionnaire_title(data)
    path = write(tmp_path, "broken.yaml", data)

    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)

    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("broken.yaml: ") for line in lines)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "id: x\ntitle: 测试\nversion: 1\narea_prompt: 哪一类？\n  areas: oops\n",
            5,
            "mapping values",
        ),
        ("id: x\nareas: [theory, other\nbefore: []\n", 3, "expected ',' or ']'"),
        ("id: x\ntitle: 测试\n\tversion: 1\n", 3, "'\\t'"),
    ],
    ids=["bad indentation", "unclosed list", "tab"],
)
def test_yaml_syntax_error_names_the_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)

    message = str(caught.value)
    assert message.startswith("syntax.yaml: invalid YAML")
    assert f"line {line}" in message
    assert problem in message


@pytest.mark.parametrize(("text", "problem"), [("", "empty"), ("- a\n- b\n", "not a mapping")])
def test_file_that_is_not_a_mapping(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuestionnaireError, match=f"odd.yaml: .*{problem}"):
        load_questionnaire(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError, match=r"nope\.yaml: cannot read"):
        load_questionnaire(tmp_path / "nope.yaml")


# --- directories -----------------------------------------------------------------------


def test_load_questionnaires_keys_by_id(tmp_path: Path) -> None:
    first = minimal()
    second = minimal()
    second["id"] = "another"
    write(tmp_path, "a.yaml", first)
    write(tmp_path, "b.yaml", second)
    (tmp_path / "notes.txt").write_text("not a questionnaire", encoding="utf-8")

    assert sorted(load_questionnaires(tmp_path)) == ["another", "mini"]


def test_load_questionnaires_rejects_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", minimal())
    write(tmp_path, "b.yaml", minimal())

    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaires(tmp_path)

    message = str(caught.value)
    assert "'mini'" in message
    assert "a.yaml" in message and "b.yaml" in message


def test_load_questionnaires_reports_a_broken_file(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", minimal())
    broken = minimal()
    _unknown_type(broken)
    write(tmp_path, "b.yaml", broken)

    with pytest.raises(QuestionnaireError, match=r"b\.yaml: question 'attendance'"):
        load_questionnaires(tmp_path)


def test_load_questionnaires_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError, match="not a directory"):
        load_questionnaires(tmp_path / "missing")
