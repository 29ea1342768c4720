"""A simulated person chatting with the core, for transcript tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.channels.shell import render
from bot.core.conversation import Conversation
from bot.core.types import Incoming, Kind, Photo, Reply

_ids = itertools.count(1)


class Chat:
    """Says things as one user and keeps the bot's last replies."""

    def __init__(
        self,
        conversation: Conversation,
        user: str,
        clock: Callable[[], datetime],
        platform: str = "shell",
        in_group: bool = False,
    ) -> None:
        self.conversation = conversation
        self.user = user
        self.clock = clock
        self.platform = platform
        self.in_group = in_group
        self.replies: list[Reply] = []

    def send(self, incoming: Incoming) -> str:
        self.replies = self.conversation.handle(incoming)
        return "\n".join(render(r) for r in self.replies)

    def incoming(self, text: str = "", kind: Kind = Kind.TEXT, **extra: object) -> Incoming:
        return Incoming(
            platform=self.platform,
            user_id=self.user,
            message_id=f"m{next(_ids)}",
            at=self.clock(),
            kind=kind,
            text=text,
            in_group=self.in_group,
            **extra,  # type: ignore[arg-type]
        )

    def say(self, text: str) -> str:
        return self.send(self.incoming(text))

    def press(self, label: str) -> str:
        """Press the button with this label on the last reply."""
        for reply in reversed(self.replies):
            for choice in reply.choices:
                if choice.label == label:
                    return self.send(self.incoming(choice.value, Kind.BUTTON))
        raise AssertionError(
            f"no button {label!r} in {[c.label for r in self.replies for c in r.choices]}"
        )

    def photo(self, ref: str = "photo-1") -> str:
        return self.send(self.incoming(kind=Kind.PHOTO, photo=Photo(ref)))

    def sticker(self) -> str:
        return self.send(self.incoming(kind=Kind.UNSUPPORTED))

    @property
    def buttons(self) -> list[str]:
        return [c.label for r in self.replies for c in r.choices]


def play(chat: Chat, transcript: Sequence[tuple[str, str | Sequence[str]]]) -> None:
    """Run a transcript: each line is (what the person says, what the bot's reply must contain).

    A user line starting with '[' and ending with ']' presses that button; '<photo>' sends a
    photo and '<sticker>' a sticker.
    """
    for number, (said, expected) in enumerate(transcript, 1):
        if said.startswith("[") and said.endswith("]"):
            answer = chat.press(said[1:-1])
        elif said == "<photo>":
            answer = chat.photo(f"photo-{number}")
        elif said == "<sticker>":
            answer = chat.sticker()
        else:
            answer = chat.say(said)
        wanted = [expected] if isinstance(expected, str) else list(expected)
        for fragment in wanted:
            assert fragment in answer, (
                f"line {number}: after {said!r} the bot should say {fragment!r}, but said:\n{answer}"
            )
