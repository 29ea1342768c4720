"""The small typed values the core speaks in; adapters translate to and from them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Kind(enum.StrEnum):
    """What an incoming platform message carries."""

    TEXT = "text"
    BUTTON = "button"  # a pressed choice; `text` holds the choice's value
    PHOTO = "photo"
    UNSUPPORTED = "unsupported"  # stickers, voice, location, files ...


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo as the platform refers to it."""

    file_ref: str
    size: int | None = None


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


@dataclass(frozen=True, slots=True)
class Reply:
    """One message the bot sends back."""

    text: str
    choices: tuple[Choice, ...] = field(default=())
    document: Document | None = None
