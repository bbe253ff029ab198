"""Random sequences of the wallet's operations (R24, R25, R26, R27): send, accept, decline,
the return pass, a spend at a hospital of another region, a refund, the premium, the clearing
run. Whatever the sequence, refusals aside, the books agree to the fen afterwards: every wallet's
balance is the sum of its holdings and of its entries, each region's wallet-funds legs are its
holdings, the in-flight legs are the pending transfers, all clearing payables and receivables
sum to zero and each batch's lines to its amount, and the nightly reconciliation finds
nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import InsuredPerson
from payments.models import Institution, Settlement
from tests.clock import NOW
from tests.payments.builders import refund, settle
from tests.wallet.helpers import open_wallet
from tests.wallet.test_attacks import ONLINE, assert_books_agree
from wallet import services
from wallet.models import Transfer
from wallet.services import clearing

from .harness import rolled_back

pytestmark = pytest.mark.django_db

amounts = st.sampled_from(["0.01", "100.00", "399.99", "400.00", "1999.99", "2000.00"])
sends = st.tuples(st.just("send"), st.sampled_from(["王建国", "赵敏"]), amounts)
steps = st.lists(
    st.one_of(
        # a send, then often its answer: most sequences move money
        sends.map(lambda s: [s, ("accept",)]),
        sends.map(lambda s: [s]),
        st.tuples(st.just("accept")),
        st.tuples(st.just("decline")),
        st.tuples(st.just("return"), st.integers(0, 3)),
        st.tuples(st.just("spend"), st.sampled_from(["HZ-HOSP-001", "JS-HOSP-001"]), amounts),
        st.tuples(st.just("refund"), amounts),
        st.tuples(st.just("premium")),
        st.tuples(st.just("clear")),
    ),
    max_size=12,
).map(lambda plan: [step for item in plan for step in (item if isinstance(item, list) else [item])])


@settings(max_examples=25)
@given(plan=steps)
def test_any_sequence_keeps_the_books(demo, plan):
    with rolled_back():
        father = demo.people["王德胜"]  # 南京, resident: his premium, any province's money
        open_wallet(father, at=NOW - dt.timedelta(hours=1))
        at = NOW
        for n, step in enumerate(plan):
            at += dt.timedelta(minutes=7)
            with contextlib.suppress(ValidationError):  # a refusal moves nothing
                _do(step, n, father, at)
            assert_books_agree()


def _do(step, n, father, at):
    kind = step[0]
    pending = Transfer.objects.filter(wallet__person=father, status=Transfer.Status.PENDING)
    if kind == "send":
        sender = person_named(step[1])
        services.transfer_send(
            sender=sender, actor=sender.user, channel=ONLINE, recipient=father,
            relation="parent" if step[1] == "王建国" else "paternal_grandparent",
            amount=Decimal(step[2]), idempotency_key=f"s{n}", at=at,
        )  # fmt: skip
    elif kind in ("accept", "decline") and (transfer := pending.first()) is not None:
        call = services.transfer_accept if kind == "accept" else services.transfer_decline
        call(transfer=transfer, actor=father.user, channel=ONLINE, at=at)
    elif kind == "return":
        services.transfers_return_due(at=at + dt.timedelta(days=step[1]))
    elif kind == "spend":
        settle(Institution.objects.get(code=step[1]), father, step[2], at=at, key=f"p{n}")
    elif kind == "refund":
        last = Settlement.objects.filter(patient=father).order_by("-id").first()
        if last is not None:
            refund(last, step[1], key=f"r{n}", at=at)
    elif kind == "premium":
        services.wallet_premium_pay(
            person=father, year=2027, idempotency_key=f"m{n}", actor=father.user, at=at
        )
    elif kind == "clear":
        clearing.clearing_run(at=at + dt.timedelta(days=1))


def person_named(name):
    return InsuredPerson.objects.get(name=name)
