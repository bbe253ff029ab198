"""Transfers (R24, R25) through the services: the demo's wallet story up to the accept, every R24
limit refused with its own code and nothing changed, decline and the 06:00 return giving the
money back, idempotency keys, the ledger's legs and the audit trail.

State is the demo cast with balances (tests/demo.py): 王建国 (南京, employee, 5000.00) and his
mother 王秀兰 (杭州, resident) who opens her wallet here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry, Notification, RegionPolicy
from family.models import Relation
from payments.models import LedgerAccount, LedgerLeg, LedgerTransaction
from payments.services import ledger
from tests.clock import SHANGHAI
from tests.wallet import helpers
from wallet import errors, services
from wallet.models import Entry, Holding, Transfer, Wallet

ONLINE = AuditEntry.Channel.ONLINE
MORNING = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
Kind = LedgerAccount.Kind


def open_wallet(person):
    return helpers.open_wallet(person, at=MORNING - dt.timedelta(hours=1))


def send(sender, recipient, amount="500.00", *, key="k1", at=MORNING, relation=Relation.PARENT):
    transfer, _created = services.transfer_send(
        sender=sender,
        actor=sender.user,
        channel=ONLINE,
        recipient=recipient,
        relation=relation,
        amount=Decimal(amount),
        idempotency_key=key,
        at=at,
    )
    return transfer


def refused(call) -> str:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.code


def balance(person) -> Decimal:
    return LedgerAccount.objects.get(person=person).balance


def bureau_sum(kind, region_code) -> Decimal:
    total = LedgerLeg.objects.filter(
        account__kind=kind, account__region__code=region_code
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0.00")


@pytest.fixture
def story(demo_unbound):
    people = demo_unbound.people
    open_wallet(people["王秀兰"])
    return people["王建国"], people["王秀兰"]


@pytest.mark.django_db
class TestSend:
    def test_the_money_leaves_the_account_and_is_in_flight_on_neither_side(self, story):  # R24
        wang, mother = story
        transfer = send(wang, mother)
        assert transfer.status == Transfer.Status.PENDING
        assert transfer.owing_region.code == "320100" and transfer.sender_account.person == wang
        assert transfer.answer_by == dt.datetime(2026, 3, 3, 6, 0, tzinfo=SHANGHAI)  # R25
        assert balance(wang) == Decimal("4500.00")
        assert Wallet.objects.get(person=mother).balance == 0  # R25: not spendable yet
        assert bureau_sum(Kind.WALLET_IN_FLIGHT, "320100") == Decimal("500.00")
        assert transfer.send_transaction.kind == LedgerTransaction.Kind.TRANSFER_SEND
        audit = AuditEntry.objects.get(action="wallet.transfer_send")
        assert audit.person == wang and audit.after["amount"] == "500.00"
        notice = Notification.objects.get(kind=Notification.Kind.TRANSFER_RECEIVED)
        assert notice.recipient == mother and notice.params["amount"] == "500.00"

    def test_a_wrong_password_as_evidence_is_refused_first(self, story):  # R24
        wang, mother = story

        def call(evidence):
            return services.transfer_send(
                sender=wang,
                actor=wang.user,
                channel=ONLINE,
                recipient=mother,
                relation=Relation.PARENT,
                amount=Decimal("500.00"),
                idempotency_key="k1",
                at=MORNING,
                evidence=evidence,
            )

        assert refused(lambda: call("wrong")) == "transfer_verification_failed"
        assert refused(lambda: call("")) == "transfer_verification_failed"
        assert not Transfer.objects.exists() and balance(wang) == Decimal("5000.00")
        transfer, created = call(CITIZEN_PASSWORD)
        assert created and transfer.amount == Decimal("500.00")
        # a wrong one is refused even for a key already used: it learns nothing
        assert refused(lambda: call("wrong")) == "transfer_verification_failed"

    def test_the_same_key_again_returns_the_first_transfer(self, story):
        wang, mother = story
        first = send(wang, mother)
        again, created = services.transfer_send(
            sender=wang,
            actor=wang.user,
            channel=ONLINE,
            recipient=mother,
            relation=Relation.PARENT,
            amount=Decimal("500.00"),
            idempotency_key="k1",
            at=MORNING,
        )
        assert again == first and created is False
        assert Transfer.objects.count() == 1 and balance(wang) == Decimal("4500.00")

    def test_the_same_key_with_another_request_is_refused(self, story, demo_unbound):
        wang, mother = story
        send(wang, mother)
        assert refused(lambda: send(wang, mother, "499.00")) == "transfer_key_reused"
        father = demo_unbound.people["王德胜"]
        assert refused(lambda: send(wang, father)) == "transfer_key_reused"
        assert Transfer.objects.count() == 1 and balance(wang) == Decimal("4500.00")

    @pytest.mark.parametrize(
        ("amount", "code"),
        [
            ("0.00", "transfer_amount_not_positive"),
            ("-1.00", "transfer_amount_not_positive"),
            ("2000.01", "transfer_amount_too_large"),
            ("10.001", "transfer_amount_format"),
            ("NaN", "transfer_amount_format"),
        ],
    )
    def test_amount_limits(self, story, amount, code):  # R24
        wang, mother = story
        assert refused(lambda: send(wang, mother, amount)) == code
        assert not Transfer.objects.exists() and balance(wang) == Decimal("5000.00")

    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("-1", "transfer_amount_not_positive"),
            ("2000.01", "transfer_amount_too_large"),
            ("10.001", "transfer_amount_format"),
            ("１２", "transfer_amount_format"),  # full-width digits: Decimal() takes them
            ("1e3", "transfer_amount_format"),
            ("NaN", "transfer_amount_format"),
            ("", "transfer_amount_format"),
        ],
    )
    def test_an_amount_as_text_is_refused_not_raised_on(self, story, text, code):  # R24
        """Regression: text went to Decimal methods and raised AttributeError."""
        wang, mother = story
        call = lambda: services.transfer_send(  # noqa: E731
            sender=wang, actor=wang.user, channel=ONLINE, recipient=mother,
            relation=Relation.PARENT, amount=text, idempotency_key="t", at=MORNING,
        )  # fmt: skip
        assert refused(call) == code
        assert not Transfer.objects.exists() and balance(wang) == Decimal("5000.00")

    def test_an_amount_as_text_is_sent_as_typed(self, story):  # R24
        wang, mother = story
        transfer, _created = services.transfer_send(
            sender=wang, actor=wang.user, channel=ONLINE, recipient=mother,
            relation=Relation.PARENT, amount=" 500 ", idempotency_key="t", at=MORNING,
        )  # fmt: skip
        assert transfer.amount == Decimal("500.00") and balance(wang) == Decimal("4500.00")

    def test_2000_is_allowed(self, story):  # R24
        wang, mother = story
        assert send(wang, mother, "2000.00").amount == Decimal("2000.00")

    @pytest.mark.parametrize("hour,minute", [(22, 0), (23, 59), (0, 0), (5, 59)])
    def test_no_transfer_at_night(self, story, hour, minute):  # R24
        wang, mother = story
        at = dt.datetime(2026, 3, 2, hour, minute, tzinfo=SHANGHAI)
        assert refused(lambda: send(wang, mother, at=at)) == "transfer_night"
        assert not Transfer.objects.exists()

    def test_night_is_counted_in_shanghai_time_whatever_zone_the_instant_is_in(self, story):
        wang, mother = story
        utc_morning = dt.datetime(2026, 3, 2, 21, 30, tzinfo=dt.UTC)  # 05:30 in Shanghai
        assert refused(lambda: send(wang, mother, at=utc_morning)) == "transfer_night"
        assert send(wang, mother, at=dt.datetime(2026, 3, 2, 22, 0, tzinfo=dt.UTC)).pk

    def test_one_pending_at_a_time(self, story):  # R24
        wang, mother = story
        send(wang, mother)
        assert refused(lambda: send(wang, mother, key="k2")) == "transfer_pending"
        assert balance(wang) == Decimal("4500.00")

    def test_three_a_day_counting_declined_ones(self, story):  # R24
        wang, mother = story
        for n in range(3):
            transfer = send(wang, mother, "10.00", key=f"d{n}", at=MORNING + dt.timedelta(hours=n))
            services.transfer_decline(
                transfer=transfer, actor=mother.user, channel=ONLINE, at=transfer.sent_at
            )
        late = MORNING + dt.timedelta(hours=12)  # 21:00, the same day
        assert refused(lambda: send(wang, mother, "10.00", key="d3", at=late)) == (
            "transfer_daily_limit"
        )
        next_day = MORNING + dt.timedelta(days=1)
        assert send(wang, mother, "10.00", key="d4", at=next_day).pk

    def test_retained_floor_and_balance(self, story):  # R21, R24
        wang, mother = story
        RegionPolicy.objects.filter(code="320100").update(retained_floor=Decimal("4000.00"))
        wang.refresh_from_db()
        with pytest.raises(ValidationError) as info:
            send(wang, mother, "1000.01")
        assert info.value.code == "transfer_above_available"
        assert "1000.00" in info.value.messages[0] and "4000.00" in info.value.messages[0]
        assert send(wang, mother, "1000.00").pk

    def test_recipient_wallet_must_be_open(self, demo_unbound):  # R24
        wang, mother = demo_unbound.people["王建国"], demo_unbound.people["王秀兰"]
        assert refused(lambda: send(wang, mother)) == "transfer_wallet_not_open"
        open_wallet(mother)
        services.wallet_close(person=mother, actor=mother.user, channel=ONLINE)
        assert refused(lambda: send(wang, mother)) == "transfer_wallet_not_open"

    def test_who_may_send(self, story, demo_unbound):  # R24
        wang, mother = story
        people = demo_unbound.people
        assert refused(lambda: send(people["王丽"], mother)) == "transfer_sender_not_employee"
        assert refused(lambda: send(people["孙强"], mother)) == "transfer_sender_not_normal"
        assert refused(lambda: send(wang, wang)) == "transfer_to_self"
        assert refused(lambda: send(wang, mother, relation="friend")) == (
            "transfer_invalid_relation"
        )
        with pytest.raises(ValidationError) as info:
            services.transfer_send(
                sender=wang,
                actor=people["张伟"].user,
                channel=ONLINE,
                recipient=mother,
                relation=Relation.PARENT,
                amount=Decimal("1.00"),
                idempotency_key="x",
                at=MORNING,
            )
        assert info.value.code == "transfer_not_yours"
        assert not Transfer.objects.exists()

    def test_recipient_is_found_by_name_and_number_with_one_message(self, story):  # R24
        wang, mother = story
        found = services.transfer_recipient(
            sender=wang, name=" 王秀兰 ", id_number="330102195004182022"
        )
        assert found == mother
        for name, number in [("王秀", "330102195004182022"), ("王秀兰", "330102195004182023")]:
            with pytest.raises(ValidationError) as info:
                services.transfer_recipient(sender=wang, name=name, id_number=number)
            assert info.value.messages == [str(errors.TRANSFER_RECIPIENT_NOT_FOUND)]


@pytest.mark.django_db
class TestAnswer:
    def test_accept_puts_it_in_the_wallet_owed_by_the_senders_region(self, story):  # R25
        wang, mother = story
        transfer = send(wang, mother)
        at = MORNING + dt.timedelta(hours=1)
        services.transfer_accept(transfer=transfer, actor=mother.user, channel=ONLINE, at=at)
        transfer.refresh_from_db()
        assert transfer.status == Transfer.Status.ACCEPTED and transfer.finished_at == at
        wallet = Wallet.objects.get(person=mother)
        assert wallet.balance == Decimal("500.00")
        holding = Holding.objects.get(wallet=wallet)
        assert holding.region.code == "320100" and holding.balance == Decimal("500.00")
        entry = Entry.objects.get(wallet=wallet)
        assert entry.kind == Entry.Kind.TRANSFER_IN and entry.owing_region.code == "320100"
        assert bureau_sum(Kind.WALLET_IN_FLIGHT, "320100") == 0
        assert bureau_sum(Kind.WALLET_FUNDS, "320100") == Decimal("500.00")
        notice = Notification.objects.get(kind=Notification.Kind.TRANSFER_ACCEPTED)
        assert notice.recipient == wang
        # a second accept changes nothing
        services.transfer_accept(transfer=transfer, actor=mother.user, channel=ONLINE, at=at)
        assert Wallet.objects.get(person=mother).balance == Decimal("500.00")
        assert AuditEntry.objects.filter(action="wallet.transfer_accepted").count() == 1

    def test_only_the_recipient_answers(self, story, demo_unbound):  # R25
        wang, mother = story
        transfer = send(wang, mother)
        for actor in (wang.user, demo_unbound.people["张伟"].user):
            for call in (services.transfer_accept, services.transfer_decline):
                assert (
                    refused(
                        lambda call=call, actor=actor: call(
                            transfer=transfer, actor=actor, channel=ONLINE, at=MORNING
                        )
                    )
                    == "transfer_not_for_you"
                )
        assert Transfer.objects.get().status == Transfer.Status.PENDING

    def test_decline_gives_it_back(self, story):  # R25
        wang, mother = story
        transfer = send(wang, mother)
        services.transfer_decline(transfer=transfer, actor=mother.user, channel=ONLINE, at=MORNING)
        transfer.refresh_from_db()
        assert transfer.status == Transfer.Status.DECLINED
        assert balance(wang) == Decimal("5000.00")
        assert Wallet.objects.get(person=mother).balance == 0
        assert bureau_sum(Kind.WALLET_IN_FLIGHT, "320100") == 0
        assert Notification.objects.get(kind=Notification.Kind.TRANSFER_DECLINED).recipient == wang
        assert (
            refused(
                lambda: services.transfer_accept(
                    transfer=transfer, actor=mother.user, channel=ONLINE, at=MORNING
                )
            )
            == "transfer_not_pending"
        )

    def test_too_late_to_answer(self, story):  # R25
        wang, mother = story
        transfer = send(wang, mother)
        assert (
            refused(
                lambda: services.transfer_accept(
                    transfer=transfer, actor=mother.user, channel=ONLINE, at=transfer.answer_by
                )
            )
            == "transfer_answer_late"
        )

    def test_wallet_with_a_pending_transfer_does_not_close(self, story):  # R23
        wang, mother = story
        send(wang, mother)
        assert (
            refused(lambda: services.wallet_close(person=mother, actor=mother.user, channel=ONLINE))
            == "wallet_transfer_pending"
        )


@pytest.mark.django_db
class TestReturn:
    def test_unanswered_transfers_return_at_six_and_both_sides_are_told(self, story):  # R25
        wang, mother = story
        transfer = send(wang, mother)
        assert services.transfers_return_due(at=transfer.answer_by - dt.timedelta(seconds=1)) == 0
        assert services.transfers_return_due(at=transfer.answer_by) == 1
        transfer.refresh_from_db()
        assert transfer.status == Transfer.Status.RETURNED
        assert transfer.finish_transaction.kind == LedgerTransaction.Kind.TRANSFER_RETURN
        assert balance(wang) == Decimal("5000.00")
        leg = LedgerLeg.objects.get(transaction=transfer.finish_transaction, account__person=wang)
        assert leg.balance_after == Decimal("5000.00")
        told = Notification.objects.filter(kind=Notification.Kind.TRANSFER_RETURNED)
        assert {n.recipient for n in told} == {wang, mother}
        audit = AuditEntry.objects.get(action="wallet.transfer_returned")
        assert audit.channel == AuditEntry.Channel.SYSTEM and audit.before["status"] == "pending"
        # twice, or late: nothing more
        assert services.transfers_return_due(at=transfer.answer_by + dt.timedelta(days=3)) == 0
        assert balance(wang) == Decimal("5000.00")

    def test_a_late_run_returns_everything_overdue_in_batches(self, demo_unbound):
        people = demo_unbound.people
        senders = [people[n] for n in ("王建国", "李秀英", "张伟", "赵敏")]
        mother = people["王秀兰"]
        open_wallet(mother)
        for n, sender in enumerate(senders):
            send(sender, mother, "100.00", key=f"r{n}", at=MORNING + dt.timedelta(minutes=n))
        returned = services.transfers_return_due(at=MORNING + dt.timedelta(days=2), batch_size=3)
        assert returned == 4
        assert not Transfer.objects.filter(status=Transfer.Status.PENDING).exists()
        assert [balance(s) for s in senders] == [
            Decimal("5000.00"), Decimal("3200.00"), Decimal("800.00"), Decimal("2000.00")
        ]  # fmt: skip
        assert (
            ledger.LedgerLeg.objects.filter(account__kind=Kind.WALLET_IN_FLIGHT).aggregate(
                total=Sum("amount")
            )["total"]
            == 0
        )
