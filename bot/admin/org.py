"""The organisation: the unit tree from YAML, and invites."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from bot.core.dialogs.join import new_invite_code
from bot.core.text import clean_text
from storage import members
from storage.models import Invite, RoleName, Unit

UNIT_KINDS = ("区", "街道", "社区", "镇", "乡", "村", "单位")


class OrgError(Exception):
    """The organisation file or an org command is wrong; the message says where and why."""


class UnitSpec(BaseModel):
    """One unit in the organisation file."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(min_length=1, max_length=20)
    children: list[UnitSpec] = []

    @field_validator("name", "kind")
    @classmethod
    def _one_line(cls, value: str) -> str:
        cleaned = clean_text(value)
        if not cleaned:
            raise ValueError("must have visible text")
        return cleaned

    @field_validator("children", mode="before")
    @classmethod
    def _empty_children(cls, value: object) -> object:
        return [] if value is None else value  # "children:" left empty in YAML


class OrgFile(BaseModel):
    """The whole organisation file: a list of top-level units."""

    model_config = ConfigDict(extra="forbid")

    units: list[UnitSpec] = Field(min_length=1)


@dataclass(frozen=True)
class LoadResult:
    """What `load_org` changed."""

    created: int
    updated: int
    unchanged: int


def read_org_file(path: Path) -> OrgFile:
    """Parse and validate an organisation YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OrgError(f"{path}: cannot read the file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise OrgError(f"{path}: invalid YAML{where}") from exc
    try:
        org = OrgFile.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise OrgError(f"{path}: " + "; ".join(problems)) from exc
    codes: set[str] = set()
    for spec in _walk(org.units):
        if spec.code in codes:
            raise OrgError(f"{path}: unit code {spec.code!r} appears twice")
        codes.add(spec.code)
    return org


def _walk(specs: list[UnitSpec]) -> list[UnitSpec]:
    found: list[UnitSpec] = []
    for spec in specs:
        found.append(spec)
        found.extend(_walk(spec.children))
    return found


def load_org(session: Session, org: OrgFile) -> LoadResult:
    """Create or update the units of the file; running it twice changes nothing."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    existing = {u.code: u for u in members.all_units(session)}

    def place(spec: UnitSpec, parent: Unit | None) -> None:
        unit = existing.get(spec.code)
        parent_id = parent.id if parent else None
        if unit is None:
            unit = members.add_unit(
                session, code=spec.code, name=spec.name, kind=spec.kind, parent_id=parent_id
            )
            counts["created"] += 1
        elif (unit.name, unit.kind, unit.parent_id) != (spec.name, spec.kind, parent_id):
            unit.name, unit.kind, unit.parent_id = spec.name, spec.kind, parent_id
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
        path = f"{parent.path if parent else '/'}{unit.id}/"
        if unit.path != path:
            _move_subtree(session, unit, path)
        for child in spec.children:
            place(child, unit)

    for spec in org.units:
        place(spec, None)
    session.flush()
    return LoadResult(**counts)


def _move_subtree(session: Session, unit: Unit, path: str) -> None:
    old = unit.path
    if old:
        for below in members.units_under(session, old):
            if below.id != unit.id:
                below.path = path + below.path[len(old) :]
    unit.path = path


_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")


def parse_duration(text: str) -> timedelta | None:
    """Read '7d', '12h', '30m', '2w'; 'never' means no expiry (None)."""
    cleaned = text.strip().lower()
    if cleaned in ("never", "none", "0"):
        return None
    match = _DURATION.match(cleaned)
    if not match or int(match.group(1)) == 0:
        raise OrgError(f"cannot read the duration {text!r}: write it like 7d, 12h, 30m or 2w")
    amount = int(match.group(1))
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
    return timedelta(**{unit: amount})


def create_invite(
    session: Session,
    unit_key: str,
    role: str,
    *,
    uses: int | None,
    expires_in: timedelta | None,
    now: datetime,
) -> Invite:
    """Create a join code for a unit and role."""
    unit = members.unit_by_key(session, unit_key)
    if unit is None:
        raise OrgError(f"no unit {unit_key!r}: give its code or its unique name (huibao org load)")
    if uses is not None and uses < 1:
        raise OrgError("--uses must be at least 1")
    for _ in range(10):
        code = new_invite_code()
        if members.invite_by_code(session, code) is None:
            break
    expires_at = None if expires_in is None else now + expires_in
    return members.add_invite(
        session, code, unit, RoleName(role), max_uses=uses, expires_at=expires_at, now=now
    )


def demo_org() -> OrgFile:
    """A small unit tree for trying Huibao out."""
    data: dict[str, Any] = {
        "units": [
            {
                "code": "demo-district",
                "name": "示范区",
                "kind": "区",
                "children": [
                    {
                        "code": "demo-street",
                        "name": "和平街道",
                        "kind": "街道",
                        "children": [
                            {"code": "demo-xinhua", "name": "新华社区", "kind": "社区"},
                            {"code": "demo-chaoyang", "name": "朝阳社区", "kind": "社区"},
                        ],
                    }
                ],
            }
        ]
    }
    return OrgFile.model_validate(data)
