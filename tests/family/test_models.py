"""The database guarantees behind the family rules, hit directly (ORM or raw SQL), bypassing the
services' friendly checks. Each violation must raise IntegrityError naming its constraint."""

import datetime as dt
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from family.models import Authorization, CommitmentLetter, Guardianship, Relation, Relationship
from tests.clock import NOW
from tests.family.builders import LIVE, ONLINE, SECOND, A, live


@contextmanager
def refused(name: str):
    """The statement inside raises IntegrityError naming `name`; its savepoint is rolled back."""
    with pytest.raises(IntegrityError, match=name), transaction.atomic():
        yield


def _raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _authorization(**fields):
    values = {
        "relation": Relation.CHILD,
        "window_start": NOW,
        "status": A.ACTIVE,
        "created_at": NOW,
    }
    return Authorization.objects.create(**{**values, **fields})


# ---------------------------------------------------------------------------------------------
# relationships


def test_one_active_relationship_per_holder(demo):  # R4
    wang = demo["王建国"]
    with refused("relationship_one_active_per_holder"):
        Relationship.objects.create(holder=wang, channel=ONLINE)
    Relationship.objects.create(  # an ended one is history, not a second relationship
        holder=wang, channel=ONLINE, status="ended", ended_at=NOW, end_reason="holder_ended"
    )
    assert Relationship.objects.filter(holder=wang).count() == 2


def test_relationship_end_fields_match_its_status(demo):
    rows = Relationship.objects.filter(holder=demo["王建国"])
    with refused("relationship_end_fields_match_status"):
        rows.update(status="ended")  # no ended_at, no reason
    with refused("relationship_end_fields_match_status"):
        rows.update(status="ended", ended_at=NOW)  # no reason
    with refused("relationship_end_fields_match_status"):
        rows.update(ended_at=NOW)  # still active
    assert rows.get().status == "active"


# ---------------------------------------------------------------------------------------------
# authorizations


def test_nobody_is_bound_to_themselves(demo):  # R1
    wang = demo["王建国"]
    relationship = Relationship.objects.get(holder=wang)
    with refused("authorization_no_self_binding"):
        _authorization(relationship=relationship, holder=wang, member=wang, relation="spouse")


def test_window_end_strictly_after_start(demo):  # R6
    rows = Authorization.objects.filter(pk=live(demo["王建国"], demo["王德胜"]).pk)
    with refused("authorization_end_after_start"):
        rows.update(window_end=F("window_start"))
    with refused("authorization_end_after_start"):
        rows.update(window_end=F("window_start") - SECOND)
    rows.update(window_end=F("window_start") + SECOND)
    rows.update(window_end=None)  # open end


def test_one_live_authorization_per_holder_member_pair(demo):
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    relationship = Relationship.objects.get(holder=ma)
    pair = {"relationship": relationship, "holder": ma, "member": xiaoyan, "exclusive": False}
    with refused("authorization_one_live_per_pair"):
        _authorization(**pair, status=A.PENDING_CONSENT)
    _authorization(**pair, status=A.REVOKED, ended_at=NOW)  # history may repeat the pair
    assert Authorization.objects.filter(holder=ma, member=xiaoyan).count() == 2


def test_an_exclusive_member_is_in_one_live_authorization(demo):  # R5
    li, xiaoming = demo["李秀英"], demo["王小明"]
    relationship = Relationship.objects.create(holder=li, channel=ONLINE)
    with refused("authorization_exclusive_member"):
        _authorization(relationship=relationship, holder=li, member=xiaoming, exclusive=True)
    with refused("authorization_exclusive_member"):  # a pending request holds the place too
        _authorization(
            relationship=relationship,
            holder=li,
            member=xiaoming,
            status=A.PENDING_CONSENT,
            exclusive=True,
        )


def test_a_member_of_the_multi_holder_policy_is_not_exclusive(demo):  # R5
    rows = Authorization.objects.live().filter(member=demo["马小燕"])
    assert rows.count() == 2
    with refused("authorization_exclusive_member"):
        rows.update(exclusive=True)


def test_a_deduction_position_is_used_once_among_live_authorizations(demo):  # R10
    xiaoyan = demo["马小燕"]
    second = Authorization.objects.filter(pk=live(demo["古丽娜"], xiaoyan).pk)
    with refused("authorization_unique_deduction_position"):
        second.update(deduction_position=1)
    first = Authorization.objects.filter(pk=live(demo["马志强"], xiaoyan).pk)
    first.update(status=A.REVOKED, ended_at=NOW)
    second.update(deduction_position=1)  # the ended row no longer takes part
    first.update(deduction_position=1)  # and may keep whatever it had
    with refused("authorization_position_from_1"):
        second.update(deduction_position=0)


def test_a_payment_cap_is_positive(demo):  # R21
    rows = Authorization.objects.filter(pk=live(demo["马志强"], demo["马小燕"]).pk)
    with refused("authorization_cap_positive"):
        rows.update(payment_cap=0)
    with refused("authorization_cap_positive"):
        rows.update(payment_cap=-1)
    rows.update(payment_cap="0.01")


@pytest.mark.parametrize("status", [A.DECLINED, A.LAPSED, A.REVOKED, A.LEFT, A.TERMINATED])
def test_an_ended_status_needs_ended_at_and_a_live_one_has_none(demo, status):  # R15
    rows = Authorization.objects.filter(pk=live(demo["王建国"], demo["王小明"]).pk)
    with refused("authorization_ended_at_matches_status"):
        rows.update(status=status)
    rows.update(status=status, ended_at=NOW)
    for live_status in LIVE:
        with refused("authorization_ended_at_matches_status"):
            rows.update(status=live_status)


# ---------------------------------------------------------------------------------------------
# commitment letters are immutable (R7)


@pytest.fixture
def letter(demo):
    return CommitmentLetter.objects.get(holder=demo["王建国"])


def test_the_letter_text_cannot_be_updated(letter):  # R7
    original = letter.text
    with refused("immutable"):
        CommitmentLetter.objects.filter(pk=letter.pk).update(text=original + "（补充）")
    with refused("immutable"):
        _raw("UPDATE family_commitmentletter SET text = %s WHERE id = %s", ["x", letter.pk])
    with refused("immutable"):  # not even the signature name or a harmless-looking field
        CommitmentLetter.objects.filter(pk=letter.pk).update(signed_name="李秀英")
    letter.text = "改写"
    with refused("immutable"):
        letter.save()
    letter.refresh_from_db()
    assert letter.text == original
    assert letter.text_intact and letter.content_hash == CommitmentLetter.hash_text(original)


def test_the_letter_cannot_be_deleted(letter):  # R7
    with refused("immutable"):
        _raw("DELETE FROM family_commitmentletter WHERE id = %s", [letter.pk])
    with refused("immutable"):
        letter.delete()  # the ORM deletes the covered-authorization links first: refused too
    assert CommitmentLetter.objects.filter(pk=letter.pk).exists()
    assert letter.authorizations.count() == 2


def test_the_authorizations_a_letter_covers_cannot_be_changed(letter):  # R7
    covered = sorted(letter.authorizations.values_list("pk", flat=True))
    with refused("immutable"):
        letter.authorizations.remove(covered[0])
    with refused("immutable"):
        letter.authorizations.clear()
    with refused("immutable"):
        _raw(
            "UPDATE family_commitmentletter_authorizations SET authorization_id = %s "
            "WHERE commitmentletter_id = %s AND authorization_id = %s",
            [covered[1], letter.pk, covered[0]],
        )
    assert sorted(letter.authorizations.values_list("pk", flat=True)) == covered


def test_a_letter_hash_is_a_sha256_hex_digest(letter):  # R7
    fields = {
        "kind": letter.kind,
        "purpose": letter.purpose,
        "template_version": letter.template_version,
        "text": letter.text,
        "holder": letter.holder,
        "relationship": letter.relationship,
        "signed_at": NOW,
        "channel": ONLINE,
        "signed_name": letter.signed_name,
        "signed_by": letter.signed_by,
    }
    with refused("letter_hash_shape"):
        CommitmentLetter.objects.create(**fields, content_hash="not-a-hash")
    with refused("letter_hash_shape"):
        CommitmentLetter.objects.create(**fields, content_hash=letter.content_hash.upper())


# ---------------------------------------------------------------------------------------------
# guardianships (R22)


def test_a_guardianship_is_between_two_people_with_ordered_dates(demo_unbound):  # R22
    wangli, desheng = demo_unbound["王丽"], demo_unbound["王德胜"]
    base = {"basis": "court", "document": "判决书", "valid_from": dt.date(2026, 1, 1)}
    with refused("guardianship_not_self"):
        Guardianship.objects.create(guardian=wangli, ward=wangli, **base)
    with refused("guardianship_dates_ordered"):
        Guardianship.objects.create(
            guardian=wangli, ward=desheng, valid_until=dt.date(2025, 12, 31), **base
        )
    Guardianship.objects.create(
        guardian=wangli, ward=desheng, valid_until=dt.date(2026, 1, 1), **base
    )
    assert Guardianship.objects.count() == 1
