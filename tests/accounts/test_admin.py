"""Staff in /admin/: masked numbers in lists, search by identity number or name, audited edits."""

import pytest

from accounts.models import AuditEntry, RegionPolicy
from tests.admin_search import admin_search


@pytest.fixture
def clerk_client(client, demo_accounts):
    from accounts.models import User

    client.force_login(User.objects.get(username="js_clerk"))
    return client


def test_person_list_masks_identity_numbers(clerk_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(9):  # 8, and the clerk's regions (issue 6 scope)
        response = clerk_client.get("/admin/accounts/insuredperson/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "3201**********123X" in html
    assert "32010219750312123X" not in html


@pytest.mark.parametrize(
    ("username", "query", "found", "absent"),
    [
        ("js_clerk", "32010219750312123X", "王建国", "李秀英"),
        ("xj_clerk", "马", "马志强", "王建国"),  # a clerk of 659004 (issue 6: region scope)
    ],
)
def test_person_search_by_identity_number_or_name(
    client, demo_accounts, username, query, found, absent
):
    from accounts.models import User

    client.force_login(User.objects.get(username=username))
    html = admin_search(client, "/admin/accounts/insuredperson/", query).content.decode()
    assert found in html
    assert absent not in html


def test_person_list_filters_by_status(clerk_client):
    html = clerk_client.get(
        "/admin/accounts/insuredperson/", {"status__exact": "transferred"}
    ).content.decode()
    assert "孙强" in html
    assert "王建国" not in html


def test_persons_cannot_be_deleted_in_admin(clerk_client, demo_accounts):
    url = f"/admin/accounts/insuredperson/{demo_accounts['王建国'].pk}/delete/"
    assert clerk_client.get(url).status_code == 403


def test_policy_edit_in_admin_is_audited(client, demo_accounts):
    from accounts.models import User

    admin = User.objects.get(username="admin")
    client.force_login(admin)
    policy = RegionPolicy.objects.get(code="320200")
    url = f"/admin/accounts/regionpolicy/{policy.pk}/change/"
    form = {
        "code": "320200",
        "name": "无锡市",
        "member_scope": "province",
        "consent_age": "16",
        "consent_days": "14",
        "counter_agreement": "relationship_letter",
        "retained_floor": "1000.00",
        "several_holders_per_settlement": "on",
        "fallback_order": "filing",
        **_counter_fields(),
        "premiums-TOTAL_FORMS": "1",
        "premiums-INITIAL_FORMS": "1",
        "premiums-MIN_NUM_FORMS": "0",
        "premiums-MAX_NUM_FORMS": "1000",
        **_premium_inline(policy),
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert policy.consent_days == 14
    entry = AuditEntry.objects.get(action="regionpolicy.change")
    assert (entry.actor, entry.channel) == (admin, "admin")
    assert (entry.before["consent_days"], entry.after["consent_days"]) == (7, 14)
    assert (entry.before["retained_floor"], entry.after["retained_floor"]) == ("0.00", "1000.00")


def test_bad_policy_edit_shows_a_message_and_changes_nothing(client, demo_accounts):
    from accounts.models import User

    client.force_login(User.objects.get(username="admin"))
    policy = RegionPolicy.objects.get(code="320200")
    response = client.post(
        f"/admin/accounts/regionpolicy/{policy.pk}/change/",
        {
            "code": "990200",
            "name": "无锡市",
            "member_scope": "province",
            "consent_age": "16",
            "consent_days": "7",
            "counter_agreement": "relationship_letter",
            "retained_floor": "0",
            "fallback_order": "filing",
            **_counter_fields(),
            "premiums-TOTAL_FORMS": "1",
            "premiums-INITIAL_FORMS": "1",
            "premiums-MIN_NUM_FORMS": "0",
            "premiums-MAX_NUM_FORMS": "1000",
            **_premium_inline(policy),
        },
    )
    assert response.status_code == 200
    assert "统筹区编码的前两位不是有效的省级编码" in response.content.decode()
    policy.refresh_from_db()
    assert policy.code == "320200"
    assert not AuditEntry.objects.filter(action="regionpolicy.change").exists()


def _counter_fields():
    """The 窗口办理 fieldset (R18) as the page shows it for a region with the defaults."""
    return {
        "counter_relation_proofs": [
            "household_register",
            "marriage_certificate",
            "relationship_letter",
        ],
        "review_member_threshold": "4",
        "review_grandparent_relations": "on",
    }


def _premium_inline(policy):
    premium = policy.premiums.get()
    return {
        "premiums-0-id": str(premium.pk),
        "premiums-0-region": str(policy.pk),
        "premiums-0-year": str(premium.year),
        "premiums-0-amount": str(premium.amount),
        "premiums-0-collection_start": str(premium.collection_start),
        "premiums-0-collection_end": str(premium.collection_end),
        "premiums-0-benefit_start": str(premium.benefit_start),
        "premiums-0-benefit_end": str(premium.benefit_end),
        "premiums-0-waiting_months": str(premium.waiting_months),
    }


def test_audit_entries_are_read_only_in_admin(client, demo_accounts):
    from accounts.models import User

    client.force_login(User.objects.get(username="admin"))
    entry = AuditEntry.objects.first()
    assert client.get("/admin/accounts/auditentry/").status_code == 200
    assert client.get("/admin/accounts/auditentry/add/").status_code == 403
    assert client.post(f"/admin/accounts/auditentry/{entry.pk}/delete/").status_code == 403


@pytest.mark.parametrize("value", ["王丽", "-1", "99999999999999999999", "1.5"])
def test_an_autocomplete_field_with_a_hand_made_value_is_a_form_error(client, demo_accounts, value):
    """Found by tests/properties: Django's autocomplete widget looked the value up to show it
    again and raised on one its key cannot hold (a 500)."""
    from accounts.models import User
    from family.models import Guardianship

    client.force_login(User.objects.get(username="admin"))
    response = client.post("/admin/family/guardianship/add/", {"guardian": value, "ward": value})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["guardian"]
    assert not Guardianship.objects.exists()


def test_a_crontab_the_scheduler_cannot_read_is_a_form_error(client, demo_accounts):
    """Found by tests/properties: django-celery-beat's description of the schedule raised on
    minute "-1" while the form was being shown again with its error (a 500)."""
    from django_celery_beat.models import CrontabSchedule

    from accounts.models import User

    client.force_login(User.objects.get(username="admin"))
    count = CrontabSchedule.objects.count()
    response = client.post(
        "/admin/django_celery_beat/crontabschedule/add/",
        {"minute": "-1", "hour": "*", "day_of_month": "*", "month_of_year": "*",
         "day_of_week": "*", "timezone": "Asia/Shanghai"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["minute"]
    assert CrontabSchedule.objects.count() == count
