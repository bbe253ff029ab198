"""Pages at volume (issue 16 point 4): the citizen and staff pages people open most, measured
three times in one run: on the demo data, after the demo family has a long history, and after
the database has grown to 1,000,000 ledger legs and 100,000 relationships; p50 and p99 per page
and the SQL statements each page ran, side by side.

    .venv/bin/python bench/pages.py                      # 1,000,000 legs, 100,000 relationships
    .venv/bin/python bench/pages.py --legs 200000 --relationships 20000 --rounds 30   # quicker

One run:
1. a throwaway database (`bench_pages`): `migrate`, `seed_demo`;
2. **demo**: each page requested `--rounds` times in turn through Django's test client in one
   process (production settings, the whole middleware stack and the templates, no network),
   signed in as the demo's 王建国 (citizen pages) and js_clerk (staff pages); p50 and p99 per
   page, and the statements it ran (CaptureQueriesContext);
3. **history**: `--history` settlements of 王小明 paid by 王建国's account through mutual aid (the
   real `settlement_create`, one in ten partly refunded through `settlement_refund`), so the
   family's own pages have many entries of every kind; the pages again;
4. **volume**: in SQL (INSERT … SELECT), `--relationships` more families in 南京 (a holder, a
   member, the relationship, an active authorization, the holder's personal account credited
   once) and as many mutual-aid settlements of those members as make the ledger reach `--legs`
   legs, with their lines and ledger transactions, each transaction's legs summing to zero and
   each account's balance the sum of its legs (checked after the load); VACUUM ANALYZE; the
   pages again, then the nightly `ledger_reconcile` once;
5. a table: per page, the statements in each phase, p50 and p99, and p50 volume / history (the
   cost of the tables' size alone: the family's pages show the same rows in both).

The machine should be quiet: run it alone (bench/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.settlement import step  # noqa: E402

DATABASE = "bench_pages"
REGION = "320100"
INSTITUTION = "JS-HOSP-001"
OPENING = 1000  # yuan credited to each bulk holder; a bulk settlement takes 1.00–50.00

# (label, who, path) — `{wang}` is 王建国's public id; who: citizen 王建国 or staff js_clerk
PAGES = [
    ("citizen home /", "citizen", "/"),
    ("citizen family overview", "citizen", "/family/"),
    ("citizen statement, page 1", "citizen", "/payments/statement/"),
    ("citizen statement, last page", "citizen", "/payments/statement/?page=999999"),
    ("citizen records", "citizen", "/family/records/"),
    ("citizen records, last page", "citizen", "/family/records/?page=999999"),
    ("staff person page", "staff", "/staff/persons/{wang}/"),
    ("staff dashboard", "staff", "/staff/dashboard/"),
]


# ---------------------------------------------------------------------------------------------
# the child: Django in this process


def _django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def child_history(count: int) -> None:
    """`count` settlements of 王小明 at JS-HOSP-001, paid by 王建国 (mutual aid), through the
    services; one in ten partly refunded."""
    _django()
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from accounts.models import InsuredPerson
    from payments.models import Institution
    from payments.services import settlement_create, settlement_refund

    institution = Institution.objects.get(code=INSTITUTION)
    son = InsuredPerson.objects.get(name="王小明")
    now = timezone.now()
    started = time.monotonic()
    for i in range(count):
        at = now - dt.timedelta(minutes=count - i)
        settlement, _ = settlement_create(
            institution=institution,
            patient=son,
            category="outpatient",
            amount=Decimal("1.00"),
            occurred_at=at,
            items=[],
            idempotency_key=f"bench-pages-history-{i}",
            request_hash=f"bench-pages-history-{i}",
            at=at,
        )
        if i % 10 == 0:
            settlement_refund(
                settlement=settlement,
                amount=Decimal("0.50"),
                idempotency_key=f"bench-pages-refund-{i}",
                request_hash=f"bench-pages-refund-{i}",
                at=at,
            )
    print(f"  {count:,} settlements (and {-(-count // 10):,} refunds) through the services "
          f"in {time.monotonic() - started:.1f} s")  # fmt: skip


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def child_measure(rounds: int, reconcile: bool) -> None:
    """Each page `rounds` times, in turn; prints one JSON line."""
    _django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import InsuredPerson

    wang = InsuredPerson.objects.select_related("user").get(name="王建国")
    clients = {"citizen": Client(HTTP_HOST="127.0.0.1"), "staff": Client(HTTP_HOST="127.0.0.1")}
    clients["citizen"].force_login(wang.user)
    clients["staff"].force_login(get_user_model().objects.get(username="js_clerk"))
    pages = [(label, who, path.format(wang=wang.public_id)) for label, who, path in PAGES]
    times: dict[str, list[float]] = {label: [] for label, _, _ in pages}
    queries: dict[str, int] = {}
    for label, who, path in pages:  # warm up, and count the statements once
        clients[who].get(path, secure=True)
        with CaptureQueriesContext(connection) as captured:
            response = clients[who].get(path, secure=True)
        if response.status_code != 200:
            raise SystemExit(f"{label}: {path} answered {response.status_code}")
        queries[label] = len(captured.captured_queries)
    for _ in range(rounds):
        for label, who, path in pages:
            started = time.perf_counter()
            response = clients[who].get(path, secure=True)
            times[label].append(time.perf_counter() - started)
            assert response.status_code == 200, (label, response.status_code)
    out: dict = {
        "pages": {
            label: {
                "queries": queries[label],
                "p50": percentile(times[label], 50),
                "p99": percentile(times[label], 99),
            }
            for label in times
        }
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM payments_ledgerleg")
        out["legs"] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM family_relationship")
        out["relationships"] = cursor.fetchone()[0]
    if reconcile:
        from payments.services.reconcile import ledger_reconcile

        started = time.perf_counter()
        run = ledger_reconcile()
        out["reconcile"] = {
            "seconds": time.perf_counter() - started,
            "result": (
                f"{run.accounts_checked:,} accounts checked, {run.mismatch_count} mismatches, "
                f"{'in balance' if run.ok else 'NOT in balance'}"
                if run is not None
                else "skipped: another run held the lock"
            ),
        }
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------
# the volume, in SQL

COLUMNS = {
    "accounts_insuredperson": "id, public_id, name, id_number, birth_date, sex, phone, scheme, "
    "status, created_at, updated_at, user_id, region_id",
    "family_relationship": "id, public_id, status, channel, created_at, ended_at, end_reason, "
    "holder_id",
    "family_authorization": "id, public_id, relation, window_start, window_end, status, "
    "exclusive, deduction_position, payment_cap, consent_needed, consent_deadline, answered_at, "
    "created_at, ended_at, end_note, answered_by_id, holder_id, member_id, relationship_id",
    "payments_ledgeraccount": "id, public_id, kind, person_id, region_id, balance, created_at",
    "payments_ledgertransaction": "id, public_id, kind, description, occurred_at, created_at, "
    "idempotency_key",
    "payments_ledgerleg": "id, transaction_id, account_id, amount, balance_after, created_at",
    "payments_settlement": "id, public_id, institution_id, patient_id, category, amount, "
    "cash_due, refunded, status, items, occurred_at, created_at, updated_at, "
    "ledger_transaction_id, idempotency_key, request_hash",
    "payments_settlementline": "id, settlement_id, position, source, account_id, payer_id, "
    "authorization_id, amount",
}


def _columns_match(cur) -> None:
    """The load writes every column by name: refuse to run on a schema it does not know."""
    for table, columns in COLUMNS.items():
        have = {
            row[0]
            for row in cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                [table],
            )
        }
        want = {c.strip() for c in columns.split(",")}
        if have != want:
            raise SystemExit(
                f"{table}: the schema has {sorted(have ^ want)} the load does not know"
            )


def _bureau_account(cur, kind: str, region_id: int) -> int:
    row = cur.execute(
        "SELECT id FROM payments_ledgeraccount WHERE kind = %s AND region_id = %s AND person_id "
        "IS NULL",
        [kind, region_id],
    ).fetchone()
    if row:
        return row[0]
    return cur.execute(
        "INSERT INTO payments_ledgeraccount (public_id, kind, region_id, created_at) "
        "VALUES (gen_random_uuid(), %s, %s, now()) RETURNING id",
        [kind, region_id],
    ).fetchone()[0]


def load_volume(url: str, *, relationships: int, legs: int) -> dict:
    """The bulk families and their settlements; returns what was written."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        _columns_match(cur)
        have_legs = cur.execute("SELECT count(*) FROM payments_ledgerleg").fetchone()[0]
        settlements = max(0, (legs - have_legs - 2 * relationships) // 2)
        region_id = cur.execute(
            "SELECT id FROM accounts_regionpolicy WHERE code = %s", [REGION]
        ).fetchone()[0]
        institution_id = cur.execute(
            "SELECT id FROM payments_institution WHERE code = %s", [INSTITUTION]
        ).fetchone()[0]
        credits = _bureau_account(cur, "employer_credits", region_id)
        payable = _bureau_account(cur, "institution_payable", region_id)
        base = {
            table: cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]  # noqa: S608
            for table in COLUMNS
        }
        # No foreign-key or ledger triggers during the load (what they check is checked after
        # it, with one query each); check constraints and unique indexes still apply.
        cur.execute("SET LOCAL session_replication_role = replica")
        params = {
            "r": relationships,
            "s": settlements,
            "region": region_id,
            "institution": institution_id,
            "credits": credits,
            "payable": payable,
            "opening": OPENING,
            **{f"b_{table.split('_', 1)[1]}": value for table, value in base.items()},
        }
        statements = [
            # holders g = 1..r (employees), members r+g (residents)
            """INSERT INTO accounts_insuredperson ({accounts_insuredperson})
            SELECT %(b_insuredperson)s + g, gen_random_uuid(), '共济' || g,
                   '320100' || to_char(date '1950-01-01' + g / 800, 'YYYYMMDD')
                     || lpad((100 + g %% 800)::text, 3, '0') || '0',
                   date '1950-01-01' + g / 800, CASE WHEN g %% 2 = 0 THEN 'F' ELSE 'M' END,
                   '15' || lpad(g::text, 9, '0'),
                   CASE WHEN g <= %(r)s THEN 'employee' ELSE 'resident' END, 'normal',
                   now() - interval '800 days', now() - interval '800 days', NULL, %(region)s
            FROM generate_series(1, 2 * %(r)s) g""",
            """INSERT INTO family_relationship ({family_relationship})
            SELECT %(b_relationship)s + g, gen_random_uuid(), 'active', 'online',
                   now() - interval '400 days', NULL, '', %(b_insuredperson)s + g
            FROM generate_series(1, %(r)s) g""",
            """INSERT INTO family_authorization ({family_authorization})
            SELECT %(b_authorization)s + g, gen_random_uuid(), 'spouse',
                   now() - interval '390 days', NULL, 'active', true, NULL, NULL, false, NULL,
                   NULL, now() - interval '400 days', NULL, '', NULL, %(b_insuredperson)s + g,
                   %(b_insuredperson)s + %(r)s + g, %(b_relationship)s + g
            FROM generate_series(1, %(r)s) g""",
            """INSERT INTO payments_ledgeraccount ({payments_ledgeraccount})
            SELECT %(b_ledgeraccount)s + g, gen_random_uuid(), 'personal', %(b_insuredperson)s + g,
                   %(region)s, %(opening)s, now() - interval '800 days'
            FROM generate_series(1, %(r)s) g""",
            # one opening credit per holder: transactions 1..r
            """INSERT INTO payments_ledgertransaction ({payments_ledgertransaction})
            SELECT %(b_ledgertransaction)s + g, gen_random_uuid(), 'credit', '单位缴费划入',
                   now() - interval '395 days', now() - interval '395 days',
                   'bench-pages-credit-' || g
            FROM generate_series(1, %(r)s) g""",
            """INSERT INTO payments_ledgerleg ({payments_ledgerleg})
            SELECT %(b_ledgerleg)s + 2 * g - 1 + side, %(b_ledgertransaction)s + g,
                   CASE side WHEN 0 THEN %(credits)s ELSE %(b_ledgeraccount)s + g END,
                   CASE side WHEN 0 THEN -%(opening)s ELSE %(opening)s END,
                   CASE side WHEN 0 THEN NULL ELSE %(opening)s END, now() - interval '395 days'
            FROM generate_series(1, %(r)s) g CROSS JOIN (VALUES (0), (1)) v(side)""",
            # settlement k = 1..s of holder h = 1 + (k - 1) %% r's member, k.00 %% 50 + 1 yuan,
            # spread over the last 390 days: transactions r+k, legs after the credits'
            """CREATE TEMP TABLE bench_s ON COMMIT DROP AS
            SELECT k, 1 + (k - 1) %% %(r)s AS h, (1 + k %% 50)::numeric(12, 2) AS amount,
                   now() - interval '390 days' + (k * interval '390 days') / (%(s)s + 1) AS at
            FROM generate_series(1, %(s)s) k""",
            """INSERT INTO payments_ledgertransaction ({payments_ledgertransaction})
            SELECT %(b_ledgertransaction)s + %(r)s + k, gen_random_uuid(), 'settlement',
                   '就医购药结算 南京市第一医院', at, at, 'bench-pages-settlement-' || k
            FROM bench_s""",
            """INSERT INTO payments_ledgerleg ({payments_ledgerleg})
            SELECT %(b_ledgerleg)s + 2 * %(r)s + 2 * k - 1 + side,
                   %(b_ledgertransaction)s + %(r)s + k,
                   CASE side WHEN 0 THEN %(b_ledgeraccount)s + h ELSE %(payable)s END,
                   CASE side WHEN 0 THEN -amount ELSE amount END,
                   CASE side WHEN 0 THEN %(opening)s - sum(amount)
                     OVER (PARTITION BY h, side ORDER BY k) END, at
            FROM bench_s CROSS JOIN (VALUES (0), (1)) v(side)""",
            """INSERT INTO payments_settlement ({payments_settlement})
            SELECT %(b_settlement)s + k, gen_random_uuid(), %(institution)s,
                   %(b_insuredperson)s + %(r)s + h, 'outpatient', amount, 0, 0, 'settled', '[]',
                   at, at, at, %(b_ledgertransaction)s + %(r)s + k, 'bench-pages-' || k,
                   md5(k::text)
            FROM bench_s""",
            """INSERT INTO payments_settlementline ({payments_settlementline})
            SELECT %(b_settlementline)s + k, %(b_settlement)s + k, 1, 'mutual_aid',
                   %(b_ledgeraccount)s + h, %(b_insuredperson)s + h, %(b_authorization)s + h, amount
            FROM bench_s""",
            """UPDATE payments_ledgeraccount a SET balance = %(opening)s - coalesce(spent, 0)
            FROM (SELECT g FROM generate_series(1, %(r)s) g) hs
            LEFT JOIN (SELECT h, sum(amount) AS spent FROM bench_s GROUP BY h) t ON t.h = hs.g
            WHERE a.id = %(b_ledgeraccount)s + hs.g""",
        ]
        for sql in statements:
            cur.execute(sql.format(**COLUMNS), params)
        for table in COLUMNS:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        cur.execute("SET LOCAL session_replication_role = DEFAULT")
        unbalanced = cur.execute(
            "SELECT count(*) FROM (SELECT transaction_id FROM payments_ledgerleg "
            "GROUP BY transaction_id HAVING sum(amount) <> 0) t"
        ).fetchone()[0]
        drift = cur.execute(
            "SELECT count(*) FROM payments_ledgeraccount a LEFT JOIN (SELECT account_id, "
            "sum(amount) AS total FROM payments_ledgerleg GROUP BY account_id) l "
            "ON l.account_id = a.id WHERE a.kind = 'personal' "
            "AND a.balance IS DISTINCT FROM coalesce(l.total, 0)"
        ).fetchone()[0]
        negative = cur.execute(
            "SELECT count(*) FROM payments_ledgerleg WHERE balance_after < 0"
        ).fetchone()[0]
        if unbalanced or drift or negative:
            raise SystemExit(
                f"the load is inconsistent: {unbalanced} transactions do not sum to zero, "
                f"{drift} balances differ from their legs, {negative} balances below zero"
            )
        conn.commit()
    seconds = time.monotonic() - started
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return {
        "relationships": relationships,
        "settlements": settlements,
        "seconds": seconds,
        "vacuum_seconds": time.monotonic() - started,
    }


# ---------------------------------------------------------------------------------------------
# the parent


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def report(phases: list[tuple[str, dict]], loaded: dict) -> bool:
    """One row per page: statements in each phase, p50 and p99 in each, the ratio; False when a
    page ran more or fewer statements at volume than with the same rows on a small database."""
    (_, demo), (_, history), (_, big) = phases
    print()
    print(
        "| page | statements (demo / history / volume) | p50 demo (ms) | p99 demo | "
        "p50 history | p99 history | p50 at volume | p99 at volume | p50 volume / history |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label in demo["pages"]:
        a, b, c = (phase["pages"][label] for phase in (demo, history, big))
        print(
            f"| {label} | {a['queries']} / {b['queries']} / {c['queries']} | {ms(a['p50'])} | "
            f"{ms(a['p99'])} | {ms(b['p50'])} | {ms(b['p99'])} | {ms(c['p50'])} | "
            f"{ms(c['p99'])} | {c['p50'] / b['p50']:.2f} |"
        )
    print()
    for name, phase in phases:
        print(f"- {name}: {phase['legs']:,} legs, {phase['relationships']:,} relationships")
    print(
        f"- loaded in SQL: {loaded['relationships']:,} families and {loaded['settlements']:,} "
        f"settlements in {loaded['seconds']:.1f} s, VACUUM ANALYZE {loaded['vacuum_seconds']:.1f} s"
    )
    if "reconcile" in big:
        print(
            f"- nightly ledger_reconcile at volume: {big['reconcile']['seconds']:.1f} s, "
            f"{big['reconcile']['result']}"
        )
    changed = [
        label
        for label in demo["pages"]
        if history["pages"][label]["queries"] != big["pages"][label]["queries"]
    ]
    print(
        "- statements per page, history → volume: "
        + ("the same for every page" if not changed else f"CHANGED for {', '.join(changed)}")
    )
    return not changed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=1_000_000)
    parser.add_argument("--relationships", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=2000, help="王小明's settlements")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--base-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default=DATABASE, help="the throwaway database's name")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--child", choices=["history", "measure"], help=argparse.SUPPRESS)
    parser.add_argument("--reconcile", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.child == "history":
        child_history(args.history)
        return 0
    if args.child == "measure":
        child_measure(args.rounds, args.reconcile)
        return 0
    import psycopg

    url = f"{args.base_url}/{args.database}"
    with psycopg.connect(f"{args.base_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings", DATABASE_URL=url)
    env["PYTHONPATH"] = str(ROOT)
    me = [sys.executable, str(Path(__file__).resolve())]
    try:
        step("migrate", [sys.executable, "manage.py", "migrate", "--noinput"], env, ROOT)
        step("seed_demo", [sys.executable, "manage.py", "seed_demo"], env, ROOT)

        def measure(title: str, *extra: str) -> dict:
            command = [*me, "--child", "measure", "--rounds", str(args.rounds), *extra]
            return json.loads(step(title, command, env, ROOT).strip().splitlines()[-1])

        phases = [("demo", measure("pages, demo size"))]
        history = [*me, "--child", "history", "--history", str(args.history)]
        step("王小明's history through the services", history, env, ROOT)
        phases.append(("history", measure("pages, with the history")))
        print(f"- bulk families and settlements in SQL up to {args.legs:,} legs …", flush=True)
        loaded = load_volume(url, relationships=args.relationships, legs=args.legs)
        phases.append(
            ("volume", measure("pages at volume, then the reconciliation", "--reconcile"))
        )
        same = report(phases, loaded)
    finally:
        if not args.keep:
            with psycopg.connect(f"{args.base_url}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
