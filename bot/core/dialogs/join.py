"""Joining with an invite code: /start CODE (or the code alone), then one's name."""

from __future__ import annotations

import logging
import re
import secrets

from bot.core import interview
from bot.core.dialogs.base import Next, Turn
from bot.core.dialogs.state import Joining
from bot.core.text import clean_text
from bot.core.types import Kind, Reply
from storage import members
from storage.models import Invite

log = logging.getLogger(__name__)

INVITE_CODE = re.compile(r"^[A-HJ-NP-Z2-9]{8}$")
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
NAME_MAX = 30


def new_invite_code() -> str:
    """A random 8-character code without look-alike characters (0/O, 1/I)."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))


def looks_like_code(text: str) -> str | None:
    """The invite code a stranger typed alone ("abcd 2345" reads as ABCD2345), if it is one."""
    code = interview.normalise_word(text).upper()
    return code if INVITE_CODE.match(code) else None


def begin(turn: Turn, code: str) -> Next:
    """A stranger's code: if it is good, ask for their name."""
    invite, problem = _check(turn, code, lock=False)
    if problem is not None:
        return Next([problem])
    assert invite is not None
    role = turn.t(f"role_{invite.role.value}")
    asked = Reply(turn.t("join_ask_name", unit=invite.unit.name, role=role))
    return Next([asked], Joining(invite.code))


def answer(turn: Turn, state: Joining) -> Next:
    """The name: register the person in the invite's unit (取消 gives up)."""
    if interview.control_word(turn.incoming.text) in interview.CANCEL_WORDS:
        return Next([Reply(turn.t("join_cancelled"))], None)
    name = clean_text(turn.incoming.text)
    if (
        turn.incoming.kind is not Kind.TEXT
        or not name
        or len(name) > NAME_MAX
        or not any(ch.isalpha() for ch in name)
    ):
        return Next([Reply(turn.t("join_bad_name"))])
    invite, problem = _check(turn, state.code, lock=True)
    if problem is not None:
        return Next([problem], None)
    assert invite is not None
    member = members.join(
        turn.session,
        name,
        platform=turn.incoming.platform,
        external_id=turn.incoming.user_id,
        unit_id=invite.unit_id,
        roles=(invite.role,),
        locale=turn.locale,
    )
    invite.uses += 1
    role = turn.t(f"role_{invite.role.value}")
    log.info("member %s joined unit %s as %s", member.id, invite.unit.id, invite.role.value)
    turn.member = member
    turn.menu_changed = True
    return Next([Reply(turn.t("join_done", name=name, unit=invite.unit.name, role=role))], None)


def join_more(turn: Turn, code: str) -> Next:
    """/start CODE from a member: one more role, in the invite's unit."""
    invite, problem = _check(turn, code, lock=True)
    if problem is not None:
        return Next([problem])
    assert invite is not None
    role = turn.t(f"role_{invite.role.value}")
    if not members.grant_role(turn.session, turn.member_id, invite.unit_id, invite.role):
        return Next([Reply(turn.t("join_already", unit=invite.unit.name, role=role))])
    invite.uses += 1
    turn.menu_changed = True
    return Next([Reply(turn.t("join_role_added", unit=invite.unit.name, role=role))])


def _check(turn: Turn, code: str, *, lock: bool) -> tuple[Invite | None, Reply | None]:
    cleaned = interview.normalise_word(code).upper()
    invite = members.invite_by_code(turn.session, cleaned, lock=lock)
    if invite is None or invite.revoked:
        return None, Reply(turn.t("invite_invalid", code=cleaned[:20]))
    if invite.expires_at is not None and invite.expires_at <= turn.incoming.at:
        return None, Reply(turn.t("invite_expired", code=cleaned))
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        return None, Reply(turn.t("invite_used_up", code=cleaned))
    return invite, None
