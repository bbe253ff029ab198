"""Holder pages: overview, bind wizard, letter, authorization detail, window change, cap.

Walks the pages with Django's test client as a citizen would, on PostgreSQL. Bad input must show
the exact message constant of family/services.py (or of the identity-number validator) and change
nothing; every object page answers 404 to anyone but its holder."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from decimal import Decimal

import pytest
from django.core.validators import DecimalValidator
from django.urls import reverse
from django.utils import timezone

from accounts import idnumber
from accounts.models import AuditEntry, InsuredPerson, User
from family import errors as family_errors
from family import services
from family.demo import (
    START,
    desheng_end,
)
from family.forms.binding import MEMBER_PREFIX
from family.models import Authorization, CommitmentLetter, Relation, Relationship
from family.views.binding import DRAFT_SESSION_KEY
from tests.factories import InsuredPersonFactory, StaffUserFactory, make_id_number
from tests.family.letter_helpers import bomb_url

# 王德胜's window end as the seed set it today, as pages show it (Asia/Shanghai).
DESHENG_END_SHOWN = f"{desheng_end():%Y-%m-%d %H:%M}"

BIND = reverse("family:bind")
OVERVIEW = reverse("family:overview")
PNG = (  # a 1×1 PNG, as the signature pad would send a drawing
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
    "60e6kgAAAABJRU5ErkJggg=="
)


def _html(response) -> str:
    return response.content.decode()


def _local(value: dt.datetime) -> str:
    """What a datetime-local input sends (Asia/Shanghai wall time)."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def _row(
    person: InsuredPerson, relation: str, /, start: str = "", end: str = "", **changes
) -> dict:
    row = {
        "relation": relation,
        "name": person.name,
        "id_number": person.id_number,
        "window_start": start,
        "window_end": end,
    }
    return {**row, **changes}


def _members_data(rows: list[dict], **buttons) -> dict:
    data = {f"{MEMBER_PREFIX}-TOTAL_FORMS": str(len(rows)), f"{MEMBER_PREFIX}-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{MEMBER_PREFIX}-{i}-{key}"] = value
    return {**data, **(buttons or {"next": "1"})}


def _hidden(page: str, name: str) -> str:
    """The value of a hidden input ("" when it has none)."""
    match = re.search(rf'<input type="hidden" name="{name}"( value="([^"]*)")?', page)
    assert match, f"no hidden {name} in page"
    return html.unescape(match.group(2) or "")


def _pre_text(page: str) -> str:
    match = re.search(r'<pre class="letter-text[^"]*"[^>]*>(.*?)</pre>', page, re.S)
    assert match, "no letter text in page"
    return html.unescape(match.group(1))


def _nothing_bound() -> None:
    assert not Relationship.objects.exists()
    assert not Authorization.objects.exists()
    assert not CommitmentLetter.objects.exists()


def _bind_through_pages(client, rows, *, name: str, image: str = ""):
    """Steps 1–3 of the wizard; returns (response of the sign POST, text previewed on step 2)."""
    response = client.post(BIND, _members_data(rows))
    assert response.status_code == 302, _html(response)
    assert response["Location"] == f"{BIND}?step=review"
    review = client.get(f"{BIND}?step=review")
    previewed = review.context["letter_text"]
    assert _pre_text(_html(review)) == previewed
    sign = client.get(f"{BIND}?step=sign")
    page = _html(sign)
    assert _pre_text(page) == previewed
    letter_hash = _hidden(page, "letter_hash")
    assert letter_hash == CommitmentLetter.hash_text(previewed)
    response = client.post(
        BIND,
        {
            "step": "sign",
            "signed_name": name,
            "signature_image": image,
            "letter_hash": letter_hash,
        },
    )
    return response, previewed


# ---------------------------------------------------------------------------------------------
# anonymous, staff, unclaimed logins


def _object_urls(authorization: Authorization, letter: CommitmentLetter) -> list[str]:
    return [
        reverse("family:letter-detail", args=[letter.public_id]),
        reverse("family:authorization-detail", args=[authorization.public_id]),
        reverse("family:window-change", args=[authorization.public_id]),
        reverse("family:cap-set", args=[authorization.public_id]),
    ]


def test_anonymous_is_sent_to_login(client, demo):
    authorization = Authorization.objects.get(member=demo["王小明"])
    letter = CommitmentLetter.objects.get(holder=demo["王建国"])
    for url in [OVERVIEW, BIND, *_object_urls(authorization, letter)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url


def test_another_citizen_gets_404_for_every_object_of_the_holder(client, demo):
    authorization = Authorization.objects.get(member=demo["王小明"])
    letter = CommitmentLetter.objects.get(holder=demo["王建国"])
    client.force_login(demo["张伟"].user)  # unrelated holder
    for url in _object_urls(authorization, letter):
        assert client.get(url).status_code == 404, url
    window_url, cap_url = _object_urls(authorization, letter)[2:]
    assert client.post(window_url, {"step": "window", "window_end": ""}).status_code == 404
    assert client.post(cap_url, {"cap": "1.00"}).status_code == 404
    authorization.refresh_from_db()
    assert authorization.payment_cap is None


def test_the_member_is_not_the_holder_either(client, demo):
    """王德胜 is in the relationship, as a member: the holder's pages are still 404 for him."""
    authorization = Authorization.objects.get(member=demo["王德胜"])
    letter = CommitmentLetter.objects.get(holder=demo["王建国"])
    client.force_login(demo["王德胜"].user)
    for url in _object_urls(authorization, letter):
        assert client.get(url).status_code == 404, url


def test_random_uuid_is_404(client, demo):
    client.force_login(demo["王建国"].user)
    random_id = uuid.uuid4()
    for name in ["letter-detail", "authorization-detail", "window-change", "cap-set"]:
        assert client.get(reverse(f"family:{name}", args=[random_id])).status_code == 404, name


def test_staff_and_unclaimed_logins_get_a_clear_message(client, demo):
    authorization = Authorization.objects.get(member=demo["王小明"])
    letter = CommitmentLetter.objects.get(holder=demo["王建国"])
    staff = StaffUserFactory()
    staff.save()  # the factory sets the password without saving it
    client.force_login(staff)
    response = client.get(OVERVIEW)
    assert response.status_code == 200
    assert "您以经办人员身份登录" in _html(response)
    assert client.get(BIND).status_code == 302  # to the overview, which explains
    for url in _object_urls(authorization, letter):
        assert client.get(url).status_code == 404, url

    bare = User.objects.create_user(username="no-person", password="x-Unused-1")
    client.force_login(bare)
    response = client.get(OVERVIEW)
    assert response.status_code == 200
    assert "没有关联参保人信息" in _html(response)
    response = client.get(BIND, follow=True)
    assert "没有关联参保人信息" in _html(response)


# ---------------------------------------------------------------------------------------------
# overview


def test_overview_as_holder_lists_members_windows_states_and_letters(client, demo):
    client.force_login(demo["王建国"].user)
    response = client.get(OVERVIEW)
    page = _html(response)
    assert response.status_code == 200
    for name in ["王小明", "王德胜"]:
        assert name in page
    assert demo["王小明"].masked_id_number in page
    assert demo["王小明"].id_number not in page  # never the full number
    assert "长期有效" in page  # 王小明's open end
    assert DESHENG_END_SHOWN in page  # 王德胜's end, Asia/Shanghai
    assert "已授权" in page
    for authorization in Authorization.objects.filter(holder=demo["王建国"]):
        assert reverse("family:authorization-detail", args=[authorization.public_id]) in page
    letter = CommitmentLetter.objects.get(holder=demo["王建国"])
    assert reverse("family:letter-detail", args=[letter.public_id]) in page
    assert f'href="{BIND}"' in page


def test_overview_as_member_lists_who_pays_in_order_with_leave_and_order_links(client, demo):
    authorization = Authorization.objects.get(member=demo["王德胜"])
    client.force_login(demo["王德胜"].user)
    page = _html(client.get(OVERVIEW))
    assert "王建国" in page
    assert "您是其父母" in page
    assert '<span class="order-position" aria-hidden="true">1</span>' in page
    assert reverse("family:leave", args=[authorization.public_id]) in page
    assert reverse("family:order") in page


def test_overview_shows_wards_with_their_order_link(client, demo):
    """马志强 binds the minor 马小燕, so he may set her deduction order (R10)."""
    client.force_login(demo["马志强"].user)
    page = _html(client.get(OVERVIEW))
    assert "我代为办理的家庭成员" in page
    assert reverse("family:order-member", args=[demo["马小燕"].public_id]) in page


def test_overview_explains_that_a_resident_cannot_be_holder(client, demo):
    client.force_login(demo["王丽"].user)  # resident scheme, nobody binds her
    page = _html(client.get(OVERVIEW))
    assert "不能作为主账户人" in page  # R2
    assert "目前没有人授权您使用其个人账户" in page
    assert f'href="{BIND}"' not in page


def test_overview_shows_pending_consents_with_a_link(client, demo_unbound):
    mother, daughter = demo_unbound["李秀英"], demo_unbound["王丽"]
    services.relationship_bind(
        holder=mother,
        members=[services.MemberRequest(daughter, Relation.CHILD, None, None)],
        signature=services.Signature(name=mother.name),
        actor=mother.user,
        channel=AuditEntry.Channel.ONLINE,
    )
    client.force_login(daughter.user)
    page = _html(client.get(OVERVIEW))
    assert "您有 1 条家庭共济绑定请求等待您确认" in page
    assert reverse("family:consents") in page
    assert "待成员确认" in page


# ---------------------------------------------------------------------------------------------
# bind wizard


def test_wizard_binds_a_child_under_16_active_at_once(client, demo_unbound):
    holder, child = demo_unbound["王建国"], demo_unbound["王小明"]
    client.force_login(holder.user)
    assert client.get(BIND).status_code == 200
    response, previewed = _bind_through_pages(
        client, [_row(child, Relation.CHILD)], name="王建国", image=PNG
    )
    letter = CommitmentLetter.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("family:letter-detail", args=[letter.public_id])
    # R7: the stored text is exactly what the holder read; the drawn signature is kept
    # (re-encoded by the server: the same pixels, never the bytes as sent).
    assert letter.text == previewed
    assert letter.text_intact
    assert letter.signature_image == services.signature_image_clean(PNG)
    assert letter.channel == AuditEntry.Channel.ONLINE
    assert letter.signed_by == holder.user
    assert letter.purpose == CommitmentLetter.Purpose.BIND
    authorization = Authorization.objects.get()
    assert authorization.member == child
    assert authorization.status == Authorization.Status.ACTIVE  # R8: under 16
    assert authorization.window_end is None
    assert DRAFT_SESSION_KEY not in client.session
    page = _html(client.get(response["Location"]))
    assert "承诺书已签署。现已生效：王小明。" in page
    assert f'src="{letter.signature_image}"' in page


def test_wizard_binds_a_member_from_16_pending_their_consent(client, demo_unbound):
    holder, daughter = demo_unbound["王建国"], demo_unbound["王丽"]
    client.force_login(holder.user)
    end = timezone.now() + dt.timedelta(days=400)
    response, previewed = _bind_through_pages(
        client, [_row(daughter, Relation.CHILD, end=_local(end))], name=" 王建国 "
    )
    assert response.status_code == 302
    letter = CommitmentLetter.objects.get()
    assert letter.text == previewed
    assert letter.signature_image == ""
    authorization = Authorization.objects.get()
    assert authorization.status == Authorization.Status.PENDING_CONSENT  # R8: 16 or older
    assert authorization.window_end == end.replace(second=0, microsecond=0)
    page = _html(client.get(response["Location"], follow=True))
    deadline = timezone.localtime(authorization.consent_deadline)
    assert f"须本人在{deadline:%Y年%m月%d日 %H:%M:%S}前登录本系统确认同意后生效：王丽。" in page


def test_wizard_binds_several_and_says_who_is_active_and_who_must_confirm(client, demo_unbound):
    holder = demo_unbound["王建国"]
    client.force_login(holder.user)
    # "添加一人" works without JavaScript: the page comes back with one more row.
    later = timezone.now() + dt.timedelta(days=3)
    first = _row(demo_unbound["王小明"], Relation.CHILD, start=_local(later))
    response = client.post(BIND, _members_data([first], add="1"))
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 2
    assert f'name="{MEMBER_PREFIX}-1-name"' in _html(response)
    assert response.context["formset"].forms[0]["name"].value() == "王小明"
    _nothing_bound()
    rows = [
        first,
        _row(demo_unbound["王丽"], Relation.CHILD),
        _row(demo_unbound["王德胜"], Relation.PARENT),
    ]
    response, previewed = _bind_through_pages(client, rows, name="王建国")
    assert response.status_code == 302
    assert CommitmentLetter.objects.get().text == previewed
    assert Authorization.objects.count() == 3
    page = _html(client.get(response["Location"]))
    assert "现已生效" not in page
    assert "到授权开始时间后生效：王小明。" in page  # under 16, from a later start
    assert "确认同意后生效：王丽、王德胜。" in page  # R8: 16 or older


def test_an_empty_extra_row_is_ignored_and_a_row_can_be_removed(client, demo_unbound):
    client.force_login(demo_unbound["王建国"].user)
    rows = [
        _row(demo_unbound["王丽"], Relation.CHILD),
        _row(demo_unbound["王小明"], Relation.CHILD),
    ]
    response = client.post(BIND, _members_data(rows, remove="0"))
    forms = response.context["formset"].forms
    assert [f["name"].value() for f in forms] == ["王小明"]
    empty = {"relation": "", "name": "", "id_number": "", "window_start": "", "window_end": ""}
    response = client.post(BIND, _members_data([rows[1], empty]))
    assert response.status_code == 302
    assert client.session[DRAFT_SESSION_KEY]["rows"][0]["name"] == "王小明"
    assert len(client.session[DRAFT_SESSION_KEY]["rows"]) == 1


@pytest.mark.parametrize("remove", ["²", "٣", "１", "-1", "99999999999999999999", " 0"])
def test_a_remove_button_of_no_row_removes_nothing(client, demo_unbound, remove):
    """Found by tests/properties: "²".isdigit() is True and int("²") raised (a 500)."""
    client.force_login(demo_unbound["王建国"].user)
    rows = [
        _row(demo_unbound["王丽"], Relation.CHILD),
        _row(demo_unbound["王小明"], Relation.CHILD),
    ]
    response = client.post(BIND, _members_data(rows, remove=remove))
    assert response.status_code == 200
    assert [f["name"].value() for f in response.context["formset"].forms] == ["王丽", "王小明"]


def _past(minutes=60) -> str:
    return _local(timezone.now() - dt.timedelta(minutes=minutes))


def _future(days=1) -> str:
    return _local(timezone.now() + dt.timedelta(days=days))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_number": "320102201206011358"}, str(idnumber.ID_CHECK_DIGIT)),
        ({"name": "王晓明"}, str(family_errors.MEMBER_NOT_FOUND)),  # R3: not the register's name
        ({"window_start": "past"}, str(family_errors.WINDOW_START_PAST)),  # R6
        (
            {"window_start": "future3", "window_end": "future1"},
            str(family_errors.WINDOW_END_NOT_AFTER_START),
        ),  # fmt: skip
        ({"relation": ""}, "这个字段是必填项。"),
    ],
)
def test_bad_member_input_shows_the_message_and_creates_nothing(
    client, demo_unbound, changes, message
):
    values = {"past": _past(), "future1": _future(1), "future3": _future(3)}
    changes = {key: values.get(value, value) for key, value in changes.items()}
    client.force_login(demo_unbound["王建国"].user)
    response = client.post(
        BIND, _members_data([_row(demo_unbound["王小明"], Relation.CHILD, **changes)])
    )
    assert response.status_code == 200
    assert message in _html(response)
    assert DRAFT_SESSION_KEY not in client.session
    _nothing_bound()


def test_each_error_is_shown_next_to_its_own_row(client, demo_unbound):
    client.force_login(demo_unbound["王建国"].user)
    rows = [
        _row(demo_unbound["王小明"], Relation.CHILD),
        _row(demo_unbound["赵敏"], Relation.SIBLING),  # other province (R3)
        _row(demo_unbound["王小明"], Relation.CHILD),  # twice
    ]
    response = client.post(BIND, _members_data(rows))
    forms = response.context["formset"].forms
    assert forms[0].non_field_errors() == []
    assert forms[1].non_field_errors() == [
        str(family_errors.MEMBER_OUT_OF_SCOPE) % {"scope": "本省"}
    ]
    assert forms[2].non_field_errors() == [str(family_errors.MEMBER_DUPLICATED)]
    page = _html(response)
    assert str(family_errors.MEMBER_DUPLICATED) in page
    _nothing_bound()


def test_holder_level_problems_are_shown_above_the_rows(client, demo_unbound):
    """R2: a resident-scheme person cannot hold; told on arrival and on submit."""
    client.force_login(demo_unbound["王丽"].user)
    response = client.get(BIND)
    assert str(family_errors.HOLDER_NOT_EMPLOYEE) in _html(response)
    assert "<form" not in _html(response).split('id="main"')[1]
    response = client.post(BIND, _members_data([_row(demo_unbound["王小明"], Relation.SIBLING)]))
    assert response.context["formset"].non_form_errors() == [str(family_errors.HOLDER_NOT_EMPLOYEE)]
    assert str(family_errors.HOLDER_NOT_EMPLOYEE) in _html(response)
    _nothing_bound()


def test_wrong_typed_signature_name_is_refused_and_creates_nothing(client, demo_unbound):
    client.force_login(demo_unbound["王建国"].user)
    response, _previewed = _bind_through_pages(
        client, [_row(demo_unbound["王小明"], Relation.CHILD)], name="王建"
    )
    assert response.status_code == 200
    assert str(family_errors.SIGNATURE_NAME_MISMATCH) in _html(response)
    assert response.context["form"].errors["signed_name"] == [
        str(family_errors.SIGNATURE_NAME_MISMATCH)
    ]
    _nothing_bound()
    assert client.session[DRAFT_SESSION_KEY]  # the draft survives: sign again
    response = client.post(
        BIND,
        {
            "step": "sign",
            "signed_name": "王建国",
            "letter_hash": _hidden(_html(response), "letter_hash"),
        },
    )
    assert response.status_code == 302
    assert Authorization.objects.get().member == demo_unbound["王小明"]


def _signature_error(page: str) -> str:
    match = re.search(r'id="signature-image-error"[^>]*>\s*(.*?)\s*</div>', page, re.S)
    assert match, "no signature image error shown"
    return html.unescape(match.group(1))


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (bomb_url(), services.SIGNATURE_IMAGE_TOO_LARGE % {"width": 2000, "height": 1000}),
        (PNG[:-30], services.SIGNATURE_IMAGE_INVALID),  # cut short
        ("data:image/png;base64," + "QUJD" * 10, services.SIGNATURE_IMAGE_INVALID),  # "ABC…"
    ],
    ids=["bomb", "truncated", "not-a-png"],
)
def test_a_refused_drawing_is_shown_at_the_signature_and_creates_nothing(
    client, demo_unbound, image, message
):  # R7, issue 13
    client.force_login(demo_unbound["王建国"].user)
    response, _previewed = _bind_through_pages(
        client, [_row(demo_unbound["王小明"], Relation.CHILD)], name="王建国", image=image
    )
    assert response.status_code == 200
    page = _html(response)
    assert _signature_error(page) == str(message)
    assert response.context["form"].errors["signature_image"] == [str(message)]
    # The pad is told to drop the refused drawing; the typed name alone can sign again.
    assert re.search(r'<div class="signature-pad mb-3"[^>]*\bdata-signature-refused', page)
    _nothing_bound()
    assert client.session[DRAFT_SESSION_KEY]


def test_a_letter_that_changed_since_it_was_read_is_not_signed(client, demo_unbound):
    client.force_login(demo_unbound["王建国"].user)
    client.post(BIND, _members_data([_row(demo_unbound["王小明"], Relation.CHILD)]))
    response = client.post(BIND, {"step": "sign", "signed_name": "王建国", "letter_hash": "0" * 64})
    assert response.status_code == 200
    assert str(family_errors.LETTER_CHANGED) in _html(response)
    _nothing_bound()


def test_sign_step_without_a_draft_goes_back_to_step_one(client, demo_unbound):
    client.force_login(demo_unbound["王建国"].user)
    response = client.get(f"{BIND}?step=sign")
    assert response.status_code == 302
    assert response["Location"] == BIND
    response = client.post(BIND, {"step": "sign", "signed_name": "王建国", "letter_hash": "a" * 64})
    assert response.status_code == 302
    _nothing_bound()


def test_adding_to_an_existing_relationship_signs_an_add_members_letter(client, demo):
    client.force_login(demo["王建国"].user)
    response, previewed = _bind_through_pages(
        client, [_row(demo["王丽"], Relation.CHILD)], name="王建国"
    )
    assert response.status_code == 302
    letter = CommitmentLetter.objects.filter(holder=demo["王建国"]).latest("signed_at")
    assert letter.purpose == CommitmentLetter.Purpose.ADD_MEMBERS
    assert letter.text == previewed
    assert "王小明" in previewed and "王德胜" in previewed and "王丽" in previewed


# ---------------------------------------------------------------------------------------------
# letter page and authorization detail


def test_letter_page_shows_the_stored_text_and_its_facts(client, demo):
    letter = CommitmentLetter.objects.get(holder=demo["王建国"])
    client.force_login(demo["王建国"].user)
    response = client.get(reverse("family:letter-detail", args=[letter.public_id]))
    page = _html(response)
    assert _pre_text(page) == letter.text
    assert letter.verification_code in page
    assert letter.template_version in page
    assert "2024-12-31 10:00:00" in page  # signed at, Asia/Shanghai
    assert "网上服务" in page
    assert "内容完整" in page
    assert "未手写签名" in page


def test_authorization_detail_shows_window_state_cap_and_links(client, demo):
    authorization = Authorization.objects.get(member=demo["王德胜"])
    client.force_login(demo["王建国"].user)
    page = _html(client.get(reverse("family:authorization-detail", args=[authorization.public_id])))
    assert "王德胜" in page
    assert "父母" in page
    assert "2025-01-01 00:00" in page
    assert DESHENG_END_SHOWN in page
    assert "已授权" in page
    assert "不限" in page
    for name in ["window-change", "cap-set", "revoke"]:
        assert reverse(f"family:{name}", args=[authorization.public_id]) in page


def test_authorization_detail_shows_the_consent_deadline_while_pending(client, demo_unbound):
    holder, daughter = demo_unbound["王建国"], demo_unbound["王丽"]
    services.relationship_bind(
        holder=holder,
        members=[services.MemberRequest(daughter, Relation.CHILD, None, None)],
        signature=services.Signature(name=holder.name),
        actor=holder.user,
        channel=AuditEntry.Channel.ONLINE,
    )
    authorization = Authorization.objects.get()
    client.force_login(holder.user)
    page = _html(client.get(reverse("family:authorization-detail", args=[authorization.public_id])))
    assert "确认截止时间" in page
    assert f"{timezone.localtime(authorization.consent_deadline):%Y-%m-%d %H:%M}" in page


# ---------------------------------------------------------------------------------------------
# window change


def _window_url(authorization):
    return reverse("family:window-change", args=[authorization.public_id])


def test_window_change_previews_then_signs_a_new_letter(client, demo):
    authorization = Authorization.objects.get(member=demo["王德胜"])
    client.force_login(demo["王建国"].user)
    url = _window_url(authorization)
    page = _html(client.get(url))
    assert (
        f'value="{DESHENG_END_SHOWN.replace(" ", "T")}"' in page
    )  # the current end, as the input shows it
    new_end = timezone.now() + dt.timedelta(days=90)
    response = client.post(
        url, {"step": "window", "window_start": "", "window_end": _local(new_end)}
    )
    assert response.status_code == 200
    previewed = response.context["letter_text"]
    page = _html(response)
    assert _pre_text(page) == previewed
    letters_before = CommitmentLetter.objects.count()
    response = client.post(
        url,
        {
            "step": "sign",
            "window_start": _hidden(page, "window_start"),
            "window_end": _hidden(page, "window_end"),
            "signed_name": "王建国",
            "letter_hash": _hidden(page, "letter_hash"),
        },
    )
    assert response.status_code == 302
    assert CommitmentLetter.objects.count() == letters_before + 1
    letter = CommitmentLetter.objects.latest("signed_at")
    assert response["Location"] == reverse("family:letter-detail", args=[letter.public_id])
    assert letter.purpose == CommitmentLetter.Purpose.CHANGE_WINDOW
    assert letter.text == previewed
    authorization.refresh_from_db()
    assert authorization.window_end == new_end.replace(second=0, microsecond=0)
    assert authorization.window_start == START  # a blank start keeps the current one


@pytest.mark.parametrize(
    ("start", "end", "message", "field"),
    [
        ("", "past", family_errors.WINDOW_END_PAST, "window_end"),
        ("future3", "future1", family_errors.WINDOW_END_NOT_AFTER_START, "window_end"),
        ("past", "", family_errors.WINDOW_START_PAST, "window_start"),
    ],
)
def test_window_change_refused_by_r6_shows_the_message_and_changes_nothing(
    client, demo, start, end, message, field
):
    values = {"past": _past(), "future1": _future(1), "future3": _future(3), "": ""}
    authorization = Authorization.objects.get(member=demo["王德胜"])
    before = (authorization.window_start, authorization.window_end)
    letters_before = CommitmentLetter.objects.count()
    client.force_login(demo["王建国"].user)
    url = _window_url(authorization)
    data = {"step": "window", "window_start": values[start], "window_end": values[end]}
    # Refused at the first step, before any letter is shown for signing.
    response = client.post(url, data)
    assert response.status_code == 200
    assert 'name="letter_hash"' not in _html(response)
    assert str(message) in _html(response)
    assert response.context["form"].errors[field] == [str(message)]
    authorization.refresh_from_db()
    assert (authorization.window_start, authorization.window_end) == before
    assert CommitmentLetter.objects.count() == letters_before


def test_window_change_with_a_wrong_signature_name_changes_nothing(client, demo):
    authorization = Authorization.objects.get(member=demo["王德胜"])
    client.force_login(demo["王建国"].user)
    url = _window_url(authorization)
    page = _html(client.post(url, {"step": "window", "window_end": _future(30)}))
    response = client.post(
        url,
        {
            "step": "sign",
            "window_start": _hidden(page, "window_start"),
            "window_end": _hidden(page, "window_end"),
            "signed_name": "王德胜",
            "letter_hash": _hidden(page, "letter_hash"),
        },
    )
    assert response.status_code == 200
    assert str(family_errors.SIGNATURE_NAME_MISMATCH) in _html(response)
    authorization.refresh_from_db()
    assert authorization.window_end.year == 2026
    assert CommitmentLetter.objects.filter(purpose="change_window").count() == 0


def test_window_change_with_a_refused_drawing_changes_nothing(client, demo):  # issue 13
    authorization = Authorization.objects.get(member=demo["王德胜"])
    client.force_login(demo["王建国"].user)
    url = _window_url(authorization)
    page = _html(client.post(url, {"step": "window", "window_end": _future(30)}))
    response = client.post(
        url,
        {
            "step": "sign",
            "window_start": _hidden(page, "window_start"),
            "window_end": _hidden(page, "window_end"),
            "signed_name": "王建国",
            "signature_image": bomb_url(),
            "letter_hash": _hidden(page, "letter_hash"),
        },
    )
    assert response.status_code == 200
    assert _signature_error(_html(response)) == str(services.SIGNATURE_IMAGE_TOO_LARGE) % {
        "width": 2000,
        "height": 1000,
    }
    authorization.refresh_from_db()
    assert authorization.window_end.year == 2026
    assert CommitmentLetter.objects.filter(purpose="change_window").count() == 0


# ---------------------------------------------------------------------------------------------
# cap (R21)


def test_cap_is_set_and_cleared(client, demo):
    authorization = Authorization.objects.get(member=demo["王小明"])
    url = reverse("family:cap-set", args=[authorization.public_id])
    client.force_login(demo["王建国"].user)
    assert client.get(url).status_code == 200
    response = client.post(url, {"cap": "200.50"}, follow=True)
    assert "已将王小明的单笔支付上限设为200.50元。" in _html(response)
    authorization.refresh_from_db()
    assert authorization.payment_cap == Decimal("200.50")
    assert "200.50 元" in _html(response)
    client.post(url, {"cap": ""})
    authorization.refresh_from_db()
    assert authorization.payment_cap is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", str(family_errors.CAP_INVALID)),
        ("-5", str(family_errors.CAP_INVALID)),
        ("1.234", "max_decimal_places"),  # Django's own message, in the active language
        ("abc", "输入一个数字。"),
    ],
)
def test_bad_cap_is_refused_next_to_the_field(client, demo, value, message):
    if message == "max_decimal_places":
        message = DecimalValidator(14, 2).messages[message] % {"max": 2}
    authorization = Authorization.objects.get(member=demo["王小明"])
    client.force_login(demo["王建国"].user)
    response = client.post(
        reverse("family:cap-set", args=[authorization.public_id]), {"cap": value}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["cap"] == [message]
    authorization.refresh_from_db()
    assert authorization.payment_cap is None


# ---------------------------------------------------------------------------------------------
# query counts: the same with 1 member as with 6


# session, user, the header's inbox badge, then the page's own reads; none of them per member
OVERVIEW_QUERIES = 10
LETTER_QUERIES = 4
DETAIL_QUERIES = 5


def _children(region, count):
    return [
        InsuredPersonFactory(
            region=region,
            scheme=InsuredPerson.Scheme.RESIDENT,
            id_number=make_id_number(region.code, birth=dt.date(2015, 3, 1)),
        )
        for _ in range(count)
    ]


def _bind(holder, people):
    return services.relationship_bind(
        holder=holder,
        members=[services.MemberRequest(p, Relation.CHILD, None, None) for p in people],
        signature=services.Signature(name=holder.name),
        actor=holder.user,
        channel=AuditEntry.Channel.ONLINE,
        at=None,
    )


def _measure(client, django_assert_max_num_queries, holder) -> list[int]:
    letter = CommitmentLetter.objects.filter(holder=holder).latest("signed_at")
    authorization = Authorization.objects.filter(holder=holder).first()
    counts = []
    for url, bound in [
        (OVERVIEW, OVERVIEW_QUERIES),
        (reverse("family:letter-detail", args=[letter.public_id]), LETTER_QUERIES),
        (reverse("family:authorization-detail", args=[authorization.public_id]), DETAIL_QUERIES),
    ]:
        with django_assert_max_num_queries(bound) as captured:
            assert client.get(url).status_code == 200
        counts.append(len(captured))
    return counts


def test_query_counts_do_not_grow_with_members(client, demo_unbound, django_assert_max_num_queries):
    holder = demo_unbound["张伟"]
    client.force_login(holder.user)
    _bind(holder, _children(holder.region, 1))
    with_one = _measure(client, django_assert_max_num_queries, holder)
    _bind(holder, _children(holder.region, 5))
    assert Authorization.objects.filter(holder=holder).count() == 6
    with_six = _measure(client, django_assert_max_num_queries, holder)
    assert with_one == with_six


def test_the_sign_page_works_without_javascript(client, demo_unbound):
    """The drawing pad is hidden until signature-pad.js shows it; the typed name alone signs."""
    client.force_login(demo_unbound["王建国"].user)
    client.post(BIND, _members_data([_row(demo_unbound["王小明"], Relation.CHILD)]))
    page = _html(client.get(f"{BIND}?step=sign"))
    assert re.search(r"<div class=\"signature-pad mb-3\"[^>]*\bhidden>", page)
    assert '<input type="hidden" name="signature_image"' in page
    assert "/static/js/signature-pad.js" in page


def test_an_ended_authorization_can_no_longer_be_changed(client, demo):
    holder = demo["王建国"]
    authorization = Authorization.objects.get(member=demo["王德胜"])
    services.authorization_revoke(
        authorization=authorization, actor=holder.user, channel=AuditEntry.Channel.ONLINE
    )
    client.force_login(holder.user)
    detail = _html(
        client.get(reverse("family:authorization-detail", args=[authorization.public_id]))
    )
    assert "该授权已终止" in detail
    assert _window_url(authorization) not in detail
    letters_before = CommitmentLetter.objects.count()
    response = client.post(_window_url(authorization), {"step": "window", "window_end": _future()})
    assert "该授权已终止，不能再变更。" in _html(response)
    assert "letter_text" not in response.context
    assert CommitmentLetter.objects.count() == letters_before
