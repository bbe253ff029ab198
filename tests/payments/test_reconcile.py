"""Ledger reconciliation (issue 5 point 6): for every personal account the legs sum to the cached
balance; a mismatch is recorded and shown to staff, never silently fixed. Real PostgreSQL: the
check is one statement, the guard an advisory lock; the nightly schedule comes from a migration;
staff see runs, mismatches and the latest result on the admin index, in a constant number of
queries."""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from accounts.models import AuditEntry, User
from payments import selectors, services, tasks
from payments.models import (
    LedgerAccount,
    LedgerLeg,
    ReconciliationMismatch,
    ReconciliationRun,
)
from payments.services import reconcile
from tests.clock import NOW
from tests.demo import load_demo
from tests.factories import InsuredPersonFactory
from tests.payments.builders import balance, legs_total, refund, settle
from tests.threads import run_together

D = Decimal
SYSTEM = AuditEntry.Channel.SYSTEM
RUNS = reverse("admin:payments_reconciliationrun_changelist")
MISMATCHES = reverse("admin:payments_reconciliationmismatch_changelist")
INDEX = reverse("admin:index")


def personal_accounts() -> int:
    return LedgerAccount.objects.filter(kind=LedgerAccount.Kind.PERSONAL).count()


def corrupt(person, delta: str) -> LedgerAccount:
    """What no service does: change a cached balance behind the ledger's back."""
    account = LedgerAccount.objects.get(person=person)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_ledgeraccount SET balance = balance + %s WHERE id = %s",
            [D(delta), account.pk],
        )
    return account


@pytest.fixture
def moved(demo, institutions):
    """Real money movements of every kind: own and mutual-aid settlements, a refund to two
    holders' accounts, a premium on behalf (credits come with the demo)."""
    settle(institutions["JS-HOSP-001"], demo["王建国"], "88.00")
    settle(institutions["JS-HOSP-001"], demo["王小明"], "123.45")
    both = settle(institutions["XJ-HOSP-001"], demo["马小燕"], "1500.00")
    refund(both, "400.00")
    gulina = demo["古丽娜"]
    services.premium_pay(
        holder=gulina, member=demo["马小燕"], year=2027, pay_type="personal",
        idempotency_key="reconcile-premium", commitment_agreed=True, actor=gulina.user, at=NOW,
    )  # fmt: skip
    return demo


# ---------------------------------------------------------------------------------------------
# the service


@pytest.mark.django_db
def test_all_accounts_balance_after_real_settlements(moved, caplog):
    with caplog.at_level(logging.ERROR):
        run = services.ledger_reconcile(at=NOW)
    assert run.ok and run.mismatch_count == 0 and not run.mismatches.exists()
    assert run.accounts_checked == personal_accounts() == 8  # the demo's employees
    assert run.ledger_total == D("0.00")
    assert run.started_at == NOW and NOW <= run.finished_at < NOW + dt.timedelta(minutes=1)
    assert not caplog.records
    entry = AuditEntry.objects.get(action="ledger.reconcile")
    assert (entry.channel, entry.actor, entry.object_id) == (SYSTEM, None, str(run.pk))
    assert entry.after == {
        "accounts_checked": run.accounts_checked,
        "wallets_checked": 0,  # nobody in the demo has opened a wallet
        "mismatch_count": 0,
        "ledger_total": "0.00",
        "ok": True,
    }


@pytest.mark.django_db
def test_a_corrupted_balance_is_recorded_and_left_as_it_is(moved, caplog):
    wang = moved["王建国"]
    before = balance(wang)  # 5000.00 − 88.00 − 123.45
    assert before == D("4788.55") == legs_total(wang)
    account = corrupt(wang, "10.00")
    # a personal account opened without any leg, with money that came from nowhere
    stray = InsuredPersonFactory(region=wang.region)
    stray_account = services.personal_account_for(stray)
    corrupt(stray, "5.00")

    with caplog.at_level(logging.ERROR):
        run = services.ledger_reconcile(at=NOW)

    assert not run.ok and run.mismatch_count == 2
    assert run.ledger_total == D("0.00")  # the legs themselves still sum to zero
    assert sorted(run.mismatches.values_list(
        "account_id", "balance", "ledger_sum", "difference", "last_balance_after"
    )) == sorted([
        (account.pk, D("4798.55"), D("4788.55"), D("10.00"), D("4788.55")),
        (stray_account.pk, D("5.00"), D("0.00"), D("5.00"), None),
    ])  # fmt: skip
    # never fixed: the balances are what they were before the run
    assert balance(wang) == D("4798.55") and balance(stray) == D("5.00")
    assert legs_total(wang) == D("4788.55")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "2 personal account(s) differ" in errors[0].getMessage()
    assert str(account.public_id) in errors[0].getMessage()
    entry = AuditEntry.objects.get(action="ledger.reconcile")
    assert entry.after["ok"] is False and entry.after["mismatch_count"] == 2


@pytest.mark.django_db
def test_running_twice_gives_two_runs(moved):
    first = services.ledger_reconcile(at=NOW)
    corrupt(moved["张伟"], "-1.00")
    second = services.ledger_reconcile(at=NOW + dt.timedelta(days=1))
    assert ReconciliationRun.objects.count() == 2 and first.pk != second.pk
    assert first.ok and not second.ok
    assert AuditEntry.objects.filter(action="ledger.reconcile").count() == 2
    mismatch = ReconciliationMismatch.objects.get()
    assert (mismatch.run, mismatch.difference) == (second, D("-1.00"))
    assert selectors.reconciliation_latest() == second


@pytest.mark.django_db
def test_legs_that_do_not_sum_to_zero_make_the_run_fail(moved, caplog):
    """The deferred trigger keeps this from ever committing; the run still says so if it did."""
    # A leg on a bureau account only (no cached balance): the per-account check cannot see it.
    bureau = LedgerAccount.objects.exclude(kind=LedgerAccount.Kind.PERSONAL).first()
    leg = LedgerLeg.objects.create(
        transaction=LedgerLeg.objects.first().transaction, account=bureau, amount=D("0.01")
    )
    with caplog.at_level(logging.ERROR):
        run = services.ledger_reconcile(at=NOW)
    assert not run.ok and run.mismatch_count == 0 and run.ledger_total == D("0.01")
    assert "all legs sum to 0.01, not 0" in caplog.text
    assert LedgerLeg.objects.aggregate(t=Sum("amount"))["t"] == D("0.01")
    # Balance it again: the test's teardown checks the deferred constraints before rolling back.
    LedgerLeg.objects.create(transaction=leg.transaction, account=bureau, amount=D("-0.01"))


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_only_one_does_the_work(monkeypatch):
    load_demo()
    other_gave_up = threading.Event()

    def hold_the_lock():
        # Only the run that took the lock gets here; it keeps the lock until the other has
        # returned, so the two really overlap. Were both let in, both would wait here and fail.
        assert other_gave_up.wait(timeout=20), "the other run did not give up"

    monkeypatch.setattr(reconcile, "pause_after_lock", hold_the_lock)

    def run():
        try:
            return services.ledger_reconcile()
        finally:
            other_gave_up.set()

    outcomes = run_together(run, run)
    assert [kind for kind, _v in outcomes] == ["ok", "ok"], outcomes
    results = [value for _k, value in outcomes]
    assert sum(result is None for result in results) == 1
    (done,) = [result for result in results if result is not None]
    assert done.ok and done.accounts_checked == personal_accounts()
    assert ReconciliationRun.objects.count() == 1
    assert AuditEntry.objects.filter(action="ledger.reconcile").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_after_the_other_has_finished_does_its_own_work():
    """The lock lasts one transaction: it never outlives a run (no stuck lock after a crash)."""
    load_demo()
    outcomes = run_together(services.ledger_reconcile)
    assert outcomes[0][0] == "ok" and outcomes[0][1] is not None
    assert services.ledger_reconcile() is not None
    assert ReconciliationRun.objects.count() == 2


@pytest.mark.django_db
def test_the_task_runs_the_service(moved):
    result = tasks.reconcile_ledger.delay().get()
    run = ReconciliationRun.objects.get()
    assert result == {"run": run.pk, "ok": True, "mismatches": 0}
    assert tasks.reconcile_ledger.acks_late and tasks.reconcile_ledger.expires == 3600


@pytest.mark.django_db
def test_the_migration_scheduled_the_nightly_run():
    schedule = PeriodicTask.objects.select_related("crontab").get(task="payments.reconcile_ledger")
    assert schedule.enabled and schedule.expire_seconds == 3600
    crontab = schedule.crontab
    assert (crontab.minute, crontab.hour) == ("30", "2")
    assert (crontab.day_of_week, crontab.day_of_month, crontab.month_of_year) == ("*", "*", "*")
    assert crontab.timezone == ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------------------------------------
# staff in /admin/


@pytest.fixture
def admin_page(client, demo):
    client.force_login(User.objects.get(username="admin"))
    return client


def index_at(client, time_machine, when):
    """The admin index as the admin sees it at `when` (logged in then: sessions last 2 hours)."""
    time_machine.move_to(when)
    client.force_login(User.objects.get(username="admin"))
    return client.get(INDEX)


def text_of(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture
def two_runs(moved):
    good = services.ledger_reconcile(at=NOW - dt.timedelta(days=1))
    corrupt(moved["王建国"], "10.00")
    corrupt(moved["李秀英"], "-0.50")
    bad = services.ledger_reconcile(at=NOW)
    return good, bad


@pytest.mark.django_db
def test_runs_list_filter_and_detail(admin_page, two_runs, django_assert_max_num_queries):
    good, bad = two_runs
    # session, user, count, filtered count, runs, date hierarchy (range, days)
    with django_assert_max_num_queries(7):
        response = admin_page.get(RUNS)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('href="/admin/payments/reconciliationrun/') >= 2
    assert 'alt="False"' in page and 'alt="True"' in page  # the ok column, with its text
    with django_assert_max_num_queries(7):
        failed_only = admin_page.get(RUNS, {"ok__exact": "0"})
    listed = failed_only.content.decode()
    assert f"/reconciliationrun/{bad.pk}/change/" in listed
    assert f"/reconciliationrun/{good.pk}/change/" not in listed

    # session, user, run, content type (history link), mismatches with accounts and people
    with django_assert_max_num_queries(5):
        detail = admin_page.get(reverse("admin:payments_reconciliationrun_change", args=[bad.pk]))
    text = text_of(detail)
    assert "王建国（3201**********123X）" in text and "李秀英" in text
    assert "4798.55" in text and "4788.55" in text and "10.00" in text and "-0.50" in text
    assert "查看本次全部2条不符记录" in text
    assert "32010219750312123X" not in text
    assert "保存" not in text and "删除" not in text  # read-only


@pytest.mark.django_db
def test_mismatches_list_by_run(admin_page, two_runs, django_assert_max_num_queries):
    _good, bad = two_runs
    # session, user, count, filtered count, mismatches with run, account and person, date
    # hierarchy (range, days)
    with django_assert_max_num_queries(7):
        response = admin_page.get(MISMATCHES, {"run__id__exact": bad.pk})
    assert response.status_code == 200
    text = text_of(response)
    assert "王建国" in text and "3201**********123X" in text and "10.00" in text
    assert "32010219750312123X" not in text
    mismatch = bad.mismatches.get(account__person__name="王建国")
    # session, user, mismatch with run, account and person, content type (history link)
    with django_assert_max_num_queries(5):
        detail = admin_page.get(
            reverse("admin:payments_reconciliationmismatch_change", args=[mismatch.pk])
        )
    assert "4798.55" in text_of(detail)


@pytest.mark.django_db
def test_nothing_is_added_changed_or_deleted_in_the_admin(admin_page, two_runs):
    _good, bad = two_runs
    mismatch = bad.mismatches.first()
    assert admin_page.get(reverse("admin:payments_reconciliationrun_add")).status_code == 403
    assert admin_page.get(reverse("admin:payments_reconciliationmismatch_add")).status_code == 403
    for name, pk in [("reconciliationrun", bad.pk), ("reconciliationmismatch", mismatch.pk)]:
        url = reverse(f"admin:payments_{name}_delete", args=[pk])
        assert admin_page.post(url, {"post": "yes"}).status_code == 403
        change = reverse(f"admin:payments_{name}_change", args=[pk])
        admin_page.post(change, {"ok": "on", "balance": "0"})
    assert ReconciliationRun.objects.get(pk=bad.pk).ok is False
    assert balance(bad.mismatches.get(account__person__name="王建国").account.person) == D(
        "4798.55"
    )


@pytest.mark.django_db
def test_the_index_warns_when_the_latest_run_found_mismatches(
    client, two_runs, django_assert_max_num_queries, time_machine
):
    index_at(client, time_machine, NOW + dt.timedelta(hours=1))
    # session, user, latest run (the app list and recent actions as before)
    with django_assert_max_num_queries(4):
        response = client.get(INDEX)
    page = response.content.decode()
    text = text_of(response)
    assert 'role="alert"' in page
    assert "警告：最近一次个人账户对账发现不符" in text
    assert "2026-11-23 10:00核对发现2个个人账户的余额与分录合计不符" in text
    assert "余额未作任何自动更正，请核查" in text
    assert reverse("admin:payments_reconciliationrun_change", args=[two_runs[1].pk]) in page
    assert "已超过" not in text


@pytest.mark.django_db
def test_the_index_says_all_is_well_or_that_no_run_happened(client, moved, time_machine):
    soon = NOW + dt.timedelta(hours=1)
    assert "尚未进行过个人账户对账" in text_of(index_at(client, time_machine, soon))
    run = services.ledger_reconcile(at=NOW)
    text = text_of(index_at(client, time_machine, soon))
    assert f"最近一次个人账户对账（2026-11-23 10:00）：{run.accounts_checked}个账户" in text
    assert "全部相符" in text and "警告" not in text and 'role="alert"' not in text
    # two days later without another run: the schedule has stopped, and staff are told
    later = text_of(index_at(client, time_machine, NOW + dt.timedelta(days=2)))
    assert "最近一次对账在2026-11-23 10:00，已超过36小时没有对账" in later


@pytest.mark.django_db
def test_staff_without_the_view_permission_see_no_reconciliation(client, two_runs):
    clerk = User.objects.get(username="js_clerk")
    for group in clerk.groups.all():  # the demo groups may view runs: take the right away
        group.permissions.remove(*group.permissions.filter(codename__in=["view_reconciliationrun"]))
    clerk = User.objects.get(pk=clerk.pk)  # no cached permissions
    client.force_login(clerk)
    response = client.get(INDEX)
    assert response.status_code == 200
    assert "个人账户对账" not in text_of(response)
    assert client.get(RUNS).status_code == 403
