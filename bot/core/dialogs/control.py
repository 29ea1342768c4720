"""The words that steer whatever is in progress: cancel, skip, back, restore."""

from __future__ import annotations

from bot.core.dialogs import reflect, report
from bot.core.dialogs.base import Next, Turn
from bot.core.dialogs.state import Deleting, Discarded, Reflecting, Returning
from bot.core.types import Reply


def cancel(turn: Turn, argument: str = "") -> Next:
    """/cancel: drop the dialog in progress (a report asks first when it holds answers)."""
    dialog = turn.dialog
    if dialog is None or isinstance(dialog, Discarded):
        return Next([Reply(turn.t("nothing_to_cancel"))])
    current = report.running(turn)
    if current is not None:
        return report.cancel(turn, current)
    if isinstance(dialog, Deleting):
        return Next([Reply(turn.t("delete_kept", id=dialog.entry_id))], None)
    if isinstance(dialog, Returning):
        return Next([Reply(turn.t("return_cancelled", id=dialog.entry_id))], None)
    return Next([Reply(turn.t("cancelled"))], None)


def cancel_joining(turn: Turn, argument: str = "") -> Next | None:
    """/cancel from someone not registered yet: stop joining (None: nothing to stop)."""
    if turn.row is None:
        return None
    return Next([Reply(turn.t("join_cancelled"))], None)


def skip(turn: Turn, argument: str = "") -> Next:
    """/skip: the optional question of a report, or one of the review's two."""
    dialog = turn.dialog
    if isinstance(dialog, Reflecting):
        return reflect.answer(turn, dialog, skip=True)
    current = report.running(turn)
    if current is not None:
        return report.skip(turn, current)
    return Next([Reply(turn.t("nothing_to_skip"))])


def back(turn: Turn, argument: str = "") -> Next:
    """/back: the previous question; after dropping a report, the report again."""
    dialog = turn.dialog
    if isinstance(dialog, Discarded):
        return report.restore(turn)
    current = report.running(turn)
    if current is not None:
        return report.back(turn, current)
    return Next([Reply(turn.t("nothing_to_go_back"))])


def restore(turn: Turn, argument: str = "") -> Next:
    """恢复 or /restore: a report dropped today, taken up again."""
    return report.restore(turn)
