"""Crash test: `huibao run` killed with SIGKILL at random moments while people report.

Simulated people (tests/fakes/telegram_api.py's fake Bot API server, run in this process)
go through whole reports of an activity, typing and pressing buttons, some sending a photo,
some pressing "save" twice in a row. The bot is the real `huibao run` (.venv/bin/huibao),
configured by environment variables, on a fresh SQLite file or a fresh PostgreSQL schema.
It is killed with SIGKILL at a random moment, started again, killed again, `--kills` times;
a share of the kills fall while it is still starting. Then it is started a last time, every
person finishes the report they were in the middle of, and the bot is stopped with SIGTERM.

Checked against the database and against what the people saw:

* no confirmed entry lost: every "已保存，记录编号 #N" a person received names an entry that
  exists, with that person's title, place and figures, exactly once;
* no entry stored twice: one entry per report title (a double press on "save" counts once);
* every conversation resumable: after the final restart each person in the middle of a
  report finishes it, and no interview is left open in the database.

    .venv/bin/python benchmarks/crash_test.py [--kills 100] [--database sqlite|postgresql]
        [--seed 1] [--users 20] [--max-uptime 4] [--json FILE]

PostgreSQL: a schema of its own in HUIBAO_TEST_POSTGRES_URL's database (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped at the end.
The exit status is 0 only when every check passes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests/fakes is not an installed package

from bot.core.messages import text as msg  # noqa: E402

if TYPE_CHECKING:
    from storage.models import Entry
    from tests.fakes.telegram_api import FakeTelegram, SentMessage, SimUser

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
UNIT = "hexi-xinxing-xinhua"  # 新华社区 in examples/org.yaml
FIRST_USER = 5_100_001
# What people see, taken from the message catalogue (Chinese, the default).
SAVED = re.compile(re.escape(msg("zh", "saved", id=0).split("0", 1)[0]) + r"(\d+)")
STALE = msg("zh", "button_stale")
INTERNAL_ERROR = msg("zh", "internal_error")
SAVE_LABEL = msg("zh", "confirm_save")
DONE_LABEL = msg("zh", "photo_done")
AREA_LABEL = "理论学习"  # the first area of templates/questionnaires/community_culture.yaml


# --------------------------------------------------------------------------------------------
# Simulated people
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One thing a person does, and a fragment of the bot's answer they wait for."""

    kind: Literal["text", "press", "photo"]
    value: str
    expect: str
    double: bool = False  # press twice in a row, as an impatient thumb does


@dataclass(frozen=True)
class Report:
    """What a person typed for one activity, to compare with the stored entry."""

    title: str
    location: str
    attendance: str
    photo: bool


def plan_report(rng: random.Random, who: int, number: int) -> Report:
    """The answers of one report; the title is unique across the run."""
    return Report(
        title=f"第{who}号员第{number}次理论学习",
        location=rng.choice(["社区党群服务中心", "新华社区会议室", "居民广场", "文化活动室"]),
        attendance=f"{rng.randint(12, 4000)}多人次",
        photo=rng.random() < 0.25,
    )


def report_actions(rng: random.Random, report: Report, double_press: float) -> list[Action]:
    """The whole dialog of one report, with a few random choices between equivalent inputs."""
    area = rng.choice(
        [Action("press", AREA_LABEL, "活动叫什么名字"), Action("text", "1", "活动叫什么名字")]
    )
    actions = [
        Action("text", "/report", "哪一类工作"),
        area,
        Action("text", report.title, "哪天办"),
        Action("text", "今天", "在哪里办"),  # in the current half-year on any day
        Action("text", report.location, "几场学习"),
        Action("text", "3场", "多少人次"),
        Action("text", report.attendance, "做了什么"),
        Action("text", "邀请老党员讲党史故事，组织居民观看专题片。", "效果怎么样"),
        Action("text", "居民参与热情高，12人报名加入志愿队伍。", "亮点"),
        Action("text", "/skip", "照片"),
    ]
    if report.photo:
        actions.append(Action("photo", "", "收到第 1 张照片"))
        actions.append(Action("press", DONE_LABEL, "请核对"))
    else:
        actions.append(Action("text", DONE_LABEL, "请核对"))
    if rng.random() < 0.2:
        actions.append(Action("text", "1", "已保存"))
    else:
        actions.append(Action("press", SAVE_LABEL, "已保存", double=rng.random() < double_press))
    return actions


@dataclass
class Sent:
    """One update a person sent: its id, when, and when the answer they waited for came."""

    update_id: int
    chat_id: int
    at: float
    answered_at: float | None = None


class Reporter:
    """One simulated person reporting activity after activity.

    The person does one thing, then waits for a new message of the bot that contains the
    fragment the next step needs (a question repeated because the bot sent its replies
    again after a crash is not new information, and is ignored); then does the next thing.
    """

    def __init__(
        self,
        fake: FakeTelegram,
        user: SimUser,
        number: int,
        rng: random.Random,
        *,
        reports: int | None = None,
        double_press: float = 0.2,
    ) -> None:
        self.fake = fake
        self.user = user
        self.number = number
        self.rng = rng
        self.reports_left = reports  # None: until told to finish
        self.double_press = double_press
        self.finishing = False
        self.report: Report | None = None
        self.actions: list[Action] = []
        self.position = 0
        self.waiting_for: str | None = None
        self.prompt: SentMessage | None = None  # the bot message that asked the current step
        self.ready = False
        self.reports_done = 0
        self.confirmed: dict[int, Report] = {}  # entry id -> what was typed
        self.saved_messages = 0
        self.stale_replies = 0
        self.error_replies = 0
        self.double_presses = 0
        self.sent: list[Sent] = []
        self.problems: list[str] = []
        self.last_messages: list[str] = []

    @property
    def in_report(self) -> bool:
        return self.report is not None

    @property
    def idle(self) -> bool:
        """Finished: no report under way and none to start."""
        return self.report is None and (
            self.finishing or (self.reports_left is not None and self.reports_left <= 0)
        )

    def begin(self) -> None:
        """Start the next report, unless told to finish."""
        if self.finishing or (self.reports_left is not None and self.reports_left <= 0):
            return
        number = self.reports_done + 1
        self.report = plan_report(self.rng, self.number, number)
        self.actions = report_actions(self.rng, self.report, self.double_press)
        self.position = 0
        self.act()

    def receive(self, message: SentMessage) -> None:
        """Look at one message the bot sent (or edited) in this person's chat."""
        if message.method not in ("sendMessage", "sendPhoto", "sendDocument"):
            return  # edits of pressed messages are not answers
        text = message.text or ""
        self.last_messages = [*self.last_messages[-5:], text[:80]]
        if STALE in text:
            self.stale_replies += 1
        if INTERNAL_ERROR in text:
            self.error_replies += 1
        saved = SAVED.search(text)
        if saved is not None:
            self.saved_messages += 1
        if self.waiting_for is None or self.waiting_for not in text:
            return
        if saved is not None and self.report is not None:
            self.confirmed[int(saved.group(1))] = self.report
        if self.sent and self.sent[-1].answered_at is None:
            self.sent[-1].answered_at = message.timestamp
        self.prompt = message
        self.waiting_for = None
        self.ready = True

    def step(self) -> None:
        """Do the next thing (called when the awaited answer came)."""
        self.ready = False
        self.position += 1
        if self.position < len(self.actions):
            self.act()
            return
        self.report = None  # the report is saved; the person saw the number
        self.reports_done += 1
        if self.reports_left is not None:
            self.reports_left -= 1
        self.begin()

    def act(self) -> None:
        action = self.actions[self.position]
        self.waiting_for = action.expect
        fake, user = self.fake, self.user
        at = time.monotonic()
        if action.kind == "text":
            update_id = fake.user_sends_text(user, action.value)
        elif action.kind == "photo":
            update_id = fake.user_sends_photo(user, size_bytes=20_000)
        else:
            update_id = self._press(action)
        self.sent.append(Sent(update_id, user.id, at))

    def _press(self, action: Action) -> int:
        data = None
        if self.prompt is not None:
            for row in self.prompt.buttons:
                for label, callback_data in row:
                    if label == action.value and callback_data is not None:
                        data = callback_data
        if data is None or self.prompt is None:
            self.problems.append(f"no {action.value!r} button on {self.last_messages[-1:]}")
            return self.fake.press_button(self.user, action.value)
        update_id = self.fake.user_presses(self.user, self.prompt.message_id, data)
        if action.double:
            self.double_presses += 1
            self.fake.user_presses(self.user, self.prompt.message_id, data)
        return update_id


class Crowd:
    """Drives many reporters from one thread: each acts as soon as its answer came.

    With `stagger`, each person starts within that many seconds (at random), not all at once.
    """

    def __init__(
        self, fake: FakeTelegram, reporters: Sequence[Reporter], stagger: float = 0.0
    ) -> None:
        self.fake = fake
        self.reporters = list(reporters)
        self._starts = sorted(
            (r.rng.uniform(0.0, stagger) if stagger else 0.0, n) for n, r in enumerate(reporters)
        )
        self._by_chat = {r.user.id: r for r in reporters}
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crowd", daemon=True)
        self._cursor = len(fake.sent())  # what the bot sent before is not for these people
        self.failure: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._quit.set()
        self._thread.join(10)

    def finish(self) -> None:
        """Let everyone finish the report under way and start no new one."""
        for reporter in self.reporters:
            reporter.finishing = True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every reporter is idle; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.failure is not None:
                raise RuntimeError("the simulated people failed") from self.failure
            if all(r.idle for r in self.reporters):
                return True
            time.sleep(0.05)
        return False

    def _run(self) -> None:
        try:
            began = time.monotonic()
            while not self._quit.is_set():
                while self._starts and self._starts[0][0] <= time.monotonic() - began:
                    self.reporters[self._starts.pop(0)[1]].begin()
                self._turn()
        except BaseException as exc:  # reported by wait_idle; the thread must not die silently
            self.failure = exc

    def _turn(self) -> None:
        fake = self.fake
        wait = 0.05 if self._starts else 0.2
        try:
            new = fake.wait_for(lambda: fake.sent_since(self._cursor) or None, wait, lambda: "")
        except AssertionError:  # nothing new for a while
            return
        self._cursor += len(new)
        for message in new:
            reporter = self._by_chat.get(message.chat_id)
            if reporter is not None:
                reporter.receive(message)
        for reporter in self.reporters:
            if reporter.ready:
                reporter.step()


def make_users(count: int, first: int = FIRST_USER) -> list[SimUser]:
    """Simulated Telegram users with Chinese names and Chinese Telegram."""
    from tests.fakes.telegram_api import SimUser

    return [SimUser(first + n, f"员{n}") for n in range(count)]


# --------------------------------------------------------------------------------------------
# Databases and the bot process
# --------------------------------------------------------------------------------------------


@contextmanager
def database(kind: str, folder: Path, postgres_url: str | None = None) -> Iterator[str]:
    """A fresh database URL: a SQLite file in `folder`, or a PostgreSQL schema of its own."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'huibao.sqlite3'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(
        postgres_url or os.environ.get("HUIBAO_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    ).set(drivername="postgresql+psycopg")
    schema = f"huibao_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    try:
        url = base.set(query={"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


def huibao_command() -> list[str]:
    """`huibao` from the virtualenv running this script (or `python -m bot`)."""
    script = Path(sys.executable).parent / "huibao"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def bot_env(fake: FakeTelegram, database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    """The environment `huibao run` is configured by."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUIBAO_")},
        "HUIBAO_DATABASE_URL": database_url,
        "HUIBAO_DATA_DIR": str(data_dir),
        "HUIBAO_TELEGRAM__TOKEN": fake.token,
        "HUIBAO_TELEGRAM__BASE_URL": fake.base_url,
        "HUIBAO_TELEGRAM__BASE_FILE_URL": fake.base_file_url,
        "HUIBAO_TELEGRAM__USERNAME": fake.bot_username,
        "HUIBAO_TELEGRAM__POLL_TIMEOUT": "2",
        "HUIBAO_SERVER__PORT": str(port),
        "HUIBAO_LOG_LEVEL": "WARNING",
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def set_up(database_url: str, user_ids: Sequence[int], cwd: Path) -> None:
    """Load examples/org.yaml with `huibao org load`, then register every user as staff
    of 新华社区 through the storage functions (the join dialog has tests of its own)."""
    from storage import members as member_store
    from storage.db import create_db_engine, make_sessionmaker, transaction
    from storage.models import RoleName

    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIBAO_")}
    subprocess.run(
        [*huibao_command(), "org", "load", str(ROOT / "examples" / "org.yaml")],
        env={**env, "HUIBAO_DATABASE_URL": database_url},
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=120,
    )
    engine = create_db_engine(database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            unit = member_store.unit_by_key(session, UNIT)
            assert unit is not None, UNIT
            for n, user_id in enumerate(user_ids):
                member_store.join(
                    session,
                    f"员{n}",
                    platform="telegram",
                    external_id=str(user_id),
                    unit_id=unit.id,
                    roles=(RoleName.STAFF,),
                )
    finally:
        engine.dispose()


class BotProcess:
    """`huibao run` as a child process, its stderr appended to a log file."""

    def __init__(self, fake: FakeTelegram, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.fake = fake
        self.started = time.monotonic()
        self._polls = len(fake.get_updates_offsets)
        self._log = log.open("ab")
        self._log.write(f"--- start at {self.started:.3f}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            [*huibao_command(), "run"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )

    def polling(self) -> bool:
        """Whether this process has asked for updates yet."""
        return len(self.fake.get_updates_offsets) > self._polls

    def wait_polling(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.polling():
            if self.process.poll() is not None:
                raise RuntimeError(f"huibao run exited with {self.process.returncode} at start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"huibao run did not poll within {timeout:.0f} s")
            time.sleep(0.01)

    def kill(self) -> int | None:
        """SIGKILL; returns the exit code if the process had ended on its own before."""
        code = self.process.poll()
        if code is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._log.close()
        return code

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd stops it; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._log.close()
        return code


# --------------------------------------------------------------------------------------------
# The run and its checks
# --------------------------------------------------------------------------------------------


@dataclass
class CrashResult:
    """The counts of one crash-test run."""

    database: str
    seed: int
    users: int
    kills: int = 0
    kills_while_starting: int = 0
    kills_with_updates_in_flight: int = 0
    updates_sent: int = 0
    updates_delivered_again: int = 0
    bot_messages: int = 0
    entries_confirmed: int = 0
    found: int = 0
    duplicates: int = 0
    lost: int = 0
    wrong_contents: int = 0
    unconfirmed_in_db: int = 0
    in_report_at_final_restart: int = 0
    resumed: int = 0
    stuck: int = 0
    open_interviews_left: int = 0
    replies_never_marked_sent: int = 0
    double_presses: int = 0
    stale_button_replies: int = 0
    saved_messages_repeated: int = 0
    internal_error_replies: int = 0
    bot_tracebacks_logged: int = 0
    bot_exits_on_its_own: int = 0
    final_exit_code: int | None = None
    wall_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return (
            self.entries_confirmed > 0
            and self.found == self.entries_confirmed
            and self.lost == 0
            and self.duplicates == 0
            and self.wrong_contents == 0
            and self.unconfirmed_in_db == 0
            and self.stuck == 0
            and self.resumed == self.in_report_at_final_restart
            and self.open_interviews_left == 0
            and self.internal_error_replies == 0
            and self.bot_exits_on_its_own == 0
            and self.final_exit_code == 0
        )

    def lines(self) -> list[str]:
        """The counts, one per line."""
        skip = {"problems"}
        return [
            f"{f.name:<30} {getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if f.name not in skip
        ]


def run_crash_test(
    *,
    kills: int,
    database_kind: str = "sqlite",
    seed: int = 1,
    users: int = 20,
    max_uptime: float = 4.0,
    start_kill_share: float = 0.1,
    double_press: float = 0.2,
    final_timeout: float = 120.0,
    postgres_url: str | None = None,
    work_dir: Path | None = None,
    progress: bool = False,
) -> CrashResult:
    """Run the crash test and return its counts (see the module docstring)."""
    from tests.fakes.telegram_api import FakeTelegram

    rng = random.Random(seed)
    result = CrashResult(database=database_kind, seed=seed, users=users)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(dir=work_dir) as folder_name,
        database(database_kind, Path(folder_name), postgres_url) as url,
        FakeTelegram() as fake,
    ):
        folder = Path(folder_name)
        log = folder / "bot.log"
        people = make_users(users)
        env = bot_env(fake, url, folder / "data", free_port())
        set_up(url, [u.id for u in people], folder)
        reporters = [
            Reporter(fake, user, n, random.Random(rng.random()), double_press=double_press)
            for n, user in enumerate(people)
        ]
        crowd = Crowd(fake, reporters, stagger=3.0)
        crowd.start()
        try:
            for number in range(1, kills + 1):
                bot = BotProcess(fake, env, folder, log)
                if rng.random() < start_kill_share:
                    time.sleep(rng.uniform(0.0, 1.5))
                    result.kills_while_starting += not bot.polling()
                else:
                    bot.wait_polling()
                    time.sleep(rng.uniform(0.0, max_uptime))
                result.kills_with_updates_in_flight += _in_flight(fake, bot.started) > 0
                code = bot.kill()
                result.kills += 1
                if code is not None:
                    result.bot_exits_on_its_own += 1
                    result.problems.append(f"kill {number}: huibao run had exited with {code}")
                if crowd.failure is not None:
                    raise RuntimeError("the simulated people failed") from crowd.failure
                if progress and number % 10 == 0:
                    saved = sum(len(r.confirmed) for r in reporters)
                    print(f"  {number} kills, {saved} entries confirmed so far", flush=True)
            crowd.finish()
            time.sleep(0.3)  # a step that was being taken is taken now
            result.in_report_at_final_restart = sum(r.in_report for r in reporters)
            waiting = {r.user.id for r in reporters if r.in_report}
            bot = BotProcess(fake, env, folder, log)
            bot.wait_polling()
            crowd.wait_idle(final_timeout)
            # let the bot confirm the last batch before it is stopped
            fake.wait_for(lambda: fake.pending_updates() == 0 or None, 30, lambda: "")
            result.final_exit_code = bot.terminate()
        finally:
            crowd.stop()
        result.resumed = sum(1 for r in reporters if r.user.id in waiting and not r.in_report)
        result.stuck = sum(1 for r in reporters if r.in_report)
        for reporter in reporters:
            if reporter.in_report:
                result.problems.append(
                    f"user {reporter.user.id} stuck waiting for {reporter.waiting_for!r}; "
                    f"last messages: {reporter.last_messages}"
                )
            result.problems.extend(f"user {reporter.user.id}: {p}" for p in reporter.problems)
        _count_people(result, fake, reporters)
        check = check_database(url, {r.user.id: r.confirmed for r in reporters})
        result.found, result.lost, result.duplicates = check.found, check.lost, check.duplicates
        result.wrong_contents, result.unconfirmed_in_db = check.wrong_contents, check.unconfirmed
        result.open_interviews_left = check.open_interviews
        result.replies_never_marked_sent = check.never_marked_sent
        result.problems.extend(check.problems)
        text = log.read_text(errors="replace")
        result.bot_tracebacks_logged = text.count("Traceback (most recent call last)")
        if result.bot_tracebacks_logged:
            first = text.index("Traceback (most recent call last)")
            result.problems.append("first traceback in the bot's log:\n" + text[first:][:3000])
    result.wall_seconds = round(time.perf_counter() - started, 1)
    return result


def _in_flight(fake: FakeTelegram, since: float) -> int:
    """Updates this bot process was given and has not confirmed."""
    handouts = fake.all_handouts()
    return sum(
        1
        for update_id in fake.pending_update_ids()
        if any(at >= since for at in handouts.get(update_id, ()))
    )


def _count_people(result: CrashResult, fake: FakeTelegram, reporters: Sequence[Reporter]) -> None:
    result.updates_sent = sum(len(r.sent) + r.double_presses for r in reporters)
    result.updates_delivered_again = sum(1 for t in fake.all_handouts().values() if len(t) > 1)
    result.bot_messages = len(fake.sent())
    result.entries_confirmed = sum(len(r.confirmed) for r in reporters)
    result.double_presses = sum(r.double_presses for r in reporters)
    result.stale_button_replies = sum(r.stale_replies for r in reporters)
    result.internal_error_replies = sum(r.error_replies for r in reporters)
    result.saved_messages_repeated = sum(r.saved_messages - len(r.confirmed) for r in reporters)


@dataclass
class StoreCheck:
    """What the database holds, compared with what the people were told."""

    entries: int = 0
    found: int = 0
    duplicates: int = 0
    lost: int = 0
    wrong_contents: int = 0
    unconfirmed: int = 0
    open_interviews: int = 0
    never_marked_sent: int = 0
    problems: list[str] = field(default_factory=list)


def check_database(url: str, confirmed: Mapping[int, Mapping[int, Report]]) -> StoreCheck:
    """Compare every entry with the "saved" messages the people received.

    Args:
        url: the database.
        confirmed: Telegram user id -> {entry id in a "saved" message -> what was typed}.
    """
    from sqlalchemy import func, select
    from sqlalchemy.orm import selectinload

    from storage.db import create_db_engine, make_sessionmaker, transaction
    from storage.models import ConversationState, Entry, Identity, ProcessedMessage

    check = StoreCheck()
    engine = create_db_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            members = dict(session.execute(select(Identity.external_id, Identity.member_id)).all())
            entries = session.scalars(
                select(Entry).options(selectinload(Entry.metrics), selectinload(Entry.photos))
            ).all()
            check.open_interviews = (
                session.scalar(
                    select(func.count())
                    .select_from(ConversationState)
                    .where(ConversationState.kind == "interview")
                )
                or 0
            )
            check.never_marked_sent = (
                session.scalar(
                    select(func.count())
                    .select_from(ProcessedMessage)
                    .where(
                        ProcessedMessage.sent_at.is_(None), ProcessedMessage.replies.is_not(None)
                    )
                )
                or 0
            )
            check.entries = len(entries)
            by_id = {entry.id: entry for entry in entries}
            per_title = Counter(entry.title for entry in entries)
            check.duplicates = sum(count - 1 for count in per_title.values() if count > 1)
            confirmed_titles: set[str] = set()
            for user_id, reports in confirmed.items():
                member_id = members[str(user_id)]
                for entry_id, report in reports.items():
                    confirmed_titles.add(report.title)
                    entry = by_id.get(entry_id)
                    if entry is None or entry.deleted_at is not None:
                        check.lost += 1
                        check.problems.append(f"entry #{entry_id} ({report.title}) is missing")
                        continue
                    check.found += 1
                    problem = _compare(entry, report, member_id)
                    if problem:
                        check.wrong_contents += 1
                        check.problems.append(f"entry #{entry_id}: {problem}")
            unconfirmed = [e for e in entries if e.title not in confirmed_titles]
            check.unconfirmed = len(unconfirmed)
            check.problems.extend(
                f"entry #{e.id} ({e.title}) stored but never confirmed" for e in unconfirmed
            )
    finally:
        engine.dispose()
    return check


def _compare(entry: Entry, report: Report, member_id: int) -> str | None:
    """What differs between a stored entry and what the person typed (None if nothing)."""
    raws = {metric.raw for metric in entry.metrics}
    checks = [
        (entry.member_id == member_id, f"member {entry.member_id}, expected {member_id}"),
        (entry.title == report.title, f"title {entry.title!r}"),
        (entry.location == report.location, f"location {entry.location!r}"),
        (entry.area_name == AREA_LABEL, f"area {entry.area_name!r}"),
        (raws == {"3场", report.attendance}, f"figures {sorted(raws)}"),
        (len(entry.photos) == int(report.photo), f"{len(entry.photos)} photos"),
    ]
    wrong = [message for passed, message in checks if not passed]
    return "; ".join(wrong) or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=20, help="simulated people reporting")
    parser.add_argument(
        "--max-uptime", type=float, default=4.0, help="a kill falls 0..this many s after polling"
    )
    parser.add_argument("--postgres-url", default=None, help="default: HUIBAO_TEST_POSTGRES_URL")
    parser.add_argument("--json", default=None, help="also write the counts to this file")
    args = parser.parse_args()
    if args.kills < 0 or args.users < 1:
        parser.error("--kills must be 0 or more and --users at least 1")
    print(
        f"crash test: {args.kills} kills, {args.users} people, {args.database}, seed {args.seed}",
        flush=True,
    )
    result = run_crash_test(
        kills=args.kills,
        database_kind=args.database,
        seed=args.seed,
        users=args.users,
        max_uptime=args.max_uptime,
        postgres_url=args.postgres_url,
        progress=True,
    )
    print("\n".join(result.lines()))
    for problem in result.problems[:20]:
        print("PROBLEM:", problem)
    print("PASS" if result.ok else "FAIL")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {**dataclasses.asdict(result), "ok": result.ok}, ensure_ascii=False, indent=1
            )
        )
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
