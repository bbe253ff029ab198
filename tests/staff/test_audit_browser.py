"""The audit-trail browser and its CSV export (issue 6 point 3, R20): filters, region scope,
masking, formula injection, the export's own audit entry, access and query counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts import idnumber
from accounts.audit_views import FILTERS_IN_URL
from accounts.fields import DATE_OUT_OF_RANGE
from accounts.forms import AUDIT_DATES_REVERSED, AUDIT_FILTERS_INVALID
from accounts.models import AuditEntry, User
from accounts.services import audit_record
from accounts.staff import SUPERVISOR
from family import services as family_services
from family.models import Authorization

SHANGHAI = ZoneInfo("Asia/Shanghai")
AUDIT = reverse("staff:audit")
EXPORT = reverse("staff:audit-export")
COUNTER = AuditEntry.Channel.COUNTER

pytestmark = pytest.mark.django_db


def _token(client, params) -> str:
    """The filters as staff send them: POSTed, then kept under a token (issue 13 point 15)."""
    posted = client.post(AUDIT, params)
    if posted.status_code == 200:  # the form refused them: no token
        return ""
    assert posted.status_code == 302, posted
    return posted["Location"].split("?s=", 1)[1]


def page(client, user, **params):
    client.force_login(user)
    if not params:
        response = client.get(AUDIT)
    else:
        token = _token(client, params)
        response = client.get(AUDIT, {"s": token}) if token else client.post(AUDIT, params)
    assert response.status_code == 200
    return response


def page_actions(response) -> list[str]:
    return [row.entry.action for row in response.context["rows"]]


def page_people(response) -> set[str]:
    return {row.person.name for row in response.context["rows"] if row.person}


def export(client, user, **params) -> tuple[object, str]:
    client.force_login(user)
    response = client.get(EXPORT, {"s": _token(client, params)} if params else {})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    return response, body


def csv_rows(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def note(person, *, actor=None, action="test.note", channel=COUNTER, before=None, after=None):
    """One audit entry about `person`, written by the real `audit_record`."""
    return audit_record(
        actor=actor,
        channel=channel,
        action=action,
        obj=person,
        person=person,
        before=before,
        after=after if after is not None else {"note": "x"},
    )


def supervisor(username: str, *regions) -> User:
    user = User.objects.create_user(username=username, password="x", is_staff=True)
    user.groups.set([Group.objects.get(name=SUPERVISOR)])
    user.regions.set(regions)
    return user


# --- access -----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_staff_login(client, demo):
    for url in (AUDIT, EXPORT):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_a_citizen_gets_403_on_the_browser_and_the_export(client, demo):
    client.force_login(demo["王建国"].user)
    assert client.get(AUDIT).status_code == 403
    assert client.get(EXPORT).status_code == 403


def test_a_clerk_browses_but_may_not_export(client, demo):
    response = page(client, demo.staff["js_clerk"])
    assert response.context["can_export"] is False
    assert reverse("staff:audit-export") not in response.content.decode()
    assert client.get(EXPORT).status_code == 403
    assert not AuditEntry.objects.filter(action="audit.export").exists()


# --- region scope (acceptance: region A sees nothing of region B) -------------------------------


def test_js_clerk_never_sees_a_659004_persons_entries(client, demo):
    ma = demo["马志强"]
    response = page(client, demo.staff["js_clerk"])
    assert page_people(response) and all(
        row.person.region.code.startswith("32") for row in response.context["rows"]
    )
    assert "马志强" not in response.content.decode()

    # Not even asking for him by his identity number or his name.
    for query in (ma.id_number, "马志强"):
        response = page(client, demo.staff["js_clerk"], person=query)
        assert response.context["rows"] == []
        content = response.content.decode()
        assert ma.masked_id_number not in content
        assert content.count("马志强") == (query == "马志强")  # only what was typed, echoed


def test_xj_clerk_sees_only_659004_entries(client, demo):
    wang = demo["王建国"]
    response = page(client, demo.staff["xj_clerk"])
    assert page_people(response) <= {"马志强", "古丽娜", "马小燕", "马俊"}
    assert "马志强" in page_people(response)
    response = page(client, demo.staff["xj_clerk"], person=wang.id_number)
    assert response.context["rows"] == []
    assert "王建国" not in response.content.decode()
    assert wang.masked_id_number not in response.content.decode()


def test_entries_without_a_person_are_for_superusers_only(client, demo):
    audit_record(
        actor=demo.staff["admin"],
        channel=AuditEntry.Channel.ADMIN,
        action="test.global",
        obj=demo.staff["admin"],
    )
    assert "test.global" not in page_actions(page(client, demo.staff["js_super"]))
    assert "test.global" in page_actions(page(client, demo.staff["admin"]))


def test_action_choices_are_the_actions_in_the_users_own_entries(client, demo):
    note(demo["马志强"], action="test.xinjiang_only")
    response = page(client, demo.staff["js_clerk"], action="test.xinjiang_only")
    assert "action" in response.context["form"].errors
    assert response.context["rows"] is None
    choices = dict(response.context["form"].fields["action"].choices)
    assert "test.xinjiang_only" not in choices
    assert "relationship.create" in choices


# --- filters ----------------------------------------------------------------------------------


def test_filter_by_identity_number_finds_that_persons_entries_only(client, demo):
    wang = demo["王建国"]
    response = page(client, demo.staff["js_clerk"], person=wang.id_number.lower())  # 123x
    assert response.context["rows"]
    assert {row.person.pk for row in response.context["rows"]} == {wang.pk}


def test_filter_by_name_beginning(client, demo):
    response = page(client, demo.staff["js_clerk"], person="王德")
    assert page_people(response) == {"王德胜"}


def test_filter_by_staff_username(client, demo):
    wang = demo["王建国"]
    note(wang, actor=demo.staff["js_clerk"], action="test.by_clerk")
    note(wang, actor=demo.staff["js_super"], action="test.by_super")
    response = page(client, demo.staff["js_super"], username="js_clerk")
    assert page_actions(response) == ["test.by_clerk"]
    assert response.context["rows"][0].actor == "js_clerk"


def test_filter_by_action_and_by_channel(client, demo):
    wang = demo["王建国"]
    note(wang, action="test.counter", channel=COUNTER)
    note(wang, action="test.system", channel=AuditEntry.Channel.SYSTEM)
    response = page(client, demo.staff["js_clerk"], action="test.system")
    assert page_actions(response) == ["test.system"]
    response = page(client, demo.staff["js_clerk"], channel="counter")
    assert page_actions(response) == ["test.counter"]
    assert response.context["rows"][0].actor == "系统"


def test_filter_by_local_dates_inclusive(client, demo):
    wang = demo["王建国"]
    moments = {
        "test.oct31_late": dt.datetime(2026, 10, 31, 23, 59, tzinfo=SHANGHAI),
        "test.nov1_early": dt.datetime(2026, 11, 1, 0, 5, tzinfo=SHANGHAI),  # Oct 31 in UTC
        "test.nov2_late": dt.datetime(2026, 11, 2, 23, 59, tzinfo=SHANGHAI),
        "test.nov3_early": dt.datetime(2026, 11, 3, 0, 1, tzinfo=SHANGHAI),
    }
    for action, moment in moments.items():
        with time_machine.travel(moment, tick=False):
            note(wang, action=action)
    response = page(client, demo.staff["js_clerk"], date_from="2026-11-01", date_to="2026-11-02")
    assert page_actions(response) == ["test.nov2_late", "test.nov1_early"]
    response = page(client, demo.staff["js_clerk"], date_from="2026-11-03", action="")
    assert "test.nov3_early" in page_actions(response)
    assert "test.nov2_late" not in page_actions(response)


def test_a_malformed_identity_number_is_a_message_not_an_error(client, demo):
    bad = demo["王建国"].id_number[:17] + "1"  # wrong check digit
    response = page(client, demo.staff["js_clerk"], person=bad)
    form = response.context["form"]
    assert form.errors["person"] == [str(idnumber.ID_CHECK_DIGIT)]
    assert response.context["rows"] is None
    content = response.content.decode()
    assert str(AUDIT_FILTERS_INVALID) in content
    assert str(idnumber.ID_CHECK_DIGIT) in content


def test_dates_in_the_wrong_order_are_a_message(client, demo):
    response = page(client, demo.staff["js_clerk"], date_from="2026-11-02", date_to="2026-11-01")
    assert response.context["form"].errors["date_to"] == [str(AUDIT_DATES_REVERSED)]
    assert str(AUDIT_DATES_REVERSED) in response.content.decode()
    response = page(client, demo.staff["js_clerk"], date_from="2026-13-45")
    assert "date_from" in response.context["form"].errors


# --- what the page shows -----------------------------------------------------------------------


def test_rows_show_masked_numbers_and_a_diff_of_changed_keys(client, demo):
    wang = demo["王建国"]
    note(
        wang,
        action="test.diff",
        before={"status": "normal", "phone": "13800000001", "same": 1},
        after={"status": "suspended", "phone": "13800000001", "same": 1,
               "memo": f"证件 {wang.id_number} 已核验"},
    )  # fmt: skip
    response = page(client, demo.staff["js_clerk"], action="test.diff")
    (row,) = response.context["rows"]
    assert [(c.key, c.before, c.after) for c in row.diff.changes] == [
        ("status", "normal", "suspended"),
        ("memo", "—", "证件 3201**********123X 已核验"),
    ]
    content = response.content.decode()
    assert wang.id_number not in content
    assert wang.masked_id_number in content
    assert "王建国" in content


def test_no_page_shows_a_whole_identity_number(client, demo):
    content = page(client, demo.staff["admin"]).content.decode()
    for person in demo.people.values():
        assert person.id_number not in content


# --- CSV export --------------------------------------------------------------------------------


def test_the_export_is_a_utf8_csv_with_bom_and_masked_numbers(client, demo):
    response, body = export(client, demo.staff["js_super"])
    assert response["Content-Type"].startswith("text/csv")
    today = dt.datetime.now(SHANGHAI).strftime("%Y%m%d")
    assert response["Content-Disposition"] == f'attachment; filename="audit-{today}.csv"'
    assert body.startswith("\ufeff时间,操作人,渠道,操作,操作代码,对象,参保人,变更内容")
    rows = csv_rows(body)
    assert len(rows) > 5
    for person in demo.people.values():
        assert person.id_number not in body
        assert person.phone not in body  # phones in the registration diffs are masked too
    assert any("3201**********123X" in r[6] for r in rows[1:])
    assert any("138****0001" in r[7] for r in rows[1:])
    # the action in words and as its code
    assert ["登记参保人", "person.register"] in [r[3:5] for r in rows[1:]]


def test_the_export_keeps_to_the_region_and_the_filters(client, demo):
    ma = demo["马志强"]
    _response, body = export(client, demo.staff["js_super"])
    assert "马志强" not in body and "古丽娜" not in body
    _response, body = export(client, demo.staff["js_super"], person=ma.id_number)
    header = ["时间", "操作人", "渠道", "操作", "操作代码", "对象", "参保人", "变更内容"]
    assert csv_rows(body) == [header]

    wang = demo["王建国"]
    _response, body = export(client, demo.staff["js_super"], person=wang.id_number)
    people = {r[6] for r in csv_rows(body)[1:]}
    assert people == {f"王建国（{wang.masked_id_number}）"}


def test_the_export_is_audited_with_its_filters_and_row_count(client, demo):
    wang = demo["王建国"]
    _response, body = export(
        client, demo.staff["js_super"], person=wang.id_number, channel="online"
    )
    rows = len(csv_rows(body)) - 1
    entry = AuditEntry.objects.get(action="audit.export")
    assert entry.actor == demo.staff["js_super"]
    assert entry.channel == AuditEntry.Channel.ADMIN
    assert entry.person is None
    assert entry.after == {
        "filters": {"id_number": wang.masked_id_number, "channel": "online"},
        "rows": rows,
    }
    assert rows > 0


def test_the_export_guards_against_formula_injection(client, demo):
    evil = supervisor("=cmd|' /C calc'!A0", *demo.staff["js_super"].regions.all())
    at_sign = supervisor("@SUM(1+1)", *demo.staff["js_super"].regions.all())
    note(demo["王建国"], actor=evil, action="test.evil")
    note(demo["王建国"], actor=at_sign, action="test.evil")
    _response, body = export(client, demo.staff["js_super"], action="test.evil")
    actors = sorted(r[1] for r in csv_rows(body)[1:])
    assert actors == ["'=cmd|' /C calc'!A0", "'@SUM(1+1)"]
    for row in csv_rows(body):
        assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row)


def test_filters_in_the_url_are_not_exported(client, demo):
    client.force_login(demo.staff["js_super"])
    response = client.get(EXPORT, {"date_from": "2026-11-02", "date_to": "2026-11-01"})
    assert response.status_code == 302
    assert response["Location"] == AUDIT
    assert not AuditEntry.objects.filter(action="audit.export").exists()


@pytest.mark.parametrize(
    "params",
    [{"person": "32010219750312123X"}, {"date_to": "9999-12-31"}, {"date_from": "0001-01-01"},
     {"username": "js_clerk"}],
)  # fmt: skip
def test_filters_in_the_url_are_refused_and_nothing_is_listed(client, demo, params):
    """Issue 13 point 15: an identity number in a GET would sit in every access log."""
    client.force_login(demo.staff["js_super"])
    response = client.get(AUDIT, params)
    assert response.status_code == 200
    assert response.context["rows"] is None
    assert str(FILTERS_IN_URL) in response.content.decode()
    assert client.get(EXPORT, params).status_code == 302
    assert not AuditEntry.objects.filter(action="audit.export").exists()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2100-01-01", "1899-12-31"])
def test_a_date_no_page_can_handle_is_a_message_not_a_500(client, demo, day):
    """Issue 13 point 12: date_to=9999-12-31 overflowed when a day was added (500)."""
    client.force_login(demo.staff["js_super"])
    for field in ("date_from", "date_to"):
        response = client.post(AUDIT, {field: day})
        assert response.status_code == 200
        assert response.context["form"].errors[field] == [
            str(DATE_OUT_OF_RANGE) % {"min": "1900-01-01", "max": "2099-12-31"}
        ]


def test_the_export_leaves_out_its_own_entry_and_later_ones(client, demo):
    _response, body = export(client, demo.staff["admin"])
    assert "audit.export" not in body
    _response, body = export(client, demo.staff["admin"], action="audit.export")
    assert len(csv_rows(body)) == 2  # the header and the first export


# --- counter work shows up (a real service, channel counter) ----------------------------------


def test_a_counter_action_by_staff_is_found_by_username_and_channel(client, demo):
    desheng = demo["王德胜"]
    authorization = Authorization.objects.get(member=desheng, status__in=["active"])
    family_services.authorization_revoke(
        authorization=authorization,
        actor=demo.staff["js_clerk"],
        reason="柜台办理：主账户人申请解除",
        channel=COUNTER,
    )
    response = page(client, demo.staff["js_super"], username="js_clerk", channel="counter")
    assert "authorization.revoke" in page_actions(response)
    assert page_people(response) <= {"王德胜", "王建国"}


# --- query counts -------------------------------------------------------------------------------

# session, user, the user's permissions (2), the user's regions, the action choices, the count,
# one page of entries with actor and person.
AUDIT_PAGE_QUERIES = 8


def test_the_page_runs_the_same_queries_with_little_and_with_much_data(
    client, demo, django_assert_num_queries
):
    user = demo.staff["js_clerk"]
    client.force_login(user)
    with django_assert_num_queries(AUDIT_PAGE_QUERIES):
        assert client.get(AUDIT).status_code == 200

    people = [demo[n] for n in ("王建国", "李秀英", "王小明", "张伟")]
    for i in range(130):
        note(people[i % 4], actor=demo.staff["js_super"], action=f"test.bulk{i % 7}")
    with django_assert_num_queries(AUDIT_PAGE_QUERIES):
        response = client.get(AUDIT, {"page": 2})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 50
    token = _token(client, {"person": "王", "channel": "counter"})
    with django_assert_num_queries(AUDIT_PAGE_QUERIES):
        response = client.get(AUDIT, {"s": token, "page": 2})
    assert response.context["page_obj"].paginator.count == 65  # 王建国 and 王小明's notes
    assert len(response.context["rows"]) == 15
