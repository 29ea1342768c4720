"""The small typed values the core speaks in; adapters translate to and from them."""

from __future__ import annotations

import base64
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol


class Kind(enum.StrEnum):
    """What an incoming platform message carries."""

    TEXT = "text"
    BUTTON = "button"  # a pressed choice; `text` holds the choice's value
    PHOTO = "photo"
    UNSUPPORTED = "unsupported"  # stickers, voice, location, files ...
    FORWARDED = "forwarded"  # someone else's message passed on: not an answer
    EDITED = "edited"  # a change to a message already handled


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo as the platform refers to it."""

    file_ref: str
    size: int | None = None
    stored_path: str | None = None  # where the adapter saved a copy, if it did
    too_large: bool = False  # over the platform's download limit


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message from a person, platform-neutral."""

    platform: str
    user_id: str
    message_id: str
    at: datetime
    kind: Kind = Kind.TEXT
    text: str = ""
    photo: Photo | None = None
    display_name: str | None = None
    locale: str | None = None
    in_group: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    """A button (or a numbered reply word on platforms without buttons)."""

    label: str
    value: str
    shortcut: str | None = None  # what may be typed instead of pressing, e.g. "1"


@dataclass(frozen=True, slots=True)
class Document:
    """A file to send."""

    filename: str
    content: bytes
    mime_type: str
    # Where the file is kept under the data folder (a job's document): a stored message
    # then refers to the file instead of carrying its content.
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One message the bot sends back."""

    text: str
    choices: tuple[Choice, ...] = field(default=())
    document: Document | None = None
    image: Document | None = None  # a picture to show (a chart), sent as a photo


def split_text(text: str, limit: int, *, in_bytes: bool = False) -> list[str]:
    """Split a text into messages of at most `limit` characters (or UTF-8 bytes), at line
    breaks where possible: what one reply becomes on a platform with a length limit."""

    def size(part: str) -> int:
        return len(part.encode()) if in_bytes else len(part)

    def fitting(part: str) -> int:  # how many leading characters fit in the limit
        return len(part.encode()[:limit].decode(errors="ignore")) if in_bytes else limit

    parts: list[str] = []
    rest = text
    while size(rest) > limit:
        fit = fitting(rest)
        cut = rest.rfind("\n", 0, fit)
        if cut <= 0:
            cut = fit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    parts.append(rest)
    return [p for p in parts if p] or [""]


def _file_to_json(file: Document | None) -> dict[str, str] | None:
    if file is None:
        return None
    if file.path is not None:
        return {"filename": file.filename, "mime_type": file.mime_type, "path": file.path}
    return {
        "filename": file.filename,
        "mime_type": file.mime_type,
        "content": base64.b64encode(file.content).decode(),
    }


def _file_from_json(data: dict[str, str] | None) -> Document | None:
    """Rebuild a file; one kept by path is read now (OSError if it is gone)."""
    if data is None:
        return None
    if "path" in data:
        content = Path(data["path"]).read_bytes()
        return Document(data["filename"], content, data["mime_type"], data["path"])
    return Document(data["filename"], base64.b64decode(data["content"]), data["mime_type"])


def replies_to_json(replies: list[Reply]) -> list[dict[str, Any]]:
    """Replies as JSON data, to be kept until they are sent."""
    return [
        {
            "text": r.text,
            "choices": [[c.label, c.value, c.shortcut] for c in r.choices],
            "document": _file_to_json(r.document),
            "image": _file_to_json(r.image),
        }
        for r in replies
    ]


def replies_from_json(data: list[dict[str, Any]]) -> list[Reply]:
    """Rebuild replies kept by `replies_to_json`."""
    return [
        Reply(
            item["text"],
            tuple(Choice(label, value, shortcut) for label, value, shortcut in item["choices"]),
            _file_from_json(item.get("document")),
            _file_from_json(item.get("image")),
        )
        for item in data
    ]


class SendFailed(Exception):
    """A platform did not deliver a message.

    `permanent`: trying again will not help (the person blocked the bot, left the
    company, the account is gone). Otherwise the sender may try again, not before
    `retry_after` seconds when the platform said so.
    """

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    """What the outbox needs of a platform adapter to send on the bot's own initiative."""

    platform: str

    async def send_to(self, address: str, replies: Sequence[Reply]) -> None:
        """Deliver replies to one account (its Identity.external_id); raise SendFailed."""
        ...
