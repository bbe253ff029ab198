"""Issue 6 points 1 and 5: /admin/ is region-scoped like the staff pages. A staff user of
320100/320200 sees, searches, opens and picks nothing of 659004 and the reverse; a superuser
sees every region. Reference data shows the counter settings (R18); beat schedules are audited
(R20); logins are managed by superusers only and a staff login needs a region."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db.models import Q
from django.forms import MultiWidget
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.admin import STAFF_WITHOUT_REGION
from accounts.models import (
    AuditEntry,
    InsuredPerson,
    Notification,
    RegionPolicy,
    ResidentPremium,
    User,
)
from accounts.services import Notice, notifications_send
from accounts.staff import ADMINISTRATOR
from family.models import (
    Authorization,
    CommitmentLetter,
    CounterBinding,
    Guardianship,
    Relationship,
)
from family.services import counter_binding_start, guardianship_register
from payments.models import (
    CreditImport,
    Institution,
    LedgerAccount,
    LedgerTransaction,
    OutOfRegionFiling,
    PremiumPayment,
    ReconciliationMismatch,
    ReconciliationRun,
    Refund,
    Settlement,
)
from payments.services import credits_import_csv, filings
from payments.services.credits import CSV_PERSON_NOT_FOUND
from tests.admin_search import admin_search, autocomplete
from tests.payments.statement_builders import premium, refund, settle

JIANGSU = ("320100", "320200")
XINJIANG = ("659004",)
ADMIN = AuditEntry.Channel.ADMIN

# model -> the lookups to its region (any of them puts a row in a region)
SCOPED = {
    RegionPolicy: ["pk"],
    ResidentPremium: ["region"],
    InsuredPerson: ["region"],
    AuditEntry: ["person__region"],
    Notification: ["recipient__region"],
    Relationship: ["holder__region"],
    Authorization: ["holder__region"],
    CommitmentLetter: ["holder__region"],
    Guardianship: ["ward__region"],
    CounterBinding: ["region"],
    LedgerAccount: ["region"],
    LedgerTransaction: ["legs__account__region"],
    Settlement: ["institution__region", "patient__region"],
    Refund: ["settlement__institution__region", "settlement__patient__region"],
    PremiumPayment: ["member__region"],
    Institution: ["region"],
    OutOfRegionFiling: ["person__region"],
    ReconciliationMismatch: ["account__region"],
}


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _url(obj, view: str) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{view}", args=[obj.pk])


def _pks_in(model, codes) -> set[int]:
    condition = Q()
    for path in SCOPED[model]:
        condition |= Q(**{f"{path}__code__in" if path != "pk" else "code__in": codes})
    return set(model.objects.filter(condition).values_list("pk", flat=True))


def _shown(client, model, q=None, **params) -> set[int]:
    if q is None:
        response = client.get(_changelist(model), params)
    else:
        response = admin_search(client, _changelist(model), q, **params)
    assert response.status_code == 200
    return set(response.context["cl"].queryset.values_list("pk", flat=True))


@pytest.fixture
def rows(demo):
    """One row of each scoped kind in Jiangsu and in 659004 that the story lacks: settlements
    and refunds, premiums on behalf, credit files (one per region, one spanning both),
    out-of-region filings, guardianships, notifications and a reconciliation with a mismatch in
    each region."""
    admin = demo.staff["admin"]
    p = demo.people
    institutions = {i.code: i for i in Institution.objects.all()}
    js = settle(institutions["JS-HOSP-001"], p["王建国"], "88.00")
    xj = settle(institutions["XJ-HOSP-001"], p["马志强"], "66.00")
    refund(js, "8.00")
    refund(xj, "6.00")
    premium(p["王建国"], p["王小明"])
    premium(p["马志强"], p["马小燕"])
    files = {}
    for key, lines in {
        "js": ["32010219750312123X,王建国,100.00,2026-10"],
        "xj": ["659004198303221312,马志强,100.00,2026-10"],
        "both": [
            "320105198207073177,张伟,50.00,2026-11",
            "659004198506102428,古丽娜,50.00,2026-11",
        ],
    }.items():
        data = "\n".join(["id_number,name,amount,month", *lines]) + "\n"
        files[key] = credits_import_csv(
            data=data.encode(), file_name=f"{key}.csv", actor=admin, background=False
        )
    for person, care in [("王德胜", "659004"), ("马俊", "320100")]:
        filings.out_of_region_filing_create(
            person=p[person],
            care_region=RegionPolicy.objects.get(code=care),
            valid_from=dt.date(2026, 1, 1),
            actor=admin,
        )
    for guardian, ward in [("李秀英", "王小明"), ("古丽娜", "马小燕")]:
        guardianship_register(
            guardian=p[guardian],
            ward=p[ward],
            basis=Guardianship.Basis.PARENT,
            document="出生医学证明",
            valid_from=dt.date(2026, 1, 1),
            valid_until=None,
            actor=admin,
            channel=ADMIN,
        )
    counter_binding_start(holder=p["王建国"], actor=demo.staff["js_clerk"])
    counter_binding_start(holder=p["马志强"], actor=demo.staff["xj_clerk"])
    notifications_send(
        notices=[
            Notice(recipient_id=p[name].pk, kind="started", key=f"scope-test:{name}", params={})
            for name in ("王建国", "马志强")
        ]
    )
    # A run with a broken balance in each region: no service makes a mismatch on purpose.
    run = ReconciliationRun.objects.create(
        started_at=dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC), mismatch_count=2, ok=False
    )
    for name in ("王建国", "马志强"):
        ReconciliationMismatch.objects.create(
            run=run,
            account=LedgerAccount.objects.get(person=p[name]),
            balance=Decimal("1.00"),
            ledger_sum=Decimal("2.00"),
            difference=Decimal("-1.00"),
        )
    return {"files": files, "run": run}


def _form_data(response) -> dict:
    """What the browser would post back from an admin change page as it was rendered: the
    main form's values and every inline formset (management form and rows)."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value, key = form[name].value(), form.add_prefix(name)
            if isinstance(field.widget, MultiWidget):
                for i, part in enumerate(field.widget.decompress(value)):
                    if part is not None:
                        data[f"{key}_{i}"] = str(part)
            elif value is True:
                data[key] = "on"
            elif value is not None and value is not False:
                data[key] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def _login(client, demo, username):
    client.force_login(demo.staff[username])
    return client


# ---------------------------------------------------------------------------------------------
# changelists, searches and object pages


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.model_name)
@pytest.mark.parametrize(
    ("username", "own", "other"), [("js_clerk", JIANGSU, XINJIANG), ("xj_clerk", XINJIANG, JIANGSU)]
)
def test_staff_see_only_their_regions_rows_in_every_changelist(
    client, demo, rows, model, username, own, other
):
    _login(client, demo, username)
    mine, theirs = _pks_in(model, own), _pks_in(model, other)
    assert mine and theirs  # the fixture has rows on both sides
    assert _shown(client, model) == mine
    assert not _shown(client, model, q="马") & (theirs - mine)


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.model_name)
def test_superuser_sees_every_region(client, demo, rows, model):
    _login(client, demo, "admin")
    assert _shown(client, model) == set(model.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.model_name)
def test_another_regions_row_has_no_page(client, demo, rows, model):
    """Change and history pages of a 659004 row: Django admin's "does not exist" redirect to
    the index, with a message; the row's page is never rendered."""
    _login(client, demo, "js_clerk")
    obj = model.objects.get(pk=min(_pks_in(model, XINJIANG) - _pks_in(model, JIANGSU)))
    for view in ("change", "history"):
        response = client.get(_url(obj, view))
        assert response.status_code == 302, view
        assert response.url == reverse("admin:index")
    followed = client.get(_url(obj, "change"), follow=True)
    assert "不存在" in followed.content.decode()


def test_delete_of_another_regions_row_shows_nothing(client, demo, rows):
    # A 管理员 of Jiangsu (not a superuser) may delete premiums of her regions; one of 659004 is
    # "not found". (Without the delete permission the admin answers 403 before looking.)
    manager = User.objects.create_user(username="js_manager", is_staff=True)
    manager.groups.set([Group.objects.get(name=ADMINISTRATOR)])
    manager.regions.set(RegionPolicy.objects.filter(code__in=JIANGSU))
    client.force_login(manager)
    premium_xj = ResidentPremium.objects.filter(region__code="659004").first()
    response = client.get(_url(premium_xj, "delete"))
    assert (response.status_code, response.url) == (302, reverse("admin:index"))


def test_credit_file_spanning_regions_shows_to_superusers_only(client, demo, rows):
    files = rows["files"]
    _login(client, demo, "js_clerk")
    assert _shown(client, CreditImport) == {files["js"].pk}
    _login(client, demo, "xj_clerk")
    assert _shown(client, CreditImport) == {files["xj"].pk}
    _login(client, demo, "admin")
    assert _shown(client, CreditImport) == {f.pk for f in files.values()}


def test_transaction_page_lists_only_the_legs_of_the_users_regions(client, demo, rows):
    # The legs inline needs view_ledgerleg, which no demo group has; given here to see it.
    from django.contrib.auth.models import Permission

    clerk = demo.staff["js_clerk"]
    clerk.user_permissions.add(Permission.objects.get(codename="view_ledgerleg"))
    clerk = User.objects.get(pk=clerk.pk)  # no cached permissions
    client.force_login(clerk)
    entry = LedgerTransaction.objects.filter(legs__account__person__name="王建国").first()
    html = client.get(_url(entry, "change")).content.decode()
    assert "王建国" in html
    assert "659004" not in html


def test_reconciliation_run_lists_only_the_users_accounts(client, demo, rows):
    _login(client, demo, "js_clerk")
    html = client.get(_url(rows["run"], "change")).content.decode()
    assert "王建国" in html
    assert "马志强" not in html
    assert "查看本次全部1条不符记录" in html


def test_related_filters_offer_only_the_users_regions(client, demo, rows):
    _login(client, demo, "js_clerk")
    html = client.get(_changelist(InsuredPerson)).content.decode()
    assert "南京市" in html
    assert "五家渠市" not in html


@pytest.mark.parametrize(
    ("model", "limit"),
    # session, user, 2 permission reads, the user's regions, the region filter's choices, two
    # counts, the page, the date hierarchy (2): none per row
    [(InsuredPerson, 12), (Authorization, 12), (LedgerAccount, 12), (Settlement, 12)],
    ids=lambda v: getattr(getattr(v, "_meta", None), "model_name", str(v)),
)
def test_scoped_changelists_run_bounded_queries(
    client, demo, rows, model, limit, django_assert_max_num_queries
):
    _login(client, demo, "js_clerk")
    with django_assert_max_num_queries(limit):
        assert client.get(_changelist(model)).status_code == 200


# ---------------------------------------------------------------------------------------------
# choices on forms


def test_form_choices_offer_only_the_users_persons_and_regions(client, demo, rows):
    _login(client, demo, "js_super")
    form = client.get(reverse("admin:family_guardianship_add")).context["adminform"].form
    wards = set(form.fields["ward"].queryset.values_list("region__code", flat=True))
    assert wards <= set(JIANGSU) and wards
    form = client.get(reverse("admin:payments_institution_add")).context["adminform"].form
    assert set(form.fields["region"].queryset.values_list("code", flat=True)) == set(JIANGSU)
    form = client.get(reverse("admin:accounts_residentpremium_add")).context["adminform"].form
    assert set(form.fields["region"].queryset.values_list("code", flat=True)) == set(JIANGSU)


def test_filing_form_picks_own_persons_but_any_care_region(client, demo, rows):
    _login(client, demo, "js_clerk")
    form = client.get(reverse("admin:payments_outofregionfiling_add")).context["adminform"].form
    assert not form.fields["person"].queryset.filter(region__code="659004").exists()
    assert form.fields["care_region"].queryset.filter(code="659004").exists()  # R19


def test_posting_another_regions_person_is_refused(client, demo, rows):
    _login(client, demo, "js_super")
    response = client.post(
        reverse("admin:family_guardianship_add"),
        {
            "guardian": demo["古丽娜"].pk,
            "ward": demo["马俊"].pk,
            "basis": "parent",
            "document": "出生医学证明",
            "valid_from": "2026-01-01",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() >= {"guardian", "ward"}
    assert not Guardianship.objects.filter(ward=demo["马俊"]).exists()


def test_person_autocomplete_finds_nobody_of_another_region(client, demo, rows):
    _login(client, demo, "js_super")
    response = autocomplete(
        client, "马", app_label="family", model_name="guardianship", field_name="ward"
    )
    assert response.status_code == 200
    assert response.json()["results"] == []


# ---------------------------------------------------------------------------------------------
# credit uploads


def test_credit_upload_for_a_person_of_another_region_is_refused(client, demo, rows):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _login(client, demo, "js_super")
    before = LedgerTransaction.objects.count()
    data = (
        "id_number,name,amount,month\n"
        "32010219750312123X,王建国,10.00,2026-12\n"
        "659004198303221312,马志强,10.00,2026-12\n"
    )
    response = client.post(
        reverse("admin:payments_creditimport_upload"),
        {"file": SimpleUploadedFile("x.csv", data.encode(), content_type="text/csv")},
    )
    assert response.status_code == 200
    assert str(CSV_PERSON_NOT_FOUND) in response.content.decode()
    assert [e.line for e in response.context["errors"]] == [3]
    assert LedgerTransaction.objects.count() == before
    assert not CreditImport.objects.filter(file_name="x.csv").exists()


# ---------------------------------------------------------------------------------------------
# reference data (point 5)


def test_policy_page_shows_the_counter_fields(client, demo):
    _login(client, demo, "js_super")
    policy = RegionPolicy.objects.get(code="320100")
    response = client.get(_url(policy, "change"))
    html = response.content.decode()
    assert "窗口办理" in html
    assert 'type="checkbox" name="counter_relation_proofs"' in html
    assert "review_member_threshold" in html and "review_grandparent_relations" in html


def test_counter_proofs_edited_as_checkboxes_are_saved_and_audited(client, demo):
    _login(client, demo, "js_super")
    policy = RegionPolicy.objects.get(code="320200")
    data = _form_data(client.get(_url(policy, "change")))
    data.update({"counter_relation_proofs": ["household_register"], "review_member_threshold": "6"})
    response = client.post(_url(policy, "change"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert (policy.counter_relation_proofs, policy.review_member_threshold) == (
        ["household_register"],
        6,
    )
    entry = AuditEntry.objects.get(action="regionpolicy.change", object_id=str(policy.pk))
    assert entry.after["counter_relation_proofs"] == ["household_register"]


def test_a_clerk_cannot_open_another_regions_policy(client, demo):
    _login(client, demo, "js_clerk")
    shown = _shown(client, RegionPolicy)
    assert set(RegionPolicy.objects.filter(pk__in=shown).values_list("code", flat=True)) == set(
        JIANGSU
    )


# ---------------------------------------------------------------------------------------------
# beat schedules (R20)


def test_schedule_change_is_audited(client, demo):
    _login(client, demo, "admin")
    crontab = CrontabSchedule.objects.first()
    data = _form_data(client.get(_url(crontab, "change")))
    data["minute"] = "7"
    response = client.post(_url(crontab, "change"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = AuditEntry.objects.get(action="crontabschedule.change")
    assert (entry.actor, entry.channel) == (demo.staff["admin"], ADMIN)
    assert entry.after["minute"] == "7" and entry.before["minute"] != "7"


def test_disabling_tasks_is_audited_task_by_task(client, demo):
    _login(client, demo, "admin")
    tasks = list(PeriodicTask.objects.filter(enabled=True).order_by("pk")[:2])
    response = client.post(
        _changelist(PeriodicTask),
        {"action": "disable_tasks", "_selected_action": [t.pk for t in tasks]},
    )
    assert response.status_code == 302
    entries = AuditEntry.objects.filter(action="periodictask.change").order_by("id")
    assert [e.object_id for e in entries] == [str(t.pk) for t in tasks]
    assert all(e.before["enabled"] is True and e.after["enabled"] is False for e in entries)
    assert not PeriodicTask.objects.filter(pk__in=[t.pk for t in tasks], enabled=True).exists()


def test_clerks_cannot_change_schedules(client, demo):
    _login(client, demo, "js_clerk")
    crontab = CrontabSchedule.objects.first()
    assert client.get(_url(crontab, "change")).status_code == 403


# ---------------------------------------------------------------------------------------------
# logins (point 1)


def test_only_superusers_manage_logins(client, demo):
    _login(client, demo, "js_super")
    assert client.get(_changelist(User)).status_code == 403
    _login(client, demo, "admin")
    assert client.get(_changelist(User)).status_code == 200


def test_staff_login_without_a_region_is_refused(client, demo):
    _login(client, demo, "admin")
    clerk = demo.staff["xj_clerk"]
    data = _form_data(client.get(_url(clerk, "change")))
    data["regions"] = []
    response = client.post(_url(clerk, "change"), data)
    assert response.status_code == 200
    assert str(STAFF_WITHOUT_REGION) in response.content.decode()
    assert clerk.regions.exists()
