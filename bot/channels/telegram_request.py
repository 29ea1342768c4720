"""PTB's request seam (`telegram.request.BaseRequest`) served by aiohttp.

PTB's own `HTTPXRequest` spends most of a Bot API call in httpx, httpcore, h11 and anyio
(measured against a local server: 830–1,020 µs CPU per JSON request, against 170–240 µs
with aiohttp, whose HTTP parser is C; benchmarks/README.md). Calls without a file post
their parameters as one JSON body: PTB form-encodes them, and urllib percent-encodes a
Chinese text byte by byte in Python. Uploads go as multipart, as PTB sends them.

Proxies come from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as httpx took them.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON_HEADERS = {"User-Agent": BaseRequest.USER_AGENT, "Content-Type": "application/json"}
PLAIN_HEADERS = {"User-Agent": BaseRequest.USER_AGENT}

log = logging.getLogger(__name__)


class AiohttpRequest(BaseRequest):
    """Bot API calls over one aiohttp session with a pool of keep-alive connections."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 30.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        """Timeouts as PTB's: `pool_timeout` is the wait for a free connection, and the
        write timeout bounds sending the request (an upload: `media_write_timeout`)."""
        self._pool_size = connection_pool_size
        self._defaults = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        """The read timeout of a call that does not give its own."""
        return self._defaults[0]

    async def initialize(self) -> None:
        """Open the session (in the running event loop)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=True, auto_decompress=True
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _timeout(
        self, read: Any, write: Any, connect: Any, pool: Any, files: bool
    ) -> aiohttp.ClientTimeout:
        d_read, d_write, d_connect, d_pool = self._defaults
        read = d_read if isinstance(read, DefaultValue) else read
        write = (
            (self._media_write_timeout if files else d_write)
            if isinstance(write, DefaultValue)
            else write
        )
        connect = d_connect if isinstance(connect, DefaultValue) else connect
        pool = d_pool if isinstance(pool, DefaultValue) else pool
        key = (read, write, connect, pool)
        timeout = self._timeouts.get(key)
        if timeout is None:
            # aiohttp's `connect` is the wait for a pooled connection plus the TCP connect;
            # `sock_read` the silence allowed while the answer is awaited (a long poll).
            # A write is bounded by read + write in all (aiohttp has no write timeout).
            waited = None if pool is None and connect is None else (pool or 0) + (connect or 0)
            total = None if read is None or write is None else waited_total(read, write, waited)
            timeout = aiohttp.ClientTimeout(
                total=total, connect=waited, sock_connect=connect, sock_read=read
            )
            if len(self._timeouts) < 64:
                self._timeouts[key] = timeout
        return timeout

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
        """One HTTP call; (status, body). Errors as PTB's: TimedOut, NetworkError."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, pool_timeout, files)
        body: Any = None
        headers = PLAIN_HEADERS
        if request_data is not None:
            if files:
                body = _multipart(request_data)
            else:
                body = request_data.json_payload
                headers = JSON_HEADERS
        try:
            async with session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                content = await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error
        # each call as httpx logged them (the URL's token is redacted by the log handler):
        # a refused one at INFO, the rest at DEBUG (a line per update costs CPU at INFO)
        level = logging.DEBUG if response.status < 300 else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level, 'HTTP Request: %s %s "%s %s"', method, url, response.status, response.reason
            )
        return response.status, content


def waited_total(read: float, write: float, waited: float | None) -> float:
    """The whole call's bound: waiting for a connection, writing, and reading."""
    return read + write + (waited or 0.0)


def _multipart(request_data: RequestData) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, part in request_data.multipart_data.items():
        if isinstance(part, tuple):
            filename, content, *rest = part
            content_type = rest[0] if rest else None
            form.add_field(name, content, filename=filename, content_type=content_type)
        else:
            form.add_field(name, part, filename=name)
    return form
