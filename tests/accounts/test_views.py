"""Pages: what a citizen sees and what bad input does (a clear Chinese message, nothing changed)."""

from axes.models import AccessAttempt
from django.urls import reverse

from accounts.demo import CITIZEN_PASSWORD, STAFF_PASSWORD
from accounts.forms import LOGIN_INVALID
from accounts.models import AuditEntry

WANG = "32010219750312123X"
LOCKED_TEXT = "密码输错次数过多，账号已被锁定30分钟"


def _html(response) -> str:
    return response.content.decode()


def test_login_with_identity_number_lower_case_x(client, demo_accounts):
    response = client.post(
        reverse("accounts:login"),
        {"username": "32010219750312123x", "password": CITIZEN_PASSWORD},
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(demo_accounts["王建国"].user_id)


def test_sixth_wrong_password_locks_the_identity_number(client, demo_accounts):
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


def test_lockout_of_one_identity_number_does_not_lock_another_from_elsewhere(client, demo_accounts):
    url = reverse("accounts:login")
    for attempt in range(6):
        client.post(url, {"username": WANG, "password": f"x{attempt}"}, REMOTE_ADDR="10.1.1.1")
    response = client.post(
        url,
        {"username": "320104197708252463", "password": CITIZEN_PASSWORD},
        REMOTE_ADDR="10.2.2.2",
    )
    assert response.status_code == 302


def test_citizen_cannot_open_admin_but_staff_can(client, demo_accounts):
    client.force_login(demo_accounts["王建国"].user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    client.logout()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "js_clerk", "password": STAFF_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_citizen_credentials_do_not_open_admin(client, demo_accounts):
    response = client.post(
        "/admin/login/?next=/admin/", {"username": WANG, "password": CITIZEN_PASSWORD}
    )
    assert response.status_code == 200  # the admin refuses non-staff: stays on its login form
    assert client.get("/admin/").status_code == 302


def test_home_shows_the_person_card_masked_in_a_constant_number_of_queries(
    client, demo_accounts, django_assert_max_num_queries
):
    client.force_login(demo_accounts["王建国"].user)
    with django_assert_max_num_queries(4):  # session, user, person with region, inbox badge
        response = client.get("/")
    html = _html(response)
    assert "3201**********123X" in html
    assert WANG not in html
    for text in ["王建国", "职工医保", "正常参保", "南京市（江苏省）"]:
        assert text in html


def test_home_for_a_transferred_person_says_mutual_aid_is_unavailable(client, demo_accounts):
    client.force_login(demo_accounts["孙强"].user)
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


def test_language_switch_to_english_and_back(client, demo_accounts):
    client.force_login(demo_accounts["王建国"].user)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"}, follow=True)
    html = _html(response)
    assert '<html lang="en">' in html
    assert "Family mutual aid" in html
    assert "My insurance details" in html
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": "/"}, follow=True
    )
    assert "我的参保信息" in _html(response)


def test_password_change_requires_the_old_password(client, demo_accounts):
    user = demo_accounts["王建国"].user
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


def test_logout_is_a_post(client, demo_accounts):
    client.force_login(demo_accounts["王建国"].user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session


def test_csrf_is_enforced_on_login(demo_accounts):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("accounts:login"), {"username": WANG, "password": "x"})
    assert response.status_code == 403
