"""The local shell: a terminal chat with the same core the platforms use.

Typed lines go to the core as text. Two lines stand in for what a phone would send:
`/photo [FILE]` sends a photo and `/sticker` sends something the bot cannot read.
When stdin is not a terminal, lines are read as a scripted conversation (lines starting
with '#' are comments) and echoed, so the output reads as a transcript.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.core.conversation import Conversation
from bot.core.types import Incoming, Kind, Photo, Reply

PLATFORM = "shell"
QUIT_WORDS = frozenset({"/quit", "/exit", "/q"})
BOT = "汇报"
YOU = "你"


def render(reply: Reply, saved: dict[str, Path] | None = None) -> str:
    """Show a reply as text, choices below it ('1) 理论学习', '[保持不变]')."""
    lines = [reply.text]
    if reply.choices:
        shown = [
            f"{c.shortcut}) {c.label}" if c.shortcut else f"[{c.label}]" for c in reply.choices
        ]
        lines.append("   " + "   ".join(shown))
    for kind, file in (("文件", reply.document), ("图片", reply.image)):
        if file is not None:
            where = saved.get(file.filename) if saved else None
            place = f"，已保存到 {where}" if where else ""
            lines.append(f"   （{kind}：{file.filename}，{len(file.content)} 字节{place}）")
    return "\n".join(lines)


def to_incoming(line: str, user: str, message_id: str, at: datetime) -> Incoming:
    """Translate one typed line into an Incoming message."""
    stripped = line.strip()
    if stripped == "/sticker":
        return Incoming(PLATFORM, user, message_id, at, kind=Kind.UNSUPPORTED)
    if stripped == "/photo" or stripped.startswith("/photo "):
        ref = stripped.removeprefix("/photo").strip() or f"shell-photo-{message_id}"
        return Incoming(PLATFORM, user, message_id, at, kind=Kind.PHOTO, photo=Photo(ref))
    return Incoming(PLATFORM, user, message_id, at, text=line.rstrip("\n"))


class Shell:
    """Feeds lines to the conversation and prints the replies."""

    def __init__(
        self,
        conversation: Conversation,
        user: str,
        output: TextIO,
        clock: Callable[[], datetime],
        files_dir: Path | None = None,
        notices: Callable[[], list[Reply]] | None = None,
    ) -> None:
        self._files_dir = files_dir
        # What the bot sends on its own (an entry sent back, a coordinator's notice),
        # shown after each line since a terminal has no push.
        self._notices = notices
        self._conversation = conversation
        self._user = user
        self._output = output
        self._clock = clock
        self._run = uuid.uuid4().hex[:12]
        self._count = 0

    def say(self, line: str) -> list[Reply]:
        """Send one line as the user; print and return the bot's replies."""
        self._count += 1
        incoming = to_incoming(line, self._user, f"{self._run}-{self._count}", self._clock())
        replies = self._conversation.handle(incoming)
        for reply in replies:
            saved = self._save_files(reply)
            self._print(f"{BOT}> " + render(reply, saved).replace("\n", "\n      "))
        if replies:
            self._conversation.mark_sent(PLATFORM, [incoming.message_id])
        self.show_notices()
        return replies

    def show_notices(self) -> None:
        """Print the messages the bot has for this person on its own initiative."""
        for notice in self._notices() if self._notices is not None else []:
            saved = self._save_files(notice)
            self._print(f"{BOT}（通知）> " + render(notice, saved).replace("\n", "\n      "))

    def _save_files(self, reply: Reply) -> dict[str, Path]:
        """A terminal cannot show a document: write it to a folder and say where."""
        saved: dict[str, Path] = {}
        if self._files_dir is None:
            return saved
        for file in (reply.document, reply.image):
            if file is not None:
                self._files_dir.mkdir(parents=True, exist_ok=True)
                target = self._files_dir / Path(file.filename).name
                target.write_bytes(file.content)
                saved[file.filename] = target
        return saved

    def _print(self, text: str) -> None:
        self._output.write(text + "\n")
        self._output.flush()

    def run_script(self, lines: Iterable[str]) -> None:
        """Play a scripted conversation, echoing each line as the user's."""
        for raw in lines:
            line = raw.rstrip("\n")
            if line.lstrip().startswith("#"):
                continue
            if line.strip() in QUIT_WORDS:
                break
            self._print(f"{YOU}> {line}")
            self.say(line)

    def run_interactive(self, read: Callable[[str], str]) -> None:
        """Read lines at a prompt until /quit or end of input."""
        self._print("汇报助手（本地试用）。输入 /help 查看命令，/quit 退出。")
        self.show_notices()
        while True:
            try:
                line = read(f"{YOU}> ")
            except (EOFError, KeyboardInterrupt):
                self._print("")
                return
            if line.strip() in QUIT_WORDS:
                return
            self.say(line)
