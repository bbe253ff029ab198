"""Staff in /admin/ for family mutual aid: masked numbers, constant queries, read-only records,
guardianships through the service (R22) and status changes that end relationships (R14, R20)."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry, InsuredPerson, User
from family import errors as family_errors
from family import services
from family.admin import STATUS_REASON_REQUIRED
from family.models import Authorization, CommitmentLetter, Guardianship, Relation, Relationship
from tests.admin_search import admin_search, autocomplete
from tests.family.builders import actions_since, audit_mark, audit_since, bind, req

A = Authorization.Status
ADMIN = AuditEntry.Channel.ADMIN
CHANGELISTS = {
    "relationship": "/admin/family/relationship/",
    "authorization": "/admin/family/authorization/",
    "commitmentletter": "/admin/family/commitmentletter/",
    "guardianship": "/admin/family/guardianship/",
}


@pytest.fixture
def staff_admin(demo):
    return User.objects.get(username="admin")


@pytest.fixture
def admin_page(client, staff_admin):
    """A client logged in as the demo superuser."""
    client.force_login(staff_admin)
    return client


@pytest.fixture
def guardianship(demo, staff_admin):
    """R22: 王丽 is her grandfather 王德胜's guardian (court-appointed)."""
    return services.guardianship_register(
        guardian=demo["王丽"],
        ward=demo["王德胜"],
        basis=Guardianship.Basis.COURT,
        document="（2025）苏0102民特12号判决书",
        valid_from=dt.date(2025, 3, 1),
        valid_until=None,
        actor=staff_admin,
        channel=ADMIN,
    )


def assert_no_full_numbers(html: str) -> None:
    for number in InsuredPerson.objects.values_list("id_number", flat=True):
        assert number not in html


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


# ---------------------------------------------------------------------------------------------
# lists and detail pages


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelists_show_masked_numbers_only(
    admin_page, guardianship, model, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = admin_page.get(CHANGELISTS[model])
    html = response.content.decode()
    assert response.status_code == 200
    assert "3201**********123X" in html or "3201**********1113" in html
    header = "监护人身份证号码" if model == "guardianship" else "主账户人身份证号码"
    assert header in html  # the masked column, under its own heading
    assert_no_full_numbers(html)


def test_changelist_queries_do_not_grow_with_rows(admin_page, demo, staff_admin):
    before = {model: count_queries(admin_page, url) for model, url in CHANGELISTS.items()}
    # One more relationship, authorization, letter and guardianship.
    bind(demo["张伟"], req(demo["李秀英"], Relation.SPOUSE))
    for guardian, ward in [("王丽", "王德胜"), ("王建国", "王小明")]:
        services.guardianship_register(
            guardian=demo[guardian],
            ward=demo[ward],
            basis=Guardianship.Basis.PARENT,
            document="户口簿",
            valid_from=dt.date(2025, 1, 1),
            valid_until=None,
            actor=staff_admin,
            channel=ADMIN,
        )
    after = {model: count_queries(admin_page, url) for model, url in CHANGELISTS.items()}
    assert after == before


@pytest.mark.parametrize(
    ("query", "found", "absent"),
    [("32010219750312123X", "王德胜", "马小燕"), ("马志强", "马小燕", "王德胜")],
)
def test_authorizations_are_searched_by_exact_number_or_name(admin_page, query, found, absent):
    html = admin_search(admin_page, CHANGELISTS["authorization"], query).content.decode()
    assert found in html
    assert absent not in html


def test_relationships_are_found_by_a_members_number_and_filtered_by_region(admin_page, demo):
    html = admin_search(
        admin_page, CHANGELISTS["relationship"], "320111194801051113"
    ).content.decode()
    assert "王建国" in html
    assert "马志强" not in html
    region = demo["马志强"].region
    html = admin_page.get(
        CHANGELISTS["relationship"], {"holder__region__id__exact": region.pk}
    ).content.decode()
    assert "马志强" in html
    assert "古丽娜" in html
    assert "王建国" not in html


@pytest.mark.parametrize("query", ["", "王", "320111194801051113"])
def test_member_count_is_not_multiplied_by_a_search_over_members(admin_page, demo, query):
    # The search joins the authorizations again; the count must still be 王建国's two members.
    html = admin_search(admin_page, CHANGELISTS["relationship"], query).content.decode()
    row = re.search(r"<tr>(?:(?!</tr>).)*王建国(?:(?!</tr>).)*</tr>", html, re.S).group(0)
    assert re.search(r'class="field-live_members">(\d+)<', row).group(1) == "2"


def test_relationship_page_lists_members_and_letters(admin_page, demo):
    relationship = Relationship.objects.get(holder=demo["王建国"])
    response = admin_page.get(f"/admin/family/relationship/{relationship.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "3201**********123X" in html  # the holder
    assert "王小明" in html
    assert "3201**********1113" in html  # 王德胜, a member
    assert relationship.letters.get().verification_code in html
    assert_no_full_numbers(html)


def test_authorization_page_shows_masked_people(admin_page, demo):
    authorization = Authorization.objects.get(member=demo["王德胜"])
    response = admin_page.get(f"/admin/family/authorization/{authorization.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "3201**********1113" in html
    assert authorization.letters.get().verification_code in html
    assert_no_full_numbers(html)


def test_letter_page_shows_the_text_as_signed_and_that_it_is_intact(admin_page, demo):
    letter = CommitmentLetter.objects.get(holder=demo["王建国"])
    response = admin_page.get(f"/admin/family/commitmentletter/{letter.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<pre class="letter-text">' in html  # styled by css/admin.css (CSP: no style attributes)
    first_line = letter.text.splitlines()[0]
    assert first_line in html
    assert "主账户人：王建国\n身份证号码：3201**********123X" in html  # line breaks kept
    assert 'alt="True"' in html  # text_intact, shown as the admin's yes icon
    assert_no_full_numbers(html)


def test_guardianship_page_shows_masked_people(admin_page, guardianship):
    response = admin_page.get(f"/admin/family/guardianship/{guardianship.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "3201**********1113" in html  # the ward
    assert "3201**********2481" in html  # the guardian
    assert 'name="_save"' not in html
    assert_no_full_numbers(html)


# ---------------------------------------------------------------------------------------------
# read-only records: changes go through the services


@pytest.mark.parametrize("model", ["relationship", "authorization", "commitmentletter"])
def test_records_cannot_be_added_changed_or_deleted_in_admin(admin_page, demo, model):
    row = {
        "relationship": Relationship.objects.first,
        "authorization": Authorization.objects.first,
        "commitmentletter": CommitmentLetter.objects.first,
    }[model]()
    base = CHANGELISTS[model]
    changelist = admin_page.get(base).content.decode()
    assert f'href="{base}add/"' not in changelist
    assert admin_page.get(f"{base}add/").status_code == 403
    change_page = admin_page.get(f"{base}{row.pk}/change/")
    assert change_page.status_code == 200  # view permission stays
    assert 'name="_save"' not in change_page.content.decode()
    assert admin_page.post(f"{base}{row.pk}/change/", {}).status_code == 403
    assert admin_page.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_page.post(
        base, {"action": "delete_selected", "_selected_action": [row.pk]}
    ).status_code in (200, 302)
    assert type(row).objects.filter(pk=row.pk).exists()


def test_guardianships_cannot_be_changed_or_deleted_in_admin(admin_page, guardianship):
    base = CHANGELISTS["guardianship"]
    assert admin_page.post(f"{base}{guardianship.pk}/change/", {}).status_code == 403
    assert admin_page.post(f"{base}{guardianship.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Guardianship.objects.filter(pk=guardianship.pk).exists()


def test_clerks_view_family_records_and_only_supervisors_add_guardians(client, demo):
    client.force_login(User.objects.get(username="js_clerk"))
    for url in CHANGELISTS.values():
        assert client.get(url).status_code == 200
    assert client.get(f"{CHANGELISTS['guardianship']}add/").status_code == 403
    client.force_login(User.objects.get(username="js_super"))
    assert client.get(f"{CHANGELISTS['guardianship']}add/").status_code == 200


# ---------------------------------------------------------------------------------------------
# guardianships (R22)


def guardianship_form(guardian, ward, **changes):
    return {
        "guardian": str(guardian.pk),
        "ward": str(ward.pk),
        "basis": Guardianship.Basis.COURT,
        "document": "（2025）苏0102民特12号判决书",
        "valid_from": "2025-03-01",
        "valid_until": "",
        **changes,
    }


def test_guardianship_added_in_admin_goes_through_the_audited_service(
    admin_page, demo, staff_admin
):
    guardian, ward = demo["王丽"], demo["王德胜"]
    response = admin_page.post(
        f"{CHANGELISTS['guardianship']}add/", guardianship_form(guardian, ward)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    guardianship = Guardianship.objects.get()
    assert (guardianship.guardian, guardianship.ward) == (guardian, ward)
    entry = AuditEntry.objects.get(action="guardianship.register")
    assert (entry.actor, entry.channel, entry.person) == (staff_admin, ADMIN, ward)
    assert entry.object_id == str(guardianship.public_id)


def test_guardian_of_oneself_is_refused_next_to_the_field(admin_page, demo):
    person = demo["王德胜"]
    response = admin_page.post(
        f"{CHANGELISTS['guardianship']}add/", guardianship_form(person, person)
    )
    assert response.status_code == 200
    assert str(family_errors.GUARDIAN_SELF) in response.content.decode()
    assert not Guardianship.objects.exists()
    assert not AuditEntry.objects.filter(action="guardianship.register").exists()


def test_guardian_is_found_by_exact_number_and_shown_masked(admin_page, demo):
    response = autocomplete(
        admin_page,
        "320102200609182481",
        app_label="family",
        model_name="guardianship",
        field_name="guardian",
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["text"] for r in results] == ["王丽（3201**********2481）"]


# ---------------------------------------------------------------------------------------------
# R14: a status change in the person admin ends relationships through the family service


def person_form(person, **changes):
    return {
        "name": person.name,
        "id_number": person.id_number,
        "phone": person.phone,
        "region": str(person.region_id),
        "scheme": person.scheme,
        "status": person.status,
        "status_reason": "",
        **changes,
    }


def person_change_url(person) -> str:
    return f"/admin/accounts/insuredperson/{person.pk}/change/"


def test_person_page_asks_for_a_reason_for_status_changes(admin_page, demo):
    html = admin_page.get(person_change_url(demo["王德胜"])).content.decode()
    assert 'name="status_reason"' in html
    assert "变更原因" in html
    add_page = admin_page.get("/admin/accounts/insuredperson/add/").content.decode()
    assert 'name="status_reason"' not in add_page


def test_member_transferred_out_in_admin_ends_their_authorization(admin_page, demo, staff_admin):
    # R14
    desheng, jianguo = demo["王德胜"], demo["王建国"]
    mark = audit_mark()
    response = admin_page.post(
        person_change_url(desheng),
        person_form(desheng, status="transferred", status_reason="转往上海市参保"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    desheng.refresh_from_db()
    assert desheng.status == InsuredPerson.Status.TRANSFERRED
    authorization = Authorization.objects.get(holder=jianguo, member=desheng)
    assert authorization.status == A.TERMINATED
    assert authorization.ended_at is not None
    # 王小明 is still bound, so 王建国's relationship stands.
    assert Relationship.objects.get(holder=jianguo).status == Relationship.Status.ACTIVE
    assert Authorization.objects.get(member=demo["王小明"]).status == A.ACTIVE
    assert actions_since(mark) == ["person.status_change", "authorization.terminate"]
    status_entry, terminate_entry = audit_since(mark)
    assert (status_entry.actor, status_entry.channel, status_entry.person) == (
        staff_admin,
        ADMIN,
        desheng,
    )
    assert status_entry.before["status"] == "normal"
    assert status_entry.before["reason"] == "转往上海市参保"
    assert status_entry.after["status"] == "transferred"
    assert (terminate_entry.actor, terminate_entry.channel) == (staff_admin, ADMIN)
    assert terminate_entry.after["status"] == "terminated"


def test_holder_terminated_in_admin_ends_the_relationship_and_all_members(admin_page, demo):
    # R14
    jianguo = demo["王建国"]
    mark = audit_mark()
    response = admin_page.post(
        person_change_url(jianguo),
        person_form(jianguo, status="terminated", status_reason="参保人死亡"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    relationship = Relationship.objects.get(holder=jianguo)
    assert relationship.status == Relationship.Status.ENDED
    assert relationship.end_reason == Relationship.EndReason.HOLDER_STATUS
    statuses = {
        a.member.name: a.status for a in relationship.authorizations.select_related("member")
    }
    assert statuses == {"王小明": A.TERMINATED, "王德胜": A.TERMINATED}
    actions = actions_since(mark)
    assert actions[0] == "person.status_change"
    assert actions.count("authorization.terminate") == 2
    assert "relationship.end" in actions
    assert all(entry.channel == ADMIN for entry in audit_since(mark))


def test_status_change_without_a_reason_shows_an_error_and_changes_nothing(admin_page, demo):
    desheng = demo["王德胜"]
    mark = audit_mark()
    response = admin_page.post(
        person_change_url(desheng), person_form(desheng, status="transferred", status_reason=" ")
    )
    assert response.status_code == 200
    assert str(STATUS_REASON_REQUIRED) in response.content.decode()
    desheng.refresh_from_db()
    assert desheng.status == InsuredPerson.Status.NORMAL
    assert Authorization.objects.get(member=desheng).status == A.ACTIVE
    assert actions_since(mark) == []


def test_status_and_phone_changed_together_are_both_audited(admin_page, demo):
    desheng = demo["王德胜"]
    old_phone = desheng.phone
    mark = audit_mark()
    response = admin_page.post(
        person_change_url(desheng),
        person_form(desheng, phone="13900000001", status="suspended", status_reason="欠缴暂停参保"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    desheng.refresh_from_db()
    assert (desheng.phone, desheng.status) == ("13900000001", InsuredPerson.Status.SUSPENDED)
    # Suspension ends nothing (R14: use-time checks refuse the account while it lasts).
    assert Authorization.objects.get(member=desheng).status == A.ACTIVE
    assert actions_since(mark) == ["insuredperson.change", "person.status_change"]
    change_entry, status_entry = audit_since(mark)
    assert (change_entry.before["phone"], change_entry.after["phone"]) == (
        old_phone,
        "13900000001",
    )
    assert change_entry.after["status"] == "normal"  # the status moves only in the next entry
    assert status_entry.after["status"] == "suspended"


def test_edit_without_status_change_needs_no_reason(admin_page, demo):
    desheng = demo["王德胜"]
    mark = audit_mark()
    response = admin_page.post(
        person_change_url(desheng), person_form(desheng, phone="13900000002")
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert actions_since(mark) == ["insuredperson.change"]


# ---------------------------------------------------------------------------------------------
# the audit trail (registered in accounts) shows family actions


def test_audit_list_and_page_show_family_actions_with_masked_numbers(admin_page, demo):
    desheng = demo["王德胜"]
    admin_page.post(
        person_change_url(desheng),
        person_form(desheng, status="transferred", status_reason="转往上海市参保"),
    )
    response = admin_page.get(
        "/admin/accounts/auditentry/", {"action__exact": "authorization.terminate"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "family.authorization" in html
    assert "3201**********1113" in html
    assert_no_full_numbers(html)
    entry = AuditEntry.objects.get(action="authorization.terminate")
    html = admin_page.get(f"/admin/accounts/auditentry/{entry.pk}/change/").content.decode()
    assert "terminated" in html
    assert "3201**********1113" in html
    assert_no_full_numbers(html)
