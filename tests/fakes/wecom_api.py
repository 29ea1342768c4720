"""A fake WeCom server API (qyapi) for tests: in process, or over real HTTP on 127.0.0.1.

    fake = FakeWecom()
    api = WecomApi(base_url=fake.base_url, corp_id=fake.corp_id, agent_id=fake.agent_id,
                   secret=fake.secret, client=fake.client())  # in process, no socket
    ...
    fake.wait_for_text("lihua", "欢迎")

    with FakeWecom() as fake:  # served on a free port, for `huibao run`
        ...

Endpoints, with the checks the real API makes where Huibao could get them wrong:

* ``GET /cgi-bin/gettoken``: corpid and corpsecret must match; tokens live 7200 s, and
  ``expire_tokens()`` makes every token issued so far answer 42001;
* ``POST /cgi-bin/message/send``: text (at most 2048 bytes: longer is cut, as WeCom does,
  and the cut is recorded), template_card of type button_interaction (task_id unique, of
  ``[A-Za-z0-9_@-]`` and at most 128 bytes; 1-6 buttons with unique keys of at most 1024
  bytes; a title or a sub-title), file and image (a media_id from media/upload of that
  type); a recipient outside ``known_users`` (when given) gets 81013; cards answer with a
  single-use ``response_code``. With ``member_limit=(n, seconds)``, messages past n in any
  window of that many seconds to one member are answered "ok" and dropped, as WeCom does;
* ``POST /cgi-bin/message/update_template_card``: consumes a response_code once;
* ``POST /cgi-bin/media/upload?type=image|file``: multipart field ``media``; at least 5
  bytes, images up to 10 MB, files up to 20 MB;
* ``GET /cgi-bin/media/get``: files added with ``add_media``.

Every answer is JSON with errcode/errmsg (a file for media/get). ``fail_next(path, errcode)``
makes the next calls of a path fail. Times (``Sent.at``, and the member limit's window) come
from ``monotonic``, a virtual clock in the pacing tests. In process, the fake runs on the
caller's event loop; served, in a thread of its own. State is guarded by one lock, and
``wait_for*`` block on a condition of it. Multipart bodies are
parsed with the standard library's email parser (python-multipart is not installed).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

T = TypeVar("T")

TEXT_LIMIT = 2048
TASK_ID = re.compile(r"^[A-Za-z0-9_@-]{1,128}$")
UPLOAD_LIMITS = {"image": 10 * 1024 * 1024, "file": 20 * 1024 * 1024}


@dataclass
class Sent:
    """One message/send call that WeCom accepted."""

    user: str
    msgtype: str
    body: dict[str, Any]
    at: float  # the fake's monotonic clock
    response_code: str | None = None
    truncated: bool = False
    updated_to: str | None = None  # a card's replace_name after update_template_card

    @property
    def text(self) -> str:
        """What the member reads: a text's content, a card's title and sub-title."""
        if self.msgtype == "text":
            return str(self.body.get("content", ""))
        if self.msgtype == "template_card":
            title = self.body.get("main_title", {}).get("title", "")
            return f"{title}\n{self.body.get('sub_title_text', '')}".strip()
        return ""

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, key) of a card's buttons."""
        if self.msgtype != "template_card":
            return []
        return [(b["text"], b["key"]) for b in self.body.get("button_list", [])]

    @property
    def task_id(self) -> str:
        return str(self.body.get("task_id", ""))


@dataclass
class Upload:
    """A file uploaded with media/upload."""

    kind: str
    filename: str
    content: bytes
    content_type: str


@dataclass
class Call:
    """One request, as the fake saw it (query without the token's value)."""

    method: str
    path: str
    query: dict[str, str]


class FakeWecom:
    """A fake WeCom API server; see the module docstring."""

    def __init__(
        self,
        *,
        corp_id: str = "ww1a2b3c4d5e6f7a8b",
        agent_id: int = 1000002,
        secret: str = "app-secret-0123456789abcdefghij",
        known_users: set[str] | None = None,
        member_limit: tuple[int, float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.secret = secret
        self.known_users = known_users
        self.member_limit = member_limit
        self.monotonic = monotonic
        self.port = 0
        self._lock = threading.RLock()  # predicates of wait_for may call messages_to
        self._changed = threading.Condition(self._lock)
        self._tokens: dict[str, bool] = {}  # token -> still valid
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.dropped: list[Sent] = []
        self.uploads: dict[str, Upload] = {}
        self._media: dict[str, tuple[bytes, str]] = {}
        self._task_ids: set[str] = set()
        self._response_codes: dict[str, Sent] = {}
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._failures: dict[str, deque[int]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._asgi = Starlette(
            routes=[
                Route("/cgi-bin/gettoken", self._gettoken, methods=["GET"]),
                Route("/cgi-bin/message/send", self._send, methods=["POST"]),
                Route("/cgi-bin/message/update_template_card", self._update_card, methods=["POST"]),
                Route("/cgi-bin/media/upload", self._upload, methods=["POST"]),
                Route("/cgi-bin/media/get", self._media_get, methods=["GET"]),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- life cycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The served address; before `start`, one only `client()` reaches."""
        return f"http://127.0.0.1:{self.port}" if self.port else "http://qyapi.fake.invalid"

    def client(self) -> httpx.AsyncClient:
        """An HTTP client whose requests this fake answers in process (no server needed)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self._asgi))

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
        )
        self._server = server = uvicorn.Server(config)

        async def serve() -> None:
            task = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            self._ready.set()
            await task

        self._thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
        self._thread.start()
        if not self._ready.wait(15) or not server.started:
            raise RuntimeError("FakeWecom did not start")
        self._socket = sock

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._socket.close()

    def __enter__(self) -> FakeWecom:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- knobs and observations ---------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every access_token issued so far answers 42001 from now on."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = False

    @property
    def tokens_issued(self) -> int:
        with self._lock:
            return len(self._tokens)

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        """The next `times` calls of /cgi-bin/`path` answer `errcode`."""
        with self._lock:
            self._failures[path].extend([errcode] * times)

    def add_media(self, content: bytes, content_type: str = "image/jpeg") -> str:
        """A file a member sent, to be fetched with media/get; its media_id."""
        media_id = f"MEDIA{next(self._ids)}{secrets.token_hex(8)}"
        with self._lock:
            self._media[media_id] = (content, content_type)
        return media_id

    def messages_to(self, user: str) -> list[Sent]:
        with self._lock:
            return [m for m in self.sent if m.user == user]

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate()  # it reads the lists; the lock is held here
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s")
                self._changed.wait(min(left, 0.05))

    def wait_for_cards(self, user: str, count: int, timeout: float = 10.0) -> list[Sent]:
        """The first `count` cards to `user`, once they were sent."""

        def enough() -> list[Sent] | None:
            cards = [m for m in self.sent if m.user == user and m.buttons]
            return cards[:count] if len(cards) >= count else None

        return self.wait_for(enough, timeout)

    def wait_for_text(
        self, user: str, fragment: str, *, since: int = 0, timeout: float = 10.0
    ) -> Sent:
        """The first message to `user` (from index `since`) whose text holds `fragment`."""

        def found() -> Sent | None:
            mine = [m for m in self.sent if m.user == user][since:]
            return next((m for m in mine if fragment in m.text), None)

        try:
            return self.wait_for(found, timeout)
        except AssertionError:
            said = [m.text or m.msgtype for m in self.messages_to(user)[since:]]
            raise AssertionError(f"{user} never got {fragment!r}; got {said}") from None

    def card_with(self, user: str, label: str) -> Sent:
        """The latest card to `user` with a button labelled `label`."""
        for message in reversed(self.messages_to(user)):
            if any(text == label for text, _ in message.buttons):
                return message
        raise AssertionError(f"no card with {label!r} sent to {user}")

    # -- endpoints ----------------------------------------------------------------------

    def _record(self, request: Request) -> JSONResponse | None:
        """Log the call; check the token; apply a planned failure."""
        path = request.url.path.removeprefix("/cgi-bin/")
        query = dict(request.query_params)
        with self._changed:
            self.calls.append(Call(request.method, path, query))
            failures = self._failures.get(path)
            if failures:
                code = failures.popleft()
                return _error(code, "planned failure")
            if path != "gettoken":
                valid = self._tokens.get(query.get("access_token", ""))
                if valid is None:
                    return _error(40014, "invalid access_token")
                if not valid:
                    return _error(42001, "access_token expired")
        return None

    async def _gettoken(self, request: Request) -> Response:
        if (problem := self._record(request)) is not None:
            return problem
        if request.query_params.get("corpid") != self.corp_id:
            return _error(40013, "invalid corpid")
        if request.query_params.get("corpsecret") != self.secret:
            return _error(40001, "invalid credential")
        token = secrets.token_urlsafe(48)
        with self._changed:
            self._tokens[token] = True
        return JSONResponse(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
        )

    async def _send(self, request: Request) -> Response:
        if (problem := self._record(request)) is not None:
            return problem
        payload = json.loads(await request.body())
        user, msgtype = payload.get("touser", ""), payload.get("msgtype", "")
        if payload.get("agentid") != self.agent_id:
            return _error(40056, "invalid agentid")
        if not user or "|" in user:
            return _error(40058, "touser: one member please")
        body = payload.get(msgtype)
        if not isinstance(body, dict):
            return _error(40008, "invalid message type")
        sent = Sent(user, msgtype, body, self.monotonic())
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "msgid": f"msg{next(self._ids)}"}
        with self._changed:
            if self.known_users is not None and user not in self.known_users:
                return JSONResponse(
                    {
                        "errcode": 81013,
                        "errmsg": "user & party & tag all invalid",
                        "invaliduser": user,
                    }
                )
            problem = self._check(sent)
            if problem is not None:
                return problem
            if msgtype == "template_card":
                sent.response_code = f"RC{next(self._ids)}{secrets.token_hex(6)}"
                self._task_ids.add(sent.task_id)
                self._response_codes[sent.response_code] = sent
                answer["response_code"] = sent.response_code
            if self._over_limit(user, sent.at):
                self.dropped.append(sent)  # WeCom says ok and drops it
            else:
                self.sent.append(sent)
            self._changed.notify_all()
        return JSONResponse(answer)

    def _check(self, sent: Sent) -> JSONResponse | None:
        body = sent.body
        if sent.msgtype == "text":
            content = str(body.get("content", ""))
            if not content:
                return _error(44004, "empty content")
            raw = content.encode()
            if len(raw) > TEXT_LIMIT:
                body["content"] = raw[:TEXT_LIMIT].decode(errors="ignore")
                sent.truncated = True
            return None
        if sent.msgtype == "template_card":
            if body.get("card_type") != "button_interaction":
                return _error(40058, "card_type")
            task_id = str(body.get("task_id", ""))
            if not TASK_ID.match(task_id) or task_id in self._task_ids:
                return _error(40058, "task_id missing, malformed or used before")
            buttons = body.get("button_list") or []
            keys = [b.get("key", "") for b in buttons]
            if not 1 <= len(buttons) <= 6 or len(set(keys)) != len(keys):
                return _error(40058, "button_list: 1-6 buttons with distinct keys")
            if any(
                not k or len(k.encode()) > 1024 or not b.get("text")
                for b, k in zip(buttons, keys, strict=True)
            ):
                return _error(40058, "button key or text")
            title = body.get("main_title", {}).get("title")
            if not title and not body.get("sub_title_text"):
                return _error(40058, "main_title.title or sub_title_text")
            return None
        if sent.msgtype in ("file", "image"):
            upload = self.uploads.get(str(body.get("media_id", "")))
            if upload is None or upload.kind != sent.msgtype:
                return _error(40007, "invalid media_id")
            return None
        return _error(40008, "invalid message type")

    def _over_limit(self, user: str, now: float) -> bool:
        if self.member_limit is None:
            return False
        limit, window = self.member_limit
        recent = self._recent[user]
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) >= limit:
            return True
        recent.append(now)
        return False

    async def _update_card(self, request: Request) -> Response:
        if (problem := self._record(request)) is not None:
            return problem
        payload = json.loads(await request.body())
        code = payload.get("response_code", "")
        name = payload.get("button", {}).get("replace_name", "")
        with self._changed:
            card = self._response_codes.pop(code, None)
            if card is None or payload.get("agentid") != self.agent_id or not name:
                return _error(40058, "invalid response_code")
            card.updated_to = name
            self._changed.notify_all()
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def _upload(self, request: Request) -> Response:
        if (problem := self._record(request)) is not None:
            return problem
        kind = request.query_params.get("type", "")
        if kind not in UPLOAD_LIMITS:
            return _error(40004, "invalid media type")
        parsed = _multipart(request.headers.get("content-type", ""), await request.body())
        if parsed is None:
            return _error(40058, "no media field")
        filename, content, content_type = parsed
        if len(content) < 5 or len(content) > UPLOAD_LIMITS[kind]:
            return _error(40006, "invalid file size")
        media_id = f"UP{next(self._ids)}{secrets.token_hex(8)}"
        with self._changed:
            self.uploads[media_id] = Upload(kind, filename, content, content_type)
            self._changed.notify_all()
        return JSONResponse(
            {"errcode": 0, "errmsg": "", "type": kind, "media_id": media_id, "created_at": "0"}
        )

    async def _media_get(self, request: Request) -> Response:
        if (problem := self._record(request)) is not None:
            return problem
        with self._lock:
            found = self._media.get(request.query_params.get("media_id", ""))
        if found is None:
            return _error(40007, "invalid media_id")
        content, content_type = found
        return Response(content, media_type=content_type)


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": message})


def _multipart(content_type: str, body: bytes) -> tuple[str, bytes, str] | None:
    """(filename, bytes, content type) of the `media` field of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():  # type: ignore[attr-defined]
        if part.get_param("name", header="content-disposition") == "media":
            payload = part.get_payload(decode=True) or b""
            return part.get_filename() or "", payload, part.get_content_type()
    return None
