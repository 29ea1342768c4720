"""The typed dialog states, and their JSON in the dialog_state row.

A row holds a kind tag (its `kind` column) and the state's JSON. The small dialogs write a
version (`"v"`) into their JSON; rows written before it (no `"v"`) read as version 1. The
interview's JSON is `InterviewState.to_json`, unchanged; a `Reporting` adds its two keys
("asked", "dropped") beside it, so code that knows only the interview still reads the report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.interview import InterviewState

log = logging.getLogger(__name__)

VERSION = 1

INTERVIEW = "interview"
JOIN = "join"
DELETE = "delete"
REFLECT = "reflect"
RETURN = "return"  # a coordinator is asked why an entry goes back
DISCARDED = "discarded"  # a dropped report, kept for the rest of the day (恢复)


@dataclass(frozen=True, slots=True)
class Joining:
    """A stranger gave a valid invite code; their name comes next."""

    code: str


@dataclass(frozen=True, slots=True)
class Deleting:
    """Asked whether to delete an entry."""

    entry_id: int


@dataclass(frozen=True, slots=True)
class Reflecting:
    """The half-year review: step 1 asks for shortcomings, step 2 for plans."""

    step: int
    unit_id: int
    period: str  # "2026H1"


@dataclass(frozen=True, slots=True)
class Returning:
    """A coordinator sends an entry back; the reason comes next."""

    entry_id: int


@dataclass(frozen=True, slots=True)
class Discarded:
    """A report dropped with answers in it: 恢复 or /back takes it up again the same day."""

    interview: InterviewState
    at: datetime


@dataclass(frozen=True, slots=True)
class Reporting:
    """A report in progress with something beside it (a plain `InterviewState` has neither).

    `asked`: a new report was asked for while this one holds answers, and the person is asked
    whether to finish this one first or drop it for the new one; the new report's text waits
    here ("" for a plain 上报). `dropped`: the report dropped for this one; when this one ends,
    it is kept as `Discarded` again, so 恢复 takes it up the same day.
    """

    interview: InterviewState
    asked: str | None = None
    dropped: Discarded | None = None


Dialog = InterviewState | Reporting | Joining | Deleting | Reflecting | Returning | Discarded


def kind_of(dialog: Dialog) -> str:
    """The row's kind tag for a state."""
    match dialog:
        case InterviewState() | Reporting():
            return INTERVIEW
        case Joining():
            return JOIN
        case Deleting():
            return DELETE
        case Reflecting():
            return REFLECT
        case Returning():
            return RETURN
        case Discarded():
            return DISCARDED


def dump(dialog: Dialog) -> tuple[str, dict[str, Any]]:
    """The kind tag and the JSON of a state."""
    data: dict[str, Any]
    match dialog:
        case InterviewState():
            return INTERVIEW, dialog.to_json()
        case Reporting(interview, asked, dropped):
            data = interview.to_json()
            if asked is not None:
                data["asked"] = asked
            if dropped is not None:
                data["dropped"] = dump(dropped)[1]
            return INTERVIEW, data
        case Joining(code):
            data = {"code": code}
        case Deleting(entry_id) | Returning(entry_id):
            data = {"entry_id": entry_id}
        case Reflecting(step, unit_id, period):
            data = {"step": step, "unit_id": unit_id, "period": period}
        case Discarded(interview, at):
            data = {"interview": interview.to_json(), "at": at.isoformat()}
    return kind_of(dialog), {"v": VERSION, **data}


def load(kind: str, data: dict[str, Any]) -> Dialog | None:
    """The state a row holds; None for a kind this code does not know (or bad JSON)."""
    try:
        if kind == INTERVIEW:
            report = InterviewState.from_json(data)
            if "asked" not in data and "dropped" not in data:
                return report
            dropped = data.get("dropped")
            kept = None if dropped is None else _discarded(dropped)
            asked = data.get("asked")
            return Reporting(report, None if asked is None else str(asked), kept)
        if kind == JOIN:
            return Joining(str(data["code"]))
        if kind == DELETE:
            return Deleting(int(data["entry_id"]))
        if kind == RETURN:
            return Returning(int(data["entry_id"]))
        if kind == REFLECT:
            return Reflecting(int(data["step"]), int(data["unit_id"]), str(data["period"]))
        if kind == DISCARDED:
            return _discarded(data)
    except (KeyError, TypeError, ValueError):
        log.warning("unreadable %s dialog state", kind, exc_info=True)
        return None
    log.warning("unknown dialog state kind %r", kind)
    return None


def _discarded(data: dict[str, Any]) -> Discarded:
    report = InterviewState.from_json(data["interview"])
    return Discarded(report, datetime.fromisoformat(data["at"]))
