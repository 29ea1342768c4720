"""Logs: text or JSON lines, no secrets, nothing people typed; /healthz when the database is down."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from bot.admin.cli import main
from bot.admin.org import create_invite
from bot.app import build
from bot.channels.server import build_server, health_route
from bot.core.conversation import Conversation
from bot.logs import (
    HANDLER_NAME,
    PAYLOAD_LOGGERS,
    REDACTED,
    secrets_in_environment,
    secrets_of,
    setup_logging,
)
from bot.settings import Settings
from storage.db import transaction
from tests.channels.test_telegram import REPORT, Phone, RunningBot
from tests.conftest import Clock, free_port, register
from tests.fakes.telegram_api import FakeTelegram, SimUser

TOKEN = "987654321:AAHsecretTOKENsecretTOKEN_secret-42"
TOKEN_SECRET = TOKEN.split(":", 1)[1]
LI = SimUser(1001, "李华")
NEWCOMER = SimUser(1009, "路人")
NEWCOMER_NAME = "欧阳新人"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TYPED = [said for said, _ in REPORT if not said.startswith(("/", "[", "<"))]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A stream for `setup_logging`; the logging set-up is put back afterwards."""
    root = logging.getLogger()
    names = [*PAYLOAD_LOGGERS, "alembic"]
    saved = root.level, {name: logging.getLogger(name).level for name in names}
    stream = io.StringIO()
    yield stream
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def test_secrets_in_urls_and_messages_are_redacted(captured: io.StringIO) -> None:
    settings = Settings(
        database_url="postgresql://huibao:db-pass-123@db.internal/huibao",
        telegram={"token": TOKEN, "webhook_secret": "hook-secret-7"},
        wecom={
            "corp_id": "ww0123456789abcdef",
            "agent_id": 1000002,
            "secret": "wecom-app-secret",
            "token": "cbToken42xyz",
            "encoding_aes_key": AES_KEY,
        },
    )
    setup_logging("DEBUG", "text", secrets=secrets_of(settings), stream=captured)
    log = logging.getLogger("huibao.test")
    log.info('HTTP Request: POST https://api.telegram.org/bot%s/getUpdates "200 OK"', TOKEN)
    log.info("GET https://api.telegram.org/file/bot%s/photos/file_1.jpg", TOKEN)
    log.info("GET http://127.0.0.1/file/bot%s/photos/file_2.jpg", TOKEN.replace(":", "%3A"))
    log.info("token given alone: %s", TOKEN)
    log.info("GET https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=ww1&corpsecret=abcDEF123")
    log.info("POST https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=tok_987654")
    log.warning("cannot connect to postgresql+psycopg://huibao:other-pass@10.0.0.5/huibao")
    log.info("webhook secret hook-secret-7, callback token cbToken42xyz, app wecom-app-secret")
    log.info("aes key %s", AES_KEY)
    log.info("extra fields too", extra={"url": f"https://x/bot{TOKEN}/sendMessage"})
    problem = "db-pass-123 failed\n[parameters: {'title': '端午主题党课'}]"
    try:
        raise RuntimeError(problem)  # (a traceback shows this line, so not the text itself)
    except RuntimeError:
        log.exception("failed")
    text = captured.getvalue()
    for secret in (
        TOKEN_SECRET,
        "abcDEF123",
        "tok_987654",
        "other-pass",
        "db-pass-123",
        "hook-secret-7",
        "cbToken42xyz",
        "wecom-app-secret",
        AES_KEY,
        "端午主题党课",
    ):
        assert secret not in text, secret
    assert f"bot{REDACTED}/getUpdates" in text and f"file/bot{REDACTED}/photos" in text
    assert text.count(f"file/bot{REDACTED}/photos") == 2
    assert f"corpsecret={REDACTED}" in text and f"access_token={REDACTED}" in text
    assert f"huibao:{REDACTED}@10.0.0.5" in text and "[parameters: hidden]" in text
    assert "corpid=ww1" in text  # what is not secret stays readable


def test_json_lines_carry_level_logger_message_and_extras(captured: io.StringIO) -> None:
    setup_logging("INFO", "json", secrets=[TOKEN], stream=captured)
    log = logging.getLogger("bot.core.conversation")
    log.info("member %s joined unit %s", 7, 3, extra={"member_id": 7})
    log.debug("not shown at INFO")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("message %s failed", "u12")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["member 7 joined unit 3", "message u12 failed"]
    first, second = lines
    assert first["level"] == "INFO" and first["logger"] == "bot.core.conversation"
    assert first["member_id"] == 7 and first["time"].endswith("+00:00")
    assert "ZeroDivisionError" in second["exception"]


def test_debug_keeps_payload_loggers_quiet(captured: io.StringIO) -> None:
    setup_logging("DEBUG", "text", stream=captured)
    assert logging.getLogger("bot").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("telegram.ext.ExtBot").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("sqlalchemy.engine.Engine").getEffectiveLevel() == logging.WARNING
    setup_logging("INFO", "text", stream=captured)  # again: one handler, not two
    root = logging.getLogger()
    assert len([h for h in root.handlers if h.get_name() == HANDLER_NAME]) == 1
    assert logging.getLogger("alembic").getEffectiveLevel() == logging.WARNING


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_telegram_dialog_at_debug_logs_neither_the_token_nor_what_people_typed(
    captured: io.StringIO,
    log_format: str,
    conversation: Conversation,
    sessions: sessionmaker[Session],
    demo_org: None,
    tmp_path: Path,
    clock: Clock,
) -> None:
    setup_logging("DEBUG", log_format, secrets=[TOKEN], stream=captured)
    register(sessions, "李华", "demo-xinhua", platform="telegram", external_id=str(LI.id))
    with transaction(sessions) as session:
        code = create_invite(
            session, "demo-xinhua", "staff", uses=1, expires_in=timedelta(days=1), now=clock()
        ).code
    with FakeTelegram(token=TOKEN, clock=clock) as fake:
        bot = RunningBot(conversation, fake, tmp_path / "photos")
        try:
            fake.fail_next("sendMessage", error_code=502, times=1)  # a retry gets logged too
            Phone(fake, LI).transcript(REPORT)
            newcomer = Phone(fake, NEWCOMER)
            newcomer.say(f"/start {code}", "请告诉我你的姓名")
            newcomer.say(NEWCOMER_NAME, "你已加入")
        finally:
            bot.stop()
    text = captured.getvalue()
    # the capture works: the HTTP requests and the join were logged ...
    assert "getUpdates" in text and f"bot{REDACTED}" in text and "joined unit" in text
    assert "sendMessage failed" in text
    # ... without the token, the people's names or anything they typed
    assert TOKEN_SECRET not in text
    for said in [*TYPED, NEWCOMER_NAME, LI.first_name, code]:
        assert said not in text, f"{said!r} was logged"
    if log_format == "json":
        assert all(json.loads(line)["level"] for line in text.splitlines())


def test_healthz_says_503_when_the_database_is_down(captured: io.StringIO) -> None:
    setup_logging("INFO", "text", secrets=["pw-of-db"], stream=captured)
    engine = create_engine(
        "postgresql+psycopg://huibao:pw-of-db@127.0.0.1:1/huibao",
        connect_args={"connect_timeout": 2},
    )

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_server([health_route(engine)]))
        async with httpx.AsyncClient(transport=transport, base_url="http://huibao") as client:
            return await client.get("/healthz")

    try:
        answer = asyncio.run(ask())
    finally:
        engine.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"status": "error", "database": "unreachable"}
    text = captured.getvalue()
    assert "health check: database unreachable" in text and "pw-of-db" not in text


def test_the_cli_logs_json_when_asked(tmp_path: Path, captured: io.StringIO) -> None:
    env = {
        "HUIBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'h.sqlite3'}",
        "HUIBAO_LOG_LEVEL": "DEBUG",
        "HUIBAO_LOG_FORMAT": "JSON",
    }
    result = CliRunner().invoke(main, ["org", "show"], env=env)
    assert result.exit_code == 0, result.output
    logged = [line for line in result.stderr.splitlines() if line.startswith("{")]
    assert logged, result.stderr  # alembic's lines at DEBUG
    assert all({"time", "level", "logger", "message"} <= set(json.loads(x)) for x in logged)
    bad = CliRunner().invoke(main, ["org", "show"], env={**env, "HUIBAO_LOG_FORMAT": "xml"})
    assert bad.exit_code != 0 and "HUIBAO_LOG_FORMAT: " in bad.output


def test_every_secret_setting_the_derived_webhook_secret_and_encoded_forms_are_redacted(
    captured: io.StringIO,
) -> None:
    password = "p@ss:w/rd!42"
    settings = Settings(
        database_url=f"postgresql://huibao:{quote(password, safe='')}@db.internal/huibao",
        telegram={"token": TOKEN},  # no webhook secret set: one is derived from the token
        wecom={
            "corp_id": "ww0123456789abcdef",
            "agent_id": 1000002,
            "secret": "wecom/app+secret",
            "token": "cbToken42xyz",
            "encoding_aes_key": AES_KEY,
        },
    )
    derived = settings.telegram.webhook_secret_value()
    assert derived is not None
    setup_logging("INFO", "json", secrets=secrets_of(settings), stream=captured)
    log = logging.getLogger("huibao.test")
    log.info("setWebhook with secret_token %s", derived)
    log.info("sent s=%s and p=%s", quote("wecom/app+secret", safe="").lower(), quote(password))
    log.info("a request failed", extra={"request": {"url": f"https://x/bot{TOKEN}/getMe"}})
    text = captured.getvalue()
    for secret in (derived, "wecom%2fapp%2bsecret", quote(password), TOKEN_SECRET):
        assert secret not in text, secret
    last = json.loads(text.splitlines()[-1])
    assert last["request"] == {"url": f"https://x/bot{REDACTED}/getMe"}  # still an object


def test_before_the_settings_are_read_the_secrets_are_known_from_the_environment() -> None:
    environ = {
        "huibao_telegram__token": TOKEN,  # the names are case-insensitive, as for the settings
        "HUIBAO_WECOM__ENCODING_AES_KEY": AES_KEY,
        "HUIBAO_DATABASE_URL": "postgres ql://huibao:pw-in-a-bad-url@db/huibao",
        "HUIBAO_TIMEZONE": "Asia/Shanghai",
        "HOME": "/root",
    }
    assert sorted(secrets_in_environment(environ)) == sorted([TOKEN, AES_KEY, "pw-in-a-bad-url"])


def test_uvicorn_logs_through_the_redacting_handler_as_json(
    captured: io.StringIO, tmp_path: Path
) -> None:
    from bot.runner import run_platforms

    setup_logging("INFO", "json", secrets=[TOKEN], stream=captured)
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'huibao.sqlite3'}",
        data_dir=tmp_path,
        server={"host": "127.0.0.1", "port": port},
    )
    app = build(settings)
    started = threading.Event()
    holder: dict[str, object] = {}

    async def serve() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop = asyncio.Event()
        started.set()
        await run_platforms(app, stop)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    try:
        assert started.wait(30)
        _wait_for_healthz(port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")  # uvicorn: "Invalid HTTP request received."
            assert raw.recv(1000).startswith(b"HTTP/1.1 400")
        # what uvicorn logs when a request fails inside the app, here with the token in it
        failure = RuntimeError(f"POST /bot{TOKEN}/hook failed")
        logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=failure)
    finally:
        loop = holder["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        loop.call_soon_threadsafe(holder["stop"].set)  # type: ignore[attr-defined]
        thread.join(30)
        app.close()
    assert not thread.is_alive()
    text = captured.getvalue()
    records = [json.loads(line) for line in text.splitlines()]  # each line one JSON object
    by_uvicorn = [r for r in records if r["logger"] == "uvicorn.error"]
    assert [r["message"] for r in by_uvicorn] == [
        "Invalid HTTP request received.",
        "Exception in ASGI application",
    ]
    assert f"bot{REDACTED}/hook" in by_uvicorn[1]["exception"]
    assert TOKEN_SECRET not in text


def _wait_for_healthz(port: int) -> None:
    """Wait until the server answers (it starts in another thread)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)
