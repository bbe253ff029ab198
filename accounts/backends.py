"""Citizens log in with their identity number and password."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from . import idnumber, selectors


class IdentityNumberBackend(ModelBackend):
    """Authenticates the user linked to the insured person with this identity number.

    The login form's field is still called `username`, so django-axes counts failures per
    identity number (normalized by `axes_username`)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        number = idnumber.normalize(username)
        if len(number) != 18:
            return None  # not an identity number: leave it to the staff backend
        user = selectors.user_for_identity_number(number=number)
        if user is None:
            # Same work as a real check, so timing does not tell which numbers are activated.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def axes_username(request, credentials) -> str:
    """django-axes: count `32010219750312123x` and `32010219750312123X ` as one identity."""
    raw = (credentials or {}).get("username")
    if raw is None and request is not None:
        raw = request.POST.get("username", "")
    return idnumber.normalize(raw or "")
