"""The wallet services (R23): open (确认使用钱包) and close, each refusal with its own code,
reopening the same row, the audit trail (R20) and a double open racing on real transactions.

State is the demo cast (tests/demo.py): 王建国 is a normal employee in 南京 (320100), whose policy
offers the wallet; 孙强 has transferred out."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import AuditEntry, RegionPolicy
from tests.threads import run_together
from wallet import errors, selectors, services
from wallet.models import Wallet

ONLINE = AuditEntry.Channel.ONLINE
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def open_for(person, *, place=True, phone=True, at=None, actor=None):
    return services.wallet_open(
        person=person,
        actor=actor or person.user,
        channel=ONLINE,
        confirm_place=place,
        confirm_phone=phone,
        at=at,
    )


def close_for(person, *, at=None):
    return services.wallet_close(person=person, actor=person.user, channel=ONLINE, at=at)


def refused(call) -> tuple[str, str]:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.code, info.value.messages[0]


@pytest.mark.django_db
class TestOpen:
    def test_a_normal_person_in_a_wallet_region_opens_their_wallet(self, demo_accounts):  # R23
        wang = demo_accounts["王建国"]
        wallet = open_for(wang, at=AT)
        assert wallet.status == Wallet.Status.OPEN
        assert wallet.balance == Decimal("0.00")
        assert wallet.opened_at == AT and wallet.closed_at is None
        assert selectors.wallet_for_person(person=wang) == wallet
        entry = AuditEntry.objects.get(action="wallet.open")
        assert entry.person == wang and entry.actor == wang.user and entry.channel == ONLINE
        assert entry.object_id == str(wallet.public_id)
        assert entry.before is None and entry.after["status"] == "open"

    def test_refused_when_the_region_does_not_offer_wallets(self, demo_accounts):  # R23
        wang = demo_accounts["王建国"]
        RegionPolicy.objects.filter(code="320100").update(wallet_enabled=False)
        wang.refresh_from_db()
        code, message = refused(lambda: open_for(wang))
        assert (code, message) == ("wallet_not_offered", str(errors.WALLET_NOT_OFFERED))
        assert (
            not Wallet.objects.exists()
            and not AuditEntry.objects.filter(action__startswith="wallet.").exists()
        )

    def test_refused_when_the_person_is_not_in_normal_status(self, demo_accounts):  # R23
        sun = demo_accounts["孙强"]
        assert sun.status != "normal" and sun.region.wallet_enabled
        code, message = refused(lambda: open_for(sun))
        assert (code, message) == (
            "wallet_person_not_normal",
            str(errors.WALLET_PERSON_NOT_NORMAL),
        )
        assert not Wallet.objects.exists()

    def test_refused_when_already_open(self, demo_accounts):  # R23
        wang = demo_accounts["王建国"]
        open_for(wang)
        code, message = refused(lambda: open_for(wang))
        assert (code, message) == ("wallet_already_open", str(errors.WALLET_ALREADY_OPEN))
        assert Wallet.objects.count() == 1
        assert AuditEntry.objects.filter(action="wallet.open").count() == 1

    @pytest.mark.parametrize(
        ("place", "phone", "code"),
        [
            (False, True, "wallet_place_not_confirmed"),
            (True, False, "wallet_phone_not_confirmed"),
            (False, False, "wallet_place_not_confirmed"),
        ],
    )
    def test_refused_without_both_confirmations(self, demo_accounts, place, phone, code):  # R23
        wang = demo_accounts["王建国"]
        assert refused(lambda: open_for(wang, place=place, phone=phone))[0] == code
        assert not Wallet.objects.exists()

    def test_online_only_the_person_themselves(self, demo_accounts):  # R23
        wang, li = demo_accounts["王建国"], demo_accounts["李秀英"]
        code, _message = refused(lambda: open_for(wang, actor=li.user))
        assert code == "wallet_not_yours"
        assert not Wallet.objects.exists()

    def test_every_region_of_the_demo_offers_the_wallet(self, demo_accounts):  # R23
        codes = set(RegionPolicy.objects.filter(wallet_enabled=True).values_list("code", flat=True))
        assert codes == {"320100", "320200", "330100", "659004"}


@pytest.mark.django_db
class TestClose:
    def test_an_empty_wallet_closes_and_reopens_as_the_same_row(self, demo_accounts):  # R23
        wang = demo_accounts["王建国"]
        opened = open_for(wang, at=AT)
        closed = close_for(wang, at=AT + dt.timedelta(days=1))
        assert closed.pk == opened.pk and closed.status == Wallet.Status.CLOSED
        assert closed.closed_at == AT + dt.timedelta(days=1)
        entry = AuditEntry.objects.get(action="wallet.close")
        assert entry.before["status"] == "open" and entry.after["status"] == "closed"
        assert entry.person == wang

        again = open_for(wang, at=AT + dt.timedelta(days=2))
        assert again.pk == opened.pk and again.public_id == opened.public_id
        assert again.is_open and again.closed_at is None
        assert Wallet.objects.count() == 1
        reopen = AuditEntry.objects.filter(action="wallet.open").order_by("pk").last()
        assert reopen.before["status"] == "closed" and reopen.after["status"] == "open"

    def test_refused_when_never_opened_or_already_closed(self, demo_accounts):  # R23
        wang = demo_accounts["王建国"]
        assert refused(lambda: close_for(wang)) == ("wallet_not_open", str(errors.WALLET_NOT_OPEN))
        open_for(wang)
        close_for(wang)
        assert refused(lambda: close_for(wang))[0] == "wallet_not_open"
        assert AuditEntry.objects.filter(action="wallet.close").count() == 1

    def test_refused_unless_empty(self, demo_accounts):  # R23
        wang = demo_accounts["王建国"]
        wallet = open_for(wang)
        Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal("0.01"))
        assert refused(lambda: close_for(wang)) == (
            "wallet_not_empty",
            str(errors.WALLET_NOT_EMPTY),
        )
        wallet.refresh_from_db()
        assert wallet.is_open
        assert not AuditEntry.objects.filter(action="wallet.close").exists()

    def test_the_database_refuses_a_negative_balance(self, demo_accounts):  # R23
        wallet = open_for(demo_accounts["王建国"])
        with (
            pytest.raises(IntegrityError, match="wallet_r23_balance_not_negative"),
            transaction.atomic(),
        ):
            Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal("-0.01"))

    def test_the_database_keeps_one_wallet_per_person(self, demo_accounts):  # R23
        wang = demo_accounts["王建国"]
        open_for(wang)
        with pytest.raises(IntegrityError), transaction.atomic():
            Wallet.objects.create(person=wang, opened_at=AT)


@pytest.mark.django_db(transaction=True)
def test_a_double_open_racing_on_two_connections_opens_one_wallet(demo_transactional):  # R23
    wang = demo_transactional["王建国"]
    for _round in range(3):
        outcomes = run_together(
            lambda: open_for(wang), lambda: open_for(wang), refused=lambda exc: exc.code
        )
        kinds = sorted(kind for kind, _value in outcomes)
        assert kinds == ["ok", "refused"], outcomes
        assert next(v for k, v in outcomes if k == "refused") == "wallet_already_open"
        assert Wallet.objects.filter(person=wang).count() == 1
        assert Wallet.objects.get(person=wang).is_open
        close_for(wang)  # the next round reopens the same row
    assert AuditEntry.objects.filter(action="wallet.open").count() == 3


@pytest.mark.django_db
def test_the_migration_turns_the_wallet_on_for_the_demo_regions_it_finds(demo_accounts):  # R23
    """accounts/migrations/0008 on a database with some of the demo regions and another one:
    those it names are turned on, the others stay off (a fresh migrate has 320100 and 659004;
    seed_demo creates the other two with the wallet on, so both paths agree)."""
    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0008_region_wallet_enabled")
    RegionPolicy.objects.update(wallet_enabled=False)
    other = RegionPolicy.objects.create(code="110100", name="北京市")
    migration.wallets_on(apps, None)
    on = set(RegionPolicy.objects.filter(wallet_enabled=True).values_list("code", flat=True))
    assert on == set(migration.DEMO_WALLET_REGIONS) == {"320100", "320200", "330100", "659004"}
    other.refresh_from_db()
    assert not other.wallet_enabled
