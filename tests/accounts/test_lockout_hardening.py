"""The login lockout against a hostile outsider (issue 13 points 2, 9, 11): no reset by logging
into one's own account, addresses counted right behind the bureau's proxy (and never as the
client says), and passwords asked again counting against the same lockout."""

from __future__ import annotations

import ipaddress

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts.client_ip import client_ip
from accounts.demo import CITIZEN_PASSWORD, STAFF_PASSWORD
from accounts.reauth import TRIES_LEFT

WANG = "32010219750312123X"  # the victim
LI = "320104197708252463"  # the attacker's own account
LOGIN = reverse("accounts:login")
LOCKED_TEXT = "密码输错次数过多，账号已被锁定30分钟"


def _html(response) -> str:
    return response.content.decode()


# Point 2: a good login to one's own account does not wipe a victim's failures ---------------


def test_logging_into_ones_own_account_does_not_reset_a_victims_failures(demo_accounts):
    attacker = Client(REMOTE_ADDR="10.9.9.9")
    guesses = 0
    for _round in range(4):
        for _ in range(5):
            response = attacker.post(LOGIN, {"username": WANG, "password": f"guess-{guesses}"})
            guesses += 1
            if response.status_code == 429:
                break
        if response.status_code == 429:
            break
        assert (
            attacker.post(LOGIN, {"username": LI, "password": CITIZEN_PASSWORD}).status_code == 302
        )
        attacker.post(reverse("accounts:logout"))
    assert response.status_code == 429 and LOCKED_TEXT in _html(response)
    assert guesses == 6  # the sixth guess locks, whatever logins came between
    # The victim is locked from anywhere, the right password included.
    elsewhere = Client(REMOTE_ADDR="10.7.7.7")
    assert (
        elsewhere.post(LOGIN, {"username": WANG, "password": CITIZEN_PASSWORD}).status_code == 429
    )


def test_the_superuser_is_locked_too_however_the_attacker_logs_in_between(demo_accounts):
    attacker = Client(REMOTE_ADDR="10.9.9.8")
    admin_login = reverse("admin:login")
    statuses = []
    for round_ in range(3):
        for attempt in range(5):
            response = attacker.post(
                admin_login, {"username": "admin", "password": f"x{round_}{attempt}"}
            )
            statuses.append(response.status_code)
        attacker.post(LOGIN, {"username": LI, "password": CITIZEN_PASSWORD})
        attacker.post(reverse("accounts:logout"))
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429 and set(statuses[5:]) == {429}
    assert (
        Client().post(admin_login, {"username": "admin", "password": STAFF_PASSWORD}).status_code
        == 429
    )


def test_a_good_login_forgets_that_identitys_own_failures_from_that_address(demo_accounts):
    client = Client(REMOTE_ADDR="10.5.5.5")
    for attempt in range(3):
        client.post(LOGIN, {"username": WANG, "password": f"typo-{attempt}"})
    Client(REMOTE_ADDR="10.6.6.6").post(LOGIN, {"username": WANG, "password": "someone-else"})
    assert (
        client.post(LOGIN, {"username": WANG.lower(), "password": CITIZEN_PASSWORD}).status_code
        == 302
    )
    remaining = list(AccessAttempt.objects.values_list("username", "ip_address"))
    assert remaining == [(WANG, "10.6.6.6")]  # only this address's typos were forgiven


# Point 9: the client's address, behind the bureau's proxy and never as the client claims -----


def _failing(client, n, *, forwarded=None, first=0):
    numbers = ["320105198207073177", LI, "320102200609182481", "320111194801051113",
               "320106197911305199", "659004198303221312", "659004198506102428"]  # fmt: skip
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return [
        client.post(LOGIN, {"username": numbers[(first + i) % 7], "password": "wrong"}, **extra)
        for i in range(n)
    ]


def test_without_trusted_proxies_a_forged_header_changes_nothing(demo_accounts):
    client = Client(REMOTE_ADDR="198.51.100.20")
    for i in range(6):  # six identities from one address, each claiming another address
        _failing(client, 1, forwarded=f"203.0.113.{i}", first=i)
    response = client.post(
        LOGIN, {"username": WANG, "password": CITIZEN_PASSWORD}, HTTP_X_FORWARDED_FOR="192.0.2.1"
    )
    assert response.status_code == 429  # the address is locked, whatever it says it is
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.20"}


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_behind_the_proxy_one_clients_failures_do_not_lock_a_stranger(demo_accounts):
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    for i in range(6):
        _failing(proxy, 1, forwarded=f"192.0.2.{i}, 203.0.113.7", first=i)  # left part forged
    locked = proxy.post(LOGIN, {"username": WANG, "password": CITIZEN_PASSWORD},
                        HTTP_X_FORWARDED_FOR="203.0.113.7")  # fmt: skip
    assert locked.status_code == 429
    stranger = proxy.post(LOGIN, {"username": WANG, "password": CITIZEN_PASSWORD},
                          HTTP_X_FORWARDED_FOR="203.0.113.8")  # fmt: skip
    assert stranger.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_behind_the_proxy_rate_limits_count_the_client(db):
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    verify = reverse("verify", args=["NOSUCHCODE1"])
    answers = [
        proxy.get(verify, HTTP_X_FORWARDED_FOR="203.0.113.50").status_code for _ in range(31)
    ]
    assert answers[:30] == [404] * 30 and answers[30] == 429
    assert proxy.get(verify, HTTP_X_FORWARDED_FOR="203.0.113.51").status_code == 404


def _meta(remote, forwarded=None):
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32", "10.0.0.0/8"])
def test_the_rightmost_untrusted_hop_is_the_client():
    assert client_ip(_meta("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.1.2.3")) == "203.0.113.9"
    assert client_ip(_meta("127.0.0.1", "203.0.113.9")) == "203.0.113.9"
    assert client_ip(_meta("127.0.0.1")) == "127.0.0.1"  # the proxy sent no header
    assert client_ip(_meta("127.0.0.1", "junk, 10.1.2.3")) == "10.1.2.3"  # garbage stops the walk
    assert client_ip(_meta("203.0.113.1", "10.1.1.1")) == "203.0.113.1"  # not from our proxy
    assert client_ip(_meta("::ffff:127.0.0.1", "203.0.113.9")) == "203.0.113.9"
    assert client_ip(_meta("")) == "0.0.0.0"  # noqa: S104 - a bucket name


ADDRESS = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
HOP = st.one_of(ADDRESS, st.text(max_size=20))


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
@given(remote=ADDRESS, hops=st.lists(HOP, max_size=6), client=ADDRESS)
def test_client_ip_is_always_an_address_and_never_chosen_by_the_client(remote, hops, client):
    forwarded = ", ".join([*hops, client])
    answer = client_ip(_meta(remote, forwarded))
    ipaddress.ip_address(answer)  # always a valid address
    if ipaddress.ip_address(remote) not in ipaddress.ip_network("127.0.0.1/32"):
        mapped = ipaddress.ip_address(remote)
        mapped = getattr(mapped, "ipv4_mapped", None) or mapped
        if str(mapped) != "127.0.0.1":
            assert answer == str(mapped)  # the header of a stranger is never read
    elif client != "127.0.0.1" and not client.startswith("::ffff:127.0.0.1"):
        assert answer == str(getattr(ipaddress.ip_address(client), "ipv4_mapped", None)
                             or ipaddress.ip_address(client))  # fmt: skip


# Point 11: a password asked again counts against the same lockout --------------------------


def test_guessing_the_current_password_on_the_change_form_locks_and_signs_out(demo_accounts):
    client = Client(REMOTE_ADDR="10.3.3.3")
    client.force_login(demo_accounts["王建国"].user)
    url = reverse("accounts:password-change")
    form = {"new_password1": "Brand-New-9!", "new_password2": "Brand-New-9!"}
    for attempt in range(5):
        response = client.post(url, {**form, "old_password": f"guess-{attempt}"})
        assert response.status_code == 200
        assert str(TRIES_LEFT) % {"left": 5 - attempt} in _html(response)
    response = client.post(url, {**form, "old_password": "guess-5"})
    assert response.status_code == 429 and LOCKED_TEXT in _html(response)
    assert "_auth_user_id" not in client.session  # signed out
    demo_accounts["王建国"].user.refresh_from_db()
    assert demo_accounts["王建国"].user.check_password(CITIZEN_PASSWORD)  # unchanged
    # Locked at the login too, from anywhere, until the cool-off ends.
    other = Client(REMOTE_ADDR="10.4.4.4")
    assert other.post(LOGIN, {"username": WANG, "password": CITIZEN_PASSWORD}).status_code == 429


def test_a_locked_identity_cannot_change_its_password_with_the_right_one(demo_accounts):
    client = Client(REMOTE_ADDR="10.3.3.4")
    for attempt in range(6):
        Client(REMOTE_ADDR="10.8.8.8").post(LOGIN, {"username": WANG, "password": f"g{attempt}"})
    client.force_login(demo_accounts["王建国"].user)  # a session opened before the lock
    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": CITIZEN_PASSWORD, "new_password1": "Brand-New-9!",
         "new_password2": "Brand-New-9!"},
    )  # fmt: skip
    assert response.status_code == 429
    demo_accounts["王建国"].user.refresh_from_db()
    assert demo_accounts["王建国"].user.check_password(CITIZEN_PASSWORD)


@pytest.mark.parametrize("wrong_first", [0, 3])
def test_the_right_current_password_still_changes_it(demo_accounts, wrong_first):
    client = Client(REMOTE_ADDR="10.3.3.5")
    client.force_login(demo_accounts["王建国"].user)
    url = reverse("accounts:password-change")
    form = {"new_password1": "Brand-New-9!", "new_password2": "Brand-New-9!"}
    for attempt in range(wrong_first):
        client.post(url, {**form, "old_password": f"guess-{attempt}"})
    response = client.post(url, {**form, "old_password": CITIZEN_PASSWORD})
    assert response.status_code == 302
    demo_accounts["王建国"].user.refresh_from_db()
    assert demo_accounts["王建国"].user.check_password("Brand-New-9!")
