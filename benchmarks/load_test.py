"""Load: 200 simulated people reporting at once over the fake Bot API; latency per update.

The fake Bot API server (tests/fakes/telegram_api.py) and the simulated people run in this
process; the bot runs in a process of its own (multiprocessing, "spawn"), wired by the
composition root (`bot.app.build`) and `TelegramBot` as `huibao run` wires them, on a fresh
SQLite file or a fresh PostgreSQL schema. A process, not a thread here: the fake and 200
people cost CPU of their own, and sharing one interpreter lock with them would put their
work into the bot's latency.

Every person starts `/report` at the same moment and goes through a whole report
(the same dialog as benchmarks/crash_test.py: typing, buttons, a photo now and then), each
step as soon as the answer to the previous one arrived. Measured:

* processing latency per update: from the fake handing the update out in a getUpdates
  answer to the first message the bot sends in reply arriving at the fake (p50, p90, p99);
* the person's wait: from sending to the answer they wait for (the last message of a reply);
* throughput: updates handled per second of the run, and the bot process's CPU per update;
* every entry stored: the count, and each entry's title, place, figures and photo.

`--limits telegram` keeps the limits `huibao run` has (30 messages/s overall, 1 per second
per chat after a burst of 4): latency is then mostly waiting for the right to send.
`--limits lifted` raises them out of the way (100,000/s overall, 1,000/s per chat), as
benchmarks/telegram_throughput.py does, so the figures show the bot's own processing.

`--scenario mixed` (issue 16: nobody waits on someone else) keeps Telegram's limits and
lets people type as people do: each starts within 15 s and answers 5-15 s after the
question arrived (at random), so 200 people send about 20 updates/s, under Telegram's
30 messages/s. Among them a coordinator of 河西区 (the district above everyone) asks
`/summary` once and `/status` every second, so their chat always has replies waiting
at one message a second; the staff's replies must not wait behind them (goal: staff p99
≤ 1 s).

    .venv/bin/python benchmarks/load_test.py [--users 200] [--reports 1]
        [--database sqlite postgresql] [--limits lifted telegram] [--scenario rush mixed]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import dataclasses
import json
import logging
import multiprocessing
import os
import random
import resource
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests/fakes is not an installed package

from benchmarks.crash_test import (  # noqa: E402
    Crowd,
    Reporter,
    check_database,
    database,
    make_users,
    set_up,
)

if TYPE_CHECKING:
    from tests.fakes.telegram_api import FakeTelegram

FIRST_USER = 6_100_001
COORDINATOR_UNIT = "hexi"  # 河西区 in examples/org.yaml, above 新华社区
THINK = (5.0, 15.0)  # seconds a person takes to answer, in the mixed scenario
LIFTED_OVERALL_RATE = 100_000.0
LIFTED_CHAT_RATE = 1_000.0


# --------------------------------------------------------------------------------------------
# The bot process
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BotConfig:
    token: str
    base_url: str
    base_file_url: str
    database_url: str
    work_dir: str
    limits: str  # "telegram" or "lifted"


def serve_bot(config: BotConfig) -> None:
    """Entry point of the bot process: run Telegram polling until SIGTERM."""
    logging.basicConfig(level=logging.WARNING, format="bot %(levelname)s %(name)s: %(message)s")
    os.chdir(config.work_dir)  # no stray .env is read
    asyncio.run(_serve(config))


async def _serve(config: BotConfig) -> None:
    from bot.app import build
    from bot.channels.telegram import TelegramBot
    from bot.core.commands import default_menus
    from bot.core.delivery import Delivery
    from bot.settings import load_settings

    settings = load_settings(database_url=config.database_url, data_dir=Path(config.work_dir))
    app = build(settings)
    lifted = config.limits == "lifted"
    # As bot.runner.make_telegram_bot wires it; only the per-chat rate may differ.
    bot = TelegramBot(
        Delivery(app.conversation, "telegram"),
        token=config.token,
        base_url=config.base_url,
        base_file_url=config.base_file_url,
        photos_dir=Path(config.work_dir) / "photos" / "telegram",
        poll_timeout=2,
        menus=lambda: app.conversation.leader_menus("telegram"),
        default_menus=default_menus(),
        chat_rate=LIFTED_CHAT_RATE if lifted else 1.0,
        overall_rate=LIFTED_OVERALL_RATE if lifted else 30.0,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await bot.start()
    polling = asyncio.create_task(bot.poll())
    await stop.wait()
    bot.request_stop()
    await polling
    await bot.stop()
    app.close()


class ThinkingCrowd(Crowd):
    """A crowd whose people take `think` seconds (at random, per step) to answer."""

    def __init__(
        self, fake: FakeTelegram, reporters: Sequence[Reporter], think: tuple[float, float]
    ) -> None:
        # Each person starts within one thinking time, as people do (all at the same
        # instant, 200 first replies would queue behind Telegram's 30/s for 7 s).
        super().__init__(fake, reporters, stagger=think[1])
        self._think = think
        self._due: dict[int, float] = {}

    def _turn(self) -> None:
        fake = self.fake
        try:
            new = fake.wait_for(lambda: fake.sent_since(self._cursor) or None, 0.05, lambda: "")
        except AssertionError:
            new = []
        self._cursor += len(new)
        for message in new:
            reporter = self._by_chat.get(message.chat_id)
            if reporter is not None:
                reporter.receive(message)
        now = time.monotonic()
        for reporter in self.reporters:
            if not reporter.ready:
                continue
            due = self._due.get(reporter.user.id)
            if due is None:
                self._due[reporter.user.id] = now + reporter.rng.uniform(*self._think)
            elif due <= now:
                del self._due[reporter.user.id]
                reporter.step()


class Coordinator:
    """A district coordinator asking `/summary` once and `/status` every `every` seconds."""

    def __init__(self, fake: FakeTelegram, user_id: int, every: float) -> None:
        from tests.fakes.telegram_api import SimUser

        self.fake = fake
        self.user = SimUser(user_id, "区协调员")
        self.every = every
        self.commands = 0
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, name="coordinator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._quit.set()
        self._thread.join(10)

    def _run(self) -> None:
        self.fake.user_sends_text(self.user, "/summary")
        self.commands += 1
        while not self._quit.wait(self.every):
            self.fake.user_sends_text(self.user, "/status")
            self.commands += 1


def add_coordinator(database_url: str, user_id: int) -> None:
    """Register a coordinator of the district (COORDINATOR_UNIT)."""
    from storage import members
    from storage.db import create_db_engine, make_sessionmaker, transaction
    from storage.models import RoleName

    engine = create_db_engine(database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            unit = members.unit_by_key(session, COORDINATOR_UNIT)
            assert unit is not None, COORDINATOR_UNIT
            members.join(
                session,
                "区协调员",
                platform="telegram",
                external_id=str(user_id),
                unit_id=unit.id,
                roles=(RoleName.COORDINATOR,),
            )
    finally:
        engine.dispose()


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) a process used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """The figures of one load run."""

    database: str
    limits: str
    users: int
    reports_per_user: int
    updates: int = 0
    replies: int = 0
    entries_expected: int = 0
    entries_stored: int = 0
    entries_right: int = 0
    duplicates: int = 0
    wall_seconds: float = 0.0
    updates_per_second: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p90_ms: float = 0.0
    latency_p99_ms: float = 0.0
    latency_max_ms: float = 0.0
    wait_p50_ms: float = 0.0
    wait_p99_ms: float = 0.0
    bot_cpu_ms_per_update: float | None = None
    load_cpu_ms_per_update: float = 0.0
    mean_batch: float = 0.0
    delivered_again: int = 0
    load_average: float = 0.0
    scenario: str = "rush"
    coordinator_commands: int = 0
    coordinator_messages: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every entry stored once, with what was typed."""
        return (
            self.entries_stored == self.entries_expected == self.entries_right
            and self.duplicates == 0
            and not self.problems
        )


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0 < share < 1) of `values`, interpolated."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    return cuts[round(share * 1000) - 1]


def run_load(
    fake: FakeTelegram,
    *,
    database_kind: str,
    limits: str,
    users: int,
    reports: int,
    seed: int,
    timeout: float,
    first_user: int = FIRST_USER,
    postgres_url: str | None = None,
    scenario: str = "rush",
    status_every: float = 1.0,
) -> LoadResult:
    """Start a bot on a fresh database, let `users` people report at once, measure."""
    result = LoadResult(database_kind, limits, users, reports, scenario=scenario)
    coordinator: Coordinator | None = None
    rng = random.Random(seed)
    warm, *people = make_users(users + 1, first_user)
    with (
        tempfile.TemporaryDirectory() as folder_name,
        database(database_kind, Path(folder_name), postgres_url) as url,
    ):
        folder = Path(folder_name)
        set_up(url, [warm.id, *(p.id for p in people)], folder)
        if scenario == "mixed":
            add_coordinator(url, first_user + users + 1)
        config = BotConfig(fake.token, fake.base_url, fake.base_file_url, url, str(folder), limits)
        context = multiprocessing.get_context("spawn")
        polls = len(fake.get_updates_offsets)
        process = context.Process(target=serve_bot, args=(config,), daemon=True)
        process.start()
        assert process.pid is not None
        try:
            deadline = time.monotonic() + 60
            while len(fake.get_updates_offsets) == polls:
                if not process.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"the bot process did not start ({process.exitcode})")
                time.sleep(0.01)
            # One report first: imports, caches and connections warm, as in a running bot.
            warm_reporter = Reporter(fake, warm, 0, random.Random(seed), reports=1)
            warmup = Crowd(fake, [warm_reporter])
            warmup.start()
            if not warmup.wait_idle(120):
                raise RuntimeError("the warm-up report did not finish")
            warmup.stop()
            reporters = [
                Reporter(fake, user, n + 1, random.Random(rng.random()), reports=reports)
                for n, user in enumerate(people)
            ]
            crowd = (
                ThinkingCrowd(fake, reporters, THINK)
                if scenario == "mixed"
                else Crowd(fake, reporters)
            )
            if scenario == "mixed":
                coordinator = Coordinator(fake, first_user + users + 1, status_every)
            cpu_before = process_cpu(process.pid)
            own_before = resource.getrusage(resource.RUSAGE_SELF)
            mark = len(fake.sent())
            result.load_average = round(os.getloadavg()[0], 2)
            began = time.monotonic()
            crowd.start()
            if coordinator is not None:
                coordinator.start()
            finished = crowd.wait_idle(timeout)
            if coordinator is not None:
                coordinator.stop()
            ended = time.monotonic()
            cpu_after = process_cpu(process.pid)
            own_after = resource.getrusage(resource.RUSAGE_SELF)
            crowd.stop()
            if not finished:
                stuck = [r for r in reporters if not r.idle]
                result.problems.append(
                    f"{len(stuck)} people had not finished after {timeout:.0f} s; "
                    f"e.g. {stuck[0].user.id} waiting for {stuck[0].waiting_for!r}"
                )
            try:
                fake.wait_for(lambda: fake.pending_updates() == 0 or None, 60, lambda: "")
            except AssertionError:
                result.problems.append(f"{fake.pending_updates()} updates still pending")
        finally:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
            process.join(30)
            if process.is_alive():
                process.kill()
        if process.exitcode != 0:
            result.problems.append(f"the bot process exited with {process.exitcode}")
        for reporter in reporters:
            result.problems.extend(f"user {reporter.user.id}: {p}" for p in reporter.problems)
            if reporter.error_replies:
                result.problems.append(f"user {reporter.user.id}: internal error replies")
        if coordinator is not None:
            result.coordinator_commands = coordinator.commands
            result.coordinator_messages = len(fake.sent(coordinator.user.id))
        sent = [s for r in reporters for s in r.sent]
        result.updates = len(sent)
        result.replies = len(fake.sent()) - mark
        result.wall_seconds = round(ended - began, 2)
        result.updates_per_second = round(result.updates / (ended - began), 1)
        _latencies(result, fake, reporters)
        if cpu_before is not None and cpu_after is not None:
            result.bot_cpu_ms_per_update = round((cpu_after - cpu_before) / len(sent) * 1e3, 3)
        own = (own_after.ru_utime + own_after.ru_stime) - (
            own_before.ru_utime + own_before.ru_stime
        )
        result.load_cpu_ms_per_update = round(own / len(sent) * 1e3, 3)
        check = check_database(url, {r.user.id: r.confirmed for r in [warm_reporter, *reporters]})
        result.entries_expected = users * reports
        warm_entries = len(warm_reporter.confirmed)  # the warm-up report is not counted
        result.entries_stored = check.entries - warm_entries
        result.entries_right = check.found - check.wrong_contents - warm_entries
        result.duplicates = check.duplicates
        result.problems.extend(p for p in check.problems if "never confirmed" not in p)
    return result


def _latencies(result: LoadResult, fake: FakeTelegram, reporters: Sequence[Reporter]) -> None:
    """Processing latency: first handout of an update -> the bot's first message after it."""
    sends: dict[int, list[float]] = {}
    for message in fake.sent():
        if message.method in ("sendMessage", "sendPhoto", "sendDocument"):
            sends.setdefault(message.chat_id, []).append(message.timestamp)
    handouts = fake.all_handouts()
    latencies: list[float] = []
    waits: list[float] = []
    answers: set[float] = set()  # one getUpdates answer hands its updates out at one time
    handed = 0
    for reporter in reporters:
        times = sends.get(reporter.user.id, [])
        for sent in reporter.sent:
            given = handouts.get(sent.update_id)
            if not given:
                result.problems.append(f"update {sent.update_id} was never handed out")
                continue
            result.delivered_again += len(given) > 1
            answers.update(given)
            handed += len(given)
            index = bisect.bisect_left(times, given[0])
            if index == len(times):
                result.problems.append(f"update {sent.update_id} got no reply")
                continue
            latencies.append(times[index] - given[0])
            if sent.answered_at is not None:
                waits.append(sent.answered_at - sent.at)
    result.mean_batch = round(handed / max(len(answers), 1), 1)
    if latencies:
        result.latency_p50_ms = round(percentile(latencies, 0.5) * 1e3, 1)
        result.latency_p90_ms = round(percentile(latencies, 0.9) * 1e3, 1)
        result.latency_p99_ms = round(percentile(latencies, 0.99) * 1e3, 1)
        result.latency_max_ms = round(max(latencies) * 1e3, 1)
    if waits:
        result.wait_p50_ms = round(percentile(waits, 0.5) * 1e3, 1)
        result.wait_p99_ms = round(percentile(waits, 0.99) * 1e3, 1)


def print_table(results: Sequence[LoadResult]) -> None:
    header = (
        f"{'database':<10} {'scenario':<8} {'limits':<8} {'users':>5} {'updates':>7} "
        f"{'entries':>9} "
        f"{'wall s':>7} {'upd/s':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'wait p50':>8} {'wait p99':>8} {'batch':>5} {'bot CPU/upd':>11} {'load CPU/upd':>12} "
        f"{'loadavg':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cpu = "-" if r.bot_cpu_ms_per_update is None else f"{r.bot_cpu_ms_per_update:.2f}"
        print(
            f"{r.database:<10} {r.scenario:<8} {r.limits:<8} {r.users:>5} {r.updates:>7} "
            f"{f'{r.entries_right}/{r.entries_expected}':>9} {r.wall_seconds:>7.1f} "
            f"{r.updates_per_second:>6.0f} {r.latency_p50_ms:>8.1f} {r.latency_p90_ms:>8.1f} "
            f"{r.latency_p99_ms:>8.1f} {r.latency_max_ms:>8.1f} {r.wait_p50_ms:>8.0f} "
            f"{r.wait_p99_ms:>8.0f} {r.mean_batch:>5.1f} {cpu:>11} "
            f"{r.load_cpu_ms_per_update:>12.2f} {r.load_average:>7.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--reports", type=int, default=1, help="whole reports per person")
    parser.add_argument(
        "--database", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--limits", nargs="+", choices=["lifted", "telegram"], default=["lifted", "telegram"]
    )
    parser.add_argument(
        "--scenario",
        nargs="+",
        choices=["rush", "mixed"],
        default=["rush"],
        help="rush: everyone answers at once; mixed: people think 5-15 s, a district "
        "coordinator asks /summary and /status meanwhile (Telegram's limits)",
    )
    parser.add_argument("--status-every", type=float, default=1.0, help="mixed: seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per run")
    parser.add_argument("--postgres-url", default=None, help="default: HUIBAO_TEST_POSTGRES_URL")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    if args.users < 1 or args.reports < 1:
        parser.error("--users and --reports must be positive")

    from tests.fakes.telegram_api import FakeTelegram

    results: list[LoadResult] = []
    runs = [
        (scenario, "telegram" if scenario == "mixed" else limits, kind)
        for scenario in args.scenario
        for limits in (["telegram"] if scenario == "mixed" else args.limits)
        for kind in args.database
    ]
    with FakeTelegram() as fake:
        for scenario, limits, kind in runs:
            first_user = FIRST_USER + len(results) * 10_000
            print(
                f"{args.users} people x {args.reports} report(s), {kind}, limits {limits}, "
                f"scenario {scenario}"
            )
            result = run_load(
                fake,
                database_kind=kind,
                limits=limits,
                users=args.users,
                reports=args.reports,
                seed=args.seed,
                timeout=args.timeout,
                postgres_url=args.postgres_url,
                first_user=first_user,
                scenario=scenario,
                status_every=args.status_every,
            )
            results.append(result)
            for problem in result.problems[:10]:
                print("PROBLEM:", problem)
    print()
    print_table(results)
    ok = all(r.ok for r in results)
    print("every entry stored once with its contents:", "PASS" if ok else "FAIL")
    for r in results:
        if r.scenario == "mixed":
            verdict = "PASS" if r.wait_p99_ms <= 1000 else "FAIL"
            print(
                f"mixed, {r.database}: staff wait p99 {r.wait_p99_ms / 1e3:.2f} s (goal <= 1 s): "
                f"{verdict}; the coordinator sent {r.coordinator_commands} commands and got "
                f"{r.coordinator_messages} messages"
            )
    if args.json:
        rows = [{**dataclasses.asdict(r), "ok": r.ok} for r in results]
        Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
