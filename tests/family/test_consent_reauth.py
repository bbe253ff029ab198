"""Issue 13 point 11 on the consent answer (R8): the password a member re-enters counts against
the login lockout; at the limit the member is signed out and nothing is answered."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from accounts.demo import CITIZEN_PASSWORD
from accounts.reauth import TRIES_LEFT
from family import errors as family_errors
from family.models import Authorization, Relation

from .builders import A, bind, live, req

LOCKED_TEXT = "密码输错次数过多，账号已被锁定30分钟"


def _pending_for_wangli(demo_unbound) -> Authorization:
    bind(demo_unbound["王建国"], req(demo_unbound["王丽"], Relation.CHILD), at=None)
    return live(demo_unbound["王建国"], demo_unbound["王丽"])


def test_guessing_the_password_at_the_consent_answer_locks_and_answers_nothing(demo_unbound):
    authorization = _pending_for_wangli(demo_unbound)
    client = Client(REMOTE_ADDR="10.2.2.2")
    client.force_login(demo_unbound["王丽"].user)
    url = reverse("family:consent-answer", args=[authorization.public_id])
    for attempt in range(5):
        response = client.post(url, {"password": f"guess-{attempt}", "answer": "agree"})
        assert response.status_code == 200
        errors = response.context["form"].errors["password"]
        assert errors == [
            str(family_errors.CONSENT_VERIFICATION_FAILED),
            str(TRIES_LEFT) % {"left": 5 - attempt},
        ]
    response = client.post(url, {"password": "guess-5", "answer": "agree"})
    assert response.status_code == 429 and LOCKED_TEXT in response.content.decode()
    assert "_auth_user_id" not in client.session
    authorization.refresh_from_db()
    assert authorization.status == A.PENDING_CONSENT and authorization.answered_at is None
    # The right password, from a fresh session elsewhere, cannot sign in now.
    login = Client(REMOTE_ADDR="10.1.1.1").post(
        reverse("accounts:login"),
        {"username": demo_unbound["王丽"].id_number, "password": CITIZEN_PASSWORD},
    )
    assert login.status_code == 429
