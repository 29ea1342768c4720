"""Questionnaires: the typed questions the interview asks about one activity.

A questionnaire is a YAML file under ``templates/questionnaires/``. The interview first asks
which work area (工作类别) the activity belongs to, then walks that area's *flow*: the common
``before`` questions (title, dates, location), the area's own questions (mostly counted
figures such as 参与人次) and the common ``after`` questions (content, achievements,
highlights, photos).

Each question carries a :class:`Role` that tells the rest of the system what its answer
means (the activity's title, its dates, a figure for the summary, ...).

A count question declares the everyday measure words it accepts besides its unit and what
one of each is worth (``measures``: 人/名/个 for 人次, 个小时/钟头 for 小时, 元 as 0.0001 万元),
and the words that name it in a sentence or a ledger label (``cues``: 志愿者, 参演, 观众).
An area declares the words that suggest it (``keywords``: 汇演, 广场舞 for 文体活动). The
extractor (:mod:`bot.core.parsing.extract`) and the ledger read figures through
:meth:`Question.convert` and :func:`match_figure`.

All models are frozen and validate themselves, so a questionnaire built in code is checked
exactly like one loaded from YAML. :func:`load_questionnaire` turns every problem (YAML
syntax, unknown fields, a count without a unit, duplicate ids, a missing title question ...)
into one :class:`QuestionnaireError` whose message names the file, the question and the
problem, one problem per line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Final, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.core.parsing.counts import Count, CountError, parse_count
from bot.core.parsing.numerals import NUMERAL_CHARS
from bot.core.parsing.units import UnitMismatch, accepted_units, convert

__all__ = [
    "Area",
    "Measure",
    "Question",
    "QuestionType",
    "Questionnaire",
    "QuestionnaireError",
    "Role",
    "load_questionnaire",
    "load_questionnaires",
    "match_figure",
]


class QuestionType(StrEnum):
    TEXT = "text"
    COUNT = "count"
    DATE = "date"
    DATE_RANGE = "daterange"
    CHOICE = "choice"
    PHOTO = "photo"
    YES_NO = "yesno"


class Role(StrEnum):
    """What a question's answer means to the rest of the system."""

    TITLE = "title"
    DATES = "dates"
    LOCATION = "location"
    CONTENT = "content"
    ACHIEVEMENTS = "achievements"
    HIGHLIGHTS = "highlights"
    PHOTOS = "photos"
    METRIC = "metric"
    OTHER = "other"


#: Roles that may occur at most once in a flow (METRIC and OTHER may repeat).
SINGLE_ROLES: Final[frozenset[Role]] = frozenset(
    {
        Role.TITLE,
        Role.DATES,
        Role.LOCATION,
        Role.CONTENT,
        Role.ACHIEVEMENTS,
        Role.HIGHLIGHTS,
        Role.PHOTOS,
    }
)

#: The question types each role's answer can have.
ROLE_TYPES: Final[Mapping[Role, frozenset[QuestionType]]] = {
    Role.TITLE: frozenset({QuestionType.TEXT}),
    Role.DATES: frozenset({QuestionType.DATE, QuestionType.DATE_RANGE}),
    Role.LOCATION: frozenset({QuestionType.TEXT, QuestionType.CHOICE}),
    Role.CONTENT: frozenset({QuestionType.TEXT}),
    Role.ACHIEVEMENTS: frozenset({QuestionType.TEXT}),
    Role.HIGHLIGHTS: frozenset({QuestionType.TEXT}),
    Role.PHOTOS: frozenset({QuestionType.PHOTO}),
    Role.METRIC: frozenset({QuestionType.COUNT}),
    Role.OTHER: frozenset(QuestionType),
}

MAX_CHOICE_LENGTH: Final = 20
MAX_LABEL_LENGTH: Final = 20
MAX_MEASURE_LENGTH: Final = 4
MAX_WORD_LENGTH: Final = 20  # a cue or a keyword

_IDENT_PATTERN: Final = r"^[a-z][a-z0-9_]*$"

Identifier = Annotated[str, StringConstraints(pattern=_IDENT_PATTERN, max_length=64)]
NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL_LENGTH)
]


Word = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_WORD_LENGTH)
]


def _quoted_values(values: Iterable[str], last: str = "and") -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return f"{', '.join(quoted[:-1])} {last} {quoted[-1]}"


class Measure(BaseModel):
    """A measure word a count question accepts, and how many of its unit one of it is.

    In YAML a plain word means a factor of 1 (``人``); a conversion is written as a mapping
    (``{word: 元, factor: 0.0001}`` for a question in 万元).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    word: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MEASURE_LENGTH)
    ]
    factor: Decimal = Field(default=Decimal(1), gt=0)

    @model_validator(mode="before")
    @classmethod
    def _a_word_alone(cls, data: Any) -> Any:
        return {"word": data} if isinstance(data, str) else data


class Question(BaseModel):
    """One question of the interview."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    type: QuestionType
    prompt: NonEmptyText
    label: Label
    role: Role = Role.OTHER
    optional: bool = False
    unit: NonEmptyText | None = None
    choices: tuple[str, ...] = ()
    example: NonEmptyText | None = None
    max_length: int = Field(default=500, ge=1, le=4000)
    max_photos: int = Field(default=9, ge=1, le=20)
    measures: tuple[Measure, ...] = ()
    cues: tuple[Word, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _count_is_a_metric_by_default(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "role" not in data and data.get("type") == "count":
            return {**data, "role": Role.METRIC}
        return data

    @model_validator(mode="after")
    def _check_type_specific_fields(self) -> Self:
        problems: list[str] = []
        if self.type is QuestionType.COUNT:
            if self.unit is None:
                problems.append("a count question needs a unit (e.g. unit: 人次)")
            else:
                problems.extend(_measure_problems(self.unit, self.measures))
            problems.extend(_repeats("cue", self.cues))
        else:
            if self.unit is not None:
                problems.append(f"only a count question has a unit, this is a {self.type} question")
            for name in ("measures", "cues"):
                if getattr(self, name):
                    problems.append(
                        f"only a count question has {name}, this is a {self.type} question"
                    )

        if self.type is QuestionType.CHOICE:
            problems.extend(_choice_problems(self.choices))
        elif self.choices:
            problems.append(f"only a choice question has choices, this is a {self.type} question")

        if self.type is not QuestionType.TEXT and "max_length" in self.model_fields_set:
            problems.append(f"only a text question has max_length, this is a {self.type} question")
        if self.type is not QuestionType.PHOTO and "max_photos" in self.model_fields_set:
            problems.append(f"only a photo question has max_photos, this is a {self.type} question")
        if self.type is QuestionType.PHOTO and not self.optional:
            problems.append(
                "a photo question must be optional (optional: true): the 基层减负 rules "
                "(整治形式主义为基层减负若干规定, 2024; the 2026 State Council notice on "
                "government apps) forbid compulsory photo uploads"
            )

        allowed = ROLE_TYPES[self.role]
        if self.type not in allowed:
            types = _quoted_values(sorted(allowed), "or")
            problems.append(
                f"role '{self.role}' needs a question of type {types}, not '{self.type}'"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def measure_factors(self) -> Mapping[str, Decimal]:
        """Declared measure word -> factor (empty: the built-in aliases apply)."""
        return {measure.word: measure.factor for measure in self.measures}

    @cached_property
    def accepted_words(self) -> frozenset[str]:
        """Every measure word this count question takes, its unit included."""
        if self.unit is None:
            return frozenset()
        if self.measures:
            return frozenset({self.unit, *self.measure_factors})
        return accepted_units(self.unit)

    def convert(self, count: Count) -> Count:
        """Express a parsed count in this question's unit, by its declared measure words.

        Raises:
            UnitMismatch: the count's measure word is not one this question takes.
        """
        assert self.unit is not None, "only a count question converts counts"
        return convert(count, self.unit, self.measure_factors)


def _measure_problems(unit: str, measures: Sequence[Measure]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for measure in measures:
        word = measure.word
        if word in seen:
            problems.append(f"measure word '{word}' is listed twice")
            continue
        seen.add(word)
        if word == unit:
            problems.append(f"measure word '{word}' is the unit itself; list only other words")
            continue
        if any(ch in NUMERAL_CHARS or ch.isdigit() for ch in word):
            problems.append(f"measure word '{word}' contains a number")
            continue
        try:
            read = parse_count(f"1{word}").unit
        except CountError:
            read = None
        if read != word:
            how = f"reads '1{word}' with the unit '{read}'" if read else f"cannot read '1{word}'"
            problems.append(f"measure word '{word}' is never seen: the count parser {how}")
    return problems


def _repeats(what: str, words: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    problems: list[str] = []
    for word in words:
        if word in seen:
            problems.append(f"{what} '{word}' is listed twice")
        seen.add(word)
    return problems


def _choice_problems(choices: Sequence[str]) -> list[str]:
    problems: list[str] = []
    if len(choices) < 2:
        problems.append("a choice question needs at least 2 choices")
    seen: set[str] = set()
    for choice in choices:
        if not choice.strip():
            problems.append("a choice must not be empty")
        elif len(choice) > MAX_CHOICE_LENGTH:
            problems.append(f"choice '{choice}' is longer than {MAX_CHOICE_LENGTH} characters")
        if choice in seen:
            problems.append(f"choice '{choice}' is listed twice")
        seen.add(choice)
    return problems


class Area(BaseModel):
    """A work area (工作类别) and the figures it counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Identifier
    name: Label
    questions: tuple[Question, ...]
    keywords: tuple[Word, ...] = ()

    @model_validator(mode="after")
    def _check_keywords(self) -> Self:
        problems = _repeats("keyword", self.keywords)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Questionnaire(BaseModel):
    """The questions asked about one activity, per work area."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    title: NonEmptyText
    version: int = Field(ge=1)
    area_prompt: NonEmptyText
    areas: tuple[Area, ...] = Field(min_length=1)
    before: tuple[Question, ...]
    after: tuple[Question, ...]

    def area(self, key: str) -> Area:
        """The area with this key; KeyError if there is none."""
        for area in self.areas:
            if area.key == key:
                return area
        raise KeyError(key)

    def flow(self, area_key: str) -> tuple[Question, ...]:
        """The questions asked, in order, once the area is chosen."""
        return self.before + self.area(area_key).questions + self.after

    def question(self, area_key: str, qid: str) -> Question:
        """The question ``qid`` of the area's flow; KeyError if there is none."""
        for question in self.flow(area_key):
            if question.id == qid:
                return question
        raise KeyError(qid)

    @model_validator(mode="after")
    def _check_structure(self) -> Self:
        problems = _structure_problems(self)
        if problems:
            raise PydanticCustomError(
                "questionnaire_structure",
                "{summary}",
                {
                    "summary": "; ".join(
                        f"{where}: {what}" if where else what for where, what in problems
                    ),
                    "problems": problems,
                },
            )
        return self


# A problem found by a whole-questionnaire check: (where, what); where may be "".
_Problem = tuple[str, str]


def _structure_problems(q: Questionnaire) -> list[_Problem]:
    problems: list[_Problem] = []

    for attr, what in (("key", "key"), ("name", "name")):
        seen: set[str] = set()
        for area in q.areas:
            value: str = getattr(area, attr)
            if value in seen:
                problems.append((f"area '{area.key}'", f"area {what} '{value}' is used twice"))
            seen.add(value)

    owners: dict[str, str] = {}
    for area in q.areas:
        for keyword in dict.fromkeys(area.keywords):
            if keyword in owners:
                problems.append(
                    (
                        f"area '{area.key}'",
                        f"keyword '{keyword}' is already a keyword of area '{owners[keyword]}'; "
                        "a word that suggests two areas suggests neither",
                    )
                )
            else:
                owners[keyword] = area.key

    for role in (Role.TITLE, Role.DATES):
        holders = [question.id for question in q.before if question.role is role]
        if len(holders) != 1:
            if holders:
                found = f"found {_quoted_values(holders)}"
            elif q.before:
                found = f"none of {_quoted_values((x.id for x in q.before), 'or')} has it"
            else:
                found = "'before' is empty"
            problems.append(
                ("", f"'before' needs exactly one question with role '{role}'; {found}")
            )

    # Ids and single roles must be unique in each area's flow. Duplicates inside `before`
    # or `after` would show up once per area, so collect the messages without repeats.
    flow_problems: dict[_Problem, None] = {}
    for area in q.areas:
        # The area's own questions come last, so a clash with a common question is reported
        # on the area question.
        sections: list[tuple[str, tuple[Question, ...]]] = [
            ("in 'before'", q.before),
            ("in 'after'", q.after),
            (f"area '{area.key}'", area.questions),
        ]
        ids: dict[str, str] = {}
        roles: dict[Role, tuple[str, str]] = {}
        for section, questions in sections:
            for question in questions:
                where = f"question '{question.id}' ({section})"
                if question.id in ids:
                    what = f"id '{question.id}' is already used {_in(ids[question.id])}"
                    flow_problems[(where, what)] = None
                else:
                    ids[question.id] = section
                if question.role not in SINGLE_ROLES:
                    continue
                if question.role in roles:
                    other_id, other_section = roles[question.role]
                    if question.role in (Role.TITLE, Role.DATES) and section == other_section:
                        continue  # two of them in 'before': reported above
                    what = (
                        f"role '{question.role}' is already taken by question '{other_id}' "
                        f"({other_section}); a flow has at most one"
                    )
                    flow_problems[(where, what)] = None
                else:
                    roles[question.role] = (question.id, section)
    problems.extend(flow_problems)
    return problems


def match_figure(
    questions: Iterable[Question], label: str, count: Count
) -> tuple[Question, Count] | None:
    """The count question a labelled figure answers most specifically, and the converted count.

    "参赛3名" in 文体活动 is 参演人员 (its cue 参赛), never 参与群众, although 名 fits both.
    Among the questions whose measure words take the count, the best is the one whose label
    is the label (or contains it, or is contained in it), then the one with the longest cue
    in the label, then the one whose unit is the word typed, then a required one, then the
    first. None when no question takes the count's measure word.

    Args:
        questions: The questions to choose from (those that are not counts are passed over).
        label: The words around the figure: a ledger label ("参与家庭"), or a sentence's
            words next to the count.
        count: The count as parsed.
    """
    best: tuple[tuple[int, int, bool, bool, int], Question, Count] | None = None
    for index, question in enumerate(questions):
        if question.type is not QuestionType.COUNT:
            continue
        try:
            converted = question.convert(count)
        except UnitMismatch:
            continue
        key = (
            _label_fit(question.label, label),
            max((len(cue) for cue in question.cues if cue in label), default=0),
            count.unit == question.unit,
            not question.optional,
            -index,
        )
        if best is None or key > best[0]:
            best = (key, question, converted)
    return None if best is None else (best[1], best[2])


def _label_fit(question_label: str, label: str) -> int:
    if not label:
        return 0
    if question_label == label:
        return 2
    return 1 if question_label in label or label in question_label else 0


def _in(section: str) -> str:
    return section if section.startswith("in ") else f"in {section}"


class QuestionnaireError(Exception):
    """A questionnaire file cannot be used; the message says where and why."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def load_questionnaire(path: Path) -> Questionnaire:
    """Read and validate one questionnaire YAML file."""
    path = Path(path)
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionnaireError(f"{name}: cannot read the file: {exc}", path=path) from exc
    try:
        data = _read_yaml(text)
    except yaml.MarkedYAMLError as exc:
        raise QuestionnaireError(f"{name}: {_yaml_problem(exc)}", path=path) from None
    except yaml.YAMLError as exc:
        raise QuestionnaireError(f"{name}: invalid YAML: {exc}", path=path) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise QuestionnaireError(
            f"{name}: the file is {kind}; expected keys such as id, title, version, areas",
            path=path,
        )
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as exc:
        lines = [f"{name}: {line}" for line in _describe_validation_error(exc, data)]
        raise QuestionnaireError("\n".join(lines), path=path) from None


def load_questionnaires(directory: Path) -> dict[str, Questionnaire]:
    """Load every ``*.yaml`` file of a directory, keyed by questionnaire id."""
    directory = Path(directory)
    if not directory.is_dir():
        raise QuestionnaireError(f"{directory}: not a directory", path=directory)
    loaded: dict[str, Questionnaire] = {}
    sources: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        questionnaire = load_questionnaire(path)
        if questionnaire.id in sources:
            raise QuestionnaireError(
                f"{path.name}: questionnaire id '{questionnaire.id}' is already used by "
                f"{sources[questionnaire.id].name}",
                path=path,
            )
        loaded[questionnaire.id] = questionnaire
        sources[questionnaire.id] = path
    return loaded


def _read_yaml(text: str) -> Any:
    """`text` as yaml.safe_load reads it, by libyaml when PyYAML has it (read at every start:
    several times faster); a document libyaml refuses is read again by the pure-Python
    loader, whose error, with its line and column, is the one shown."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)  # a safe loader, as safe_load's
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


# --- turning errors into readable messages ---------------------------------------------


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = exc.problem or "syntax error"
    if exc.context:
        started = exc.context_mark
        what += f" ({exc.context}"
        what += f" started at line {started.line + 1})" if started is not None else ")"
    return f"invalid YAML{where}: {what}"


def _describe_validation_error(exc: ValidationError, data: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for error in exc.errors():
        if error["type"] == "questionnaire_structure":
            problems: list[_Problem] = error["ctx"]["problems"]
            lines.extend(f"{where}: {what}" if where else what for where, what in problems)
            continue
        where, model, field_loc = _locate(error["loc"], data)
        what = _describe_error(error, model, field_loc)
        lines.append(f"{where}: {what}" if where else what)
    return list(dict.fromkeys(lines))


def _locate(
    loc: tuple[int | str, ...], data: Mapping[str, Any]
) -> tuple[str, type[BaseModel], tuple[int | str, ...]]:
    """Split a pydantic error location into (where, the model it is in, the field path)."""
    if len(loc) >= 2 and loc[0] == "areas" and isinstance(loc[1], int):
        area = _item(data.get("areas"), loc[1])
        area_name = _name_of(area, "key", loc[1])
        if len(loc) >= 4 and loc[2] == "questions" and isinstance(loc[3], int):
            question = _item(area.get("questions") if area else None, loc[3])
            where = f"question {_name_of(question, 'id', loc[3])} (area {area_name})"
            return where, Question, loc[4:]
        return f"area {area_name}", Area, loc[2:]
    if len(loc) >= 2 and loc[0] in ("before", "after") and isinstance(loc[1], int):
        question = _item(data.get(str(loc[0])), loc[1])
        where = f"question {_name_of(question, 'id', loc[1])} (in '{loc[0]}')"
        return where, Question, loc[2:]
    return "", Questionnaire, loc


def _item(items: Any, index: int) -> Mapping[str, Any] | None:
    if isinstance(items, list) and 0 <= index < len(items):
        item = items[index]
        if isinstance(item, dict):
            return item
    return None


def _name_of(item: Mapping[str, Any] | None, key: str, index: int) -> str:
    value = item.get(key) if item is not None else None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return f"'{value}'"
    return f"#{index + 1}"


def _describe_error(
    error: Mapping[str, Any], model: type[BaseModel], field_loc: tuple[int | str, ...]
) -> str:
    kind: str = error["type"]
    field = _field_name(field_loc)
    value = error.get("input")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(field_loc[-1]), list(model.model_fields), n=1)
        if close:
            return f"unknown field '{field}' (did you mean '{close[0]}'?)"
        return f"unknown field '{field}'; allowed: {_quoted_values(model.model_fields)}"
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind == "too_short":
        ctx = error["ctx"]
        least, actual = ctx["min_length"], ctx["actual_length"]
        items = "item" if least == 1 else "items"
        return f"field '{field}': needs at least {least} {items}, has {actual}"
    if kind == "enum":
        return f"unknown {field} '{value}'; expected one of {error['ctx']['expected']}"
    if kind == "value_error":
        what = str(error["ctx"]["error"])
    else:
        what = str(error["msg"])
        what = what[:1].lower() + what[1:]
        if kind == "string_pattern_mismatch":
            what = (
                f"'{value}' is not a valid identifier (lowercase letters, digits and _, "
                "starting with a letter)"
            )
    return f"field '{field}': {what}" if field else what


def _field_name(field_loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in field_loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
    return name
