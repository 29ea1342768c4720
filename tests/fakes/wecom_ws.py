"""A fake WeCom intelligent-robot long connection for tests, a WebSocket server on 127.0.0.1.

    time = VirtualTime()
    async with FakeRobot(time=time) as fake:
        robot = WecomRobot(delivery, url=fake.url, bot_id=fake.bot_id, secret=fake.secret,
                           monotonic=time.monotonic, sleep=time.sleep)
        await robot.start()
        await fake.say("lihua", "/help")
        shown = await fake.wait_for_text("lihua", "/report")

What it checks, where Huibao could get the protocol wrong (the rules of
https://developer.work.weixin.qq.com/document/path/101463 as WeCom's SDKs follow them):

* the first frame is ``aibot_subscribe`` with the bot id and secret (else errcode 853000,
  and the connection stays open, as WeCom leaves it); a newer subscribed connection makes
  the older one receive ``disconnected_event`` and closes it; ``ping`` is answered;
* ``aibot_respond_msg`` only on the req_id of a message sent on the same connection
  (else 846605), within 6 minutes (else 846608): ``stream`` (the same stream id replaces
  its content), ``template_card``, ``file``, ``image`` (else 40008);
  ``aibot_respond_welcome_msg`` once, on an ``enter_chat`` req_id, within 5 s, text or
  template_card; ``aibot_respond_update_msg`` on a card press's req_id, within 5 s, for
  that card's task_id;
* ``aibot_send_msg`` to a chat that wrote before (else 93006, made up here): markdown,
  template_card, file, image (text is refused with 40008, as WeCom does); with
  ``chat_limit=(n, seconds)``, a message past n in any window of that many seconds to one
  chat is answered "ok" and dropped (``dropped``);
* cards: button_interaction, task_id of ``[A-Za-z0-9_@-]``, at most 128 bytes and never
  reused, 1-6 buttons with unique keys of at most 1024 bytes, a title or a sub-title;
* uploads: init (type image or file, total_chunks at most 100) / chunk (0-based index)
  / finish (every chunk there, the md5 right) gives a media_id.

A frame the bot gets wrong is refused with an errcode and noted in ``problems`` (tests
assert it stays empty). Time is the ``VirtualTime`` (tests/fakes/virtual_time.py) the bot also uses: its deadlines are
checked against it. Images and files people send are served, encrypted with a key of
their own, at ``http://127.0.0.1:PORT/media/...`` by the same server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from Crypto.Cipher import AES  # pycryptodome: independent of the bot's own decryption
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.fakes.virtual_time import VirtualTime

T = TypeVar("T")

TASK_ID = re.compile(r"^[A-Za-z0-9_@-]{1,128}$")
REPLY_WINDOW = 360.0  # 6 minutes to answer a message
EVENT_WINDOW = 5.0  # 5 seconds to answer an event
AUTH_FAILED = 853000
INVALID_REQ_ID = 846605
EXPIRED = 846608
NOT_SUBSCRIBED = 846609  # this fake's own code for a frame before the subscription
UNKNOWN_CHAT = 93006  # made up: the chat never wrote to the bot
BAD_TYPE = 40008


@dataclass
class Shown:
    """One message a chat shows (after any later stream frames or card updates)."""

    chat: str
    msgtype: str  # stream, markdown, text, template_card, file, image
    body: dict[str, Any]
    via: str  # reply, welcome or push
    at: float
    updated: dict[str, Any] | None = None  # a card's new look after a press

    @property
    def text(self) -> str:
        """What the person reads."""
        if self.msgtype == "stream":
            return str(self.body["stream"].get("content", ""))
        if self.msgtype in ("markdown", "text"):
            return str(self.body[self.msgtype].get("content", ""))
        if self.msgtype == "template_card":
            card = self.body["template_card"]
            title = card.get("main_title", {}).get("title", "")
            return f"{title}\n{card.get('sub_title_text', '')}".strip()
        return ""

    @property
    def buttons(self) -> list[tuple[str, str]]:
        if self.msgtype != "template_card":
            return []
        return [(b["text"], b["key"]) for b in self.body["template_card"]["button_list"]]

    @property
    def task_id(self) -> str:
        return str(self.body["template_card"]["task_id"])

    @property
    def updated_to(self) -> list[str]:
        """The labels a pressed card shows now."""
        if self.updated is None:
            return []
        return [b["text"] for b in self.updated.get("button_list", [])]


@dataclass
class _Callback:
    """A frame the fake sent, which the bot may answer on its req_id."""

    kind: str  # message, enter or press
    conn: ServerConnection
    at: float
    chat: str
    task_id: str = ""
    welcomed: bool = False
    streams: dict[str, Shown] = field(default_factory=dict)


@dataclass
class Upload:
    kind: str
    filename: str
    total_size: int
    chunks: dict[int, bytes]
    total_chunks: int
    md5: str


@dataclass
class Media:
    kind: str
    filename: str
    content: bytes


class FakeRobot:
    """WeCom's side of the robot's long connection."""

    def __init__(
        self,
        *,
        time: VirtualTime,
        bot_id: str = "aibLxbJ2yX3TestBot",
        secret: str = "fake-robot-secret-0123456789",
        chat_limit: tuple[int, float] = (20, 60.0),
    ) -> None:
        self.time = time
        self.bot_id = bot_id
        self.secret = secret
        self.accepted_secret = secret
        self.chat_limit = chat_limit
        self.answer_pings = True
        self.refuse_replies: int | None = None  # an errcode for every aibot_respond_msg
        self.media_fails = False  # media links answer 404
        self.media_requests = 0
        self.pings = 0
        self.subscriptions: list[bool] = []
        self.connections: list[ServerConnection] = []
        self.current: ServerConnection | None = None
        self.shown: list[Shown] = []
        self.dropped: list[Shown] = []
        self.problems: list[str] = []
        self.unknown_acks: list[str] = []
        self.media: dict[str, Media] = {}
        self.uploads: dict[str, Upload] = {}
        self._callbacks: dict[str, _Callback] = {}
        self._cards: dict[str, Shown] = {}
        self._served: dict[str, bytes] = {}
        self._pushed: dict[str, list[float]] = defaultdict(list)
        self.known_chats: set[str] = set()  # chats that wrote to the robot
        self._changed = asyncio.Condition()
        self._server: Server | None = None
        self._ids = itertools.count(1)
        self.port = 0

    # -- life cycle ---------------------------------------------------------------------

    async def __aenter__(self) -> FakeRobot:
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            0,
            process_request=self._http,
            ping_interval=None,
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def online(self) -> bool:
        """Whether a subscribed connection is open."""
        return self.current is not None and self.current.state.name == "OPEN"

    # -- people -------------------------------------------------------------------------

    def _body(self, user: str, msgtype: str, chat_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "msgid": f"msg{secrets.token_hex(12)}",
            "aibotid": self.bot_id,
            "chattype": "group" if chat_id else "single",
            "from": {"userid": user},
            "create_time": 1782000000 + next(self._ids),
            "msgtype": msgtype,
        }
        if chat_id:
            body["chatid"] = chat_id
        return body

    async def _deliver(
        self, cmd: str, body: dict[str, Any], kind: str, chat: str, **info: Any
    ) -> str:
        """Send a callback frame on the current connection; its req_id."""
        assert self.current is not None, "no subscribed connection"
        req_id = f"req{secrets.token_hex(10)}"
        self.known_chats.add(chat)
        self._callbacks[req_id] = _Callback(kind, self.current, self.time.now, chat, **info)
        frame = {"cmd": cmd, "headers": {"req_id": req_id}, "body": body}
        await self.current.send(json.dumps(frame, ensure_ascii=False))
        return req_id

    async def say(self, user: str, text: str, *, chat_id: str | None = None) -> dict[str, Any]:
        """A person sends a text; the frame's body."""
        body = self._body(user, "text", chat_id)
        body["text"] = {"content": text}
        await self._deliver("aibot_msg_callback", body, "message", chat_id or user)
        return body

    async def send(self, body: dict[str, Any], *, req_id: str | None = None) -> None:
        """Send a message frame with this body (again, or with fields of one's own)."""
        chat = body.get("chatid") or body["from"]["userid"]
        if req_id is None:
            await self._deliver("aibot_msg_callback", body, "message", chat)
            return
        assert self.current is not None
        self._callbacks[req_id] = _Callback("message", self.current, self.time.now, chat)
        frame = {"cmd": "aibot_msg_callback", "headers": {"req_id": req_id}, "body": body}
        await self.current.send(json.dumps(frame, ensure_ascii=False))

    async def send_raw(self, text: str | dict[str, Any]) -> None:
        """Send anything at all on the current connection."""
        assert self.current is not None
        await self.current.send(text if isinstance(text, str) else json.dumps(text))

    def _encrypted(self, content: bytes) -> dict[str, str]:
        key = os.urandom(32)
        pad = 32 - len(content) % 32
        data = AES.new(key, AES.MODE_CBC, key[:16]).encrypt(content + bytes([pad]) * pad)
        token = secrets.token_hex(8)
        self._served[token] = data
        aeskey = base64.b64encode(key).decode().rstrip("=")
        return {"url": f"http://127.0.0.1:{self.port}/media/{token}", "aeskey": aeskey}

    async def send_image(self, user: str, content: bytes) -> dict[str, Any]:
        body = self._body(user, "image")
        body["image"] = self._encrypted(content)
        await self._deliver("aibot_msg_callback", body, "message", user)
        return body

    async def send_mixed(self, user: str, text: str, image: bytes) -> dict[str, Any]:
        body = self._body(user, "mixed")
        body["mixed"] = {
            "msg_item": [
                {"msgtype": "text", "text": {"content": text}},
                {"msgtype": "image", "image": self._encrypted(image)},
            ]
        }
        await self._deliver("aibot_msg_callback", body, "message", user)
        return body

    async def send_file(self, user: str, content: bytes) -> dict[str, Any]:
        body = self._body(user, "file")
        body["file"] = self._encrypted(content)
        await self._deliver("aibot_msg_callback", body, "message", user)
        return body

    async def enter(self, user: str) -> None:
        """A person opens the chat with the robot (the first time that day)."""
        body = self._body(user, "event")
        body["event"] = {"eventtype": "enter_chat"}
        await self._deliver("aibot_event_callback", body, "enter", user)

    async def press(self, user: str, card: Shown, label: str) -> None:
        """A person presses a card's button (as the card looks now)."""
        buttons = card.buttons
        if card.updated is not None:
            buttons = [(b["text"], b["key"]) for b in card.updated["button_list"]]
        key = dict(buttons)[label]
        body = self._body(user, "event")
        body["event"] = {
            "eventtype": "template_card_event",
            "template_card_event": {
                "card_type": "button_interaction",
                "event_key": key,
                "task_id": card.task_id,
            },
        }
        await self._deliver("aibot_event_callback", body, "press", user, task_id=card.task_id)

    async def drop(self, *, after: bytes = b"") -> None:
        """The network fails: the current connection ends without a closing handshake
        (after the raw bytes given: half a frame, say)."""
        assert self.current is not None
        transport = self.current.transport
        if after:
            transport.write(after)
        transport.abort()
        self.current = None
        await self._notify()

    async def drop_mid_frame(self) -> None:
        """Half a text frame (its header promises 200 bytes), then the connection fails."""
        payload = json.dumps({"cmd": "aibot_msg_callback", "headers": {"req_id": "r"}}).encode()
        await self.drop(after=b"\x81\x7e\x00\xc8" + payload[:40])

    # -- what people see ----------------------------------------------------------------

    def shown_to(self, chat: str) -> list[Shown]:
        return [s for s in self.shown if s.chat == chat]

    def card_with(self, chat: str, label: str) -> Shown:
        card = self.find_card(chat, label)
        if card is None:
            raise AssertionError(f"no card with {label!r} shown to {chat}")
        return card

    def find_card(self, chat: str, label: str) -> Shown | None:
        return next((s for s in reversed(self.shown_to(chat)) if label in dict(s.buttons)), None)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, found: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Wait (in real time, as the bot's threads work) until `found` gives something."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                result = found()
                if result:
                    return result
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)

    async def wait_for_text(self, chat: str, needle: str, since: int = 0) -> Shown:
        def find() -> Shown | None:
            return next((s for s in self.shown_to(chat)[since:] if needle in s.text), None)

        try:
            return await self.wait_for(find)
        except TimeoutError:
            texts = [s.text[:80] for s in self.shown_to(chat)[since:]]
            raise AssertionError(f"{needle!r} not shown to {chat}; shown: {texts}") from None

    # -- the server ---------------------------------------------------------------------

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if not request.path.startswith("/media/"):
            return None
        self.media_requests += 1
        data = self._served.get(request.path.removeprefix("/media/"))
        if data is None or self.media_fails:
            return connection.respond(404, "no such file\n")
        headers = Headers([("Content-Type", "application/octet-stream")])
        headers["Content-Length"] = str(len(data))
        return Response(200, "OK", headers, data)

    async def _serve(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        subscribed = False
        try:
            async for raw in conn:
                try:
                    frame = json.loads(raw)
                    cmd = frame.get("cmd", "")
                    req_id = frame["headers"]["req_id"]
                    body = frame.get("body") or {}
                except (ValueError, KeyError, TypeError, AttributeError):
                    self.problems.append(f"not a frame: {str(raw)[:80]}")
                    continue
                if cmd == "aibot_subscribe":
                    subscribed = await self._subscribe(conn, req_id, body)
                elif not subscribed:
                    self.problems.append(f"{cmd} before the subscription")
                    await self._ack(conn, req_id, NOT_SUBSCRIBED, "not subscribed")
                else:
                    await self._answer(conn, cmd, req_id, body)
                await self._notify()
        except ConnectionClosed:
            pass
        finally:
            if self.current is conn:
                self.current = None
            await self._notify()

    async def _ack(
        self,
        conn: ServerConnection,
        req_id: str,
        errcode: int = 0,
        errmsg: str = "ok",
        body: dict[str, Any] | None = None,
    ) -> None:
        frame: dict[str, Any] = {
            "headers": {"req_id": req_id},
            "errcode": errcode,
            "errmsg": errmsg,
        }
        if body is not None:
            frame["body"] = body
        if errcode and errcode != AUTH_FAILED:
            self.problems.append(f"{req_id[:24]}: {errcode} {errmsg}")
        with contextlib.suppress(ConnectionClosed):
            await conn.send(json.dumps(frame, ensure_ascii=False))

    async def _subscribe(self, conn: ServerConnection, req_id: str, body: dict[str, Any]) -> bool:
        ok = body.get("bot_id") == self.bot_id and body.get("secret") == self.accepted_secret
        self.subscriptions.append(ok)
        if not ok:
            await self._ack(conn, req_id, AUTH_FAILED, "invalid bot_id or secret")
            return False
        older, self.current = self.current, conn
        await self._ack(conn, req_id)
        if older is not None and older is not conn:
            kick = self._body("", "event")
            kick["from"], kick["event"] = {}, {"eventtype": "disconnected_event"}
            frame = {"cmd": "aibot_event_callback", "headers": {"req_id": "kick"}, "body": kick}
            with contextlib.suppress(ConnectionClosed):
                await older.send(json.dumps(frame))
                await older.close()
        return True

    async def _answer(
        self, conn: ServerConnection, cmd: str, req_id: str, body: dict[str, Any]
    ) -> None:
        if cmd == "ping":
            self.pings += 1
            if self.answer_pings:
                await self._ack(conn, req_id)
            return
        handler = {
            "aibot_respond_msg": self._respond,
            "aibot_respond_welcome_msg": self._welcome,
            "aibot_respond_update_msg": self._update,
            "aibot_send_msg": self._push,
            "aibot_upload_media_init": self._upload_init,
            "aibot_upload_media_chunk": self._upload_chunk,
            "aibot_upload_media_finish": self._upload_finish,
        }.get(cmd)
        if handler is None:
            await self._ack(conn, req_id, BAD_TYPE, f"unknown cmd {cmd}")
            return
        refused = handler(conn, req_id, body)
        if isinstance(refused, tuple):
            await self._ack(conn, req_id, *refused)
        else:
            await self._ack(conn, req_id, body=refused)

    def _callback(
        self, conn: ServerConnection, req_id: str, kind: str, window: float
    ) -> _Callback | tuple[int, str]:
        callback = self._callbacks.get(req_id)
        if callback is None or callback.conn is not conn or callback.kind != kind:
            return INVALID_REQ_ID, "invalid req_id"
        if self.time.now > callback.at + window:
            return EXPIRED, "expired"
        return callback

    def _respond(self, conn: ServerConnection, req_id: str, body: dict[str, Any]) -> Any:
        callback = self._callback(conn, req_id, "message", REPLY_WINDOW)
        if isinstance(callback, tuple):
            return callback
        if self.refuse_replies is not None:
            return self.refuse_replies, "refused (as the test asked)"
        msgtype = body.get("msgtype")
        if msgtype == "stream":
            stream = body.get("stream") or {}
            content = stream.get("content")
            if not stream.get("id") or not isinstance(content, str):
                return 40058, "stream needs id and content"
            if len(content.encode()) > 20480:
                return 40058, "stream content over 20480 bytes"
            earlier = callback.streams.get(stream["id"])
            if earlier is not None:
                earlier.body = body
                return None
            callback.streams[stream["id"]] = self._show(callback.chat, "stream", body, "reply")
            return None
        return self._message(callback.chat, body, "reply", ("template_card", "file", "image"))

    def _welcome(self, conn: ServerConnection, req_id: str, body: dict[str, Any]) -> Any:
        callback = self._callback(conn, req_id, "enter", EVENT_WINDOW)
        if isinstance(callback, tuple):
            return callback
        if callback.welcomed:
            return INVALID_REQ_ID, "welcome already sent"
        callback.welcomed = True
        return self._message(callback.chat, body, "welcome", ("text", "template_card"))

    def _update(self, conn: ServerConnection, req_id: str, body: dict[str, Any]) -> Any:
        callback = self._callback(conn, req_id, "press", EVENT_WINDOW)
        if isinstance(callback, tuple):
            return callback
        card = body.get("template_card") or {}
        if body.get("response_type") != "update_template_card":
            return 40058, "response_type must be update_template_card"
        if card.get("task_id") != callback.task_id or callback.task_id not in self._cards:
            return 40058, "the update names another card's task_id"
        self._cards[callback.task_id].updated = card
        return None

    def _push(self, conn: ServerConnection, req_id: str, body: dict[str, Any]) -> Any:
        chat = body.get("chatid")
        if chat not in self.known_chats:
            return UNKNOWN_CHAT, "the chat never wrote to the robot"
        if body.get("msgtype") == "text":
            return BAD_TYPE, "invalid message type"
        return self._message(chat, body, "push", ("markdown", "template_card", "file", "image"))

    def _message(self, chat: str, body: dict[str, Any], via: str, types: tuple[str, ...]) -> Any:
        msgtype = body.get("msgtype")
        if msgtype not in types:
            return BAD_TYPE, f"invalid message type {msgtype} for {via}"
        content = body.get(msgtype)
        if not isinstance(content, dict):
            return 40058, f"{msgtype} missing"
        if msgtype == "template_card":
            problem = self._check_card(content)
            if problem:
                return 40058, problem
        if msgtype in ("file", "image"):
            media = self.media.get(content.get("media_id", ""))
            if media is None or media.kind != msgtype:
                return 40007, "invalid media_id"
        if msgtype in ("markdown", "text") and not content.get("content"):
            return 44004, "empty content"
        if via == "push" and self._over_limit(chat):
            self.dropped.append(Shown(chat, msgtype, body, via, self.time.now))
            return None
        shown = self._show(chat, msgtype, body, via)
        if msgtype == "template_card":
            self._cards[content["task_id"]] = shown
        return None

    def _show(self, chat: str, msgtype: str, body: dict[str, Any], via: str) -> Shown:
        shown = Shown(chat, msgtype, body, via, self.time.now)
        self.shown.append(shown)
        return shown

    def _over_limit(self, chat: str) -> bool:
        limit, period = self.chat_limit
        times = [t for t in self._pushed[chat] if t > self.time.now - period]
        self._pushed[chat] = [*times, self.time.now]
        return len(times) >= limit

    def _check_card(self, card: dict[str, Any]) -> str | None:
        if card.get("card_type") != "button_interaction":
            return "card_type must be button_interaction"
        task_id = card.get("task_id", "")
        if not TASK_ID.match(task_id) or task_id in self._cards:
            return "task_id missing, malformed or used before"
        buttons = card.get("button_list") or []
        keys = [b.get("key", "") for b in buttons]
        if not 1 <= len(buttons) <= 6 or len(set(keys)) != len(keys):
            return "1-6 buttons with unique keys"
        if any(
            not k or len(k.encode()) > 1024 or not b.get("text")
            for k, b in zip(keys, buttons, strict=True)
        ):
            return "a button without text, or a key over 1024 bytes"
        if not card.get("main_title", {}).get("title") and not card.get("sub_title_text"):
            return "a card needs a title or a sub-title"
        return None

    def _upload_init(self, conn: ServerConnection, req_id: str, body: dict[str, Any]) -> Any:
        if body.get("type") not in ("image", "file") or not body.get("filename"):
            return 40004, "invalid media type or no filename"
        chunks = body.get("total_chunks")
        if not isinstance(chunks, int) or not 1 <= chunks <= 100:
            return 40058, "total_chunks must be 1-100"
        upload_id = f"up{secrets.token_hex(8)}"
        self.uploads[upload_id] = Upload(
            body["type"],
            body["filename"],
            body.get("total_size", -1),
            {},
            chunks,
            body.get("md5", ""),
        )
        return {"upload_id": upload_id}

    def _upload_chunk(self, conn: ServerConnection, req_id: str, body: dict[str, Any]) -> Any:
        upload = self.uploads.get(body.get("upload_id", ""))
        index = body.get("chunk_index")
        if upload is None or not isinstance(index, int) or not 0 <= index < upload.total_chunks:
            return 40058, "unknown upload or chunk_index out of range"
        piece = base64.b64decode(body.get("base64_data", ""))
        if len(piece) > 512 * 1024:
            return 40058, "a chunk over 512 KiB"
        upload.chunks[index] = piece
        return None

    def _upload_finish(self, conn: ServerConnection, req_id: str, body: dict[str, Any]) -> Any:
        upload = self.uploads.get(body.get("upload_id", ""))
        if upload is None or len(upload.chunks) != upload.total_chunks:
            return 40058, "chunks missing"
        content = b"".join(upload.chunks[i] for i in range(upload.total_chunks))
        if len(content) != upload.total_size or hashlib.md5(content).hexdigest() != upload.md5:
            return 40058, "size or md5 does not match"
        media_id = f"media{secrets.token_hex(8)}"
        self.media[media_id] = Media(upload.kind, upload.filename, content)
        return {"type": upload.kind, "media_id": media_id, "created_at": "1782000000"}
