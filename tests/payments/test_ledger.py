"""The ledger's guarantees (issue 4 point 1): legs sum to zero at commit, append-only rows, no
negative personal balance, the cached balance equal to the legs, idempotent credits."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import AuditEntry, InsuredPerson
from family import errors as family_errors
from family import selectors as family_selectors
from family import services as family_services
from payments import services
from payments.models import LedgerAccount, LedgerLeg, LedgerTransaction, SettlementLine
from payments.services import ledger
from tests.clock import NOW
from tests.factories import InsuredPersonFactory, make_id_number
from tests.payments.builders import balance, legs_total, settle

pytestmark = pytest.mark.django_db


def test_demo_balances_are_credits_in_the_ledger(demo):
    for name, expected in [("王建国", "5000.00"), ("马志强", "1200.00"), ("古丽娜", "800.00")]:
        assert balance(demo[name]) == Decimal(expected)
        assert legs_total(demo[name]) == Decimal(expected)
    # residents have no personal account
    assert not LedgerAccount.objects.filter(person=demo["王小明"]).exists()


def test_a_credit_is_two_legs_summing_to_zero_and_is_audited(demo):
    zhang = demo["张伟"]
    entry = services.account_credit(
        person=zhang,
        amount=Decimal("120.55"),
        idempotency_key="credit-2026-11-zhang",
        description="2026-11 单位缴费划入",
        actor=None,
        channel=AuditEntry.Channel.SYSTEM,
    )
    amounts = sorted(entry.legs.values_list("amount", flat=True))
    assert amounts == [Decimal("-120.55"), Decimal("120.55")]
    assert balance(zhang) == Decimal("920.55") == legs_total(zhang)
    assert AuditEntry.objects.filter(action="account.credit", person=zhang).count() == 2


def test_a_credit_replayed_with_its_key_is_paid_once(demo):
    zhang = demo["张伟"]
    for _ in range(3):
        services.account_credit(
            person=zhang,
            amount=Decimal("10.00"),
            idempotency_key="same-key",
            description="x",
            actor=None,
        )
    assert balance(zhang) == Decimal("810.00")


def test_a_resident_has_no_personal_account(demo):
    with pytest.raises(ValidationError) as exc:
        ledger.personal_account_for(demo["王小明"])
    assert exc.value.code == "no_personal_account"


def _raw_unbalanced_transaction(account):
    entry = LedgerTransaction.objects.create(
        kind=LedgerTransaction.Kind.CREDIT,
        description="unbalanced",
        occurred_at=NOW,
        idempotency_key="raw-unbalanced",
    )
    LedgerLeg.objects.create(transaction=entry, account=account, amount=Decimal("5.00"))


def test_legs_that_do_not_sum_to_zero_are_refused_at_commit(demo):
    account = LedgerAccount.objects.get(person=demo["张伟"])
    with pytest.raises(IntegrityError, match="sum to"), transaction.atomic():
        _raw_unbalanced_transaction(account)
        # The trigger is deferred to commit; the test's own transaction never commits, so
        # ask PostgreSQL to check now, as COMMIT would.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_the_python_side_refuses_unbalanced_legs_too(demo):
    account = LedgerAccount.objects.get(person=demo["张伟"])
    with pytest.raises(ValidationError) as exc, transaction.atomic():
        locked = ledger.accounts_lock([account.pk])
        ledger.transaction_post(
            kind=LedgerTransaction.Kind.CREDIT,
            description="x",
            occurred_at=NOW,
            idempotency_key="py-unbalanced",
            legs=[(locked[account.pk], Decimal("1.00"))],
        )
    assert exc.value.code == "unbalanced"


@pytest.mark.parametrize("model", [LedgerLeg, LedgerTransaction, SettlementLine])
def test_ledger_rows_cannot_be_updated_or_deleted(demo, institutions, model):
    settle(institutions["JS-HOSP-001"], demo["王小明"], "10.00")
    row = model.objects.first()
    field = "description" if model is LedgerTransaction else "amount"
    value = "changed" if model is LedgerTransaction else Decimal("1.00")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field: value})
    # Raw SQL: past Django's own PROTECT checks, straight to the trigger.
    sql = f"DELETE FROM {model._meta.db_table} WHERE id = %s"  # noqa: S608 (our table names)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [row.pk])


def test_a_personal_balance_can_never_be_negative_in_the_database(demo):
    account = LedgerAccount.objects.get(person=demo["张伟"])
    with (
        pytest.raises(IntegrityError, match="ledgeraccount_personal_not_negative"),
        transaction.atomic(),
    ):
        LedgerAccount.objects.filter(pk=account.pk).update(balance=Decimal("-0.01"))


def test_a_debit_above_the_balance_is_refused_before_the_database(demo):
    account = LedgerAccount.objects.get(person=demo["张伟"])
    source = ledger.bureau_account(LedgerAccount.Kind.INSTITUTION_PAYABLE, account.region_id)
    with pytest.raises(ValidationError) as exc, transaction.atomic():
        locked = ledger.accounts_lock([account.pk])
        ledger.transaction_post(
            kind=LedgerTransaction.Kind.SETTLEMENT,
            description="x",
            occurred_at=NOW,
            idempotency_key="too-much",
            legs=[(locked[account.pk], Decimal("-800.01")), (source, Decimal("800.01"))],
        )
    assert exc.value.code == "insufficient_balance"
    assert balance(demo["张伟"]) == Decimal("800.00")


def test_holder_without_a_balance_cannot_set_up_with_the_real_ledger(demo):  # R2
    newcomer = InsuredPersonFactory(
        name="钱新",
        region=demo["王建国"].region,
        id_number=make_id_number("320100", NOW.date().replace(year=1990), 901),
        scheme=InsuredPerson.Scheme.EMPLOYEE,
    )
    request = family_services.MemberRequest(demo["王丽"], "child", None, None)
    with pytest.raises(ValidationError) as exc:
        family_selectors.bind_check(holder=newcomer, members=[request], at=NOW)
    assert exc.value.messages == [str(family_errors.HOLDER_NO_BALANCE)]
