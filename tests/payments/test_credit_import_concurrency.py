"""Credit imports under real concurrency (issue 13 points 5 and 6): threads on their own
PostgreSQL connections, each committing its own transactions.

- Two uploads of the same rows at once: exactly one batch is staged; the database's unique
  constraint decides, and the loser is told which lines.
- A settlement on an account the import has credited completes while the import is paused,
  between chunks or inside a later chunk: an import no longer holds every credited account for
  the whole file (on the old code the settlement waited for the whole file).
- A worker killed after its first chunk: the resume job posts the rest, each row once.
- Two workers posting one batch at once: each row once, the batch done and audited once.
- The broker down when the upload commits: the batch waits, staged, for the resume job."""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Sum

from accounts.idnumber import check_char
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
from accounts.services import insured_person_register
from payments import services, tasks
from payments.models import (
    CreditImport,
    CreditRow,
    Institution,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
)
from payments.services import credit_import, ledger
from payments.services.credits import CSV_ALREADY_CREDITED, CreditImportRefused
from portal.celery import app as celery_app
from tests.payments.builders import settle
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "id_number,name,amount,month\n"
NUMBERS = {
    "王建国": "32010219750312123X",
    "李秀英": "320104197708252463",
    "张伟": "320105198207073177",
    "周芳": "320211198004192224",
    "赵敏": "330106199002144288",
    "孙强": "320106197911305199",
    "马志强": "659004198303221312",
    "古丽娜": "659004198506102428",
}
INSTITUTION_OF_REGION = {"320100": "JS-HOSP-001", "659004": "XJ-HOSP-001"}
WAIT = 20  # seconds any thread waits for another before the test fails


def csv_of(rows: list[tuple[str, str, str]]) -> bytes:
    """rows: (name, amount, month)."""
    lines = [f"{NUMBERS[name]},{name},{amount},{month}\n" for name, amount, month in rows]
    return (HEADER + "".join(lines)).encode()


def credit_transactions() -> int:
    return LedgerTransaction.objects.filter(kind="credit", credit_row__isnull=False).count()


def assert_ledger_sound() -> None:
    """Every personal account's balance equals the sum of its legs; every transaction sums to 0."""
    sums = dict(
        LedgerLeg.objects.filter(account__kind="personal")
        .values("account")
        .annotate(t=Sum("amount"))
        .values_list("account", "t")
    )
    for account in LedgerAccount.objects.filter(kind="personal"):
        assert account.balance == sums.get(account.pk, Decimal("0.00")), account
    unbalanced = (
        LedgerLeg.objects.values("transaction").annotate(t=Sum("amount")).exclude(t=0).count()
    )
    assert unbalanced == 0


def assert_each_row_posted_once(batch: CreditImport) -> None:
    batch.refresh_from_db()
    rows = CreditRow.objects.filter(batch=batch)
    assert (batch.status, batch.rows_posted) == ("done", batch.rows)
    assert rows.filter(status="posted", ledger_transaction__isnull=False).count() == batch.rows
    per_row = rows.values("pk").annotate(n=Count("ledger_transaction__legs")).values_list("n")
    assert {n for (n,) in per_row} == {2}  # one transaction of two legs per row
    assert LedgerTransaction.objects.filter(credit_row__batch=batch).count() == batch.rows
    credited = LedgerLeg.objects.filter(
        transaction__credit_row__batch=batch, account__kind="personal"
    ).aggregate(t=Sum("amount"))["t"]
    assert credited == batch.total
    done = AuditEntry.objects.filter(
        action="account.credit_import_done", object_id=str(batch.public_id)
    )
    assert done.count() == 1


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(credit_import, "CHUNK_ROWS", 2)


@pytest.fixture
def lock_timeout():
    """The test's own connection gives up waiting for a row lock after 5 s (a settlement held
    by the import fails the test instead of hanging it)."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '5s'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


def _institution_for(person: InsuredPerson) -> Institution:
    return Institution.objects.get(code=INSTITUTION_OF_REGION[person.region.code])


class InThread:
    """A call run in a thread of its own, on its own connection (closed at the end); `join`
    re-raises what it raised."""

    def __init__(self, call):
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self.thread.start()

    def _run(self, call) -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test by join()
            self.error = exc
        finally:
            connection.close()

    def join(self, timeout: float = WAIT) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the import thread is stuck"
        if self.error is not None:
            raise self.error


# ---------------------------------------------------------------------------------------------
# point 5: two uploads of the same rows


def test_two_uploads_of_the_same_rows_at_once_stage_exactly_one_batch(
    demo_transactional, monkeypatch
):
    """Both files pass the check before either is staged (a barrier between the check and the
    staging), so only the database can refuse the second: its unique constraint on (person,
    month, source). The two files differ in their bytes (LF and CRLF): no hash can tell."""
    rows = [
        ("王建国", "100.00", "2026-10"),
        ("李秀英", "50.00", "2026-10"),
        ("张伟", "1.00", "2026-10"),
    ]
    lf = csv_of(rows)
    crlf = lf.replace(b"\n", b"\r\n")
    both_checked = threading.Barrier(2)
    monkeypatch.setattr(credit_import, "before_stage_hook", lambda: both_checked.wait(WAIT))
    before = {
        name: demo_transactional[name].ledger_account.balance
        for name in ("王建国", "李秀英", "张伟")
    }

    def attempt(data: bytes):
        try:
            return services.credits_import_csv(data=data, file_name="race.csv", actor=None)
        except CreditImportRefused as exc:
            return [(e.line, e.message) for e in exc.errors]

    outcomes = run_together(lambda: attempt(lf), lambda: attempt(crlf))
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    results = [value for _kind, value in outcomes]
    staged = [r for r in results if isinstance(r, CreditImport)]
    refused = [r for r in results if isinstance(r, list)]
    assert len(staged) == 1 and len(refused) == 1, results
    message = str(CSV_ALREADY_CREDITED) % {"month": "2026-10", "source": "单位缴费划入"}
    assert refused[0] == [(2, message), (3, message), (4, message)]
    assert CreditImport.objects.count() == 1
    assert CreditRow.objects.count() == 3
    assert_each_row_posted_once(staged[0])  # posted by the task after the winner's commit
    for name, amount, _month in rows:
        account = LedgerAccount.objects.get(person=demo_transactional[name])
        assert account.balance - before[name] == Decimal(amount)
    assert_ledger_sound()


# ---------------------------------------------------------------------------------------------
# point 6: a settlement is not held by the import


def test_a_settlement_on_a_credited_account_completes_while_the_import_pauses_between_chunks(
    demo_transactional, small_chunks, monkeypatch, lock_timeout
):
    """The import (the command's path: stage, then post here) pauses after its first chunk;
    meanwhile a settlement on an account that chunk credited goes through at once."""
    data = csv_of([(n, "100.00", "2026-10") for n in ("王建国", "李秀英", "张伟", "马志强")])
    paused, resume = threading.Event(), threading.Event()

    def pause(batch, chunks):
        if chunks == 1:
            paused.set()
            assert resume.wait(WAIT), "the test never let the import go on"

    monkeypatch.setattr(credit_import, "after_chunk_hook", pause)
    importer = InThread(
        lambda: services.credits_import_csv(
            data=data, file_name="paused.csv", actor=None, background=False
        )
    )
    try:
        assert paused.wait(WAIT), "the import never reached its first chunk's end"
        first = CreditRow.objects.filter(status="posted").select_related("person__region")
        assert first.count() == 2
        assert CreditRow.objects.filter(status="pending").count() == 2
        patient = first.first().person
        started = time.monotonic()
        settlement = settle(_institution_for(patient), patient, "10.00")
        waited = time.monotonic() - started
    finally:
        resume.set()
        importer.join()
    assert settlement.lines.get().amount == Decimal("10.00")
    assert waited < 2, f"the settlement waited {waited:.1f} s"
    assert_each_row_posted_once(CreditImport.objects.get())
    assert_ledger_sound()


def test_a_settlement_is_not_held_by_the_rest_of_the_file(
    demo_transactional, monkeypatch, lock_timeout, tmp_path
):
    """`import_credits` with the real chunk size (200) on 203 rows, held inside its second chunk
    (at the ledger posting of row 201): the account of row 1 is free, a settlement on it goes
    through. On the old code the whole file was one transaction holding every account it had
    credited so far: this settlement waited (here: fails after the 5 s lock timeout)."""
    region = RegionPolicy.objects.get(code="320100")
    lines = []
    for i in range(203):
        first17 = f"320100{dt.date(1960, 1, 1) + dt.timedelta(days=i):%Y%m%d}101"
        person = insured_person_register(
            name=f"划入职工{i:03d}",
            id_number=first17 + check_char(first17),
            phone=f"139{i:08d}",
            region=region,
            scheme=InsuredPerson.Scheme.EMPLOYEE,
            actor=None,
            channel=AuditEntry.Channel.SYSTEM,
        )
        ledger.personal_account_for(person)  # an employee's account exists, as in production
        lines.append(f"{person.id_number},{person.name},100.00,2026-10\n")
    path = tmp_path / "203.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")

    posted_accounts: list[int] = []
    inside_second_chunk, resume = threading.Event(), threading.Event()
    real_post = ledger.transaction_post

    def post(**kwargs):
        if kwargs["kind"] != LedgerTransaction.Kind.CREDIT:  # the settlement's own
            return real_post(**kwargs)
        if len(posted_accounts) == 200:  # row 201: the first of the second chunk
            inside_second_chunk.set()
            assert resume.wait(WAIT), "the test never let the import go on"
        personal = [a for a, _amount in kwargs["legs"] if a.kind == "personal"]
        posted_accounts.append(personal[0].pk)
        return real_post(**kwargs)

    monkeypatch.setattr(ledger, "transaction_post", post)
    importer = InThread(lambda: call_command("import_credits", str(path), stdout=io.StringIO()))
    try:
        assert inside_second_chunk.wait(WAIT), "the import never reached row 201"
        patient = LedgerAccount.objects.select_related("person").get(pk=posted_accounts[0]).person
        started = time.monotonic()
        settlement = settle(Institution.objects.get(code="JS-HOSP-001"), patient, "10.00")
        waited = time.monotonic() - started
    finally:
        resume.set()
        importer.join(60)
    assert settlement.lines.get().amount == Decimal("10.00")
    assert waited < 2, f"the settlement waited {waited:.1f} s"
    assert len(posted_accounts) == 203
    assert LedgerAccount.objects.get(person=patient).balance == Decimal("90.00")
    assert_ledger_sound()


# ---------------------------------------------------------------------------------------------
# point 6: a worker that dies, two workers at once, no broker


def test_a_worker_killed_mid_import_resumes_and_posts_each_row_once(
    demo_transactional, small_chunks, monkeypatch
):
    data = csv_of(
        [(n, "20.00", "2026-10") for n in ("王建国", "李秀英", "张伟", "马志强", "古丽娜")]
    )
    monkeypatch.setattr(tasks.post_credit_batch, "delay_on_commit", lambda *a: None)
    batch = services.credits_import_csv(data=data, file_name="killed.csv", actor=None)

    def die(batch, chunks):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(credit_import, "after_chunk_hook", die)
    with pytest.raises(RuntimeError, match="worker killed"):
        tasks.post_credit_batch(batch.pk)  # the task's body, as the worker runs it
    batch.refresh_from_db()
    assert (batch.status, batch.rows_posted) == ("posting", 2)  # chunk 1 committed, then death
    assert credit_transactions() == 2
    assert not AuditEntry.objects.filter(action="account.credit_import_done").exists()

    monkeypatch.setattr(credit_import, "after_chunk_hook", None)
    assert tasks.resume_credit_batches() == {"batches": 1, "rows": 3}
    assert tasks.resume_credit_batches() == {"batches": 0, "rows": 0}
    assert_each_row_posted_once(batch)
    assert credit_transactions() == 5  # the number of rows, not one more
    assert_ledger_sound()


def test_two_workers_posting_one_batch_at_once_post_each_row_once(
    demo_transactional, small_chunks, monkeypatch
):
    """Rows taken with SKIP LOCKED: the two share the chunks; the one that posts the last row
    marks the batch done, once. Two months per person for some, so one account is in two
    chunks."""
    names = ["王建国", "李秀英", "周芳", "张伟", "赵敏", "孙强", "马志强", "古丽娜"]
    rows = [(n, "10.00", "2026-10") for n in names] + [(n, "5.00", "2026-11") for n in names[:4]]
    monkeypatch.setattr(tasks.post_credit_batch, "delay_on_commit", lambda *a: None)
    batch = services.credits_import_csv(data=csv_of(rows), file_name="two.csv", actor=None)
    before = {a.pk: a.balance for a in LedgerAccount.objects.filter(kind="personal")}

    outcomes = run_together(
        lambda: services.credit_batch_post(batch=batch),
        lambda: services.credit_batch_post(batch=batch),
    )
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    assert sum(posted for _kind, posted in outcomes) == 12
    assert_each_row_posted_once(batch)
    assert credit_transactions() == 12
    for account in LedgerAccount.objects.filter(kind="personal", person__name__in=names):
        name = account.person.name
        expected = Decimal("10.00") + (Decimal("5.00") if name in names[:4] else 0)
        assert account.balance - before[account.pk] == expected, name
    assert_ledger_sound()


def test_a_broker_down_at_upload_leaves_the_batch_staged_for_the_resume_job(
    demo_transactional, settings, caplog
):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6399/0"  # nothing listens there
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app._after_fork()  # drop pooled connections to the real broker
    data = csv_of([("王建国", "1.00", "2026-10"), ("马志强", "2.00", "2026-10")])
    try:
        with caplog.at_level(logging.ERROR, logger="portal.tasks"):
            batch = services.credits_import_csv(data=data, file_name="nobroker.csv", actor=None)
    finally:
        settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
        settings.CELERY_TASK_ALWAYS_EAGER = True
        celery_app._after_fork()
    assert any("payments.post_credit_batch" in r.getMessage() for r in caplog.records)
    batch.refresh_from_db()
    assert (batch.status, batch.rows_posted) == ("queued", 0)
    assert credit_transactions() == 0
    assert services.credit_batches_resume() == {"batches": 1, "rows": 2}
    assert_each_row_posted_once(batch)
