#!/usr/bin/env python3
"""Credit import benchmark (issue 13 point 6): a CSV of monthly credits (划入) of 4,000 and
40,000 rows through the real path, the upload's check and staging, then a real Celery worker
posting it in chunks, with how long any personal account stays locked meanwhile.

    .venv/bin/python bench/credits.py [--sizes 4000,40000]

One run: drop and create the database `bench_credits`, migrate, COPY in as many employees of
南京 (320100) as the largest size with an empty personal account each; start a real worker
(`celery -A portal worker --pool=solo`, its own queue, broker Redis database 14). Then, per
size, a CSV of that many rows (one month, amounts 50.00–500.00) goes through
`credits_import_csv` in this process, as the admin's upload does (check + one staging
transaction, the task enqueued after commit), and the worker posts it. Meanwhile a probe locks a
random account of the file every 20 ms as a settlement would (`SELECT … FOR NO KEY UPDATE`) and
records how long it waited. Prints the time to stage, the time to post, the longest chunk
transaction (from the service's DEBUG log in the worker: the longest any account is held by the
import) and the probe's longest wait, checks the ledger, and drops the database unless
--keep-db. See README.md, "Credit import (issue 13)"."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
REGION = "320100"
CHUNK_LINE = re.compile(r"credit batch (\d+) chunk: (\d+) rows in ([\d.]+) s")
STAGE_LINE = re.compile(r"credit batch (\d+) staged in ([\d.]+) s")
CHECK_LINE = re.compile(r"credit file checked: (\d+) rows in ([\d.]+) s")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pg(url: str, database: str, **kwargs):
    import psycopg

    return psycopg.connect(f"{url}/{database}", **kwargs)


def database_recreate(url: str, name: str) -> None:
    with pg(url, "postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str, name: str) -> None:
    with pg(url, "postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------------
# the data


def employees(count: int) -> list[tuple[str, str]]:
    """(identity number, name) of `count` employees born from 1950 on, 500 a day."""
    from accounts.idnumber import check_char

    found = []
    for i in range(count):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=i // 500)
        first17 = f"{REGION}{birth:%Y%m%d}{100 + i % 500:03d}"
        found.append((first17 + check_char(first17), f"划入压测{i:05d}"))
    return found


def load(url: str, database: str, people: list[tuple[str, str]]) -> float:
    """COPY the employees in, then open a personal account (balance 0, no legs) for each."""
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
    with pg(url, database) as conn, conn.cursor() as cur:
        region_id = cur.execute(
            "SELECT id FROM accounts_regionpolicy WHERE code = %s", [REGION]
        ).fetchone()[0]
        columns = (
            "public_id, name, id_number, birth_date, sex, phone, scheme, status, created_at, "
            "updated_at, region_id"
        )
        with cur.copy(f"COPY accounts_insuredperson ({columns}) FROM STDIN") as copy:
            for i, (number, name) in enumerate(people):
                birth = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
                sex = "M" if int(number[16]) % 2 else "F"
                copy.write(
                    f"{uuid.uuid4()}\t{name}\t{number}\t{birth}\t{sex}\t139{i:08d}\temployee\t"
                    f"normal\t{now}\t{now}\t{region_id}\n"
                )
        cur.execute(
            "INSERT INTO payments_ledgeraccount (public_id, kind, person_id, region_id, balance, "
            "created_at) SELECT gen_random_uuid(), 'personal', id, region_id, 0, now() "
            "FROM accounts_insuredperson WHERE name LIKE '划入压测%%'"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")
    return time.monotonic() - started


def csv_of(people: list[tuple[str, str]], *, month: str, rng: random.Random) -> bytes:
    lines = ["id_number,name,amount,month\n"]
    for number, name in people:
        lines.append(f"{number},{name},{rng.randrange(5000, 50001) / 100:.2f},{month}\n")
    return "".join(lines).encode()


# ---------------------------------------------------------------------------------------------
# the worker and the probe


def settings_module(workdir: Path, *, queue: str) -> str:
    """The bench's settings (production's, with this database) for this process and the
    worker: every task on the run's own queue, no remote control, the import's DEBUG lines."""
    name = "bench_credits_settings"
    (workdir / f"{name}.py").write_text(
        "from bench.settings import *  # noqa: F403\n"
        "from bench.settings import LOGGING\n\n"
        f"CELERY_TASK_DEFAULT_QUEUE = {queue!r}\n"
        "CELERY_WORKER_ENABLE_REMOTE_CONTROL = False\n"
        'LOGGING["loggers"]["payments.credits"] = {"level": "DEBUG"}\n',
        encoding="utf-8",
    )
    return name


def worker_start(*, env: dict, queue: str, log_path: Path, tag: str) -> subprocess.Popen:
    command = [
        str(VENV_BIN / "celery"), "-A", "portal", "worker", "--pool=solo", "--concurrency=1",
        "-Q", queue, "-n", f"bench-credits-{tag}@%h", "-l", "INFO",
        "--without-mingle", "--without-gossip", "--without-heartbeat",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while "ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the worker did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)
    return process


def worker_stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class Probe(threading.Thread):
    """What a settlement on a credited account would wait for: every 20 ms, lock one random
    account of the file FOR NO KEY UPDATE (as `ledger.accounts_lock` does) in a transaction of
    its own, and record the wait."""

    def __init__(self, *, url: str, database: str, accounts: list[int], seed: int):
        super().__init__(daemon=True)
        self.url, self.database, self.accounts = url, database, accounts
        self.rng = random.Random(seed)  # noqa: S311 - which account, not a secret
        self.waits: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with pg(self.url, self.database, autocommit=True) as conn:
            while not self.stop.is_set():
                account = self.rng.choice(self.accounts)
                started = time.perf_counter()
                with conn.transaction():
                    conn.execute(
                        "SELECT 1 FROM payments_ledgeraccount WHERE id = %s FOR NO KEY UPDATE",
                        [account],
                    )
                    self.waits.append(time.perf_counter() - started)
                time.sleep(0.02)


# ---------------------------------------------------------------------------------------------
# one size


@dataclass
class Run:
    rows: int
    check_s: float = 0.0  # credits_csv_check, in this process (the web request's part)
    stage_s: float = 0.0  # the staging transaction
    upload_s: float = 0.0  # the whole call: check + staging (what the request waits for)
    post_s: float = 0.0  # the batch's started_at → finished_at (the worker's posting)
    wall_s: float = 0.0  # commit → done seen here (queue latency and polling included)
    chunks: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    checks: list[tuple[bool, str]] = field(default_factory=list)
    elsewhere: str = ""
    busy_share: float = 0.0

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.checks)


class Captured:
    """The service's DEBUG lines in this process (check and staging times)."""

    def __init__(self):
        import logging

        self.lines: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: self.lines.append(record.getMessage())
        logger = logging.getLogger("payments.credits")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def run_size(run: Run, *, args, people, month: str, worker_log: Path, captured: Captured) -> None:
    from bench.settlement import Watch
    from payments import services
    from payments.models import CreditImport, CreditRow

    rng = random.Random(args.seed + run.rows)  # noqa: S311 - amounts, not secrets
    data = csv_of(people[: run.rows], month=month, rng=rng)
    log_offset = len(worker_log.read_text(errors="replace"))
    captured.lines.clear()
    started = time.monotonic()
    batch = services.credits_import_csv(
        data=data, file_name=f"bench-{run.rows}.csv", actor=None, regions=None
    )
    committed = time.monotonic()
    run.upload_s = committed - started
    for line in captured.lines:
        if found := CHECK_LINE.search(line):
            run.check_s = float(found.group(2))
        if found := STAGE_LINE.search(line):
            run.stage_s = float(found.group(2))
    accounts = list(CreditRow.objects.filter(batch=batch).values_list("account_id", flat=True))
    probe = Probe(url=args.pg_url, database=args.database, accounts=accounts, seed=args.seed)
    with Watch(args=args, server=None) as watch:
        probe.start()
        deadline = committed + args.timeout
        while True:
            batch.refresh_from_db()
            if batch.status == CreditImport.Status.DONE:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"batch {batch.pk} not done after {args.timeout} s")
            time.sleep(0.25)
        run.wall_s = time.monotonic() - committed
        probe.stop.set()
        probe.join(30)
    run.elsewhere, run.busy_share = watch.summary, watch.share
    run.waits = probe.waits
    run.post_s = (batch.finished_at - batch.started_at).total_seconds()
    text = worker_log.read_text(errors="replace")[log_offset:]
    run.chunks = [
        float(m.group(3)) for m in CHUNK_LINE.finditer(text) if int(m.group(1)) == batch.pk
    ]
    verify(run, batch=batch, args=args)


def verify(run: Run, *, batch, args) -> None:
    from django.db import connection

    from accounts.models import AuditEntry
    from payments.models import CreditRow, LedgerTransaction

    batch.refresh_from_db()
    posted = CreditRow.objects.filter(batch=batch, status="posted").count()
    run.checks.append((posted == batch.rows == run.rows, f"rows posted {posted} of {run.rows}"))
    credits = LedgerTransaction.objects.filter(credit_row__batch=batch).count()
    run.checks.append((credits == run.rows, f"ledger credits of the batch: {credits}"))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM payments_ledgeraccount a LEFT JOIN (SELECT account_id, "
            "sum(amount) AS t FROM payments_ledgerleg GROUP BY account_id) l "
            "ON l.account_id = a.id WHERE a.kind = 'personal' AND a.balance <> coalesce(l.t, 0)"
        )
        drift = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FROM (SELECT transaction_id FROM payments_ledgerleg "
            "GROUP BY transaction_id HAVING sum(amount) <> 0) t"
        )
        unbalanced = cur.fetchone()[0]
    run.checks.append((drift == 0, f"accounts whose balance differs from their legs: {drift}"))
    run.checks.append((unbalanced == 0, f"transactions not summing to zero: {unbalanced}"))
    audits = AuditEntry.objects.filter(object_id=str(batch.public_id)).count()
    run.checks.append((audits == 2, f"audit entries of the batch: {audits} (staged, done)"))
    expected_chunks = -(-run.rows // 200)
    run.checks.append(
        (len(run.chunks) == expected_chunks, f"chunks in the worker's log: {len(run.chunks)}")
    )


# ---------------------------------------------------------------------------------------------
# the report


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(runs: list[Run]) -> None:
    print()
    print(
        "| rows | check s | staging txn s | upload s | post s | rows/s | chunks | "
        "longest chunk ms | p50 chunk ms | probes | longest probe wait ms | p99 wait ms | checks |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        print(
            f"| {run.rows:,} | {run.check_s:.2f} | {run.stage_s:.2f} | {run.upload_s:.2f} | "
            f"{run.post_s:.1f} | {run.rows / run.post_s if run.post_s else 0:,.0f} | "
            f"{len(run.chunks)} | {ms(max(run.chunks, default=0))} | "
            f"{ms(statistics.median(run.chunks) if run.chunks else 0)} | {len(run.waits)} | "
            f"{ms(max(run.waits, default=0))} | {ms(percentile(run.waits, 99))} | "
            f"{'all passed' if run.ok else 'FAILED'} |"
        )
    print()
    for run in runs:
        print(
            f"{run.rows:,} rows: commit → done seen {run.wall_s:.1f} s; elsewhere: {run.elsewhere}"
        )
        for ok, text in run.checks:
            print(f"  {'ok ' if ok else 'BAD'} {text}")
    if any(run.busy_share > 0.05 for run in runs):
        print("→ the machine was not quiet: these figures are lower than it can do")


# ---------------------------------------------------------------------------------------------
# the run


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000,40000", help="rows per file (default 4000,40000)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--database", default="bench_credits")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds a batch may take")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    args = parser.parse_args()
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes: whole numbers separated by commas")
    if not args.size_list or min(args.size_list) < 1 or max(args.size_list) > 200_000:
        parser.error("--sizes: between 1 and 200000 rows")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,50}", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    return args


def main() -> int:
    args = parse_args()
    from bench.expiry import pg_facts, versions
    from bench.settlement import calibration, machine

    tag = uuid.uuid4().hex[:8]
    queue = f"bench-credits-{tag}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-credits-"))
    settings = settings_module(workdir, queue=queue)
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=f"{args.pg_url}/{args.database}",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(workdir)]),
        CELERY_BROKER_URL=args.broker,
        LOG_LEVEL="INFO",
    )
    print(f"Credit import benchmark {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, run {tag}")
    print(*machine(), sep="\n")
    calibrated = calibration()
    worker = None
    runs: list[Run] = []
    try:
        database_recreate(args.pg_url, args.database)
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        print(f"- database {args.database}: migrated in {time.monotonic() - started:.1f} s")
        people = employees(max(args.size_list))
        seconds = load(args.pg_url, args.database, people)
        print(f"- {len(people):,} employees and their empty accounts (COPY) in {seconds:.1f} s")
        worker_log = workdir / "worker.log"
        worker = worker_start(env=env, queue=queue, log_path=worker_log, tag=tag)
        print(f"- worker ready (solo pool, queue {queue}, broker {args.broker})", flush=True)

        for key, value in env.items():  # this process: the same settings, database and broker
            if key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "LOG_LEVEL"):
                os.environ[key] = value
        sys.path.insert(0, str(workdir))
        import django

        django.setup()
        captured = Captured()
        for i, size in enumerate(args.size_list):
            run = Run(rows=size)
            month = f"2026-{1 + i % 12:02d}"
            print(f"- {size:,} rows (month {month}): upload, then the worker posts …", flush=True)
            run_size(
                run, args=args, people=people, month=month, worker_log=worker_log, captured=captured
            )
            runs.append(run)
            print(f"  posted in {run.post_s:.1f} s", flush=True)
        report(runs)
        print()
        print(*machine(), sep="\n")
        print(
            f"CPU calibration (a fixed Python loop, lower is faster): {calibrated:.0f} ms "
            f"before, {calibration():.0f} ms after"
        )
        print(versions() + "; " + pg_facts(args.pg_url))
        return 0 if all(run.ok for run in runs) else 1
    finally:
        worker_stop(worker)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                database_drop(args.pg_url, args.database)
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(args.broker)
            for key in client.scan_iter(f"*{queue}*"):
                client.delete(key)
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
