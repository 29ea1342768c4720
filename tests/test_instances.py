"""Several `huibao run` processes on one PostgreSQL database (bot.instances).

Real processes, a real PostgreSQL schema of their own and the fake Bot API:

- webhook mode: two instances behind a load balancer played by the test (each update goes
  to one of them; some go to the other one as well, after the first answered or while it is
  still working, as a retry would), and a deadline whose reminders are due: every message is
  answered once, every reminder sent once, and by one instance (the leader);
- polling mode: only the leader calls getUpdates; SIGKILL it and the other one takes over
  within TAKEOVER_BOUND seconds, answering what was sent meanwhile once;
- SQLite: a second instance on the same database file is refused with a clear message.

Time: the processes run on the real clock (the deadline is set an hour ahead of now, with
quiet hours and holidays off, so its reminder step is due at the first tick whatever the
day); the test waits for conditions, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.instances import InFlight
from storage.db import create_db_engine, make_sessionmaker
from tests.conftest import (
    POSTGRES_URL,
    SHANGHAI,
    _postgres_problem,
    free_port,
    register,
    schema_url,
)
from tests.fakes.telegram_api import FakeTelegram, SimUser

UNIT = "hexi-xinxing-xinhua"
STAFF = [SimUser(7_100_000 + n, f"员工{n}") for n in range(10)]
# An interview's first steps: what each member types and the question that answers it.
STEPS = [
    ("/report", "哪一类工作"),
    ("1", "活动叫什么名字"),
    ("端午主题党课", "哪天办的"),
    ("昨天", "在哪里办的"),
    ("社区党群服务中心", "几场学习"),
]
RETRY = 0.5  # HUIBAO_LEADER__RETRY_SECONDS here
TAKEOVER_BOUND = 5.0  # seconds from the leader's SIGKILL to the first getUpdates of the other


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A PostgreSQL schema of its own, as a URL with its search_path; dropped afterwards."""
    schema = f"huibao_inst_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    try:
        yield schema_url(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


@pytest.fixture
def database() -> Iterator[str]:
    """A PostgreSQL schema of this test's own (the leader lock is per schema)."""
    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("HUIBAO_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    with fresh_schema() as url:
        yield url


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a killed instance resets its connections


class Tap:
    """A pass-through HTTP proxy in front of the fake Bot API for one instance: it records
    which Bot API methods that instance called, and when (time.monotonic())."""

    def __init__(self, target: str) -> None:
        self.calls: list[tuple[str, float]] = []
        lock = threading.Lock()
        client = httpx.Client(timeout=90)
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    calls.append((self.path.rsplit("/", 1)[-1], time.monotonic()))
                try:
                    answer = client.post(
                        target + self.path,
                        content=body,
                        headers={"Content-Type": self.headers.get("Content-Type", "")},
                    )
                except httpx.HTTPError:
                    self.send_error(502)
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", ""))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._client = client

    def polls(self) -> list[float]:
        """When this instance called getUpdates."""
        return [at for method, at in list(self.calls) if method == "getUpdates"]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


class Instances:
    """`huibao run` processes sharing one database, one environment each."""

    def __init__(self, fake: FakeTelegram, database: str, work: Path, **extra: str) -> None:
        self.fake = fake
        self.work = work
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HUIBAO_")},
            "HUIBAO_DATABASE_URL": database,
            "HUIBAO_DATA_DIR": str(work),
            "HUIBAO_TELEGRAM__TOKEN": fake.token,
            "HUIBAO_TELEGRAM__BASE_FILE_URL": fake.base_file_url,
            "HUIBAO_TELEGRAM__POLL_TIMEOUT": "1",
            "HUIBAO_LOG_LEVEL": "INFO",
            "HUIBAO_LEADER__RETRY_SECONDS": str(RETRY),
            "HUIBAO_LEADER__CHECK_SECONDS": "0.5",
            # Reminders whatever the real day and hour: no quiet hours, no holidays.
            "HUIBAO_REMINDERS__QUIET_START": "00:00",
            "HUIBAO_REMINDERS__QUIET_END": "00:00",
            "HUIBAO_REMINDERS__SKIP_HOLIDAYS": "false",
            "HUIBAO_REMINDERS__TICK_SECONDS": "1",
            **extra,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.taps: list[Tap] = []

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            env={**self.env, "HUIBAO_TELEGRAM__BASE_URL": self.fake.base_url},
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> int:
        """Start one more instance (its own port and Bot API tap); its index."""
        index = len(self.processes)
        port = free_port()
        tap = Tap(self.fake.base_url.split("/bot", 1)[0])
        env = {
            **self.env,
            "HUIBAO_SERVER__PORT": str(port),
            "HUIBAO_TELEGRAM__BASE_URL": tap.url + "/bot",
        }
        log = open(self.work / f"instance-{index}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], env=env, cwd=self.work, stderr=log
        )
        log.close()
        self.processes.append(process)
        self.ports.append(port)
        self.taps.append(tap)
        return index

    def log(self, index: int) -> str:
        return (self.work / f"instance-{index}.log").read_text(encoding="utf-8", errors="replace")

    def wait_healthy(self, index: int, timeout: float = 30) -> None:
        url = f"http://127.0.0.1:{self.ports[index]}/healthz"
        wait_until(lambda: _get_ok(url), timeout, lambda: self.log(index))

    def stop_all(self) -> list[int | None]:
        codes: list[int | None] = []
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                codes.append(process.wait(30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(None)
        for tap in self.taps:
            tap.close()
        return codes


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    condition: Callable[[], object], timeout: float, describe: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout} s\n{describe()[-3000:]}")
        time.sleep(0.05)


def setup_org(instances: Instances, database: str) -> None:
    """The example organisation, the staff on Telegram, and a deadline due in an hour whose
    one reminder step (2 h before) is due now."""
    instances.cli("org", "load", str(Path(__file__).parent.parent / "examples" / "org.yaml"))
    engine = create_db_engine(database)
    sessions = make_sessionmaker(engine)
    for user in STAFF:
        register(sessions, user.first_name, UNIT, platform="telegram", external_id=str(user.id))
    engine.dispose()
    now = datetime.now(SHANGHAI)
    due = (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    instances.cli(
        "deadline", "set", "--unit", "hexi", "--period", f"{now:%Y-%m}",
        "--requires", "monthly-entry", "--due", due, "--ladder", "2h",
        "--weekends", "send", "--on-holiday", "keep",
    )  # fmt: skip


update_ids = itertools.count(500_000)


def update_for(user: SimUser, text_: str) -> dict[str, Any]:
    """A private text message as Telegram posts it to a webhook."""
    update_id = next(update_ids)
    message: dict[str, Any] = {
        "message_id": update_id,
        "from": user.as_dict(),
        "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
        "date": int(time.time()),
        "text": text_,
    }
    if text_.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text_)}]
    return {"update_id": update_id, "message": message}


def outbox_rows(database: str) -> list[tuple[str, str, str, list[Any], str | None]]:
    engine = create_engine(database)
    with engine.connect() as connection:
        rows = connection.execute(
            text("select key, status, address, payload, claimed_by from outbox order by id")
        ).all()
    engine.dispose()
    return [
        (key, status, address, payload if isinstance(payload, list) else json.loads(payload), by)
        for key, status, address, payload, by in rows
    ]


def unmarked(database: str) -> int:
    """Processed messages whose replies are not marked sent yet."""
    engine = create_engine(database)
    with engine.connect() as connection:
        count = connection.execute(
            text("select count(*) from processed_messages where sent_at is null")
        ).scalar_one()
    engine.dispose()
    return int(count)


def test_two_webhook_instances_answer_each_message_once_and_send_each_reminder_once(
    database: str, tmp_path: Path
) -> None:
    with FakeTelegram() as fake:
        instances = Instances(
            fake, database, tmp_path, HUIBAO_TELEGRAM__WEBHOOK_URL="https://bot.example.org/tg"
        )
        setup_org(instances, database)
        try:
            for _ in range(2):
                instances.wait_healthy(instances.start())
            urls = [f"http://127.0.0.1:{port}/tg" for port in instances.ports]
            headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret(fake.token)}
            retried: dict[str, int] = {"after": 0, "during": 0}

            def post(client: httpx.Client, which: int, update: dict[str, Any]) -> int:
                return client.post(urls[which], json=update, headers=headers).status_code

            def deliver(client: httpx.Client, which: int, update: dict[str, Any]) -> None:
                # As Telegram does: again until one instance answers 200.
                for attempt in range(50):
                    if post(client, (which + attempt) % 2, update) == 200:
                        return
                    time.sleep(0.1)
                pytest.fail(f"update {update['update_id']} never answered 200")

            def member(index: int) -> None:
                user = STAFF[index]
                with httpx.Client(timeout=30) as client:
                    for step, (typed, _question) in enumerate(STEPS):
                        update = update_for(user, typed)
                        which = (index + step) % 2  # the load balancer's round robin
                        if step == 1 and index % 2 == 0:
                            # the answer was lost on the way back: Telegram sends it again,
                            # and the balancer picks the other instance
                            deliver(client, which, update)
                            assert post(client, 1 - which, update) == 200
                            retried["after"] += 1
                        elif step in (2, 3) and index % 2 == 1:
                            # a retry while the first instance is still at work
                            with ThreadPoolExecutor(2) as both:
                                first = both.submit(
                                    deliver, httpx.Client(timeout=30), which, update
                                )
                                second = both.submit(
                                    deliver, httpx.Client(timeout=30), 1 - which, update
                                )
                                first.result()
                                second.result()
                            retried["during"] += 1
                        else:
                            deliver(client, which, update)

            with ThreadPoolExecutor(len(STAFF)) as pool:
                for done in [pool.submit(member, n) for n in range(len(STAFF))]:
                    done.result()

            def settled() -> bool:
                rows = outbox_rows(database)
                mine = [r for r in rows if r[2] in {str(u.id) for u in STAFF}]
                return len(mine) >= len(STAFF) and all(r[1] == "sent" for r in rows)

            wait_until(settled, 30, lambda: repr(outbox_rows(database)))
        finally:
            codes = instances.stop_all()

        assert codes == [0, 0], [instances.log(i) for i in range(2)]
        assert retried == {"after": 5, "during": 10}
        for user in STAFF:
            texts = fake.messages_to(user.id)
            for _typed, question in STEPS:
                assert sum(question in t for t in texts) == 1, (user.id, question, texts)
        rows = outbox_rows(database)
        for _key, status, address, payload, _by in rows:
            assert status == "sent"
            first_text = payload[0]["text"]
            assert fake.messages_to(int(address)).count(first_text) == 1, (address, first_text)
        own = [r for r in rows if "remind" in r[0] and r[2] in {str(u.id) for u in STAFF}]
        assert {int(r[2]) for r in own} >= {u.id for u in STAFF}  # each member reminded
        # one instance, the leader, sent the outbox (one sender: the rate is the bot's)
        assert len({r[4].rsplit(":", 1)[0] for r in rows if r[4]}) == 1
        leaders = [i for i in range(2) if "this instance leads" in instances.log(i)]
        assert len(leaders) == 1, [instances.log(i) for i in range(2)]


def webhook_secret(token: str) -> str:
    """The secret an instance derives from the token when none is configured."""
    from bot.settings import TelegramSettings

    secret = TelegramSettings(token=token).webhook_secret_value()  # type: ignore[arg-type]
    assert secret is not None
    return secret


def test_only_the_leader_polls_and_the_other_takes_over_after_sigkill(
    database: str, tmp_path: Path
) -> None:
    with FakeTelegram() as fake:
        instances = Instances(fake, database, tmp_path)
        setup_org(instances, database)
        user = STAFF[0]
        try:
            for _ in range(2):
                instances.wait_healthy(instances.start())
            taps = instances.taps
            wait_until(lambda: any(tap.polls() for tap in taps), 30)
            leader = 0 if taps[0].polls() else 1
            other = 1 - leader
            for typed, question in STEPS[:2]:
                mark = len(fake.sent(user.id))
                fake.user_sends_text(user, typed)
                fake.wait_for_text(user.id, question, since=mark, timeout=20)
            # the standby has been up all along and never polled
            assert taps[leader].polls() and not taps[other].polls()

            # killed once its replies are all marked sent (a kill between a reply's sending
            # and its mark may repeat that reply: test_telegram_restart covers that)
            wait_until(lambda: not fake.pending_update_ids() and not unmarked(database), 20)
            instances.processes[leader].send_signal(signal.SIGKILL)
            instances.processes[leader].wait(10)
            killed = time.monotonic()
            typed, question = STEPS[2]
            mark = len(fake.sent(user.id))
            fake.user_sends_text(user, typed)  # sent while nobody polls
            fake.wait_for_text(user.id, question, since=mark, timeout=30)
            took = taps[other].polls()[0] - killed
            assert took <= TAKEOVER_BOUND, took
            for typed, question in STEPS[3:]:
                mark = len(fake.sent(user.id))
                fake.user_sends_text(user, typed)
                fake.wait_for_text(user.id, question, since=mark, timeout=20)
        finally:
            codes = instances.stop_all()

        assert codes[1 - leader] == 0, instances.log(1 - leader)
        texts = fake.messages_to(user.id)
        for _typed, question in STEPS:
            assert sum(question in t for t in texts) == 1, (question, texts)


def test_a_second_instance_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    with FakeTelegram() as fake:
        instances = Instances(fake, f"sqlite:///{tmp_path / 'huibao.sqlite3'}", tmp_path)
        instances.cli("db", "upgrade")
        try:
            first = instances.start()
            instances.wait_healthy(first)
            second = instances.start()
            assert instances.processes[second].wait(30) != 0
            message = instances.log(second)
            assert "SQLite is for one instance" in message, message
            assert str(tmp_path / "huibao.sqlite3") in message
            assert instances.processes[first].poll() is None  # the first one runs on
        finally:
            instances.stop_all()


def test_the_in_flight_lock_works_with_several_connection_options() -> None:
    """A deployment's URL may carry `?options=-c a -c b`: the lock's own connection must
    be made with the same options, not refused by the server (it then answered every
    update "retry later")."""
    if (problem := _postgres_problem()) is not None:
        pytest.skip(problem)
    url = make_url(POSTGRES_URL).set(
        drivername="postgresql+psycopg",
        query={"options": "-c statement_timeout=5000 -c application_name=huibao-lock-test"},
    )
    engine = create_engine(url)
    in_flight = InFlight(engine, wait=2.0)
    ran: list[str] = []

    async def work() -> bool:
        ran.append("once")
        return True

    async def both() -> bool:
        try:
            return await in_flight.run("telegram:1", work)
        finally:
            await in_flight.close()

    try:
        assert asyncio.run(both()) is True
    finally:
        engine.dispose()
    assert ran == ["once"]
