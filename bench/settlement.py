#!/usr/bin/env python3
"""Settlement benchmark (issue 4 point 8): signed settlements through the institution API under
gunicorn, against a bare Django view and against pgbench doing the ledger SQL alone.

    .venv/bin/python bench/settlement.py [--requests 5000] [--concurrency 16] [--patients 1000]

One run: drop and create the database `bench_portal`, migrate, load the demo and the patients
(bench/populate.py, through the portal's services), start gunicorn on a free port, drive the
signed POST /api/v1/settlements and then GET /bench/bare with the same client and concurrency,
stop gunicorn, run pgbench with bench/ledger_txn.sql, check the ledger, print the figures, the
machine and the versions; the database is dropped at the end unless --keep-db. See README.md.

The client is the standard library only: a ThreadPoolExecutor whose threads each keep one
http.client connection (gunicorn's sync workers close it after each answer; http.client opens a
new one). Every non-201 settlement answer is an error and is printed."""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import importlib.metadata
import io
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SETTLEMENTS_PATH = "/api/v1/settlements"
BARE_PATH = "/bench/bare"
RAW_PATH = "/bench/raw-settlement"


# ---------------------------------------------------------------------------------------------
# the client


@dataclass
class Load:
    """What one load phase measured."""

    name: str
    requests: int
    concurrency: int
    seconds: float
    latencies: list[float]  # seconds, one per request
    statuses: collections.Counter
    errors: list[tuple[int, int, str]] = field(default_factory=list)  # (job, status, body)
    replayed: int = 0

    @property
    def ok(self) -> int:
        return self.requests - len(self.errors)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: int) -> float:
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[p - 1] * 1000  # ms


class Connection:
    """One keep-alive HTTP connection; gunicorn's sync worker closes it after each answer and
    http.client then reconnects on the next request."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=120)

    def send(self, method: str, path: str, body: bytes | None, headers: dict):
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            return response.status, data, response.getheader("Idempotent-Replayed")
        except (http.client.HTTPException, OSError) as exc:
            self.conn.close()
            return 0, repr(exc).encode(), None

    def close(self) -> None:
        self.conn.close()


Request = Callable[[Connection, int], tuple[int, bytes, str | None]]


def run_load(
    *, name: str, port: int, requests: int, concurrency: int, request: Request, expect: int
) -> Load:
    """`requests` jobs over `concurrency` threads; each thread keeps its own connection."""
    jobs = iter(range(requests))
    lock = threading.Lock()
    latencies = [0.0] * requests
    statuses: collections.Counter = collections.Counter()
    errors: list[tuple[int, int, str]] = []
    replayed = 0

    def worker() -> None:
        nonlocal replayed
        connection = Connection(port)
        try:
            while True:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                started = time.perf_counter()
                status, body, was_replayed = request(connection, job)
                latencies[job] = time.perf_counter() - started
                with lock:
                    statuses[status] += 1
                    if status != expect:
                        errors.append((job, status, body[:400].decode(errors="replace")))
                    if was_replayed:
                        replayed += 1
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    seconds = time.perf_counter() - started
    return Load(name, requests, concurrency, seconds, latencies, statuses, errors, replayed)


@dataclass(frozen=True)
class Job:
    id_number: str
    institution: str
    secret: str
    amount: str
    key: str


def settlement_jobs(plan: dict, *, count: int, tag: str, rng: random.Random) -> list[Job]:
    """`count` settlements spread round-robin over the shuffled patients, 1.00–9.99 each."""
    patients = list(plan["patients"])
    rng.shuffle(patients)
    jobs = []
    for i in range(count):
        patient = patients[i % len(patients)]
        cents = rng.randint(100, 999)
        jobs.append(
            Job(
                id_number=patient["id_number"],
                institution=patient["institution"],
                secret=plan["secrets"][patient["institution"]],
                amount=f"{cents // 100}.{cents % 100:02d}",
                key=f"bench-{tag}-{i}",
            )
        )
    return jobs


def settlement_request(jobs: list[Job]) -> Request:
    def send(connection: Connection, i: int):
        job = jobs[i]
        payload = {
            "patient_id_number": job.id_number,
            "category": "outpatient",
            "amount": job.amount,
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "items": [],
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        digest = hashlib.sha256(body).hexdigest()
        message = f"2\n{timestamp}\nPOST\n{SETTLEMENTS_PATH}\n{job.key}\n{digest}"
        headers = {
            "Content-Type": "application/json",
            "X-Institution-Code": job.institution,
            "X-Timestamp": timestamp,
            "X-Signature-Version": "2",
            "X-Signature": hmac.new(job.secret.encode(), message.encode(), "sha256").hexdigest(),
            "Idempotency-Key": job.key,
        }
        return connection.send("POST", SETTLEMENTS_PATH, body, headers)

    return send


def raw_request(jobs: list[Job]) -> Request:
    """The raw-SQL floor (bench/urls.py): the same patient, institution and amount, unsigned."""

    def send(connection: Connection, i: int):
        job = jobs[i]
        body = json.dumps(
            {
                "institution": job.institution,
                "patient_id_number": job.id_number,
                "amount": job.amount,
                "key": job.key,
            },
            separators=(",", ":"),
        ).encode()
        return connection.send("POST", RAW_PATH, body, {"Content-Type": "application/json"})

    return send


def bare_request(connection: Connection, _i: int):
    return connection.send("GET", BARE_PATH, None, {})


# ---------------------------------------------------------------------------------------------
# database, server, pgbench


def psql_connect(base_url: str, database: str):
    import psycopg

    return psycopg.connect(f"{base_url}/{database}", autocommit=True)


def database_recreate(base_url: str, name: str) -> None:
    with psql_connect(base_url, "postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(base_url: str, name: str) -> None:
    with psql_connect(base_url, "postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def source_tree(rev: str | None, workdir: Path) -> tuple[Path, str]:
    """The code to benchmark and its description: the working tree as it is, or (--commit) a
    clean export of a commit with this bench/ laid over it, so that edits made in the working
    tree while the benchmark runs cannot reach the server."""

    def git(*command: str) -> str:
        result = subprocess.run(["git", "-C", str(ROOT), *command], capture_output=True)  # noqa: S603, S607
        return result.stdout.decode().strip() if result.returncode == 0 else ""

    if rev is None:
        head = git("rev-parse", "--short", "HEAD") or "?"
        dirty = " with uncommitted changes" if git("status", "--porcelain", "--", ".") else ""
        return ROOT, f"working tree at {head}{dirty}"
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not commit:
        raise SystemExit(f"--commit {rev}: no such commit")
    command = ["git", "-C", str(ROOT), "archive", "--format=tar", commit]
    archive = subprocess.run(command, capture_output=True, check=True).stdout  # noqa: S603
    src = workdir / "src"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src, filter="data")
    shutil.copytree(
        BENCH, src / "bench", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    return src, f"commit {commit[:10]} (clean export) with this bench/"


def django_env(args, database_url: str, src: Path) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=database_url,
        PYTHONPATH=str(src),
        LOG_LEVEL="WARNING",
    )
    if args.conn_max_age is not None:
        env["BENCH_CONN_MAX_AGE"] = str(args.conn_max_age)
    return env


def step(title: str, command: list[str], env: dict, src: Path) -> str:
    """Run `command` in `src`, print its indented lines and how long it took; its output."""
    started = time.monotonic()
    print(f"- {title} …", flush=True)
    result = subprocess.run(command, cwd=src, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"{title} failed (exit {result.returncode})")
    for line in result.stdout.splitlines():
        if line.startswith("  ") and not line.startswith("  +"):
            print(line)
    print(f"  done in {time.monotonic() - started:.1f} s", flush=True)
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def gunicorn_start(*, workers: int, port: int, env: dict, log: Path, src: Path) -> subprocess.Popen:
    command = [
        str(VENV_BIN / "gunicorn"),
        "portal.wsgi",
        "--workers", str(workers),
        "--bind", f"{HOST}:{port}",
        "--error-logfile", str(log),
        "--log-level", "warning",
        "--backlog", "2048",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=src,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"gunicorn exited with {process.returncode}; see {log}:\n"
                + log.read_text(errors="replace")[-3000:]
            )
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", BARE_PATH)
            if conn.getresponse().status == 200:
                conn.close()
                return process
        time.sleep(0.2)
    gunicorn_stop(process)
    raise SystemExit("gunicorn did not answer within 60 s")


def gunicorn_stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # the arbiter stops its workers
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Pgbench:
    transactions: int
    failed: int
    tps: float
    latency_avg: float
    p50: float
    p99: float
    seconds: float
    command: str


def run_pgbench(*, args, plan: dict, database: str, workdir: Path) -> Pgbench:
    per_client = max(1, args.pgbench_transactions // args.concurrency)
    url = re.match(r"postgres(?:ql)?://([^@/]+)@([^:/]+)(?::(\d+))?", args.pg_url)
    if url is None:
        raise SystemExit("--pg-url must look like postgres://user@host:port")
    user, host, port = url.group(1), url.group(2), url.group(3) or "5432"
    logdir = workdir / "pgbench"
    logdir.mkdir()
    command = [
        "pgbench", "-n", "-h", host, "-p", port, "-U", user,
        "-c", str(args.concurrency), "-j", str(min(args.concurrency, os.cpu_count() or 1)),
        "-t", str(per_client), "-f", str(BENCH / "ledger_txn.sql"),
        "-D", f"lo={plan['account_ids']['lo']}", "-D", f"hi={plan['account_ids']['hi']}",
        "-D", f"payable={plan['payable_account_id']}",
        "-l", f"--log-prefix={logdir / 'log'}", database,
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)  # noqa: S603
    seconds = time.monotonic() - started
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
        raise SystemExit(f"pgbench failed (exit {result.returncode})")
    out = result.stdout

    def number(pattern: str) -> float:
        found = re.search(pattern, out)
        if found is None:
            raise SystemExit(f"cannot read pgbench output ({pattern}):\n{out}")
        return float(found.group(1))

    latencies = []
    for path in logdir.iterdir():
        for line in path.read_text().splitlines():
            latencies.append(int(line.split()[2]) / 1000)  # µs → ms
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return Pgbench(
        transactions=int(number(r"number of transactions actually processed: (\d+)")),
        failed=int(failed.group(1)) if failed else 0,
        tps=number(r"tps = ([\d.]+) \(without initial connection time\)"),
        latency_avg=number(r"latency average = ([\d.]+) ms"),
        p50=cuts[49],
        p99=cuts[98],
        seconds=seconds,
        command=" ".join(command)
        .replace(str(BENCH.parent) + "/", "")
        .replace(str(logdir), "$TMP/pgbench"),
    )


# ---------------------------------------------------------------------------------------------
# what else ran on the machine during a phase

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _processes() -> dict[int, tuple[str, int, int, float]]:
    """pid → (command, parent pid, process group, CPU seconds of it and its reaped children)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = (entry / "stat").read_text()
            command = raw[raw.index("(") + 1 : raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2 :].split()
            cpu = sum(int(x) for x in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime
            found[int(entry.name)] = (command, int(fields[1]), int(fields[2]), cpu)
    return found


class Watch:
    """How busy the machine was with other work during a phase: the CPU time spent outside
    the benchmark's processes (this script and its children, gunicorn, PostgreSQL: any
    PostgreSQL work for other databases shows as their transaction count instead). Other work
    makes the figures lower; this says how much there was."""

    def __init__(self, *, args, server: subprocess.Popen | None) -> None:
        self.args, self.server_group = args, server.pid if server else None

    def _xacts(self) -> dict[str, int]:
        with contextlib.suppress(Exception), psql_connect(self.args.pg_url, "postgres") as conn:
            rows = conn.execute(
                "SELECT datname, xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname IS NOT NULL AND datname NOT IN (%s, 'postgres')",
                [self.args.database],
            ).fetchall()
            return dict(rows)
        return {}

    def _ours(self, pid: int, parent: int, group: int, command: str) -> bool:
        me = os.getpid()
        return (
            pid == me
            or parent == me
            or group == self.server_group
            or command.startswith(("postgres", "pgbench"))
        )

    def __enter__(self) -> Watch:
        self.started = time.monotonic()
        self.before, self.busy, self.xacts = _processes(), _busy(), self._xacts()
        return self

    def __exit__(self, *exc) -> None:
        seconds = time.monotonic() - self.started
        busy = _busy() - self.busy
        after, xacts = _processes(), self._xacts()
        ours, other = 0.0, collections.Counter()
        for pid, (command, parent, group, cpu) in after.items():
            used = cpu - self.before.get(pid, (command, 0, 0, 0.0))[3]
            if self._ours(pid, parent, group, command):
                ours += used
            elif used > 0:
                other[command] += used
        elsewhere = max(0.0, busy - ours)
        top = ", ".join(f"{command} {cpu:.0f}" for command, cpu in other.most_common(3) if cpu >= 1)
        share = elsewhere / (seconds * (os.cpu_count() or 1))
        transactions = sum(n - self.xacts.get(name, 0) for name, n in xacts.items())
        self.share = share
        self.summary = (
            f"{elsewhere:.0f} CPU-s of other work, {share:.0%} of the machine"
            f"{' (' + top + ')' if top else ''}; {transactions} transaction(s) in other databases"
        )


# ---------------------------------------------------------------------------------------------
# the ledger afterwards

CHECKS = {
    "personal accounts whose balance differs from the sum of their legs": """
        SELECT count(*) FROM payments_ledgeraccount a
        LEFT JOIN (SELECT account_id, sum(amount) AS total FROM payments_ledgerleg
                   GROUP BY account_id) l ON l.account_id = a.id
        WHERE a.kind = 'personal' AND a.balance <> coalesce(l.total, 0)""",
    "personal accounts with a negative balance": """
        SELECT count(*) FROM payments_ledgeraccount WHERE kind = 'personal' AND balance < 0""",
    "ledger transactions whose legs do not sum to zero": """
        SELECT count(*) FROM (SELECT transaction_id FROM payments_ledgerleg
                              GROUP BY transaction_id HAVING sum(amount) <> 0) t""",
    "settlements whose lines + cash differ from the amount": """
        SELECT count(*) FROM payments_settlement s
        LEFT JOIN (SELECT settlement_id, sum(amount) AS total FROM payments_settlementline
                   GROUP BY settlement_id) l ON l.settlement_id = s.id
        WHERE s.amount <> coalesce(l.total, 0) + s.cash_due""",
    "settlements whose ledger legs differ from their lines": """
        SELECT count(*) FROM payments_settlement s
        LEFT JOIN (SELECT settlement_id, sum(amount) AS total FROM payments_settlementline
                   GROUP BY settlement_id) l ON l.settlement_id = s.id
        LEFT JOIN (SELECT g.transaction_id, -sum(g.amount) AS total FROM payments_ledgerleg g
                   JOIN payments_ledgeraccount a ON a.id = g.account_id AND a.kind = 'personal'
                   GROUP BY g.transaction_id) p ON p.transaction_id = s.ledger_transaction_id
        WHERE coalesce(l.total, 0) <> coalesce(p.total, 0)""",
}


def ledger_check(
    *, args, plan: dict, database: str, tag: str, created: int, raw_created: int
) -> tuple[bool, list[str], dict]:
    lines, ok = [], True
    with psql_connect(args.pg_url, database) as conn:
        for label, sql in CHECKS.items():
            count = conn.execute(sql).fetchone()[0]
            ok &= count == 0
            lines.append(f"{'ok  ' if count == 0 else 'FAIL'} {label}: {count}")
        settled = conn.execute(
            "SELECT count(*) FROM payments_settlement WHERE idempotency_key LIKE %s",
            [f"bench-{tag}-%"],
        ).fetchone()[0]
        raw = conn.execute(
            "SELECT count(*) FROM payments_settlement WHERE idempotency_key LIKE %s",
            [f"bench-raw-{tag}-%"],
        ).fetchone()[0]
        audited = conn.execute(
            "SELECT count(*) FROM accounts_auditentry WHERE action = 'settlement.create'"
        ).fetchone()[0]
        same = settled == created
        ok &= same
        lines.append(
            f"{'ok  ' if same else 'FAIL'} settlements in the database {settled} "
            f"== new settlements answered 201 {created}"
        )
        ok &= raw == raw_created
        lines.append(
            f"{'ok  ' if raw == raw_created else 'FAIL'} raw-SQL settlements {raw} "
            f"== raw-SQL answers 201 {raw_created}"
        )
        ok &= audited == settled + raw
        lines.append(
            f"{'ok  ' if audited == settled + raw else 'FAIL'} audit entries "
            f"settlement.create {audited} == settlements {settled} + raw-SQL {raw}"
        )
        mix = conn.execute(
            """
            SELECT count(*) FILTER (WHERE own AND NOT aid),
                   count(*) FILTER (WHERE aid AND NOT own),
                   count(*) FILTER (WHERE aid AND own),
                   count(*) FILTER (WHERE cash_due > 0),
                   count(*) FILTER (WHERE lines > 1)
            FROM (SELECT s.cash_due,
                         bool_or(l.source = 'own') IS TRUE AS own,
                         bool_or(l.source = 'mutual_aid') IS TRUE AS aid,
                         count(l.id) AS lines
                  FROM payments_settlement s
                  LEFT JOIN payments_settlementline l ON l.settlement_id = s.id
                  GROUP BY s.id) t""",
        ).fetchone()
        low = conn.execute(
            "SELECT min(balance) FROM payments_ledgeraccount WHERE id BETWEEN %s AND %s",
            [plan["account_ids"]["lo"], plan["account_ids"]["hi"]],
        ).fetchone()[0]
    keys = ("own_only", "mutual_aid_only", "own_and_mutual_aid", "with_cash", "several_lines")
    return ok, lines, {**dict(zip(keys, mix, strict=True)), "lowest_balance": low}


# ---------------------------------------------------------------------------------------------
# machine and versions


def machine() -> list[str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"machine: {os.cpu_count()} cores, {model}{memory}, {platform.system()} "
        f"{platform.release()}, load average {load}",
    ]


def calibration() -> float:
    """Milliseconds of a fixed pure-Python loop on one core (best of three): printed at the start
    and at the end, it shows whether the machine itself was slower during one run than another
    (a virtual machine's host may be busy without the guest seeing it)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def versions(args, database: str) -> str:
    def v(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    server = "?"
    with contextlib.suppress(Exception), psql_connect(args.pg_url, database) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    pgbench = subprocess.run(["pgbench", "--version"], capture_output=True, text=True)  # noqa: S607
    return (
        f"versions: Python {platform.python_version()}, Django {v('Django')}, django-ninja "
        f"{v('django-ninja')}, gunicorn {v('gunicorn')}, psycopg {v('psycopg')}, PostgreSQL "
        f"{server}, {pgbench.stdout.strip()}"
    )


# ---------------------------------------------------------------------------------------------
# the run


def parse_args() -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="measured requests per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads = pgbench -c")
    parser.add_argument("--patients", type=int, default=1000, help="employee-scheme persons")
    parser.add_argument(
        "--families",
        type=int,
        default=None,
        help="children paid by two holders each (default: patients/5)",
    )
    parser.add_argument("--workers", type=int, default=2 * cores, help="gunicorn sync workers")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per phase")
    parser.add_argument(
        "--pgbench-transactions", type=int, default=None, help="default: --requests"
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        help="Django CONN_MAX_AGE in gunicorn (default: the portal's)",
    )
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="bench_portal")
    parser.add_argument("--seed", type=int, default=20261123, help="patients and amounts")
    parser.add_argument(
        "--commit",
        default=None,
        help="benchmark a clean export of this commit (default: the working tree)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    args = parser.parse_args()
    if args.families is None:
        args.families = args.patients // 5
    if args.pgbench_transactions is None:
        args.pgbench_transactions = args.requests
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    return args


def main() -> int:
    args = parse_args()
    if shutil.which("pgbench") is None:
        raise SystemExit("pgbench is not installed")
    tag = uuid.uuid4().hex[:8]
    rng = random.Random(args.seed)  # noqa: S311 - load data, not secrets
    database_url = f"{args.pg_url}/{args.database}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-settlement-"))
    server: subprocess.Popen | None = None
    print(f"Settlement benchmark {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, run {tag}")
    print(*machine(), sep="\n")
    calibrated = calibration()
    try:
        src, code = source_tree(args.commit, workdir)
        env = django_env(args, database_url, src)
        print(f"code: {code}")
        database_recreate(args.pg_url, args.database)
        python = str(sys.executable)
        step(
            f"database {args.database}: migrate",
            [python, "manage.py", "migrate", "-v", "0"],
            env,
            src,
        )
        step("seed_demo", [python, "manage.py", "seed_demo"], env, src)
        plan_file = workdir / "plan.json"
        step(
            f"patients: {args.patients} employees, {args.families} children with two holders",
            [
                python,
                "-m",
                "bench.populate",
                "--patients",
                str(args.patients),
                "--families",
                str(args.families),
                "--out",
                str(plan_file),
            ],
            env,
            src,
        )
        plan = json.loads(plan_file.read_text(encoding="utf-8"))
        ids = plan["account_ids"]
        if ids["hi"] - ids["lo"] + 1 != ids["count"]:
            raise SystemExit(f"personal account ids are not consecutive: {ids}")
        kinds = collections.Counter(p["kind"] for p in plan["patients"])

        port = free_port()
        log = workdir / "gunicorn.log"
        server = gunicorn_start(workers=args.workers, port=port, env=env, log=log, src=src)
        print(
            f"- gunicorn portal.wsgi: {args.workers} sync workers on {HOST}:{port}, "
            f"CONN_MAX_AGE={env.get('BENCH_CONN_MAX_AGE', 'portal default')}"
        )

        jobs = settlement_jobs(plan, count=args.warmup + args.requests, tag=tag, rng=rng)
        kind_of = {p["id_number"]: p["kind"] for p in plan["patients"]}
        request_kinds = collections.Counter(kind_of[job.id_number] for job in jobs[args.warmup :])
        warm = settlement_request(jobs[: args.warmup])
        measured = settlement_request(jobs[args.warmup :])
        common = {"port": port, "concurrency": args.concurrency}
        print(
            f"- settlements: {args.warmup} warm-up, then {args.requests} measured, "
            f"concurrency {args.concurrency} …",
            flush=True,
        )
        warmup = run_load(name="warm-up", requests=args.warmup, request=warm, expect=201, **common)
        with Watch(args=args, server=server) as api_watch:
            api = run_load(
                name="settlement API",
                requests=args.requests,
                request=measured,
                expect=201,
                **common,
            )
        # the raw-SQL floor: the patients with a personal account of their own (the children
        # of the mutual-aid kind have none), the same amounts, hand-written SQL (bench/urls.py)
        own = [p for p in plan["patients"] if p["kind"] != "mutual_aid"]
        with_account = {**plan, "patients": own}
        raw_jobs = settlement_jobs(
            with_account, count=args.warmup + args.requests, tag=f"raw-{tag}", rng=rng
        )
        print(f"- raw-SQL view: {args.warmup} warm-up, then {args.requests} measured …", flush=True)
        raw_warm = run_load(
            name="warm-up",
            requests=args.warmup,
            request=raw_request(raw_jobs[: args.warmup]),
            expect=201,
            **common,
        )
        with Watch(args=args, server=server) as raw_watch:
            raw = run_load(
                name="raw-SQL view",
                requests=args.requests,
                request=raw_request(raw_jobs[args.warmup :]),
                expect=201,
                **common,
            )
        print(f"- bare view: {args.warmup} warm-up, then {args.requests} measured …", flush=True)
        run_load(name="warm-up", requests=args.warmup, request=bare_request, expect=200, **common)
        with Watch(args=args, server=server) as bare_watch:
            bare = run_load(
                name="bare view", requests=args.requests, request=bare_request, expect=200, **common
            )
        gunicorn_stop(server)
        server_log = log.read_text(errors="replace") if log.exists() else ""

        print(
            f"- pgbench: {args.pgbench_transactions} transactions, {args.concurrency} clients …",
            flush=True,
        )
        with Watch(args=args, server=None) as pg_watch:
            pg = run_pgbench(args=args, plan=plan, database=args.database, workdir=workdir)

        created = warmup.ok - warmup.replayed + api.ok - api.replayed
        ledger_ok, ledger_lines, mix = ledger_check(
            args=args,
            plan=plan,
            database=args.database,
            tag=tag,
            created=created,
            raw_created=raw_warm.ok + raw.ok,
        )

        # statements per request (after the check: it writes a few settlements of its own)
        counted = subprocess.run(  # noqa: S603 - our own module, our own arguments
            [python, "-m", "bench.statements", "--plan", str(plan_file)],
            env=env,
            cwd=src,
            capture_output=True,
            text=True,
            check=False,
        )
        statements = [
            line for line in counted.stdout.splitlines() if line.startswith("statements per")
        ] or [f"statements per request: not counted ({counted.stderr.strip()[-300:]})"]

        # ------------------------------------------------------------------ the report
        print()
        print(
            f"Patients: {kinds['own']} employees paying from their own account (320100, "
            f"JS-HOSP-001), {kinds['holder_own']} parent-holders paying for themselves "
            f"(659004, XJ-HOSP-001), {kinds['mutual_aid']} resident-scheme children paid by "
            "mutual aid from the first of two holders in deduction order (659004, "
            "XJ-HOSP-001)."
        )
        print(
            "Measured requests: "
            + ", ".join(f"{request_kinds[k]} {k}" for k in ("own", "holder_own", "mutual_aid"))
            + "; amounts 1.00–9.99, category outpatient, no items."
        )
        print(
            f"Settlements written (warm-up included): {mix['own_only']} own account only, "
            f"{mix['mutual_aid_only']} mutual aid only, {mix['own_and_mutual_aid']} both, "
            f"{mix['with_cash']} with cash due; lowest balance of the bench employees afterwards "
            f"{mix['lowest_balance']}."
        )
        print()
        header = (
            f"{'':<16}{'requests':>9}{'conc.':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'errors':>8}"
        )
        print(header)
        print("-" * len(header))
        for load in (api, raw, bare):
            print(
                f"{load.name:<16}{load.requests:>9}{load.concurrency:>6}"
                f"{load.throughput:>10.1f}{load.percentile(50):>9.1f}{load.percentile(99):>9.1f}"
                f"{len(load.errors):>8}"
            )
        print(
            f"{'pgbench (SQL)':<16}{pg.transactions:>9}{args.concurrency:>6}{pg.tps:>10.1f}"
            f"{pg.p50:>9.1f}{pg.p99:>9.1f}{pg.failed:>8}"
        )
        print()
        print(
            f"throughput ratios: settlement / raw-SQL view = {api.throughput / raw.throughput:.3f}"
            f"; settlement / bare view = {api.throughput / bare.throughput:.3f}"
            f"; settlement / pgbench = {api.throughput / pg.tps:.3f}"
            f"; raw-SQL view / bare view = {raw.throughput / bare.throughput:.3f}"
        )
        print(
            f"pgbench: {pg.command} (latency average {pg.latency_avg:.2f} ms; tps without "
            "connection time; p50/p99 from its per-transaction log)"
        )
        print(
            f"HTTP: stdlib client, {args.concurrency} threads, one keep-alive connection each; "
            f"gunicorn {args.workers} sync workers; bare view = GET {BARE_PATH} (no database)"
        )
        print("\n".join(statements))
        print("elsewhere on the machine meanwhile:")
        for label, watch in (
            ("settlements", api_watch),
            ("raw-SQL view", raw_watch),
            ("bare view", bare_watch),
            ("pgbench", pg_watch),
        ):
            print(f"  {label}: {watch.summary}")
        if max(watch.share for watch in (api_watch, raw_watch, bare_watch, pg_watch)) > 0.05:
            print("  → the machine was not quiet: these figures are lower than it can do")
        if api.replayed:
            print(f"note: {api.replayed} answers were idempotent replays")
        for load in (warmup, api, raw_warm, raw, bare):
            if load.errors:
                print(f"\n{load.name}: {len(load.errors)} errors, statuses {dict(load.statuses)}")
                shapes = collections.Counter(
                    (status, body[:160]) for _j, status, body in load.errors
                )
                for (status, body), n in shapes.most_common(10):
                    print(f"  {n} × HTTP {status}: {body}")
        if server_log.strip():
            print("\ngunicorn error log (last lines):")
            print("\n".join(server_log.strip().splitlines()[-20:]))
        print("\nLedger afterwards (the pgbench transactions included):")
        print("\n".join("  " + line for line in ledger_lines))
        print(f"  → {'ALL CHECKS PASSED' if ledger_ok else 'CHECKS FAILED'}")
        print()
        print(*machine(), sep="\n")
        print(
            f"CPU calibration (a fixed Python loop, lower is faster): {calibrated:.0f} ms before, "
            f"{calibration():.0f} ms after"
        )
        print(f"code: {code}")
        print(versions(args, args.database))
        errors = sum(len(load.errors) for load in (warmup, api, raw_warm, raw, bare)) + pg.failed
        return 0 if ledger_ok and errors == 0 else 1
    finally:
        gunicorn_stop(server)
        if not args.keep_db:
            with contextlib.suppress(Exception):
                database_drop(args.pg_url, args.database)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
