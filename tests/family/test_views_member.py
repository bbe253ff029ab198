"""Member pages: pending consents and the answer (R8, R22), the deduction order (R10, R21), the
revoke and leave confirmations (R15) and 共济账户授权记录查询 (R15).

Walks the pages with Django's test client as a citizen would, on PostgreSQL. State is made through
the real services (tests/family/builders.py) at the real "now", because the pages read the clock.
A refused action must show the exact message constant and change nothing; every object page
answers 404 to anyone it does not belong to."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, User
from family import errors as family_errors
from family import selectors, services
from family.forms.member import ANSWER_MISSING, DATES_REVERSED
from family.models import Authorization, Guardianship, Relation, Relationship
from family.views.member import (
    CONSENT_AGREED,
    CONSENT_DECLINED,
    LEFT,
    ORDER_MOVED,
    ORDER_ROW_GONE,
    RECORDS_FILTER_INVALID,
    REVOKED,
)
from tests.factories import StaffUserFactory, citizen_activate, make_id_number

from .builders import (
    COUNTER,
    SYSTEM,
    A,
    actions_since,
    audit_mark,
    audit_since,
    bind,
    fund,
    live,
    req,
)

CONSENTS = reverse("family:consents")
ORDER = reverse("family:order")
RECORDS = reverse("family:records")
OVERVIEW = reverse("family:overview")
_phones = itertools.count(1)


def _html(response) -> str:
    return response.content.decode()


def _text(response) -> str:
    """The page's visible words, tags removed (a message may span inline elements)."""
    return html.unescape(re.sub(r"<[^>]+>", "", _html(response)))


def _answer_url(authorization) -> str:
    return reverse("family:consent-answer", args=[authorization.public_id])


def _revoke_url(authorization) -> str:
    return reverse("family:revoke", args=[authorization.public_id])


def _leave_url(authorization) -> str:
    return reverse("family:leave", args=[authorization.public_id])


def _order_url(member) -> str:
    return reverse("family:order-member", args=[member.public_id])


def _now_bind(holder, *requests):
    """A binding signed now (the pages compare with the real clock)."""
    return bind(holder, *requests, at=None)


def _pending_for_wangli(demo_unbound) -> Authorization:
    """王建国 binds his daughter 王丽 (over 16): the request waits for her answer (R8)."""
    _now_bind(demo_unbound["王建国"], req(demo_unbound["王丽"], Relation.CHILD))
    authorization = live(demo_unbound["王建国"], demo_unbound["王丽"])
    assert authorization.status == A.PENDING_CONSENT
    return authorization


def _citizen(region_code: str, *, birth: dt.date, scheme: str, name: str) -> InsuredPerson:
    """A registered person with an online login (password CITIZEN_PASSWORD)."""
    number = make_id_number(region_code, birth)
    phone = f"137{next(_phones):08d}"
    person = account_services.insured_person_register(
        name=name,
        id_number=number,
        phone=phone,
        region=RegionPolicy.objects.get(code=region_code),
        scheme=scheme,
        actor=None,
        channel=SYSTEM,
    )
    citizen_activate(id_number=number, name=name, phone=phone, password=CITIZEN_PASSWORD)
    return InsuredPerson.objects.select_related("region", "user").get(pk=person.pk)


def _staff() -> User:
    staff = StaffUserFactory()
    staff.save()  # the factory sets the password without saving it
    return staff


def _guardian(guardian, ward) -> Guardianship:
    """R22: the bureau records a court-appointed guardian."""
    return services.guardianship_register(
        guardian=guardian,
        ward=ward,
        basis=Guardianship.Basis.COURT,
        document="（2025）宁民特1号",
        valid_from=dt.date(2025, 1, 1),
        valid_until=None,
        actor=_staff(),
        channel=COUNTER,
    )


def _order(member) -> list[str]:
    return [a.holder.name for a in selectors.deduction_order_for(member=member)]


# ---------------------------------------------------------------------------------------------
# anonymous, staff, unclaimed logins, other citizens


def _object_urls(demo) -> list[str]:
    desheng = Authorization.objects.get(member=demo["王德胜"])
    return [
        _answer_url(desheng),
        _revoke_url(desheng),
        _leave_url(desheng),
        _order_url(demo["马小燕"]),
    ]


def test_anonymous_is_sent_to_login(client, demo):
    for url in [CONSENTS, ORDER, RECORDS, *_object_urls(demo)]:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("accounts:login")), url


def test_staff_and_unclaimed_logins_get_a_clear_message(client, demo):
    client.force_login(_staff())
    for url in [CONSENTS, ORDER, RECORDS]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "您以经办人员身份登录" in _html(response), url
    for url in _object_urls(demo):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(ORDER, {"authorization": str(uuid.uuid4()), "direction": "up"}).status_code
        == 200
    )

    client.force_login(User.objects.create_user(username="no-person", password="x-Unused-1"))
    for url in [CONSENTS, ORDER, RECORDS]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "没有关联参保人信息" in _html(response), url
    for url in _object_urls(demo):
        assert client.get(url).status_code == 404, url


def test_every_object_page_is_404_for_another_citizen_and_for_a_random_id(client, demo):
    """IDOR: 张伟 is unrelated; a made-up id finds nothing either."""
    client.force_login(demo["张伟"].user)
    for url in _object_urls(demo):
        assert client.get(url).status_code == 404, url
        assert client.post(url).status_code == 404, url
    client.force_login(demo["王建国"].user)
    random_id = uuid.uuid4()
    for name in ["consent-answer", "revoke", "leave", "order-member"]:
        url = reverse(f"family:{name}", args=[random_id])
        assert client.get(url).status_code == 404, name
        assert client.post(url).status_code == 404, name


def test_a_post_to_revoke_someone_elses_authorization_changes_nothing(client, demo):
    desheng = Authorization.objects.get(member=demo["王德胜"])
    mark = audit_mark()
    for intruder in ["张伟", "王德胜", "李秀英"]:  # unrelated, the member himself, the spouse
        client.force_login(demo[intruder].user)
        response = client.post(_revoke_url(desheng), {"reason": "冒用"})
        assert response.status_code == 404, intruder
    desheng.refresh_from_db()
    assert desheng.status == A.ACTIVE
    assert audit_since(mark) == []


# ---------------------------------------------------------------------------------------------
# consents (R8, R22)


def test_pending_consent_is_listed_with_holder_relation_window_and_deadline(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client.force_login(demo_unbound["王丽"].user)
    response = client.get(CONSENTS)
    page = _text(response)
    assert response.status_code == 200
    assert "王建国请求为您支付" in page
    assert "王丽是王建国的子女" in page
    assert "长期有效" in page
    deadline = timezone.localtime(authorization.consent_deadline)
    assert f"{deadline:%Y-%m-%d %H:%M}" in page
    assert f'href="{_answer_url(authorization)}"' in _html(response)
    assert "查看并答复" in page


def test_nothing_pending_says_so(client, demo):
    client.force_login(demo["王德胜"].user)  # consented long ago
    assert "目前没有等待您确认的绑定请求" in _html(client.get(CONSENTS))


def test_answer_page_explains_what_agreeing_means(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client.force_login(demo_unbound["王丽"].user)
    response = client.get(_answer_url(authorization))
    page = _text(response)
    assert response.status_code == 200
    assert "王建国请求用其职工医保个人账户为您支付" in page
    assert "王丽是王建国的子女" in page
    assert "个人负担费用" in page and "城乡居民医保" in page  # what it pays (R12)
    assert "钱只从王建国的个人账户付出" in page  # R11
    assert "可以随时退出" in page  # R15
    assert 'type="password"' in _html(response)
    assert "登录密码" in page
    assert re.search(r'<button[^>]*name="answer"[^>]*value="agree"[^>]*>\s*同意', _html(response))
    assert re.search(r'<button[^>]*name="answer"[^>]*value="decline"[^>]*>\s*拒绝', _html(response))


def test_the_member_agrees_with_the_right_password(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    daughter = demo_unbound["王丽"]
    client.force_login(daughter.user)
    mark = audit_mark()
    response = client.post(
        _answer_url(authorization), {"password": CITIZEN_PASSWORD, "answer": "agree"}
    )
    assert response.status_code == 302
    assert response["Location"] == OVERVIEW
    authorization.refresh_from_db()
    assert authorization.status == A.ACTIVE
    assert authorization.answered_by == daughter.user
    entries = audit_since(mark)
    assert [e.action for e in entries] == ["authorization.consent"]
    assert entries[0].actor == daughter.user
    assert entries[0].channel == AuditEntry.Channel.ONLINE
    page = _html(client.get(OVERVIEW))
    assert str(CONSENT_AGREED) % {"holder": "王建国", "member": "王丽"} in page
    assert "您有 1 条" not in page


def test_a_wrong_password_shows_the_message_and_changes_nothing(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client.force_login(demo_unbound["王丽"].user)
    mark = audit_mark()
    response = client.post(
        _answer_url(authorization), {"password": "wrong-password", "answer": "agree"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password"][0] == str(
        family_errors.CONSENT_VERIFICATION_FAILED
    )  # then how many tries are left (issue 13 point 11: tests/family/test_consent_reauth.py)
    assert _html(response).count(str(family_errors.CONSENT_VERIFICATION_FAILED)) == 1
    assert 'value="wrong-password"' not in _html(response)  # never echoed back
    authorization.refresh_from_db()
    assert authorization.status == A.PENDING_CONSENT
    assert authorization.answered_at is None
    assert audit_since(mark) == []


def test_the_member_declines(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client.force_login(demo_unbound["王丽"].user)
    mark = audit_mark()
    response = client.post(
        _answer_url(authorization),
        {"password": CITIZEN_PASSWORD, "answer": "decline"},
        follow=True,
    )
    assert str(CONSENT_DECLINED) % {"holder": "王建国", "member": "王丽"} in _html(response)
    authorization.refresh_from_db()
    assert authorization.status == A.DECLINED
    assert authorization.ended_at is not None
    # the request was the only member: the holder's relationship ends with it
    assert actions_since(mark) == ["authorization.decline", "relationship.end"]
    relationship = Relationship.objects.get(pk=authorization.relationship_id)
    assert relationship.status == Relationship.Status.ENDED


def test_an_answer_without_a_button_is_refused(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client.force_login(demo_unbound["王丽"].user)
    for data in [{"password": CITIZEN_PASSWORD}, {"password": CITIZEN_PASSWORD, "answer": "x"}]:
        response = client.post(_answer_url(authorization), data)
        assert response.status_code == 200
        assert str(ANSWER_MISSING) in _html(response)
    authorization.refresh_from_db()
    assert authorization.status == A.PENDING_CONSENT


def test_an_answered_request_cannot_be_answered_again(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client.force_login(demo_unbound["王丽"].user)
    client.post(_answer_url(authorization), {"password": CITIZEN_PASSWORD, "answer": "agree"})
    response = client.get(_answer_url(authorization))
    assert "这个请求现在不能答复" in _text(response)
    assert 'type="password"' not in _html(response)
    assert _answer_url(authorization) not in _html(client.get(CONSENTS))
    mark = audit_mark()
    response = client.post(
        _answer_url(authorization), {"password": CITIZEN_PASSWORD, "answer": "decline"}
    )
    assert response.status_code == 200
    assert str(family_errors.CONSENT_NOT_PENDING) in _html(response)
    authorization.refresh_from_db()
    assert authorization.status == A.ACTIVE
    assert audit_since(mark) == []


def test_the_holder_cannot_answer_for_the_member(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client.force_login(demo_unbound["王建国"].user)
    assert client.get(_answer_url(authorization)).status_code == 404
    response = client.post(
        _answer_url(authorization), {"password": CITIZEN_PASSWORD, "answer": "agree"}
    )
    assert response.status_code == 404
    authorization.refresh_from_db()
    assert authorization.status == A.PENDING_CONSENT


def test_answers_are_throttled_per_login(client, demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client.force_login(demo_unbound["王丽"].user)
    url = _answer_url(authorization)
    # Wrong passwords lock the login at the sixth (tests/family/test_consent_reauth.py); posts
    # that fail otherwise (no answer button) are still limited to 10 per login and 15 minutes.
    for _ in range(10):
        assert client.post(url, {"password": CITIZEN_PASSWORD}).status_code == 200
    response = client.post(url, {"password": CITIZEN_PASSWORD, "answer": "agree"})
    assert response.status_code == 429
    authorization.refresh_from_db()
    assert authorization.status == A.PENDING_CONSENT
    assert client.get(url).status_code == 200  # reading is not throttled


def test_a_guardian_answers_for_a_ward(client, demo_unbound):
    """R22: 王德胜 has a court-appointed guardian (李秀英); she answers, he cannot."""
    holder, father, guardian = (
        demo_unbound["王建国"],
        demo_unbound["王德胜"],
        demo_unbound["李秀英"],
    )
    _guardian(guardian, father)
    _now_bind(holder, req(father, Relation.PARENT))
    authorization = live(holder, father)
    client.force_login(father.user)
    response = client.post(
        _answer_url(authorization), {"password": CITIZEN_PASSWORD, "answer": "agree"}
    )
    assert str(family_errors.CONSENT_GUARDIAN_REQUIRED) in _html(response)
    client.force_login(guardian.user)
    page = _text(client.get(CONSENTS))
    assert "王建国请求为王德胜支付" in page
    page = _text(client.get(_answer_url(authorization)))
    assert "您以监护人身份代王德胜答复" in page
    response = client.post(
        _answer_url(authorization), {"password": CITIZEN_PASSWORD, "answer": "agree"}
    )
    assert response.status_code == 302
    authorization.refresh_from_db()
    assert authorization.status == A.ACTIVE
    assert authorization.answered_by == guardian.user


# ---------------------------------------------------------------------------------------------
# deduction order (R10, R21)


def test_a_holder_moves_the_other_parent_up_for_a_minor(client, demo):
    """R10: 马小燕 is a minor; her father may set her order (马志强 first at the start)."""
    xiaoyan = demo["马小燕"]
    url = _order_url(xiaoyan)
    client.force_login(demo["马志强"].user)
    response = client.get(url)
    page = _html(response)
    assert response.status_code == 200
    assert page.index("马志强") < page.index("古丽娜")
    assert 'aria-label="下移 马志强"' in page
    assert 'aria-label="上移 古丽娜"' in page
    assert 'aria-label="上移 马志强"' not in page  # already first
    assert 'aria-label="下移 古丽娜"' not in page  # already last
    assert "按绑定先后顺序" in page  # R21 fallback explained
    assert "马小燕未成年" in page  # R10

    gulina = live(demo["古丽娜"], xiaoyan)
    mark = audit_mark()
    response = client.post(url, {"authorization": str(gulina.public_id), "direction": "up"})
    assert response.status_code == 302
    assert response["Location"] == url
    assert _order(xiaoyan) == ["古丽娜", "马志强"]
    entries = audit_since(mark)
    assert [e.action for e in entries] == ["member.deduction_order"]
    assert entries[0].actor == demo["马志强"].user
    assert entries[0].channel == AuditEntry.Channel.ONLINE
    page = _html(client.get(url))
    assert str(ORDER_MOVED) % {"holder": "古丽娜", "position": 1} in page

    zhiqiang = live(demo["马志强"], xiaoyan)
    client.post(url, {"authorization": str(zhiqiang.public_id), "direction": "up"})
    assert _order(xiaoyan) == ["马志强", "古丽娜"]


def test_the_other_holder_may_set_it_too(client, demo):
    xiaoyan = demo["马小燕"]
    client.force_login(demo["古丽娜"].user)
    zhiqiang = live(demo["马志强"], xiaoyan)
    response = client.post(
        _order_url(xiaoyan), {"authorization": str(zhiqiang.public_id), "direction": "down"}
    )
    assert response.status_code == 302
    assert _order(xiaoyan) == ["古丽娜", "马志强"]


def test_the_order_page_is_404_for_someone_unrelated(client, demo):
    xiaoyan = demo["马小燕"]
    gulina = live(demo["古丽娜"], xiaoyan)
    mark = audit_mark()
    for intruder in ["张伟", "王建国"]:
        client.force_login(demo[intruder].user)
        assert client.get(_order_url(xiaoyan)).status_code == 404
        response = client.post(
            _order_url(xiaoyan), {"authorization": str(gulina.public_id), "direction": "up"}
        )
        assert response.status_code == 404
        # Their own page does not take another member's row either.
        response = client.post(ORDER, {"authorization": str(gulina.public_id), "direction": "up"})
        assert response.status_code == 200
        assert str(ORDER_ROW_GONE) in _html(response)
    assert _order(xiaoyan) == ["马志强", "古丽娜"]
    assert audit_since(mark) == []


def test_a_posted_id_outside_the_members_list_changes_nothing(client, demo):
    xiaoyan = demo["马小燕"]
    client.force_login(demo["马志强"].user)
    other = Authorization.objects.get(member=demo["王小明"])  # not one of hers
    mark = audit_mark()
    for data in [
        {"authorization": str(other.public_id), "direction": "up"},
        {"authorization": str(uuid.uuid4()), "direction": "up"},
    ]:
        response = client.post(_order_url(xiaoyan), data)
        assert response.status_code == 200
        assert str(ORDER_ROW_GONE) in _html(response)
    for data in [{"authorization": "not-a-uuid", "direction": "up"}, {"direction": "sideways"}]:
        response = client.post(_order_url(xiaoyan), data)
        assert response.status_code == 200
        assert str(family_errors.ORDER_MISMATCH) in _html(response)
    assert _order(xiaoyan) == ["马志强", "古丽娜"]
    assert audit_since(mark) == []


def test_my_own_order_with_one_holder_has_nothing_to_move(client, demo):
    client.force_login(demo["王德胜"].user)
    response = client.get(ORDER)
    page = _text(response)
    assert response.status_code == 200
    assert "我的扣款顺序" in page
    assert "王建国" in page
    assert "王德胜是王建国的父母" in page
    assert "上移" not in page and "下移" not in page
    assert "由您本人设置" in page


def test_a_member_with_no_live_authorization_sees_an_explanation(client, demo):
    client.force_login(demo["王丽"].user)
    page = _text(client.get(ORDER))
    assert "目前没有主账户人授权您使用其个人账户" in page


def test_a_holders_own_order_page_links_to_the_minors_they_bind(client, demo):
    client.force_login(demo["马志强"].user)
    page = _html(client.get(ORDER))
    assert _order_url(demo["马小燕"]) in page


def test_a_member_with_a_guardian_cannot_set_their_own_order(client, demo):
    """R22: an adult with a court-appointed guardian; the guardian sets it."""
    father = demo["王德胜"]
    _guardian(demo["李秀英"], father)
    client.force_login(father.user)
    page = _html(client.get(ORDER))
    assert str(family_errors.ORDER_NOT_ALLOWED) in page
    assert 'name="direction"' not in page
    desheng = live(demo["王建国"], father)
    mark = audit_mark()
    response = client.post(ORDER, {"authorization": str(desheng.public_id), "direction": "down"})
    assert str(family_errors.ORDER_NOT_ALLOWED) in _html(response)
    assert audit_since(mark) == []
    client.force_login(demo["李秀英"].user)
    assert client.get(_order_url(father)).status_code == 200


# ---------------------------------------------------------------------------------------------
# revoke (R15)


def test_the_holder_revokes_after_a_confirmation(client, demo):
    holder = demo["王建国"]
    desheng = live(holder, demo["王德胜"])
    client.force_login(holder.user)
    response = client.get(_revoke_url(desheng))
    page = _text(response)
    assert response.status_code == 200
    assert "王德胜" in page and "父母" in page
    assert "立即生效" in page
    assert "在授权记录中查询" in page
    assert "签署新的承诺书" in page
    assert "最后一位成员" not in page  # 王小明 stays in the relationship
    assert re.search(r'<button[^>]*type="submit"[^>]*>\s*确认解除', _html(response))
    mark = audit_mark()
    response = client.post(_revoke_url(desheng), {"reason": "父亲已随女儿生活"})
    assert response.status_code == 302
    assert response["Location"] == OVERVIEW
    desheng.refresh_from_db()
    assert desheng.status == A.REVOKED
    assert desheng.end_note == "父亲已随女儿生活"
    entries = audit_since(mark)
    assert [e.action for e in entries] == ["authorization.revoke"]
    assert entries[0].actor == holder.user
    assert entries[0].channel == AuditEntry.Channel.ONLINE
    assert str(REVOKED) % {"member": "王德胜"} in _html(client.get(OVERVIEW))
    # the relationship goes on with 王小明
    assert live(holder, demo["王小明"]).status == A.ACTIVE


def test_revoking_the_last_member_says_the_relationship_ends_with_it(client, demo_unbound):
    holder, child = demo_unbound["张伟"], demo_unbound["王小明"]
    _now_bind(holder, req(child, Relation.CHILD))
    authorization = live(holder, child)
    client.force_login(holder.user)
    assert "最后一位成员" in _text(client.get(_revoke_url(authorization)))
    mark = audit_mark()
    assert client.post(_revoke_url(authorization), {"reason": ""}).status_code == 302
    assert actions_since(mark) == ["authorization.revoke", "relationship.end"]
    assert Relationship.objects.get(holder=holder).status == Relationship.Status.ENDED


def test_revoking_twice_shows_the_message_and_changes_nothing(client, demo):
    holder = demo["王建国"]
    desheng = live(holder, demo["王德胜"])
    client.force_login(holder.user)
    client.post(_revoke_url(desheng), {"reason": ""})
    page = _html(client.get(_revoke_url(desheng)))
    assert "该授权已终止" in page
    assert "确认解除" not in page
    mark = audit_mark()
    response = client.post(_revoke_url(desheng), {"reason": ""})
    assert response.status_code == 200
    assert str(family_errors.NOT_LIVE) in _html(response)
    assert audit_since(mark) == []


def test_a_too_long_reason_is_refused_next_to_the_field(client, demo):
    holder = demo["王建国"]
    desheng = live(holder, demo["王德胜"])
    client.force_login(holder.user)
    response = client.post(_revoke_url(desheng), {"reason": "长" * 201})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    desheng.refresh_from_db()
    assert desheng.status == A.ACTIVE


# ---------------------------------------------------------------------------------------------
# leave (R15, R22)


def test_the_member_leaves_after_a_confirmation(client, demo):
    father = demo["王德胜"]
    desheng = live(demo["王建国"], father)
    client.force_login(father.user)
    response = client.get(_leave_url(desheng))
    page = _text(response)
    assert response.status_code == 200
    assert "退出王建国的家庭共济" in page
    assert "立即生效" in page
    assert "最后一位成员" not in page
    assert "确认退出" in page
    mark = audit_mark()
    response = client.post(_leave_url(desheng))
    assert response.status_code == 302
    assert response["Location"] == OVERVIEW
    desheng.refresh_from_db()
    assert desheng.status == A.LEFT
    entries = audit_since(mark)
    assert [e.action for e in entries] == ["authorization.leave"]
    assert entries[0].actor == father.user
    assert entries[0].channel == AuditEntry.Channel.ONLINE
    assert str(LEFT) % {"holder": "王建国", "member": "王德胜"} in _html(client.get(OVERVIEW))


def test_leave_is_404_for_the_holder_and_others(client, demo):
    desheng = live(demo["王建国"], demo["王德胜"])
    for name in ["王建国", "张伟", "李秀英"]:
        client.force_login(demo[name].user)
        assert client.get(_leave_url(desheng)).status_code == 404, name
        assert client.post(_leave_url(desheng)).status_code == 404, name
    desheng.refresh_from_db()
    assert desheng.status == A.ACTIVE


def test_a_guardian_leaves_for_a_ward_and_a_second_leave_is_refused(client, demo):
    father = demo["王德胜"]
    _guardian(demo["李秀英"], father)
    desheng = live(demo["王建国"], father)
    client.force_login(demo["李秀英"].user)
    page = _text(client.get(_leave_url(desheng)))
    assert "为王德胜退出王建国的家庭共济" in page
    assert client.post(_leave_url(desheng)).status_code == 302
    desheng.refresh_from_db()
    assert desheng.status == A.LEFT
    mark = audit_mark()
    response = client.post(_leave_url(desheng))
    assert response.status_code == 200
    assert str(family_errors.NOT_LIVE) in _html(response)
    assert audit_since(mark) == []


# ---------------------------------------------------------------------------------------------
# records (R15)


def _churn(holder, child, times: int) -> None:
    """Bind and revoke the same child again and again: every round is a record."""
    for _ in range(times):
        _now_bind(holder, req(child, Relation.CHILD))
        services.authorization_revoke(
            authorization=live(holder, child), actor=holder.user, channel="online"
        )


def test_records_show_both_roles(client, demo):
    client.force_login(demo["王建国"].user)
    page = _text(client.get(RECORDS))
    assert "共 2 条记录" in page
    assert page.count("我是主账户人") == 2
    assert "对方是我的子女" in page and "对方是我的父母" in page
    assert "2025-01-01 00:00" in page  # window start
    client.force_login(demo["王德胜"].user)
    page = _text(client.get(RECORDS))
    assert "我是共济成员" in page
    assert "我是对方的父母" in page
    assert "王建国" in page


def test_records_are_paginated_and_links_keep_the_filters(client, demo_unbound):
    holder, child = demo_unbound["张伟"], demo_unbound["王小明"]
    _churn(holder, child, 23)
    _now_bind(holder, req(child, Relation.CHILD))  # one live at the end
    client.force_login(holder.user)
    response = client.get(RECORDS)
    assert "共 24 条记录" in _text(response)
    assert len(response.context["rows"]) == 20
    assert response.context["rows"][0].status == A.ACTIVE  # newest first
    page2 = client.get(RECORDS, {"page": 2})
    assert len(page2.context["rows"]) == 4

    response = client.get(RECORDS, {"status": "revoked"})
    assert "共 23 条记录" in _text(response)
    assert all(row.status == A.REVOKED for row in response.context["rows"])
    assert "?status=revoked&amp;page=2" in _html(response)
    response = client.get(RECORDS, {"status": "revoked", "page": 2})
    assert len(response.context["rows"]) == 3
    assert "?status=revoked&amp;page=1" in _html(response)
    assert client.get(RECORDS, {"page": 999}).context["page_obj"].number == 2


def test_records_filter_by_status_and_dates(client, demo):
    client.force_login(demo["王建国"].user)
    services.authorization_revoke(
        authorization=live(demo["王建国"], demo["王德胜"]),
        actor=demo["王建国"].user,
        channel="online",
    )
    response = client.get(RECORDS, {"status": "active"})
    assert [r.member.name for r in response.context["rows"]] == ["王小明"]
    response = client.get(RECORDS, {"status": "revoked"})
    assert [r.member.name for r in response.context["rows"]] == ["王德胜"]
    assert "主账户人已解除" in _text(response)
    # bound on 2024-12-31; 王德胜's record also ended today
    today = timezone.localdate().isoformat()
    response = client.get(RECORDS, {"date_from": today})
    assert [r.member.name for r in response.context["rows"]] == ["王德胜"]
    response = client.get(RECORDS, {"date_to": "2024-12-30"})
    assert response.context["rows"] == []
    assert "没有符合条件的记录" in _text(response)
    response = client.get(RECORDS, {"date_from": "2024-12-31", "date_to": "2024-12-31"})
    assert len(response.context["rows"]) == 2
    assert 'value="2024-12-31"' in _html(response)  # the filter stays in the form
    # Bound before 2025 and revoked after it: nothing happened within 2025.
    response = client.get(RECORDS, {"date_from": "2025-01-01", "date_to": "2025-12-31"})
    assert response.context["rows"] == []


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "2025-13-45"}, "date_from", "输入一个有效的日期。"),
        ({"date_to": "yesterday"}, "date_to", "输入一个有效的日期。"),
        ({"date_from": "2025-06-01", "date_to": "2025-01-01"}, "date_to", str(DATES_REVERSED)),
        ({"status": "paid"}, "status", None),
    ],
)
def test_bad_filters_show_a_message_and_list_nothing(client, demo, query, field, message):
    client.force_login(demo["王建国"].user)
    response = client.get(RECORDS, query)
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    if message:
        assert errors == [message]
    assert errors[0] in _text(response)
    assert str(RECORDS_FILTER_INVALID) in _html(response)
    assert "rows" not in response.context


# ---------------------------------------------------------------------------------------------
# query counts: the same bound for 1 row and for many


# session, user and the header's inbox badge, then the page's own reads; none of them per row
CONSENTS_QUERIES = 5  # + person, pending requests with their people
ANSWER_QUERIES = 5  # + person, the request (with people, scoped to member or guardian)
ORDER_QUERIES = 9  # + person(s), member, guardian check, the order, wards
RECORDS_QUERIES = 6  # + person, count, one page of rows with their people
CONFIRM_QUERIES = 6  # + (leave: person,) the authorization, other live members


def _xinjiang_holders(member, count: int, first: int = 0) -> list[Authorization]:
    """Wujiaqu holders (several per member, R5) who each ask to pay for `member` (pending)."""
    made = []
    for n in range(first, first + count):
        holder = _citizen(
            "659004",
            birth=dt.date(1970, 1, 1 + n),
            scheme=InsuredPerson.Scheme.EMPLOYEE,
            name=f"马主账户{n}",
        )
        fund(holder)
        _now_bind(holder, req(member, Relation.SIBLING))
        made.append(live(holder, member))
    return made


def _counts(client, django_assert_max_num_queries, urls) -> list[int]:
    counts = []
    for url, bound in urls:
        with django_assert_max_num_queries(bound) as captured:
            assert client.get(url).status_code == 200, url
        counts.append(len(captured))
    return counts


def _measure(client, django_assert_max_num_queries, member, made) -> list[int]:
    """Every member page while requests wait, then once they are all agreed to."""
    client.force_login(member.user)
    counts = _counts(
        client,
        django_assert_max_num_queries,
        [(CONSENTS, CONSENTS_QUERIES), (_answer_url(made[-1]), ANSWER_QUERIES)],
    )
    for authorization in Authorization.objects.filter(member=member, status=A.PENDING_CONSENT):
        services.authorization_answer(
            authorization=authorization, agree=True, actor=member.user, evidence=CITIZEN_PASSWORD
        )
    counts += _counts(
        client,
        django_assert_max_num_queries,
        [
            (ORDER, ORDER_QUERIES),
            (_order_url(member), ORDER_QUERIES),
            (RECORDS, RECORDS_QUERIES),
            (_leave_url(made[-1]), CONFIRM_QUERIES),
        ],
    )
    client.force_login(made[-1].holder.user)
    counts += _counts(
        client, django_assert_max_num_queries, [(_revoke_url(made[-1]), CONFIRM_QUERIES)]
    )
    return counts


def test_member_pages_query_counts_do_not_grow(client, demo_unbound, django_assert_max_num_queries):
    member = _citizen(
        "659004", birth=dt.date(2000, 5, 1), scheme=InsuredPerson.Scheme.RESIDENT, name="马成员"
    )
    made = _xinjiang_holders(member, 1)
    with_one = _measure(client, django_assert_max_num_queries, member, made)
    made += _xinjiang_holders(member, 4, first=1)
    assert len(selectors.deduction_order_for(member=member)) == 5
    with_five = _measure(client, django_assert_max_num_queries, member, made)
    assert with_one == with_five


def test_records_query_count_is_the_same_for_one_row_and_for_a_full_page(
    client, demo_unbound, django_assert_max_num_queries
):
    holder, child = demo_unbound["张伟"], demo_unbound["王小明"]
    client.force_login(holder.user)
    _churn(holder, child, 1)
    one = _counts(client, django_assert_max_num_queries, [(RECORDS, RECORDS_QUERIES)])
    _churn(holder, child, 24)
    many = _counts(
        client,
        django_assert_max_num_queries,
        [(RECORDS, RECORDS_QUERIES), (f"{RECORDS}?status=revoked&page=2", RECORDS_QUERIES)],
    )
    assert one == many[:1] == many[1:]
