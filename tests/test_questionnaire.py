"""Tests for bot.questionnaire: the default questionnaire and the validation messages."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from bot.questionnaire import (
    Question,
    Questionnaire,
    QuestionnaireError,
    QuestionType,
    Role,
    load_questionnaire,
    load_questionnaires,
)

QUESTIONNAIRE_DIR = Path(__file__).resolve().parents[1] / "templates" / "questionnaires"
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
    assert 1 <= len(area.questions) <= 4, "keep a report to about two minutes"


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
        ["question 'pics' (in 'after')", "a photo question must be optional"],
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
