"""Reads of the accounts app, scoped to who asks."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from .models import InsuredPerson, Notification, User


def person_for_user(*, user: AbstractBaseUser | AnonymousUser) -> InsuredPerson | None:
    """The insured person a logged-in citizen has claimed, with its region; None otherwise."""
    if not user.is_authenticated:
        return None
    return InsuredPerson.objects.select_related("region").filter(user_id=user.pk).first()


def user_for_identity_number(*, number: str) -> User | None:
    return User.objects.filter(insured_person__id_number=number).first() if number else None


# ---------------------------------------------------------------------------------------------
# 站内信 (issue 5)


def notifications_for(*, person: InsuredPerson | None) -> QuerySet[Notification]:
    """One person's inbox, newest first; a queryset, so a paginator counts and slices it in SQL.
    Nobody (None: staff, a login without an insured person) has an empty inbox."""
    if person is None:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=person).order_by("-created_at", "-id")


def notification_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, public_id: uuid.UUID | str
) -> Notification:
    """Only the recipient's own login gets it. Anyone else, and an id that is no UUID, gets 404
    (not 403): whether someone else's message exists is not revealed."""
    if not user.is_authenticated:  # user.pk None would match recipients without a login
        raise Http404
    try:
        key = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise Http404 from exc
    item = Notification.objects.filter(public_id=key, recipient__user_id=user.pk).first()
    if item is None:
        raise Http404
    return item


def unread_count_for(*, user: AbstractBaseUser | AnonymousUser) -> int:
    """The header badge: one query for a citizen; none for anonymous or staff (0)."""
    if not user.is_authenticated or user.is_staff:
        return 0
    return Notification.objects.filter(recipient__user_id=user.pk, read_at__isnull=True).count()
