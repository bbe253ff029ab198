"""Reads of the accounts app, scoped to who asks."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from .models import InsuredPerson, User


def person_for_user(*, user: AbstractBaseUser | AnonymousUser) -> InsuredPerson | None:
    """The insured person a logged-in citizen has claimed, with its region; None otherwise."""
    if not user.is_authenticated:
        return None
    return InsuredPerson.objects.select_related("region").filter(user_id=user.pk).first()


def user_for_identity_number(*, number: str) -> User | None:
    return User.objects.filter(insured_person__id_number=number).first() if number else None
