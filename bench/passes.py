#!/usr/bin/env python3
"""The other scheduled passes at volume (issue 16 point 3): start of scheduled windows, consent
lapse (R8), the R14 status reconciliation, the wallet's 06:00 return (R25) and the expiry
reminders, each through the real Celery worker on a backlog of `--rows` rows.

    .venv/bin/python bench/passes.py [--rows 100000] [--passes start,lapse,reconcile,remind]

Each phase: a fresh database copied from a migrated template, loaded with `bench/expiry.py`'s
COPY loader (persons, relationships, authorizations of 五家渠), then turned by a few UPDATEs into
the state its pass looks for:

- start: the due rows `scheduled`, their window started a day ago and ending in 30 days; the
  others `scheduled` with a window starting in 10 days;
- lapse: the due rows `pending_consent` with a deadline passed, the others pending with a
  deadline in 10 days;
- reconcile: every person the due rows name as a member `transferred` (so every live
  authorization of theirs, due or not, must end, and relationships left empty with them);
- return: as many new employees as there are due rows, each with 5,000.00 credited and one
  pending transfer (1.00–100.00) past its answer time to the open wallet of a person of the
  load, the money in 五家渠's in-flight account (one ledger movement each, in SQL);
- remind: the due rows' windows ending within the next 6 days, the others in 30–365 days.

What each pass must do is counted in the database before it runs (the rows it must change, the
notifications it must write, the relationships it must end); afterwards the same counts are
checked against what it did, with its audit entries and notifications. Prints a Markdown table
and the machine; drops its databases. See README.md, "The other passes"."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import expiry  # noqa: E402

LIVE = "('pending_consent', 'scheduled', 'active')"
GONE = "('transferred', 'terminated')"
DUE = "window_end < now()"  # what the loader made due (every due row is active, window ended)

# pass -> (task, its result key, beat's expiry, SQL turning the load into the pass's backlog)
PASSES = {
    "start": (
        "family.run_lifecycle",
        "started",
        55,
        [
            f"UPDATE family_authorization SET status = 'scheduled', "
            f"window_start = now() - interval '1 day', window_end = now() + interval '30 days' "
            f"WHERE {DUE}",
            "UPDATE family_authorization SET status = 'scheduled', "
            "window_start = now() + interval '10 days' WHERE status = 'active'",
        ],
    ),
    "lapse": (
        "family.lapse_consents",
        None,
        540,
        [
            f"UPDATE family_authorization SET status = 'pending_consent', consent_needed = true, "
            f"consent_deadline = now() - interval '1 hour', window_end = now() + interval "
            f"'30 days' WHERE {DUE}",
            "UPDATE family_authorization SET status = 'pending_consent', consent_needed = true, "
            "consent_deadline = now() + interval '10 days' WHERE status = 'active'",
        ],
    ),
    "reconcile": (
        "family.reconcile_statuses",
        None,
        540,
        [
            f"UPDATE accounts_insuredperson SET status = 'transferred' WHERE id IN (SELECT "
            f"member_id FROM family_authorization WHERE {DUE})",
            f"UPDATE family_authorization SET window_end = now() + interval '30 days' WHERE {DUE}",
        ],
    ),
    "return": (
        "wallet.return_due_transfers",
        None,
        240,
        # R25: as many pending transfers past their 06:00 as the pass has rows, each from its
        # own new employee of 五家渠 (one pending transfer per sender, R24) credited 5,000.00
        # and debited the amount into the region's in-flight account, to the open wallet of a
        # person of the load; the money must come back to every sender
        [
            "INSERT INTO accounts_insuredperson (public_id, name, id_number, birth_date, sex, "
            "phone, scheme, status, created_at, updated_at, user_id, region_id) "
            "SELECT gen_random_uuid(), '转出' || k, '659004' || to_char(date '1940-01-01' + "
            "(k / 800)::int, 'YYYYMMDD') || lpad((100 + k % 800)::text, 3, '0') || '0', "
            "date '1940-01-01' + (k / 800)::int, 'M', '16' || lpad(k::text, 9, '0'), 'employee', "
            "'normal', now(), now(), NULL, (SELECT id FROM accounts_regionpolicy WHERE code = "
            "'659004') FROM generate_series(1, (SELECT count(*) FROM family_authorization "
            f"WHERE {DUE})) k",
            "CREATE TABLE bench_t AS SELECT row_number() OVER (ORDER BY id) AS k, id AS sender, "
            "region_id AS region FROM accounts_insuredperson WHERE phone LIKE '16%'",
            "ALTER TABLE bench_t ADD recipient bigint, ADD amount numeric(14, 2), "
            "ADD account bigint, ADD credit_tx bigint, ADD send_tx bigint",
            "UPDATE bench_t SET recipient = 1 + (k - 1) % (SELECT max(id) FROM "
            "accounts_insuredperson WHERE phone NOT LIKE '16%'), amount = 1 + k % 100, "
            "account = nextval(pg_get_serial_sequence('payments_ledgeraccount', 'id')), "
            "credit_tx = nextval(pg_get_serial_sequence('payments_ledgertransaction', 'id')), "
            "send_tx = nextval(pg_get_serial_sequence('payments_ledgertransaction', 'id'))",
            *[
                "INSERT INTO payments_ledgeraccount (public_id, kind, region_id, created_at) "
                f"SELECT gen_random_uuid(), '{kind}', id, now() FROM accounts_regionpolicy "
                f"WHERE code = '659004' AND NOT EXISTS (SELECT 1 FROM payments_ledgeraccount a "
                f"WHERE a.kind = '{kind}' AND a.region_id = accounts_regionpolicy.id)"
                for kind in ("employer_credits", "wallet_in_flight")
            ],
            "INSERT INTO payments_ledgeraccount (id, public_id, kind, person_id, region_id, "
            "balance, created_at) SELECT account, gen_random_uuid(), 'personal', sender, region, "
            "5000 - amount, now() FROM bench_t",
            "INSERT INTO payments_ledgertransaction (id, public_id, kind, description, "
            "occurred_at, created_at, idempotency_key) SELECT tx, gen_random_uuid(), kind, "
            "kind, now() - interval '1 day', now() - interval '1 day', kind || ':' || k "
            "FROM bench_t CROSS JOIN LATERAL (VALUES (credit_tx, 'credit'), "
            "(send_tx, 'transfer_send')) v(tx, kind)",
            "INSERT INTO payments_ledgerleg (transaction_id, account_id, amount, balance_after, "
            "created_at) SELECT tx, acc, leg, after, now() - interval '1 day' FROM bench_t "
            "CROSS JOIN LATERAL (VALUES "
            "(credit_tx, (SELECT id FROM payments_ledgeraccount WHERE kind = "
            "'employer_credits' AND region_id = region), -5000, NULL), "
            "(credit_tx, account, 5000, 5000), (send_tx, account, -amount, 5000 - amount), "
            "(send_tx, (SELECT id FROM payments_ledgeraccount WHERE kind = 'wallet_in_flight' "
            "AND region_id = region), amount, NULL)) v(tx, acc, leg, after)",
            "INSERT INTO wallet_wallet (public_id, person_id, status, balance, opened_at, "
            "closed_at, created_at, updated_at) SELECT gen_random_uuid(), recipient, 'open', 0, "
            "now() - interval '2 days', NULL, now(), now() FROM (SELECT DISTINCT recipient "
            "FROM bench_t) r",
            "INSERT INTO wallet_transfer (public_id, sender_id, sender_account_id, "
            "owing_region_id, wallet_id, relation, amount, status, sent_at, answer_by, "
            "finished_at, idempotency_key, send_transaction_id, finish_transaction_id, "
            "created_at) SELECT gen_random_uuid(), t.sender, t.account, t.region, w.id, "
            "'parent', t.amount, 'pending', now() - interval '1 day', now() - interval "
            "'1 hour', NULL, 'bench-' || t.k, t.send_tx, NULL, now() - interval '1 day' "
            "FROM bench_t t JOIN wallet_wallet w ON w.person_id = t.recipient",
            "DROP TABLE bench_t",
        ],
    ),
    "remind": (
        "family.send_expiry_reminders",
        None,
        3600,
        [
            f"UPDATE family_authorization SET window_end = now() + interval '1 day' "
            f"+ (id % 5) * interval '1 day' WHERE {DUE}",
        ],
    ),
}


def expected(conn, name: str) -> dict[str, int]:
    """What the pass must do, counted before it runs."""

    def one(sql: str) -> int:
        return conn.execute(sql).fetchone()[0]

    empty_after = (
        "SELECT count(*) FROM family_relationship r WHERE r.status = 'active' AND NOT EXISTS "
        "(SELECT 1 FROM family_authorization a WHERE a.relationship_id = r.id AND a.status IN "
        f"{LIVE} AND NOT ({{ends}}))"
    )
    if name == "start":
        return {
            "rows": one(
                "SELECT count(*) FROM family_authorization WHERE status = 'scheduled' "
                "AND window_start <= now() AND (window_end IS NULL OR window_end >= now())"
            ),
            "relationships": 0,
        }
    if name == "lapse":
        ends = "a.status = 'pending_consent' AND a.consent_deadline < now()"
        return {
            "rows": one(
                "SELECT count(*) FROM family_authorization WHERE status = 'pending_consent' "
                "AND consent_deadline < now()"
            ),
            "relationships": one(empty_after.format(ends=ends)),
        }
    if name == "reconcile":
        gone = (
            f"EXISTS (SELECT 1 FROM accounts_insuredperson p WHERE p.status IN {GONE} "
            "AND p.id IN (a.holder_id, a.member_id))"
        )
        return {
            "rows": one(
                f"SELECT count(*) FROM family_authorization a WHERE a.status IN {LIVE} AND {gone}"
            ),
            "relationships": one(empty_after.format(ends=gone)),
        }
    if name == "return":
        return {
            "rows": one(
                "SELECT count(*) FROM wallet_transfer WHERE status = 'pending' "
                "AND answer_by <= now()"
            ),
            "relationships": 0,
        }
    return {
        "rows": one(
            "SELECT count(*) FROM family_authorization WHERE status IN ('scheduled', 'active') "
            "AND window_end BETWEEN now() AND now() + interval '7 days'"
        ),
        "relationships": 0,
    }


def verify(run: expiry.Run, conn, name: str, want: dict[str, int], before: dict) -> None:
    def one(sql: str) -> int:
        return conn.execute(sql).fetchone()[0]

    def check(label: str, got: int, wanted: int) -> None:
        run.checks.append((got == wanted, f"{label}: {got:,} (want {wanted:,})"))

    rows = want["rows"]
    check("rows the pass reported", run.rows, rows)
    action, kind = {
        "start": ("authorization.start", "started"),
        "lapse": ("authorization.lapse", "ended"),
        "reconcile": ("authorization.terminate", "ended"),
        "remind": (None, "expiring"),
        "return": ("wallet.transfer_returned", "transfer_returned"),
    }[name]
    if action:
        check(
            f"audit entries {action}",
            one(f"SELECT count(*) FROM accounts_auditentry WHERE action = '{action}'"),
            rows,
        )
    else:
        check(
            "audit entries (nothing changes state)",
            one("SELECT count(*) FROM accounts_auditentry"),
            0,
        )
    check(f"notifications of kind {kind} (2 × rows)", one(
        f"SELECT count(*) FROM accounts_notification WHERE kind = '{kind}'"
    ), 2 * rows)  # fmt: skip
    check("relationships ended", one(
        "SELECT count(*) FROM family_relationship WHERE status = 'ended'"
    ), want["relationships"])  # fmt: skip
    check("audit entries relationship.end", one(
        "SELECT count(*) FROM accounts_auditentry WHERE action = 'relationship.end'"
    ), want["relationships"])  # fmt: skip
    if name == "start":
        check("scheduled rows whose start came, left", one(
            "SELECT count(*) FROM family_authorization WHERE status = 'scheduled' "
            "AND window_start <= now()"
        ), 0)  # fmt: skip
    if name in ("lapse", "reconcile"):
        check("active relationships without a live member", one(
            "SELECT count(*) FROM family_relationship r WHERE status = 'active' AND NOT EXISTS "
            f"(SELECT 1 FROM family_authorization a WHERE a.relationship_id = r.id "
            f"AND a.status IN {LIVE})"
        ), 0)  # fmt: skip
    if name == "reconcile":
        check("live authorizations of people transferred out", one(
            f"SELECT count(*) FROM family_authorization a JOIN accounts_insuredperson p ON "
            f"p.id IN (a.holder_id, a.member_id) WHERE a.status IN {LIVE} AND p.status IN {GONE}"
        ), 0)  # fmt: skip
    if name == "return":
        check("transfers returned, each with its ledger movement", one(
            "SELECT count(*) FROM wallet_transfer WHERE status = 'returned' "
            "AND finish_transaction_id IS NOT NULL AND finished_at IS NOT NULL"
        ), rows)  # fmt: skip
        check("pending transfers past their answer time, left", one(
            "SELECT count(*) FROM wallet_transfer WHERE status = 'pending' AND answer_by <= now()"
        ), 0)  # fmt: skip
        check("senders whose balance is not 5,000.00 again or not the sum of its legs", one(
            "SELECT count(*) FROM payments_ledgeraccount a WHERE a.kind = 'personal' AND "
            "(a.balance <> 5000 OR a.balance <> (SELECT sum(amount) FROM payments_ledgerleg l "
            "WHERE l.account_id = a.id))"
        ), 0)  # fmt: skip
        check("money left in flight (yuan)", int(one(
            "SELECT coalesce(sum(l.amount), 0) FROM payments_ledgerleg l JOIN "
            "payments_ledgeraccount a ON a.id = l.account_id WHERE a.kind = 'wallet_in_flight'"
        )), 0)  # fmt: skip
    if name == "remind":
        check("authorizations by status unchanged", int(one(
            "SELECT count(*) FROM family_authorization WHERE status = 'active'"
        ) == before["active"]), 1)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="due rows per pass")
    parser.add_argument("--passes", default=",".join(PASSES), help="comma-separated")
    parser.add_argument("--database", default="bench_passes")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    args.names = [n.strip() for n in args.passes.split(",") if n.strip()]
    if not set(args.names) <= set(PASSES) or args.rows < 1:
        parser.error(f"--passes from {', '.join(PASSES)}; --rows positive")
    return args


def main() -> int:
    import redis

    from bench.settlement import Watch, calibration, machine

    args = parse_args()
    tag = uuid.uuid4().hex[:8]
    queue, sink = f"bench-passes-{tag}", f"bench-passes-{tag}-mail"
    template = f"{args.database}_template"
    workdir = Path(tempfile.mkdtemp(prefix="bench-passes-"))
    settings = expiry.settings_module(workdir, sink=sink)
    print(f"Scheduled passes benchmark {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {tag}")
    print(*machine(), sep="\n")
    print(f"nproc {os.cpu_count()}; {expiry.pg_facts(args.pg_url)}; {expiry.versions()}")
    calibrated = calibration()
    broker = redis.Redis.from_url(args.broker)
    runs: list[tuple[str, expiry.Run]] = []
    try:
        expiry.database_create(args.pg_url, template)
        env = expiry.child_env(args, template, workdir, settings)
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit("migrate failed:\n" + done.stderr[-3000:])
        shape = expiry.Shape.of(args.rows, members=4, not_due=0.1, sharing=2)
        for i, name in enumerate(args.names):
            task, key, expires, turn = PASSES[name]
            print(f"- {name}: {task} …", flush=True)
            expiry.database_create(args.pg_url, args.database, template=template)
            url = f"{args.pg_url}/{args.database}"
            loaded = expiry.load(url, shape, seed=args.seed + i, log=print)
            with expiry.pg(args.pg_url, args.database, autocommit=True) as conn:
                for sql in turn:
                    conn.execute(sql)
                conn.execute("VACUUM (ANALYZE)")
                want = expected(conn, name)
                before = {
                    "active": conn.execute(
                        "SELECT count(*) FROM family_authorization WHERE status = 'active'"
                    ).fetchone()[0]
                }
            print(f"  the pass must change {want['rows']:,} rows, end "
                  f"{want['relationships']:,} relationships")  # fmt: skip
            run = expiry.Run(label=name, runner="worker", loaded=loaded)
            env = expiry.child_env(args, args.database, workdir, settings)
            with Watch(args=args, server=None) as watch:
                expiry.run_worker(
                    run, args=args, env=env, queue=queue, workdir=workdir, tag=tag,
                    task=task, expires=expires, key=key,
                )  # fmt: skip
            run.elsewhere = watch.summary
            run.sink = broker.llen(sink)
            broker.delete(sink)
            time.sleep(0.5)
            with expiry.pg(args.pg_url, args.database, autocommit=True) as conn:
                verify(run, conn, name, want, before)
            print(f"  {run.rows:,} rows in {run.seconds:.1f} s = {run.rate:,.0f} rows/s; worker "
                  f"{expiry.mib(run.idle_kb)} MiB idle, peak {expiry.mib(run.hwm_kb)} MiB; "
                  f"mail sweeps enqueued {run.sink}; elsewhere: {run.elsewhere}")  # fmt: skip
            for ok, line in run.checks:
                print(f"  {'ok  ' if ok else 'FAIL'} {line}")
            runs.append((task, run))
    finally:
        for redis_key in broker.scan_iter(match=f"*bench-passes-{tag}*"):
            broker.delete(redis_key)
        expiry.database_drop(args.pg_url, args.database)
        expiry.database_drop(args.pg_url, template)
    print()
    print("| pass | task | rows | pass s | rows/s | worker peak MiB (idle) | checks |")
    print("|---|---|---:|---:|---:|---:|---|")
    for task, run in runs:
        print(
            f"| {run.label} | {task} | {run.rows:,} | {run.seconds:.1f} | {run.rate:,.0f} | "
            f"{expiry.mib(run.hwm_kb)} ({expiry.mib(run.idle_kb)}) | "
            f"{'all passed' if run.ok else 'FAILED'} |"
        )
    print()
    print(*machine(), sep="\n")
    print(f"CPU calibration: {calibrated:.0f} ms before, {calibration():.0f} ms after")
    return 0 if all(run.ok for _, run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
