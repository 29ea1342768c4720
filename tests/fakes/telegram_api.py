"""A fake Telegram Bot API for tests and benchmarks: the Bot API methods the bot calls, the
people who talk to it, and what it sent, in one state that two transports share.

In process, through PTB's request seam (what most tests use: no socket, no thread)::

    fake = FakeTelegram(clock=clock)
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url,
              request=fake.in_process(), get_updates_request=fake.in_process())

Over real HTTP on 127.0.0.1 (a bot in another process, a killed process's connections, the
webhook, the benchmarks)::

    with FakeTelegram() as fake:
        app = ApplicationBuilder().token(fake.token).base_url(fake.base_url)...build()

Either way the simulated people and the observers are the same::

    fake.user_sends_text(SimUser(1001, "小王"), "/start")
    fake.wait_for_text(1001, "欢迎")

The server is a Starlette app run by uvicorn in a background thread with its own event loop.
Test code (the simulated users and the observers) may run in other threads; all shared state
is guarded by one lock, ``wait_for*`` block on a condition of that lock, and long polls wait
on a future of their own event loop, woken from any thread.

Fidelity, where PTB or the bot care (and no more: what no test or benchmark used was cut):

* every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
  "description": "...", ["parameters": {...}]}`` with HTTP status N;
* getUpdates keeps an update until a later call's ``offset`` confirms it, long-polls for
  ``timeout`` seconds and wakes at once when an update arrives; a set webhook makes it 409;
* messages carry ``date`` in seconds, ``from`` the bot, ``chat``; callback queries carry
  ``chat_instance`` and the message as it currently is (with its current inline keyboard);
* editMessageText returns the edited message, refuses unchanged content ("message is not
  modified") and, as Telegram does, drops the inline keyboard when no ``reply_markup`` is
  passed;
* ``parse_mode="HTML"``: unknown or unclosed tags and a bare '<' are refused ("can't parse
  entities"), entities decoded; no formatting entities are computed;
* inline keyboards only; buttons need an action, and ``callback_data`` must be 1-64 bytes
  (BUTTON_DATA_INVALID); files are uploaded, never re-sent by file_id or URL;
* leading/trailing whitespace of texts and captions is trimmed, as Telegram does.

``drop_connection_next`` really closes the TCP connection without an answer (the client sees
"Server disconnected"; in process, PTB's NetworkError with those words); only if uvicorn's
connection transport cannot be reached does it fall back to raising inside the app, which
gives an HTTP 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import logging
import mimetypes
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from http import HTTPStatus
from types import TracebackType
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

__all__ = [
    "MAX_DOWNLOAD_SIZE",
    "UNREADABLE",
    "CallbackAnswer",
    "FakeTelegram",
    "InProcessRequest",
    "RequestRecord",
    "SentMessage",
    "SimUser",
    "WebhookDelivery",
    "group_chat",
    "poll_while",
]

JSON = dict[str, Any]
Button = tuple[str, str | None]
T = TypeVar("T")
_LOGGER = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_UPLOAD_SIZE = 50 * 1024 * 1024  # bots may upload up to 50 MB
MAX_CALLBACK_DATA_BYTES = 64
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_JSON_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# The origin of a fake that answers in process (no server): .invalid never resolves.
IN_PROCESS_ORIGIN = "http://api.telegram.invalid"


# --------------------------------------------------------------------------------------------
# Public value types
# --------------------------------------------------------------------------------------------


@dataclass
class SimUser:
    """A simulated Telegram user."""

    id: int
    first_name: str
    language_code: str | None = "zh-hans"
    username: str | None = None

    def as_dict(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username is not None:
            user["username"] = self.username
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user

    def private_chat(self) -> JSON:
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username is not None:
            chat["username"] = self.username
        return chat


def group_chat(chat_id: int = -100123, title: str = "新华社区工作群") -> JSON:
    """A supergroup chat dict to pass as ``chat=`` to the simulation helpers."""
    return {"id": chat_id, "type": "supergroup", "title": title}


@dataclass(frozen=True)
class SentMessage:
    """One message the bot sent or edited, as observed by the fake.

    ``text`` is what the user sees: the message text or caption after HTML parsing and
    trimming (None for a photo/document without caption, and for editMessageReplyMarkup it is
    the message's current text). ``buttons`` are the rows of the inline keyboard (text,
    callback_data or url) or of a reply keyboard (text, None). ``params`` is the request as
    received (form values are strings).
    """

    method: str
    chat_id: int
    message_id: int
    text: str | None
    buttons: list[list[Button]]
    reply_markup: JSON | None
    parse_mode: str | None
    file_bytes: bytes | None
    filename: str | None
    file_id: str | None
    timestamp: float
    params: JSON = field(repr=False)

    @property
    def button_labels(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]


class CallbackAnswer(NamedTuple):
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    timestamp: float


class RequestRecord(NamedTuple):
    """One call of /bot<token>/<method>; ``time`` is the fake's monotonic() at arrival."""

    method: str
    time: float
    params: JSON


class WebhookDelivery(NamedTuple):
    update_id: int
    status: int | None  # HTTP status, None for a connection error
    time: float


# Messages the bot does not read, for `user_sends_message`: a sticker, a voice note, a place
# and a contact (of user 1001).
UNREADABLE: list[dict[str, Any]] = [
    {
        "sticker": {
            "file_id": "CAACAgUAAxkBAAI1",
            "file_unique_id": "AgADs1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
    },
    {"voice": {"file_id": "AwACAgUAAxkBAAI2", "file_unique_id": "AgADv2", "duration": 4}},
    {"location": {"latitude": 39.9042, "longitude": 116.4074}},
    {"contact": {"phone_number": "+8613800138000", "first_name": "小王", "user_id": 1001}},
]

# --------------------------------------------------------------------------------------------
# Internals: errors, parameters, multipart
# --------------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


Answer = tuple[int, bytes]  # HTTP status and body


def _error(code: int, description: str, parameters: JSON | None = None) -> Answer:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, _JSON_DUMPS(body).encode()


def _ok(result: Any) -> Answer:
    return 200, _JSON_DUMPS({"ok": True, "result": result}).encode()


def _response(answer: Answer) -> Response:
    status, body = answer
    return Response(body, status_code=status, media_type="application/json")


@dataclass
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


class _Params:
    """Request parameters; values are strings (form data) or JSON values (JSON body)."""

    def __init__(self, values: JSON, files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def opt_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else _JSON_DUMPS(value)

    def opt_int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise _bad(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def opt_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def parsed(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {name} JSON object") from None
        return value

    def file(self, name: str) -> _Upload | str | None:
        """An uploaded file (multipart part, also via attach://) or a file_id / URL string."""
        if name in self.files:
            return self.files[name]
        value = self.opt_str(name)
        if value is not None and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad(f"{name} not found in the request")
            return upload
        return value


_DISPOSITION_PARAM_RE = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')
_HTML5_FORM_ESCAPE_RE = re.compile(r"%(0[0-9A-F]|1[0-9A-F]|22)")


def _unescape_form_param(value: str) -> str:
    # httpx escapes '"' as %22, control characters as %XX and '\' as '\\' (HTML5 form style).
    value = _HTML5_FORM_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value.replace("\\\\", "\\")


def _parse_multipart(body: bytes, content_type: str) -> tuple[JSON, dict[str, _Upload]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise _bad("multipart boundary is missing")
    delimiter = b"\r\n--" + match.group(1).encode("latin-1")
    fields: JSON = {}
    files: dict[str, _Upload] = {}
    for chunk in (b"\r\n" + body).split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        disposition: dict[str, str] = {}
        for param in _DISPOSITION_PARAM_RE.finditer(headers.get("content-disposition", "")):
            quoted, bare = param.group(2), param.group(3)
            disposition[param.group(1).lower()] = (
                _unescape_form_param(quoted) if quoted is not None else bare
            )
        part_name = disposition.get("name")
        if part_name is None:
            continue
        if "filename" in disposition:
            files[part_name] = _Upload(
                disposition["filename"], headers.get("content-type"), bytes(content)
            )
        else:
            fields[part_name] = content.decode("utf-8", "replace")
    return fields, files


async def _read_params(request: Request) -> _Params:
    values: JSON = dict(request.query_params)
    files: dict[str, _Upload] = {}
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        body = await request.body()
        if len(body) > MAX_UPLOAD_SIZE + 1024 * 1024:
            raise _ApiError(413, "Request Entity Too Large")
        if body and content_type.startswith("application/json"):
            try:
                data = json.loads(body)
            except ValueError:
                raise _bad("can't parse JSON body") from None
            if not isinstance(data, dict):
                raise _bad("JSON body must be an object")
            values.update(data)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            values.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif content_type.startswith("multipart/form-data"):
            fields, files = _parse_multipart(body, content_type)
            values.update(fields)
    return _Params(values, files)


# --------------------------------------------------------------------------------------------
# HTML parse mode
# --------------------------------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"code", "pre", "blockquote", "tg-emoji"}
)


class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode as far as the bot uses it (a pressed message's text_html
    with the chosen label appended): the tags Telegram knows, closed in order, and no bare
    '<'; the text with its entities decoded. Formatting entities are not computed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise ValueError(f'Unsupported start tag "{tag}"')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise ValueError(f'Unmatched end tag "</{tag}>"')

    def handle_data(self, data: str) -> None:
        if "<" in data:  # the standard parser keeps "<100" as text; Telegram refuses it
            raise ValueError(f'Unsupported start tag "{data[data.index("<") + 1 :][:10]}"')
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _format_text(text: str, parse_mode: str | None) -> str:
    """The text people see: HTML parsed, and trimmed as Telegram trims it."""
    if parse_mode is not None and parse_mode.lower() == "html":
        parser = _TelegramHtml()
        try:
            parser.feed(text)
            parser.close()
            if parser.open:
                raise ValueError(
                    f'Can\'t find end tag corresponding to start tag "{parser.open[-1]}"'
                )
        except ValueError as exc:
            raise _bad(f"can't parse entities: {exc}") from None
        text = "".join(parser.text)
    return text.strip()


# --------------------------------------------------------------------------------------------
# Keyboards and files
# --------------------------------------------------------------------------------------------

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _validate_markup(markup: Any) -> JSON | None:
    """An inline keyboard as Telegram checks it (the only kind the bot sends)."""
    if markup is None:
        return None
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        raise _bad("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad("can't parse inline keyboard button: Text must be non-empty")
            if not any(action in button for action in _INLINE_ACTIONS):
                raise _bad("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not (
                isinstance(data, str) and 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise _bad("BUTTON_DATA_INVALID")
    return markup


def _buttons(markup: JSON | None) -> list[list[Button]]:
    """An inline keyboard's rows as (text, callback_data or url)."""
    if not markup:
        return []
    return [[(str(b["text"]), _action(b)) for b in row] for row in markup["inline_keyboard"]]


def _action(button: JSON) -> str | None:
    value = button.get("callback_data", button.get("url"))
    return None if value is None else str(value)


_JPEG_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
_JPEG_END = b"\xff\xd9"
_PATTERN = bytes(range(256))


def fake_jpeg(size: int, seed: int = 0) -> bytes:
    """Bytes that start like a JPEG and have exactly ``size`` bytes (at least 22)."""
    size = max(size, len(_JPEG_HEADER) + len(_JPEG_END))
    body = size - len(_JPEG_HEADER) - len(_JPEG_END)
    shift = seed % 256
    pattern = _PATTERN[shift:] + _PATTERN[:shift]
    return _JPEG_HEADER + (pattern * (body // 256 + 1))[:body] + _JPEG_END


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes | None  # None for a file only known by URL
    kind: str
    photo_sizes: list[JSON] | None = None


class _Fault(NamedTuple):
    code: int
    description: str
    parameters: JSON | None


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """A fake Bot API server; see the module docstring. One start/stop cycle per instance."""

    webhook_retry_delay: float = 0.2

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "huibao_test_bot",
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Args:
        clock: the time of the Bot API's world (message dates, edit dates, webhook
            errors); tests pass their own clock, so no test depends on today's date.
            Real time if not given (benchmarks).
        monotonic: the time calls, sends and handouts are recorded at (tests that pace
            in virtual time pass the bot's).
        sleep: how a long poll waits out its timeout; a virtual one only when the fake
            answers in process, in the loop that sleep belongs to.
        """
        self.token = token
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.monotonic = monotonic
        self._sleep = sleep
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Huibao",
            "username": bot_username,
        }
        self.port = 0

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0

        # Updates: (update_id, kind, serialized update), oldest first.
        self._pending: deque[tuple[int, str, str]] = deque()
        self._update_log: dict[int, str] = {}
        # update_id -> monotonic() of every getUpdates answer that carried it (benchmarks)
        self._handouts: dict[int, list[float]] = {}
        self._update_ids = itertools.count(1)
        self._get_updates_offsets: list[int | None] = []
        # Long polls and held calls waiting for a change, each in its own event loop.
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

        self._chats: dict[int, JSON] = {}
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._bot_message_ids: dict[int, list[int]] = {}
        self._sent: list[SentMessage] = []
        self._sent_by_chat: dict[int, list[SentMessage]] = {}

        self._callback_ids = itertools.count(4_281_000_000_000_001)
        self._open_queries: set[str] = set()
        self._callback_answers: list[CallbackAnswer] = []

        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_numbers = itertools.count(1)

        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._webhook_url = ""
        self._webhook_secret: str | None = None
        self._webhook_deliveries: list[WebhookDelivery] = []
        self._webhook_kick: asyncio.Event | None = None

        self._requests: list[RequestRecord] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._drops: dict[str, int] = {}
        self._holds: dict[str, int] = {}  # method -> calls still to hold unanswered
        self._held = 0  # calls being held now
        self._releases = 0  # release_held calls so far

        self._handlers: dict[str, tuple[str, Callable[[_Params], Any]]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("deleteWebhook", self._delete_webhook),
            ("setWebhook", self._set_webhook),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("answerCallbackQuery", self._answer_callback_query),
            ("sendPhoto", self._send_photo),
            ("sendDocument", self._send_document),
            ("getFile", self._get_file),
            ("setMyCommands", self._set_my_commands),
            ("getUpdates", self._unreachable),  # async, handled in _bot_endpoint
        ):
            self._handlers[name.lower()] = (name, handler)

        self._app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._bot_endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._file_endpoint, methods=["GET"]),
            ]
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._exit: asyncio.Event | None = None
        self._stopping = False
        self._stopped = False

    def _now(self) -> int:
        """The fake world's time in whole seconds, as Telegram dates messages."""
        return int(self.clock().timestamp())

    # ---------------------------------------------------------------- lifecycle

    @property
    def serving(self) -> bool:
        """True once the HTTP server is started (else the fake answers in process only)."""
        return self.port != 0

    @property
    def origin(self) -> str:
        """Where the fake answers: its server once started, else in process only."""
        return f"http://127.0.0.1:{self.port}" if self.serving else IN_PROCESS_ORIGIN

    @property
    def base_url(self) -> str:
        return f"{self.origin}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.origin}/file/bot"

    def in_process(self) -> InProcessRequest:
        """A PTB request answered by this fake in process (one per PTB request slot)."""
        return InProcessRequest(self)

    def start(self) -> None:
        if self._thread is not None or self._stopped:
            raise RuntimeError("FakeTelegram can be started once")
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when
        # the socket says it is TCP; without it every answer waits ~40 ms (Nagle + delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            proxy_headers=False,
            server_header=False,
            date_header=False,
            timeout_keep_alive=600,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name=f"FakeTelegram:{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("FakeTelegram did not start within 15 s")
        if self._startup_error is not None:
            raise RuntimeError("FakeTelegram failed to start") from self._startup_error

    def stop(self) -> None:
        """Wake pending long polls, let answers in flight finish, close everything."""
        if self._thread is None or self._stopped:
            return
        self._stopped = True
        with self._lock:
            self._stopping = True
        self._call_in_loop(self._request_exit)
        self._thread.join(timeout=15)
        if self._thread.is_alive():  # pragma: no cover - last resort
            assert self._server is not None
            self._server.force_exit = True
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._loop = None

    def _request_exit(self) -> None:
        self._wake()
        if self._exit is not None:
            self._exit.set()

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                raise

    async def _main(self) -> None:
        # uvicorn's own serve() polls for shutdown every 0.1 s and sleeps 0.1 s more while
        # shutting down; tests start and stop a fake each, so drive the server directly.
        server, sock = self._server, self._socket
        assert server is not None and sock is not None
        loop = self._loop = asyncio.get_running_loop()
        self._webhook_kick = asyncio.Event()
        self._exit = asyncio.Event()
        worker = asyncio.create_task(self._webhook_worker())
        try:
            config = server.config
            if not config.loaded:
                config.load()
            server.lifespan = config.lifespan_class(config)
            await server.startup(sockets=[sock])
            if server.should_exit:
                raise RuntimeError("uvicorn could not start")
            self._ready.set()
            await self._exit.wait()

            for listener in server.servers:
                listener.close()
            state = server.server_state
            for connection in list(state.connections):
                connection.shutdown()  # idle keep-alive connections close now, busy ones after
            deadline = loop.time() + 5
            while (state.connections or state.tasks) and loop.time() < deadline:
                await asyncio.sleep(0.005)
            for task in list(state.tasks):
                task.cancel()
            for listener in server.servers:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(listener.wait_closed(), 1)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def _call_in_loop(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(callback)

    def _wake(self) -> None:
        """From any thread, without the lock: wake long polls and held calls (they look
        again) and the webhook worker."""
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                loop.call_soon_threadsafe(_resolve, waiter)
        if self._webhook_kick is not None:
            self._call_in_loop(self._webhook_kick.set)

    def _waiter(self) -> asyncio.Future[None]:
        """With the lock held: a future of the running loop, resolved at the next _wake."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append((loop, waiter))
        return waiter

    async def _wait(self, waiter: asyncio.Future[None], seconds: float | None) -> None:
        """Wait for `waiter` at most `seconds` (on the fake's sleep); None: no limit."""
        pause = asyncio.ensure_future(self._sleep(seconds)) if seconds is not None else None
        try:
            await asyncio.wait(
                [waiter] if pause is None else [waiter, pause], return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if pause is not None:
                pause.cancel()
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((asyncio.get_running_loop(), waiter))

    def _bump(self) -> None:
        """Call with the lock held after any observable change."""
        self._version += 1
        self._changed.notify_all()

    # ---------------------------------------------------------------- the calls

    def _take_drop(self, method: str) -> bool:
        """True if this call of `method` is to lose its connection (drop_connection_next)."""
        key = method.lower()
        with self._lock:
            remaining = self._drops.get(key, 0)
            if remaining:
                self._drops[key] = remaining - 1
                self._requests.append(RequestRecord(method, self.monotonic(), {}))
                self._bump()
        return bool(remaining)

    async def _answer(
        self,
        token: str,
        method: str,
        params: _Params,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> Answer:
        """Answer one Bot API call, whichever way it came (HTTP or in process).

        Args:
            disconnected: whether the caller went away (HTTP); a caller in process that
                goes away cancels the call instead.
        """
        arrived = self.monotonic()
        key = method.lower()
        entry = self._handlers.get(key)
        fault: _Fault | None = None
        with self._lock:
            self._requests.append(
                RequestRecord(entry[0] if entry else method, arrived, params.values)
            )
            self._bump()
            if token != self.token:
                return _error(401, "Unauthorized")
            if entry is None:
                return _error(404, "Not Found")
            faults = self._faults.get(key)
            if faults:
                fault = faults.popleft()
        if fault is not None:
            return _error(fault.code, fault.description, fault.parameters)
        if self._holds and await self._hold(key, disconnected):
            return 499, b""  # the client gave up: nothing was done
        name, handler = entry
        try:
            if name == "getUpdates":
                return 200, await self._get_updates(params)
            with self._lock:
                result = handler(params)
                self._bump()
        except _ApiError as exc:
            return _error(exc.code, exc.description, exc.parameters)
        except Exception as exc:  # a bug in the fake or a request it cannot make sense of
            _LOGGER.exception("FakeTelegram: %s failed", name)
            return _error(500, f"Internal Server Error: the fake failed: {exc!r}")
        if name == "setWebhook":
            self._wake()  # long polls answer 409, the webhook worker delivers
        return _ok(result)

    def _file(self, token: str, file_path: str) -> Answer:
        if token != self.token:
            return _error(401, "Unauthorized")
        with self._lock:
            stored = self._files_by_path.get(file_path)
        if stored is None or stored.data is None:
            return _error(404, "Not Found")
        return 200, stored.data

    async def _hold(self, key: str, disconnected: Callable[[], Awaitable[bool]] | None) -> bool:
        """Hold a call the test asked to hold until `release_held`; True if its client went
        away meanwhile (the call is then dropped, as a request that never arrived)."""
        with self._lock:
            if not self._holds.get(key):
                return False
            self._holds[key] -= 1
            self._held += 1
            releases = self._releases
            self._bump()
        try:
            while True:
                with self._lock:
                    if self._releases != releases:
                        break
                    waiter = self._waiter()
                if disconnected is not None and await disconnected():
                    return True
                await self._wait(waiter, 0.05 if disconnected is not None else None)
            return disconnected is not None and await disconnected()
        finally:
            with self._lock:
                self._held -= 1
                self._bump()

    # ---------------------------------------------------------------- HTTP layer

    async def _asgi(self, scope: Any, receive: Any, send: Any) -> None:
        if self._drops and scope["type"] == "http" and scope["path"].startswith("/bot"):
            method = scope["path"].rsplit("/", 1)[-1]
            if self._take_drop(method):
                transport = getattr(getattr(send, "__self__", None), "transport", None)
                if isinstance(transport, asyncio.Transport):
                    transport.abort()
                    await asyncio.sleep(0)  # let uvicorn see the connection is gone
                    return
                raise RuntimeError(f"FakeTelegram: dropped {method} (answered as HTTP 500)")
        await self._app(scope, receive, send)

    async def _bot_endpoint(self, request: Request) -> Response:
        try:
            params = await _read_params(request)
        except _ApiError as exc:
            return _response(_error(exc.code, exc.description, exc.parameters))
        except ClientDisconnect:  # the client died mid-request (a killed bot): nothing arrived
            return Response(status_code=499)
        token, method = request.path_params["token"], request.path_params["method"]
        answer = await self._answer(token, method, params, request.is_disconnected)
        if answer[0] == 499:
            return Response(status_code=499)
        return _response(answer)

    async def _file_endpoint(self, request: Request) -> Response:
        status, body = self._file(request.path_params["token"], request.path_params["file_path"])
        media_type = "application/octet-stream" if status == 200 else "application/json"
        return Response(body, status_code=status, media_type=media_type)

    # ---------------------------------------------------------------- in process

    async def answer_in_process(
        self, url: str, method: str, request_data: RequestData | None
    ) -> Answer:
        """Answer a PTB request as the server would, without HTTP (see InProcessRequest)."""
        path = unquote(urlsplit(url).path)  # PTB quotes the file URL
        if path.startswith("/file/bot"):
            token, _, file_path = path.removeprefix("/file/bot").partition("/")
            return self._file(token, file_path)
        token, _, name = path.removeprefix("/bot").partition("/")
        if self._take_drop(name):
            raise NetworkError("aiohttp.ServerDisconnectedError: Server disconnected")
        values: JSON = dict(request_data.json_parameters) if request_data is not None else {}
        files: dict[str, _Upload] = {}
        if request_data is not None and request_data.contains_files:
            for part, value in request_data.multipart_data.items():
                if isinstance(value, tuple):
                    filename, content, *rest = value
                    data = content if isinstance(content, bytes) else content.read()
                    files[part] = _Upload(filename, rest[0] if rest else None, data)
        return await self._answer(token, name, _Params(values, files))

    def _unreachable(self, params: _Params) -> Any:
        raise AssertionError("handled elsewhere")

    # ---------------------------------------------------------------- updates

    def _confirm(self, offset: int | None) -> None:
        """With the lock held: forget updates below ``offset`` (Telegram semantics)."""
        pending = self._pending
        if offset is None or offset == 0:
            return
        if offset < 0:
            while len(pending) > -offset:
                pending.popleft()
            return
        while pending and pending[0][0] < offset:
            pending.popleft()

    def _take(self, limit: int) -> list[str]:
        """With the lock held: up to ``limit`` pending updates (not removed)."""
        return [body for _, _, body in itertools.islice(self._pending, limit)]

    async def _get_updates(self, params: _Params) -> bytes:
        offset = params.opt_int("offset")
        limit = min(max(params.opt_int("limit") or 100, 1), 100)
        timeout = max(params.opt_float("timeout") or 0.0, 0.0)
        deadline = self.monotonic() + timeout
        with self._lock:
            self._get_updates_offsets.append(offset)
            if self._webhook_url:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._confirm(offset)
            self._bump()
        while True:
            with self._lock:
                batch = self._take(limit)
                remaining = deadline - self.monotonic()
                if self._webhook_url:
                    raise _ApiError(409, "Conflict: terminated by setWebhook request")
                if batch or self._stopping or remaining <= 0:
                    if batch:
                        self._note_handouts(len(batch))
                    break
                waiter = self._waiter()
            await self._wait(waiter, remaining)
        return ('{"ok":true,"result":[' + ",".join(batch) + "]}").encode()

    def _note_handouts(self, count: int) -> None:
        """With the lock held: the first ``count`` pending updates are being handed out now."""
        now = self.monotonic()
        for update_id, _, _ in itertools.islice(self._pending, count):
            self._handouts.setdefault(update_id, []).append(now)

    def _enqueue(self, kind: str, payload: JSON) -> int:
        """With the lock held: queue an update and return its id."""
        update_id = next(self._update_ids)
        body = f'{{"update_id":{update_id},{_JSON_DUMPS(kind)}:{_JSON_DUMPS(payload)}}}'
        self._pending.append((update_id, kind, body))
        self._update_log[update_id] = body
        self._bump()
        return update_id

    def _after_enqueue(self) -> None:
        # Poke the loop only when someone there is waiting (checked under the lock by both).
        with self._lock:
            needed = bool(self._waiters) or bool(self._webhook_url)
        if needed:
            self._wake()

    async def _webhook_worker(self) -> None:
        assert self._webhook_kick is not None
        kick = self._webhook_kick
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                await kick.wait()
                kick.clear()
                while True:
                    with self._lock:
                        url, secret = self._webhook_url, self._webhook_secret
                        if not url or self._stopping:
                            break
                        if not self._pending:
                            break
                        update_id, _, body = self._pending[0]
                    headers = {"Content-Type": "application/json"}
                    if secret:
                        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
                    status: int | None
                    try:
                        response = await client.post(url, content=body.encode(), headers=headers)
                        status = response.status_code
                    except httpx.HTTPError:
                        status = None
                    delivered = status is not None and 200 <= status < 300
                    with self._lock:
                        self._webhook_deliveries.append(
                            WebhookDelivery(update_id, status, self.monotonic())
                        )
                        if delivered and self._pending and self._pending[0][0] == update_id:
                            self._pending.popleft()
                        self._bump()
                    if not delivered:
                        await asyncio.sleep(self.webhook_retry_delay)

    # ---------------------------------------------------------------- Bot API methods
    # All run in the server loop with the lock held.

    def _get_me(self, params: _Params) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _delete_webhook(self, params: _Params) -> bool:
        self._webhook_url = ""
        self._webhook_secret = None
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        return True

    def _set_webhook(self, params: _Params) -> bool:
        url = params.opt_str("url") or ""
        secret = params.opt_str("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self._webhook_url = url
        self._webhook_secret = secret if url else None
        return True

    def _chat(self, params: _Params) -> JSON:
        value = params.values.get("chat_id")
        if value is None or value == "":
            raise _bad("chat_id is empty")
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        return self._chat_by_id(chat_id)

    def _chat_by_id(self, chat_id: int) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None:
            # Lenient: a chat the fake has not seen yet (e.g. a proactive reminder).
            chat = (
                {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
                if chat_id > 0
                else {"id": chat_id, "type": "supergroup", "title": f"Chat {chat_id}"}
            )
            self._chats[chat_id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        message_id = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = message_id
        return message_id

    def _new_bot_message(self, chat: JSON) -> JSON:
        return {
            "message_id": self._next_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": self._now(),
        }

    def _record(
        self,
        method: str,
        message: JSON,
        markup: JSON | None,
        params: _Params,
        stored: _StoredFile | None = None,
        filename: str | None = None,
    ) -> None:
        chat_id = message["chat"]["id"]
        message_id = message["message_id"]
        self._messages[(chat_id, message_id)] = message
        if method.startswith("send"):
            self._bot_message_ids.setdefault(chat_id, []).append(message_id)
        sent = SentMessage(
            method=method,
            chat_id=chat_id,
            message_id=message_id,
            text=message.get("text", message.get("caption")),
            buttons=_buttons(markup),
            reply_markup=markup,
            parse_mode=params.opt_str("parse_mode"),
            file_bytes=stored.data if stored else None,
            filename=filename,
            file_id=stored.file_id if stored else None,
            timestamp=self.monotonic(),
            params=params.values,
        )
        self._sent.append(sent)
        self._sent_by_chat.setdefault(chat_id, []).append(sent)

    def _send_message(self, params: _Params) -> JSON:
        chat = self._chat(params)
        text = params.opt_str("text")
        if not text:
            raise _bad("message text is empty")
        plain = _format_text(text, params.opt_str("parse_mode"))
        if not plain:
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        markup = _validate_markup(params.parsed("reply_markup"))
        message = self._new_bot_message(chat)
        message["text"] = plain
        if markup:
            message["reply_markup"] = markup
        self._record("sendMessage", message, markup, params)
        return message

    def _message_to_edit(self, params: _Params) -> JSON:
        if params.opt_str("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        message_id = params.opt_int("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._messages.get((chat["id"], message_id))
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited")
        return message

    def _edited(self, old: JSON, changes: JSON, markup: JSON | None) -> JSON:
        new = {k: v for k, v in old.items() if k != "reply_markup"}
        new.update(changes)
        if markup:
            new["reply_markup"] = markup
        comparable = ("text", "caption", "reply_markup")
        if all(old.get(k) == new.get(k) for k in comparable):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        new["edit_date"] = self._now()
        return new

    def _edit_message_text(self, params: _Params) -> JSON:
        old = self._message_to_edit(params)
        if "text" not in old:
            raise _bad("there is no text in the message to edit")
        text = params.opt_str("text")
        if not text:
            raise _bad("message text is empty")
        plain = _format_text(text, params.opt_str("parse_mode"))
        if not plain:
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        markup = _validate_markup(params.parsed("reply_markup"))
        new = self._edited(old, {"text": plain}, markup)
        self._record("editMessageText", new, markup, params)
        return new

    def _edit_message_reply_markup(self, params: _Params) -> JSON:
        old = self._message_to_edit(params)
        markup = _validate_markup(params.parsed("reply_markup"))
        new = self._edited(old, {}, markup)
        self._record("editMessageReplyMarkup", new, markup, params)
        return new

    def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.opt_str("callback_query_id") or ""
        if query_id not in self._open_queries:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._open_queries.discard(query_id)
        self._callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=params.opt_str("text"),
                show_alert=params.flag("show_alert"),
                url=params.opt_str("url"),
                timestamp=self.monotonic(),
            )
        )
        return True

    def _register_file(
        self, data: bytes | None, kind: str, extension: str, prefix: str
    ) -> _StoredFile:
        number = next(self._file_numbers)
        stored = _StoredFile(
            file_id=f"{prefix}AAxkBAAI{number:08d}",
            file_unique_id=f"AgAD{number:08d}",
            file_path=f"{kind}/file_{number}{extension}",
            data=data,
            kind=kind,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _register_photo(self, data: bytes | None) -> _StoredFile:
        thumbnail = self._register_file(
            fake_jpeg(min(len(data) if data else 1200, 1200), seed=1), "photos", ".jpg", "AgACAgUA"
        )
        full = self._register_file(data, "photos", ".jpg", "AgACAgUA")
        full.photo_sizes = [
            {
                "file_id": thumbnail.file_id,
                "file_unique_id": thumbnail.file_unique_id,
                "file_size": len(thumbnail.data or b""),
                "width": 90,
                "height": 68,
            },
            {
                "file_id": full.file_id,
                "file_unique_id": full.file_unique_id,
                "file_size": len(data or b""),
                "width": 1280,
                "height": 960,
            },
        ]
        return full

    def _upload(self, params: _Params, name: str) -> _Upload:
        """The file uploaded as `name` (the bot only ever uploads new files)."""
        value = params.file(name)
        if value is None or value == "":
            raise _bad(f"there is no {name} in the request")
        if not isinstance(value, _Upload):
            raise _bad("wrong file identifier/HTTP URL specified")
        if not value.data:
            raise _bad("file must be non-empty")
        if len(value.data) > MAX_UPLOAD_SIZE:
            raise _ApiError(413, "Request Entity Too Large")
        return value

    def _with_caption(self, chat: JSON, params: _Params, markup: JSON | None) -> JSON:
        message = self._new_bot_message(chat)
        caption = _format_text(params.opt_str("caption") or "", params.opt_str("parse_mode"))
        if len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        if caption:
            message["caption"] = caption
        if markup:
            message["reply_markup"] = markup
        return message

    def _send_photo(self, params: _Params) -> JSON:
        chat = self._chat(params)
        upload = self._upload(params, "photo")
        stored = self._register_photo(upload.data)
        markup = _validate_markup(params.parsed("reply_markup"))
        message = self._with_caption(chat, params, markup)
        message["photo"] = stored.photo_sizes
        self._record("sendPhoto", message, markup, params, stored, upload.filename)
        return message

    def _send_document(self, params: _Params) -> JSON:
        chat = self._chat(params)
        upload = self._upload(params, "document")
        filename = upload.filename or "document"
        mime_type = upload.content_type
        if not mime_type or mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        extension = "." + filename.rsplit(".", 1)[1] if "." in filename else ""
        stored = self._register_file(upload.data, "documents", extension, "BQACAgUA")
        markup = _validate_markup(params.parsed("reply_markup"))
        message = self._with_caption(chat, params, markup)
        message["document"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(upload.data),
        }
        self._record("sendDocument", message, markup, params, stored, filename)
        return message

    def _get_file(self, params: _Params) -> JSON:
        stored = self._files.get(params.opt_str("file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        size = len(stored.data or b"")
        if size > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": size,
            "file_path": stored.file_path,
        }

    @staticmethod
    def _commands_key(scope: Any, language_code: str | None) -> tuple[str, str]:
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True), language_code or ""

    def _set_my_commands(self, params: _Params) -> bool:
        commands = params.parsed("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        cleaned: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _COMMAND_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = self._commands_key(params.parsed("scope"), params.opt_str("language_code"))
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    # ---------------------------------------------------------------- simulated users

    def _user_chat(self, user: SimUser, chat: Mapping[str, Any] | None) -> JSON:
        chat_dict = user.private_chat() if chat is None else dict(chat)
        self._chats[chat_dict["id"]] = chat_dict
        return chat_dict

    def _user_message(self, user: SimUser, chat: Mapping[str, Any] | None, content: JSON) -> JSON:
        chat_dict = self._user_chat(user, chat)
        message: JSON = {
            "message_id": self._next_message_id(chat_dict["id"]),
            "from": user.as_dict(),
            "chat": chat_dict,
            "date": self._now(),
            **content,
        }
        self._messages[(chat_dict["id"], message["message_id"])] = message
        return message

    def user_sends_message(
        self, user: SimUser, content: JSON, chat: Mapping[str, Any] | None = None
    ) -> int:
        """The user sends a message of any kind: ``content`` is what it holds besides the
        sender, chat and date (e.g. ``{"voice": {...}}``)."""
        with self._lock:
            update_id = self._enqueue("message", self._user_message(user, chat, content))
        self._after_enqueue()
        return update_id

    def user_sends_text(
        self,
        user: SimUser,
        text: str,
        chat: Mapping[str, Any] | None = None,
    ) -> int:
        """The user sends ``text``; a leading /command gets its bot_command entity."""
        content: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": _u16(command)}]
        return self.user_sends_message(user, content, chat)

    def user_sends_photo(
        self,
        user: SimUser,
        size_bytes: int = 50_000,
        caption: str | None = None,
        chat: Mapping[str, Any] | None = None,
    ) -> int:
        """The user sends a photo of ``size_bytes`` (downloadable; see ``file_bytes``)."""
        with self._lock:
            stored = self._register_photo(fake_jpeg(size_bytes, seed=next(self._file_numbers)))
            content: JSON = {"photo": stored.photo_sizes}
            if caption is not None:
                content["caption"] = caption
            update_id = self._enqueue("message", self._user_message(user, chat, content))
        self._after_enqueue()
        return update_id

    def user_forwards_text(
        self,
        user: SimUser,
        text: str,
        origin: SimUser | None = None,
        chat: Mapping[str, Any] | None = None,
    ) -> int:
        """A forwarded text; from ``origin`` or, by default, from a user hiding their account."""
        date = self._now() - 3600
        forward_origin: JSON = (
            {"type": "user", "date": date, "sender_user": origin.as_dict()}
            if origin is not None
            else {"type": "hidden_user", "date": date, "sender_user_name": "张三"}
        )
        return self.user_sends_message(user, {"text": text, "forward_origin": forward_origin}, chat)

    def user_edits_message(
        self,
        user: SimUser,
        message_id: int,
        new_text: str,
        chat: Mapping[str, Any] | None = None,
    ) -> int:
        """The user edits one of their earlier text messages (an ``edited_message`` update)."""
        chat_id = user.id if chat is None else int(chat["id"])
        with self._lock:
            old = self._messages.get((chat_id, message_id))
            if old is None or old.get("from", {}).get("id") != user.id:
                raise ValueError(f"user {user.id} has no message {message_id} in chat {chat_id}")
            new = {k: v for k, v in old.items() if k != "entities"}
            new["text"] = new_text
            new["edit_date"] = self._now()
            if new_text.startswith("/"):
                command = new_text.split(maxsplit=1)[0]
                new["entities"] = [{"type": "bot_command", "offset": 0, "length": _u16(command)}]
            self._messages[(chat_id, message_id)] = new
            update_id = self._enqueue("edited_message", new)
        self._after_enqueue()
        return update_id

    def user_sends_update(self, update: Mapping[str, Any]) -> int:
        """Queue a raw update (without ``update_id``); its first key is its kind."""
        payload = {k: v for k, v in update.items() if k != "update_id"}
        if len(payload) != 1:
            raise ValueError("an update has exactly one field besides update_id")
        ((kind, body),) = payload.items()
        with self._lock:
            update_id = self._enqueue(kind, body)
        self._after_enqueue()
        return update_id

    def user_presses(
        self,
        user: SimUser,
        message_id: int,
        callback_data: str,
        chat: Mapping[str, Any] | None = None,
    ) -> int:
        """The user presses an inline button of the bot's message ``message_id``."""
        chat_id = user.id if chat is None else int(chat["id"])
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            query_id = str(next(self._callback_ids))
            self._open_queries.add(query_id)
            query = {
                "id": query_id,
                "from": user.as_dict(),
                "message": message,
                "chat_instance": str(-(abs(chat_id) * 7919 + 1_000_003)),
                "data": callback_data,
            }
            update_id = self._enqueue("callback_query", query)
        self._after_enqueue()
        return update_id

    def press_button(self, user: SimUser, label: str, chat: Mapping[str, Any] | None = None) -> int:
        """Press the button labelled ``label`` on the newest bot message showing it."""
        chat_id = user.id if chat is None else int(chat["id"])
        seen: list[str] = []
        with self._lock:
            for message_id in reversed(self._bot_message_ids.get(chat_id, [])):
                markup = self._messages[(chat_id, message_id)].get("reply_markup") or {}
                for button in itertools.chain.from_iterable(markup.get("inline_keyboard", [])):
                    if button.get("text") == label and "callback_data" in button:
                        data = str(button["callback_data"])
                        break
                    seen.append(str(button.get("text")))
                else:
                    continue
                break
            else:
                raise AssertionError(
                    f"no bot message in chat {chat_id} has a callback button {label!r}; "
                    f"buttons seen (newest first): {seen}"
                )
        return self.user_presses(user, message_id, data, chat)

    # ---------------------------------------------------------------- observing

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages sent and edited by the bot, oldest first (all chats by default)."""
        with self._lock:
            if chat_id is None:
                return list(self._sent)
            return list(self._sent_by_chat.get(chat_id, ()))

    def messages_to(self, chat_id: int) -> list[str]:
        """Texts and captions the bot sent to ``chat_id`` (sends and text edits), in order."""
        return [
            m.text
            for m in self.sent(chat_id)
            if m.text is not None and m.method != "editMessageReplyMarkup"
        ]

    def current_message(self, chat_id: int, message_id: int) -> JSON:
        """A message as it is now (after edits), as Telegram would show it."""
        with self._lock:
            message = self._messages.get((chat_id, message_id))
        if message is None:
            raise KeyError((chat_id, message_id))
        copy: JSON = json.loads(_JSON_DUMPS(message))
        return copy

    def file_bytes(self, file_id: str) -> bytes:
        with self._lock:
            stored = self._files[file_id]
        return stored.data or b""

    def update(self, update_id: int) -> JSON:
        """An update as queued (also after it was confirmed)."""
        with self._lock:
            body = self._update_log[update_id]
        update: JSON = json.loads(body)
        return update

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        with self._lock:
            return list(self._callback_answers)

    @property
    def commands(self) -> dict[tuple[str, str], list[JSON]]:
        """setMyCommands store: (scope as sorted JSON, language_code or '') -> commands."""
        with self._lock:
            return {key: [dict(c) for c in value] for key, value in self._commands.items()}

    def command_list(
        self, scope: Mapping[str, Any] | None = None, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        """(command, description) pairs set for ``scope`` (default scope) and language."""
        key = self._commands_key(dict(scope) if scope else None, language_code)
        with self._lock:
            return [(c["command"], c["description"]) for c in self._commands.get(key, [])]

    @property
    def get_updates_offsets(self) -> list[int | None]:
        with self._lock:
            return list(self._get_updates_offsets)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, method: str) -> list[RequestRecord]:
        key = method.lower()
        return [r for r in self.requests if r.method.lower() == key]

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        with self._lock:
            return list(self._webhook_deliveries)

    @property
    def webhook_url(self) -> str:
        with self._lock:
            return self._webhook_url

    def pending_updates(self) -> int:
        """Updates not yet confirmed (by a getUpdates offset or a webhook 2xx)."""
        with self._lock:
            return len(self._pending)

    def pending_update_ids(self) -> list[int]:
        """Ids of the updates not yet confirmed, oldest first."""
        with self._lock:
            return [update_id for update_id, _, _ in self._pending]

    def handouts(self, update_id: int) -> list[float]:
        """When getUpdates answers carried this update (monotonic(), as in SentMessage).

        More than one time means the update was delivered again (it was not confirmed).
        Webhook deliveries are in ``webhook_deliveries`` instead.
        """
        with self._lock:
            return list(self._handouts.get(update_id, ()))

    def all_handouts(self) -> dict[int, list[float]]:
        """``handouts`` of every update handed out so far."""
        with self._lock:
            return {update_id: list(times) for update_id, times in self._handouts.items()}

    def sent_since(self, start: int) -> list[SentMessage]:
        """``sent()[start:]`` without copying the whole record (for observers that poll)."""
        with self._lock:
            return self._sent[start:]

    # ---------------------------------------------------------------- waiting

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10,
        describe: Callable[[], str] | None = None,
    ) -> T:
        """Block until ``predicate()`` returns something truthy, and return it.

        The predicate is re-evaluated whenever the fake's state changes. On timeout an
        AssertionError lists what the bot sent (``describe`` can say more).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                version = self._version
            result = predicate()
            if result:
                return result
            with self._lock:
                while self._version == version:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._changed.wait(remaining)
                else:
                    continue
            result = predicate()
            if result:
                return result
            details = describe() if describe is not None else self._describe_sent(None)
            raise AssertionError(f"condition not met within {timeout} s; {details}")

    def wait_for_messages(self, chat_id: int, count: int, timeout: float = 10) -> list[SentMessage]:
        """Wait until the bot has sent (or edited) at least ``count`` messages to ``chat_id``."""
        return self.wait_for(
            lambda: sent if len(sent := self.sent(chat_id)) >= count else None,
            timeout,
            lambda: f"expected {count} messages. {self._describe_sent(chat_id)}",
        )

    def wait_for_text(
        self, chat_id: int, fragment: str, timeout: float = 10, *, since: int = 0
    ) -> SentMessage:
        """Wait for a message to ``chat_id`` containing ``fragment``; return the first one.

        ``since`` skips the first ``since`` records of ``sent(chat_id)``.
        """

        def find() -> SentMessage | None:
            for message in self.sent(chat_id)[since:]:
                if message.text is not None and fragment in message.text:
                    return message
            return None

        return self.wait_for(
            find,
            timeout,
            lambda: f"expected a message containing {fragment!r}. {self._describe_sent(chat_id)}",
        )

    def _describe_sent(self, chat_id: int | None) -> str:
        sent = self.sent(chat_id)
        where = "in all chats" if chat_id is None else f"to chat {chat_id}"
        if not sent:
            return f"the bot sent nothing {where}"
        lines = [
            f"  [{i}] {m.method} #{m.message_id} (chat {m.chat_id}): {m.text!r}"
            + (f" buttons={m.button_labels}" if m.buttons else "")
            for i, m in enumerate(sent[-30:], start=max(len(sent) - 30, 0))
        ]
        return f"the bot sent {len(sent)} {where}:\n" + "\n".join(lines)

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        retry_after: int = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of handling them."""
        parameters: JSON | None = None
        if error_code == 429:
            parameters = {"retry_after": retry_after}
            description = description or f"Too Many Requests: retry after {retry_after}"
        elif description is None:
            try:
                description = HTTPStatus(error_code).phrase
            except ValueError:
                description = f"Error {error_code}"
            if error_code == 400:
                description = "Bad Request"
        fault = _Fault(error_code, description, parameters)
        with self._lock:
            self._faults.setdefault(method.lower(), deque()).extend([fault] * times)

    def hold_next(self, method: str, times: int = 1) -> None:
        """Leave the next ``times`` calls of ``method`` unanswered (a Bot API call in flight)
        until `release_held`; a held call whose client disconnects is never carried out."""
        with self._lock:
            key = method.lower()
            self._holds[key] = self._holds.get(key, 0) + times

    def held(self) -> int:
        """How many calls are being held now."""
        with self._lock:
            return self._held

    def release_held(self) -> None:
        """Let the held calls go on (those whose client is gone are dropped)."""
        with self._lock:
            self._holds.clear()
            self._releases += 1
        self._wake()

    def drop_connection_next(self, method: str, times: int = 1) -> None:
        """Close the connection of the next ``times`` calls of ``method`` without answering."""
        with self._lock:
            key = method.lower()
            self._drops[key] = self._drops.get(key, 0) + times


async def poll_while(app: Any, during: Callable[[], T], *, timeout: float = 1.0) -> T:
    """Run a PTB ``Application`` with polling while ``during()`` runs in a worker thread.

    ``during`` is where the simulated users act and the ``wait_for*`` calls block; it must
    not run on the event loop the application uses. Returns what ``during`` returns.
    """
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=timeout)
        try:
            return await asyncio.to_thread(during)
        finally:
            await app.updater.stop()
            await app.stop()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class InProcessRequest(BaseRequest):
    """PTB's request seam answered by a FakeTelegram in process: the same Bot API methods,
    faults and state as over HTTP, without a socket, a server thread or JSON over the wire.

    Pass one as ``request`` and another as ``get_updates_request`` (PTB wants two).
    """

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        return await self._fake.answer_in_process(url, method, request_data)
