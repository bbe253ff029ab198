"""`seed_demo` creates the relationships of docs/demo.md, through the services, once."""

import datetime as dt
import io

from django.core.management import call_command

from accounts.models import AuditEntry, InsuredPerson
from family import selectors
from family.demo import desheng_end
from family.models import Authorization, CommitmentLetter, Guardianship, Relationship
from tests.clock import NOW, SHANGHAI

START = dt.datetime(2025, 1, 1, 0, 0, tzinfo=SHANGHAI)
DESHENG_END = desheng_end()  # as seed_family computes it today


def _state():
    return (
        list(Relationship.objects.order_by("pk").values_list("pk", "status")),
        list(
            Authorization.objects.order_by("pk").values_list("pk", "status", "deduction_position")
        ),
        CommitmentLetter.objects.count(),
        Guardianship.objects.count(),
        AuditEntry.objects.count(),
    )


def _rows():
    return sorted(
        (
            a.holder.name,
            a.member.name,
            a.relation,
            a.status,
            a.window_start,
            a.window_end,
            a.deduction_position,
        )
        for a in Authorization.objects.select_related("holder", "member")
    )


def test_seed_demo_creates_the_demo_relationships(db):
    call_command("seed_demo", stdout=io.StringIO())
    assert _rows() == sorted(
        [
            ("王建国", "王小明", "child", "active", START, None, None),
            ("王建国", "王德胜", "parent", "active", START, DESHENG_END, None),
            ("马志强", "马小燕", "child", "active", START, None, 1),
            ("古丽娜", "马小燕", "child", "active", START, None, 2),
        ]
    )
    assert sorted(Relationship.objects.values_list("holder__name", "status")) == [
        ("古丽娜", "active"),
        ("王建国", "active"),
        ("马志强", "active"),
    ]
    people = {p.name: p for p in InsuredPerson.objects.all()}
    # R8: 王德胜 (over 16) consented himself; 王小明 and 马小燕 (under 16) never had to
    desheng = Authorization.objects.get(member=people["王德胜"])
    assert (desheng.consent_needed, desheng.answered_by) == (True, people["王德胜"].user)
    assert not Authorization.objects.filter(member=people["王小明"]).get().consent_needed
    # R7: each holder signed one letter covering their members, of their policy's kind
    assert sorted(CommitmentLetter.objects.values_list("holder__name", "kind")) == [
        ("古丽娜", "mutual_aid_letter"),
        ("王建国", "relationship_letter"),
        ("马志强", "mutual_aid_letter"),
    ]
    assert all(letter.text_intact for letter in CommitmentLetter.objects.all())
    # R9/R10 at a demo instant: 马志强 pays first, then 古丽娜
    usable = selectors.authorizations_usable_for(member=people["马小燕"], at=NOW)
    assert [a.holder.name for a in usable] == ["马志强", "古丽娜"]
    # R6: 王德胜's window ends on the last second of 2026 in Shanghai
    assert selectors.authorizations_usable_for(member=people["王德胜"], at=DESHENG_END)
    assert not selectors.authorizations_usable_for(
        member=people["王德胜"], at=DESHENG_END + dt.timedelta(seconds=1)
    )
    # nobody else is bound
    bound = set(Authorization.objects.values_list("member__name", flat=True)) | set(
        Authorization.objects.values_list("holder__name", flat=True)
    )
    assert bound == {"王建国", "王小明", "王德胜", "马志强", "古丽娜", "马小燕"}
    # R20: the seed went through the services, so the trail shows it
    assert AuditEntry.objects.filter(action="letter.sign").count() == 3
    assert AuditEntry.objects.filter(action="authorization.consent").count() == 1
    assert AuditEntry.objects.filter(action="member.deduction_order").count() == 1


def test_seed_demo_twice_adds_no_rows(db):
    call_command("seed_demo", stdout=io.StringIO())
    first = _state()
    call_command("seed_demo", stdout=io.StringIO())
    assert _state() == first


def test_the_demo_window_end_moves_with_today():
    """docs/demo.md, Dates: dates that must stay payable move with today (issue 13)."""
    from family.demo import desheng_end

    assert desheng_end(dt.date(2026, 11, 23)).date() == dt.date(2026, 12, 31)
    assert desheng_end(dt.date(2026, 12, 17)).date() == dt.date(2026, 12, 31)  # 14 days left
    assert desheng_end(dt.date(2026, 12, 18)).date() == dt.date(2027, 12, 31)
    assert desheng_end(dt.date(2027, 3, 1)).date() == dt.date(2027, 12, 31)
    assert desheng_end(dt.date(2026, 11, 23)).strftime("%H:%M:%S %Z") == "23:59:59 CST"
