"""Who leads and who administers which units: a member's scope, one subtree per unit.

A coordinator or an admin of a unit sees the units below it too; everything a leader asks
for in chat (/status, /entries, /summary, /return) is limited to their scope, and the
command table's levels (staff, leader, admin) are read from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from storage import members
from storage.models import RoleName

LEADER_ROLES = (RoleName.COORDINATOR, RoleName.ADMIN)


@dataclass(frozen=True)
class Scope:
    """The units a member leads: each a subtree given by its materialised path."""

    paths: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """True for someone who leads no unit."""
        return not self.paths

    def contains(self, path: str) -> bool:
        """Whether a unit (by its path) is in scope."""
        return any(path.startswith(p) for p in self.paths)


def leader_scope(session: Session, member_id: int) -> Scope:
    """The subtrees of the units where the member is a coordinator or admin."""
    paths = members.led_paths(session, member_id, LEADER_ROLES)
    # A unit inside another one in scope adds nothing.
    kept = sorted(set(paths), key=len)
    minimal = [p for i, p in enumerate(kept) if not any(p.startswith(q) for q in kept[:i])]
    return Scope(tuple(minimal))


def is_leader(session: Session, member_id: int) -> bool:
    """Whether the member coordinates or administers any unit."""
    return not leader_scope(session, member_id).empty


def admin_scope(session: Session, member_id: int) -> Scope:
    """The subtrees of the units where the member is an admin."""
    paths = members.led_paths(session, member_id, (RoleName.ADMIN,))
    kept = sorted(set(paths), key=len)
    return Scope(tuple(p for i, p in enumerate(kept) if not any(p.startswith(q) for q in kept[:i])))


def is_admin(session: Session, member_id: int) -> bool:
    """Whether the member administers any unit."""
    return not admin_scope(session, member_id).empty
