"""Webhook throughput of one `huibao run` against two, on one PostgreSQL database.

Real processes and the fake Bot API (tests/test_instances.py's harness): MEMBERS members
each answer the first five steps of an interview, one message after the other (the next one
once the instance answered 200, as Telegram does), all members at once. The load balancer
is this script: round robin over the instances, per update. Runs alternate one and two
instances (interleaved), each on a fresh schema, and print updates per second.

    .venv/bin/python -m benchmarks.instances_throughput --members 100 --rounds 3

Both instances share this machine's cores with the fake and the simulated members, so the
figure for two shows what the database and the sharing cost, not what a second machine adds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import httpx

from storage.db import create_db_engine, make_sessionmaker
from tests.conftest import register
from tests.fakes.telegram_api import FakeTelegram, SimUser
from tests.test_instances import (
    STEPS,
    UNIT,
    Instances,
    fresh_schema,
    update_for,
    webhook_secret,
)

ids = count(8_000_000)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(instances_count: int, members: int) -> tuple[float, float]:
    """Updates per second with `instances_count` instances, and the instances' CPU
    milliseconds per update."""
    with fresh_schema() as database, FakeTelegram() as fake, tempfile.TemporaryDirectory() as work:
        harness = Instances(
            fake,
            database,
            Path(work),
            HUIBAO_TELEGRAM__WEBHOOK_URL="https://bot.example.org/tg",
            HUIBAO_LOG_LEVEL="WARNING",
            HUIBAO_REMINDERS__ENABLED="false",
        )
        harness.cli("org", "load", str(Path(__file__).parent.parent / "examples" / "org.yaml"))
        users = [SimUser(next(ids), f"员{n}") for n in range(members)]
        engine = create_db_engine(database)
        sessions = make_sessionmaker(engine)
        for user in users:
            register(sessions, user.first_name, UNIT, platform="telegram", external_id=str(user.id))
        engine.dispose()
        try:
            for _ in range(instances_count):
                harness.wait_healthy(harness.start())
            urls = [f"http://127.0.0.1:{port}/tg" for port in harness.ports]
            headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret(fake.token)}
            turn = count()

            def member(user: SimUser) -> None:
                with httpx.Client(timeout=60) as client:
                    for typed, _question in STEPS:
                        update = update_for(user, typed)
                        while True:
                            url = urls[next(turn) % len(urls)]
                            if client.post(url, json=update, headers=headers).status_code == 200:
                                break

            pids = [process.pid for process in harness.processes]
            cpu_before = sum(cpu_seconds(pid) for pid in pids)
            started = time.perf_counter()
            with ThreadPoolExecutor(min(members, 64)) as pool:
                for done in [pool.submit(member, user) for user in users]:
                    done.result()
            elapsed = time.perf_counter() - started
            cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        finally:
            harness.stop_all()
        expected = members * len(STEPS)
        answered = sum(sum(q in t for t in fake.messages_to(u.id) for _, q in STEPS) for u in users)
        assert answered == expected, (answered, expected)
        return expected / elapsed, cpu * 1000 / expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    rates: dict[int, list[float]] = {1: [], 2: []}
    cpus: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(options.rounds):
        for n in (1, 2):
            rate, cpu = one_run(n, options.members)
            rates[n].append(rate)
            cpus[n].append(cpu)
            print(f"{n} instance(s): {rate:.0f} updates/s, {cpu:.2f} ms CPU per update", flush=True)
    for n in (1, 2):
        print(
            f"{n} instance(s), {options.members} members x {len(STEPS)} messages: "
            f"{_spread(rates[n], '.0f')} updates/s; instances' CPU "
            f"{_spread(cpus[n], '.2f')} ms per update"
        )
    ratios = [two / one for one, two in zip(rates[1], rates[2], strict=True)]
    print(f"updates/s, two / one, per round: {', '.join(f'{r:.2f}' for r in ratios)}")


def _spread(values: list[float], spec: str) -> str:
    return (
        f"min {min(values):{spec}} / median {statistics.median(values):{spec}} / "
        f"max {max(values):{spec}}"
    )


if __name__ == "__main__":
    main()
