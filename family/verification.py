"""Identity re-verification before a member answers a consent request (R8).

A small provider interface so that a face-recognition provider can replace password re-entry later:
set FAMILY_IDENTITY_VERIFIER to the dotted path of a class with `verify(user=, evidence=)`."""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from accounts.models import User


class IdentityVerifier(Protocol):
    #: what the page asks for, e.g. "password"
    evidence_kind: str

    def verify(self, *, user: User, evidence: str) -> bool: ...


class PasswordVerifier:
    """Re-entry of the portal password of the person who answers."""

    evidence_kind = "password"

    def verify(self, *, user: User, evidence: str) -> bool:
        return bool(evidence) and user.is_active and user.check_password(evidence)


def get_verifier() -> IdentityVerifier:
    path = getattr(settings, "FAMILY_IDENTITY_VERIFIER", "family.verification.PasswordVerifier")
    return import_string(path)()
