"""The frames of WeCom's intelligent robot long connection, read and built as typed values.

Protocol: https://developer.work.weixin.qq.com/document/path/101463 (智能机器人长连接), as
WeCom's own SDKs (WecomTeam/aibot-node-sdk) speak it. Every frame is one JSON text message
``{"cmd": ..., "headers": {"req_id": ...}, "body": {...}}``:

* the bot sends ``aibot_subscribe`` (body ``bot_id``, ``secret``) first, then ``ping``
  every 30 s; each is answered by an ack ``{"headers": {"req_id"}, "errcode", "errmsg"}``
  with the same req_id and no cmd (853000: invalid bot_id or secret);
* WeCom sends ``aibot_msg_callback`` (a person's message: text, image, mixed, voice, file,
  video) and ``aibot_event_callback`` (enter_chat, template_card_event, feedback_event,
  disconnected_event: a newer connection of the same bot replaced this one);
* the bot answers a frame on that frame's req_id: ``aibot_respond_msg`` for a message
  (stream, template_card, file, image), ``aibot_respond_welcome_msg`` for enter_chat (text or
  template_card, within 5 s), ``aibot_respond_update_msg`` for a card press (the card's
  new look, within 5 s); it writes on its own with ``aibot_send_msg`` (markdown,
  template_card, file, image; ``chatid`` is the person's userid or the group's chatid);
* files go up in pieces: ``aibot_upload_media_init`` / ``_chunk`` / ``_finish`` give a
  media_id; images and files people send come as a URL (valid five minutes) and a per-file
  ``aeskey`` (AES-256-CBC, IV = the key's first 16 bytes, PKCS#7 padding to 32 bytes).

Every request the bot sends is acknowledged with its req_id; a non-zero errcode refuses it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.channels.wecom.adapter import Card, plan
from bot.channels.wecom.callback import USER_ID_LIMIT
from bot.core.types import Document, Reply

SUBSCRIBE = "aibot_subscribe"
PING = "ping"
RESPOND = "aibot_respond_msg"
WELCOME = "aibot_respond_welcome_msg"
UPDATE = "aibot_respond_update_msg"
SEND = "aibot_send_msg"
UPLOAD_INIT = "aibot_upload_media_init"
UPLOAD_CHUNK = "aibot_upload_media_chunk"
UPLOAD_FINISH = "aibot_upload_media_finish"
MESSAGE = "aibot_msg_callback"
EVENT = "aibot_event_callback"

AUTH_FAILED = 853000  # invalid bot_id or secret
INVALID_REQ_ID = 846605  # the req_id cannot be answered (any more, or with this command)
STREAM_EXPIRED = 846608  # too late to answer this message

ENTER_CHAT = "enter_chat"
CARD_PRESSED = "template_card_event"
REPLACED = "disconnected_event"

MSGID_LIMIT = 128
REQ_ID_LIMIT = 256
CHUNK_BYTES = 512 * 1024  # an upload piece, before base64
MAX_CHUNKS = 100
TASK_ID = re.compile(r"^[A-Za-z0-9_@-]{1,128}$")


class MalformedFrame(Exception):
    """A frame that is not what WeCom sends."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame in either direction; acks have no cmd."""

    cmd: str
    req_id: str
    body: Mapping[str, Any]
    errcode: int | None = None
    errmsg: str = ""


def parse_frame(raw: str | bytes) -> Frame:
    """Read one frame; fields it does not know are ignored."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedFrame("not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedFrame("not a JSON object")
    headers = data.get("headers")
    req_id = headers.get("req_id") if isinstance(headers, dict) else None
    if not isinstance(req_id, str) or not 0 < len(req_id) <= REQ_ID_LIMIT:
        raise MalformedFrame("no headers.req_id")
    cmd = data.get("cmd") or ""
    body = data.get("body") or {}
    errcode = data.get("errcode")
    errmsg = data.get("errmsg") or ""
    if not isinstance(cmd, str) or not isinstance(body, dict) or not isinstance(errmsg, str):
        raise MalformedFrame("cmd, body or errmsg of the wrong type")
    if errcode is not None and (isinstance(errcode, bool) or not isinstance(errcode, int)):
        raise MalformedFrame("errcode is not a number")
    return Frame(cmd, req_id, body, errcode, errmsg)


def encode(cmd: str, req_id: str, body: Mapping[str, Any] | None = None) -> str:
    """One frame as the text WeCom reads."""
    frame: dict[str, Any] = {"cmd": cmd, "headers": {"req_id": req_id}}
    if body is not None:
        frame["body"] = dict(body)
    return json.dumps(frame, ensure_ascii=False)


def new_req_id(cmd: str) -> str:
    """A fresh req_id for a request of the bot's own (prefixed with its cmd, as the SDKs do)."""
    return f"{cmd}_{uuid.uuid4().hex}"


# -- what WeCom sends -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Media:
    """A file a person sent: where to fetch it, and its own key."""

    url: str
    aeskey: str


@dataclass(frozen=True, slots=True)
class Item:
    """One part of a message: text (typed or spoken), an image, or something else."""

    kind: Literal["text", "image", "other"]
    text: str = ""
    media: Media | None = None
    msgtype: str = ""


@dataclass(frozen=True, slots=True)
class Callback:
    """A message or event frame, as Huibao reads it."""

    req_id: str
    msgid: str
    user: str
    chat_id: str  # the group's chatid; "" in a single chat
    msgtype: str  # "event" for events
    items: tuple[Item, ...] = ()
    event: str = ""
    event_key: str = ""
    task_id: str = ""

    @property
    def in_group(self) -> bool:
        """Whether it came from a group chat."""
        return bool(self.chat_id)

    @property
    def chat(self) -> str:
        """Where a message of the bot's own goes to answer it: the group, or the person."""
        return self.chat_id or self.user

    @property
    def key(self) -> str:
        """The processed-message key: '{userid}/{msgid}'."""
        return f"{self.user}/{self.msgid}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _field(body: Mapping[str, Any], *path: str) -> Any:
    node: Any = body
    for name in path:
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    return node


def _media(node: Any) -> Media | None:
    url, aeskey = _text(_field(node, "url")), _text(_field(node, "aeskey"))
    if not url.startswith(("https://", "http://")) or not aeskey:
        return None
    return Media(url, aeskey)


def _item(msgtype: str, node: Any) -> Item:
    """One message (or one part of a mixed message) by its type."""
    if msgtype == "text":
        return Item("text", text=_text(_field(node, "text", "content")))
    if msgtype == "voice":  # WeCom sends what was said as text
        return Item("text", text=_text(_field(node, "voice", "content")), msgtype="voice")
    if msgtype == "image":
        media = _media(_field(node, "image"))
        return Item("image", media=media) if media else Item("other", msgtype="image")
    return Item("other", msgtype=msgtype)


def read_callback(frame: Frame) -> Callback:
    """A message or event frame's meaning; MalformedFrame if it lacks what every one has."""
    body = frame.body
    msgid = _text(body.get("msgid"))
    user = _text(_field(body, "from", "userid"))
    msgtype = _text(body.get("msgtype"))
    if not msgid or len(msgid) > MSGID_LIMIT or "/" in msgid:
        raise MalformedFrame("no msgid")
    if not user or len(user) > USER_ID_LIMIT or any(c == "/" or c.isspace() for c in user):
        raise MalformedFrame("no from.userid")
    if not msgtype:
        raise MalformedFrame("no msgtype")
    chat_id = _text(body.get("chatid")) if body.get("chattype") == "group" else ""
    if frame.cmd == EVENT or msgtype == "event":
        event = _field(body, "event")
        kind = _text(_field(event, "eventtype"))
        # A press nests its key under event.template_card_event (the SDKs' types put it
        # on the event itself: both are read).
        pressed = _field(event, CARD_PRESSED)
        key = _text(_field(pressed, "event_key")) or _text(_field(event, "event_key"))
        task = _text(_field(pressed, "task_id")) or _text(_field(event, "task_id"))
        return Callback(frame.req_id, msgid, user, chat_id, "event", (), kind, key, task)
    if msgtype == "mixed":
        parts = _field(body, "mixed", "msg_item")
        items = tuple(
            _item(_text(part.get("msgtype")), part)
            for part in (parts if isinstance(parts, list) else [])
            if isinstance(part, dict)
        )
    else:
        items = (_item(msgtype, body),)
    return Callback(frame.req_id, msgid, user, chat_id, msgtype, items)


# -- what the bot sends -----------------------------------------------------------------

Outgoing = (
    tuple[Literal["text"], str]
    | tuple[Literal["card"], Card]
    | tuple[Literal["file", "image"], Document]
)


def outgoing(replies: Sequence[Reply]) -> list[Outgoing]:
    """The messages replies become: texts, button cards (as on the WeCom app), files."""
    messages: list[Outgoing] = []
    for reply in replies:
        for step in plan(reply):
            if step[0] == "text":
                messages.append(("text", step[1]))
            else:
                messages.append(("card", step[1]))
        if reply.image is not None:
            messages.append(("image", reply.image))
        if reply.document is not None:
            messages.append(("file", reply.document))
    return messages


def card_json(card: Card, task_id: str) -> dict[str, Any]:
    """A button_interaction template card."""
    body: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": card.title},
        "task_id": task_id,
        "button_list": [{"text": c.label, "style": 1, "key": c.value} for c in card.choices],
    }
    if card.body:
        body["sub_title_text"] = card.body
    return body


def stream_json(text: str, stream_id: str) -> dict[str, Any]:
    """A reply of one finished stream message (WeCom renders it as markdown)."""
    return {"msgtype": "stream", "stream": {"id": stream_id, "finish": True, "content": text}}


def markdown_json(text: str) -> dict[str, Any]:
    """A message of the bot's own (aibot_send_msg has no plain text type)."""
    return {"msgtype": "markdown", "markdown": {"content": text}}


def welcome_text_json(text: str) -> dict[str, Any]:
    """A welcome message's text."""
    return {"msgtype": "text", "text": {"content": text}}


def template_card_json(card: Card, task_id: str) -> dict[str, Any]:
    """A card as a reply, a welcome or a message of the bot's own."""
    return {"msgtype": "template_card", "template_card": card_json(card, task_id)}


def media_json(kind: Literal["file", "image"], media_id: str) -> dict[str, Any]:
    """A file or an image uploaded before."""
    return {"msgtype": kind, kind: {"media_id": media_id}}


def update_json(card: Card, task_id: str) -> dict[str, Any]:
    """A pressed card's new look (aibot_respond_update_msg)."""
    return {"response_type": "update_template_card", "template_card": card_json(card, task_id)}
