"""Passwords asked for again by a signed-in page (the password change, the consent answer, and
later every confirmation with the password) count against the same lockout as the login
(issue 13 point 11): each wrong entry is a failed login of that identity, from that address, in
django-axes. At the limit the person is signed out and sees the lockout page; the identity then
cannot sign in either until the cool-off ends (or staff lift the lock).

This is glue between a request and axes, not a business rule: views call it around the service
that checks the password."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from .backends import axes_username
from .models import InsuredPerson, User


def _credentials(user: User) -> dict:
    """What the login form would have carried for this person: a citizen's identity number, a
    staff member's username (normalised as axes counts it)."""
    number = InsuredPerson.objects.filter(user=user).values_list("id_number", flat=True).first()
    return {"username": axes_username(None, {"username": number or user.get_username()})}


def reauth_locked(request: HttpRequest, user: User) -> bool:
    return AxesProxyHandler.is_locked(request, _credentials(user))


def reauth_failed(request: HttpRequest, user: User) -> bool:
    """Record a wrong re-entered password; True when the identity is now locked out."""
    credentials = _credentials(user)
    AxesProxyHandler.user_login_failed(
        sender=reauth_failed, credentials=credentials, request=request
    )
    return bool(getattr(request, "axes_locked_out", False)) or reauth_locked(request, user)


def reauth_tries_left(request: HttpRequest, user: User) -> int:
    failures = AxesProxyHandler.get_failures(request, _credentials(user))
    return max(settings.AXES_FAILURE_LIMIT - failures, 0)


TRIES_LEFT = _("密码错误。还可以再输入%(left)d次，连续输错将锁定账号30分钟。")


def reauth_tries_left_message(request: HttpRequest, user: User) -> str:
    return str(TRIES_LEFT) % {"left": reauth_tries_left(request, user)}


def reauth_lockout(request: HttpRequest, user: User) -> HttpResponse:
    """Sign the person out and answer with the lockout page."""
    credentials = _credentials(user)
    logout(request)
    # The lockout has been answered here: the middleware need not answer it again.
    request.axes_locked_out = False
    return get_lockout_response(request, credentials=credentials)
