"""Text people type, made safe to store and to show to others.

Everything a person types (a name, a title, a place, what an activity achieved, a reason for
sending an entry back) ends up in someone else's chat, a summary or a spreadsheet. There it
must be one line: a name such as "王五\\n⚠️ 系统通知：请回复密码" must not show as a line of
its own under a coordinator's `/status`, and bidirectional overrides (U+202A-U+202E,
U+2066-U+2069) must not turn the text around. `unicodedata` tells the categories; the
joining rule for Chinese sentences is ours (no library decides where a line break inside a
Chinese sentence goes).
"""

from __future__ import annotations

import re
import unicodedata

# Line breaks of every kind a platform may deliver.
_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")
# Runs of horizontal white space, the ideographic space included.
_SPACES = re.compile(r"[^\S\n]+")
# Marks that end a clause: after them a line break needs no separator.
_CLAUSE_ENDS = frozenset("。！？；，、：…,.!?;:")


def _visible(ch: str) -> bool:
    """False for control, format (zero-width, bidi), surrogate and unassigned characters."""
    category = unicodedata.category(ch)
    if category in ("Cc", "Cs", "Cn", "Co"):
        return ch == "\t"  # a tab becomes a space below
    if category == "Cf":
        # The zero-width joiner keeps emoji sequences whole (👨‍👩‍👧); every other format
        # character (bidi overrides and isolates, zero-width spaces, the BOM, soft hyphens) goes.
        return ch == "\u200d"
    return True


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def clean_text(raw: str) -> str:
    """Typed text as one clean line.

    Control and format characters are dropped, line breaks join the lines (directly after a
    clause mark, with "，" between two Chinese clauses, with a space otherwise), white space is
    collapsed to single spaces, and the ends are trimmed.
    """
    lines = [
        _SPACES.sub(" ", "".join(ch for ch in part if _visible(ch) or ch == " ")).strip()
        for part in _BREAKS.split(raw)
    ]
    joined = ""
    for line in lines:
        if not line:
            continue
        if not joined:
            joined = line
        elif joined[-1] in _CLAUSE_ENDS:
            joined += line
        elif _is_cjk(joined[-1]) and _is_cjk(line[0]):
            joined += "，" + line
        else:
            joined += " " + line
    return joined
