"""Pages: what a citizen sees and what bad input does (a clear Chinese message, nothing changed)."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from accounts import services
from accounts.demo import CITIZEN_PASSWORD, STAFF_PASSWORD
from accounts.forms import LOGIN_INVALID, PASSWORDS_DIFFER
from accounts.models import AuditEntry, User
from accounts.views import ACTIVATED

WANG = "32010219750312123X"
LOCKED_TEXT = "登录失败次数过多，账号已被锁定30分钟"


def _html(response) -> str:
    return response.content.decode()


def _activation_data(**changes):
    data = {
        "id_number": "320102201206011359",  # 王小明, not activated in the cast
        "name": "王小明",
        "phone": "13800000003",
        "password1": "Xiaoming-2026!",
        "password2": "Xiaoming-2026!",
    }
    return {**data, **changes}


def test_activation_page_activates_and_logs_in(client, demo):
    response = client.post(reverse("accounts:activate"), _activation_data(), follow=True)
    assert str(ACTIVATED) in _html(response)
    assert "您好，王小明" in _html(response)
    demo["王小明"].refresh_from_db()
    assert demo["王小明"].user is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_number": "320102201206011358"}, "身份证号码校验位不正确，请核对后重新输入"),
        ({"id_number": "320102203006011359"}, "身份证号码中的出生日期不能晚于今天"),
        ({"name": "王晓明"}, str(services.ACTIVATION_MISMATCH)),
        ({"phone": "13900000003"}, str(services.ACTIVATION_MISMATCH)),
        ({"password1": "12345678", "password2": "12345678"}, "这个密码太常见了。"),
        ({"password1": "Ab1!", "password2": "Ab1!"}, "密码长度太短。密码必须包含至少 8 个字符。"),
        ({"password2": "Xiaoming-2027!"}, str(PASSWORDS_DIFFER)),
        ({"phone": "1380000"}, "请输入11位手机号码"),
    ],
)
def test_bad_activation_input_shows_a_chinese_message_and_changes_nothing(
    client, demo, changes, message
):
    users_before = User.objects.count()
    audit_before = AuditEntry.objects.count()
    response = client.post(reverse("accounts:activate"), _activation_data(**changes))
    assert response.status_code == 200
    assert message in _html(response)
    assert User.objects.count() == users_before
    assert AuditEntry.objects.count() == audit_before
    assert "_auth_user_id" not in client.session


def test_already_activated_person_is_told_to_log_in(client, demo):
    data = _activation_data(
        id_number=WANG, name="王建国", phone="13800000001", password1="Abc-12345!x"
    )
    data["password2"] = data["password1"]
    response = client.post(reverse("accounts:activate"), data)
    assert str(services.ACTIVATION_ALREADY_DONE) in _html(response)


def test_login_with_identity_number_lower_case_x(client, demo):
    response = client.post(
        reverse("accounts:login"),
        {"username": "32010219750312123x", "password": CITIZEN_PASSWORD},
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(demo["王建国"].user_id)


def test_sixth_wrong_password_locks_the_identity_number(client, demo):
    url = reverse("accounts:login")
    for attempt in range(1, 6):
        response = client.post(url, {"username": WANG, "password": f"wrong-{attempt}"})
        assert response.status_code == 200, attempt
        assert str(LOGIN_INVALID) in _html(response)
    response = client.post(url, {"username": WANG, "password": "wrong-6"})
    assert response.status_code == 429
    assert LOCKED_TEXT in _html(response)
    # Even the right password is refused while locked; nobody is logged in.
    response = client.post(url, {"username": WANG.lower(), "password": CITIZEN_PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # six wrong passwords, then the refused attempt made while locked
    assert AccessAttempt.objects.get(username=WANG).failures_since_start == 7


def test_lockout_of_one_identity_number_does_not_lock_another_from_elsewhere(client, demo):
    url = reverse("accounts:login")
    for attempt in range(6):
        client.post(url, {"username": WANG, "password": f"x{attempt}"}, REMOTE_ADDR="10.1.1.1")
    response = client.post(
        url,
        {"username": "320104197708252463", "password": CITIZEN_PASSWORD},
        REMOTE_ADDR="10.2.2.2",
    )
    assert response.status_code == 302


def test_citizen_cannot_open_admin_but_staff_can(client, demo):
    client.force_login(demo["王建国"].user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    client.logout()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "js_clerk", "password": STAFF_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_citizen_credentials_do_not_open_admin(client, demo):
    response = client.post(
        "/admin/login/?next=/admin/", {"username": WANG, "password": CITIZEN_PASSWORD}
    )
    assert response.status_code == 200  # the admin refuses non-staff: stays on its login form
    assert client.get("/admin/").status_code == 302


def test_home_shows_the_person_card_masked_in_a_constant_number_of_queries(
    client, demo, django_assert_max_num_queries
):
    client.force_login(demo["王建国"].user)
    with django_assert_max_num_queries(4):  # session, user, person with region, inbox badge
        response = client.get("/")
    html = _html(response)
    assert "3201**********123X" in html
    assert WANG not in html
    for text in ["王建国", "职工医保", "正常参保", "南京市（江苏省）"]:
        assert text in html


def test_home_for_a_transferred_person_says_mutual_aid_is_unavailable(client, demo):
    client.force_login(demo["孙强"].user)
    html = _html(client.get("/"))
    assert "已转出" in html
    assert "您当前不是正常参保状态，不能使用家庭共济" in html


def test_anonymous_home_offers_login_and_activation_and_explains_qinqing(client, db):
    html = _html(client.get("/"))
    assert reverse("accounts:login") in html
    assert reverse("accounts:activate") in html
    assert "亲情账户" in html


def test_chinese_is_the_default_language(client, db):
    html = _html(client.get("/"))
    assert '<html lang="zh-Hans">' in html
    assert "职工医保个人账户家庭共济" in html


def test_language_switch_to_english_and_back(client, demo):
    client.force_login(demo["王建国"].user)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"}, follow=True)
    html = _html(response)
    assert '<html lang="en">' in html
    assert "Family mutual aid" in html
    assert "My insurance details" in html
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": "/"}, follow=True
    )
    assert "我的参保信息" in _html(response)


def test_password_change_requires_the_old_password(client, demo):
    user = demo["王建国"].user
    client.force_login(user)
    url = reverse("accounts:password-change")
    response = client.post(
        url,
        {
            "old_password": "wrong",
            "new_password1": "Xin-2026-mima",
            "new_password2": "Xin-2026-mima",
        },
    )
    assert "你的旧密码不正确。请重新输入。" in _html(response)
    user.refresh_from_db()
    assert user.check_password(CITIZEN_PASSWORD)
    response = client.post(
        url,
        {
            "old_password": CITIZEN_PASSWORD,
            "new_password1": "Xin-2026-mima",
            "new_password2": "Xin-2026-mima",
        },
        follow=True,
    )
    assert "密码已修改" in _html(response)
    user.refresh_from_db()
    assert user.check_password("Xin-2026-mima")
    assert client.session["_auth_user_id"] == str(user.pk)  # still logged in
    assert AuditEntry.objects.filter(action="user.password_change", actor=user).count() == 1


def test_logout_is_a_post(client, demo):
    client.force_login(demo["王建国"].user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session


def test_csrf_is_enforced_on_login(demo):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("accounts:login"), {"username": WANG, "password": "x"})
    assert response.status_code == 403


def test_activation_is_rate_limited_per_address(client, demo):
    data = _activation_data(name="不对")
    for _ in range(20):
        assert client.post(reverse("accounts:activate"), data).status_code == 200
    response = client.post(reverse("accounts:activate"), data)
    assert response.status_code == 429
    assert "操作过于频繁，请稍后再试" in _html(response)
