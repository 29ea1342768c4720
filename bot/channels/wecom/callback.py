"""The XML WeCom posts to the callback URL: the encrypted envelope and the message inside.

Formats: https://developer.work.weixin.qq.com/document/path/90930 (envelope),
/90239 (messages: text, image, voice, ...) and /90240 (events: click, enter_agent,
template_card_event, ...). XML from the network is parsed with defusedxml, which refuses
entity expansion and external references.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

USER_ID_LIMIT = 64  # a member's UserID: 1 to 64 characters, never a '/'
TIME_DIGITS = 10  # CreateTime, in seconds: ten digits until the year 2286


class MalformedXml(Exception):
    """The body is not the XML WeCom sends."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """The outer XML of a callback POST."""

    to_user: str  # the corp id
    encrypted: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class CallbackMessage:
    """A decrypted message or event; fields the type does not have are empty."""

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    msg_id: str = ""
    content: str = ""
    media_id: str = ""
    pic_url: str = ""
    event: str = ""
    event_key: str = ""
    task_id: str = ""
    response_code: str = ""
    agent_id: str = ""


def _root(xml: str | bytes) -> Element:
    try:
        root: Element = fromstring(xml)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedXml(type(exc).__name__) from exc
    if root.tag != "xml":
        raise MalformedXml(f"root element <{root.tag}>")
    return root


def _text(root: Element, tag: str) -> str:
    node = root.find(tag)
    return (node.text or "").strip() if node is not None else ""


def parse_envelope(body: bytes) -> Envelope:
    """Read ToUserName, Encrypt and AgentID from a callback body."""
    root = _root(body)
    encrypted = _text(root, "Encrypt")
    if not encrypted:
        raise MalformedXml("no Encrypt element")
    return Envelope(_text(root, "ToUserName"), encrypted, _text(root, "AgentID"))


def parse_message(xml: str) -> CallbackMessage:
    """Read a decrypted message or event."""
    root = _root(xml)
    msg_type = _text(root, "MsgType").lower()
    from_user = _text(root, "FromUserName")
    if not msg_type or not from_user:
        raise MalformedXml("no MsgType or FromUserName")
    if len(from_user) > USER_ID_LIMIT or any(c == "/" or c.isspace() for c in from_user):
        raise MalformedXml("FromUserName is not a UserID")
    created = _text(root, "CreateTime")
    if not (created.isascii() and created.isdigit() and len(created) <= TIME_DIGITS):
        raise MalformedXml("no CreateTime, or not a time in seconds")
    return CallbackMessage(
        to_user=_text(root, "ToUserName"),
        from_user=from_user,
        create_time=int(created),
        msg_type=msg_type,
        msg_id=_text(root, "MsgId"),
        # a text message's Content is kept as typed, spaces included
        content=(root.findtext("Content") or ""),
        media_id=_text(root, "MediaId"),
        pic_url=_text(root, "PicUrl"),
        event=_text(root, "Event"),
        event_key=_text(root, "EventKey"),
        task_id=_text(root, "TaskId"),
        response_code=_text(root, "ResponseCode"),
        agent_id=_text(root, "AgentID"),
    )
