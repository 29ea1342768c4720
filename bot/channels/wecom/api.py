"""The WeCom server API, as far as Huibao uses it (httpx).

* gettoken (https://developer.work.weixin.qq.com/document/path/91039): the access_token is
  cached until shortly before it expires, and fetched again when a call answers 40014
  (invalid) or 42001 (expired);
* message/send (/90236): text, template_card (button_interaction), file, image;
* message/update_template_card (/94888): grey out the buttons of a pressed card;
* media/upload (/90253) and media/get (/90254).

Every answer carries errcode/errmsg (global codes: /90313). Errors become WecomError,
`permanent` when sending again cannot help (the person is not in the app's visible range,
the request itself is refused). The access_token and the secret travel in URLs; httpx logs
request URLs at INFO, so a filter on its logger masks them (`install_log_redaction`).

The HTTP client (hence its transport) and the pause between retries come from outside, so
tests talk to a fake WeCom in process and wait in virtual time.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

TOKEN_CODES = frozenset({40014, 42001})  # invalid / expired access_token: fetch a new one
BUSY_CODES = frozenset({-1, 45033})  # system busy, too many concurrent calls: try again
FLOOD_CODE = 45009  # API call limit reached
# Sending the same request again gives the same answer.
PERMANENT_CODES = frozenset(
    {
        40003,  # invalid UserID
        60111,  # UserID not found
        81013,  # every recipient invalid or outside the app's visible range
        40004,  # invalid media type
        40005,  # invalid file type
        40006,  # invalid file size
        40007,  # invalid media_id
        40008,  # invalid message type
        40009,  # invalid image size
        40058,  # invalid parameter
        44004,  # empty text
    }
)
FLOOD_WAIT = 60.0

Sleep = Callable[[float], Awaitable[None]]


class WecomError(Exception):
    """A WeCom API call failed; `errcode` is None when WeCom could not be reached."""

    def __init__(self, reason: str, errcode: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errcode = errcode

    @property
    def permanent(self) -> bool:
        """Whether trying again cannot help."""
        return self.errcode in PERMANENT_CODES

    @property
    def retry_after(self) -> float | None:
        """How long to wait before trying again, when WeCom said to slow down."""
        return FLOOD_WAIT if self.errcode == FLOOD_CODE else None


class TooLarge(Exception):
    """A file to download is over the size limit."""


@dataclass(frozen=True, slots=True)
class Download:
    """A downloaded media file."""

    content: bytes
    content_type: str


class RedactSecrets(logging.Filter):
    """Masks access_token and corpsecret values in log lines (httpx logs request URLs)."""

    PATTERN = re.compile(r"\b(access_token|corpsecret)=[^&\s\"'>]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.PATTERN.sub(r"\1=***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction() -> None:
    """Put RedactSecrets on httpx's logger, once."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())


class WecomApi:
    """One self-built app's API client.

    Args:
        client: the HTTP client; tests give one whose transport is a fake WeCom.
        monotonic: the clock of the access token's lifetime.
        sleep: the pause between retries.
    """

    def __init__(
        self,
        *,
        base_url: str,
        corp_id: str,
        agent_id: int,
        secret: str,
        client: httpx.AsyncClient | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        install_log_redaction()
        self._base = base_url.rstrip("/") + "/cgi-bin"
        self._corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))
        self._retries = retries
        self._backoff = backoff
        self._monotonic = monotonic
        self._sleep = sleep
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    # -- access token -------------------------------------------------------------------

    async def access_token(self) -> str:
        """The cached access_token, fetched when missing or about to expire."""
        async with self._token_lock:
            if self._token is None or self._monotonic() >= self._token_until:
                data = await self._json(
                    "GET",
                    "/gettoken",
                    params={"corpid": self._corp_id, "corpsecret": self._secret},
                    with_token=False,
                )
                token = data.get("access_token")
                if not isinstance(token, str) or not token:
                    raise WecomError("gettoken: no access_token in the answer")
                lifetime = float(data.get("expires_in") or 7200)
                self._token = token
                # refresh five minutes early, as WeCom recommends
                self._token_until = self._monotonic() + max(60.0, lifetime - 300)
            return self._token

    def _forget(self, token: str) -> None:
        if self._token == token:
            self._token = None

    # -- calls --------------------------------------------------------------------------

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        with_token: bool = True,
    ) -> dict[str, Any]:
        async with self._response(
            method, path, params=params, json=json, files=files, with_token=with_token
        ) as response:
            await response.aread()
            return self._checked(path, response)

    @asynccontextmanager
    async def _response(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        with_token: bool = True,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed answer with errcode 0 (or a file); retries network errors, busy
        answers and a stale token. Never puts the URL in an error (it holds the token)."""
        token_retried = False
        attempt = 0
        while True:
            query = dict(params or {})
            token = ""
            if with_token:
                token = await self.access_token()
                query["access_token"] = token
            request = self._client.build_request(
                method, self._base + path, params=query, json=json, files=files
            )
            failure: WecomError
            try:
                response = await self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                failure = WecomError(f"{path}: {type(exc).__name__}")
            else:
                try:
                    if response.status_code >= 500:
                        failure = WecomError(f"{path}: HTTP {response.status_code}")
                    elif _is_json(response):
                        await response.aread()
                        try:
                            self._checked(path, response)
                        except WecomError as error:
                            if error.errcode in TOKEN_CODES and with_token and not token_retried:
                                token_retried = True
                                self._forget(token)
                                continue
                            if error.errcode not in BUSY_CODES:
                                raise
                            failure = error
                        else:
                            yield response
                            return
                    else:
                        yield response
                        return
                finally:
                    await response.aclose()
            if attempt >= self._retries:
                raise failure
            delay = self._backoff * 2**attempt
            attempt += 1
            log.warning("WeCom %s failed (%s); retrying in %.1f s", path, failure.reason, delay)
            await self._sleep(delay)

    @staticmethod
    def _checked(path: str, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError as exc:
            raise WecomError(f"{path}: HTTP {response.status_code}, not JSON") from exc
        if not isinstance(data, dict):
            raise WecomError(f"{path}: unexpected answer")
        code = data.get("errcode", 0)
        if code != 0:
            errcode = (
                int(code)
                if isinstance(code, int | str) and str(code).lstrip("-").isdigit()
                else None
            )
            raise WecomError(f"{path}: errcode {code} {data.get('errmsg', '')}".strip(), errcode)
        return data

    # -- what Huibao uses ---------------------------------------------------------------

    async def send_message(self, user: str, msgtype: str, body: dict[str, Any]) -> dict[str, Any]:
        """message/send to one member; raises WecomError (81013 when they cannot get it)."""
        payload = {"touser": user, "msgtype": msgtype, "agentid": self.agent_id, msgtype: body}
        data = await self._json("POST", "/message/send", json=payload)
        # One recipient: an "invalid" or "unlicensed" list naming them means not delivered.
        for field in ("invaliduser", "unlicenseduser"):
            if user in str(data.get(field) or "").split("|"):
                raise WecomError(f"/message/send: {field} {user}", 81013)
        return data

    async def update_card_button(self, response_code: str, replace_name: str) -> None:
        """Grey out the buttons of the card a member pressed, showing `replace_name`."""
        payload = {
            "agentid": self.agent_id,
            "response_code": response_code,
            "button": {"replace_name": replace_name},
        }
        await self._json("POST", "/message/update_template_card", json=payload)

    async def upload(self, kind: str, filename: str, content: bytes, mime_type: str) -> str:
        """media/upload a temporary file ('image' or 'file'); its media_id (valid 3 days)."""
        data = await self._json(
            "POST",
            "/media/upload",
            params={"type": kind},
            files={"media": (filename, content, mime_type)},
        )
        media_id = data.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WecomError("/media/upload: no media_id in the answer")
        return media_id

    async def download(self, media_id: str, limit: int) -> Download:
        """media/get a file a member sent; TooLarge past `limit` bytes."""
        async with self._response("GET", "/media/get", params={"media_id": media_id}) as response:
            declared = response.headers.get("content-length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > limit:
                raise TooLarge(media_id)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(media_id)
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            return Download(b"".join(chunks), content_type)


def _is_json(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return "json" in content_type or "text/plain" in content_type
