#!/usr/bin/env python3
"""Expiry benchmark (issue 5 point 8): the every-minute lifecycle task expiring a large backlog
of authorizations, its speed and the worker's memory, against the naive per-row ORM loop.

    .venv/bin/python bench/expiry.py [--sizes 100000,1000000] [--sample 10000]

One run: migrate a template database once; then, for each phase, a fresh database copied from
it, loaded with PostgreSQL COPY (persons, relationships, authorizations: every due one `active`
with its window ended, plus a fraction not yet due), then expired and checked:

- one phase per `--sizes` entry: a real Celery worker (`celery -A portal worker --pool=solo`, its
  own queue, broker Redis database 14) runs `family.run_lifecycle` as beat would send it
  (`--runner direct`: `authorizations_expire()` in a child Python process instead);
- on a `--sample` of rows: the naive way (per row: `save(update_fields=…)`, one
  `AuditEntry.objects.create`, two `Notification.objects.create`, ending the relationship left
  empty) and, on a fresh copy of the same sample, the set-based `authorizations_expire()`, both
  in a child process, for an apples-to-apples ratio.

Peak memory is that of the process that did the work (VmHWM, and ru_maxrss from wait4 after it
exits). Prints a Markdown table, the machine and the versions; drops its databases at the end
unless --keep-db (then the last phase's database is left). See README.md, "Expiry (issue 5)"."""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
REGION = "659004"  # 五家渠: several relationships per member (exclusive = False), no consent
CHUNK = 20_000  # rows per COPY write
TASK_BATCH_SIZE = 10_000  # family.services.lifecycle.BATCH_SIZE, what the task uses (a test checks)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------------------------
# the data


@dataclass(frozen=True)
class Shape:
    """How many of what one phase loads."""

    due: int  # authorizations whose window ended: all must expire
    not_due: int  # authorizations whose window ends later: must stay active
    members: int  # due members per relationship
    holders: int  # = relationships, one per holder
    pool: int  # persons the members are drawn from

    @classmethod
    def of(cls, due: int, *, members: int, not_due: float, sharing: float) -> Shape:
        holders = -(-due // members)
        pool = max(members + 1 + -(-int(due * not_due) // holders), round(due / sharing))
        return cls(due, round(due * not_due), members, holders, pool)

    @property
    def persons(self) -> int:
        return self.holders + self.pool

    @property
    def authorizations(self) -> int:
        return self.due + self.not_due


@dataclass
class Loaded:
    shape: Shape
    seconds: float  # COPY (generation included)
    vacuum_seconds: float
    relationships_ending: int  # relationships whose every member is due


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红成俊燕"
RELATIONS = ("spouse", "child", "child", "parent", "sibling", "paternal_grandparent")


def _name(p: int) -> str:
    surname = SURNAMES[p % len(SURNAMES)]
    first = GIVEN[(p // len(SURNAMES)) % len(GIVEN)]
    if p % 3 == 0:
        return surname + first
    return surname + first + GIVEN[(p // 7) % len(GIVEN)]


def _stamps(base: dt.datetime, seconds: range, count: int, rng: random.Random) -> list[str]:
    """`count` timestamps base + a random offset from `seconds`, as COPY text."""
    return [
        (base + dt.timedelta(seconds=rng.randrange(seconds.start, seconds.stop))).isoformat(sep=" ")
        for _ in range(count)
    ]


def _copy(cursor, table: str, columns: str, lines) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= CHUNK:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))


def load(url: str, shape: Shape, *, seed: int, log=print) -> Loaded:
    """COPY the persons, relationships and authorizations of `shape` into an empty, migrated
    database. Holders are persons 1..H (employees); members are drawn at random, distinct within
    a relationship, from the pool H+1..H+M, so a member is in sharing relationships on average
    (allowed: 659004 is not exclusive; one live authorization per holder–member pair holds, each
    holder having one relationship). Not-yet-due authorizations are spread at random over the
    relationships as extra members, so some relationships keep a live member and must not end."""
    import psycopg

    from accounts.idnumber import CHECK_CHARS, WEIGHTS

    rng = random.Random(seed)  # noqa: S311 - load data, not secrets
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    started = time.monotonic()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        # No foreign-key triggers during the load (checked below with one query instead): half
        # the load time. Check constraints and unique indexes still apply.
        cur.execute("SET LOCAL session_replication_role = replica")
        region_id, several = cur.execute(
            "SELECT id, member_in_several_relationships FROM accounts_regionpolicy WHERE code = %s",
            [REGION],
        ).fetchone()
        if not several:
            raise SystemExit(f"region {REGION} is exclusive here; the bench needs it not to be")

        # persons: valid GB 11643 numbers (region, birth date from 1950 on, sequence 100–499)
        created = (now - dt.timedelta(days=800)).isoformat(sep=" ")
        seq_sums = [
            sum(int(c) * w for c, w in zip(f"{s:03d}", WEIGHTS[14:], strict=True))
            for s in range(1000)
        ]

        def persons():
            day_prefix, day_sum, day = "", 0, -1
            for p in range(shape.persons):
                if p // 400 != day:
                    day = p // 400
                    birth = dt.date(1950, 1, 1) + dt.timedelta(days=day)
                    day_prefix = f"{REGION}{birth:%Y%m%d}"
                    day_sum = sum(int(c) * w for c, w in zip(day_prefix, WEIGHTS, strict=False))
                    day_iso = birth.isoformat()
                seq = 100 + p % 400
                number = f"{day_prefix}{seq:03d}{CHECK_CHARS[(day_sum + seq_sums[seq]) % 11]}"
                scheme = "employee" if p < shape.holders or p % 2 else "resident"
                yield (
                    f"{p + 1}\t{uuid.UUID(int=rng.getrandbits(128), version=4)}\t{_name(p)}\t"
                    f"{number}\t{day_iso}\t{'M' if seq % 2 else 'F'}\t13{p:09d}\t{scheme}\t"
                    f"normal\t{created}\t{created}\t\\N\t{region_id}\n"
                )

        _copy(
            cur,
            "accounts_insuredperson",
            "id, public_id, name, id_number, birth_date, sex, phone, scheme, status, "
            "created_at, updated_at, user_id, region_id",
            persons(),
        )

        # relationships and their authorizations
        extra = [shape.not_due // shape.holders] * shape.holders
        for r in rng.sample(range(shape.holders), shape.not_due % shape.holders):
            extra[r] += 1
        bound = _stamps(now - dt.timedelta(days=420), range(0, 30 * 86400), 1009, rng)
        starts = _stamps(now - dt.timedelta(days=390), range(0, 20 * 86400), 1013, rng)
        ended = _stamps(now - dt.timedelta(days=30), range(0, 30 * 86400 - 60), 1019, rng)
        later = _stamps(now + dt.timedelta(days=30), range(0, 335 * 86400), 1021, rng)

        def relationships():
            for r in range(shape.holders):
                channel = "counter" if r % 3 == 0 else "online"
                yield (
                    f"{r + 1}\t{uuid.UUID(int=rng.getrandbits(128), version=4)}\tactive\t"
                    f"{channel}\t{bound[r % 1009]}\t\\N\t\t{r + 1}\n"
                )

        _copy(
            cur,
            "family_relationship",
            "id, public_id, status, channel, created_at, ended_at, end_reason, holder_id",
            relationships(),
        )

        def authorizations():
            a = 0
            pool = range(shape.pool)
            for r in range(shape.holders):
                due = min(shape.members, shape.due - r * shape.members)
                chosen = rng.sample(pool, due + extra[r])
                for k, m in enumerate(chosen):
                    a += 1
                    window_end = ended[a % 1019] if k < due else later[a % 1021]
                    yield (
                        f"{a}\t{uuid.UUID(int=rng.getrandbits(128), version=4)}\t"
                        f"{RELATIONS[k % len(RELATIONS)]}\t{starts[a % 1013]}\t{window_end}\t"
                        f"active\tf\t\\N\t\\N\tf\t\\N\t\\N\t{bound[r % 1009]}\t\\N\t\t\\N\t"
                        f"{r + 1}\t{shape.holders + m + 1}\t{r + 1}\n"
                    )

        _copy(
            cur,
            "family_authorization",
            "id, public_id, relation, window_start, window_end, status, exclusive, "
            "deduction_position, payment_cap, consent_needed, consent_deadline, answered_at, "
            "created_at, ended_at, end_note, answered_by_id, holder_id, member_id, "
            "relationship_id",
            authorizations(),
        )
        for table in ("accounts_insuredperson", "family_relationship", "family_authorization"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        cur.execute("SET LOCAL session_replication_role = DEFAULT")
        dangling = cur.execute(
            """
            SELECT (SELECT count(*) FROM family_authorization a
                    LEFT JOIN accounts_insuredperson h ON h.id = a.holder_id
                    LEFT JOIN accounts_insuredperson m ON m.id = a.member_id
                    LEFT JOIN family_relationship r ON r.id = a.relationship_id
                    WHERE h.id IS NULL OR m.id IS NULL OR r.holder_id IS DISTINCT FROM a.holder_id)
                 + (SELECT count(*) FROM family_relationship r
                    LEFT JOIN accounts_insuredperson h ON h.id = r.holder_id WHERE h.id IS NULL)
                 + (SELECT count(*) FROM accounts_insuredperson WHERE region_id <> %s)""",
            [region_id],
        ).fetchone()[0]
        if dangling:
            raise SystemExit(f"the load is inconsistent: {dangling} rows point nowhere")
        conn.commit()
    seconds = time.monotonic() - started
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "VACUUM (ANALYZE) accounts_insuredperson, family_relationship, family_authorization"
        )
    loaded = Loaded(
        shape=shape,
        seconds=seconds,
        vacuum_seconds=time.monotonic() - started,
        relationships_ending=sum(1 for e in extra if e == 0),
    )
    log(
        f"  loaded {shape.persons:,} persons, {shape.holders:,} relationships, "
        f"{shape.authorizations:,} authorizations ({shape.due:,} due, {shape.not_due:,} not yet) "
        f"with COPY in {loaded.seconds:.1f} s "
        f"({shape.authorizations / loaded.seconds:,.0f} authorizations/s; generation and "
        "foreign-key check included); "
        f"VACUUM ANALYZE {loaded.vacuum_seconds:.1f} s"
    )
    return loaded


# ---------------------------------------------------------------------------------------------
# databases, Redis, processes


def pg(url: str, database: str, **kwargs):
    import psycopg

    return psycopg.connect(f"{url}/{database}", **kwargs)


def database_create(url: str, name: str, *, template: str | None = None) -> None:
    with pg(url, "postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def database_drop(url: str, name: str) -> None:
    with pg(url, "postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a live process, in KiB."""
    found = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def reap(process: subprocess.Popen, timeout: float) -> int:
    """Wait for a child and return its peak RSS in KiB (ru_maxrss from wait4)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_maxrss
        if time.monotonic() > deadline:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_maxrss
        time.sleep(0.1)


def table_stats(url: str, database: str) -> dict[str, int]:
    """What PostgreSQL counted on family_authorization (rows read and written)."""
    with pg(url, database, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(seq_tup_read, 0), coalesce(idx_tup_fetch, 0), n_tup_upd, "
            "n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'family_authorization'"
        ).fetchone()
    return dict(zip(("seq_read", "idx_fetch", "updated", "hot"), row, strict=True))


@dataclass
class Run:
    """What one expiry pass measured."""

    label: str
    runner: str
    loaded: Loaded
    rows: int = 0  # what the pass reported it changed
    seconds: float = 0.0  # the pass itself (the task's own run time for the worker)
    wall: float = 0.0  # enqueue → success seen, for the worker; = seconds otherwise
    idle_kb: int = 0  # RSS of the process before the pass (Django loaded)
    hwm_kb: int = 0  # VmHWM after the pass
    maxrss_kb: int = 0  # ru_maxrss after exit
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    batches: list[float] = field(default_factory=list)  # seconds per batch (direct runs)
    stats: dict[str, int] = field(default_factory=dict)
    checks: list[tuple[bool, str]] = field(default_factory=list)
    elsewhere: str = ""
    busy_share: float = 0.0
    sink: int = 0  # mail tasks the pass enqueued
    profile: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.checks)


def settings_module(workdir: Path, *, sink: str) -> str:
    """The worker's and children's settings: the bench's (production's, with this database),
    mail tasks routed to a queue nobody reads (counted, then deleted), no remote control."""
    name = "bench_expiry_settings"
    (workdir / f"{name}.py").write_text(
        "from bench.settings import *  # noqa: F403\n\n"
        f"CELERY_TASK_DEFAULT_QUEUE = {sink!r}\n"
        "CELERY_WORKER_ENABLE_REMOTE_CONTROL = False\n",
        encoding="utf-8",
    )
    return name


def child_env(args, database: str, workdir: Path, settings: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=f"{args.pg_url}/{database}",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(workdir)]),
        REDIS_URL=args.broker,
        CELERY_BROKER_URL=args.broker,
        LOG_LEVEL="INFO",
    )
    return env


def run_worker(
    run: Run,
    *,
    args,
    env: dict,
    queue: str,
    workdir: Path,
    tag: str,
    task: str = "family.run_lifecycle",
    expires: int = 55,
    key: str | None = "expired",
) -> None:
    """Start a real worker on its own queue, send it `task` as beat does (with the schedule's
    expiry), wait for the success line, stop it warmly. The rows are the result (its `key`, for
    a task answering with a dict)."""
    from celery import Celery

    log_path = workdir / f"worker-{run.label}.log"
    command = [
        str(VENV_BIN / "celery"), "-A", "portal", "worker", "--pool=solo", "--concurrency=1",
        "-Q", queue, "-n", f"bench-expiry-{tag}@%h", "-l", "INFO",
        "--without-mingle", "--without-gossip", "--without-heartbeat",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120
        while "ready." not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the worker did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)
        time.sleep(0.5)
        run.idle_kb = status_kb(process.pid).get("VmRSS", 0)
        app = Celery("bench-expiry", broker=args.broker, set_as_current=False)
        started = time.monotonic()
        sent = app.send_task(task, queue=queue, expires=expires)
        done = re.compile(
            rf"Task {re.escape(task)}\[{sent.id}\] succeeded in ([\d.]+)s: (.*)$", re.M
        )
        failed = re.compile(rf"(raised|revoked|Discarding|expired).*{sent.id}|{sent.id}.*raised")
        while True:
            text = log_path.read_text(errors="replace")
            found = done.search(text)
            if found:
                break
            if failed.search(text):
                raise SystemExit("the task failed:\n" + text[-5000:])
            if process.poll() is not None:
                raise SystemExit("the worker died:\n" + log_path.read_text()[-3000:])
            rss = status_kb(process.pid).get("VmRSS", 0)
            run.rss_samples.append((time.monotonic() - started, rss))
            time.sleep(0.25)
        run.wall = time.monotonic() - started
        app.close()
        run.seconds = float(found.group(1))
        result = ast.literal_eval(found.group(2).strip())
        run.rows = result[key] if key else result
        run.hwm_kb = status_kb(process.pid).get("VmHWM", 0)
        process.send_signal(signal.SIGTERM)  # warm shutdown: nothing left to finish
        run.maxrss_kb = reap(process, timeout=60)
    finally:
        if process.poll() is None and process.returncode is None:
            process.kill()
            reap(process, timeout=10)


def run_child(run: Run, *, mode: str, args, env: dict, workdir: Path) -> None:
    """`authorizations_expire()` (mode setbased) or the naive loop in a child process."""
    out = workdir / f"child-{run.label}.json"
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", mode,
        "--batch-size", str(args.batch_size), "--child-out", str(out),
    ]  # fmt: skip
    if mode == "setbased" and run.label.endswith("profiled"):
        command.append("--child-profile")
    log_path = workdir / f"child-{run.label}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    run.maxrss_kb = reap(process, timeout=6 * 3600)
    if process.returncode != 0 or not out.exists():
        raise SystemExit(f"{mode} child failed:\n" + log_path.read_text()[-5000:])
    result = json.loads(out.read_text())
    run.rows, run.seconds, run.idle_kb = result["rows"], result["seconds"], result["idle_kb"]
    run.wall = run.seconds
    run.hwm_kb = result["hwm_kb"]
    run.batches = result.get("batches", [])
    run.profile = result.get("profile", "")


def child_main(args) -> int:
    """In the child process: Django set up from the environment, then one pass, timed."""
    import django

    django.setup()
    from django.db import connection

    from family.services import lifecycle

    connection.ensure_connection()
    idle_kb = status_kb(os.getpid()).get("VmRSS", 0)
    batches: list[float] = []
    profile = ""
    if args.child == "setbased":
        # One mark per batch: _transition ends every batch with this call (looked up at call
        # time), so the spacing of the marks is the time per batch. Timing only.
        marks = [time.perf_counter()]
        end_empty = lifecycle._end_empty_relationships

        def timed(*a, **kw):
            result = end_empty(*a, **kw)
            marks.append(time.perf_counter())
            return result

        lifecycle._end_empty_relationships = timed

        def work() -> int:
            return lifecycle.authorizations_expire(batch_size=args.batch_size)
    else:

        def work() -> int:
            return naive_expire()

    started = time.perf_counter()
    if args.child_profile:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        rows = profiler.runcall(work)
        seconds = time.perf_counter() - started
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs()
        stats.sort_stats("tottime").print_stats(22)
        stats.sort_stats("cumulative").print_stats(40)
        profile = text.getvalue()
    else:
        rows = work()
        seconds = time.perf_counter() - started
    if args.child == "setbased":
        batches = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    Path(args.child_out).write_text(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "idle_kb": idle_kb,
                "hwm_kb": status_kb(os.getpid()).get("VmHWM", 0),
                "batches": batches,
                "profile": profile,
            }
        )
    )
    return 0


def naive_expire() -> int:
    """What a per-row ORM task would do, row by row, each in its own transaction: the same
    changes, audit entries (before/after) and the two notifications as the set-based pass, and
    the relationship ended (and audited) when its last live member expires."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import AuditEntry, Notification
    from accounts.services import snapshot
    from family.models import Authorization, Relationship
    from family.services import notify
    from family.services.lifecycle import EXPIRED_NOTE

    at = timezone.now()
    note = str(EXPIRED_NOTE)
    system = AuditEntry.Channel.SYSTEM
    rows = 0
    due = (
        Authorization.objects.filter(status__in=Authorization.GRANTED_STATUSES, window_end__lt=at)
        .select_related("holder", "member", "relationship")
        .order_by("pk")
    )
    for a in due:
        with transaction.atomic():
            before = snapshot(a)
            a.status = Authorization.Status.EXPIRED
            a.ended_at = at
            a.end_note = note
            a.deduction_position = None
            a.save(update_fields=["status", "ended_at", "end_note", "deduction_position"])
            AuditEntry.objects.create(
                actor=None,
                channel=system,
                action="authorization.expire",
                object_type="family.authorization",
                object_id=str(a.public_id),
                person_id=a.member_id,
                before=before,
                after=snapshot(a),
            )
            for n in notify.for_authorization(a, kind=Notification.Kind.EXPIRED, event="expired"):
                Notification.objects.create(
                    recipient_id=n.recipient_id,
                    kind=n.kind,
                    key=n.key,
                    params=n.params,
                    link=n.link,
                    created_at=at,
                )
            relationship = a.relationship
            if not Authorization.objects.filter(
                relationship_id=relationship.pk, status__in=Authorization.LIVE_STATUSES
            ).exists():
                before = snapshot(relationship)
                relationship.status = Relationship.Status.ENDED
                relationship.ended_at = at
                relationship.end_reason = Relationship.EndReason.NO_MEMBERS
                relationship.save(update_fields=["status", "ended_at", "end_reason"])
                AuditEntry.objects.create(
                    actor=None,
                    channel=system,
                    action="relationship.end",
                    object_type="family.relationship",
                    object_id=str(relationship.public_id),
                    person_id=relationship.holder_id,
                    before=before,
                    after=snapshot(relationship),
                )
        rows += 1
    return rows


# ---------------------------------------------------------------------------------------------
# checks


def verify(run: Run, *, url: str, database: str) -> None:
    shape, checks = run.loaded.shape, run.checks
    with pg(url, database, autocommit=True) as conn:

        def one(sql: str, params=()) -> int:
            return conn.execute(sql, params).fetchone()[0]

        def check(label: str, got: int, want: int) -> None:
            checks.append((got == want, f"{label}: {got:,} (want {want:,})"))

        live = "status IN ('pending_consent', 'scheduled', 'active')"
        check("rows the pass reported", run.rows, shape.due)
        check(
            "live authorizations with window_end < now()",
            one(
                f"SELECT count(*) FROM family_authorization WHERE {live} "  # noqa: S608
                "AND window_end < now()"
            ),
            0,
        )
        check(
            "expired authorizations",
            one(
                "SELECT count(*) FROM family_authorization WHERE status = 'expired' AND "
                "ended_at IS NOT NULL AND deduction_position IS NULL AND end_note <> ''"
            ),
            shape.due,
        )
        check(
            "not-yet-due authorizations still active",
            one("SELECT count(*) FROM family_authorization WHERE status = 'active'"),
            shape.not_due,
        )
        expire_audits = one(
            "SELECT count(*) FROM accounts_auditentry WHERE action = 'authorization.expire'"
        )
        check("audit entries authorization.expire", expire_audits, shape.due)
        check(
            "… for distinct authorizations",
            one(
                "SELECT count(DISTINCT object_id) FROM accounts_auditentry "
                "WHERE action = 'authorization.expire'"
            ),
            shape.due,
        )
        check(
            "… whose after says expired",
            one(
                "SELECT count(*) FROM accounts_auditentry WHERE action = 'authorization.expire' "
                "AND after->>'status' = 'expired' AND before->>'status' = 'active'"
            ),
            shape.due,
        )
        check(
            "notifications of kind expired (2 × rows)",
            one("SELECT count(*) FROM accounts_notification WHERE kind = 'expired'"),
            2 * shape.due,
        )
        check(
            "… to holders (one per row)",
            one(
                "SELECT count(*) FROM accounts_notification n JOIN family_authorization a "
                "ON n.key = 'authorization:' || a.public_id || ':expired' "
                "AND n.recipient_id = a.holder_id WHERE n.kind = 'expired'"
            ),
            shape.due,
        )
        check(
            "relationships ended (no_members)",
            one(
                "SELECT count(*) FROM family_relationship "
                "WHERE status = 'ended' AND end_reason = 'no_members'"
            ),
            run.loaded.relationships_ending,
        )
        check(
            "audit entries relationship.end",
            one("SELECT count(*) FROM accounts_auditentry WHERE action = 'relationship.end'"),
            run.loaded.relationships_ending,
        )
        check(
            "active relationships without a live member",
            one(
                "SELECT count(*) FROM family_relationship r WHERE status = 'active' AND NOT "  # noqa: S608
                f"EXISTS (SELECT 1 FROM family_authorization a WHERE a.relationship_id = r.id "
                f"AND a.{live})"
            ),
            0,
        )


# ---------------------------------------------------------------------------------------------
# machine and versions


def pg_facts(url: str) -> str:
    with pg(url, "postgres", autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        settings = conn.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', "
            "'work_mem', 'max_wal_size', 'synchronous_commit') ORDER BY name"
        ).fetchall()

    def human(setting: str, unit: str | None) -> str:
        if unit == "8kB":
            return f"{int(setting) * 8 // 1024} MB"
        if unit == "kB":
            return f"{int(setting) // 1024} MB"
        if unit == "MB":
            return f"{setting} MB"
        return setting

    return f"PostgreSQL {version} (" + ", ".join(f"{n} {human(s, u)}" for n, s, u in settings) + ")"


def versions() -> str:
    def v(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    return (
        f"Python {platform.python_version()}, Django {v('Django')}, Celery {v('celery')}, "
        f"kombu {v('kombu')}, psycopg {v('psycopg')}"
    )


def mib(kb: int) -> str:
    return f"{kb / 1024:.0f}"


# ---------------------------------------------------------------------------------------------
# the run


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="due authorizations per measured phase, comma-separated (default 100000,1000000)",
    )
    parser.add_argument(
        "--sample", type=int, default=10_000, help="rows of the naive comparison (0: skip it)"
    )
    parser.add_argument(
        "--runner",
        choices=("worker", "direct"),
        default="worker",
        help="--sizes phases: a Celery worker running family.run_lifecycle (default), or "
        "authorizations_expire() in a child process",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="passed to authorizations_expire() in direct runs (the sample, --runner direct); "
        "the task uses the service's default (2000)",
    )
    parser.add_argument("--members", type=int, default=4, help="due members per relationship")
    parser.add_argument(
        "--not-due",
        type=float,
        default=0.1,
        help="extra authorizations not yet due, as a fraction of the due ones (default 0.1)",
    )
    parser.add_argument(
        "--sharing",
        type=float,
        default=2.0,
        help="relationships per member on average (member pool = due / sharing; default 2)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile the set-based pass on the sample"
    )
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--database", default="bench_expiry")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument(
        "--keep-db", action="store_true", help="leave the last phase's database for a look"
    )
    parser.add_argument("--child", choices=("setbased", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.batch_size = args.batch_size or TASK_BATCH_SIZE
        return args
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes: whole numbers separated by commas")
    if any(s < 1 for s in args.size_list) or args.members < 1 or args.sample < 0:
        parser.error("--sizes, --members must be positive; --sample not negative")
    if not 0 <= args.not_due <= 10 or args.sharing <= 0:
        parser.error("--not-due must be within 0–10 and --sharing positive")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,50}", args.database):
        parser.error("--database: lower-case letters, digits and _ only (≤ 51)")
    if args.batch_size is None:
        args.batch_size = TASK_BATCH_SIZE
    return args


def main() -> int:
    args = parse_args()
    if args.child:
        return child_main(args)
    from bench.settlement import Watch, calibration, machine

    tag = uuid.uuid4().hex[:8]
    queue, sink = f"bench-expiry-{tag}", f"bench-expiry-{tag}-mail"
    template = f"{args.database}_template"
    workdir = Path(tempfile.mkdtemp(prefix="bench-expiry-"))
    settings = settings_module(workdir, sink=sink)
    shape_of = {
        "members": args.members,
        "not_due": args.not_due,
        "sharing": args.sharing,
    }
    phases: list[tuple[str, str, Shape]] = []
    if args.sample:
        sample = Shape.of(args.sample, **shape_of)
        phases += [("naive sample", "naive", sample), ("set-based sample", "setbased", sample)]
        if args.profile:
            phases.append(("set-based sample profiled", "setbased", sample))
    for size in args.size_list:
        runner = "worker" if args.runner == "worker" else "setbased"
        phases.append((f"{size:,}", runner, Shape.of(size, **shape_of)))

    print(f"Expiry benchmark {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, run {tag}")
    print(*machine(), sep="\n")
    print(f"nproc {os.cpu_count()}; {pg_facts(args.pg_url)}; {versions()}")
    calibrated = calibration()
    head = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"code: working tree at {head}; broker {args.broker}, queue {queue}")
    runs: list[Run] = []
    import redis

    broker = redis.Redis.from_url(args.broker)
    try:
        started = time.monotonic()
        database_create(args.pg_url, template)
        env = child_env(args, template, workdir, settings)
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise SystemExit("migrate failed:\n" + result.stderr[-3000:])
        print(f"- template database {template}: migrated in {time.monotonic() - started:.1f} s")

        for i, (label, runner, shape) in enumerate(phases):
            print(f"- {label}: {runner} …", flush=True)
            database_create(args.pg_url, args.database, template=template)
            loaded = load(f"{args.pg_url}/{args.database}", shape, seed=args.seed + i, log=print)
            run = Run(label=label, runner=runner, loaded=loaded)
            env = child_env(args, args.database, workdir, settings)
            before = table_stats(args.pg_url, args.database)
            with Watch(args=args, server=None) as watch:
                if runner == "worker":
                    run_worker(run, args=args, env=env, queue=queue, workdir=workdir, tag=tag)
                else:
                    run_child(run, mode=runner, args=args, env=env, workdir=workdir)
            time.sleep(1)  # let the statistics of the finished backend arrive
            after = table_stats(args.pg_url, args.database)
            run.stats = {k: after[k] - before[k] for k in after}
            run.elsewhere, run.busy_share = watch.summary, watch.share
            run.sink = broker.llen(sink)
            broker.delete(sink)
            verify(run, url=args.pg_url, database=args.database)
            runs.append(run)
            report_run(run)
        return report(args, runs, calibrated)
    finally:
        for key in broker.scan_iter(match=f"*bench-expiry-{tag}*"):
            broker.delete(key)
        with contextlib.suppress(Exception):
            database_drop(args.pg_url, template)
        if not args.keep_db:
            with contextlib.suppress(Exception):
                database_drop(args.pg_url, args.database)
        else:
            print(f"kept database {args.database} (the last phase)")
        shutil.rmtree(workdir, ignore_errors=True)


def report_run(run: Run) -> None:
    print(
        f"  {run.rows:,} rows expired in {run.seconds:.1f} s = {run.rate:,.0f} rows/s"
        + (f" (enqueue → done {run.wall:.1f} s)" if run.runner == "worker" else "")
    )
    print(
        f"  memory of the {'worker' if run.runner == 'worker' else 'child'}: "
        f"{mib(run.idle_kb)} MiB before, peak {mib(run.hwm_kb)} MiB (VmHWM), "
        f"ru_maxrss {mib(run.maxrss_kb)} MiB"
    )
    if run.rss_samples:
        n = len(run.rss_samples)
        picks = [run.rss_samples[min(n - 1, round(q * (n - 1)))] for q in (0, 0.25, 0.5, 0.75, 1)]
        print(
            "  worker RSS during the pass: "
            + ", ".join(f"{t:.0f} s {mib(kb)} MiB" for t, kb in picks)
        )
    if run.batches:
        b, k = run.batches, min(5, len(run.batches))
        spots = sorted({min(len(b) - k, round(q * (len(b) - k))) for q in (0, 0.25, 0.5, 0.75, 1)})
        print(
            f"  {len(b)} batches; ms per batch (mean of {k}) from the first on: "
            + ", ".join(f"#{i + 1} {1000 * sum(b[i : i + k]) / k:.0f}" for i in spots)
        )
    s = run.stats
    if s:
        print(
            f"  family_authorization: {s['idx_fetch']:,} index fetches and {s['seq_read']:,} "
            f"rows read by sequential scans, {s['updated']:,} updated ({s['hot']:,} HOT)"
        )
    if run.sink:
        print(f"  mail sweeps enqueued (accounts.send_notification_emails): {run.sink:,}")
    print(f"  elsewhere on the machine meanwhile: {run.elsewhere}")
    for ok, line in run.checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {line}")
    if run.profile:
        print("  profile (cProfile; times inflated by the profiler):")
        print("\n".join("    " + line for line in run.profile.splitlines() if line.strip()))


def report(args, runs: list[Run], calibrated: float) -> int:
    from bench.settlement import calibration, machine

    print()
    print(
        "| phase | ran by | due rows | not due | load s (COPY) | expiry s | rows/s | "
        "RSS before MiB | peak RSS MiB | peak − before MiB | checks |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    ran_by = {
        "worker": "Celery worker, family.run_lifecycle",
        "setbased": f"child, authorizations_expire(batch_size={args.batch_size})",
        "naive": "child, per-row ORM loop",
    }
    for run in runs:
        if run.label.endswith("profiled"):
            continue
        peak = max(run.hwm_kb, run.maxrss_kb)
        print(
            f"| {run.label} | {ran_by[run.runner]} | {run.loaded.shape.due:,} | "
            f"{run.loaded.shape.not_due:,} | {run.loaded.seconds:.1f} | {run.seconds:.1f} | "
            f"{run.rate:,.0f} | {mib(run.idle_kb)} | {mib(peak)} | {mib(peak - run.idle_kb)} | "
            f"{'all passed' if run.ok else 'FAILED'} |"
        )
    print()
    by_label = {run.label: run for run in runs}
    naive, fast = by_label.get("naive sample"), by_label.get("set-based sample")
    if naive and fast:
        print(
            f"set-based / naive on {naive.rows:,} rows: {fast.rate / naive.rate:.1f}× the rows per "
            f"second ({fast.rate:,.0f} against {naive.rate:,.0f})"
        )
    sized = [run for run in runs if run.runner == "worker" or run.label[0].isdigit()]
    if len(sized) >= 2:
        low, high = sized[0], sized[-1]
        print(
            f"peak RSS at {high.rows:,} rows against {low.rows:,}: "
            f"{mib(max(high.hwm_kb, high.maxrss_kb))} against "
            f"{mib(max(low.hwm_kb, low.maxrss_kb))} MiB "
            f"(above the idle process: {mib(max(high.hwm_kb, high.maxrss_kb) - high.idle_kb)} "
            f"against {mib(max(low.hwm_kb, low.maxrss_kb) - low.idle_kb)} MiB); "
            f"rows/s {high.rate:,.0f} against {low.rate:,.0f}"
        )
    if any(run.busy_share > 0.05 for run in runs):
        print("note: the machine was not quiet during some phases (see 'elsewhere' above)")
    print()
    print(*machine(), sep="\n")
    print(
        f"CPU calibration (a fixed Python loop, lower is faster): {calibrated:.0f} ms before, "
        f"{calibration():.0f} ms after"
    )
    return 0 if all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
