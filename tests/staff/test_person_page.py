"""The staff person page (issue 6): content, masking, region scope, and a constant number of
queries whatever the number of relationships, members, letters and entries.

The demo cast (`demo`, tests/conftest.py) through Django's test client on PostgreSQL; more state
is added through the real services, never through the ORM."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
from accounts.staff import ADMINISTRATOR
from family import services
from family.demo import desheng_end
from family.models import Relation
from payments.services import account_credit
from tests.factories import StaffUserFactory, make_id_number

# 王德胜's window end as the seed set it today, as pages show it (Asia/Shanghai).
DESHENG_END_SHOWN = f"{desheng_end():%Y-%m-%d %H:%M}"

COUNTER = AuditEntry.Channel.COUNTER
# The whole page: session, user, the user's regions, the user's and the groups' permissions,
# the person, the balance, the held relationships and their authorizations, the authorizations
# as member, the letters, the ledger entries, the audit entries; the wallet panel's wallet, its
# holdings and the recent transfers (R23, wallet.selectors.staff.wallet_panel).
PERSON_PAGE_QUERIES = 16
_seq = itertools.count(600)


def page_url(person) -> str:
    return reverse("staff:person", args=[person.public_id])


def _html(response) -> str:
    return response.content.decode()


def _register_child(region, name):
    """A resident-scheme child (under 16: joins without consent, R8) registered by the bureau."""
    return account_services.insured_person_register(
        name=name,
        id_number=make_id_number(region.code, dt.date(2015, 5, 5), seq=next(_seq)),
        phone="13900000000",
        region=region,
        scheme=InsuredPerson.Scheme.RESIDENT,
        actor=None,
        channel=AuditEntry.Channel.SYSTEM,
    )


def _grow(demo, holder, *, members=3, credits=5):
    """More members (each through a new signed letter), more ledger entries, more audit rows."""
    clerk = demo.staff["js_clerk"]
    start = timezone.now() + dt.timedelta(minutes=5)
    for i in range(members):
        child = _register_child(holder.region, f"王新{i}")
        services.relationship_bind(
            holder=holder,
            members=[services.MemberRequest(child, Relation.CHILD, start, None)],
            signature=services.Signature(name=holder.name),
            actor=clerk,
            channel=COUNTER,
        )
    for i in range(credits):
        account_credit(
            person=holder,
            amount=Decimal("10.00"),
            idempotency_key=f"test-staff-page:{holder.pk}:{i}",
            description="单位缴费划入",
            actor=None,
        )


def test_person_page_shows_status_account_relationships_letters_entries_and_audit(client, demo):
    wang = demo["王建国"]
    client.force_login(demo.staff["js_clerk"])
    response = client.get(page_url(wang))
    assert response.status_code == 200
    page = _html(response)
    assert "王建国" in page
    assert wang.masked_id_number in page
    assert "南京市（320100）" in page
    assert "职工医保" in page
    assert "正常参保" in page
    assert "5000.00元" in page
    assert "138****0001" in page and "13800000001" not in page
    assert "已激活" in page
    # relationships as holder: both members with their relation, window and a revoke button
    assert "王小明" in page and "王德胜" in page
    assert DESHENG_END_SHOWN in page  # 王德胜's window end, Asia/Shanghai
    assert reverse("staff:relationship-end", args=[wang.relationships_held.get().public_id]) in page
    for authorization in wang.authorizations_given.all():
        assert reverse("staff:authorization-revoke", args=[authorization.public_id]) in page
    # the letter and the audit history
    letter = wang.letters_signed.get()
    assert letter.verification_code in page
    assert "relationship.create" in page
    # the status-change action and the place of the counter binding button
    assert reverse("staff:person-status", args=[wang.public_id]) in page
    # no full identity number anywhere
    for person in demo.people.values():
        assert person.id_number not in page


def test_member_page_shows_holders_in_order_with_a_link_to_set_it(client, demo):
    xiaoyan = demo["马小燕"]
    client.force_login(demo.staff["xj_clerk"])
    page = _html(client.get(page_url(xiaoyan)))
    assert page.index("马志强") < page.index("古丽娜")
    assert "第1位" in page and "第2位" in page
    assert reverse("staff:member-order", args=[xiaoyan.public_id]) in page
    assert reverse("staff:premium-counter", args=[xiaoyan.public_id]) in page
    assert "无个人账户" in page


def test_a_member_of_another_region_is_named_but_not_linked(client, demo):
    """R3 (province scope): a 苏州 (320500) child may be bound by 王建国 (320100); js_clerk
    (320100, 320200) sees the child's name and masked number on 王建国's page but no link to a
    person page they may not open."""
    wang = demo["王建国"]
    suzhou = RegionPolicy.objects.create(code="320500", name="苏州市")  # reference data
    child = _register_child(suzhou, "王远")
    services.relationship_bind(
        holder=wang,
        members=[services.MemberRequest(child, Relation.CHILD, None, None)],
        signature=services.Signature(name=wang.name),
        actor=demo.staff["js_clerk"],
        channel=COUNTER,
    )
    client.force_login(demo.staff["js_clerk"])
    page = _html(client.get(page_url(wang)))
    assert "王远" in page and child.masked_id_number in page
    assert child.id_number not in page
    assert reverse("staff:person", args=[child.public_id]) not in page
    assert reverse("staff:person", args=[demo["王小明"].public_id]) in page
    assert client.get(page_url(child)).status_code == 404


@pytest.mark.parametrize(
    ("username", "name"), [("xj_clerk", "王建国"), ("js_clerk", "马志强"), ("js_super", "马小燕")]
)
def test_a_person_of_another_region_is_a_404(client, demo, username, name):
    client.force_login(demo.staff[username])
    assert client.get(page_url(demo[name])).status_code == 404


def test_a_citizen_gets_403_and_an_anonymous_visitor_the_staff_login(client, demo):
    wang = demo["王建国"]
    response = client.get(page_url(wang))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    client.force_login(wang.user)
    assert client.get(page_url(wang)).status_code == 403


def test_the_superuser_sees_every_region(client, demo):
    """admin is a superuser: the page shows every region's people."""
    client.force_login(demo.staff["admin"])
    assert client.get(page_url(demo["马志强"])).status_code == 200
    assert client.get(page_url(demo["王建国"])).status_code == 200


def test_the_administrator_role_reads_the_page_without_counter_buttons(client, demo):
    """The 管理员 group reads persons but has none of the counter-work permissions."""
    user = StaffUserFactory(username="ref_admin")
    user.save()  # the factory sets the password without saving it
    user.groups.set([Group.objects.get(name=ADMINISTRATOR)])
    user.regions.set(demo.staff["js_clerk"].regions.all())
    wang = demo["王建国"]
    client.force_login(user)
    response = client.get(page_url(wang))
    assert response.status_code == 200
    page = _html(response)
    assert "王小明" in page
    assert "/revoke/" not in page and "/end/" not in page
    assert reverse("staff:person-status", args=[wang.public_id]) not in page


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_person_page_runs_a_constant_number_of_queries(client, demo):
    """Acceptance of issue 6: the same count with the demo data and after three more members,
    three more letters, five more ledger entries and their audit rows."""
    wang = demo["王建国"]
    client.force_login(demo.staff["js_clerk"])
    url = page_url(wang)
    client.get(url)  # warm anything lazily cached per process (content types)
    before = _count(client, url)
    assert before == PERSON_PAGE_QUERIES
    _grow(demo, wang)
    html = _html(client.get(url))
    assert all(f"王新{i}" in html for i in range(3))
    assert wang.letters_signed.count() == 4
    after = _count(client, url)
    assert after == before


def test_the_member_page_query_count_does_not_grow_with_holders(
    client, demo, django_assert_max_num_queries
):
    xiaoyan = demo["马小燕"]
    client.force_login(demo.staff["xj_clerk"])
    url = page_url(xiaoyan)
    client.get(url)
    with django_assert_max_num_queries(PERSON_PAGE_QUERIES):
        client.get(url)
